//! Verification: the hash chain line by line, each checkpoint's and the seal's signature, and
//! the detached `LOG.sig`. Also the chain scan that `Journal::open_append` resumes from.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::error::Category;
use ssh_key::SshSig;

use super::entry::{CHECKPOINT, GENESIS_PREV, SEAL, complete_lines, line_hash, split_signed};
use super::keys::{SigError, TrustedKeys, fingerprint, sig_from_base64};

/// What `verify` concluded about a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every line chains, every signature is good, and the log ends with its seal.
    Sealed { entries: u64 },
    /// Valid as far as it goes, but there is no seal at the end: an interrupted run, or a
    /// truncated tail. Entries after `last_checkpoint` (a seq) carry no signature.
    Unsealed { entries: u64, last_checkpoint: Option<u64> },
    /// `line` is the 1-based number of the first bad line; 0 when the fault is the file as a
    /// whole (unreadable, or a detached signature that does not match).
    Invalid { line: usize, reason: String },
}

impl Verdict {
    /// The exit code of `runsheet audit verify` (DESIGN.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Sealed { .. } => 0,
            Verdict::Invalid { .. } => 1,
            Verdict::Unsealed { .. } => 5,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Sealed { entries } => write!(f, "valid and sealed: {entries} entries"),
            Verdict::Unsealed { entries, last_checkpoint: Some(signed) } => write!(
                f,
                "valid so far but not sealed: {entries} entries, signed up to entry {signed}; \
                 the run was interrupted or the log's tail was cut"
            ),
            Verdict::Unsealed { entries, last_checkpoint: None } => write!(
                f,
                "valid so far but not sealed: {entries} entries and no signed checkpoint; \
                 the run was interrupted or the log's tail was cut"
            ),
            Verdict::Invalid { line: 0, reason } => write!(f, "invalid: {reason}"),
            Verdict::Invalid { line, reason } => write!(f, "invalid at line {line}: {reason}"),
        }
    }
}

/// Where the seal's detached signature over the whole log lives: the log's path plus `.sig`.
pub fn detached_signature_path(log: &Path) -> PathBuf {
    super::with_suffix(log, ".sig")
}

/// Verifies the log at `log` against `keys`; also `LOG.sig` when it exists.
pub fn verify(log: &Path, keys: &TrustedKeys) -> Verdict {
    let bytes = match fs::read(log) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Verdict::Invalid { line: 0, reason: format!("cannot read {}: {e}", log.display()) };
        }
    };
    let chain = match scan(&bytes, Some(keys)) {
        Ok(chain) => chain,
        Err(Bad { line, reason }) => return Verdict::Invalid { line, reason },
    };
    let sig_path = detached_signature_path(log);
    let detached = match fs::read_to_string(&sig_path) {
        Ok(armored) => Some(armored),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            return Verdict::Invalid { line: 0, reason: format!("cannot read {}: {e}", sig_path.display()) };
        }
    };
    if let Some(armored) = detached {
        let problem = if chain.sealed {
            SshSig::from_pem(armored.trim())
                .map_err(|e| format!("not an SSH signature ({e})"))
                .and_then(|sig| keys.check(&bytes, &sig).map_err(|why| why.to_string()))
                .err()
                .map(|why| format!("it does not match the log: {why}"))
        } else {
            // Only sealing writes LOG.sig, so an unsealed log next to one lost its tail.
            Some(format!(
                "it exists, but the log ends after entry {} without its seal: the tail was cut",
                chain.entries
            ))
        };
        if let Some(problem) = problem {
            return Verdict::Invalid {
                line: 0,
                reason: format!("detached signature {}: {problem}", sig_path.display()),
            };
        }
    }
    if chain.sealed {
        Verdict::Sealed { entries: chain.entries }
    } else {
        Verdict::Unsealed { entries: chain.entries, last_checkpoint: chain.last_checkpoint }
    }
}

/// A log read up to its last complete line.
#[derive(Debug)]
pub(crate) struct Chain {
    /// Seq of the last entry; 0 for an empty log.
    pub entries: u64,
    pub last_hash: String,
    pub last_checkpoint: Option<u64>,
    pub sealed: bool,
    /// Entries after the last signed one.
    pub unsigned: u64,
    /// Length of the complete lines; bytes after it are a line whose write was cut short.
    pub complete_len: usize,
}

#[derive(Debug)]
pub(crate) struct Bad {
    pub line: usize,
    pub reason: String,
}

/// The fields every line has.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    ts: String,
    prev: String,
    kind: String,
    sig: Option<String>,
}

/// The fields a checkpoint and the seal add.
#[derive(Deserialize)]
struct Signed {
    entries: u64,
    key: String,
}

