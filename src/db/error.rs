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
    #[error("the query returned {0} rows, expected exactly one")]
    RowCount(usize),
    #[error("the query returned {0} columns, expected exactly one")]
    ColumnCount(usize),
    #[error("cannot show a value of type {0}: cast it to text in the query")]
    UnsupportedType(String),
    #[error("migration {version}: {message}")]
    Migration { version: i64, message: String },
    #[error(
        "migration {0} is partially applied (success = false in _sqlx_migrations): repair the schema by hand, \
         delete that row, then run again"
    )]
    Dirty(i64),
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
}

/// Results of the database layer.
pub type Result<T> = std::result::Result<T, DbError>;
