//! Scenarios shared by the SQLite and the server tests of `db`: the same assertions on every
//! dialect, against real databases.

// Each test file uses the scenarios its databases support.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use runsheet::db::migrations::{self, AppliedRow};
use runsheet::db::schema::Schema;
use runsheet::db::{Db, DbError, DbUrl, Dialect, RunLock};
use runsheet::model::MigrationSet;
use sha2::{Digest, Sha384};
use sqlx::Connection;
use sqlx::migrate::Migrator;

/// A small reversible migrations folder whose SQL runs on all three dialects; the last one
/// opts out of the transaction as sqlx allows.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "20261101000000_create_customer.up.sql",
        "CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n",
    ),
    ("20261101000000_create_customer.down.sql", "DROP TABLE customer;\n"),
    (
        "20261102000000_add_customer_email.up.sql",
        "ALTER TABLE customer ADD COLUMN email VARCHAR(200);\n\
         INSERT INTO customer (id, name, email) VALUES (1, 'Ada', 'ada@example.org');\n",
    ),
    ("20261102000000_add_customer_email.down.sql", "ALTER TABLE customer DROP COLUMN email;\n"),
    (
        "20261103000000_orders.up.sql",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL);\n\
         CREATE INDEX orders_customer ON orders (customer_id);\n",
    ),
    ("20261103000000_orders.down.sql", "DROP TABLE orders;\n"),
    ("20261104000000_audit_note.up.sql", "-- no-transaction\nCREATE TABLE audit_note (id INTEGER PRIMARY KEY);\n"),
    ("20261104000000_audit_note.down.sql", "DROP TABLE audit_note;\n"),
];

pub fn write_folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

/// sqlx's `Migrator` on the folder, as an application runs it (and as sqlx-cli builds the
/// same migrations from the folder: same resolution, same `apply`).
pub async fn sqlx_migrate_run(url: &DbUrl, dir: &Path) {
    let migrator = Migrator::new(dir).await.unwrap();
    match url.dialect() {
        Dialect::Postgres => {
            let mut c = sqlx::PgConnection::connect(url.expose_url()).await.unwrap();
            migrator.run(&mut c).await.unwrap();
            c.close().await.unwrap();
        }
        Dialect::MySql => {
            let mut c = sqlx::MySqlConnection::connect(url.expose_url()).await.unwrap();
            migrator.run(&mut c).await.unwrap();
            c.close().await.unwrap();
        }
        Dialect::Sqlite => {
            // The file exists, as after `sqlx database create`.
            Db::connect(url).await.unwrap().close().await.unwrap();
            let mut c = sqlx::SqliteConnection::connect(url.expose_url()).await.unwrap();
            migrator.run(&mut c).await.unwrap();
            c.close().await.unwrap();
        }
    }
}

fn user_tables(names: Vec<String>) -> Vec<String> {
    names.into_iter().filter(|n| n != migrations::TABLE).collect()
}

/// The columns sqlx-cli's rows must agree on (installed_on and execution_time are of the moment).
fn comparable(rows: &[AppliedRow]) -> Vec<(i64, String, bool, String)> {
    rows.iter().map(|r| (r.version, r.description.clone(), r.success, r.checksum.clone())).collect()
}

