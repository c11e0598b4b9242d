//! The migration safety net through the real binary: `runsheet status`, a run refused when an
//! applied migration's file changed, and a migration left half-applied by MariaDB.

mod cli_common;

use std::path::Path;

use cli_common::{run_yes, runsheet, sqlite_url, text, write_files};
use runsheet::db::migrations::{self, AppliedRow};
use runsheet::db::scratch::server_url_or_skip;
use runsheet::db::{Db, DbUrl, Dialect, ScratchDatabase};

/// Applies every migration of `migrations/`, after a command step that counts the runs.
const RUNBOOK: &str = "name: m\ntitle: M\nmigrations: migrations\nsteps:\n  - id: count\n    title: Count\n    \
                       command: echo ran >> runs\n  - id: up\n    title: Up\n    migrate: {}\n";

fn migration(version: i64, table: &str) -> [(String, String); 2] {
    [
        (format!("{version}_{table}.up.sql"), format!("CREATE TABLE {table} (id INTEGER);\n")),
        (format!("{version}_{table}.down.sql"), format!("DROP TABLE {table};\n")),
    ]
}

fn add_migration(dir: &Path, version: i64, table: &str) {
    for (name, sql) in migration(version, table) {
        write_files(&dir.join("migrations"), &[(&name, &sql)]);
    }
}

fn status(dir: &Path, url: &str) -> (Option<i32>, String) {
    let out = runsheet(dir, &["status", "--database-url", url]);
    (out.status.code(), text(&out))
}

/// The status line of a version: its cells split on blanks (`1 one applied 2026-… UTC note…`).
fn line_of(shown: &str, version: i64) -> Vec<String> {
    let prefix = format!("{version} ");
    let line = shown.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no line {version}: {shown}"));
    line.split_whitespace().map(str::to_string).collect()
}

async fn rows(url: &str) -> Vec<AppliedRow> {
    let mut db = Db::connect_read_only(&DbUrl::parse(url).unwrap()).await.unwrap();
    let rows = migrations::read_applied(&mut db).await.unwrap();
    db.close().await.unwrap();
    rows
}

