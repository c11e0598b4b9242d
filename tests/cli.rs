//! The command line as an operator meets it: exit codes, what is refused before anything
//! runs, where the key goes, and that the password never shows.

mod cli_common;

use std::path::Path;
use std::process::{Command, Output};

use cli_common::{repo, runsheet, text};
use runsheet::db::{DbUrl, Dialect, RunLock, ScratchDatabase, scratch::server_url_or_skip};

/// `runsheet run RUNBOOK --headless --yes --database-url URL EXTRA...`
fn run_yes(dir: &Path, runbook: &Path, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", runbook.to_str().unwrap(), "--headless", "--yes", "--database-url", url];
    args.extend_from_slice(extra);
    runsheet(dir, &args)
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("orders.db").display())
}

#[test]
fn validate_reports_problems_with_positions_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: x\ntitle: x\nsteps:\n  - id: a\n    title: A\n    chek: { sql: SELECT 1, expect: 1 }\n",
    )
    .unwrap();
    let out = runsheet(dir.path(), &["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let shown = text(&out);
    assert!(shown.contains(&format!("{}:6:5", bad.display())), "{shown}");
    assert!(shown.contains("unknown field `chek`"), "{shown}");

    let out = runsheet(dir.path(), &["validate", repo("runbooks/external-orders-expand.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "the shipped runbook is valid");
}

#[test]
fn invalid_runbook_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\ntitle: x\nsteps:\n  - id: a\n    title: A\n    command: touch ran\n  - id: a\n    title: B\n    manual: twice\n").unwrap();
    let url = sqlite_url(dir.path());
    let out = run_yes(dir.path(), &bad, &url, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("duplicate step id `a`"));
    assert!(!dir.path().join("ran").exists());
    assert!(!dir.path().join("audit").exists(), "no audit log for a run that never started");
}

#[test]
fn a_bad_answers_file_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.yaml");
    std::fs::write(&answers, "go-no-go: maybe\nno-such-step: confirm\n").unwrap();
    let url = sqlite_url(dir.path());
    let runbook = repo("runbooks/external-orders-expand.yaml");
    let out = runsheet(
        dir.path(),
        &[
            "run",
            runbook.to_str().unwrap(),
            "--headless",
            "--answers",
            answers.to_str().unwrap(),
            "--database-url",
            &url,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let shown = text(&out);
    assert!(shown.contains("answers.yaml:1:11: step `go-no-go`: `maybe` is not a gate answer"), "{shown}");
    assert!(shown.contains("step `no-such-step`: the runbook has no such step"), "{shown}");
    assert!(!dir.path().join("orders.db").exists(), "not even connected");
}

/// A step that needs a person, with nobody to answer, stops with exit 3 and a sealed log.
#[test]
fn without_answers_the_first_question_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(&runbook, "name: ask\ntitle: Ask\nsteps:\n  - id: one\n    title: One\n    check: { sql: SELECT 1, expect: 1 }\n  - id: confirm\n    title: Confirm\n    manual: Look at it.\n").unwrap();
    let url = sqlite_url(dir.path());
    let log = dir.path().join("a.jsonl");
    let out = runsheet(
        dir.path(),
        &["run", runbook.to_str().unwrap(), "--headless", "--database-url", &url, "--audit-log", log.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3));
    let shown = text(&out);
    assert!(shown.contains("manual step `confirm` needs a confirmation"), "{shown}");
    // the first run without a key creates one and says where
    let key = dir.path().join(".config/runsheet/id_ed25519");
    assert!(shown.contains(&format!("created a signing key at {}", key.display())), "{shown}");
    let pubkey = dir.path().join(".config/runsheet/id_ed25519.pub");
    let verify =
        runsheet(dir.path(), &["audit", "verify", log.to_str().unwrap(), "--pubkey", pubkey.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(0), "the stopped run's log is sealed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_a_locked_database_is_refused_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    std::fs::write(dir.path().join("orders.db"), b"").unwrap();
    let lock = RunLock::try_acquire(&DbUrl::parse(&url).unwrap()).await.unwrap().unwrap();
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(&runbook, "name: x\ntitle: x\nsteps:\n  - id: a\n    title: A\n    command: touch ran\n").unwrap();
    let out = run_yes(dir.path(), &runbook, &url, &[]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out).contains("another runsheet run holds the lock"));
    assert!(!dir.path().join("ran").exists());
    lock.release().await.unwrap();
    let out = run_yes(dir.path(), &runbook, &url, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("ran").exists());
}

/// PostgreSQL trusts local connections, so any password gets in: enough to prove it is
/// never printed and never written to the audit log, even when a command echoes the URL.
#[tokio::test(flavor = "multi_thread")]
async fn the_password_never_reaches_the_screen_or_the_audit_log() {
    let Some(server) = server_url_or_skip(Dialect::Postgres, "the_password_never_reaches_the_screen_or_the_audit_log")
    else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, "rs_secret").await.unwrap();
    let secret = "Hunter2-s3cret";
    let url = scratch.url().expose_url().replacen("postgres@", &format!("postgres:{secret}@"), 1);
    assert!(url.contains(secret));
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(
        &runbook,
        "name: secret\ntitle: Secret\nsteps:\n  - id: echo\n    title: Echo\n    command: echo \"$DATABASE_URL\"\n  - id: fail\n    title: Fail\n    command: echo \"$DATABASE_URL\" >&2; exit 1\n",
    )
    .unwrap();
    let log = dir.path().join("a.jsonl");
    let out = run_yes(dir.path(), &runbook, &url, &["--audit-log", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!text(&out).contains(secret));
    let audit = std::fs::read_to_string(&log).unwrap();
    assert!(audit.contains("***"), "the command output is in the log, masked");
    assert!(!audit.contains(secret));
    for entry in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        assert!(!std::fs::read_to_string(entry.unwrap().path()).unwrap().contains(secret));
    }
    scratch.drop_now().await.unwrap();
}

#[test]
fn demo_creates_legacy_data_and_runs_the_shipped_runbook() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.jsonl");
    let out = runsheet(dir.path(), &["demo", "--rows", "2000", "--audit-log", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("runsheet-demo.db").exists());
    let shown = text(&out);
    assert!(shown.contains("creating 2000 legacy external_order rows"), "{shown}");
    assert!(shown.contains("finished: completed"), "{shown}");
}

/// Ctrl-C cancels the action in flight, kills the command's process group, records
/// `run.interrupted` and leaves the log unsealed (verify exit 5).
#[test]
fn ctrl_c_interrupts_and_leaves_the_log_unsealed() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("rb.yaml");
    let marker = dir.path().join("survived");
    std::fs::write(
        &runbook,
        format!(
            "name: slow\ntitle: Slow\nsteps:\n  - id: slow\n    title: Slow\n    command: (sleep 2; touch {}) & sleep 30\n",
            marker.display()
        ),
    )
    .unwrap();
    let url = sqlite_url(dir.path());
    let log = dir.path().join("a.jsonl");
    let key = dir.path().join("key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_runsheet"))
        .current_dir(dir.path())
        .env("RUNSHEET_LOG_DIR", dir.path().join("logs"))
        .args(["run", runbook.to_str().unwrap(), "--headless", "--yes", "--database-url", &url])
        .args(["--audit-log", log.to_str().unwrap(), "--key", key.to_str().unwrap()])
        .spawn()
        .unwrap();
    // wait until the command has started
    for _ in 0..100 {
        if std::fs::read_to_string(&log).unwrap_or_default().contains("step.started") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-s", "INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let audit = std::fs::read_to_string(&log).unwrap();
    assert!(audit.lines().last().unwrap().contains("\"kind\":\"run.interrupted\""));
    let pubkey = dir.path().join("key.pub");
    let verify =
        runsheet(dir.path(), &["audit", "verify", log.to_str().unwrap(), "--pubkey", pubkey.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(5), "valid but unsealed");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(!marker.exists(), "the command's background child was killed");
}

async fn demo_on_a_server(dialect: Dialect, test: &str) {
    let Some(server) = server_url_or_skip(dialect, test) else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, "rs_demo").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.jsonl");
    let url = scratch.url().expose_url().to_string();
    let args = ["demo", "--rows", "2000", "--database-url", &url, "--audit-log", log.to_str().unwrap()];
    let out = runsheet(dir.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("finished: completed"));
    // a second demo on the same database refuses to touch the existing table
    let log2 = dir.path().join("again.jsonl");
    let again = ["demo", "--rows", "10", "--database-url", &url, "--audit-log", log2.to_str().unwrap()];
    let out = runsheet(dir.path(), &again);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("already has an external_order table"));
    assert!(!log2.exists());
    scratch.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_on_postgres() {
    demo_on_a_server(Dialect::Postgres, "demo_on_postgres").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_on_mariadb() {
    demo_on_a_server(Dialect::MySql, "demo_on_mariadb").await;
}

/// A migrate step that fails part-way says what it applied before the failure; the
/// migrations before it stay applied, one at a time, and the failed one left nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_migration_failing_part_way_says_what_is_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for (name, sql) in [
        ("1_one.up.sql", "CREATE TABLE one (id INT);"),
        ("1_one.down.sql", "DROP TABLE one;"),
        ("2_two.up.sql", "CREATE TABLE two (id INT);\nSELECT * FROM nowhere;"),
        ("2_two.down.sql", "DROP TABLE two;"),
    ] {
        std::fs::write(migrations.join(name), sql).unwrap();
    }
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(
        &runbook,
        "name: m\ntitle: M\nmigrations: migrations\non_failure: abort\nsteps:\n  - id: up\n    title: Up\n    migrate: {}\n",
    )
    .unwrap();
    let url = sqlite_url(dir.path());
    let out = run_yes(dir.path(), &runbook, &url, &[]);
    assert_eq!(out.status.code(), Some(3));
    let shown = text(&out);
    assert!(shown.contains("up FAILED: 2 could not be applied: "), "{shown}");
    assert!(shown.contains("no such table: nowhere"), "{shown}");
    assert!(shown.contains("(applied before it in this step: 1)"), "{shown}");
    let mut db = runsheet::db::Db::connect(&DbUrl::parse(&url).unwrap()).await.unwrap();
    let applied = runsheet::db::migrations::applied(&mut db).await.unwrap();
    assert_eq!(applied.iter().map(|r| r.version).collect::<Vec<_>>(), vec![1]);
    assert!(db.query_value("SELECT count(*) FROM two", &[]).await.is_err(), "migration 2 rolled back whole");
}

/// A query past its step's timeout fails the step; the run reconnects, so the next step's
/// query does not wait behind the abandoned one.
#[tokio::test(flavor = "multi_thread")]
async fn a_query_past_its_timeout_fails_the_step_and_the_run_goes_on() {
    let test = "a_query_past_its_timeout_fails_the_step_and_the_run_goes_on";
    let Some(server) = server_url_or_skip(Dialect::Postgres, test) else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, "rs_timeout").await.unwrap();
    let url = scratch.url().expose_url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(
        &runbook,
        "name: slow\ntitle: Slow\nsteps:\n  - id: slow\n    title: Slow\n    timeout: 300ms\n    \
         check: { sql: SELECT count(*) FROM pg_sleep(10), expect: 1 }\n  - id: fast\n    title: Fast\n    \
         check: { sql: SELECT 1, expect: 1 }\n",
    )
    .unwrap();
    let answers = dir.path().join("answers.yaml");
    std::fs::write(&answers, "slow: { on_failure: skip, reason: known slow }\n").unwrap();
    let started = std::time::Instant::now();
    let args = ["--headless", "--database-url", &url, "--answers", answers.to_str().unwrap()];
    let out = runsheet(dir.path(), &[&["run", runbook.to_str().unwrap()], &args[..]].concat());
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out);
    assert!(shown.contains("slow FAILED: timed out after 300ms"), "{shown}");
    assert!(shown.contains("fast done"), "{shown}");
    assert!(started.elapsed() < std::time::Duration::from_secs(8), "did not wait for the 10 s pg_sleep");
    scratch.drop_now().await.unwrap();
}

