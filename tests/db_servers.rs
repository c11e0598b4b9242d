//! `db` on real PostgreSQL and MariaDB servers, each test in scratch databases of its own.
//! Set RUNSHEET_TEST_POSTGRES_URL / RUNSHEET_TEST_MYSQL_URL to run them.

mod db_common;

use std::time::Duration;

use runsheet::db::scratch::server_url_or_skip;
use runsheet::db::{Db, DbError, DbUrl, Dialect, ScratchDatabase};

const PREFIX: &str = "runsheet_db_test";

/// Runs a scenario in a fresh scratch database, dropped afterwards (by `Drop` if the scenario panics).
async fn on_scratch(dialect: Dialect, test: &str, scenario: impl AsyncFnOnce(&DbUrl)) {
    let Some(server) = server_url_or_skip(dialect, test) else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, PREFIX).await.unwrap();
    scenario(scratch.url()).await;
    scratch.drop_now().await.unwrap();
}

/// Two scratch databases: one for runsheet, one for sqlx's own migrator.
async fn on_two_scratches(dialect: Dialect, test: &str, scenario: impl AsyncFnOnce(&DbUrl, &DbUrl)) {
    let Some(server) = server_url_or_skip(dialect, test) else {
        return;
    };
    let ours = ScratchDatabase::create(&server, PREFIX).await.unwrap();
    let reference = ScratchDatabase::create(&server, PREFIX).await.unwrap();
    scenario(ours.url(), reference.url()).await;
    ours.drop_now().await.unwrap();
    reference.drop_now().await.unwrap();
}

async fn scratch_databases_come_and_go(dialect: Dialect, test: &str) {
    let Some(server) = server_url_or_skip(dialect, test) else {
        return;
    };
    let scratch = ScratchDatabase::create(&server, "Runsheet Scratch!").await.unwrap();
    let name = scratch.name().to_string();
    assert!(name.starts_with(&format!("runsheetscratch_{}_", std::process::id())), "{name}");
    assert_eq!(scratch.url().database_name().as_deref(), Some(name.as_str()));
    assert!(db_common::database_exists(&server, &name).await);
    // A connection left open does not stop the drop.
    let mut open = Db::connect(scratch.url()).await.unwrap();
    open.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)").await.unwrap();
    scratch.drop_now().await.unwrap();
    assert!(!db_common::database_exists(&server, &name).await, "drop_now drops it");
    drop(open);

    let forgotten = ScratchDatabase::create(&server, PREFIX).await.unwrap();
    let name = forgotten.name().to_string();
    drop(forgotten);
    assert!(!db_common::database_exists(&server, &name).await, "Drop drops it as a safety net");
}

async fn password_never_shown(dialect: Dialect, test: &str) {
    let Some(server) = server_url_or_skip(dialect, test) else {
        return;
    };
    let secret = "Sup3r-Secret_pw";
    let scheme = DbUrl::parse(&server).unwrap().expose_url().split(':').next().unwrap().to_string();
    // Nothing listens on port 1: the connection is refused.
    let refused = DbUrl::parse(&format!("{scheme}://app:{secret}@127.0.0.1:1/orders")).unwrap();
    let err = Db::connect(&refused).await.err().unwrap();
    let shown = format!("{err} {err:?}");
    assert!(shown.starts_with("cannot connect to 127.0.0.1:1/orders: "), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(!format!("{refused} {refused:?} {}", refused.redacted()).contains(secret));

    if dialect == Dialect::MySql {
        // The real server refuses the wrong password: its message must not carry it either.
        let mut wrong = url::Url::parse(&server).unwrap();
        wrong.set_password(Some(secret)).unwrap();
        let err = Db::connect(&DbUrl::parse(wrong.as_str()).unwrap()).await.err().unwrap();
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, DbError::Connect { .. }), "{shown}");
        assert!(!shown.contains(secret), "{shown}");
    }
}

