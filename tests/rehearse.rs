//! `runsheet rehearse` as an operator runs it, on SQLite always and on PostgreSQL and MariaDB
//! when their URLs are set: the shipped migrations pass; a non-idempotent up and a down that
//! forgets an index are caught; a runbook rehearsal writes a duration per step; the given
//! database is never touched and the scratch database is gone afterwards.

mod db_common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use runsheet::db::migrations::TABLE;
use runsheet::db::schema::Schema;
use runsheet::db::{Db, DbUrl, Dialect, ScratchDatabase, scratch::server_url_or_skip};
use runsheet::model::load_runbook;
use runsheet::model::rehearsal::Rehearsal;

const ROWS: u64 = 200;

/// On PostgreSQL (trust authentication here, which ignores it) the given URL carries this
/// password: it must appear nowhere.
const SECRET: &str = "Sup3r-Secret_pw";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// The database a rehearsal is given, with the legacy `external_order` data, in a working
/// directory of its own. On a server it is a scratch database of the test, so that the test
/// can tell it was left alone.
struct Given {
    dialect: Dialect,
    url: DbUrl,
    server: Option<String>,
    database: Option<ScratchDatabase>,
    dir: tempfile::TempDir,
}

impl Given {
    async fn new(dialect: Dialect, test: &str) -> Option<Given> {
        let dir = tempfile::tempdir().unwrap();
        let (url, server, database) = match dialect {
            Dialect::Sqlite => {
                (DbUrl::parse(&format!("sqlite:{}", dir.path().join("orders.db").display())).unwrap(), None, None)
            }
            _ => {
                let server = server_url_or_skip(dialect, test)?;
                let database = ScratchDatabase::create(&server, "rs_rehearse_given").await.unwrap();
                let mut url = url::Url::parse(database.url().expose_url()).unwrap();
                if dialect == Dialect::Postgres {
                    url.set_password(Some(SECRET)).unwrap();
                }
                (DbUrl::parse(url.as_str()).unwrap(), Some(server), Some(database))
            }
        };
        let given = Given { dialect, url, server, database, dir };
        let mut db = Db::connect(&given.url).await.unwrap();
        db.execute(&given.legacy_sql()).await.unwrap();
        db.close().await.unwrap();
        std::fs::write(given.dir.path().join("seed.sql"), given.legacy_sql()).unwrap();
        Some(given)
    }

    fn legacy_sql(&self) -> String {
        let mut sql = runsheet::demo::schema_sql(self.dialect.name()).unwrap();
        sql.push_str(";\n");
        for statement in runsheet::demo::insert_statements(ROWS, 100) {
            sql.push_str(&statement);
            sql.push_str(";\n");
        }
        sql
    }

    /// `runsheet rehearse TARGET --database-url URL [--seed seed.sql] EXTRA...`: a server's
    /// scratch database starts empty, so it gets the legacy data as a seed; a SQLite file is copied.
    fn command(&self, target: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_runsheet"));
        command
            .current_dir(self.dir.path())
            .env("RUNSHEET_LOG_DIR", self.dir.path().join("logs"))
            .env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("RUNSHEET_KEY")
            .env_remove("DATABASE_URL")
            .args(["rehearse", target.to_str().unwrap(), "--database-url", self.url.expose_url()]);
        if self.server.is_some() {
            command.args(["--seed", "seed.sql"]);
        }
        command.args(extra);
        command
    }

    fn rehearse(&self, target: &Path, extra: &[&str]) -> Output {
        let output = self.command(target, extra).output().unwrap();
        eprintln!("{}", text(&output));
        assert!(!text(&output).contains(SECRET), "the password shows:\n{}", text(&output));
        output
    }

    /// What the given database holds: its schema and whether sqlx's table appeared.
    async fn state(&self) -> (String, bool, Option<String>) {
        let mut db = Db::connect(&self.url).await.unwrap();
        let schema = Schema::read(&mut db).await.unwrap().text();
        let bookkeeping = db.table_names().await.unwrap().iter().any(|t| t == TABLE);
        let rows = db.query_value("SELECT count(*) FROM external_order", &[]).await.unwrap();
        db.close().await.unwrap();
        (schema, bookkeeping, rows)
    }

