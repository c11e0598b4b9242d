//! Migrations applied and reverted one at a time through sqlx's `Migrate` trait, so that
//! `_sqlx_migrations` holds exactly what `sqlx migrate run` / `revert` would write.
//!
//! sqlx's own lock (`Migrate::lock`) is never taken here: it waits forever and leaks on error
//! (FIELD-NOTES); the run already holds the same lock through `RunLock` on another connection.

use chrono::{DateTime, Utc};
use sqlx::migrate::{Migrate, MigrateError, Migration, MigrationType};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use super::half_applied::HalfApplied;
use super::limits::is_lock_timeout;
use super::schema::Schema;
use super::statements;
use super::{Conn, Db, DbError, Dialect, Result, on_conn};
use crate::engine::MigrationRun;
use crate::model::{MigrationFile, MigrationSet};

/// The table sqlx keeps its bookkeeping in (the trait takes its name since sqlx 0.9).
pub const TABLE: &str = "_sqlx_migrations";

/// One row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRow {
    pub version: i64,
    pub description: String,
    pub installed_on: DateTime<Utc>,
    /// False only on MySQL/MariaDB, for a migration that failed halfway (a "dirty" version).
    pub success: bool,
    /// Hex SHA-384 of the up file as it was applied.
    pub checksum: String,
    /// Nanoseconds; -1 when the process stopped between commit and bookkeeping.
    pub execution_time: i64,
}

/// The sqlx migration for one file, built as sqlx-cli builds it from the same file: same
/// version, description, type, SQL, checksum (SHA-384 of the text) and `-- no-transaction` rule.
pub fn to_sqlx(file: &MigrationFile, down: bool) -> Migration {
    let (kind, sql) = if down {
        (MigrationType::ReversibleDown, &file.down_sql)
    } else {
        (MigrationType::ReversibleUp, &file.up_sql)
    };
    Migration::new(
        file.version,
        file.description.clone().into(),
        kind,
        AssertSqlSafe(sql.clone()).into_sql_str(),
        no_transaction(sql),
    )
}

/// The hex SHA-384 of the up file, as sqlx records it in `_sqlx_migrations.checksum`.
pub fn checksum(file: &MigrationFile) -> String {
    hex::encode(&*to_sqlx(file, false).checksum)
}

/// Whether sqlx runs this file outside a transaction: it honours the `-- no-transaction`
/// marker only as the very first bytes of the file (and MySQL ignores it).
pub fn no_transaction(sql: &str) -> bool {
    sql.starts_with("-- no-transaction")
}

/// The rows of `_sqlx_migrations` by version (the table is created if missing, as sqlx does).
pub async fn applied(db: &mut Db) -> Result<Vec<AppliedRow>> {
    ensure_table(db).await?;
    read_rows(db).await
}

/// The rows of `_sqlx_migrations` by version, none when the table does not exist: changes nothing.
pub async fn read_applied(db: &mut Db) -> Result<Vec<AppliedRow>> {
    if db.has_table(TABLE).await? { read_rows(db).await } else { Ok(Vec::new()) }
}

/// sqlx's `dirty_version`: the oldest version that failed half-way (MariaDB/MySQL).
pub fn dirty(applied: &[AppliedRow]) -> Option<i64> {
    applied.iter().find(|row| !row.success).map(|row| row.version)
}

/// Pending migrations older than the newest applied one: added to the folder after a newer
/// version was applied (a merge of two branches), so `migrate` would apply them out of order.
pub fn out_of_order<'s>(set: &'s MigrationSet, applied: &[AppliedRow]) -> Vec<&'s MigrationFile> {
    let Some(newest) = applied.iter().map(|row| row.version).max() else { return Vec::new() };
    plan_up(set, applied, None).into_iter().filter(|m| m.version < newest).collect()
}

/// Pending migrations up to `to` (all when None), oldest first.
pub fn plan_up<'s>(set: &'s MigrationSet, applied: &[AppliedRow], to: Option<i64>) -> Vec<&'s MigrationFile> {
    set.migrations
        .iter()
        .filter(|m| to.is_none_or(|to| m.version <= to))
        .filter(|m| !applied.iter().any(|row| row.version == m.version))
        .collect()
}

