//! `runsheet lint` as a user meets it: findings with file:line:col and rule, exit codes, the
//! database check on real SQLite and PostgreSQL, and the linter inside `validate` and `run`.

mod cli_common;

use std::path::Path;

use cli_common::{repo, runsheet, text};
use runsheet::db::migrations::{TABLE, apply_one};
use runsheet::db::{Db, DbUrl, Dialect, ScratchDatabase, scratch::server_url_or_skip};
use runsheet::model::MigrationSet;

fn write(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, sql) in files {
        std::fs::write(dir.join(name), sql).unwrap();
    }
}

#[test]
fn lint_names_file_line_rule_and_fix_and_exits_1_on_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo("tests/fixtures/lint/postgres");
    let out = runsheet(dir.path(), &["lint", fixture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    let at = |file: &str| format!("{}/{file}", fixture.display());
    assert!(shown.contains(&format!("{}: 4 migrations, read as postgres\n", fixture.display())), "{shown}");
    for expected in [
        format!(
            "error: {}:4:1: index-not-concurrent: CREATE INDEX on `orders` without CONCURRENTLY",
            at("20270102000000_index_ref.up.sql")
        ),
        "  fix: PostgreSQL: CREATE INDEX CONCURRENTLY, alone in a file".to_string(),
        format!(
            "allowed: {}:3:1: data-change-in-schema-migration: INSERT into `currency`",
            at("20270103000000_currencies.up.sql")
        ),
        "  allowed: the three currencies the new code needs\n".to_string(),
        format!(
            "error: {}:2:1: destructive-outside-contract: column `legacy` of `orders` dropped",
            at("20270104000000_drop_legacy.up.sql")
        ),
        format!("error: {}: missing-down: up migration without its down file", at("20270105000000_no_down.up.sql")),
        "3 errors, 0 warnings, 1 allowed\n".to_string(),
    ] {
        assert!(shown.contains(&expected), "missing `{expected}` in:\n{shown}");
    }
    assert!(!shown.contains("20270101000000_create_orders"), "an index on a table the file creates is fine: {shown}");
}

#[test]
fn the_dialect_comes_from_the_option_before_the_folder_name() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo("tests/fixtures/lint/postgres");
    let out = runsheet(dir.path(), &["lint", fixture.to_str().unwrap(), "--dialect", "sqlite"]);
    assert_eq!(out.status.code(), Some(1), "the drop and the missing down file stay errors");
    let shown = text(&out);
    assert!(shown.contains("read as sqlite"), "{shown}");
    assert!(!shown.contains("index-not-concurrent"), "PostgreSQL only: {shown}");

    let plain = dir.path().join("migrations");
    write(&plain, &[("1_a.up.sql", "CREATE INDEX i ON orders (ref);"), ("1_a.down.sql", "DROP INDEX i;")]);
    let out = runsheet(dir.path(), &["lint", "migrations"]);
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out);
    assert!(shown.contains("read as generic SQL (PostgreSQL-only rules not checked: give --dialect)"), "{shown}");
    assert!(shown.contains("0 errors, 0 warnings, 0 allowed"), "{shown}");
    let out = runsheet(dir.path(), &["lint", "migrations", "--dialect", "postgres"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("migrations/1_a.up.sql:1:1: index-not-concurrent"));
}