/// Walks the chain. With `keys`, checks every signature too; without, only the chain
/// (resuming a log needs its state, not a judgement on who signed it).
pub(crate) fn scan(bytes: &[u8], keys: Option<&TrustedKeys>) -> Result<Chain, Bad> {
    let (lines, tail) = complete_lines(bytes);
    let mut chain = Chain {
        entries: 0,
        last_hash: GENESIS_PREV.to_owned(),
        last_checkpoint: None,
        sealed: false,
        unsigned: 0,
        complete_len: bytes.len() - tail.len(),
    };
    // Whether the previous line's own signature vouches for its bytes.
    let mut previous_signed = false;
    for (index, &line) in lines.iter().enumerate() {
        let number = index + 1;
        let bad = |reason: String| Bad { line: number, reason };
        if chain.sealed {
            return Err(after_seal(number));
        }
        let head: Head = parse(line).map_err(bad)?;
        let expected = chain.entries + 1;
        if head.seq != expected {
            let cause = if head.seq > expected {
                "entries are missing before this line, or lines were reordered"
            } else {
                "a line was inserted before this one, or lines were reordered"
            };
            return Err(bad(format!("seq is {} where {expected} was expected: {cause}", head.seq)));
        }
        if head.prev != chain.last_hash {
            return Err(match number {
                1 => bad("prev of the first line is not 64 zeros: the log does not start at its first entry".into()),
                _ if previous_signed => bad(format!("prev does not match the hash of signed line {}", number - 1)),
                _ => Bad {
                    line: number - 1,
                    reason: format!("the line was altered: its hash no longer matches the prev of line {number}"),
                },
            });
        }
        if chrono::DateTime::parse_from_rfc3339(&head.ts).is_err() {
            return Err(bad(format!("ts {:?} is not an RFC 3339 time", head.ts)));
        }
        previous_signed = head.kind == CHECKPOINT || head.kind == SEAL;
        if previous_signed {
            check_signed(line, &head, keys, chain.last_checkpoint).map_err(bad)?;
            chain.last_checkpoint = Some(head.seq);
            chain.sealed = head.kind == SEAL;
            chain.unsigned = 0;
        } else if head.sig.is_some() {
            return Err(bad(format!(
                "a {} entry carries a sig field; only checkpoints and the seal are signed",
                head.kind
            )));
        } else {
            chain.unsigned += 1;
        }
        chain.entries = head.seq;
        chain.last_hash = line_hash(line);
    }
    if chain.sealed && !tail.is_empty() {
        return Err(after_seal(lines.len() + 1));
    }
    Ok(chain)
}

fn after_seal(line: usize) -> Bad {
    Bad { line, reason: format!("line {} sealed the log; nothing may follow a seal", line - 1) }
}

fn check_signed(
    line: &[u8],
    head: &Head,
    keys: Option<&TrustedKeys>,
    last_checkpoint: Option<u64>,
) -> Result<(), String> {
    let kind = &head.kind;
    if head.sig.is_none() {
        return Err(format!("the {kind} carries no signature"));
    }
    let signed: Signed = parse(line)?;
    if signed.entries.checked_add(1) != Some(head.seq) {
        return Err(format!(
            "the {kind} claims to cover {} entries but follows entry {}",
            signed.entries,
            head.seq - 1
        ));
    }
    let (message, sig) =
        split_signed(line).ok_or_else(|| format!("the {kind}'s sig is not base64 in the last field"))?;
    let Some(keys) = keys else { return Ok(()) };
    let sig = sig_from_base64(sig).map_err(|why| format!("the {kind}'s {why}"))?;
    let signer = fingerprint(sig.public_key());
    if signer != signed.key {
        return Err(format!("the {kind} names key {} but is signed by key {signer}", signed.key));
    }
    keys.check(&message, &sig).map_err(|why| match why {
        SigError::Mismatch => {
            let since = last_checkpoint.map_or(1, |seq| seq + 1);
            format!(
                "the {kind}'s signature does not match: a line from line {since} on was altered and the chain rehashed"
            )
        }
        other => format!("the {kind} is {other}"),
    })
}

fn parse<'a, T: Deserialize<'a>>(line: &'a [u8]) -> Result<T, String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    serde_json::from_slice(line).map_err(|e| {
        // serde_json appends " at line 1 column N"; every entry is one line, so keep the column.
        let text = e.to_string();
        let what = text.rsplit_once(" at line ").map_or(text.as_str(), |(what, _)| what);
        match e.classify() {
            Category::Data => format!("not a journal entry ({what})"),
            _ => format!("not valid JSON ({what} at column {})", e.column()),
        }
    })
}
