//! Lock timeouts of `migrate` steps, through the real binary on real databases: while another
//! session holds a conflicting lock, the migration gives up after its lock timeout and retries,
//! naming the holder, and a query on the same table is never held up for longer than one lock
//! timeout; when the holder lets go during the retries, the migration goes through.
//!
//! These tests measure durations on purpose: bounding how long the application's queries wait
//! is the point of the feature. The bounds are loose; what they catch is a wait as long as the
//! holder's transaction.

mod db_common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use runsheet::db::migrations::applied;
use runsheet::db::{Db, DbUrl, Dialect, ScratchDatabase, scratch::server_url_or_skip};
use serde_json::Value;

const LOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling, connecting and the backoff's first wait, on a busy 2-core machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// A database with a table `item`, and a runbook that adds a column to it.
struct Scene {
    dialect: Dialect,
    url: String,
    scratch: Option<ScratchDatabase>,
    dir: tempfile::TempDir,
}

impl Scene {
    async fn new(dialect: Dialect, test: &str, retries: u32) -> Option<Scene> {
        let dir = tempfile::tempdir().unwrap();
        let (url, scratch) = match dialect {
            Dialect::Sqlite => (format!("sqlite:{}", dir.path().join("shop.db").display()), None),
            _ => {
                let server = server_url_or_skip(dialect, test)?;
                let scratch = ScratchDatabase::create(&server, "rs_locks").await.unwrap();
                (scratch.url().expose_url().to_string(), Some(scratch))
            }
        };
        let scene = Scene { dialect, url, scratch, dir };
        let mut db = scene.db().await;
        db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(20))").await.unwrap();
        db.execute("INSERT INTO item (id, name) VALUES (1, 'one'), (2, 'two')").await.unwrap();
        // `_sqlx_migrations` exists, as in any database migrated before (on SQLite, creating it
        // would wait for the file's write lock before the migration does).
        applied(&mut db).await.unwrap();
        db.close().await.unwrap();
        let migrations = scene.dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::write(migrations.join("1_add_note.up.sql"), "ALTER TABLE item ADD COLUMN note VARCHAR(20);\n")
            .unwrap();
        std::fs::write(migrations.join("1_add_note.down.sql"), "ALTER TABLE item DROP COLUMN note;\n").unwrap();
        let runbook = format!(
            "name: add-note\ntitle: Add a column behind a long transaction\nmigrations: migrations\n\
             lock_timeout: {}s\nlock_retries: {retries}\non_failure: abort\n\
             steps:\n  - id: add-note\n    title: Add the note column\n    migrate: {{}}\n",
            LOCK_TIMEOUT.as_secs()
        );
        std::fs::write(scene.runbook(), runbook).unwrap();
        Some(scene)
    }

    fn runbook(&self) -> PathBuf {
        self.dir.path().join("runbook.yaml")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("audit.jsonl")
    }

    async fn db(&self) -> Db {
        Db::connect(&DbUrl::parse(&self.url).unwrap()).await.unwrap()
    }

    /// A session of its own, named `name` where the database shows names (PostgreSQL).
    async fn session(&self, name: &str) -> Db {
        let url = match self.dialect {
            Dialect::Postgres => format!("{}?application_name={name}", self.url),
            _ => self.url.clone(),
        };
        Db::connect(&DbUrl::parse(&url).unwrap()).await.unwrap()
    }

    /// `runsheet run RUNBOOK --headless --yes` on this database, as a child process.
    fn run(&self) -> impl Future<Output = Output> + use<> {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_runsheet"));
        command
            .current_dir(self.dir.path())
            .env("RUNSHEET_LOG_DIR", self.dir.path().join("logs"))
            .env_remove("DATABASE_URL")
            .args(["run", self.runbook().to_str().unwrap(), "--headless", "--yes", "--operator", "alice"])
            .args(["--database-url", &self.url, "--audit-log", self.log().to_str().unwrap()])
            .args(["--key", self.dir.path().join("key").to_str().unwrap()]);
        async move {
            let output = command.output().await.unwrap();
            eprintln!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            output
        }
    }

    fn entries(&self, kind: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        // The last line may be half written while the run goes on.
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|e| e["kind"] == kind).collect()
    }

    /// Waits until the migration waits for the lock (as the server shows it).
    async fn until_the_migration_waits(&self, observer: &mut Db) {
        let sql = match self.dialect {
            Dialect::Postgres => {
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND query LIKE '%ADD COLUMN note%'"
            }
            Dialect::MySql => {
                "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
                 AND STATE LIKE 'Waiting for%lock' AND INFO LIKE '%ADD COLUMN note%'"
            }
            Dialect::Sqlite => unreachable!("SQLite's readers do not queue behind a writer"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while observer.query_value(sql, &[]).await.unwrap().as_deref() == Some("0") {
            assert!(Instant::now() < deadline, "the migration never waited for the lock");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn column_exists(&self) -> bool {
        self.db().await.query_value("SELECT count(note) FROM item", &[]).await.is_ok()
    }

    async fn finish(self) {
        if let Some(scratch) = self.scratch {
            scratch.drop_now().await.unwrap();
        }
    }
}

/// How the database names a session in runsheet's messages.
fn named(dialect: Dialect, id: i64) -> String {
    match dialect {
        Dialect::MySql => format!("connection {id}"),
        _ => format!("pid {id}"),
    }
}

/// A lock held throughout: every attempt gives up after the lock timeout, the step fails naming
/// the holder, nothing is left behind, and a reader is held up for one lock timeout at most.
async fn held_lock_fails_the_step_after_its_retries(dialect: Dialect, test: &str) {
    const RETRIES: u32 = 2;
    let Some(scene) = Scene::new(dialect, test, RETRIES).await else {
        return;
    };
    let mut holder = scene.session("holder").await;
    let holder_id = db_common::hold_item(&mut holder).await;
    let clock = Instant::now();
    let run = tokio::spawn(scene.run());

    if dialect != Dialect::Sqlite {
        let mut observer = scene.db().await;
        scene.until_the_migration_waits(&mut observer).await;
        // The application's query, queued behind the waiting ALTER.
        let mut reader = scene.session("reader").await;
        let read = Instant::now();
        assert_eq!(reader.query_value("SELECT count(*) FROM item", &[]).await.unwrap().as_deref(), Some("2"));
        let held_up = read.elapsed();
        eprintln!("the reader waited {held_up:?}");
        assert!(held_up < LOCK_TIMEOUT + MARGIN, "a reader waited {held_up:?} behind the migration");
    }

    let out = run.await.unwrap();
    let took = clock.elapsed();
    assert_eq!(out.status.code(), Some(3), "the step failed and the run stopped (on_failure: abort)");
    let attempts = RETRIES + 1;
    assert!(took >= LOCK_TIMEOUT * attempts - Duration::from_millis(100), "{attempts} waits took {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");

    let timeouts = scene.entries("migration.lock_timeout");
    let numbers: Vec<u64> = timeouts.iter().map(|e| e["attempt"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3], "{timeouts:?}");
    for entry in &timeouts {
        assert_eq!(entry["version"], 1);
        assert_eq!(entry["attempts"], attempts);
        assert_eq!(entry["lock_timeout_ms"], 1000);
        assert!(entry["waited_ms"].as_u64().unwrap() >= 900, "{entry}");
        let holders = &entry["holders"];
        match holder_id {
            Some(id) => {
                let pids: Vec<i64> =
                    holders["sessions"].as_array().unwrap().iter().map(|s| s["pid"].as_i64().unwrap()).collect();
                assert!(pids.contains(&id), "the holder {id} is named: {entry}");
                // PostgreSQL names the holder; MariaDB lists the open transactions.
                assert_eq!(holders["certain"], dialect == Dialect::Postgres, "{entry}");
            }
            None => assert!(holders.is_null(), "{entry}"),
        }
    }
    assert!(timeouts[..2].iter().all(|e| e["retry_in_ms"].is_u64()));
    assert!(timeouts[2]["retry_in_ms"].is_null(), "no retry after the last attempt");

    let finished = &scene.entries("step.finished")[0];
    let error = finished["result"]["Err"].as_str().unwrap_or_else(|| panic!("{finished}"));
    assert!(error.contains("gave up after 3 attempts; "), "{error}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(id) = holder_id {
        assert!(error.contains(&named(dialect, id)), "{error}");
        assert!(stdout.contains("1 waits for a lock held by "), "{stdout}");
        assert!(stdout.contains(&named(dialect, id)), "{stdout}");
    }
    assert!(stdout.contains("1 gave up waiting for a lock after 1."), "{stdout}");
    assert!(stdout.contains("s (attempt 3 of 3): no attempts left"), "{stdout}");

    // Nothing left behind (on MariaDB, not even sqlx's success = false mark): once the holder
    // is gone, the same run goes through.
    assert!(applied(&mut scene.db().await).await.unwrap().is_empty());
    assert!(!scene.column_exists().await);
    holder.execute("COMMIT").await.unwrap();
    std::fs::remove_file(scene.log()).unwrap();
    std::fs::remove_file(scene.dir.path().join("audit.jsonl.sig")).unwrap();
    let out = scene.run().await;
    assert_eq!(out.status.code(), Some(0));
    assert!(scene.column_exists().await);
    assert!(scene.entries("migration.lock_timeout").is_empty());
    scene.finish().await;
}

/// The holder commits after the first lock timeout: a retry applies the migration.
async fn released_lock_lets_a_retry_through(dialect: Dialect, test: &str) {
    let Some(scene) = Scene::new(dialect, test, 5).await else {
        return;
    };
    let mut holder = scene.session("holder").await;
    db_common::hold_item(&mut holder).await;
    let run = tokio::spawn(scene.run());
    let deadline = Instant::now() + Duration::from_secs(60);
    while scene.entries("migration.lock_timeout").is_empty() {
        assert!(Instant::now() < deadline, "no lock timeout was journaled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holder.execute("COMMIT").await.unwrap();

    let out = run.await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(scene.column_exists().await);
    let timeouts = scene.entries("migration.lock_timeout");
    assert!(!timeouts.is_empty() && timeouts.len() < 6, "{timeouts:?}");
    assert!(timeouts.iter().all(|e| e["retry_in_ms"].is_u64()), "every timeout was followed by a retry");
    assert_eq!(scene.entries("migration.applied").len(), 1);
    let rows = applied(&mut scene.db().await).await.unwrap();
    assert_eq!(rows.iter().map(|r| (r.version, r.success)).collect::<Vec<_>>(), [(1, true)]);
    scene.finish().await;
}

macro_rules! on_every_database {
    ($($scenario:ident),*) => {
        mod sqlite { use super::*; $(#[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(Dialect::Sqlite, stringify!($scenario)).await } )* }
        mod postgres { use super::*; $(#[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(Dialect::Postgres, concat!("postgres::", stringify!($scenario))).await } )* }
        mod mariadb { use super::*; $(#[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(Dialect::MySql, concat!("mariadb::", stringify!($scenario))).await } )* }
    };
}

on_every_database!(held_lock_fails_the_step_after_its_retries, released_lock_lets_a_retry_through);
