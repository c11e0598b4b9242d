//! Steps whose statements wait for locks the application needs (migrate, revert, backfill): the
//! session gets the step's lock and statement timeouts, and a statement that gives up waiting is
//! retried after a backoff, so that the application's queries, which queue behind a waiting DDL,
//! are held up for one lock timeout at most, never for as long as the holder takes. While an
//! attempt waits, a second connection looks at who holds the lock; every lock timeout is
//! journaled and shown with that holder.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;

use super::backoff::Backoff;
use super::{ExecError, Face, Run};
use crate::db::{self, Db, DbError, DbUrl, LockHolders, SavedLimits};
use crate::engine::Facts;
use crate::model::LockPolicy;

/// The first backoff waits up to half a second; none waits more than 10 s.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// An action that may give up waiting for a lock and be tried again, on the run's connection.
pub(super) trait Attempt {
    type Output;
    fn attempt<'a>(&'a mut self, db: &'a mut Db) -> impl Future<Output = db::Result<Self::Output>> + Send + 'a;
}

/// The action being retried, for the journal and the face.
pub(super) struct Retried {
    /// The journal kind of each lock timeout (`migration.lock_timeout`).
    pub kind: &'static str,
    /// What says which action it is in that entry (the migration's version).
    pub fields: Value,
    /// Its name for people ("20261128010000").
    pub label: String,
}

impl<F: Face> Run<F> {
    /// Sets the session's lock and statement timeouts from `locks`, until `restore_lock_limits`;
    /// returns what that needs and this connection's id on the server, for `with_lock_retries`.
    /// Err: the timeouts could not be set, the step fails with that.
    async fn set_lock_limits(&mut self, locks: &LockPolicy) -> Result<(SavedLimits, Option<i64>), String> {
        let saved = self
            .db
            .limit(locks.lock_timeout, locks.statement_timeout)
            .await
            .map_err(|e| format!("setting the lock timeout failed: {e}"))?;
        let session = self.db.session_id().await.unwrap_or_else(|e| {
            // Only the lock holders go unseen.
            tracing::warn!("reading the session id failed: {e}");
            None
        });
        Ok((saved, session))
    }

    /// Runs `work` with the session's lock and statement timeouts from `locks` (given this
    /// connection's id on the server), then puts the session back; when the timeouts cannot be
    /// set, the step fails with that and `work` does not run.
    pub(super) async fn under_lock_limits(
        &mut self,
        locks: &LockPolicy,
        work: impl AsyncFnOnce(&mut Self, Option<i64>) -> Result<Result<Facts, String>, ExecError>,
    ) -> Result<Result<Facts, String>, ExecError> {
        let (saved, session) = match self.set_lock_limits(locks).await {
            Ok(set) => set,
            Err(message) => return Ok(Err(message)),
        };
        let outcome = work(self, session).await;
        self.restore_lock_limits(saved).await;
        outcome
    }

    async fn restore_lock_limits(&mut self, saved: SavedLimits) {
        if let Err(e) = self.db.restore_limits(saved).await {
            // Later steps must not run under these limits: a new session has none.
            tracing::warn!("restoring the session's timeouts failed: {e}; reconnecting");
            self.reconnect().await;
        }
    }

