//! Databases by URL (`postgres://`, `mysql://`/`mariadb://`, `sqlite:`), and every difference
//! between their dialects in one place: placeholders, value rendering, the run lock, the
//! migrations wrapper over sqlx's `Migrate` trait, the schema fingerprint, scratch databases.

pub mod backfill;
mod error;
pub mod half_applied;
mod holders;
pub mod keyset;
mod limits;
pub mod lock;
pub mod migrations;
mod params;
pub mod schema;
pub mod scratch;
pub mod statements;
pub mod url;
mod value;

use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, Row};

pub use backfill::{CHECKPOINT_TABLE, Checkpoint};
pub use error::{DbError, Result};
pub use holders::{LockHolder, LockHolders};
pub use keyset::{KeyColumn, KeyType, Keyset, SqlValue, Stmt};
pub use limits::{SavedLimits, effective_lock_timeout};
pub use lock::RunLock;
pub use params::render;
pub use scratch::{ScratchDatabase, server_url_from_env};
pub use url::DbUrl;

/// How long a connection attempt may take before it is reported as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The SQL dialects runsheet speaks; MariaDB is `MySql` (it goes through sqlx's mysql driver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    /// The name runbooks use for it (`model::DIALECTS`): "postgres", "mysql" or "sqlite".
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The placeholder of the `n`th (1-based) bound parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::MySql | Dialect::Sqlite => "?".to_string(),
        }
    }
}

/// One open connection to a database.
pub struct Db {
    conn: Conn,
    url: DbUrl,
}

enum Conn {
    Postgres(PgConnection),
    MySql(MySqlConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same code on whichever connection type is open (the code is generic, the types are not).
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Postgres($c) => $body,
            Conn::MySql($c) => $body,
            Conn::Sqlite($c) => $body,
        }
    };
}
use on_conn;

/// Whether a connection may change the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    /// For looking only (`runsheet status`): the server refuses writes, a SQLite file is not created.
    ReadOnly,
}

impl Db {
    /// Connects; a SQLite file is created when missing.
    pub async fn connect(url: &DbUrl) -> Result<Db> {
        Self::open(url, Access::ReadWrite).await
    }

    /// Connects for reading only: the database itself refuses any change (PostgreSQL
    /// `default_transaction_read_only`, MySQL `SET SESSION TRANSACTION READ ONLY`, SQLite
    /// opened read-only), and a missing SQLite file is an error rather than created.
    pub async fn connect_read_only(url: &DbUrl) -> Result<Db> {
        Self::open(url, Access::ReadOnly).await
    }

