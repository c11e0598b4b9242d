//! The audit log on real files, signed with real keys and checked by the real ssh-keygen.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64ct::{Base64, Encoding};
use runsheet::journal::{
    self, Error, Journal, TrustedKeys, Verdict, detached_signature_path, keygen, load_or_create_key, read_entries,
    verify,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use ssh_encoding::Encode;
use ssh_key::{HashAlg, PrivateKey};
use tempfile::TempDir;

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A fresh key pair; returns the private key and the trusted set of its public key.
    fn key(&self, name: &str) -> (PrivateKey, TrustedKeys) {
        let path = self.path(name);
        keygen(&path, &format!("{name}@test")).unwrap();
        let (key, created) = load_or_create_key(&path).unwrap();
        assert!(!created);
        let trusted = TrustedKeys::from_pubkey_file(&journal::public_key_path(&path)).unwrap();
        (key, trusted)
    }

    /// A log of `entries` step entries, a checkpoint after every `every`, sealed or not.
    fn log(&self, name: &str, key: PrivateKey, entries: usize, every: u64, seal: bool) -> PathBuf {
        let path = self.path(name);
        let mut journal = Journal::create(&path, key, &[]).unwrap().with_checkpoint_every(every);
        for i in 1..=entries {
            let kind = if i % 2 == 1 { "step.started" } else { "step.finished" };
            journal.append(kind, fields(json!({"step": format!("step-{i}"), "rows": i}))).unwrap();
        }
        if seal {
            journal.seal(fields(json!({"outcome": "completed"}))).unwrap();
        }
        path
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

fn kinds(path: &Path) -> Vec<String> {
    read_entries(path).unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

/// Recomputes every `prev` from line index `from` on, as a forger would.
fn rehash(lines: &mut [String], from: usize) {
    for i in from.max(1)..lines.len() {
        let old = lines[i].split("\"prev\":\"").nth(1).unwrap()[..64].to_owned();
        let new = hex::encode(Sha256::digest(lines[i - 1].as_bytes()));
        lines[i] = lines[i].replacen(&old, &new, 1);
    }
}

fn assert_invalid(verdict: Verdict, line: usize, reason_has: &str) {
    match &verdict {
        Verdict::Invalid { line: l, reason } if *l == line && reason.contains(reason_has) => {
            assert_eq!(verdict.exit_code(), 1);
        }
        other => panic!("expected invalid at line {line} with {reason_has:?}, got {other:?}"),
    }
}

// Layout of the standard test log: 10 entries, a checkpoint after every 4, then the seal.
const LAYOUT: [&str; 13] = [
    "step.started",
    "step.finished",
    "step.started",
    "step.finished",
    "checkpoint",
    "step.started",
    "step.finished",
    "step.started",
    "step.finished",
    "checkpoint",
    "step.started",
    "step.finished",
    "seal",
];

fn standard_log(fx: &Fixture) -> (PathBuf, TrustedKeys) {
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key, 10, 4, true);
    assert_eq!(kinds(&log), LAYOUT);
    (log, trusted)
}

#[test]
fn a_clean_sealed_log_verifies_with_exit_0() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let verdict = verify(&log, &trusted);
    assert_eq!(verdict, Verdict::Sealed { entries: 13 });
    assert_eq!(verdict.exit_code(), 0);
    assert_eq!(verdict.to_string(), "valid and sealed: 13 entries");
    assert!(detached_signature_path(&log).exists());
}

#[test]
fn the_line_format_is_the_documented_one() {
    let fx = Fixture::new();
    let (log, _) = standard_log(&fx);
    let lines = lines(&log);
    let zeros = "0".repeat(64);
    assert!(lines[0].starts_with(r#"{"seq":1,"ts":""#), "{}", lines[0]);
    assert!(lines[0].contains(&format!(r#"","prev":"{zeros}","kind":"step.started","#)));
    assert_eq!(lines[0].split('"').nth(5).unwrap().len(), "2026-01-01T00:00:00.000000Z".len());
    assert!(lines[1].contains(&hex::encode(Sha256::digest(lines[0].as_bytes()))));
    let checkpoint = &lines[4];
    assert!(checkpoint.contains(r#""kind":"checkpoint","#) && checkpoint.contains(r#""entries":4,"#));
    assert!(checkpoint.contains(r#""key":"SHA256:"#));
    assert!(checkpoint.rsplit_once(r#","sig":""#).unwrap().1.ends_with("\"}"));
    let seal: Value = serde_json::from_str(&lines[12]).unwrap();
    assert_eq!((seal["outcome"].as_str(), seal["entries"].as_u64()), (Some("completed"), Some(12)));
}

#[test]
fn an_unsealed_log_is_valid_so_far_with_exit_5() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key, 10, 4, false);
    let verdict = verify(&log, &trusted);
    assert_eq!(verdict, Verdict::Unsealed { entries: 12, last_checkpoint: Some(10) });
    assert_eq!(verdict.exit_code(), 5);
    assert!(verdict.to_string().contains("signed up to entry 10"), "{verdict}");
}

#[test]
fn an_edited_line_is_named() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines[6] = lines[6].replace("\"rows\":6", "\"rows\":60");
    write_lines(&log, &lines);
    let verdict = verify(&log, &trusted);
    assert_eq!(
        verdict.to_string(),
        "invalid at line 7: the line was altered: its hash no longer matches the prev of line 8"
    );
    assert_invalid(verdict, 7, "altered");
}

#[test]
fn an_edited_prev_after_a_checkpoint_blames_the_line_holding_it() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    let at = lines[5].find("\"prev\":\"").unwrap() + 8;
    let digit = if lines[5].as_bytes()[at] == b'a' { "b" } else { "a" };
    lines[5].replace_range(at..at + 1, digit);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 6, "prev does not match the hash of signed line 5");
}

#[test]
fn a_deleted_line_is_named() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines.remove(2);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 3, "seq is 4 where 3 was expected: entries are missing");
}

#[test]
fn swapped_lines_are_named() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines.swap(6, 7);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 7, "seq is 8 where 7 was expected");
}

#[test]
fn an_inserted_line_is_named() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    let copy = lines[2].replace("step-3", "step-3-again");
    lines.insert(3, copy);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 4, "seq is 3 where 4 was expected: a line was inserted");
}

#[test]
fn an_inserted_line_with_a_consistent_seq_and_prev_is_caught_at_the_next_line() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    let forged = lines[2].replace("\"seq\":3,", "\"seq\":4,").replace("step-3", "step-forged");
    lines.insert(3, forged);
    rehash(&mut lines, 3);
    write_lines(&log, &lines);
    // The forged line 4 fits its place; the original entry 4, now on line 5, repeats its seq.
    assert_invalid(verify(&log, &trusted), 5, "seq is 4 where 5 was expected");
}

