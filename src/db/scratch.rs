//! Scratch databases on a PostgreSQL or MariaDB server, for tests and rehearsals, and the
//! environment variables that name the test servers.
//!
//! Dropping a scratch database is async, `Drop` is not: `drop_now().await` is the way to drop
//! one. As a safety net, a `ScratchDatabase` dropped without it (a failed assertion, an early
//! return) drops its database from `Drop` on a thread of its own with its own small runtime,
//! joined before `Drop` returns: it never needs the caller's runtime (which may be the one
//! being blocked), and nothing is left running after the value is gone.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Db, DbError, DbUrl, Dialect, Result};
use rand_core::{OsRng, RngCore};

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