/// Applied migrations above `to`, newest first; an error if one of them has no file to revert with.
pub fn plan_down<'s>(set: &'s MigrationSet, applied: &[AppliedRow], to: i64) -> Result<Vec<&'s MigrationFile>> {
    let mut rows: Vec<&AppliedRow> = applied.iter().filter(|row| row.version > to).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.version));
    rows.into_iter()
        .map(|row| {
            set.get(row.version).ok_or_else(|| DbError::Migration {
                version: row.version,
                message: format!("is applied but has no file in {}: cannot revert it", set.dir.display()),
            })
        })
        .collect()
}

/// How an applied migration disagrees with the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch<'s> {
    /// No file of that version.
    Missing,
    /// The up file's checksum is not the one recorded when it was applied ("drift").
    Changed(&'s MigrationFile),
}

/// Whether an applied row still matches its file.
pub fn mismatch<'s>(set: &'s MigrationSet, row: &AppliedRow) -> Option<Mismatch<'s>> {
    match set.get(row.version) {
        None => Some(Mismatch::Missing),
        Some(file) if checksum(file) != row.checksum => Some(Mismatch::Changed(file)),
        Some(_) => None,
    }
}

/// What `sqlx migrate run` refuses to go past: an applied migration whose file is gone or changed.
pub fn verify_applied(set: &MigrationSet, applied: &[AppliedRow]) -> Result<()> {
    let Some((row, problem)) = applied.iter().find_map(|row| mismatch(set, row).map(|m| (row, m))) else {
        return Ok(());
    };
    let message = match problem {
        Mismatch::Missing => format!("is applied but missing from {}", set.dir.display()),
        Mismatch::Changed(file) => {
            format!("{} was changed after it was applied (its checksum differs)", file.up_path.display())
        }
    };
    Err(DbError::Migration { version: row.version, message })
}

/// No migration is applied or reverted on top of a version that failed half-way.
pub fn refuse_dirty(applied: &[AppliedRow]) -> Result<()> {
    dirty(applied).map_or(Ok(()), |version| Err(DbError::Dirty(version)))
}

/// Applies one migration through `Migrate::apply`; refuses a dirty database or an applied version.
pub async fn apply_one(db: &mut Db, file: &MigrationFile) -> Result<MigrationRun> {
    let rows = prepare(db, file.version).await?;
    if rows.iter().any(|row| row.version == file.version) {
        return Err(DbError::Migration { version: file.version, message: "is already applied".into() });
    }
    let migration = to_sqlx(file, false);
    let took = run_sqlx(db, file, &migration).await?;
    Ok(run(file, hex::encode(&*migration.checksum), took))
}

/// Reverts one applied migration through `Migrate::revert` (which itself does not check that it was applied).
pub async fn revert_one(db: &mut Db, file: &MigrationFile) -> Result<MigrationRun> {
    let rows = prepare(db, file.version).await?;
    let Some(row) = rows.into_iter().find(|row| row.version == file.version) else {
        return Err(DbError::Migration { version: file.version, message: "is not applied: nothing to revert".into() });
    };
    let took = run_sqlx(db, file, &to_sqlx(file, true)).await?;
    Ok(run(file, row.checksum, took))
}

/// Runs an applied migration's up SQL a second time, outside sqlx's bookkeeping (which would
/// refuse the version), and returns the schema as the replay left it. Where the file runs in
/// a transaction (everywhere but a `-- no-transaction` file on PostgreSQL or SQLite), the
/// replay runs in one too and is rolled back after the schema is read, so that a replayed
/// data change leaves no trace; MariaDB/MySQL commit DDL at once, there the replay stays.
pub async fn replay_up(db: &mut Db, file: &MigrationFile) -> Result<Schema> {
    let in_transaction = !to_sqlx(file, false).no_tx || db.dialect() == Dialect::MySql;
    if !in_transaction {
        db.execute(&file.up_sql).await.map_err(|e| replay_failed(file, e))?;
        return Schema::read(db).await;
    }
    db.execute("BEGIN").await?;
    let replayed = match db.execute(&file.up_sql).await {
        Ok(_) => Schema::read(db).await,
        Err(e) => Err(replay_failed(file, e)),
    };
    let rolled_back = db.execute("ROLLBACK").await;
    let schema = replayed?;
    rolled_back?;
    Ok(schema)
}