#[test]
fn a_forged_line_with_a_recomputed_chain_is_caught_by_the_next_checkpoint() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines[6] = lines[6].replace("\"rows\":6", "\"rows\":60");
    rehash(&mut lines, 7);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 10, "checkpoint's signature does not match: a line from line 6 on");
}

#[test]
fn a_forged_line_after_the_last_checkpoint_is_caught_by_the_seal() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines[11] = lines[11].replace("\"rows\":10", "\"rows\":1");
    rehash(&mut lines, 12);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 13, "seal's signature does not match");
}

#[test]
fn a_forged_tail_after_the_seal_is_invalid() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines.push(lines[11].replace("\"seq\":12,", "\"seq\":14,"));
    rehash(&mut lines, 13);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 14, "line 13 sealed the log; nothing may follow a seal");

    // Even a half-written line after the seal.
    let mut bytes = fs::read(&log).unwrap();
    bytes.truncate(bytes.len() - 40);
    fs::write(&log, &bytes).unwrap();
    assert_invalid(verify(&log, &trusted), 14, "nothing may follow a seal");
}

#[test]
fn a_log_signed_by_another_key_names_the_checkpoint() {
    let fx = Fixture::new();
    let (_, trusted) = fx.key("operator");
    let (intruder, _) = fx.key("intruder");
    let log = fx.log("audit.jsonl", intruder, 10, 4, true);
    assert_invalid(verify(&log, &trusted), 5, "which is not a trusted key");
}

