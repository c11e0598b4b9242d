//! Scratch databases on a PostgreSQL or MariaDB server, for tests and rehearsals, and the
//! environment variables that name the test servers. `Scratch` is what a rehearsal works on
//! in every dialect: a scratch database on the server, or a SQLite file in a temporary folder.
//!
//! Dropping a scratch database is async, `Drop` is not: `drop_now().await` is the way to drop
//! one. As a safety net, a `ScratchDatabase` dropped without it (a failed assertion, an early
//! return) drops its database from `Drop` on a thread of its own with its own small runtime,
//! joined before `Drop` returns: it never needs the caller's runtime (which may be the one
//! being blocked), and nothing is left running after the value is gone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use sqlx::{ConnectOptions, Connection};

use super::{Db, DbError, DbUrl, Dialect, Result, sql_error};

/// How long the safety net in `Drop` may take.
const DROP_TIMEOUT: Duration = Duration::from_secs(20);

/// The test server for a dialect, from RUNSHEET_TEST_POSTGRES_URL or RUNSHEET_TEST_MYSQL_URL.
pub fn server_url_from_env(dialect: Dialect) -> Option<String> {
    env_var(dialect).and_then(|name| std::env::var(name).ok()).filter(|url| !url.trim().is_empty())
}

/// The variable naming the test server of a dialect (None for SQLite, which needs no server).
pub fn env_var(dialect: Dialect) -> Option<&'static str> {
    match dialect {
        Dialect::Postgres => Some("RUNSHEET_TEST_POSTGRES_URL"),
        Dialect::MySql => Some("RUNSHEET_TEST_MYSQL_URL"),
        Dialect::Sqlite => None,
    }
}

/// The test server URL, or None after printing `skipped <test>: set <VAR> to run it` to stderr.
pub fn server_url_or_skip(dialect: Dialect, test: &str) -> Option<String> {
    let url = server_url_from_env(dialect);
    if url.is_none() {
        let var = env_var(dialect).unwrap_or("a server URL");
        eprintln!("skipped {test}: set {var} to run it");
    }
    url
}

/// A uniquely named database created on a server, dropped by `drop_now` (or, failing that, on drop).
pub struct ScratchDatabase {
    server: DbUrl,
    name: String,
    url: DbUrl,
    dropped: bool,
}

impl ScratchDatabase {
    /// Creates `<prefix>_<pid>_<counter>_<random>` on the server of `server_url`.
    pub async fn create(server_url: &str, prefix: &str) -> Result<ScratchDatabase> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let server = DbUrl::parse(server_url)?;
        if server.dialect() == Dialect::Sqlite {
            return Err(DbError::Url("scratch databases need a PostgreSQL or MariaDB server URL".into()));
        }
        let prefix: String = prefix
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(24)
            .collect();
        // Both servers allow 63 characters at least; this stays below 50.
        let name = format!(
            "{prefix}_{}_{}_{:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            OsRng.next_u32()
        );
        let url = server.with_database(&name)?;
        let mut db = Db::connect(&server).await?;
        db.execute(&format!("CREATE DATABASE {}", quoted(server.dialect(), &name))).await?;
        db.close().await?;
        Ok(ScratchDatabase { server, name, url, dropped: false })
    }

    /// The URL of the scratch database (same server and credentials).
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, disconnecting whoever is still connected to it (PostgreSQL).
    pub async fn drop_now(mut self) -> Result<()> {
        self.dropped = true;
        drop_database(&self.server, &self.name).await
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        let outcome = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                match tokio::time::timeout(DROP_TIMEOUT, drop_database(&server, &name)).await {
                    Ok(dropped) => dropped.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {}s", DROP_TIMEOUT.as_secs())),
                }
            })
        })
        .join();
        if let Ok(Err(message)) | Err(message) = outcome.map_err(|_| "the drop thread panicked".to_string()) {
            tracing::warn!(database = %self.name, "scratch database not dropped: {message}");
        }
    }
}