async fn postgres_values(url: &DbUrl) {
    db_common::common_values(url).await;
    let mut db = Db::connect(url).await.unwrap();
    db.execute("CREATE TYPE mood AS ENUM ('calm', 'busy')").await.unwrap();
    for (sql, expected) in [
        ("SELECT true", Some("true")),
        ("SELECT 1 = 2", Some("false")),
        ("SELECT 2::smallint", Some("2")),
        ("SELECT 2.5::real", Some("2.5")),
        ("SELECT sum(x) FROM (VALUES (1::bigint), (2)) v(x)", Some("3")),
        ("SELECT avg(x) FROM (VALUES (1), (2)) v(x)", Some("1.5")),
        ("SELECT sum(price) FROM item", Some("2.35")),
        ("SELECT 2.00::numeric(10, 2)", Some("2")),
        ("SELECT 100::numeric", Some("100")),
        ("SELECT -0.0001::numeric", Some("-0.0001")),
        ("SELECT 123456789012345678901234567890.123::numeric", Some("123456789012345678901234567890.123")),
        ("SELECT DATE '2026-11-28'", Some("2026-11-28")),
        ("SELECT TIME '01:02:03'", Some("01:02:03")),
        ("SELECT TIMESTAMP '2026-11-28 01:00:00.25'", Some("2026-11-28T01:00:00.250")),
        ("SELECT TIMESTAMPTZ '2026-11-28 02:00:00+01'", Some("2026-11-28T01:00:00Z")),
        ("SELECT '\\xdeadbeef'::bytea", Some("deadbeef")),
        ("SELECT 'busy'::mood", Some("busy")),
        ("SELECT current_database()", url.database_name().as_deref()),
    ] {
        assert_eq!(db.query_value(sql, &[]).await.unwrap().as_deref(), expected, "{sql}");
    }
    let unsupported = db.query_value("SELECT '{1,2}'::int[]", &[]).await.unwrap_err();
    assert_eq!(unsupported.to_string(), "cannot show a value of type INT4[]: cast it to text in the query");
    match db.query_value("SELECT * FROM no_such_table", &[]).await.unwrap_err() {
        DbError::Sql { code, .. } => assert_eq!(code.as_deref(), Some("42P01")),
        other => panic!("{other:?}"),
    }
    db.close().await.unwrap();
}