#[test]
fn the_shipped_migrations_pass_and_a_missing_folder_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    for dialect in ["postgres", "mysql", "sqlite"] {
        let folder = repo("migrations").join(dialect);
        let out = runsheet(dir.path(), &["lint", folder.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{dialect}");
        assert!(text(&out).contains("0 errors, 0 warnings, 0 allowed"), "{dialect}");
    }
    let out = runsheet(dir.path(), &["lint", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("nowhere: cannot read migrations folder"));
}

/// A folder of three migrations where 1 and 3 are applied: 2 came from a branch merged late.
async fn older_than_applied(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("migrations");
    write(
        &folder,
        &[
            ("1_a.up.sql", "CREATE TABLE a (id INT);"),
            ("1_a.down.sql", "DROP TABLE a;"),
            ("2_b.up.sql", "CREATE TABLE b (id INT);"),
            ("2_b.down.sql", "DROP TABLE b;"),
            ("3_c.up.sql", "CREATE TABLE c (id INT);"),
            ("3_c.down.sql", "DROP TABLE c;"),
        ],
    );
    let lint = || runsheet(dir.path(), &["lint", "migrations", "--database-url", url]);
    let before = lint();
    assert_eq!(before.status.code(), Some(0), "nothing applied, nothing out of order");
    let mut db = Db::connect(&DbUrl::parse(url).unwrap()).await.unwrap();
    assert!(!db.table_names().await.unwrap().contains(&TABLE.to_string()), "lint only reads");

    let set = MigrationSet::load(&folder).unwrap();
    for version in [1, 3] {
        apply_one(&mut db, set.get(version).unwrap()).await.unwrap();
    }
    let out = lint();
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out);
    assert!(
        shown.contains("error: migrations/2_b.up.sql: older-than-applied: version 2 is pending but 3, a newer one, is already applied"),
        "{shown}"
    );

    // Once checked, the author says why it may run late.
    let allowed = "-- runsheet: allow older-than-applied because b is independent of c\nCREATE TABLE b (id INT);";
    std::fs::write(folder.join("2_b.up.sql"), allowed).unwrap();
    let out = lint();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("allowed: b is independent of c"));
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn older_than_applied_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    older_than_applied(&format!("sqlite:{}", dir.path().join("app.db").display())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn older_than_applied_on_postgres() {
    let Some(server) = server_url_or_skip(Dialect::Postgres, "older_than_applied_on_postgres") else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, "rs_lint").await.unwrap();
    older_than_applied(scratch.url().expose_url()).await;
    scratch.drop_now().await.unwrap();
}

const RUNBOOK: &str = "name: idx\ntitle: Index\nmigrations: { postgres: m/postgres, sqlite: m/sqlite }\n\
                       steps:\n  - id: touch\n    title: Touch\n    command: touch ran\n  \
                       - id: up\n    title: Up\n    migrate: {}\n";

#[test]
fn validate_fails_on_a_lint_error_and_run_refuses_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("m/postgres"),
        &[("1_idx.up.sql", "-- the index\nCREATE INDEX i ON orders (ref);\n"), ("1_idx.down.sql", "DROP INDEX i;")],
    );
    write(
        &dir.path().join("m/sqlite"),
        &[("1_idx.up.sql", "CREATE INDEX i ON orders (ref);\n"), ("1_idx.down.sql", "DROP INDEX i;")],
    );
    std::fs::write(dir.path().join("rb.yaml"), RUNBOOK).unwrap();
    let out = runsheet(dir.path(), &["validate", "rb.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let shown = text(&out);
    assert!(shown.contains("error: m/postgres/1_idx.up.sql:2:1: index-not-concurrent: "), "{shown}");
    assert!(!shown.contains("m/sqlite/1_idx.up.sql"), "no such rule on SQLite: {shown}");
    assert!(!shown.contains("ok: rb.yaml"), "{shown}");

    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let out = runsheet(dir.path(), &["run", "rb.yaml", "--headless", "--yes", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("m/postgres/1_idx.up.sql:2:1: index-not-concurrent"));
    assert!(!dir.path().join("ran").exists(), "nothing executed");
    assert!(!dir.path().join("audit").exists(), "no audit log");
}

#[test]
fn a_warning_is_shown_by_validate_and_does_not_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let unreadable = "CREATE INDEX i ON orders (ref);\nFROBNICATE orders;\n";
    write(&dir.path().join("m/postgres"), &[("1_idx.up.sql", "SELECT 1;"), ("1_idx.down.sql", "SELECT 1;")]);
    write(&dir.path().join("m/sqlite"), &[("1_idx.up.sql", unreadable), ("1_idx.down.sql", "DROP INDEX i;")]);
    std::fs::write(dir.path().join("rb.yaml"), RUNBOOK).unwrap();
    let out = runsheet(dir.path(), &["validate", "rb.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let shown = text(&out);
    assert!(shown.contains("warning: m/sqlite/1_idx.up.sql:2:1: unparsed-statement: "), "{shown}");
    assert!(shown.contains("ok: rb.yaml"), "{shown}");
}

/// The reason an author gave for an allowed finding is in the audit entry of the migration.
#[test]
fn the_audit_log_records_the_allowed_findings_of_an_applied_migration() {
    let dir = tempfile::tempdir().unwrap();
    let up = "-- runsheet: allow data-change-in-schema-migration because one seed row the new code reads\n\
              CREATE TABLE flag (id INT);\nINSERT INTO flag VALUES (1);\n";
    write(
        &dir.path().join("migrations"),
        &[
            ("1_flag.up.sql", up),
            ("1_flag.down.sql", "DROP TABLE flag;"),
            ("2_t.up.sql", "CREATE TABLE t (id INT);"),
            ("2_t.down.sql", "DROP TABLE t;"),
        ],
    );
    let runbook =
        "name: flag\ntitle: Flag\nmigrations: migrations\nsteps:\n  - id: up\n    title: Up\n    migrate: {}\n";
    std::fs::write(dir.path().join("rb.yaml"), runbook).unwrap();
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let log = dir.path().join("audit.jsonl");
    let args = ["run", "rb.yaml", "--headless", "--yes", "--database-url", &url, "--audit-log", log.to_str().unwrap()];
    let out = runsheet(dir.path(), &args);
    assert_eq!(out.status.code(), Some(0));
    let applying: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "migration.applying")
        .collect();
    assert_eq!(applying.len(), 2);
    assert_eq!(applying[0]["version"], 1);
    assert_eq!(
        applying[0]["allowed"],
        serde_json::json!([{ "rule": "data-change-in-schema-migration", "reason": "one seed row the new code reads" }])
    );
    assert!(applying[1].get("allowed").is_none(), "nothing allowed in 2: {}", applying[1]);
}