/// Applies the folder one migration at a time on `ours`, runs sqlx's migrator on `reference`,
/// compares `_sqlx_migrations`, then reverts newest first back to an empty schema.
pub async fn migrations_match_sqlx(ours: &DbUrl, reference: &DbUrl) {
    let dir = write_folder(MIGRATIONS);
    let set = MigrationSet::load(dir.path()).unwrap();
    let mut db = Db::connect(ours).await.unwrap();

    let applied = migrations::applied(&mut db).await.unwrap();
    assert!(applied.is_empty(), "a fresh database has no applied migrations");
    let plan = migrations::plan_up(&set, &applied, None);
    assert_eq!(plan.len(), 4);
    for file in plan {
        let run = migrations::apply_one(&mut db, file).await.unwrap();
        assert_eq!(run.version, file.version);
        assert_eq!(run.description, file.description);
        assert_eq!(run.checksum, hex::encode(Sha384::digest(file.up_sql.as_bytes())));
    }
    let ours_rows = migrations::applied(&mut db).await.unwrap();
    assert!(ours_rows.iter().all(|r| r.execution_time >= 0), "{ours_rows:?}");
    assert_eq!(user_tables(db.table_names().await.unwrap()), vec!["audit_note", "customer", "orders"]);
    assert_eq!(
        db.query_value("SELECT email FROM customer WHERE id = 1", &[]).await.unwrap().as_deref(),
        Some("ada@example.org")
    );
    migrations::verify_applied(&set, &ours_rows).unwrap();

    sqlx_migrate_run(reference, dir.path()).await;
    let mut reference_db = Db::connect(reference).await.unwrap();
    let reference_rows = migrations::applied(&mut reference_db).await.unwrap();
    reference_db.close().await.unwrap();
    assert_eq!(comparable(&ours_rows), comparable(&reference_rows));
    assert_eq!(ours_rows[1].description, "add customer email");

    let again = migrations::apply_one(&mut db, &set.migrations[0]).await.unwrap_err();
    assert_eq!(again.to_string(), "migration 20261101000000: is already applied");

    let down = migrations::plan_down(&set, &ours_rows, 0).unwrap();
    let versions: Vec<i64> = down.iter().map(|f| f.version).collect();
    assert_eq!(versions, vec![20261104000000, 20261103000000, 20261102000000, 20261101000000]);
    for file in down {
        let run = migrations::revert_one(&mut db, file).await.unwrap();
        assert_eq!(run.checksum, hex::encode(Sha384::digest(file.up_sql.as_bytes())));
    }
    assert!(migrations::applied(&mut db).await.unwrap().is_empty());
    assert_eq!(db.table_names().await.unwrap(), vec![migrations::TABLE.to_string()]);
    let not_applied = migrations::revert_one(&mut db, &set.migrations[0]).await.unwrap_err();
    assert_eq!(not_applied.to_string(), "migration 20261101000000: is not applied: nothing to revert");
    db.close().await.unwrap();
}

/// A migration whose second statement fails: PostgreSQL and SQLite roll the whole file back;
/// MariaDB has committed the DDL and leaves a dirty row, which blocks every later migration.
pub async fn failing_migration(url: &DbUrl) {
    let dir = write_folder(&[
        ("1_half.up.sql", "CREATE TABLE half (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n"),
        ("1_half.down.sql", "DROP TABLE half;\n"),
        ("2_next.up.sql", "CREATE TABLE next_one (id INTEGER PRIMARY KEY);\n"),
        ("2_next.down.sql", "DROP TABLE next_one;\n"),
    ]);
    let set = MigrationSet::load(dir.path()).unwrap();
    let mut db = Db::connect(url).await.unwrap();
    let err = migrations::apply_one(&mut db, &set.migrations[0]).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no_such_table"), "{message}");

    let rows = migrations::applied(&mut db).await.unwrap();
    if url.dialect() == Dialect::MySql {
        // What stayed is explained: the statement the error names, and the one committed before it.
        assert!(matches!(err, DbError::HalfApplied(_)), "{err:?}");
        assert!(message.starts_with("migration 1 is half-applied: "), "{message}");
        assert!(message.contains("1_half.up.sql failed at statement 2 of 2 (`INSERT INTO no_such_table"), "{message}");
        assert!(message.contains("stays applied: 1. `CREATE TABLE half (id INTEGER PRIMARY KEY)`"), "{message}");
        assert!(db.table_names().await.unwrap().contains(&"half".to_string()), "the DDL was committed");
        assert!(!rows[0].success, "MariaDB keeps a dirty row: {rows:?}");
        let blocked = migrations::apply_one(&mut db, &set.migrations[1]).await.unwrap_err();
        assert!(matches!(blocked, DbError::Dirty(1)), "{blocked}");
        assert!(!db.table_names().await.unwrap().contains(&"next_one".to_string()));
    } else {
        assert!(message.starts_with("migration 1: "), "{message}");
        assert!(message.contains("1_half.up.sql failed: "), "{message}");
        assert!(rows.is_empty(), "{rows:?}");
        assert_eq!(db.table_names().await.unwrap(), vec![migrations::TABLE.to_string()]);
        migrations::apply_one(&mut db, &set.migrations[1]).await.unwrap();
    }
    db.close().await.unwrap();
}

