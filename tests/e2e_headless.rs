//! Headless end-to-end runs of the real binary with the shipped runbook on SQLite,
//! PostgreSQL and MariaDB: the forward path, a failing check that takes the rollback branch,
//! a No-Go that takes it; then the schema, `_sqlx_migrations` and the audit log are checked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runsheet::db::migrations::applied;
use runsheet::db::{Db, DbUrl, Dialect, ScratchDatabase, scratch::server_url_or_skip};
use runsheet::engine::{Engine, Event, RunOutcome, StepStatus};
use runsheet::model::{Branch, load_runbook};
use sha2::{Digest, Sha384};
use std::sync::Arc;

const ROWS: u64 = 3_000;
const EXPAND_VERSIONS: [i64; 2] = [20261128010000, 20261128010100];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A database with the legacy demo data, in a temporary working directory.
struct Target {
    url: String,
    dialect: Dialect,
    scratch: Option<ScratchDatabase>,
    dir: tempfile::TempDir,
}

impl Target {
    async fn new(dialect: Dialect, test: &str) -> Option<Target> {
        let dir = tempfile::tempdir().unwrap();
        let (url, scratch) = match dialect {
            Dialect::Sqlite => (format!("sqlite:{}", dir.path().join("orders.db").display()), None),
            _ => {
                let server = server_url_or_skip(dialect, test)?;
                let scratch = ScratchDatabase::create(&server, "rs_e2e").await.unwrap();
                (scratch.url().expose_url().to_string(), Some(scratch))
            }
        };
        let target = Target { url, dialect, scratch, dir };
        let mut db = target.db().await;
        db.execute(&runsheet::demo::schema_sql(dialect.name()).unwrap()).await.unwrap();
        for statement in runsheet::demo::insert_statements(ROWS, 500) {
            db.execute(&statement).await.unwrap();
        }
        Some(target)
    }

    async fn db(&self) -> Db {
        Db::connect(&DbUrl::parse(&self.url).unwrap()).await.unwrap()
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("key")
    }

    /// Runs `runsheet run RUNBOOK --headless` with this database, key and audit log.
    fn run(&self, runbook: &Path, extra: &[&str]) -> Output {
        self.invoke("run", runbook, extra)
    }

    /// Runs `runsheet COMMAND RUNBOOK --headless` (`run` or `rollback`).
    fn invoke(&self, command: &str, runbook: &Path, extra: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_runsheet"))
            .current_dir(self.dir.path())
            .env("RUNSHEET_LOG_DIR", self.dir.path().join("logs"))
            .env_remove("DATABASE_URL")
            .args([command, runbook.to_str().unwrap(), "--headless", "--operator", "alice", "--role", "dba"])
            .args(["--database-url", &self.url, "--audit-log", self.log().to_str().unwrap()])
            .args(["--key", self.key().to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        eprintln!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        output
    }

    fn verify_log(&self) -> i32 {
        let pubkey = self.dir.path().join("key.pub");
        let output = Command::new(env!("CARGO_BIN_EXE_runsheet"))
            .args(["audit", "verify", self.log().to_str().unwrap(), "--pubkey", pubkey.to_str().unwrap()])
            .output()
            .unwrap();
        output.status.code().unwrap()
    }

    async fn column_exists(&self) -> bool {
        self.db().await.query_value("SELECT count(external_reference) FROM external_order", &[]).await.is_ok()
    }

    async fn applied_versions(&self) -> Vec<i64> {
        let rows = applied(&mut self.db().await).await.unwrap();
        for row in &rows {
            assert!(row.success, "version {} is dirty", row.version);
            let up = std::fs::read_dir(repo("migrations").join(self.dialect.name()))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    name.starts_with(&format!("{}_", row.version)) && name.ends_with(".up.sql")
                })
                .unwrap();
            let expected = hex::encode(Sha384::digest(std::fs::read(up).unwrap()));
            assert_eq!(row.checksum, expected, "checksum of {} as sqlx computes it", row.version);
        }
        rows.iter().map(|r| r.version).collect()
    }

    async fn finish(self) {
        if let Some(scratch) = self.scratch {
            scratch.drop_now().await.unwrap();
        }
    }
}