    /// The scratch databases a rehearsal's output names are gone.
    async fn assert_scratch_removed(&self, output: &Output) {
        let shown = text(output);
        let places: Vec<&str> = shown
            .lines()
            .filter_map(|l| l.strip_prefix("rehearse: working on "))
            .map(|what| what.rsplit(' ').next().unwrap())
            .collect();
        assert!(!places.is_empty(), "the rehearsal says where it works:\n{shown}");
        for place in places {
            let removed = shown.lines().any(|l| l.starts_with("rehearse: removed ") && l.ends_with(place));
            assert!(removed, "it says it removed {place}:\n{shown}");
            match &self.server {
                None => assert!(!Path::new(place).exists(), "{place} is removed"),
                Some(server) => {
                    let name = place.rsplit('/').next().unwrap();
                    assert!(name.starts_with("rehearse_"), "{name}");
                    assert!(!db_common::database_exists(server, name).await, "{name} is dropped");
                }
            }
        }
    }

    async fn finish(self) {
        if let Some(database) = self.database {
            database.drop_now().await.unwrap();
        }
    }
}

/// A migrations folder of `files` (name, SQL).
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

/// The report's row of a version, split into its cells.
fn row(output: &Output, version: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    stdout.lines().find(|l| l.starts_with(&format!("{version} "))).unwrap_or_else(|| panic!("{stdout}")).to_string()
}

const CREATE_T: (&str, &str) =
    ("1_create_t.up.sql", "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, c INTEGER);\n");
const DROP_T: (&str, &str) = ("1_create_t.down.sql", "DROP TABLE t;\n");

// ---------------------------------------------------------------- the shipped migrations