#[test]
fn a_checkpoint_re_signed_by_another_key_is_refused() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let (intruder, intruder_trusted) = fx.key("intruder");
    // The forger re-signs checkpoint line 5 with its own key, following the documented format:
    // SSHSIG over SHA-256 of the line with "sig":"" (and its own fingerprint in "key").
    let mut lines = lines(&log);
    let ours = journal::fingerprint(trusted_key(&fx, "operator").key_data());
    let theirs = journal::fingerprint(intruder.public_key().key_data());
    let open = lines[4].rsplit_once(",\"sig\":\"").unwrap().0.replace(&ours, &theirs);
    let message = Sha256::digest(format!("{open},\"sig\":\"\"}}"));
    let sig = intruder.sign(journal::NAMESPACE, HashAlg::Sha512, &message).unwrap();
    let mut blob = Vec::new();
    sig.encode(&mut blob).unwrap();
    lines[4] = format!("{open},\"sig\":\"{}\"}}", Base64::encode_string(&blob));
    rehash(&mut lines, 5);
    write_lines(&log, &lines);
    assert_invalid(
        verify(&log, &trusted),
        5,
        &format!("the checkpoint is signed by key {theirs}, which is not a trusted key"),
    );
    // Trusting the forger instead: its checkpoint passes, ours (line 10) does not.
    assert_invalid(verify(&log, &intruder_trusted), 10, &format!("signed by key {ours}"));
}

fn trusted_key(fx: &Fixture, name: &str) -> ssh_key::PublicKey {
    ssh_key::PublicKey::read_openssh_file(&fx.path(&format!("{name}.pub"))).unwrap()
}

#[test]
fn a_malformed_line_is_named() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines[2] = "this is not json".into();
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 3, "not valid JSON");

    lines[2] = r#"{"seq":3,"ts":"2026-01-01T00:00:00Z"}"#.into();
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 3, "not a journal entry (missing field `prev`)");

    lines[2] = String::new();
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 3, "empty line");
}

#[test]
fn a_seq_gap_is_named() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines[7] = lines[7].replace("\"seq\":8,", "\"seq\":9,");
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 8, "seq is 9 where 8 was expected");
}

#[test]
fn a_half_written_last_line_is_a_truncated_tail() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key, 10, 4, false);
    let bytes = fs::read(&log).unwrap();
    fs::write(&log, &bytes[..bytes.len() - 30]).unwrap();
    let verdict = verify(&log, &trusted);
    assert_eq!(verdict, Verdict::Unsealed { entries: 11, last_checkpoint: Some(10) });
    assert_eq!(verdict.exit_code(), 5);
}

#[test]
fn lines_removed_after_the_last_checkpoint_leave_an_unsealed_log() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    fs::remove_file(detached_signature_path(&log)).unwrap();
    let mut lines = lines(&log);
    lines.truncate(10);
    write_lines(&log, &lines);
    assert_eq!(verify(&log, &trusted), Verdict::Unsealed { entries: 10, last_checkpoint: Some(10) });

    // Forged entries after the last checkpoint carry no signature: the log can only be
    // reported unsealed, and exit 5 says its tail is not vouched for.
    let mut forged = self::lines(&fx.log("other.jsonl", fx.key("x").0, 12, 100, false))[10..].to_vec();
    let mut all = lines.clone();
    all.append(&mut forged);
    rehash(&mut all, 10);
    write_lines(&log, &all);
    assert_eq!(verify(&log, &trusted), Verdict::Unsealed { entries: 12, last_checkpoint: Some(10) });
}

#[test]
fn a_cut_tail_next_to_its_detached_signature_is_invalid() {
    let fx = Fixture::new();
    let (log, trusted) = standard_log(&fx);
    let mut lines = lines(&log);
    lines.truncate(10);
    write_lines(&log, &lines);
    assert_invalid(verify(&log, &trusted), 0, "without its seal: the tail was cut");
}

#[test]
fn a_detached_signature_that_does_not_match_the_file_is_invalid() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key.clone(), 10, 4, true);
    let other = fx.log("other.jsonl", key, 3, 4, true);
    fs::copy(detached_signature_path(&other), detached_signature_path(&log)).unwrap();
    let verdict = verify(&log, &trusted);
    assert_invalid(verdict.clone(), 0, "does not match the log");
    assert!(verdict.to_string().starts_with("invalid: detached signature "), "{verdict}");
    assert!(verdict.to_string().contains("audit.jsonl.sig"), "{verdict}");
}