#[test]
fn an_existing_audit_log_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(&runbook, "name: x\ntitle: x\nsteps:\n  - id: a\n    title: A\n    command: echo ran >> runs\n")
        .unwrap();
    let url = sqlite_url(dir.path());
    let log = dir.path().join("a.jsonl");
    let first = run_yes(dir.path(), &runbook, &url, &["--audit-log", log.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0));
    let before = std::fs::read(&log).unwrap();
    let again = run_yes(dir.path(), &runbook, &url, &["--audit-log", log.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("a.jsonl already exists: give the run an audit log of its own"));
    assert_eq!(std::fs::read(&log).unwrap(), before);
    assert_eq!(std::fs::read_to_string(dir.path().join("runs")).unwrap(), "ran\n", "ran once");
}

#[test]
fn the_database_url_comes_from_dotenv_when_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path());
    std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={url}\n")).unwrap();
    let runbook = dir.path().join("rb.yaml");
    std::fs::write(
        &runbook,
        "name: x\ntitle: x\nsteps:\n  - id: a\n    title: A\n    command: echo \"$DATABASE_URL\" > used\n",
    )
    .unwrap();
    let out = runsheet(dir.path(), &["run", runbook.to_str().unwrap(), "--headless", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(dir.path().join("used")).unwrap().trim(), url);
}

#[test]
fn keygen_writes_an_openssh_key_pair_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/ops");
    let out = runsheet(dir.path(), &["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("fingerprint: SHA256:"));
    let listed = Command::new("ssh-keygen").arg("-l").arg("-f").arg(key.with_extension("pub")).output().unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("(ED25519)"));
    let private = std::fs::read(&key).unwrap();
    let again = runsheet(dir.path(), &["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read(&key).unwrap(), private, "the key was not replaced");
}