    /// Runs `action` on the run's connection (whose limits `set_lock_limits` set) until it
    /// succeeds, fails otherwise than by a lock timeout, or has given up waiting for a lock
    /// `locks.retries + 1` times, with a backoff wait before each retry. `session` is the
    /// connection's id on the server, whose lock holders are looked up while it waits.
    pub(super) async fn with_lock_retries<A: Attempt>(
        &mut self,
        locks: &LockPolicy,
        what: &Retried,
        session: Option<i64>,
        action: &mut A,
    ) -> Result<db::Result<A::Output>, ExecError> {
        let lock_timeout = db::effective_lock_timeout(self.db.dialect(), locks.lock_timeout);
        let attempts = locks.retries.saturating_add(1);
        let mut backoff = Backoff::new(BACKOFF_BASE, BACKOFF_CAP);
        let mut watcher = Watcher::new(self.url.clone(), lock_timeout);
        let mut number = 0;
        let outcome = loop {
            number += 1;
            let clock = Instant::now();
            let done = Notify::new();
            let db = &mut self.db;
            let work = async {
                let result = action.attempt(db).await;
                done.notify_one();
                result
            };
            let (result, holders) = tokio::join!(work, watcher.watch(session, &done, &mut self.face, &what.label));
            let error = match result {
                Err(e) if e.is_lock_timeout() => e,
                other => break other,
            };
            let waited = clock.elapsed();
            let retry_in = (number < attempts).then(|| backoff.next_wait());
            let mut entry = json!({
                "attempt": number,
                "attempts": attempts,
                "lock_timeout_ms": millis(lock_timeout),
                "waited_ms": millis(waited),
                "retry_in_ms": retry_in.map(millis),
                "holders": holders,
                "error": error.to_string(),
            });
            if let (Value::Object(entry), Value::Object(fields)) = (&mut entry, &what.fields) {
                entry.extend(fields.clone());
            }
            self.record(what.kind, entry)?;
            let next = match retry_in {
                Some(wait) => format!("next attempt in {}", seconds(wait)),
                None => "no attempts left".to_string(),
            };
            // The time waited, not the setting: a migration's own `SET LOCAL lock_timeout` wins.
            self.face.note(&format!(
                "{} gave up waiting for a lock after {} (attempt {number} of {attempts}): {next}",
                what.label,
                seconds(waited)
            ));
            let Some(wait) = retry_in else {
                let holder = match (&holders, session) {
                    (Some(holders), _) => format!("the lock is {holders}"),
                    (None, Some(_)) => "no holder was seen (it may have finished between two looks)".to_string(),
                    (None, None) => "the database does not say who holds the lock".to_string(),
                };
                let message = format!("{error}; gave up after {attempts} attempts; {holder}");
                break Err(DbError::LockTimeout { message });
            };
            tokio::time::sleep(wait).await;
        };
        watcher.close().await;
        Ok(outcome)
    }
}

/// Looks, on a connection of its own, at who holds the lock a session waits for.
struct Watcher {
    url: DbUrl,
    every: Duration,
    /// Opened at the first look: an attempt that does not wait never needs it.
    conn: Option<Db>,
    /// A failed look is not repeated: the attempt goes on regardless.
    failed: bool,
    /// The holders last shown to the face, by pid, so that each is shown once.
    shown: Vec<i64>,
}

impl Watcher {
    fn new(url: DbUrl, lock_timeout: Duration) -> Watcher {
        // A few looks per wait, not so many that the looks load the server.
        let every = (lock_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        Watcher { url, every, conn: None, failed: false, shown: Vec::new() }
    }

    /// Until `done`, looks every `every` at who holds the lock `session` waits for, and shows
    /// new holders; returns the last ones seen. A look in progress is finished, never dropped,
    /// so that the connection stays usable.
    async fn watch(
        &mut self,
        session: Option<i64>,
        done: &Notify,
        face: &mut impl Face,
        label: &str,
    ) -> Option<LockHolders> {
        let session = session?;
        let mut seen = None;
        loop {
            tokio::select! {
                _ = done.notified() => return seen,
                _ = tokio::time::sleep(self.every) => {}
            }
            let Some(holders) = self.look(session).await else {
                continue;
            };
            let pids: Vec<i64> = holders.sessions.iter().map(|s| s.pid).collect();
            if pids != self.shown {
                face.note(&format!("{label} waits for a lock {holders}"));
                self.shown = pids;
            }
            seen = Some(holders);
        }
    }

    async fn look(&mut self, session: i64) -> Option<LockHolders> {
        if self.failed {
            return None;
        }
        if self.conn.is_none() {
            match Db::connect(&self.url).await {
                Ok(db) => self.conn = Some(db),
                Err(e) => {
                    tracing::warn!("cannot open a connection to see who holds a lock: {e}");
                    self.failed = true;
                    return None;
                }
            }
        }
        match self.conn.as_mut()?.lock_holders(session).await {
            Ok(holders) => holders,
            Err(e) => {
                tracing::warn!("cannot see who holds a lock: {e}");
                self.failed = true;
                None
            }
        }
    }

    async fn close(self) {
        if let Some(db) = self.conn
            && let Err(e) = db.close().await
        {
            tracing::warn!("closing the lock watcher's connection: {e}");
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `1.0s`, `0.3s`: the precision a person reads.
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