/// A database to rehearse on, never the given one: on a server, a new database next to it
/// (dropped afterwards); on SQLite, a file in a temporary folder (removed afterwards), a
/// consistent copy of the given file when it exists, else empty.
pub enum Scratch {
    Server(ScratchDatabase),
    Sqlite {
        url: DbUrl,
        copy_of: Option<PathBuf>,
        /// Removed with everything in it when the value is dropped.
        folder: tempfile::TempDir,
    },
}

impl Scratch {
    pub async fn create(given: &DbUrl, prefix: &str) -> Result<Scratch> {
        if given.dialect() != Dialect::Sqlite {
            return Ok(Scratch::Server(ScratchDatabase::create(given.expose_url(), prefix).await?));
        }
        let folder = tempfile::Builder::new()
            .prefix(&format!("runsheet-{prefix}-"))
            .tempdir()
            .map_err(|e| DbError::Scratch(format!("cannot create a temporary folder: {e}")))?;
        let file = folder.path().join("scratch.db");
        let copy_of = given.sqlite_path().filter(|p| p.is_file()).map(PathBuf::from);
        if copy_of.is_some() {
            copy_sqlite(given, &file).await?;
        }
        let url = DbUrl::parse(&format!("sqlite:{}", file.display()))?;
        Ok(Scratch::Sqlite { url, copy_of, folder })
    }

    /// The URL of the scratch database.
    pub fn url(&self) -> &DbUrl {
        match self {
            Scratch::Server(db) => db.url(),
            Scratch::Sqlite { url, .. } => url,
        }
    }

    /// What and where it is, in words (never a password).
    pub fn describe(&self) -> String {
        match self {
            Scratch::Server(db) => format!("scratch database {}", db.url().display_target()),
            Scratch::Sqlite { url, copy_of: Some(source), .. } => {
                format!("a copy of {} at {}", source.display(), url.display_target())
            }
            Scratch::Sqlite { url, copy_of: None, .. } => format!("an empty SQLite file at {}", url.display_target()),
        }
    }

    /// Drops the database or removes the folder.
    pub async fn drop_now(self) -> Result<()> {
        match self {
            Scratch::Server(db) => db.drop_now().await,
            Scratch::Sqlite { folder, .. } => {
                folder.close().map_err(|e| DbError::Scratch(format!("cannot remove the temporary folder: {e}")))
            }
        }
    }
}

/// `VACUUM INTO` a new file: a consistent snapshot even while others write, with the given
/// file opened read-only so that nothing can change it.
async fn copy_sqlite(given: &DbUrl, to: &std::path::Path) -> Result<()> {
    let connect_error = |e: sqlx::Error| DbError::Connect { target: given.display_target(), message: e.to_string() };
    let options = given.sqlite_options().map_err(connect_error)?.read_only(true).create_if_missing(false);
    let mut conn = options.connect().await.map_err(connect_error)?;
    let target = to.to_str().ok_or_else(|| DbError::Scratch(format!("{} is not UTF-8", to.display())))?;
    let copied = sqlx::query("VACUUM INTO ?").bind(target).execute(&mut conn).await;
    let closed = conn.close().await;
    copied.map_err(|e| sql_error(given, e))?;
    closed.map_err(|e| sql_error(given, e))
}

async fn drop_database(server: &DbUrl, name: &str) -> Result<()> {
    let force = match server.dialect() {
        // PostgreSQL 13+: ends the sessions still connected to it instead of failing.
        Dialect::Postgres => " WITH (FORCE)",
        _ => "",
    };
    let mut db = Db::connect(server).await?;
    db.execute(&format!("DROP DATABASE IF EXISTS {}{force}", quoted(server.dialect(), name))).await?;
    db.close().await
}

/// The name quoted as an identifier (it is our own `[a-z0-9_]` name, quoted for form's sake).
fn quoted(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}