#[test]
fn ssh_keygen_accepts_the_detached_signature_and_rejects_a_one_byte_edit() {
    let fx = Fixture::new();
    let (log, _) = standard_log(&fx);
    let public = fs::read_to_string(fx.path("operator.pub")).unwrap();
    let allowed = fx.path("allowed_signers");
    fs::write(&allowed, format!("operator@test namespaces=\"runsheet-audit\" {public}")).unwrap();
    let ssh_keygen_verify = |log: &Path| {
        Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "operator@test", "-n", "runsheet-audit", "-s"])
            .arg(detached_signature_path(log))
            .stdin(fs::File::open(log).unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(ssh_keygen_verify(&log));
    let mut bytes = fs::read(&log).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&log, &bytes).unwrap();
    assert!(!ssh_keygen_verify(&log));
}

#[test]
fn allowed_signers_trust_only_keys_for_our_namespace() {
    let fx = Fixture::new();
    let (git_key, _) = fx.key("git");
    let (audit_key, _) = fx.key("audit");
    let public = |name: &str| fs::read_to_string(fx.path(&format!("{name}.pub"))).unwrap();
    let allowed = fx.path("allowed_signers");
    fs::write(
        &allowed,
        format!(
            "# team keys\n\ndev@example.com namespaces=\"git\" {}\"ops team\" namespaces=\"git,runsheet-*\" {}",
            public("git"),
            public("audit")
        ),
    )
    .unwrap();
    let trusted = TrustedKeys::from_allowed_signers_file(&allowed).unwrap();
    let by_audit = fx.log("audit.jsonl", audit_key, 5, 4, true);
    let by_git = fx.log("git.jsonl", git_key, 5, 4, true);
    assert_eq!(verify(&by_audit, &trusted), Verdict::Sealed { entries: 7 });
    assert_invalid(verify(&by_git, &trusted), 5, "not a trusted key");
}

#[test]
fn bad_key_files_are_named_with_their_line() {
    let fx = Fixture::new();
    fx.key("operator");
    let allowed = fx.path("allowed_signers");
    fs::write(
        &allowed,
        format!("# ok\nops {}ops ssh-ed25519 not-base64\n", fs::read_to_string(fx.path("operator.pub")).unwrap()),
    )
    .unwrap();
    let err = TrustedKeys::from_allowed_signers_file(&allowed).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:3: ", allowed.display())), "{err}");

    fs::write(&allowed, "ops namespaces=\"git\" ".to_owned() + &fs::read_to_string(fx.path("operator.pub")).unwrap())
        .unwrap();
    let err = TrustedKeys::from_allowed_signers_file(&allowed).unwrap_err();
    assert!(matches!(err, Error::NoTrustedKey { .. }), "{err}");

    let err = TrustedKeys::from_pubkey_file(&fx.path("operator")).unwrap_err().to_string();
    assert!(err.contains(":1: this is a private key; give the public key"), "{err}");
    let err = TrustedKeys::from_pubkey_file(&fx.path("missing.pub")).unwrap_err().to_string();
    assert!(err.starts_with(&fx.path("missing.pub").display().to_string()), "{err}");
}

#[test]
fn secrets_never_reach_the_log() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.path("audit.jsonl");
    let password = "s3cr\"et-pw";
    let mut journal = Journal::create(&log, key, &[password]).unwrap();
    let mut started = fields(json!({
        "database": format!("postgres://app:{password}@db/prod"),
        "argv": ["--set", format!("pw={password}")],
    }));
    started.insert(password.into(), "as a field name".into());
    journal.append("run.started", started).unwrap();
    journal.seal(fields(json!({"outcome": format!("failed: auth {password}")}))).unwrap();
    let text = fs::read_to_string(&log).unwrap();
    assert!(!text.contains("s3cr"), "{text}");
    let entries = read_entries(&log).unwrap();
    assert_eq!(entries[0]["database"], "postgres://app:***@db/prod");
    assert_eq!(entries[0]["argv"][1], "pw=***");
    assert_eq!(entries[0]["***"], "as a field name");
    assert_eq!(entries[1]["outcome"], "failed: auth ***");
    assert_eq!(verify(&log, &trusted), Verdict::Sealed { entries: 2 });
}

