//! The real binary in a pseudo-terminal against a fresh SQLite database: the shipped runbook
//! walked to its end with keys only, a No-Go that ends on the rollback branch, and a quit
//! that leaves the terminal as it found it.

mod pty;

use std::path::{Path, PathBuf};

use pty::Tui;
use runsheet::db::{Db, DbUrl};
use runsheet::model::{Runbook, StepKind, load_runbook};

const ROWS: u64 = 2_000;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

struct Setup {
    dir: tempfile::TempDir,
    url: String,
    runbook: Runbook,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("orders.db").display());
        let mut db = Db::connect(&DbUrl::parse(&url).unwrap()).await.unwrap();
        db.execute(&runsheet::demo::schema_sql("sqlite").unwrap()).await.unwrap();
        for statement in runsheet::demo::insert_statements(ROWS, 500) {
            db.execute(&statement).await.unwrap();
        }
        let runbook = load_runbook(&repo("runbooks/external-orders-expand.yaml"), &[]).unwrap();
        Setup { dir, url, runbook }
    }

    fn start(&self, command: &str) -> Tui {
        let runbook = repo("runbooks/external-orders-expand.yaml");
        let (log, key) = (self.log(), self.dir.path().join("key"));
        Tui::start(
            self.dir.path(),
            &[
                command,
                runbook.to_str().unwrap(),
                "--database-url",
                &self.url,
                "--operator",
                "alice",
                "--role",
                "change-manager",
                "--audit-log",
                log.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        )
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    fn verify(&self) -> Option<i32> {
        let pubkey = self.dir.path().join("key.pub");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_runsheet"))
            .args(["audit", "verify", self.log().to_str().unwrap(), "--pubkey", pubkey.to_str().unwrap()])
            .output()
            .unwrap();
        out.status.code()
    }

    async fn column_and_versions(&self) -> (bool, Vec<i64>) {
        let mut db = Db::connect(&DbUrl::parse(&self.url).unwrap()).await.unwrap();
        let column = db.query_value("SELECT count(external_reference) FROM external_order", &[]).await.is_ok();
        let applied = runsheet::db::migrations::applied(&mut db).await.unwrap();
        (column, applied.iter().map(|r| r.version).collect())
    }
}

/// A step's row as the list shows it: its mark, then its number right-aligned to the width
/// of the branch's last number.
fn row(mark: &str, n: usize, of: usize) -> String {
    let width = of.to_string().len();
    format!("[{mark}] {n:>width$} ")
}

/// Runs main-branch step `n` (1-based) once it waits for Enter; a gate is then decided Go
/// with every manual item ticked by keys, the way a change manager does it.
fn walk_step(tui: &mut Tui, runbook: &Runbook, n: usize) {
    let of = runbook.steps.len();
    tui.wait_for(&row("?", n, of));
    tui.keys("\r");
    if let StepKind::Gate { checklist } = &runbook.steps[n - 1].kind {
        tui.wait_for(&format!("Gate `{}`", runbook.steps[n - 1].id));
        // the gate opens on the first item that needs attention: start from the top
        tui.keys(&"k".repeat(checklist.items.len()));
        for item in &checklist.items {
            if item.check.is_none() {
                tui.keys(" ");
            }
            tui.keys("j");
        }
        tui.wait_until("every required item passing", |s| !s.contains("Go needs:"));
        tui.keys("y");
    }
    tui.wait_for(&row("x", n, of));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_runbook_walked_to_its_end_with_keys_only() {
    let setup = Setup::new().await;
    let mut tui = setup.start("run");
    for n in 1..=setup.runbook.steps.len() {
        walk_step(&mut tui, &setup.runbook, n);
    }
    tui.wait_for("completed");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
    assert!(tui.terminal_restored());
    assert_eq!(setup.column_and_versions().await, (true, vec![20261128010000, 20261128010100]));
    assert_eq!(setup.verify(), Some(0));
    let audit = std::fs::read_to_string(setup.log()).unwrap();
    assert!(audit.contains(r#""kind":"step.run""#), "each step was started by the operator");
    assert!(audit.contains(r#""pace":"operator""#));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_no_go_ends_on_the_rollback_branch() {
    let setup = Setup::new().await;
    let mut tui = setup.start("run");
    let gate = setup.runbook.steps.iter().position(|s| s.id == "go-no-go").unwrap() + 1;
    for n in 1..gate {
        walk_step(&mut tui, &setup.runbook, n);
    }
    tui.wait_for(&row("?", gate, setup.runbook.steps.len()));
    tui.keys("\r");
    tui.wait_for("Gate `go-no-go`");
    tui.keys("n");
    tui.keys("P2 incident open on the importer");
    tui.keys("\r");
    // the rollback branch, each step started by the operator
    for n in 1..=setup.runbook.rollback.len() {
        tui.wait_for(&row("?", n, setup.runbook.rollback.len()));
        tui.keys("\r");
    }
    tui.wait_for("rolled back");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 1);
    assert_eq!(setup.column_and_versions().await, (false, vec![]));
    assert_eq!(setup.verify(), Some(0));
    let audit = std::fs::read_to_string(setup.log()).unwrap();
    assert!(audit.contains(r#""decision":"no-go""#) && audit.contains("P2 incident open on the importer"));
}

/// Hours after a completed run, the incident responder opens `runsheet rollback`: it first
/// shows what is applied and how the last run ended, then walks the rollback branch, whose
/// row-count check compares with the snapshot the last run took.
#[tokio::test(flavor = "multi_thread")]
async fn rollback_shows_what_is_applied_then_walks_the_rollback_branch() {
    let setup = Setup::new().await;
    let runbook = repo("runbooks/external-orders-expand.yaml");
    let key = setup.dir.path().join("key");
    // the forward run, headless, with its audit log where `rollback` looks: audit/<name>-<run id>.jsonl
    let forward = std::process::Command::new(env!("CARGO_BIN_EXE_runsheet"))
        .current_dir(setup.dir.path())
        .env("RUNSHEET_LOG_DIR", setup.dir.path().join("logs"))
        .args(["run", runbook.to_str().unwrap(), "--headless", "--yes", "--database-url", &setup.url])
        .args(["--key", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(forward.status.code(), Some(0));

    let mut tui = Tui::start(
        setup.dir.path(),
        &["rollback", runbook.to_str().unwrap(), "--database-url", &setup.url, "--key", key.to_str().unwrap()],
    );
    tui.wait_for("Rollback: where the database stands");
    let plan = tui.contents();
    assert!(plan.contains("Applied now (_sqlx_migrations): 2"), "{plan}");
    assert!(plan.contains("20261128010100"), "{plan}");
    assert!(plan.contains("Last run: audit/external-orders-2.4-expand-"), "{plan}");
    assert!(plan.contains("post-migration"), "{plan}");
    tui.keys("\r");
    let of = setup.runbook.rollback.len();
    for n in 1..=of {
        tui.wait_for(&row("?", n, of));
        tui.keys("\r");
    }
    tui.wait_for("rolled back");
    assert!(!tui.contents().contains("[!]"), "no step failed:\n{}", tui.contents());
    tui.keys("q");
    assert_eq!(tui.exit_code(), 1);
    assert_eq!(setup.column_and_versions().await, (false, vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn quitting_restores_the_terminal() {
    let setup = Setup::new().await;
    let mut tui = setup.start("run");
    tui.wait_for(&row("?", 1, setup.runbook.steps.len()));
    tui.keys("q");
    assert_eq!(tui.exit_code(), 3, "quit at a question: stopped, needs a human");
    assert!(tui.terminal_restored(), "alternate screen left and cursor shown");
    assert_eq!(setup.verify(), Some(0), "the log of the stopped run is sealed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resize_redraws_at_the_new_size() {
    let setup = Setup::new().await;
    let mut tui = setup.start("run");
    tui.wait_for(&row("?", 1, setup.runbook.steps.len()));
    assert!(tui.row(0).trim_end().ends_with("CHG-2291") && tui.row(0).chars().count() == 120);
    tui.resize(24, 80);
    tui.wait_until("the header redrawn 80 columns wide", |_| {
        let header = tui.row(0);
        header.trim_end().ends_with("CHG-2291") && header.trim_end().chars().count() == 80
    });
    tui.keys("q");
    assert_eq!(tui.exit_code(), 3);
}

/// A command's output shows in the detail pane while it runs, not only when it ends (the
/// lines are made by the shell, so the command's own text, also shown, cannot match).
#[tokio::test(flavor = "multi_thread")]
async fn a_running_commands_output_shows_live() {
    let setup = Setup::new().await;
    let runbook = setup.dir.path().join("slow.yaml");
    std::fs::write(
        &runbook,
        "name: slow\ntitle: Slow backup\nsteps:\n  - id: dump\n    title: Dump\n    \
         command: for n in 1 2; do echo \"copied table $n of 2\"; sleep 3; done\n",
    )
    .unwrap();
    let key = setup.dir.path().join("key");
    let mut tui = Tui::start(
        setup.dir.path(),
        &["run", runbook.to_str().unwrap(), "--database-url", &setup.url, "--key", key.to_str().unwrap()],
    );
    tui.wait_for(&row("?", 1, 1));
    tui.keys("\r");
    tui.wait_for("copied table 1 of 2");
    assert!(tui.contents().contains("[>] 1"), "still running:\n{}", tui.contents());
    assert!(!tui.contents().contains("copied table 2 of 2"));
    tui.wait_for("completed");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 0);
}

/// After `runsheet rehearse`, the run's header says how long the steps should take; once the
/// runbook changes, the rehearsal no longer counts and the UI says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_rehearsal_beside_the_runbook_gives_the_time_to_go() {
    let setup = Setup::new().await;
    let dir = setup.dir.path();
    std::fs::create_dir(dir.join("migrations")).unwrap();
    std::fs::write(dir.join("migrations/1_t.up.sql"), "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY);\n")
        .unwrap();
    std::fs::write(dir.join("migrations/1_t.down.sql"), "DROP TABLE t;\n").unwrap();
    let runbook = dir.join("small.yaml");
    let text = "name: small\ntitle: Small change\nmigrations: migrations\nsteps:\n  \
                - id: count\n    title: Count the orders\n    check: { sql: SELECT count(*) FROM external_order, expect: \"> 0\" }\n  \
                - id: expand\n    title: Add table t\n    migrate: {}\n\
                rollback:\n  - id: revert\n    title: Drop table t\n    revert: { to: 0 }\n";
    std::fs::write(&runbook, text).unwrap();
    let key = dir.join("key");
    let (runbook_arg, key_arg) = (runbook.to_str().unwrap(), key.to_str().unwrap());
    let rehearsed = std::process::Command::new(env!("CARGO_BIN_EXE_runsheet"))
        .current_dir(dir)
        .env("RUNSHEET_LOG_DIR", dir.join("logs"))
        .args(["rehearse", runbook_arg, "--database-url", &setup.url, "--key", key_arg])
        .output()
        .unwrap();
    assert_eq!(rehearsed.status.code(), Some(0), "{}", String::from_utf8_lossy(&rehearsed.stdout));
    assert!(dir.join("small.rehearsal.json").is_file());

    let args = ["run", runbook_arg, "--database-url", &setup.url, "--key", key_arg];
    let mut tui = Tui::start(dir, &args);
    tui.wait_for("to go (rehearsed) ");
    tui.keys("q");
    assert_eq!(tui.exit_code(), 3);

    std::fs::write(&runbook, text.replace("Small change", "Small change, edited")).unwrap();
    let mut tui = Tui::start(dir, &args);
    tui.wait_for("small.rehearsal.json is for another version of the runbook");
    assert!(!tui.contents().contains("to go (rehearsed)"));
    tui.keys("q");
    assert_eq!(tui.exit_code(), 3);
}