/// Whether a failed replay is excused: SQLite has no `IF [NOT] EXISTS` for `ALTER TABLE …
/// ADD/DROP COLUMN`, so such a migration cannot be written to replay cleanly; and a file that
/// runs in a transaction (no `-- no-transaction`) is applied together with its bookkeeping
/// row, never half, so it never has to run twice.
pub fn replay_failure_excused(dialect: Dialect, file: &MigrationFile) -> bool {
    dialect == Dialect::Sqlite && !to_sqlx(file, false).no_tx
}

fn replay_failed(file: &MigrationFile, e: DbError) -> DbError {
    DbError::Migration {
        version: file.version,
        message: format!("{} failed a second time: {e}", file.up_path.display()),
    }
}

/// `Migrate::apply` or `revert` of one file's migration.
async fn run_sqlx(db: &mut Db, file: &MigrationFile, migration: &Migration) -> Result<std::time::Duration> {
    let down = migration.migration_type.is_down_migration();
    let lifted = if waits_harmlessly(db, migration) { Some(db.lift_lock_timeout().await?) } else { None };
    let done =
        if down { db.migrate().revert(TABLE, migration).await } else { db.migrate().apply(TABLE, migration).await };
    if let Some(lock_timeout) = lifted {
        db.put_lock_timeout(lock_timeout).await?;
    }
    match done {
        Ok(took) => Ok(took),
        Err(e) => Err(after_failure(db, file, down, e).await),
    }
}

/// On PostgreSQL, a file outside a transaction whose every statement runs CONCURRENTLY (index
/// builds and drops) waits for all older transactions to end, but holds up none of the
/// application's queries meanwhile; cut off, it leaves an INVALID index that a retry trips over.
/// Such a file runs without the lock timeout: only the statement timeout bounds it.
fn waits_harmlessly(db: &Db, migration: &Migration) -> bool {
    db.dialect() == Dialect::Postgres && migration.no_tx && only_concurrently(migration.sql.as_str())
}

/// Whether every statement of PostgreSQL `sql` runs CONCURRENTLY (and there is one at least).
fn only_concurrently(sql: &str) -> bool {
    let concurrently =
        |statement: &statements::Statement| statement.words.iter().any(|w| w.eq_ignore_ascii_case("CONCURRENTLY"));
    statements::split(sql, Dialect::Postgres).is_some_and(|all| !all.is_empty() && all.iter().all(concurrently))
}

fn run(file: &MigrationFile, checksum: String, took: std::time::Duration) -> MigrationRun {
    MigrationRun {
        version: file.version,
        description: file.description.clone(),
        checksum,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
    }
}

/// No version is dirty; returns `version`'s row, if it is applied. Only that row and dirty ones
/// are read: a step applying hundreds of migrations must not read the whole table before each.
/// The table is created when the read finds none (a round trip of DDL before each migration
/// would cost as much as the migration's own bookkeeping).
async fn prepare(db: &mut Db, version: i64) -> Result<Vec<AppliedRow>> {
    // The version is bound: one prepared statement serves every migration of the step.
    let filter = format!("WHERE version = {} OR NOT success", db.dialect().placeholder(1));
    let rows = match select_rows(db, &filter, Some(version)).await {
        Ok(rows) => rows,
        Err(e) if db.has_table(TABLE).await? => return Err(e),
        Err(_) => {
            ensure_table(db).await?;
            select_rows(db, &filter, Some(version)).await?
        }
    };
    refuse_dirty(&rows)?;
    Ok(rows)
}

async fn ensure_table(db: &mut Db) -> Result<()> {
    db.migrate().ensure_migrations_table(TABLE).await.map_err(|e| bookkeeping(db, e))
}

async fn read_rows(db: &mut Db) -> Result<Vec<AppliedRow>> {
    select_rows(db, "", None).await
}