#[test]
fn open_append_continues_the_chain() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key.clone(), 5, 4, false);
    let mut journal = Journal::open_append(&log, key.clone(), &[]).unwrap().with_checkpoint_every(4);
    assert_eq!(journal.last_seq(), 6);
    // Entry 6 is unsigned, so the next checkpoint comes after three more.
    assert_eq!(journal.append("run.resumed", Map::new()).unwrap(), 7);
    journal.append("step.started", Map::new()).unwrap();
    journal.append("step.finished", Map::new()).unwrap();
    assert_eq!(kinds(&log)[9], "checkpoint");
    journal.seal(Map::new()).unwrap();
    drop(journal);
    assert_eq!(verify(&log, &trusted), Verdict::Sealed { entries: 11 });
    let err = Journal::open_append(&log, key, &[]).err().unwrap();
    assert!(matches!(err, Error::Sealed { .. }), "{err}");
}

#[test]
fn open_append_drops_a_half_written_last_line() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key.clone(), 5, 100, false);
    let bytes = fs::read(&log).unwrap();
    fs::write(&log, &bytes[..bytes.len() - 10]).unwrap();
    let mut journal = Journal::open_append(&log, key, &[]).unwrap();
    assert_eq!(journal.append("run.resumed", Map::new()).unwrap(), 5);
    journal.seal(Map::new()).unwrap();
    assert_eq!(verify(&log, &trusted), Verdict::Sealed { entries: 6 });
}

#[test]
fn open_append_refuses_a_broken_chain_and_a_log_in_use() {
    let fx = Fixture::new();
    let (key, _) = fx.key("operator");
    let log = fx.log("audit.jsonl", key.clone(), 5, 100, false);
    let journal = Journal::open_append(&log, key.clone(), &[]).unwrap();
    let err = Journal::open_append(&log, key.clone(), &[]).err().unwrap();
    assert!(matches!(err, Error::InUse { .. }), "{err}");
    drop(journal);

    let mut lines = lines(&log);
    lines.remove(1);
    write_lines(&log, &lines);
    let err = Journal::open_append(&log, key, &[]).err().unwrap().to_string();
    assert!(err.contains("cannot continue this log: line 2: seq is 3 where 2 was expected"), "{err}");
}

#[test]
fn a_checkpoint_is_signed_every_n_entries() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.log("audit.jsonl", key.clone(), 7, 3, false);
    let kinds = kinds(&log);
    assert_eq!(kinds.iter().filter(|k| *k == "checkpoint").count(), 2);
    assert_eq!((kinds[3].as_str(), kinds[7].as_str()), ("checkpoint", "checkpoint"));

    let default = fx.log("default.jsonl", key, 200, journal::DEFAULT_CHECKPOINT_EVERY, false);
    let positions: Vec<usize> =
        self::kinds(&default).iter().enumerate().filter(|(_, k)| *k == "checkpoint").map(|(i, _)| i + 1).collect();
    assert_eq!(positions, [101, 202]);
    assert_eq!(verify(&default, &trusted), Verdict::Unsealed { entries: 202, last_checkpoint: Some(202) });
    assert_eq!(verify(&log, &trusted), Verdict::Unsealed { entries: 9, last_checkpoint: Some(8) });
}

#[test]
fn explicit_and_timed_checkpoints_sign_only_new_entries() {
    let fx = Fixture::new();
    let (key, trusted) = fx.key("operator");
    let log = fx.path("audit.jsonl");
    let mut journal = Journal::create(&log, key, &[]).unwrap();
    assert_eq!(journal.checkpoint().unwrap(), None);
    journal.append("step.started", Map::new()).unwrap();
    assert_eq!(journal.checkpoint_if_older_than(Duration::from_secs(60)).unwrap(), None);
    assert_eq!(journal.checkpoint_if_older_than(Duration::ZERO).unwrap(), Some(2));
    assert_eq!(journal.checkpoint_if_older_than(Duration::ZERO).unwrap(), None);
    journal.append("step.finished", Map::new()).unwrap();
    assert_eq!(journal.checkpoint().unwrap(), Some(4));
    assert_eq!(journal.checkpoint().unwrap(), None);
    assert_eq!(verify(&log, &trusted), Verdict::Unsealed { entries: 4, last_checkpoint: Some(4) });
}