    async fn open(url: &DbUrl, access: Access) -> Result<Db> {
        let read_only = access == Access::ReadOnly;
        let connecting = async {
            Ok::<_, sqlx::Error>(match url.dialect() {
                Dialect::Postgres => {
                    let mut options = url.pg_options()?;
                    if options.get_application_name().is_none() {
                        // Shows who holds the lock in pg_stat_activity.
                        options = options.application_name("runsheet");
                    }
                    if read_only {
                        options = options.options([("default_transaction_read_only", "on")]);
                    }
                    Conn::Postgres(options.connect().await?)
                }
                Dialect::MySql => {
                    let mut c = url.mysql_options()?.connect().await?;
                    if read_only {
                        c.execute("SET SESSION TRANSACTION READ ONLY").await?;
                    }
                    Conn::MySql(c)
                }
                Dialect::Sqlite => {
                    let options = url.sqlite_options()?;
                    let options = if read_only { options.read_only(true) } else { options.create_if_missing(true) };
                    Conn::Sqlite(options.connect().await?)
                }
            })
        };
        let connect_error =
            |message: String| DbError::Connect { target: url.display_target(), message: url.scrub(message) };
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(conn)) => Ok(Db { conn, url: url.clone() }),
            Ok(Err(e)) => Err(connect_error(e.to_string())),
            Err(_) => Err(connect_error(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))),
        }
    }

    /// The dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        self.url.dialect()
    }

    /// The URL this connection was opened with.
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Runs a script of one or more statements without parameters; returns the rows affected.
    pub async fn execute(&mut self, sql: &str) -> Result<u64> {
        let done = on_conn!(&mut self.conn, c => {
            c.execute(sqlx::raw_sql(AssertSqlSafe(sql))).await.map(|r| r.rows_affected())
        });
        done.map_err(|e| self.sql_error(e))
    }

    /// Runs a query that must return one row of one column and renders the value as text
    /// (None for NULL). Each parameter binds as an integer, a float or text, whichever it reads as.
    pub async fn query_value(&mut self, sql: &str, params: &[String]) -> Result<Option<String>> {
        let url = &self.url;
        on_conn!(&mut self.conn, c => {
            // No plan survives from an earlier query: runbooks change the schema between two
            // runs of the same query, and PostgreSQL refuses a cached plan whose result type
            // changed. (Unnamed statements, `persistent(false)`, would avoid the cache but
            // break on PostgreSQL when sqlx looks up a custom type, e.g. an enum, mid-query.)
            c.clear_cached_statements().await.map_err(|e| sql_error(url, e))?;
            let rows = params::bind(sqlx::query(AssertSqlSafe(sql)), params).fetch(&mut *c);
            match first_and_count(rows).await.map_err(|e| sql_error(url, e))? {
                (1, Some(row)) if row.columns().len() == 1 => value::render(&row),
                (1, Some(row)) => Err(DbError::ColumnCount(row.columns().len())),
                (n, _) => Err(DbError::RowCount(n)),
            }
        })
    }

    /// Every table of the current database or schema, `_sqlx_migrations` included, sorted by name.
    pub async fn table_names(&mut self) -> Result<Vec<String>> {
        let sql = match self.dialect() {
            Dialect::Postgres => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
            }
            Dialect::MySql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
            }
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        let names = on_conn!(&mut self.conn, c => sqlx::query_scalar(sql).fetch_all(&mut *c).await);
        names.map_err(|e| self.sql_error(e))
    }

    /// Whether the current database or schema (PostgreSQL: the search path) has a table of this name.
    pub async fn has_table(&mut self, name: &str) -> Result<bool> {
        let sql = match self.dialect() {
            Dialect::Postgres => {
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_name = $1 AND table_schema = ANY (current_schemas(false))"
            }
            Dialect::MySql => {
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
            }
            Dialect::Sqlite => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        };
        let count = self.query_value(sql, &[name.to_string()]).await?;
        Ok(count.is_some_and(|n| n != "0"))
    }

    /// Closes the connection cleanly (dropping it also closes it, less politely).
    pub async fn close(self) -> Result<()> {
        let url = self.url;
        let closed = on_conn!(self.conn, c => c.close().await);
        closed.map_err(|e| sql_error(&url, e))
    }

    fn sql_error(&self, e: sqlx::Error) -> DbError {
        sql_error(&self.url, e)
    }
}

/// A driver error as a `DbError`, password scrubbed, the error code kept: SQLSTATE on
/// PostgreSQL, the error number on MySQL/MariaDB (its SQLSTATE is often just HY000), the
/// extended result code on SQLite.
fn sql_error(url: &DbUrl, e: sqlx::Error) -> DbError {
    let message = url.scrub(e.to_string());
    if limits::is_lock_timeout(url.dialect(), &e) {
        return DbError::LockTimeout { message };
    }
    if matches!(e, sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed) {
        return DbError::Lost { message };
    }
    let code = e.as_database_error().and_then(|d| match d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        Some(my) => Some(my.number().to_string()),
        None => d.code().map(|c| c.into_owned()),
    });
    DbError::Sql { message, code }
}

/// The first row of a stream and how many rows it had, without keeping the others.
async fn first_and_count<R>(
    mut rows: impl futures_util::Stream<Item = std::result::Result<R, sqlx::Error>> + Unpin,
) -> std::result::Result<(usize, Option<R>), sqlx::Error> {
    let mut first = None;
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        count += 1;
        if first.is_none() {
            first = Some(row);
        }
    }
    Ok((count, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_names_are_the_runbook_names() {
        let names: Vec<&str> = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite].iter().map(|d| d.name()).collect();
        assert_eq!(names, crate::model::DIALECTS);
    }
}