/// Values that render the same on every dialect, parameters, and the shape errors.
pub async fn common_values(url: &DbUrl) {
    let mut db = Db::connect(url).await.unwrap();
    let affected = db
        .execute(
            "CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(50), price DECIMAL(10, 2));\n\
             INSERT INTO item VALUES (1, 'bolt', 0.25);\n\
             INSERT INTO item VALUES (2, 'nut', 0.10);\n\
             INSERT INTO item VALUES (3, NULL, 2.00);",
        )
        .await
        .unwrap();
    assert_eq!(affected, 3, "a multi-statement script counts its rows");
    let value = async |db: &mut Db, sql: &str, params: &[&str]| {
        let params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
        db.query_value(sql, &params).await
    };
    let p = |n| url.dialect().placeholder(n);

    assert_eq!(value(&mut db, "SELECT count(*) FROM item", &[]).await.unwrap().as_deref(), Some("3"));
    assert_eq!(value(&mut db, "SELECT 'abc'", &[]).await.unwrap().as_deref(), Some("abc"));
    assert_eq!(value(&mut db, "SELECT name FROM item WHERE id = 3", &[]).await.unwrap(), None);
    let sql = format!("SELECT count(*) FROM item WHERE id > {}", p(1));
    assert_eq!(value(&mut db, &sql, &["1"]).await.unwrap().as_deref(), Some("2"));
    let sql = format!("SELECT {} * 2", p(1));
    assert_eq!(value(&mut db, &sql, &["2.5"]).await.unwrap().as_deref(), Some("5"));

    // A value that would be an injection if pasted stays a value.
    let sql = format!("SELECT count(*) FROM item WHERE name = {} OR id = {}", p(1), p(2));
    let hostile = "x' OR '1'='1";
    assert_eq!(value(&mut db, &sql, &[hostile, "2"]).await.unwrap().as_deref(), Some("1"));

    let rows = value(&mut db, "SELECT id FROM item", &[]).await.unwrap_err();
    assert_eq!(rows.to_string(), "the query returned 3 rows, expected exactly one");
    let none = value(&mut db, "SELECT id FROM item WHERE id > 10", &[]).await.unwrap_err();
    assert_eq!(none.to_string(), "the query returned 0 rows, expected exactly one");
    let columns = value(&mut db, "SELECT id, name FROM item WHERE id = 1", &[]).await.unwrap_err();
    assert_eq!(columns.to_string(), "the query returned 2 columns, expected exactly one");

    match value(&mut db, "SELECT count(*) FROM no_such_table", &[]).await.unwrap_err() {
        DbError::Sql { message, code } => {
            assert!(message.contains("no_such_table"), "{message}");
            assert!(code.is_some(), "the driver's error code is kept");
        }
        other => panic!("expected an SQL error, got {other:?}"),
    }
    db.close().await.unwrap();
}