/// Pending, applied, out of order, drift and a missing file, each with its exit code; status
/// itself changes nothing (not even `_sqlx_migrations` is created).
async fn status_reports_every_state(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    add_migration(dir, 1, "one");
    add_migration(dir, 3, "three");
    std::fs::write(dir.join("rb.yaml"), RUNBOOK).unwrap();
    if let Some(path) = DbUrl::parse(url).unwrap().sqlite_path() {
        Db::connect(&DbUrl::parse(url).unwrap()).await.unwrap().close().await.unwrap();
        assert!(path.exists());
    }

    let (code, shown) = status(dir, url);
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(line_of(&shown, 1)[..3], ["1", "one", "pending"]);
    assert!(shown.contains("2 pending; nothing needs attention"), "{shown}");
    let mut db = Db::connect(&DbUrl::parse(url).unwrap()).await.unwrap();
    assert!(!db.has_table(migrations::TABLE).await.unwrap(), "status created nothing");
    db.close().await.unwrap();

    assert_eq!(run_yes(dir, &dir.join("rb.yaml"), url, &[]).status.code(), Some(0));
    let (code, shown) = status(dir, url);
    assert_eq!(code, Some(0), "{shown}");
    assert_eq!(line_of(&shown, 3)[..3], ["3", "three", "applied"]);
    assert!(line_of(&shown, 3)[3].starts_with("20"), "installed on: {shown}");
    assert!(shown.contains("2 applied; nothing needs attention"), "{shown}");

    // A branch merged a migration older than one already applied.
    add_migration(dir, 2, "two");
    let (code, shown) = status(dir, url);
    assert_eq!(code, Some(1), "{shown}");
    assert_eq!(line_of(&shown, 2)[..3], ["2", "two", "out-of-order"]);
    assert!(shown.contains("pending but older than applied 3"), "{shown}");

    // Someone edited an applied file, and deleted another.
    std::fs::write(dir.join("migrations/3_three.up.sql"), "CREATE TABLE three (id INTEGER, n INTEGER);\n").unwrap();
    std::fs::remove_file(dir.join("migrations/1_one.up.sql")).unwrap();
    std::fs::remove_file(dir.join("migrations/1_one.down.sql")).unwrap();
    let before = rows(url).await;
    let (code, shown) = status(dir, url);
    assert_eq!(code, Some(1), "{shown}");
    assert_eq!(line_of(&shown, 3)[..3], ["3", "three", "drift"]);
    assert!(shown.contains("migrations/3_three.up.sql changed after it was applied"), "{shown}");
    assert_eq!(line_of(&shown, 1)[..3], ["1", "one", "missing-file"]);
    assert!(shown.contains("needs attention: 1 drift, 1 out-of-order, 1 missing-file"), "{shown}");
    assert_eq!(rows(url).await, before, "status changed nothing");

    let out = runsheet(dir, &["status", "--database-url", url, "--migrations", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nowhere: cannot read migrations folder"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    status_reports_every_state(&sqlite_url(dir.path())).await;
}

async fn on_server(dialect: Dialect, test: &str, scenario: impl AsyncFnOnce(&str)) {
    let Some(server) = server_url_or_skip(dialect, test) else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, "rs_safety").await.unwrap();
    scenario(scratch.url().expose_url()).await;
    scratch.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn status_on_postgres() {
    on_server(Dialect::Postgres, "status_on_postgres", status_reports_every_state).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_on_mariadb() {
    on_server(Dialect::MySql, "status_on_mariadb", status_reports_every_state).await;
}

#[test]
fn status_input_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out = runsheet(dir, &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no database: give --database-url"), "{}", text(&out));
    let out = runsheet(dir, &["status", "--database-url", "oracle://db/x"]);
    assert_eq!(out.status.code(), Some(2));
    let url = sqlite_url(dir);
    let out = runsheet(dir, &["status", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no SQLite database at"), "{}", text(&out));
    assert!(!dir.join("orders.db").exists(), "status created no database");
}

/// `--runbook` takes the runbook's folder for the URL's dialect; so does a per-dialect
/// `./migrations` when neither is given.
#[tokio::test(flavor = "multi_thread")]
async fn status_finds_the_dialects_folder() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let url = sqlite_url(dir);
    Db::connect(&DbUrl::parse(&url).unwrap()).await.unwrap().close().await.unwrap();
    for dialect in ["postgres", "mysql", "sqlite"] {
        write_files(&dir.join("migrations").join(dialect), &[("7_seven.up.sql", dialect), ("7_seven.down.sql", "")]);
    }
    std::fs::write(
        dir.join("rb.yaml"),
        "name: d\ntitle: D\nmigrations:\n  sqlite: migrations/sqlite\n  postgres: migrations/postgres\n  \
         mysql: migrations/mysql\nsteps:\n  - id: up\n    title: Up\n    migrate: {}\n",
    )
    .unwrap();
    for args in [vec!["status", "--database-url", &url], vec!["status", "--database-url", &url, "--runbook", "rb.yaml"]]
    {
        let out = runsheet(dir, &args);
        assert_eq!(out.status.code(), Some(0));
        let shown = text(&out);
        assert!(shown.contains("migrations migrations/sqlite"), "{shown}");
        assert_eq!(line_of(&shown, 7)[..3], ["7", "seven", "pending"]);
    }
}

/// An applied migration's file changed: `run` and `rollback` refuse before anything runs
/// (exit 2, the file named), write no audit log, and leave the database as it was.
#[tokio::test(flavor = "multi_thread")]
async fn drift_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let url = sqlite_url(dir);
    add_migration(dir, 1, "one");
    let runbook = dir.join("rb.yaml");
    std::fs::write(&runbook, format!("{RUNBOOK}rollback:\n  - id: down\n    title: Down\n    revert: {{ to: 0 }}\n"))
        .unwrap();
    assert_eq!(run_yes(dir, &runbook, &url, &[]).status.code(), Some(0));
    add_migration(dir, 2, "two");
    std::fs::write(dir.join("migrations/1_one.up.sql"), "CREATE TABLE one (id INTEGER, changed INTEGER);\n").unwrap();
    let before = rows(&url).await;

    for command in ["run", "rollback"] {
        let log = dir.join(format!("{command}.jsonl"));
        let args = ["--headless", "--yes", "--database-url", &url, "--audit-log", log.to_str().unwrap()];
        let out = runsheet(dir, &[&[command, runbook.to_str().unwrap()], &args[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{command}");
        let shown = text(&out);
        assert!(shown.contains("refused: migration 1: "), "{shown}");
        assert!(shown.contains("/migrations/1_one.up.sql was changed after it was applied"), "{shown}");
        assert!(shown.contains("nothing was executed"), "{shown}");
        assert!(!log.exists(), "{command}: no audit log for a run that never started");
    }
    assert_eq!(std::fs::read_to_string(dir.join("runs")).unwrap(), "ran\n", "no step ran after the first run");
    assert_eq!(rows(&url).await, before, "migration 2 not applied, 1 not reverted");

    // Restored as it was applied, the run goes on.
    add_migration(dir, 1, "one");
    assert_eq!(run_yes(dir, &runbook, &url, &[]).status.code(), Some(0));
    assert_eq!(rows(&url).await.len(), 2);
}

/// Past its step's `timeout`, a migrate step starts no further migration; the one it was
/// applying finishes (its statements are bounded by `statement_timeout`).
#[tokio::test]
async fn a_migrate_step_past_its_timeout_starts_no_further_migration() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let url = sqlite_url(dir);
    // The first migration counts to a million: far longer than the step's 10 ms.
    let slow = "CREATE TABLE slow AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
                SELECT count(*) AS c FROM n;\n";
    write_files(&dir.join("migrations"), &[("1_slow.up.sql", slow), ("1_slow.down.sql", "DROP TABLE slow;\n")]);
    add_migration(dir, 2, "two");
    let runbook = dir.join("rb.yaml");
    let yaml = "name: m\ntitle: M\nmigrations: migrations\non_failure: abort\nsteps:\n  - id: up\n    title: Up\n    \
                migrate: {}\n    timeout: 10ms\n";
    std::fs::write(&runbook, yaml).unwrap();
    let out = run_yes(dir, &runbook, &url, &[]);
    assert_eq!(out.status.code(), Some(3));
    let shown = text(&out);
    let expected = "2 could not be applied: the step ran longer than its timeout, 10ms, so it was not started \
                    (applied before it in this step: 1)";
    assert!(shown.contains(expected), "{shown}");
    assert_eq!(rows(&url).await.iter().map(|r| r.version).collect::<Vec<_>>(), [1]);
}

/// MariaDB commits DDL at once: a migration whose second statement fails leaves its first one
/// applied and its row `success = false`. The failure says so, the rollback branch is offered and taken,
/// a revert refuses the dirty version and says how to repair; `status` reports it; once a
/// person repaired it, the rollback goes through.
#[tokio::test(flavor = "multi_thread")]
async fn a_half_applied_migration_on_mariadb_is_explained_and_rolled_back() {
    on_server(Dialect::MySql, "a_half_applied_migration_on_mariadb_is_explained_and_rolled_back", half_applied).await;
}

async fn half_applied(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    add_migration(dir, 1, "one");
    write_files(
        &dir.join("migrations"),
        &[
            (
                "2_two.up.sql",
                "CREATE TABLE two (id INTEGER);\n\
                 -- runsheet: allow data-change-in-schema-migration because it must fail half-way\n\
                 INSERT INTO nowhere VALUES (1);\nCREATE TABLE three (id INTEGER);\n",
            ),
            ("2_two.down.sql", "DROP TABLE three;\nDROP TABLE two;\n"),
        ],
    );
    let runbook = dir.join("rb.yaml");
    std::fs::write(
        &runbook,
        "name: half\ntitle: Half\nmigrations: migrations\nsteps:\n  - id: up\n    title: Up\n    migrate: {}\n\
         rollback:\n  - id: tell\n    title: Tell\n    manual: Tell the DBA.\n  - id: down\n    title: Down\n    \
         revert: { to: 0 }\n    on_failure: abort\n",
    )
    .unwrap();
    let out = run_yes(dir, &runbook, url, &[]);
    assert_eq!(out.status.code(), Some(3), "the revert in the rollback branch is refused");
    let shown = text(&out);
    for expected in [
        "up FAILED: 2 could not be applied: migration 2 is half-applied: ",
        "failed at statement 2 of 3 (`INSERT INTO nowhere VALUES (1)`)",
        "stays applied: 1. `CREATE TABLE two (id INTEGER)`; not run: 3. `CREATE TABLE three (id INTEGER)`",
        "(applied before it in this step: 1)",
        // `on_failure: ask` offers the rollback branch; --yes takes it
        "choices: retry, skip, rollback, abort",
        "ROLLBACK",
        "tell done",
        "down FAILED: migration 2 is half-applied (success = false",
        "DELETE FROM _sqlx_migrations WHERE version = 2",
        // the closing line quotes the reason as written: SQL keeps its case
        "finished: stopped (step `down` failed: migration 2 is half-applied (success = false in _sqlx_migrations",
    ] {
        assert!(shown.contains(expected), "missing `{expected}` in:\n{shown}");
    }
    let (code, shown) = status(dir, url);
    assert_eq!(code, Some(1), "{shown}");
    assert_eq!(line_of(&shown, 2)[..3], ["2", "two", "dirty"]);
    assert!(shown.contains("needs attention: 1 dirty"), "{shown}");

    // The repair the message describes: undo what stayed, forget the row.
    let mut db = Db::connect(&DbUrl::parse(url).unwrap()).await.unwrap();
    db.execute("DROP TABLE two; DELETE FROM _sqlx_migrations WHERE version = 2").await.unwrap();
    db.close().await.unwrap();
    let log = dir.join("rollback.jsonl");
    let args = ["--headless", "--yes", "--database-url", url, "--audit-log", log.to_str().unwrap()];
    let out = runsheet(dir, &[&["rollback", runbook.to_str().unwrap()], &args[..]].concat());
    assert_eq!(out.status.code(), Some(1), "the rollback completed");
    assert!(text(&out).contains("reverted 1 one"), "{}", text(&out));
    let (code, shown) = status(dir, url);
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("2 pending; nothing needs attention"), "{shown}");
}
