//! Backfills: a data change done in short keyset batches, each a transaction that also moves
//! the step's checkpoint, so a crash, a `kill -9` or a lost connection loses at most the batch
//! in flight and a new run continues after the last committed one. Batches size themselves
//! toward a target time, wait while `pause_when` holds or the operator pauses them, and retry
//! transient errors with backoff. A dry run estimates and writes nothing.

mod estimate;
mod progress;
mod sizing;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use estimate::{Estimate, estimate};
pub use progress::{Progress, Throttle, thousands};
pub use sizing::Sizer;

use crate::db::keyset::show_key;
use crate::db::{Db, DbError, Keyset, SqlValue};
use crate::engine::BackfillMetrics;
use crate::exec::backoff::Backoff;
use crate::model::{Backfill, LockPolicy};

/// First and longest wait before retrying a batch.
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(10);
/// How often a held or paused backfill looks again.
const POLL: Duration = Duration::from_millis(200);
const PAUSE_WHEN_POLL: Duration = Duration::from_secs(1);
/// A batch locks at most one row in this many of the rows to visit.
const LOCKED_SHARE: u64 = 200;

/// One backfill step to run.
pub struct Job<'a> {
    pub runbook: &'a str,
    pub step: &'a str,
    pub spec: &'a Backfill,
    /// `pause_when` rendered: SQL and bound values.
    pub pause_when: Option<(String, Vec<String>)>,
    /// The lock and statement timeouts of the session, set again on a new connection.
    pub locks: LockPolicy,
    /// The step's `timeout`: past it, the backfill ends between two batches, like a stop.
    pub timeout: Option<Duration>,
}

/// What the driver needs from the run around it.
pub trait Watch {
    /// Progress after each batch and while waiting; the caller decides how often it shows
    /// and journals it. An error is the audit log's.
    fn progress(&mut self, progress: &Progress) -> Result<(), String>;
    /// Whether the operator holds the backfill; asked between batches.
    fn hold(&mut self) -> Hold;
    /// An audit entry.
    fn record(&mut self, kind: &str, fields: Value) -> Result<(), String>;
    /// A line for the operator (where the backfill starts, and why).
    fn say(&mut self, line: &str);
}

#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    Go,
    Pause,
    /// End between two batches (the operator started the rollback); the checkpoint stays.
    Stop(String),
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The step fails with this message.
    #[error("{0}")]
    Step(String),
    /// The audit log could not be written: the run stops.
    #[error("audit log: {0}")]
    Journal(String),
}

fn step_error(e: DbError) -> Error {
    Error::Step(e.to_string())
}

/// Where the batches are and what they did.
struct Cursor {
    bound: Vec<SqlValue>,
    after: Option<Vec<SqlValue>>,
    total_visited: u64,
    total_updated: u64,
}