async fn mysql_values(url: &DbUrl) {
    db_common::common_values(url).await;
    let mut db = Db::connect(url).await.unwrap();
    db.execute(
        "CREATE TABLE flag (id INT PRIMARY KEY, enabled BOOLEAN, seen DATETIME(3), stamp TIMESTAMP NULL, \
         size ENUM('s', 'm'), n BIGINT UNSIGNED);\n\
         INSERT INTO flag VALUES (1, TRUE, '2026-11-28 01:00:00.250', '2026-11-28 01:00:00', 'm', 18446744073709551615);",
    )
    .await
    .unwrap();
    for (sql, expected) in [
        ("SELECT enabled FROM flag", Some("true")),
        ("SELECT seen FROM flag", Some("2026-11-28T01:00:00.250")),
        ("SELECT stamp FROM flag", Some("2026-11-28T01:00:00Z")),
        ("SELECT size FROM flag", Some("m")),
        ("SELECT n FROM flag", Some("18446744073709551615")),
        ("SELECT sum(price) FROM item", Some("2.35")),
        ("SELECT CAST(100 AS DECIMAL(10, 2))", Some("100")),
        ("SELECT 1.5e0", Some("1.5")),
        ("SELECT DATE('2026-11-28 10:00:00')", Some("2026-11-28")),
        ("SELECT UNHEX('DEADBEEF')", Some("deadbeef")),
        ("SELECT DATABASE()", url.database_name().as_deref()),
    ] {
        assert_eq!(db.query_value(sql, &[]).await.unwrap().as_deref(), expected, "{sql}");
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn postgres_scratch_databases_come_and_go() {
    scratch_databases_come_and_go(Dialect::Postgres, "postgres_scratch_databases_come_and_go").await;
}

#[tokio::test]
async fn mysql_scratch_databases_come_and_go() {
    scratch_databases_come_and_go(Dialect::MySql, "mysql_scratch_databases_come_and_go").await;
}

#[tokio::test]
async fn postgres_password_never_shown() {
    password_never_shown(Dialect::Postgres, "postgres_password_never_shown").await;
}

#[tokio::test]
async fn mysql_password_never_shown() {
    password_never_shown(Dialect::MySql, "mysql_password_never_shown").await;
}

#[tokio::test]
async fn postgres_values_render_as_text() {
    on_scratch(Dialect::Postgres, "postgres_values_render_as_text", postgres_values).await;
}

#[tokio::test]
async fn mysql_values_render_as_text() {
    on_scratch(Dialect::MySql, "mysql_values_render_as_text", mysql_values).await;
}

#[tokio::test]
async fn postgres_schema_fingerprint_names_what_changed() {
    on_scratch(Dialect::Postgres, "postgres_schema_fingerprint_names_what_changed", db_common::schema_fingerprint)
        .await;
}

#[tokio::test]
async fn mysql_schema_fingerprint_names_what_changed() {
    on_scratch(Dialect::MySql, "mysql_schema_fingerprint_names_what_changed", db_common::schema_fingerprint).await;
}

#[tokio::test]
async fn postgres_migrations_match_sqlx() {
    let test = "postgres_migrations_match_sqlx";
    on_two_scratches(Dialect::Postgres, test, db_common::migrations_match_sqlx).await;
}

#[tokio::test]
async fn mysql_migrations_match_sqlx() {
    let test = "mysql_migrations_match_sqlx";
    on_two_scratches(Dialect::MySql, test, db_common::migrations_match_sqlx).await;
}

#[tokio::test]
async fn postgres_failing_migration_leaves_nothing_behind() {
    let test = "postgres_failing_migration_leaves_nothing_behind";
    on_scratch(Dialect::Postgres, test, db_common::failing_migration).await;
}

#[tokio::test]
async fn mysql_failing_migration_leaves_a_dirty_version_that_blocks() {
    let test = "mysql_failing_migration_leaves_a_dirty_version_that_blocks";
    on_scratch(Dialect::MySql, test, db_common::failing_migration).await;
}

#[tokio::test]
async fn postgres_read_only_changes_nothing() {
    on_scratch(Dialect::Postgres, "postgres_read_only_changes_nothing", db_common::read_only_changes_nothing).await;
}

#[tokio::test]
async fn mysql_read_only_changes_nothing() {
    on_scratch(Dialect::MySql, "mysql_read_only_changes_nothing", db_common::read_only_changes_nothing).await;
}

#[tokio::test]
async fn postgres_run_lock_excludes_a_second_run() {
    on_scratch(Dialect::Postgres, "postgres_run_lock_excludes_a_second_run", db_common::lock_excludes).await;
}

#[tokio::test]
async fn mysql_run_lock_excludes_a_second_run() {
    on_scratch(Dialect::MySql, "mysql_run_lock_excludes_a_second_run", db_common::lock_excludes).await;
}

#[tokio::test]
async fn postgres_run_lock_holds_off_sqlx_migrator() {
    on_scratch(Dialect::Postgres, "postgres_run_lock_holds_off_sqlx_migrator", db_common::lock_holds_off_sqlx_migrator)
        .await;
}

/// sqlx's MySQL `Migrator` asks for `GET_LOCK(name, -1)`: MySQL waits forever, MariaDB (10.11)
/// answers NULL at once with warning 1411 "Incorrect timeout value", and sqlx ignores the
/// answer. So on MariaDB sqlx's `Migrator` takes no lock at all and nothing can keep it out;
/// this test pins that down so a change on either side shows.
#[tokio::test]
async fn mysql_run_lock_and_sqlx_migrator() {
    on_scratch(Dialect::MySql, "mysql_run_lock_and_sqlx_migrator", async |url: &DbUrl| {
        let mut db = Db::connect(url).await.unwrap();
        let version = db.query_value("SELECT VERSION()", &[]).await.unwrap().unwrap_or_default();
        db.close().await.unwrap();
        if version.contains("MariaDB") {
            db_common::lock_does_not_hold_off_sqlx_migrator(url).await;
        } else {
            db_common::lock_holds_off_sqlx_migrator(url).await;
        }
    })
    .await;
}

#[tokio::test]
async fn postgres_same_query_across_a_schema_change() {
    let test = "postgres_same_query_across_a_schema_change";
    on_scratch(Dialect::Postgres, test, db_common::same_query_across_a_schema_change).await;
}

#[tokio::test]
async fn mysql_same_query_across_a_schema_change() {
    let test = "mysql_same_query_across_a_schema_change";
    on_scratch(Dialect::MySql, test, db_common::same_query_across_a_schema_change).await;
}

#[tokio::test]
async fn postgres_lock_timeout_leaves_migrations_clean() {
    let test = "postgres_lock_timeout_leaves_migrations_clean";
    on_scratch(Dialect::Postgres, test, db_common::lock_timeout_leaves_migrations_clean).await;
}

#[tokio::test]
async fn mysql_lock_timeout_leaves_migrations_clean() {
    let test = "mysql_lock_timeout_leaves_migrations_clean";
    on_scratch(Dialect::MySql, test, db_common::lock_timeout_leaves_migrations_clean).await;
}

/// `CREATE INDEX CONCURRENTLY` waits for every transaction that wrote to the table; cut off by
/// the lock timeout it would leave an INVALID index. Alone in a `-- no-transaction` file it runs
/// without the lock timeout, holding up no one meanwhile, and the session's timeout is back after.
#[tokio::test]
async fn postgres_concurrent_index_waits_past_the_lock_timeout() {
    let test = "postgres_concurrent_index_waits_past_the_lock_timeout";
    on_scratch(Dialect::Postgres, test, async |url: &DbUrl| {
        let dir = db_common::write_folder(&[
            ("1_note_idx.up.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY item_note ON item (note);\n"),
            ("1_note_idx.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY item_note;\n"),
        ]);
        let set = runsheet::model::MigrationSet::load(dir.path()).unwrap();
        let mut db = Db::connect(url).await.unwrap();
        db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO item VALUES (1, 'a')")
            .await
            .unwrap();
        let saved = db.limit(Duration::from_secs(1), Duration::from_secs(60)).await.unwrap();
        let mut writer = Db::connect(url).await.unwrap();
        writer.execute("BEGIN; UPDATE item SET note = 'b'").await.unwrap();

        let build = tokio::spawn(async move {
            let result = runsheet::db::migrations::apply_one(&mut db, &set.migrations[0]).await;
            (db, result)
        });
        let mut observer = Db::connect(url).await.unwrap();
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                       AND wait_event = 'virtualxid' AND query LIKE '%CONCURRENTLY%'";
        while observer.query_value(waiting, &[]).await.unwrap().as_deref() == Some("0") {
            assert!(!build.is_finished(), "the index build did not wait for the writer");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Longer than the lock timeout: still waiting, not cut off.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(observer.query_value(waiting, &[]).await.unwrap().as_deref(), Some("1"));
        writer.execute("COMMIT").await.unwrap();

        let (mut db, result) = build.await.unwrap();
        result.unwrap();
        let valid = "SELECT indisvalid FROM pg_index WHERE indexrelid = 'item_note'::regclass";
        assert_eq!(observer.query_value(valid, &[]).await.unwrap().as_deref(), Some("true"));
        let lock_timeout = "SELECT current_setting('lock_timeout')";
        assert_eq!(db.query_value(lock_timeout, &[]).await.unwrap().as_deref(), Some("1s"));
        db.restore_limits(saved).await.unwrap();
        assert_eq!(db.query_value(lock_timeout, &[]).await.unwrap().as_deref(), Some("0"));
    })
    .await;
}
