//! Database URLs: which dialect, where, and the password kept out of everything shown.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use sqlx::ConnectOptions;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use url::Url;

use super::{DbError, Dialect, Result};

/// What replaces the password wherever a URL is shown.
const MASK: &str = "***";

/// A parsed database URL. `Display` and `Debug` show it with the password masked.
#[derive(Clone)]
pub struct DbUrl {
    raw: String,
    dialect: Dialect,
    target: Target,
}

#[derive(Clone)]
enum Target {
    Server(Url),
    Sqlite { path: PathBuf, memory: bool },
}

impl DbUrl {
    /// Parses `sqlite:`, `postgres://`/`postgresql://` and `mysql://`/`mariadb://` URLs.
    pub fn parse(raw: &str) -> Result<DbUrl> {
        if raw.starts_with("sqlite:") {
            return Self::parse_sqlite(raw);
        }
        // url's errors describe the problem without quoting the input, so no password leaks.
        let url = Url::parse(raw).map_err(|e| DbError::Url(format!("not a database URL: {e}")))?;
        let dialect = match url.scheme() {
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            other => {
                return Err(DbError::Url(format!(
                    "unsupported scheme `{other}:`: use postgres://, postgresql://, mysql://, mariadb:// or sqlite:"
                )));
            }
        };
        let parsed = DbUrl { raw: raw.to_string(), dialect, target: Target::Server(url) };
        // Let sqlx reject what it would reject at connect time (bad ssl-mode, bad port...).
        let checked = match dialect {
            Dialect::Postgres => parsed.pg_options().map(drop),
            _ => parsed.mysql_options().map(drop),
        };
        checked.map_err(|e| DbError::Url(parsed.scrub(e.to_string())))?;
        Ok(parsed)
    }

    fn parse_sqlite(raw: &str) -> Result<DbUrl> {
        // The same split sqlx makes: scheme, then file, then `?` parameters.
        let rest = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")).unwrap_or_default();
        let (file, params) = rest.split_once('?').unwrap_or((rest, ""));
        let options = SqliteConnectOptions::from_str(raw).map_err(|e| DbError::Url(e.to_string()))?;
        let memory = file == ":memory:"
            || url::form_urlencoded::parse(params.as_bytes()).any(|(k, v)| k == "mode" && v == "memory");
        if file.is_empty() && !memory {
            return Err(DbError::Url(format!("`{raw}` names no database file: use sqlite:path/to/file.db")));
        }
        Ok(DbUrl {
            raw: raw.to_string(),
            dialect: Dialect::Sqlite,
            target: Target::Sqlite { path: options.get_filename().to_path_buf(), memory },
        })
    }

    /// The dialect this URL connects to (MariaDB is `MySql`).
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL as given, password included: only for connecting and for child processes' environment.
    pub fn expose_url(&self) -> &str {
        &self.raw
    }