/// Runs the backfill to its bound, from its checkpoint when an earlier run left one.
pub async fn run(db: &mut Db, job: &Job<'_>, watch: &mut impl Watch) -> Result<BackfillMetrics, Error> {
    let spec = job.spec;
    let clock = Instant::now();
    let columns = db.key_columns(&spec.table, &spec.key).await.map_err(step_error)?;
    let keyset = Keyset::new(db.dialect(), &spec.table, columns, &spec.set, spec.filter.as_deref());
    db.ensure_checkpoint_table().await.map_err(step_error)?;
    let mut metrics = BackfillMetrics::default();
    let Some(mut cursor) = start(db, job, &keyset, watch, &mut metrics).await? else {
        metrics.duration_ms = millis(clock.elapsed());
        return Ok(metrics);
    };
    let remaining = db.fetch_count(&keyset.count(cursor.after.as_deref(), &cursor.bound, false)).await;
    let estimated_total = cursor.total_visited + remaining.map_err(step_error)?;
    let largest = largest_batch(spec, estimated_total);
    let mut sizer =
        Sizer::new(spec.batch_size, spec.min_batch_size, largest, spec.target_batch_time, spec.max_batch_wal);
    let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
    let mut waited = Duration::ZERO;
    let report = |metrics: &BackfillMetrics, cursor: &Cursor, size: u64, waited: Duration, throttle: Throttle| {
        let active = clock.elapsed().saturating_sub(waited).as_secs_f64();
        let rate = if active > 0.0 { metrics.rows_visited as f64 / active } else { 0.0 };
        let left = estimated_total.saturating_sub(cursor.total_visited);
        Progress {
            step: job.step.to_string(),
            rows_visited: cursor.total_visited,
            rows_updated: cursor.total_updated,
            estimated_total,
            batches: metrics.batches,
            retries: metrics.retries,
            errors: metrics.errors,
            batch_size: size,
            rows_per_second: rate,
            eta_seconds: (rate > 0.0).then(|| (left as f64 / rate).ceil() as u64),
            throttle,
        }
    };
    watch.progress(&report(&metrics, &cursor, sizer.size(), waited, Throttle::Running)).map_err(Error::Journal)?;
    loop {
        if let Some(limit) = job.timeout
            && clock.elapsed() >= limit
        {
            let limit = humantime::format_duration(limit);
            return Err(stopped(&format!("the step ran longer than its timeout, {limit}"), &cursor));
        }
        // Between two batches: the operator, then the database, may ask for a pause.
        match watch.hold() {
            Hold::Go => {}
            Hold::Pause => {
                watch
                    .progress(&report(&metrics, &cursor, sizer.size(), waited, Throttle::Held))
                    .map_err(Error::Journal)?;
                tokio::time::sleep(POLL).await;
                waited += POLL;
                continue;
            }
            Hold::Stop(reason) => return Err(stopped(&reason, &cursor)),
        }
        if let Some((sql, params)) = &job.pause_when
            && pause_holds(db, sql, params).await.map_err(|e| Error::Step(format!("pause_when: {e}")))?
        {
            let reason = format!("pause_when holds ({})", spec.pause_when.as_ref().map_or("", |t| t.source.trim()));
            watch
                .progress(&report(&metrics, &cursor, sizer.size(), waited, Throttle::Paused { reason }))
                .map_err(Error::Journal)?;
            tokio::time::sleep(PAUSE_WHEN_POLL).await;
            waited += PAUSE_WHEN_POLL;
            continue;
        }
        let size = sizer.size();
        let began = Instant::now();
        let done = match batch(db, job, &keyset, &cursor, size).await {
            Ok(done) => done,
            Err(e) if e.is_transient() && backoff.retries() < spec.max_retries => {
                metrics.errors += 1;
                metrics.retries += 1;
                let wait = backoff.next_wait();
                let error = e.to_string();
                watch.record(
                    "backfill.retry",
                    json!({ "step": job.step, "error": error, "attempt": backoff.retries(), "wait_ms": millis(wait) }),
                )
                .map_err(Error::Journal)?;
                let throttle = Throttle::Retrying { error, wait_ms: millis(wait) };
                watch.progress(&report(&metrics, &cursor, size, waited, throttle)).map_err(Error::Journal)?;
                tokio::time::sleep(wait).await;
                waited += wait;
                // The batch may have committed before the error reached us (a lost COMMIT
                // answer): the checkpoint, not memory, says where to go on.
                reconnect_if_lost(db, &e, &job.locks).await;
                if let Ok(Some(saved)) = db.read_checkpoint(job.runbook, job.step).await {
                    (cursor.after, cursor.total_visited, cursor.total_updated) =
                        (saved.after, saved.rows_visited, saved.rows_updated);
                }
                continue;
            }
            Err(e) => {
                if e.is_transient() {
                    metrics.errors += 1;
                }
                let at = cursor.after.as_deref().map_or("the start".to_string(), show_key);
                return Err(Error::Step(format!(
                    "the batch after key {at} failed after {} retries: {e}",
                    backoff.retries()
                )));
            }
        };
        backoff.reset();
        sizer.observe(done.visited, began.elapsed());
        if let Some(wal) = done.wal {
            sizer.observe_wal(done.visited, wal);
        }
        metrics.batches += 1;
        metrics.rows_visited += done.visited;
        metrics.rows_updated += done.updated;
        cursor.total_visited += done.visited;
        cursor.total_updated += done.updated;
        let finished = done.end == cursor.bound;
        cursor.after = Some(done.end);
        watch.progress(&report(&metrics, &cursor, sizer.size(), waited, Throttle::Running)).map_err(Error::Journal)?;
        if finished {
            break;
        }
        if let Some(pause) = spec.sleep {
            watch
                .progress(&report(&metrics, &cursor, sizer.size(), waited, Throttle::Sleeping))
                .map_err(Error::Journal)?;
            tokio::time::sleep(pause).await;
            waited += pause;
        }
    }
    db.finish_checkpoint(job.runbook, job.step).await.map_err(step_error)?;
    metrics.total_rows_visited = cursor.total_visited;
    metrics.total_rows_updated = cursor.total_updated;
    metrics.duration_ms = millis(clock.elapsed());
    Ok(metrics)
}