/// The rows `filter` (a WHERE clause of our own, with `version` as its one parameter) selects,
/// by version.
async fn select_rows(db: &mut Db, filter: &str, version: Option<i64>) -> Result<Vec<AppliedRow>> {
    type Raw = (i64, String, DateTime<Utc>, bool, Vec<u8>, i64);
    let select = format!(
        "SELECT version, description, installed_on, success, checksum, execution_time FROM {TABLE} {filter} \
         ORDER BY version"
    );
    let rows = on_conn!(&mut db.conn, c => {
        let query = sqlx::query_as::<_, Raw>(AssertSqlSafe(select.as_str()));
        match version {
            Some(version) => query.bind(version).fetch_all(&mut *c).await,
            None => query.fetch_all(&mut *c).await,
        }
    });
    let rows = rows.map_err(|e| db.sql_error(e))?;
    Ok(rows
        .into_iter()
        .map(|(version, description, installed_on, success, checksum, execution_time)| AppliedRow {
            version,
            description,
            installed_on,
            success,
            checksum: hex::encode(checksum),
            execution_time,
        })
        .collect())
}

/// A failed migration, naming its file; the driver's message is scrubbed of the password. A
/// lock timeout stays one, so that it can be retried (on MariaDB once sqlx's mark is undone).
async fn after_failure(db: &mut Db, file: &MigrationFile, down: bool, e: MigrateError) -> DbError {
    let path = if down { &file.down_path } else { &file.up_path };
    let (cause, lock_timeout) = match e {
        MigrateError::ExecuteMigration(inner, _) | MigrateError::Execute(inner) => {
            let lock_timeout = is_lock_timeout(db.dialect(), &inner);
            (inner.to_string(), lock_timeout)
        }
        other => (other.to_string(), false),
    };
    let cause = db.url.scrub(cause);
    let message = format!("{} failed: {cause}", path.display());
    if lock_timeout {
        return match undo_dirty_mark(db, file, down).await {
            Ok(()) => DbError::LockTimeout { message: format!("migration {}: {message}", file.version) },
            Err(why) => DbError::Migration { version: file.version, message: format!("{message}; {why}") },
        };
    }
    // MariaDB/MySQL: an apply that failed after an implicit commit left the version dirty;
    // say which statements stayed applied.
    if !down && db.dialect() == Dialect::MySql {
        // sqlx's transaction was rolled back; what the implicit commits kept is in the table.
        let dirty = read_rows(db).await.is_ok_and(|rows| rows.iter().any(|r| r.version == file.version && !r.success));
        if dirty {
            let half = HalfApplied::new(file.version, file.up_path.clone(), &file.up_sql, cause);
            return DbError::HalfApplied(Box::new(half));
        }
    }
    DbError::Migration { version: file.version, message }
}

/// sqlx on MySQL/MariaDB marks the version `success = false` before the file's SQL, and DDL
/// commits that mark at once; when the DDL then gives up waiting for a lock, the mark stays and
/// the version reads as dirty. A file of one statement did nothing: the mark is undone (the row
/// removed after an apply, set back to true after a revert), so that a retry runs it again.
/// With several statements, those before the one that waited are in place: it stays dirty.
async fn undo_dirty_mark(db: &mut Db, file: &MigrationFile, down: bool) -> std::result::Result<(), String> {
    if db.dialect() != Dialect::MySql {
        // PostgreSQL and SQLite roll the SQL and the bookkeeping back together.
        return Ok(());
    }
    let rows = read_rows(db).await.map_err(|e| format!("reading {TABLE} afterwards failed: {e}"))?;
    if !rows.iter().any(|row| row.version == file.version && !row.success) {
        // A row lock wait: no DDL ran, the transaction rolled the mark back.
        return Ok(());
    }
    let sql = if down { &file.down_sql } else { &file.up_sql };
    match statements::split(sql, Dialect::MySql).map(|all| all.len()) {
        Some(1) => {}
        count => {
            let count =
                count.map_or_else(|| "statements that cannot be counted".to_string(), |n| format!("{n} statements"));
            return Err(format!(
                "the file has {count}, and MariaDB commits each DDL statement at once: those before the one that \
                 waited may be in place, so the version is left dirty (success = false) for a human to check"
            ));
        }
    }
    // The version is bound; TABLE is spelled out because the query text must be a literal.
    let undo = if down {
        "UPDATE _sqlx_migrations SET success = TRUE WHERE version = ? AND success = FALSE"
    } else {
        "DELETE FROM _sqlx_migrations WHERE version = ? AND success = FALSE"
    };
    let undone = match &mut db.conn {
        Conn::MySql(c) => sqlx::query(undo).bind(file.version).execute(&mut *c).await,
        _ => unreachable!("the dialect names the connection"),
    };
    undone.map(drop).map_err(|e| format!("undoing sqlx's success = false mark failed: {}", db.sql_error(e)))
}

