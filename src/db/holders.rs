//! Who holds the lock a session waits for, asked on another connection while it waits.
//!
//! PostgreSQL names the sessions that block another (`pg_blocking_pids`, over `pg_locks`), and
//! `pg_stat_activity` says what they do. MariaDB names the holder of a row lock
//! (`INNODB_LOCK_WAITS`), but not of a metadata lock, which is what DDL waits for: that needs
//! the `metadata_lock_info` plugin or `performance_schema`, both off by default. The holder is
//! then one of the open transactions (`INNODB_TRX`) of sessions using the same database:
//! runsheet lists those and says it cannot tell which. SQLite has no sessions to name.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{Conn, Db, Dialect, Result};

/// The longest query text kept for a holder: enough to recognise it.
const QUERY_CHARS: usize = 200;

/// A session that holds (or may hold) the lock another one waits for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockHolder {
    /// PostgreSQL's backend pid, MariaDB's connection id: what `pg_terminate_backend` or `KILL` take.
    pub pid: i64,
    pub user: Option<String>,
    /// PostgreSQL's `application_name`.
    pub application: Option<String>,
    /// The client's address.
    pub host: Option<String>,
    /// `active`, `idle in transaction`, …
    pub state: Option<String>,
    pub transaction_start: Option<DateTime<Utc>>,
    /// When its current (or, idle, its last) query started; MariaDB says so only of a running one.
    pub query_start: Option<DateTime<Utc>>,
    /// That query, shortened.
    pub query: Option<String>,
}

/// The sessions in the way of a waiting one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockHolders {
    /// True when the server names them; false when they are the open transactions in the same
    /// database, one of which holds the lock (a MariaDB metadata lock).
    pub certain: bool,
    pub sessions: Vec<LockHolder>,
    #[serde(skip)]
    dialect: Dialect,
}

impl Db {
    /// This connection's id on the server (PostgreSQL backend pid, MariaDB connection id); None
    /// on SQLite.
    pub async fn session_id(&mut self) -> Result<Option<i64>> {
        let id = match &mut self.conn {
            Conn::Postgres(c) => sqlx::query_scalar("SELECT pg_backend_pid()::int8").fetch_one(&mut *c).await,
            Conn::MySql(c) => sqlx::query_scalar("SELECT CAST(CONNECTION_ID() AS SIGNED)").fetch_one(&mut *c).await,
            Conn::Sqlite(_) => return Ok(None),
        };
        id.map(Some).map_err(|e| self.sql_error(e))
    }

    /// Who holds the lock `session` waits for now; None when it waits for none (or on SQLite).
    pub async fn lock_holders(&mut self, session: i64) -> Result<Option<LockHolders>> {
        let found = match &mut self.conn {
            Conn::Postgres(c) => postgres(c, session).await,
            Conn::MySql(c) => mysql(c, session).await,
            Conn::Sqlite(_) => return Ok(None),
        };
        let mut found = found.map_err(|e| self.sql_error(e))?;
        // Another session's query may quote our password (an ALTER USER, say).
        for holder in found.iter_mut().flat_map(|(_, sessions)| sessions.iter_mut()) {
            holder.query = holder.query.take().map(|q| self.url.scrub(q));
        }
        let dialect = self.dialect();
        Ok(found.map(|(certain, sessions)| LockHolders { certain, sessions, dialect }))
    }
}

type Found = Option<(bool, Vec<LockHolder>)>;

async fn postgres(c: &mut sqlx::PgConnection, session: i64) -> std::result::Result<Found, sqlx::Error> {
    type Time = Option<DateTime<Utc>>;
    type Row = (i64, Option<String>, Option<String>, Option<String>, Option<String>, Time, Time, Option<String>);
    // The sessions holding a conflicting lock, and those queued ahead with a conflicting request.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT pid::int8, usename::text, application_name, host(client_addr), state, xact_start, query_start, query \
         FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids($1::int4)) ORDER BY xact_start NULLS LAST, pid",
    )
    .bind(session)
    .fetch_all(&mut *c)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let sessions = rows
        .into_iter()
        .map(|(pid, user, application, host, state, transaction_start, query_start, query)| LockHolder {
            pid,
            user,
            application: application.filter(|a| !a.is_empty()),
            host,
            state,
            transaction_start,
            query_start,
            query: query.map(|q| shorten(&q)),
        })
        .collect();
    Ok(Some((true, sessions)))
}