/// The step's error when the backfill ends between two batches before its bound.
fn stopped(reason: &str, cursor: &Cursor) -> Error {
    let at = cursor.after.as_deref().map_or("the start".to_string(), show_key);
    Error::Step(format!(
        "stopped between two batches ({reason}); the checkpoint keeps its place after key {at}: \
         a new run of this runbook resumes there"
    ))
}

/// Reads or writes the checkpoint before the first batch: None when there is nothing to do.
async fn start(
    db: &mut Db,
    job: &Job<'_>,
    keyset: &Keyset,
    watch: &mut impl Watch,
    metrics: &mut BackfillMetrics,
) -> Result<Option<Cursor>, Error> {
    let definition = job.spec.definition_hash();
    match db.read_checkpoint(job.runbook, job.step).await.map_err(step_error)? {
        Some(saved) if saved.definition != definition => Err(Error::Step(format!(
            "the checkpoint of step `{}` (started {}) was written by another definition of this backfill \
             (its table, key, set or where changed): it is not resumed. To start over on purpose, run again \
             with --restart-backfill {}",
            job.step, saved.started_at, job.step
        ))),
        Some(saved) if saved.finished => {
            watch.say(&format!(
                "nothing left to do: an earlier run completed this backfill ({} rows, checkpoint of {})",
                thousands(saved.rows_visited),
                saved.started_at
            ));
            watch
                .record(
                    "backfill.complete",
                    json!({ "step": job.step, "rows_visited": saved.rows_visited, "started_at": saved.started_at }),
                )
                .map_err(Error::Journal)?;
            metrics.total_rows_visited = saved.rows_visited;
            metrics.total_rows_updated = saved.rows_updated;
            metrics.resumed_after = saved.after.as_deref().map(show_key);
            Ok(None)
        }
        Some(saved) => {
            let Some(bound) = saved.bound else {
                return Ok(None);
            };
            let after = saved.after.as_deref().map(show_key);
            let from = after.as_deref().unwrap_or("the start");
            watch.say(&format!(
                "resuming after key {from}: an earlier run did {} rows in {} batches (checkpoint of {})",
                thousands(saved.rows_visited),
                thousands(saved.batches),
                saved.started_at
            ));
            watch
                .record(
                    "backfill.resumed",
                    json!({
                        "step": job.step, "after": after, "bound": show_key(&bound),
                        "rows_visited": saved.rows_visited, "batches": saved.batches, "started_at": saved.started_at,
                    }),
                )
                .map_err(Error::Journal)?;
            metrics.resumed_after = after;
            Ok(Some(Cursor {
                bound,
                after: saved.after,
                total_visited: saved.rows_visited,
                total_updated: saved.rows_updated,
            }))
        }
        None => {
            let bound = db.fetch_key(&keyset.highest(), keyset.columns()).await.map_err(step_error)?;
            db.start_checkpoint(job.runbook, job.step, &definition, bound.as_deref()).await.map_err(step_error)?;
            let shown = bound.as_deref().map(show_key);
            watch
                .record("backfill.begun", json!({ "step": job.step, "bound": shown, "definition": definition }))
                .map_err(Error::Journal)?;
            match bound {
                Some(bound) => Ok(Some(Cursor { bound, after: None, total_visited: 0, total_updated: 0 })),
                None => {
                    db.finish_checkpoint(job.runbook, job.step).await.map_err(step_error)?;
                    Ok(None)
                }
            }
        }
    }
}