    /// The URL with its password replaced by `***`, for screens and the audit log.
    pub fn redacted(&self) -> String {
        match &self.target {
            Target::Sqlite { .. } => self.raw.clone(),
            Target::Server(url) => {
                let mut url = url.clone();
                if url.password().is_some() {
                    // Cannot fail: a URL that has a password has a host.
                    let _ = url.set_password(Some(MASK));
                }
                if url.query_pairs().any(|(k, _)| k == "password") {
                    let pairs: Vec<(String, String)> = url
                        .query_pairs()
                        .map(|(k, v)| {
                            let v = if k == "password" { MASK.to_string() } else { v.into_owned() };
                            (k.into_owned(), v)
                        })
                        .collect();
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
        }
    }

    /// The password (decoded), from the user info or a `password=` parameter, to register as a secret.
    pub fn password(&self) -> Option<String> {
        let Target::Server(url) = &self.target else {
            return None;
        };
        url.password()
            .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
            .or_else(|| url.query_pairs().find(|(k, _)| k == "password").map(|(_, v)| v.into_owned()))
            .filter(|p| !p.is_empty())
    }

    /// Every spelling of the password that may appear in text: decoded and as written in the URL.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.password().into_iter().collect();
        if let Target::Server(url) = &self.target
            && let Some(written) = url.password()
            && !secrets.iter().any(|s| s == written)
        {
            secrets.push(written.to_string());
        }
        secrets
    }

    /// `host:port/dbname` for servers, the file path for SQLite.
    pub fn display_target(&self) -> String {
        match &self.target {
            Target::Sqlite { memory: true, .. } => ":memory:".to_string(),
            Target::Sqlite { path, .. } => path.display().to_string(),
            Target::Server(url) => {
                // sqlx's view of host and port, which also reads `host=`/`port=` parameters.
                let address = match self.dialect {
                    Dialect::Postgres => self.pg_options().map(|o| (o.get_host().to_string(), o.get_port())),
                    _ => self.mysql_options().map(|o| (o.get_host().to_string(), o.get_port())),
                };
                let (host, port) = address.unwrap_or_else(|_| (url.host_str().unwrap_or_default().to_string(), 0));
                match self.database_name() {
                    Some(db) => format!("{host}:{port}/{db}"),
                    None => format!("{host}:{port}"),
                }
            }
        }
    }

    /// The database this URL selects (PostgreSQL's default is the user name); the file path on SQLite.
    pub fn database_name(&self) -> Option<String> {
        match &self.target {
            Target::Sqlite { memory: true, .. } => None,
            Target::Sqlite { path, .. } => Some(path.display().to_string()),
            Target::Server(_) if self.dialect == Dialect::Postgres => self
                .pg_options()
                .ok()
                .and_then(|o| o.get_database().map(str::to_string).or_else(|| Some(o.get_username().to_string()))),
            Target::Server(_) => self.mysql_options().ok().and_then(|o| o.get_database().map(str::to_string)),
        }
    }

    /// The SQLite database file; None for servers and in-memory databases.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.target {
            Target::Sqlite { path, memory: false } => Some(path),
            _ => None,
        }
    }

    /// The same server and credentials, another database (used for scratch databases).
    pub fn with_database(&self, name: &str) -> Result<DbUrl> {
        let Target::Server(url) = &self.target else {
            return Err(DbError::Url("a SQLite URL names a file, not a server".into()));
        };
        let mut url = url.clone();
        url.set_path(&format!("/{name}"));
        if url.query_pairs().any(|(k, _)| k == "dbname") {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "dbname")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        DbUrl::parse(url.as_str())
    }

    pub(super) fn pg_options(&self) -> std::result::Result<PgConnectOptions, sqlx::Error> {
        PgConnectOptions::from_url(self.server_url()?)
    }

    pub(super) fn mysql_options(&self) -> std::result::Result<MySqlConnectOptions, sqlx::Error> {
        MySqlConnectOptions::from_url(self.server_url()?)
    }

    pub(super) fn sqlite_options(&self) -> std::result::Result<SqliteConnectOptions, sqlx::Error> {
        SqliteConnectOptions::from_str(&self.raw)
    }

    fn server_url(&self) -> std::result::Result<&Url, sqlx::Error> {
        match &self.target {
            Target::Server(url) => Ok(url),
            Target::Sqlite { .. } => Err(sqlx::Error::Configuration("not a server URL".into())),
        }
    }

    /// Removes every spelling of the password from a message (driver errors are not trusted).
    pub(super) fn scrub(&self, message: String) -> String {
        self.secrets().iter().fold(message, |message, secret| message.replace(secret.as_str(), MASK))
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        for (raw, path) in [
            ("sqlite:data/app.db", "data/app.db"),
            ("sqlite://data/app.db", "data/app.db"),
            ("sqlite:///tmp/app.db", "/tmp/app.db"),
            ("sqlite:app.db?mode=rwc", "app.db"),
        ] {
            let url = DbUrl::parse(raw).unwrap();
            assert_eq!(url.dialect(), Dialect::Sqlite, "{raw}");
            assert_eq!(url.display_target(), path, "{raw}");
            assert_eq!(url.sqlite_path(), Some(Path::new(path)), "{raw}");
            assert_eq!(url.redacted(), raw);
        }
        let memory = DbUrl::parse("sqlite::memory:").unwrap();
        assert_eq!(memory.display_target(), ":memory:");
        assert_eq!(memory.sqlite_path(), None);
        assert!(DbUrl::parse("sqlite:").unwrap_err().to_string().contains("names no database file"));
    }

    #[test]
    fn server_forms() {
        let pg = DbUrl::parse("postgresql://app:s3cr%40t@db.internal/orders?sslmode=disable").unwrap();
        assert_eq!(pg.dialect(), Dialect::Postgres);
        assert_eq!(pg.display_target(), "db.internal:5432/orders");
        assert_eq!(pg.database_name().as_deref(), Some("orders"));
        assert_eq!(pg.password().as_deref(), Some("s3cr@t"));
        assert_eq!(pg.secrets(), vec!["s3cr@t".to_string(), "s3cr%40t".to_string()]);
        assert_eq!(pg.redacted(), "postgresql://app:***@db.internal/orders?sslmode=disable");
        assert!(!format!("{pg:?} {pg}").contains("s3cr"));

        let maria = DbUrl::parse("mariadb://root@127.0.0.1:3307/shop").unwrap();
        assert_eq!(maria.dialect(), Dialect::MySql);
        assert_eq!(maria.display_target(), "127.0.0.1:3307/shop");
        assert_eq!(maria.password(), None);
        assert_eq!(maria.redacted(), "mariadb://root@127.0.0.1:3307/shop");

        let no_db = DbUrl::parse("postgres://alice@localhost").unwrap();
        assert_eq!(no_db.database_name().as_deref(), Some("alice"), "PostgreSQL defaults to the user");
        let mysql_no_db = DbUrl::parse("mysql://root@localhost").unwrap();
        assert_eq!(mysql_no_db.database_name(), None);
        assert_eq!(mysql_no_db.display_target(), "localhost:3306");
    }

    #[test]
    fn password_as_a_parameter_is_masked_too() {
        let url = DbUrl::parse("postgres://app@host/db?password=hunter2&sslmode=disable").unwrap();
        assert_eq!(url.password().as_deref(), Some("hunter2"));
        assert_eq!(url.redacted(), "postgres://app@host/db?password=***&sslmode=disable");
    }

    #[test]
    fn errors_never_echo_the_password() {
        for raw in [
            "oracle://scott:tiger99@host/db",
            "postgres://app:tiger99@host:notaport/db",
            "tiger99",
            "postgres://app:tiger99@host/db?sslmode=sometimes",
        ] {
            let message = DbUrl::parse(raw).unwrap_err().to_string();
            assert!(!message.contains("tiger99"), "{raw}: {message}");
            assert!(message.starts_with("invalid database URL"), "{message}");
        }
        assert!(
            DbUrl::parse("oracle://scott:tiger99@host/db")
                .unwrap_err()
                .to_string()
                .contains("unsupported scheme `oracle:`")
        );
    }

    #[test]
    fn another_database_on_the_same_server() {
        let url = DbUrl::parse("postgres://app:pw@host:5433/main?sslmode=disable").unwrap();
        let other = url.with_database("scratch_1").unwrap();
        assert_eq!(other.display_target(), "host:5433/scratch_1");
        assert_eq!(other.password().as_deref(), Some("pw"));
        assert!(DbUrl::parse("sqlite:x.db").unwrap().with_database("y").is_err());
    }
}