/// A second run is refused while the first holds the lock, and admitted after it lets go,
/// whether by `release` or by dropping the lock.
pub async fn lock_excludes(url: &DbUrl) {
    let first = RunLock::try_acquire(url).await.unwrap().expect("a free database can be locked");
    assert!(RunLock::try_acquire(url).await.unwrap().is_none(), "{}", first.describe());
    first.release().await.unwrap();

    let second = RunLock::try_acquire(url).await.unwrap().expect("free again after release");
    assert!(RunLock::try_acquire(url).await.unwrap().is_none());
    drop(second);
    // A dropped connection is noticed by the server at once, but not synchronously: allow a moment.
    let mut third = None;
    for _ in 0..50 {
        third = RunLock::try_acquire(url).await.unwrap();
        if third.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    third.expect("free again after drop").release().await.unwrap();
}

/// sqlx's `Migrator` (an application migrating at startup) waits for the run lock.
pub async fn lock_holds_off_sqlx_migrator(url: &DbUrl) {
    let dir = write_folder(MIGRATIONS);
    let lock = RunLock::try_acquire(url).await.unwrap().unwrap();
    // Polled in this task (sqlx's migrator future is not `Send`-general enough to spawn).
    let mut sqlx_run = std::pin::pin!(sqlx_migrate_run(url, dir.path()));
    let early = tokio::time::timeout(Duration::from_millis(1500), &mut sqlx_run).await;
    assert!(early.is_err(), "sqlx's migrator must wait for the run lock");
    let mut db = Db::connect(url).await.unwrap();
    assert!(migrations::applied(&mut db).await.unwrap().is_empty());
    lock.release().await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), sqlx_run).await.expect("sqlx proceeds once the lock is released");
    assert_eq!(migrations::applied(&mut db).await.unwrap().len(), 4);
    db.close().await.unwrap();
}

/// On MariaDB sqlx's migrator takes no lock (see `mysql_run_lock_and_sqlx_migrator`): it runs
/// straight through a held run lock.
pub async fn lock_does_not_hold_off_sqlx_migrator(url: &DbUrl) {
    let dir = write_folder(MIGRATIONS);
    let lock = RunLock::try_acquire(url).await.unwrap().unwrap();
    tokio::time::timeout(Duration::from_secs(20), sqlx_migrate_run(url, dir.path()))
        .await
        .expect("sqlx's migrator does not wait on MariaDB");
    assert!(RunLock::try_acquire(url).await.unwrap().is_none(), "the run lock is still held");
    lock.release().await.unwrap();
}

/// The same query text before and after a schema change that alters its result type: a cached
/// prepared statement would fail on PostgreSQL ("cached plan must not change result type").
pub async fn same_query_across_a_schema_change(url: &DbUrl) {
    let mut db = Db::connect(url).await.unwrap();
    db.execute("CREATE TABLE probe (id INT)").await.unwrap();
    let sql = "SELECT coalesce((SELECT col FROM (SELECT 1 AS one) o LEFT JOIN probe ON 1 = 0), 'present') \
               FROM (SELECT 'absent' AS col) p";
    assert_eq!(db.query_value(sql, &[]).await.unwrap().as_deref(), Some("absent"));
    db.execute("ALTER TABLE probe ADD COLUMN col VARCHAR(10)").await.unwrap();
    let present = db.query_value(sql, &[]).await;
    assert!(present.is_ok(), "{present:?}");
    db.execute("ALTER TABLE probe DROP COLUMN col").await.unwrap();
    assert_eq!(db.query_value(sql, &[]).await.unwrap().as_deref(), Some("absent"));
}

/// A read-only connection sees `_sqlx_migrations` without creating it, and the database
/// itself refuses any change made through it.
pub async fn read_only_changes_nothing(url: &DbUrl) {
    let mut db = Db::connect_read_only(url).await.unwrap();
    assert!(migrations::read_applied(&mut db).await.unwrap().is_empty(), "no table: nothing applied");
    assert!(!db.has_table(migrations::TABLE).await.unwrap());
    let refused = db.execute("CREATE TABLE written (id INTEGER)").await;
    assert!(refused.is_err(), "a read-only connection must not write: {refused:?}");
    db.close().await.unwrap();
    let mut db = Db::connect(url).await.unwrap();
    assert!(db.table_names().await.unwrap().is_empty(), "nothing was created");
    migrations::applied(&mut db).await.unwrap();
    assert!(db.has_table(migrations::TABLE).await.unwrap(), "the read-write path creates it, as sqlx does");
    db.close().await.unwrap();
}