async fn shipped_migrations_pass(dialect: Dialect, test: &str) {
    let Some(given) = Given::new(dialect, test).await else { return };
    let before = given.state().await;
    let output = given.rehearse(&repo("migrations"), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for version in ["20261128010000", "20261128010100", "20261205010000"] {
        let row = row(&output, version);
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells.iter().filter(|c| **c == "ok").count() + cells.iter().filter(|c| **c == "warning").count(),
            4,
            "{row}"
        );
        assert!(!row.contains("FAILED"), "{row}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&format!("migrations/{}", dialect.name())), "the dialect's folder: {stdout}");
    assert!(stdout.trim_end().ends_with("rehearsal passed"), "{stdout}");
    if dialect != Dialect::Sqlite {
        assert!(!stdout.contains("warning"), "PostgreSQL and MariaDB migrations replay cleanly: {stdout}");
    }
    assert_eq!(given.state().await, before, "the given database is left as it was");
    given.assert_scratch_removed(&output).await;
    given.finish().await;
}

#[tokio::test]
async fn sqlite_shipped_migrations_pass() {
    shipped_migrations_pass(Dialect::Sqlite, "sqlite_shipped_migrations_pass").await;
}

#[tokio::test]
async fn postgres_shipped_migrations_pass() {
    shipped_migrations_pass(Dialect::Postgres, "postgres_shipped_migrations_pass").await;
}

#[tokio::test]
async fn mysql_shipped_migrations_pass() {
    shipped_migrations_pass(Dialect::MySql, "mysql_shipped_migrations_pass").await;
}

// ---------------------------------------------------------------- what is caught

/// `ADD COLUMN` without `IF NOT EXISTS` fails the second time. SQLite has no guard for it and
/// excuses a file that runs in a transaction, so there the file opts out of it.
async fn non_idempotent_up_is_caught(dialect: Dialect, test: &str) {
    let Some(given) = Given::new(dialect, test).await else { return };
    let marker = if dialect == Dialect::Sqlite { "-- no-transaction\n" } else { "" };
    let up = format!("{marker}ALTER TABLE t ADD COLUMN d INTEGER;\n");
    let migrations =
        folder(&[CREATE_T, DROP_T, ("2_add_d.up.sql", &up), ("2_add_d.down.sql", "ALTER TABLE t DROP COLUMN d;\n")]);
    let output = given.rehearse(migrations.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(row(&output, "1").contains("ok"));
    let row = row(&output, "2");
    let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert!(cells[2].starts_with("ok"), "up: {row}");
    assert!(cells[3].starts_with("FAILED"), "idempotent: {row}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("2 idempotent: FAILED"), "{stdout}");
    assert!(stdout.contains("2_add_d.up.sql failed a second time"), "{stdout}");
    assert!(stdout.trim_end().ends_with("rehearsal FAILED"), "{stdout}");
    given.assert_scratch_removed(&output).await;
    given.finish().await;
}

#[tokio::test]
async fn sqlite_non_idempotent_up_is_caught() {
    non_idempotent_up_is_caught(Dialect::Sqlite, "sqlite_non_idempotent_up_is_caught").await;
}

#[tokio::test]
async fn postgres_non_idempotent_up_is_caught() {
    non_idempotent_up_is_caught(Dialect::Postgres, "postgres_non_idempotent_up_is_caught").await;
}

#[tokio::test]
async fn mysql_non_idempotent_up_is_caught() {
    non_idempotent_up_is_caught(Dialect::MySql, "mysql_non_idempotent_up_is_caught").await;
}

#[tokio::test]
async fn sqlite_excuses_a_column_change_that_runs_in_a_transaction() {
    let given = Given::new(Dialect::Sqlite, "sqlite").await.unwrap();
    let migrations = folder(&[
        CREATE_T,
        DROP_T,
        ("2_add_d.up.sql", "ALTER TABLE t ADD COLUMN d INTEGER;\n"),
        ("2_add_d.down.sql", "ALTER TABLE t DROP COLUMN d;\n"),
    ]);
    let output = given.rehearse(migrations.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(row(&output, "2").contains("warning"), "{}", text(&output));
    assert!(text(&output).contains("excused on SQLite"));
}

async fn down_that_forgets_an_index_is_caught(dialect: Dialect, test: &str) {
    let Some(given) = Given::new(dialect, test).await else { return };
    let migrations = folder(&[
        CREATE_T,
        DROP_T,
        ("2_index_c.up.sql", "CREATE INDEX IF NOT EXISTS t_c_idx ON t (c);\n"),
        ("2_index_c.down.sql", "-- forgets to drop t_c_idx\nSELECT 1;\n"),
    ]);
    let output = given.rehearse(migrations.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let row = row(&output, "2");
    let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert!(cells[3].starts_with("ok") && cells[5].starts_with("ok"), "{row}");
    assert!(cells[4].starts_with("FAILED"), "down restores: {row}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let detail: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("2 down restores: FAILED")).collect();
    assert!(detail.get(1).is_some_and(|l| l.contains("differs from before up")), "{stdout}");
    assert!(detail.iter().any(|l| l.contains("left over:") && l.contains("t_c_idx")), "{stdout}");
    given.assert_scratch_removed(&output).await;
    given.finish().await;
}

#[tokio::test]
async fn sqlite_down_that_forgets_an_index_is_caught() {
    down_that_forgets_an_index_is_caught(Dialect::Sqlite, "sqlite_down_that_forgets_an_index_is_caught").await;
}

#[tokio::test]
async fn postgres_down_that_forgets_an_index_is_caught() {
    down_that_forgets_an_index_is_caught(Dialect::Postgres, "postgres_down_that_forgets_an_index_is_caught").await;
}

#[tokio::test]
async fn mysql_down_that_forgets_an_index_is_caught() {
    down_that_forgets_an_index_is_caught(Dialect::MySql, "mysql_down_that_forgets_an_index_is_caught").await;
}

// ---------------------------------------------------------------- a runbook

async fn runbook_rehearsal_records_each_step(dialect: Dialect, test: &str) {
    let Some(given) = Given::new(dialect, test).await else { return };
    let before = given.state().await;
    let runbook_path = repo("runbooks/external-orders-expand.yaml");
    let out = given.dir.path().join("expand.rehearsal.json");
    let output = given.rehearse(
        &runbook_path,
        &["--out", out.to_str().unwrap(), "--audit-dir", "rehearsal-logs", "--key", "key", "--operator", "alice"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("main branch: exit 0 as expected"), "{stdout}");
    assert!(stdout.contains("rollback branch: exit 1 as expected"), "{stdout}");

    let runbook = load_runbook(&runbook_path, &[]).unwrap();
    let rehearsal: Rehearsal = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(rehearsal.content_hash, runbook.content_hash);
    assert_eq!(rehearsal.dialect, dialect.name());
    assert!(rehearsal.passed);
    assert_eq!(rehearsal.migrations.len(), 3, "the whole folder is rehearsed");
    let ids: Vec<&str> = rehearsal.steps.iter().map(|s| s.id.as_str()).collect();
    let expected: Vec<&str> = runbook.steps.iter().chain(&runbook.rollback).map(|s| s.id.as_str()).collect();
    assert_eq!(ids, expected, "every step of both branches, in order");
    assert!(rehearsal.steps.iter().all(|s| s.outcome == "done"), "{:?}", rehearsal.steps);
    let expand = rehearsal.steps.iter().find(|s| s.id == "expand").unwrap();
    assert!(expand.duration_ms > 0, "applying two migrations takes time: {expand:?}");
    for line in stdout.lines().filter(|l| ids.iter().any(|id| l.starts_with(&format!("{id} ")))) {
        assert!(line.trim_end().ends_with(" ms"), "each step's duration is shown: {line}");
    }

    // The runs' audit logs are signed and sealed like any run's.
    assert_eq!(rehearsal.audit_logs.len(), 2);
    assert!(!std::fs::read_to_string(&out).unwrap().contains(SECRET));
    for log in &rehearsal.audit_logs {
        let log = given.dir.path().join(log);
        assert!(!std::fs::read_to_string(&log).unwrap().contains(SECRET), "{}", log.display());
        assert!(log.starts_with(given.dir.path().join("rehearsal-logs")), "{}", log.display());
        let verify = Command::new(env!("CARGO_BIN_EXE_runsheet"))
            .args(["audit", "verify", log.to_str().unwrap(), "--pubkey"])
            .arg(given.dir.path().join("key.pub"))
            .output()
            .unwrap();
        assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    }
    assert_eq!(given.state().await, before, "the given database is left as it was");
    given.assert_scratch_removed(&output).await;
    given.finish().await;
}

#[tokio::test]
async fn sqlite_runbook_rehearsal_records_each_step() {
    runbook_rehearsal_records_each_step(Dialect::Sqlite, "sqlite_runbook_rehearsal_records_each_step").await;
}

#[tokio::test]
async fn postgres_runbook_rehearsal_records_each_step() {
    runbook_rehearsal_records_each_step(Dialect::Postgres, "postgres_runbook_rehearsal_records_each_step").await;
}

#[tokio::test]
async fn mysql_runbook_rehearsal_records_each_step() {
    runbook_rehearsal_records_each_step(Dialect::MySql, "mysql_runbook_rehearsal_records_each_step").await;
}

#[tokio::test]
async fn a_runbook_whose_checks_fail_fails_the_rehearsal() {
    let given = Given::new(Dialect::Sqlite, "sqlite").await.unwrap();
    let mut db = Db::connect(&given.url).await.unwrap();
    // Two spellings of one reference: the first pre-check fails and the run rolls back.
    db.execute(&runsheet::demo::collision_sql(ROWS)).await.unwrap();
    db.close().await.unwrap();
    let out = given.dir.path().join("r.json");
    let output = given
        .rehearse(&repo("runbooks/external-orders-expand.yaml"), &["--out", out.to_str().unwrap(), "--key", "key"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("main branch: exit 1, expected 0: FAILED"), "{stdout}");
    let rehearsal: Rehearsal = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(!rehearsal.passed);
    let check = rehearsal.steps.iter().find(|s| s.id == "no-ref-collisions").unwrap();
    assert_eq!(check.outcome, "failed");
    assert!(given.dir.path().join("audit/rehearsals").is_dir(), "default audit log folder");
}

#[tokio::test]
async fn sqlite_rehearses_only_what_the_given_file_has_not_applied() {
    let given = Given::new(Dialect::Sqlite, "sqlite").await.unwrap();
    let migrations = folder(&[
        CREATE_T,
        DROP_T,
        ("2_index_c.up.sql", "CREATE INDEX IF NOT EXISTS t_c_idx ON t (c);\n"),
        ("2_index_c.down.sql", "DROP INDEX t_c_idx;\n"),
    ]);
    let set = runsheet::model::MigrationSet::load(migrations.path()).unwrap();
    let mut db = Db::connect(&given.url).await.unwrap();
    runsheet::db::migrations::apply_one(&mut db, &set.migrations[0]).await.unwrap();
    db.close().await.unwrap();
    let before = given.state().await;

    let output = given.rehearse(migrations.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(": 1 to rehearse, 1 applied before"), "{stdout}");
    assert!(!stdout.lines().any(|l| l.starts_with("1 ")), "version 1 is applied already: {stdout}");
    assert!(row(&output, "2").contains("ok"));
    assert_eq!(given.state().await, before);

    // An applied file that changed since: nothing is rehearsed on top of it.
    std::fs::write(migrations.path().join(CREATE_T.0), "CREATE TABLE t (id INTEGER PRIMARY KEY);\n").unwrap();
    let output = given.rehearse(migrations.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("cannot rehearse: migration 1:"), "{}", text(&output));
    assert!(text(&output).contains("was changed after it was applied"), "{}", text(&output));
}

/// Ctrl-C while a migration runs: exit 130, and the scratch database is removed all the same.
async fn ctrl_c_removes_the_scratch_database(dialect: Dialect, test: &str) {
    let Some(given) = Given::new(dialect, test).await else { return };
    let slow = match dialect {
        Dialect::Postgres => "SELECT pg_sleep(60);\n",
        Dialect::MySql => "SELECT SLEEP(60);\n",
        Dialect::Sqlite => {
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000000000) \
             SELECT count(*) FROM n;\n"
        }
    };
    let migrations = folder(&[("1_slow.up.sql", slow), ("1_slow.down.sql", "SELECT 1;\n")]);
    let mut child =
        given.command(migrations.path(), &[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut shown = String::new();
    while !shown.contains("rehearse: working on ") {
        assert!(stderr.read_line(&mut shown).unwrap() > 0, "ended before it started: {shown}");
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    stderr.read_to_string(&mut shown).unwrap();
    let output = Output { stderr: shown.into_bytes(), ..child.wait_with_output().unwrap() };
    eprintln!("{}", text(&output));
    assert_eq!(output.status.code(), Some(130), "{}", text(&output));
    assert!(text(&output).contains("rehearse: interrupted"), "{}", text(&output));
    given.assert_scratch_removed(&output).await;
    given.finish().await;
}

#[tokio::test]
async fn sqlite_ctrl_c_removes_the_scratch_database() {
    ctrl_c_removes_the_scratch_database(Dialect::Sqlite, "sqlite_ctrl_c_removes_the_scratch_database").await;
}

#[tokio::test]
async fn postgres_ctrl_c_removes_the_scratch_database() {
    ctrl_c_removes_the_scratch_database(Dialect::Postgres, "postgres_ctrl_c_removes_the_scratch_database").await;
}

#[tokio::test]
async fn mysql_ctrl_c_removes_the_scratch_database() {
    ctrl_c_removes_the_scratch_database(Dialect::MySql, "mysql_ctrl_c_removes_the_scratch_database").await;
}

// ---------------------------------------------------------------- bad input

#[tokio::test]
async fn bad_input_exits_2_and_creates_nothing() {
    let given = Given::new(Dialect::Sqlite, "sqlite").await.unwrap();
    let per_dialect = tempfile::tempdir().unwrap();
    std::fs::create_dir(per_dialect.path().join("postgres")).unwrap();
    let broken = folder(&[("1_half.up.sql", "SELECT 1;\n")]);
    for (target, extra, says) in [
        (given.dir.path().join("nothing-here"), vec![], "no such runbook or migrations folder".to_string()),
        (per_dialect.path().to_path_buf(), vec![], "no `sqlite` folder".into()),
        (broken.path().to_path_buf(), vec![], "up migration without its down file".into()),
        (repo("migrations"), vec!["--seed", "no-such.sql"], "--seed no-such.sql".into()),
    ] {
        let output = given.rehearse(&target, &extra);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains(&says), "{}", text(&output));
        assert!(!text(&output).contains("working on"), "nothing created: {}", text(&output));
    }
}
