//! `db` on real SQLite files: values, parameters, the run lock, migrations against sqlx's own.

mod db_common;

use runsheet::db::migrations;
use runsheet::db::{Db, DbError, DbUrl, RunLock};
use runsheet::model::MigrationSet;
use sqlx::migrate::Migrator;

fn file_url(dir: &tempfile::TempDir, name: &str) -> DbUrl {
    DbUrl::parse(&format!("sqlite:{}", dir.path().join(name).display())).unwrap()
}

#[tokio::test]
async fn connect_creates_a_missing_file_and_names_the_path_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir, "new.db");
    Db::connect(&url).await.unwrap().close().await.unwrap();
    assert!(dir.path().join("new.db").exists());

    let nowhere = file_url(&dir, "no/such/dir/x.db");
    let err = Db::connect(&nowhere).await.err().unwrap();
    assert!(matches!(err, DbError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("cannot connect to {}", dir.path().join("no/such/dir/x.db").display()))
    );
}

#[tokio::test]
async fn read_only_creates_no_file_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir, "absent.db");
    assert!(Db::connect_read_only(&url).await.is_err());
    assert!(!dir.path().join("absent.db").exists(), "a read-only connection creates no file");
    Db::connect(&url).await.unwrap().close().await.unwrap();
    db_common::read_only_changes_nothing(&url).await;
}

#[tokio::test]
async fn values_render_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir, "values.db");
    db_common::common_values(&url).await;

    let mut db = Db::connect(&url).await.unwrap();
    db.execute(
        "CREATE TABLE flag (id INTEGER PRIMARY KEY, enabled BOOLEAN, seen DATETIME);\n\
                INSERT INTO flag VALUES (1, 1, '2026-11-28 01:00:00'), (2, 0, NULL);",
    )
    .await
    .unwrap();
    for (sql, expected) in [
        ("SELECT enabled FROM flag WHERE id = 1", Some("true")),
        ("SELECT enabled FROM flag WHERE id = 2", Some("false")),
        ("SELECT seen FROM flag WHERE id = 1", Some("2026-11-28 01:00:00")),
        ("SELECT seen FROM flag WHERE id = 2", None),
        ("SELECT 1.5", Some("1.5")),
        ("SELECT 1 = 1", Some("1")),
        ("SELECT x'DEADBEEF'", Some("deadbeef")),
        ("SELECT sum(price) FROM item", Some("2.35")),
    ] {
        assert_eq!(db.query_value(sql, &[]).await.unwrap().as_deref(), expected, "{sql}");
    }
}

#[tokio::test]
async fn migrations_match_sqlx_and_revert_to_an_empty_schema() {
    let dir = tempfile::tempdir().unwrap();
    db_common::migrations_match_sqlx(&file_url(&dir, "ours.db"), &file_url(&dir, "sqlx.db")).await;
}

#[tokio::test]
async fn schema_fingerprint_names_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    db_common::schema_fingerprint(&file_url(&dir, "schema.db")).await;
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    db_common::failing_migration(&file_url(&dir, "failing.db")).await;
}

#[tokio::test]
async fn sqlx_builds_the_same_migrations_from_the_folder() {
    let dir = db_common::write_folder(db_common::MIGRATIONS);
    let set = MigrationSet::load(dir.path()).unwrap();
    let resolved = Migrator::new(dir.path()).await.unwrap();
    let ours: Vec<_> =
        set.migrations.iter().flat_map(|f| [migrations::to_sqlx(f, false), migrations::to_sqlx(f, true)]).collect();
    let theirs: Vec<_> = resolved.iter().collect();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        let describe = |m: &sqlx::migrate::Migration| {
            (
                m.version,
                m.description.to_string(),
                m.migration_type,
                m.sql.as_str().to_string(),
                m.checksum.to_vec(),
                m.no_tx,
            )
        };
        assert_eq!(describe(a), describe(b));
    }
    assert!(ours.iter().any(|m| m.no_tx), "the folder exercises -- no-transaction");
}

#[tokio::test]
async fn run_lock_is_an_exclusive_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir, "locked.db");
    db_common::lock_excludes(&url).await;
    assert!(dir.path().join("locked.db.runsheet.lock").exists());

    let lock = RunLock::try_acquire(&url).await.unwrap().unwrap();
    assert!(lock.describe().ends_with("locked.db.runsheet.lock"), "{}", lock.describe());
}

#[tokio::test]
async fn in_memory_database_needs_no_lock() {
    let url = DbUrl::parse("sqlite::memory:").unwrap();
    let mut db = Db::connect(&url).await.unwrap();
    assert_eq!(db.query_value("SELECT 40 + 2", &[]).await.unwrap().as_deref(), Some("42"));
    let first = RunLock::try_acquire(&url).await.unwrap();
    assert!(first.is_some() && RunLock::try_acquire(&url).await.unwrap().is_some());
}

#[tokio::test]
async fn lock_timeout_leaves_migrations_clean() {
    let dir = tempfile::tempdir().unwrap();
    db_common::lock_timeout_leaves_migrations_clean(&file_url(&dir, "locks.db")).await;
}