#[test]
fn reserved_names_and_writes_after_the_seal_are_refused() {
    let fx = Fixture::new();
    let (key, _) = fx.key("operator");
    let log = fx.path("audit.jsonl");
    let mut journal = Journal::create(&log, key.clone(), &[]).unwrap();
    assert!(matches!(journal.append("x", fields(json!({"prev": "0"}))), Err(Error::ReservedField(f)) if f == "prev"));
    assert!(matches!(journal.append("seal", Map::new()), Err(Error::ReservedKind(_))));
    assert!(matches!(journal.seal(fields(json!({"entries": 1}))), Err(Error::ReservedField(_))));
    journal.append("x", fields(json!({"key": "a field name the caller may use"}))).unwrap();
    journal.seal(Map::new()).unwrap();
    assert!(matches!(journal.append("x", Map::new()), Err(Error::Sealed { .. })));
    assert!(matches!(journal.checkpoint(), Err(Error::Sealed { .. })));
    assert!(matches!(Journal::create(&log, key, &[]), Err(Error::Exists { .. })));
}

#[test]
fn keygen_writes_an_openssh_key_pair_that_ssh_keygen_reads() {
    let fx = Fixture::new();
    let path = fx.path("keys/audit_ed25519");
    let public = keygen(&path, "ops@bastion").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let derived = Command::new("ssh-keygen").arg("-y").arg("-f").arg(&path).output().unwrap();
    assert!(derived.status.success());
    let pub_file = fs::read_to_string(fx.path("keys/audit_ed25519.pub")).unwrap();
    assert_eq!(pub_file, public.to_openssh().unwrap() + "\n");
    assert!(pub_file.starts_with(String::from_utf8(derived.stdout).unwrap().trim()));
    assert!(matches!(keygen(&path, "again"), Err(Error::Exists { .. })));
}

#[test]
fn load_or_create_key_creates_once_and_refuses_encrypted_keys() {
    let fx = Fixture::new();
    let path = fx.path("audit_ed25519");
    let (created, was_created) = load_or_create_key(&path).unwrap();
    let (loaded, was_created_again) = load_or_create_key(&path).unwrap();
    assert!(was_created && !was_created_again);
    assert_eq!(created.public_key(), loaded.public_key());

    let encrypted = fx.path("encrypted");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"])
        .arg(&encrypted)
        .status()
        .unwrap();
    assert!(status.success());
    let err = load_or_create_key(&encrypted).err().unwrap();
    assert!(matches!(err, Error::EncryptedKey { .. }), "{err}");
    assert!(err.to_string().contains("passphrase"), "{err}");

    let rsa = fx.path("rsa");
    let status =
        Command::new("ssh-keygen").args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"]).arg(&rsa).status().unwrap();
    assert!(status.success());
    let err = load_or_create_key(&rsa).err().unwrap().to_string();
    assert!(err.contains("runsheet signs with Ed25519 keys"), "{err}");
}

#[test]
fn read_entries_stops_at_a_cut_last_line_and_names_a_bad_one() {
    let fx = Fixture::new();
    let (key, _) = fx.key("operator");
    let log = fx.log("audit.jsonl", key, 3, 100, false);
    let bytes = fs::read(&log).unwrap();
    fs::write(&log, &bytes[..bytes.len() - 5]).unwrap();
    let entries = read_entries(&log).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["step"], "step-2");

    let mut lines = lines(&log);
    lines[0] = "[1, 2]".into();
    write_lines(&log, &lines);
    let err = read_entries(&log).unwrap_err().to_string();
    assert_eq!(err, format!("{}:1: not a JSON object", log.display()));
}

#[test]
fn an_observer_sees_every_line_as_written() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.jsonl");
    let key = dir.path().join("key");
    runsheet::journal::keygen(&key, "test").unwrap();
    let (private, _) = runsheet::journal::load_or_create_key(&key).unwrap();
    let mut journal = runsheet::journal::Journal::create(&log, private, &["s3cret"]).unwrap().with_checkpoint_every(2);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    journal.observe(move |line| sink.lock().unwrap().push(line.to_string()));
    let mut fields = serde_json::Map::new();
    fields.insert("note".into(), serde_json::Value::String("pw s3cret".into()));
    journal.append("a", fields.clone()).unwrap();
    journal.append("b", fields).unwrap();
    journal.seal(serde_json::Map::new()).unwrap();
    let written: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    assert_eq!(*seen.lock().unwrap(), written, "a, b, the checkpoint after two entries, the seal");
    assert_eq!(written.len(), 4);
    assert!(!written.concat().contains("s3cret"));
}