async fn mysql(c: &mut sqlx::MySqlConnection, session: i64) -> std::result::Result<Found, sqlx::Error> {
    // information_schema text columns cast to CHAR and numbers to SIGNED/DOUBLE: sqlx decodes
    // by exact column type.
    let waiting: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT CAST(p.STATE AS CHAR), CAST(t.trx_state AS CHAR) FROM information_schema.PROCESSLIST p \
         LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.ID = ?",
    )
    .bind(session)
    .fetch_optional(&mut *c)
    .await?;
    let Some((state, trx_state)) = waiting else {
        return Ok(None);
    };
    let row_lock = trx_state.as_deref() == Some("LOCK WAIT");
    // "Waiting for table metadata lock", "Waiting for schema metadata lock", "Waiting for table level lock"
    let other_lock = state.as_deref().is_some_and(|s| s.starts_with("Waiting for") && s.ends_with("lock"));
    if !row_lock && !other_lock {
        return Ok(None);
    }
    type Row = (i64, Option<String>, Option<String>, Option<String>, Option<String>, Option<f64>, Option<f64>, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT CAST(p.ID AS SIGNED), CAST(p.USER AS CHAR), CAST(p.HOST AS CHAR), CAST(p.COMMAND AS CHAR), \
                CAST(p.INFO AS CHAR), CAST(UNIX_TIMESTAMP(t.trx_started) AS DOUBLE), \
                CASE WHEN p.COMMAND = 'Query' THEN CAST(UNIX_TIMESTAMP(NOW(6)) - p.TIME_MS / 1000 AS DOUBLE) END, \
                CAST(EXISTS (SELECT 1 FROM information_schema.INNODB_LOCK_WAITS w \
                             JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
                             WHERE w.blocking_trx_id = t.trx_id AND r.trx_mysql_thread_id = ?) AS SIGNED) \
         FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
         WHERE p.ID <> ? AND p.ID <> CONNECTION_ID() \
           AND p.DB <=> (SELECT DB FROM information_schema.PROCESSLIST WHERE ID = ?) \
         ORDER BY t.trx_started, p.ID",
    )
    .bind(session)
    .bind(session)
    .bind(session)
    .fetch_all(&mut *c)
    .await?;
    let blocking = rows.iter().any(|row| row.7 == 1);
    let mut seen = std::collections::HashSet::new();
    let sessions = rows
        .into_iter()
        .filter(|row| !blocking || row.7 == 1)
        // DDL runs InnoDB transactions of its own beside the session's: one entry per session.
        .filter(|row| seen.insert(row.0))
        .map(|(pid, user, host, command, info, trx_started, query_started, _)| LockHolder {
            pid,
            user,
            application: None,
            host,
            // In the words PostgreSQL uses: every one of them has a transaction open.
            state: command.map(|c| match c.as_str() {
                "Sleep" => "idle in transaction".to_string(),
                "Query" => "active".to_string(),
                other => other.to_lowercase(),
            }),
            transaction_start: trx_started.and_then(from_epoch),
            query_start: query_started.and_then(from_epoch),
            query: info.map(|q| shorten(&q)),
        })
        .collect();
    Ok(Some((blocking, sessions)))
}

fn from_epoch(seconds: f64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros((seconds * 1e6) as i64)
}

/// The query on one line, cut to `QUERY_CHARS` characters.
fn shorten(query: &str) -> String {
    let line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(QUERY_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

impl fmt::Display for LockHolders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.dialect {
            Dialect::MySql => "connection",
            _ => "pid",
        };
        if self.sessions.is_empty() {
            return f.write_str("held by a session that is gone (or not visible to this user)");
        }
        if self.certain {
            f.write_str("held by ")?;
        } else {
            f.write_str(
                "held by one of the open transactions on this database (MariaDB does not say which holds a \
                 metadata lock): ",
            )?;
        }
        for (i, s) in self.sessions.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{label} {}", s.pid)?;
            let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
            let facts: Vec<String> = [
                s.user.as_ref().map(|u| format!("user {u}")),
                s.application.as_ref().map(|a| format!("application {a}")),
                s.host.as_ref().map(|h| format!("from {h}")),
                s.state.clone(),
                s.transaction_start.as_ref().map(|t| format!("transaction since {}", time(t))),
                s.query_start.as_ref().map(|t| format!("query since {}", time(t))),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !facts.is_empty() {
                write!(f, " ({})", facts.join(", "))?;
            }
            if let Some(query) = &s.query {
                write!(f, ": {query}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_shown_on_one_line_and_shortened() {
        assert_eq!(shorten("SELECT *\n  FROM t\tFOR UPDATE"), "SELECT * FROM t FOR UPDATE");
        let long = format!("SELECT '{}'", "é".repeat(300));
        let short = shorten(&long);
        assert_eq!(short.chars().count(), QUERY_CHARS + 1);
        assert!(short.ends_with('…'));
    }

    #[test]
    fn holders_read_as_a_sentence() {
        let at = "2026-11-28T00:15:02Z".parse::<DateTime<Utc>>().ok();
        let holder = LockHolder {
            pid: 4242,
            user: Some("app".into()),
            application: Some("psql".into()),
            host: None,
            state: Some("idle in transaction".into()),
            transaction_start: at,
            query_start: at,
            query: Some("SELECT * FROM t FOR UPDATE".into()),
        };
        let pg = LockHolders { certain: true, sessions: vec![holder.clone()], dialect: Dialect::Postgres };
        assert_eq!(
            pg.to_string(),
            "held by pid 4242 (user app, application psql, idle in transaction, transaction since \
             2026-11-28T00:15:02Z, query since 2026-11-28T00:15:02Z): SELECT * FROM t FOR UPDATE"
        );
        let maria = LockHolders { certain: false, sessions: vec![holder], dialect: Dialect::MySql };
        assert!(maria.to_string().starts_with("held by one of the open transactions"), "{maria}");
        assert!(maria.to_string().contains("connection 4242 ("), "{maria}");
    }
}