fn entries(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn has_entry(log: &Path, kind: &str, pred: impl Fn(&serde_json::Value) -> bool) -> bool {
    entries(log).iter().any(|e| e["kind"] == kind && pred(e))
}

/// The audit log carries what replay needs: the engine rebuilt from its events has finished
/// the run with every step done and the snapshot the run took.
fn replay_rebuilds_the_run(log: &Path) {
    let runbook = Arc::new(load_runbook(&repo("runbooks/external-orders-expand.yaml"), &[]).unwrap());
    let events: Vec<Event> = entries(log).iter().filter_map(Event::from_entry).map(Result::unwrap).collect();
    let started = entries(log).into_iter().find(|e| e["kind"] == "run.started").unwrap();
    let mut vars = runbook.vars.clone();
    for name in ["run_id", "operator", "role", "runbook"] {
        vars.insert(name.to_string(), started[name].as_str().unwrap_or_default().to_string());
    }
    let engine = Engine::replay(Arc::clone(&runbook), vars, events);
    assert_eq!(engine.outcome(), Some(RunOutcome::Completed));
    assert!(engine.states(Branch::Main).iter().all(|s| s.status == StepStatus::Done));
    assert_eq!(engine.scope().snapshots["orders"].as_deref(), Some(ROWS.to_string().as_str()));
}

async fn forward_path(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else {
        return;
    };
    let out = t.run(&repo("runbooks/external-orders-expand.yaml"), &["--yes"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(t.column_exists().await);
    assert_eq!(t.applied_versions().await, EXPAND_VERSIONS);
    assert_eq!(t.verify_log(), 0);
    let log = t.log();
    assert!(has_entry(&log, "gate.decided", |e| e["decision"] == "go" && e["by"]["name"] == "alice"));
    assert!(has_entry(&log, "gate.ticked", |e| e["item"] == "backup-verified" && e["by"]["role"] == "dba"));
    assert!(has_entry(&log, "migration.applied", |e| e["version"] == EXPAND_VERSIONS[1]));
    assert!(has_entry(&log, "run.ended", |e| e["outcome"] == "completed"));
    replay_rebuilds_the_run(&log);

    // Hours later, the incident responder opens the rollback branch directly; the row count
    // its checks compare with comes from the forward run's audit log, found beside the new one.
    let forward_log = t.dir.path().join("external-orders-2.4-expand-20261128T020000Z-0001.jsonl");
    std::fs::rename(t.log(), &forward_log).unwrap();
    std::fs::remove_file(t.dir.path().join("audit.jsonl.sig")).unwrap();
    let out = t.invoke("rollback", &repo("runbooks/external-orders-expand.yaml"), &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "ended on the completed rollback branch");
    assert!(!t.column_exists().await);
    assert_eq!(t.applied_versions().await, Vec::<i64>::new());
    assert!(!has_entry(&t.log(), "step.started", |e| e["branch"] == "main"), "no main-branch step ran");
    assert!(has_entry(&t.log(), "snapshot.imported", |e| e["values"]["orders"].as_str().and_then(|v| v.parse().ok())
        == Some(ROWS)
        && e["from"].as_str().unwrap().ends_with("-0001.jsonl")));
    assert!(has_entry(&t.log(), "step.status", |e| e["step"] == "no-row-lost-after-rollback" && e["status"] == "done"));
    assert_eq!(t.verify_log(), 0);
    t.finish().await;
}

async fn failing_check_rolls_back(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else {
        return;
    };
    let out = t.run(&repo("tests/fixtures/e2e/post-check-fails.yaml"), &["--yes"]);
    assert_eq!(out.status.code(), Some(1), "the rollback branch completed");
    assert!(!t.column_exists().await, "the expand was reverted");
    assert_eq!(t.applied_versions().await, Vec::<i64>::new());
    assert_eq!(t.verify_log(), 0);
    let log = t.log();
    assert!(has_entry(&log, "step.status", |e| e["step"] == "impossible" && e["status"] == "failed"));
    assert!(has_entry(&log, "migration.reverted", |e| e["version"] == EXPAND_VERSIONS[0]));
    assert!(has_entry(&log, "run.ended", |e| e["outcome"] == "rolled_back" && e["exit_code"] == 1));
    t.finish().await;
}

async fn collision_fails_the_pre_check(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else {
        return;
    };
    t.db().await.execute(&runsheet::demo::collision_sql(ROWS)).await.unwrap();
    let out = t.run(&repo("runbooks/external-orders-expand.yaml"), &["--yes"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!t.column_exists().await);
    assert_eq!(t.applied_versions().await, Vec::<i64>::new());
    assert!(has_entry(&t.log(), "step.status", |e| e["step"] == "no-ref-collisions" && e["status"] == "failed"));
    assert!(!has_entry(&t.log(), "step.started", |e| e["step"] == "expand"), "nothing migrated");
    t.finish().await;
}

async fn no_go_rolls_back(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else {
        return;
    };
    let answers = t.dir.path().join("answers.yaml");
    std::fs::write(
        &answers,
        "pre-migration: go\ngo-no-go:\n  decision: no-go\n  reason: P2 incident open on the importer\ntell-support: confirm\n",
    )
    .unwrap();
    let out = t.run(&repo("runbooks/external-orders-expand.yaml"), &["--answers", answers.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!t.column_exists().await);
    assert_eq!(t.applied_versions().await, Vec::<i64>::new());
    assert_eq!(t.verify_log(), 0);
    assert!(has_entry(&t.log(), "gate.decided", |e| e["decision"] == "no-go"
        && e["reason"] == "P2 incident open on the importer"));
    assert!(has_entry(&t.log(), "rollback.started", |e| e["reason"].as_str().unwrap().contains("No-Go")));
    t.finish().await;
}

/// Release N is live: the backfill runbook estimates, decides Go and fills every order's
/// external_reference in batches; its own post-checks hold.
async fn backfill_after_the_expand(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else {
        return;
    };
    assert_eq!(t.run(&repo("runbooks/external-orders-expand.yaml"), &["--yes"]).status.code(), Some(0));
    std::fs::rename(t.log(), t.dir.path().join("expand.jsonl")).unwrap();
    std::fs::remove_file(t.dir.path().join("audit.jsonl.sig")).unwrap();
    let out = t.run(&repo("runbooks/external-orders-backfill.yaml"), &["--yes", "--set", "batch_size=100"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(t.verify_log(), 0);
    let log = t.log();
    let to_fill = entries(&log)
        .into_iter()
        .find(|e| e["kind"] == "step.finished" && e["step"] == "before")
        .and_then(|e| e["result"]["Ok"]["values"]["to_fill"].as_str().map(str::to_string))
        .unwrap();
    let filled = t.db().await.query_value("SELECT count(external_reference) FROM external_order", &[]).await;
    assert_eq!(filled.unwrap(), Some(to_fill.clone()), "every order with a legacy reference, once");
    assert!(has_entry(&log, "backfill.estimate", |e| e["step"] == "estimate"
        && e["estimate"]["candidates"].as_u64().map(|n| n.to_string()) == Some(to_fill.clone())));
    assert!(has_entry(&log, "step.finished", |e| e["step"] == "fill"
        && e["result"]["Ok"]["metrics"]["rows_updated"].as_u64().map(|n| n.to_string()) == Some(to_fill.clone())
        && e["result"]["Ok"]["metrics"]["batches"].as_u64().unwrap_or(0) > 1));
    t.finish().await;
}

macro_rules! on_every_database {
    ($($scenario:ident),*) => {
        mod sqlite { use super::*; $(#[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(Dialect::Sqlite, stringify!($scenario)).await } )* }
        mod postgres { use super::*; $(#[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(Dialect::Postgres, concat!("postgres::", stringify!($scenario))).await } )* }
        mod mariadb { use super::*; $(#[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(Dialect::MySql, concat!("mariadb::", stringify!($scenario))).await } )* }
    };
}

on_every_database!(
    forward_path,
    failing_check_rolls_back,
    collision_fails_the_pre_check,
    no_go_rolls_back,
    backfill_after_the_expand
);

/// `--dry-run` on the expand: the pre-checks read the live data, the backup and the migrations
/// only say what they would do, and the database is left as it was — not even
/// `_sqlx_migrations` is created. The post-checks that need the new column then fail, and the
/// (equally dry) rollback branch runs: a dry run shows that, it does not hide it.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_of_the_expand_writes_nothing() {
    let Some(t) = Target::new(Dialect::Sqlite, "a_dry_run_of_the_expand_writes_nothing").await else {
        return;
    };
    let out = t.run(&repo("runbooks/external-orders-expand.yaml"), &["--yes", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("DRY RUN: nothing is written"), "{text}");
    assert!(text.contains("no-ref-collisions done: = 0 (got 0)"), "pre-checks read the data: {text}");
    assert!(text.contains("backup done: dry run: would run `set -eu"), "{text}");
    assert!(
        text.contains("expand done: dry run: would be applied: 20261128010000 add external reference, 20261128010100"),
        "{text}"
    );
    assert!(!t.column_exists().await);
    assert!(!t.dir.path().join("backups").exists(), "the backup command did not run");
    let tables = t.db().await.table_names().await.unwrap();
    assert!(!tables.iter().any(|n| n == "_sqlx_migrations"), "{tables:?}");
    assert!(has_entry(&t.log(), "run.started", |e| e["dry_run"] == true));
    assert_eq!(t.verify_log(), 0);
}
