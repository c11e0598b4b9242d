//! The run lock: one run per database at a time.
//!
//! On PostgreSQL and MariaDB it is the very advisory lock sqlx's `Migrator` takes (same key,
//! same name), held by a dedicated connection: closing that connection, or losing it, releases
//! the lock, so a crashed run never leaves it behind. It is only ever tried, never waited for.
//! On PostgreSQL this also holds off an application running sqlx's `Migrator` at startup until
//! the run ends. Nothing holds off the `sqlx migrate` command (it takes no lock), nor sqlx's
//! `Migrator` on MariaDB: it asks for `GET_LOCK(name, -1)`, which MariaDB answers with NULL at
//! once, and goes on regardless.
//! SQLite has no server: an exclusive lock on `<db file>.runsheet.lock` plays its part (the file
//! stays; deleting it while others may open it would let two runs hold "the" lock).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use super::{Conn, Db, DbError, DbUrl, Dialect, Result, sql_error};

/// A held run lock; dropping it releases it too.
pub struct RunLock {
    held: Held,
}

enum Held {
    Server {
        db: Db,
        key: Key,
    },
    File {
        _file: File,
        path: PathBuf,
    },
    /// An in-memory SQLite database is private to its connection: nothing to exclude.
    Memory,
}

enum Key {
    Postgres(i64),
    MySql(String),
}

impl RunLock {
    /// Takes the lock if it is free; `None` when another run (or sqlx's `Migrator`) holds it.
    pub async fn try_acquire(url: &DbUrl) -> Result<Option<RunLock>> {
        if url.dialect() == Dialect::Sqlite {
            return Self::try_file(url);
        }
        let mut db = Db::connect(url).await?;
        let taken = match &mut db.conn {
            Conn::Postgres(c) => {
                let name: String = sqlx::query_scalar("SELECT current_database()")
                    .fetch_one(&mut *c)
                    .await
                    .map_err(|e| sql_error(url, e))?;
                let key = postgres_key(&name);
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(|e| sql_error(url, e))?;
                got.then_some(Key::Postgres(key))
            }
            Conn::MySql(c) => {
                let name: Option<String> =
                    sqlx::query_scalar("SELECT DATABASE()").fetch_one(&mut *c).await.map_err(|e| sql_error(url, e))?;
                let name = name.ok_or_else(|| DbError::Url(format!("{url} names no database to lock")))?;
                let key = mysql_name(&name);
                // 1: taken, 0: held elsewhere, NULL: an error on the server.
                let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
                    .bind(&key)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(|e| sql_error(url, e))?;
                match got {
                    Some(1) => Some(Key::MySql(key)),
                    Some(_) => None,
                    None => {
                        return Err(DbError::Sql {
                            message: format!("GET_LOCK('{key}') failed on the server"),
                            code: None,
                        });
                    }
                }
            }
            Conn::Sqlite(_) => unreachable!("SQLite is locked with a file"),
        };
        match taken {
            Some(key) => Ok(Some(RunLock { held: Held::Server { db, key } })),
            None => {
                db.close().await?;
                Ok(None)
            }
        }
    }

    fn try_file(url: &DbUrl) -> Result<Option<RunLock>> {
        let Some(db_path) = url.sqlite_path() else {
            return Ok(Some(RunLock { held: Held::Memory }));
        };
        let mut path = db_path.as_os_str().to_owned();
        path.push(".runsheet.lock");
        let path = PathBuf::from(path);
        let file_error = |message: String| DbError::LockFile { path: path.clone(), message };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| file_error(format!("cannot open the run lock file: {e}")))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { held: Held::File { _file: file, path } })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(file_error(format!("cannot lock the run lock file: {e}"))),
        }
    }

    /// What is held, for messages and the audit log.
    pub fn describe(&self) -> String {
        match &self.held {
            Held::Server { key: Key::Postgres(key), .. } => {
                format!("PostgreSQL advisory lock {key} (sqlx's migration lock)")
            }
            Held::Server { key: Key::MySql(name), .. } => format!("MySQL lock '{name}' (sqlx's migration lock)"),
            Held::File { path, .. } => format!("lock file {}", path.display()),
            Held::Memory => "none (in-memory SQLite)".to_string(),
        }
    }

    /// Releases the lock and closes its connection.
    pub async fn release(self) -> Result<()> {
        let Held::Server { mut db, key } = self.held else {
            // Dropping the file closes it, which releases the lock.
            return Ok(());
        };
        // The key is our own number or hex string, never user text.
        let unlocked = match (&key, &mut db.conn) {
            (Key::Postgres(key), Conn::Postgres(c)) => {
                sqlx::query("SELECT pg_advisory_unlock($1)").bind(*key).execute(&mut *c).await.map(drop)
            }
            (Key::MySql(name), Conn::MySql(c)) => {
                sqlx::query("SELECT RELEASE_LOCK(?)").bind(name).execute(&mut *c).await.map(drop)
            }
            _ => unreachable!("a lock key always matches its connection"),
        };
        unlocked.map_err(|e| db.sql_error(e))?;
        db.close().await
    }
}

/// sqlx-postgres's `generate_lock_id`: `0x3d32ad9e * crc32(current_database())`.
fn postgres_key(database: &str) -> i64 {
    const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32ad9e * i64::from(CRC.checksum(database.as_bytes()))
}

/// sqlx-mysql's `generate_lock_id`: the same number, as lower-case hex.
fn mysql_name(database: &str) -> String {
    format!("{:x}", postgres_key(database))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_sqlx() {
        // Computed independently: python3 -c "import zlib; print(0x3d32ad9e * zlib.crc32(b'postgres'))"
        assert_eq!(postgres_key("postgres"), 368907709894077238);
        assert_eq!(mysql_name("postgres"), "51e9f9b8b23ab36");
        // The product fits an i64 for every crc32.
        assert!(0x3d32ad9e_i64.checked_mul(i64::from(u32::MAX)).is_some());
    }
}
