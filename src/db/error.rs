//! Errors of the database layer. Every message built from a driver error has the URL's password
//! scrubbed out before it gets here, so `Display` is safe for screens and the audit log.

use std::path::PathBuf;

/// What went wrong talking to a database; never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("invalid database URL: {0}")]
    Url(String),
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    /// A statement failed; `code` is the SQLSTATE (PostgreSQL) or error code (MySQL) when known.
    #[error("{message}")]
    Sql { message: String, code: Option<String> },
    /// The connection broke (network, server restart): reconnect before anything else.
    #[error("connection lost: {message}")]
    Lost { message: String },
    #[error("the query returned {0} rows, expected exactly one")]
    RowCount(usize),
    #[error("the query returned {0} columns, expected exactly one")]
    ColumnCount(usize),
    #[error("cannot show a value of type {0}: cast it to text in the query")]
    UnsupportedType(String),
    #[error("migration {version}: {message}")]
    Migration { version: i64, message: String },
    /// A migration that just failed half-way on MariaDB/MySQL, with what stayed applied.
    #[error("{0}")]
    HalfApplied(Box<super::half_applied::HalfApplied>),
    /// A version left half-applied by an earlier failure (`success = false`, MariaDB/MySQL only).
    #[error(
        "migration {0} is half-applied (success = false in _sqlx_migrations: it failed part-way on MariaDB/MySQL, \
         whose DDL commits at once; `runsheet status` shows it): no migration is applied or reverted on this \
         database until a person has repaired it. {repair}",
        repair = super::half_applied::repair(*.0)
    )]
    Dirty(i64),
    #[error("scratch database: {0}")]
    Scratch(String),
    #[error("{}: {message}", path.display())]
    LockFile { path: PathBuf, message: String },
    /// A statement gave up waiting for a lock another session holds (PostgreSQL `lock_timeout`,
    /// MariaDB `lock_wait_timeout`, SQLite busy): nothing of it was done, it may be retried.
    #[error("{message}")]
    LockTimeout { message: String },
}

impl DbError {
    /// Whether a statement gave up waiting for a lock, the error worth retrying after a while.
    pub fn is_lock_timeout(&self) -> bool {
        matches!(self, DbError::LockTimeout { .. })
    }

    /// The connection is gone (dropped, or ended by the server): only a new one goes on.
    pub fn is_connection_error(&self) -> bool {
        /// PostgreSQL admin shutdown and connection exceptions; MySQL/MariaDB server gone away
        /// and lost connection.
        const CONNECTION: &[&str] = &["57P01", "08000", "08003", "08006", "2006", "2013"];
        match self {
            DbError::Lost { .. } => true,
            DbError::Sql { code: Some(code), .. } => CONNECTION.contains(&code.as_str()),
            _ => false,
        }
    }

    /// Worth retrying after a pause: a lock timeout, a deadlock, a serialization failure, a
    /// busy database, a lost connection.
    pub fn is_transient(&self) -> bool {
        /// PostgreSQL serialization failure, deadlock, lock timeout; MySQL/MariaDB lock wait
        /// timeout, deadlock; SQLite busy, locked, busy while recovering or for a snapshot.
        const CONTENTION: &[&str] = &["40001", "40P01", "55P03", "1205", "1213", "5", "6", "261", "517"];
        let contended = matches!(self, DbError::Sql { code: Some(code), .. } if CONTENTION.contains(&code.as_str()));
        self.is_lock_timeout() || self.is_connection_error() || contended
    }
}

/// Results of the database layer.
pub type Result<T> = std::result::Result<T, DbError>;