/// An error of sqlx's bookkeeping queries (not of a migration's own SQL).
fn bookkeeping(db: &Db, e: MigrateError) -> DbError {
    match e {
        MigrateError::Execute(inner) => db.sql_error(inner),
        other => DbError::Sql { message: db.url.scrub(other.to_string()), code: None },
    }
}

impl Db {
    fn migrate(&mut self) -> &mut (dyn Migrate + Send) {
        match &mut self.conn {
            Conn::Postgres(c) => c,
            Conn::MySql(c) => c,
            Conn::Sqlite(c) => c,
        }
    }
}

/// Folders and rows for unit tests: `m/<v>_step.up.sql` creating `t<v>`, and its applied row.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::PathBuf;

    use super::*;

    pub fn file(version: i64) -> MigrationFile {
        MigrationFile {
            version,
            description: format!("step {version}"),
            up_path: PathBuf::from(format!("m/{version}_step.up.sql")),
            up_sql: format!("CREATE TABLE t{version} (id INT);"),
            down_path: PathBuf::from(format!("m/{version}_step.down.sql")),
            down_sql: format!("DROP TABLE t{version};"),
        }
    }

    pub fn set(versions: &[i64]) -> MigrationSet {
        MigrationSet { dir: PathBuf::from("m"), migrations: versions.iter().map(|v| file(*v)).collect() }
    }

    pub fn row(version: i64) -> AppliedRow {
        AppliedRow {
            version,
            description: format!("step {version}"),
            installed_on: DateTime::default(),
            success: true,
            checksum: checksum(&file(version)),
            execution_time: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{file, row, set};
    use super::*;

    fn versions(files: &[&MigrationFile]) -> Vec<i64> {
        files.iter().map(|f| f.version).collect()
    }

    #[test]
    fn up_takes_pending_versions_up_to_the_target_in_order() {
        let set = set(&[1, 2, 3, 4, 5]);
        let applied = [row(1), row(3)];
        assert_eq!(versions(&plan_up(&set, &applied, None)), vec![2, 4, 5]);
        assert_eq!(versions(&plan_up(&set, &applied, Some(4))), vec![2, 4]);
        assert_eq!(versions(&plan_up(&set, &applied, Some(1))), Vec::<i64>::new());
    }

    #[test]
    fn out_of_order_are_pending_versions_below_the_newest_applied() {
        let set = set(&[1, 2, 3, 4, 5]);
        assert_eq!(versions(&out_of_order(&set, &[row(1), row(4)])), vec![2, 3]);
        assert_eq!(versions(&out_of_order(&set, &[row(1), row(2)])), Vec::<i64>::new());
        assert_eq!(versions(&out_of_order(&set, &[])), Vec::<i64>::new());
    }

    #[test]
    fn a_dirty_version_refuses_and_is_named() {
        let mut half = row(2);
        half.success = false;
        assert_eq!(dirty(&[row(1), half.clone()]), Some(2));
        assert!(refuse_dirty(&[row(1)]).is_ok());
        let message = refuse_dirty(&[row(1), half]).unwrap_err().to_string();
        assert!(message.starts_with("migration 2 is half-applied (success = false"), "{message}");
        assert!(message.contains("DELETE FROM _sqlx_migrations WHERE version = 2"), "{message}");
    }

    #[test]
    fn down_takes_applied_versions_above_the_target_newest_first() {
        let set = set(&[1, 2, 3, 4]);
        let applied = [row(1), row(2), row(4)];
        assert_eq!(versions(&plan_down(&set, &applied, 1).unwrap()), vec![4, 2]);
        assert_eq!(versions(&plan_down(&set, &applied, 0).unwrap()), vec![4, 2, 1]);
        assert_eq!(versions(&plan_down(&set, &applied, 4).unwrap()), Vec::<i64>::new());
    }

    #[test]
    fn down_refuses_an_applied_version_without_a_file() {
        let set = set(&[1, 2]);
        let message = plan_down(&set, &[row(1), row(7)], 0).unwrap_err().to_string();
        assert_eq!(message, "migration 7: is applied but has no file in m: cannot revert it");
    }

    #[test]
    fn out_of_order_takes_pending_versions_below_the_newest_applied() {
        let set = set(&[1, 2, 3, 4, 5]);
        assert_eq!(versions(&out_of_order(&set, &[row(1), row(3)])), vec![2]);
        assert_eq!(versions(&out_of_order(&set, &[row(1), row(2), row(4)])), vec![3]);
        assert_eq!(versions(&out_of_order(&set, &[row(1), row(2)])), Vec::<i64>::new(), "in order");
        assert_eq!(versions(&out_of_order(&set, &[])), Vec::<i64>::new(), "nothing applied");
    }

    #[test]
    fn verify_names_missing_and_changed_files() {
        let set = set(&[1, 2]);
        assert!(verify_applied(&set, &[row(1), row(2)]).is_ok());
        let missing = verify_applied(&set, &[row(1), row(3)]).unwrap_err().to_string();
        assert_eq!(missing, "migration 3: is applied but missing from m");
        let mut changed = row(2);
        changed.checksum = "00".into();
        let message = verify_applied(&set, &[changed]).unwrap_err().to_string();
        assert!(message.contains("m/2_step.up.sql was changed"), "{message}");
    }

    #[test]
    fn statements_are_counted_as_mariadb_runs_them() {
        let statement_count = |sql: &str| statements::split(sql, Dialect::MySql).map(|s| s.len());
        assert_eq!(statement_count("-- a comment; with a semicolon\nALTER TABLE t ADD COLUMN c INT;\n"), Some(1));
        assert_eq!(statement_count("ALTER TABLE t ADD COLUMN c INT"), Some(1));
        assert_eq!(statement_count("INSERT INTO t VALUES ('a;b', \"c;d\", 'it\\'s;'); # trailing; comment"), Some(1));
        assert_eq!(statement_count("/* one; */ CREATE TABLE a (id INT); CREATE TABLE b (id INT);"), Some(2));
        assert_eq!(statement_count("/*!50000 CREATE TABLE a (id INT) */; CREATE TABLE b (id INT)"), Some(2));
        assert_eq!(statement_count("-- nothing but a comment\n"), Some(0));
        assert_eq!(statement_count("SELECT 'unterminated"), None);
    }

    #[test]
    fn only_concurrent_index_files_wait_without_a_lock_timeout() {
        assert!(only_concurrently("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);\n"));
        assert!(only_concurrently("DROP INDEX CONCURRENTLY IF EXISTS i; REINDEX INDEX CONCURRENTLY j;"));
        assert!(!only_concurrently("CREATE INDEX CONCURRENTLY i ON t (c); ALTER TABLE t ADD COLUMN d INT;"));
        assert!(!only_concurrently("-- CONCURRENTLY, in a comment\nVACUUM FULL t;"));
        assert!(!only_concurrently("INSERT INTO log VALUES ('concurrently');"));
        assert!(!only_concurrently("-- no-transaction\n"));
    }

    #[test]
    fn sqlx_migration_matches_the_file() {
        let mut f = file(3);
        f.down_sql = "-- no-transaction\nDROP TABLE t3;".into();
        let up = to_sqlx(&f, false);
        assert_eq!(up.migration_type, MigrationType::ReversibleUp);
        assert_eq!(up.description, "step 3");
        assert!(!up.no_tx);
        assert_eq!(up.checksum.len(), 48, "SHA-384");
        let down = to_sqlx(&f, true);
        assert_eq!(down.migration_type, MigrationType::ReversibleDown);
        assert!(down.no_tx);
        f.up_sql = "\n-- no-transaction\nCREATE TABLE t3 (id INT);".into();
        assert!(!to_sqlx(&f, false).no_tx, "only the very first bytes count");
    }
}