/// The schema fingerprint sees tables, columns, indexes and constraints but not sqlx's table,
/// and a change names the lines that differ; undoing the change gives the same fingerprint.
pub async fn schema_fingerprint(url: &DbUrl) {
    let mut db = Db::connect(url).await.unwrap();
    migrations::applied(&mut db).await.unwrap();
    let empty = Schema::read(&mut db).await.unwrap();
    assert!(empty.lines().is_empty(), "bookkeeping is not schema:\n{}", empty.text());
    db.execute(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY, code VARCHAR(10) NOT NULL DEFAULT 'x', UNIQUE (code));\n\
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, qty INTEGER, \
         FOREIGN KEY (parent_id) REFERENCES parent (id));",
    )
    .await
    .unwrap();
    let schema = Schema::read(&mut db).await.unwrap();
    let text = schema.text();
    eprintln!("{text}");
    let has = |needle: &str| schema.lines().iter().any(|l| l.contains(needle));
    assert!(has("table parent") && has("table child"), "{text}");
    let code = schema.lines().iter().find(|l| l.starts_with("column parent.code ")).expect(&text);
    assert!(code.contains("not null") && code.contains("'x'"), "{code}");
    assert!(has("child.qty") && has("child.parent_id"), "{text}");
    let lower: Vec<String> = schema.lines().iter().map(|l| l.to_lowercase()).collect();
    assert!(lower.iter().any(|l| l.contains("(parent_id) references parent")), "the foreign key: {text}");
    assert!(lower.iter().any(|l| l.contains("unique") && l.contains("(code)")), "the unique constraint: {text}");

    let drop_index = match url.dialect() {
        Dialect::MySql => "DROP INDEX child_qty ON child",
        _ => "DROP INDEX child_qty",
    };
    for (change, undo, name) in [
        ("CREATE INDEX child_qty ON child (qty)", drop_index, "child_qty"),
        ("ALTER TABLE child ADD COLUMN note VARCHAR(20)", "ALTER TABLE child DROP COLUMN note", "child.note"),
    ] {
        db.execute(change).await.unwrap();
        let changed = Schema::read(&mut db).await.unwrap();
        let diff = schema.diff(&changed);
        assert!(diff.missing.is_empty(), "{change}: {diff:?}");
        assert_eq!(diff.extra.len(), 1, "{change}: {diff:?}");
        assert!(diff.extra[0].contains(name), "{change}: {diff:?}");
        assert_ne!(changed.fingerprint(), schema.fingerprint());
        db.execute(undo).await.unwrap();
        assert_eq!(Schema::read(&mut db).await.unwrap().fingerprint(), schema.fingerprint(), "{undo}");
    }
    db.close().await.unwrap();
}

/// Whether the server still has a database of that name.
pub async fn database_exists(server: &str, name: &str) -> bool {
    let url = DbUrl::parse(server).unwrap();
    let sql = match url.dialect() {
        Dialect::Postgres => "SELECT count(*) FROM pg_database WHERE datname = $1",
        _ => "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?",
    };
    let mut db = Db::connect(&url).await.unwrap();
    let count = db.query_value(sql, &[name.to_string()]).await.unwrap();
    db.close().await.unwrap();
    count.as_deref() == Some("1")
}

/// Opens a transaction on `holder` that blocks DDL on the table `item` until it commits: a row
/// lock on PostgreSQL (ALTER waits for its ACCESS EXCLUSIVE), a metadata lock on MariaDB (any
/// read in a transaction takes one), the file's write lock on SQLite. Returns its session id.
pub async fn hold_item(holder: &mut Db) -> Option<i64> {
    let sql = match holder.dialect() {
        Dialect::Postgres => "BEGIN; SELECT * FROM item FOR UPDATE",
        Dialect::MySql => "START TRANSACTION; SELECT * FROM item",
        Dialect::Sqlite => "BEGIN IMMEDIATE; UPDATE item SET id = id",
    };
    holder.execute(sql).await.unwrap();
    holder.session_id().await.unwrap()
}

