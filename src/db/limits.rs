//! How long a session's statements may wait for a lock and run, in each dialect's terms, and how
//! each dialect says that a statement gave up waiting.
//!
//! - PostgreSQL: `lock_timeout` and `statement_timeout` (milliseconds); a wait cut off is
//!   SQLSTATE 55P03.
//! - MariaDB: `lock_wait_timeout` (metadata locks, what DDL waits for) and
//!   `innodb_lock_wait_timeout` (row locks), both in whole seconds, and `max_statement_time`
//!   (MySQL has none for DDL); a wait cut off is error 1205 either way.
//! - SQLite: `busy_timeout`, how long a connection retries a locked database file before
//!   SQLITE_BUSY; it has no statement timeout.

use std::time::Duration;

use sqlx::mysql::MySqlDatabaseError;

use super::{Conn, Db, Dialect, Result};

/// MariaDB's and MySQL's ER_LOCK_WAIT_TIMEOUT.
const MYSQL_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// The largest value MariaDB takes for its timeouts (one year, in seconds).
const MYSQL_MAX_SECONDS: u64 = 31_536_000;

/// What `Db::restore_limits` needs to put a session back as it was.
#[must_use = "pass it to Db::restore_limits"]
pub struct SavedLimits {
    /// SQLite's busy timeout before; the servers reset to their session defaults instead.
    busy_timeout_ms: Option<i64>,
}

/// The lock timeout a dialect applies for `wanted`: MariaDB counts whole seconds, at least one.
pub fn effective_lock_timeout(dialect: Dialect, wanted: Duration) -> Duration {
    match dialect {
        Dialect::MySql => Duration::from_secs(mysql_seconds(wanted)),
        Dialect::Postgres | Dialect::Sqlite => Duration::from_millis(millis(wanted)),
    }
}

impl Db {
    /// Bounds how long each statement of this session may wait for a lock and run, until
    /// `restore_limits`. SQLite has no statement timeout: `statement_timeout` does nothing there.
    pub async fn limit(&mut self, lock_timeout: Duration, statement_timeout: Duration) -> Result<SavedLimits> {
        // Numbers of our own, not user text: they are written into the SQL.
        let sql = match self.dialect() {
            Dialect::Postgres => {
                format!(
                    "SET lock_timeout = {}; SET statement_timeout = {}",
                    millis(lock_timeout),
                    millis(statement_timeout)
                )
            }
            Dialect::MySql => {
                let lock = mysql_seconds(lock_timeout);
                let statement = statement_timeout.as_secs_f64().min(MYSQL_MAX_SECONDS as f64);
                // `/*M! … */` runs on MariaDB only: MySQL has no statement timeout for DDL
                // (its max_execution_time bounds SELECTs) and would refuse the name.
                format!(
                    "SET SESSION lock_wait_timeout = {lock}, innodb_lock_wait_timeout = {lock} \
                     /*M! , max_statement_time = {statement:.3} */"
                )
            }
            Dialect::Sqlite => {
                let before = match &mut self.conn {
                    Conn::Sqlite(c) => sqlx::query_scalar::<_, i64>("PRAGMA busy_timeout").fetch_one(&mut *c).await,
                    _ => unreachable!("the dialect names the connection"),
                };
                let before = before.map_err(|e| self.sql_error(e))?;
                self.execute(&format!("PRAGMA busy_timeout = {}", millis(lock_timeout))).await?;
                return Ok(SavedLimits { busy_timeout_ms: Some(before) });
            }
        };
        self.execute(&sql).await?;
        Ok(SavedLimits { busy_timeout_ms: None })
    }

    /// Puts the session's timeouts back as they were before `limit`.
    pub async fn restore_limits(&mut self, saved: SavedLimits) -> Result<()> {
        let sql = match (self.dialect(), saved.busy_timeout_ms) {
            // RESET: the value the session started with, from the server or the connection string.
            (Dialect::Postgres, _) => "RESET lock_timeout; RESET statement_timeout".to_string(),
            // DEFAULT: the server's global value, which every new session starts with.
            (Dialect::MySql, _) => "SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT \
                                    /*M! , max_statement_time = DEFAULT */"
                .to_string(),
            (Dialect::Sqlite, before) => format!("PRAGMA busy_timeout = {}", before.unwrap_or(0)),
        };
        self.execute(&sql).await.map(drop)
    }
}

impl Db {
    /// PostgreSQL: lifts the session's lock timeout; returns the value `put_lock_timeout` restores.
    pub(super) async fn lift_lock_timeout(&mut self) -> Result<String> {
        let before = match &mut self.conn {
            Conn::Postgres(c) => sqlx::query_scalar("SELECT current_setting('lock_timeout')").fetch_one(&mut *c).await,
            _ => unreachable!("only PostgreSQL lifts its lock timeout"),
        };
        let before = before.map_err(|e| self.sql_error(e))?;
        self.execute("SET lock_timeout = 0").await?;
        Ok(before)
    }

    pub(super) async fn put_lock_timeout(&mut self, value: String) -> Result<()> {
        let put = match &mut self.conn {
            Conn::Postgres(c) => {
                sqlx::query("SELECT set_config('lock_timeout', $1, false)").bind(value).execute(&mut *c).await
            }
            _ => unreachable!("only PostgreSQL lifts its lock timeout"),
        };
        put.map(drop).map_err(|e| self.sql_error(e))
    }
}

/// Whether a driver error says that a statement gave up waiting for a lock.
pub(super) fn is_lock_timeout(dialect: Dialect, e: &sqlx::Error) -> bool {
    let Some(e) = e.as_database_error() else {
        return false;
    };
    match dialect {
        Dialect::Postgres => e.code().as_deref() == Some("55P03"),
        // MySQL's SQLSTATE is a generic HY000 here: the error number says it.
        Dialect::MySql => {
            e.try_downcast_ref::<MySqlDatabaseError>().is_some_and(|e| e.number() == MYSQL_LOCK_WAIT_TIMEOUT)
        }
        // SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, BUSY_TIMEOUT).
        Dialect::Sqlite => e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 5),
    }
}

/// Milliseconds, at least one (zero turns the timeouts off) and within a 32-bit integer.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).clamp(1, i32::MAX as u64)
}

/// Whole seconds, rounded up, at least one.
fn mysql_seconds(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).clamp(1, u128::from(MYSQL_MAX_SECONDS)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_rounds_lock_timeouts_up_to_whole_seconds() {
        let effective = |ms| effective_lock_timeout(Dialect::MySql, Duration::from_millis(ms)).as_millis();
        assert_eq!(
            [effective(1), effective(500), effective(1000), effective(1001), effective(2000)],
            [1000, 1000, 1000, 2000, 2000]
        );
        assert_eq!(effective_lock_timeout(Dialect::Postgres, Duration::from_millis(1500)).as_millis(), 1500);
        assert_eq!(effective_lock_timeout(Dialect::Sqlite, Duration::from_micros(10)).as_millis(), 1, "never zero");
    }
}