struct Batch {
    end: Vec<SqlValue>,
    visited: u64,
    updated: u64,
    /// Bytes of WAL written while the batch ran (PostgreSQL).
    wal: Option<u64>,
}

/// One batch: its key range, its UPDATE and the checkpoint, in one transaction.
async fn batch(db: &mut Db, job: &Job<'_>, keyset: &Keyset, cursor: &Cursor, size: u64) -> Result<Batch, DbError> {
    let work = async {
        let wal_start = db.begin_batch().await?;
        let after = cursor.after.as_deref();
        let (end, visited) = match db.fetch_key(&keyset.batch_end(after, &cursor.bound, size), keyset.columns()).await?
        {
            Some(end) => (end, size),
            // Fewer than `size` rows are left: this batch ends at the bound.
            None => (cursor.bound.clone(), db.fetch_count(&keyset.count(after, &cursor.bound, false)).await?),
        };
        let updated = db.run(&keyset.update(after, &end)).await?;
        let wal_end = db.advance_checkpoint(job.runbook, job.step, &end, visited, updated).await?;
        let wal = wal_start.zip(wal_end).map(|(start, end)| end.saturating_sub(start));
        Ok::<_, DbError>(Batch { end, visited, updated, wal })
    };
    match work.await {
        Ok(done) => {
            db.commit().await?;
            Ok(done)
        }
        Err(e) => {
            // A lost connection has rolled back already; after a failed BEGIN this is a no-op.
            let _ = db.rollback().await;
            Err(e)
        }
    }
}

async fn reconnect_if_lost(db: &mut Db, error: &DbError, locks: &LockPolicy) {
    if !error.is_connection_error() {
        return;
    }
    match Db::connect(db.url()).await {
        Ok(fresh) => *db = fresh,
        Err(e) => {
            tracing::warn!("backfill: reconnect failed, retrying later: {e}");
            return;
        }
    }
    // The old session's limits went with it; a new session starts with the server's defaults,
    // which is also what the run restores at the end of the step.
    if let Err(e) = db.limit(locks.lock_timeout, locks.statement_timeout).await.map(drop) {
        tracing::warn!("backfill: setting the lock timeout on the new connection failed: {e}");
    }
}

/// The largest batch: `max_batch_size`, and at most 0.5 % of the rows to visit. A batch keeps
/// its rows locked until it commits, so about that share of the application's writes to random
/// rows wait for one: a small share keeps them out of the p99 (bench/backfill on 1M rows: the
/// writer's p99 at 7–14× its baseline with 36,000-row batches, 3.5–4.8× with 10,000, 1.4× with
/// 5,000, at the same throughput).
fn largest_batch(spec: &Backfill, rows: u64) -> u64 {
    (rows / LOCKED_SHARE).clamp(spec.min_batch_size, spec.max_batch_size)
}

/// `pause_when` holds when its value reads as true.
async fn pause_holds(db: &mut Db, sql: &str, params: &[String]) -> Result<bool, DbError> {
    let value = db.query_value(sql, params).await?;
    Ok(value.is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "t" | "1" | "yes")))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(min: u64, max: u64) -> Backfill {
        Backfill {
            table: "t".into(),
            key: vec!["id".into()],
            set: "c = 1".into(),
            filter: None,
            batch_size: min,
            min_batch_size: min,
            max_batch_size: max,
            target_batch_time: Duration::from_millis(100),
            max_batch_wal: 1 << 20,
            sleep: None,
            pause_when: None,
            max_retries: 10,
            dry_run: false,
        }
    }

    #[test]
    fn a_batch_locks_at_most_one_row_in_two_hundred_within_the_bounds() {
        assert_eq!(largest_batch(&spec(10, 50_000), 1_000_000), 5_000);
        assert_eq!(largest_batch(&spec(10, 50_000), 100_000_000), 50_000, "max_batch_size still bounds it");
        assert_eq!(largest_batch(&spec(10, 50_000), 500), 10, "min_batch_size too");
    }
}