/// A migration that gives up waiting for a lock leaves `_sqlx_migrations` as it was, applying
/// and reverting (on MariaDB, sqlx's `success = false` mark is undone), so that it can simply
/// be tried again; except on MariaDB for a file of several statements, whose first ones are
/// committed: that stays dirty. The session's timeouts come off afterwards.
pub async fn lock_timeout_leaves_migrations_clean(url: &DbUrl) {
    let dir = write_folder(&[
        ("1_item.up.sql", "CREATE TABLE item (id INTEGER PRIMARY KEY);\n"),
        ("1_item.down.sql", "DROP TABLE item;\n"),
        (
            "2_note.up.sql",
            "-- one statement; the comment does not count\nALTER TABLE item ADD COLUMN note VARCHAR(20);\n",
        ),
        ("2_note.down.sql", "ALTER TABLE item DROP COLUMN note;\n"),
        ("3_two.up.sql", "CREATE TABLE other (id INTEGER PRIMARY KEY);\nALTER TABLE item ADD COLUMN two INTEGER;\n"),
        ("3_two.down.sql", "ALTER TABLE item DROP COLUMN two;\nDROP TABLE other;\n"),
    ]);
    let set = MigrationSet::load(dir.path()).unwrap();
    let [item, note, two] = &set.migrations[..] else { panic!("three migrations") };
    let mut db = Db::connect(url).await.unwrap();
    // The session's lock and statement timeouts, and their values under the limits below.
    let (timeouts, limited) = match url.dialect() {
        Dialect::Postgres => {
            ("SELECT current_setting('lock_timeout') || ' ' || current_setting('statement_timeout')", "1s 1min")
        }
        Dialect::MySql => (
            "SELECT CONCAT(@@SESSION.lock_wait_timeout, ' ', @@SESSION.innodb_lock_wait_timeout, ' ', \
             CAST(@@SESSION.max_statement_time AS INTEGER))",
            "1 1 60",
        ),
        Dialect::Sqlite => ("PRAGMA busy_timeout", "1000"),
    };
    let before = db.query_value(timeouts, &[]).await.unwrap();
    migrations::apply_one(&mut db, item).await.unwrap();
    let saved = db.limit(Duration::from_secs(1), Duration::from_secs(60)).await.unwrap();
    assert_eq!(db.query_value(timeouts, &[]).await.unwrap().as_deref(), Some(limited));
    let state = async |db: &mut Db| -> Vec<(i64, bool)> {
        migrations::applied(db).await.unwrap().iter().map(|r| (r.version, r.success)).collect()
    };

    let mut holder = Db::connect(url).await.unwrap();
    hold_item(&mut holder).await;
    let err = migrations::apply_one(&mut db, note).await.unwrap_err();
    assert!(err.is_lock_timeout(), "{err:?}");
    assert!(err.to_string().starts_with("migration 2: "), "{err}");
    assert_eq!(state(&mut db).await, [(1, true)], "applying left nothing behind");
    holder.execute("COMMIT").await.unwrap();
    migrations::apply_one(&mut db, note).await.unwrap();

    hold_item(&mut holder).await;
    let err = migrations::revert_one(&mut db, note).await.unwrap_err();
    assert!(err.is_lock_timeout(), "{err:?}");
    assert_eq!(state(&mut db).await, [(1, true), (2, true)], "reverting left nothing behind");
    holder.execute("COMMIT").await.unwrap();
    migrations::revert_one(&mut db, note).await.unwrap();

    hold_item(&mut holder).await;
    let err = migrations::apply_one(&mut db, two).await.unwrap_err();
    if url.dialect() == Dialect::MySql {
        assert!(!err.is_lock_timeout(), "not retried: {err:?}");
        assert!(err.to_string().contains("the file has 2 statements"), "{err}");
        assert_eq!(state(&mut db).await, [(1, true), (3, false)], "dirty: `other` was created");
    } else {
        assert!(err.is_lock_timeout(), "{err:?}");
        assert_eq!(state(&mut db).await, [(1, true)]);
    }
    holder.execute("COMMIT").await.unwrap();

    db.restore_limits(saved).await.unwrap();
    assert_eq!(db.query_value(timeouts, &[]).await.unwrap(), before);
    holder.close().await.unwrap();
    db.close().await.unwrap();
}
