//! The backfill step on the run's connection: the driver (`crate::backfill`) reports to the
//! face after every batch and to the audit log at least every `PROGRESS_ENTRY_EVERY`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ExecError, Face, Run};
use crate::backfill::{self, Hold, Job, Progress, Throttle};
use crate::db;
use crate::engine::{Facts, Scope};
use crate::journal::Journal;
use crate::model::{Backfill, Ref, Step};

/// The issue asks for at least one a minute; twice as often costs nothing.
const PROGRESS_ENTRY_EVERY: Duration = Duration::from_secs(30);

impl<F: Face> Run<F> {
    /// The backfill with the step's lock and statement timeouts on the session: a batch that
    /// waits for a row lock longer than `lock_timeout` gives up and is retried.
    pub(super) async fn backfill(
        &mut self,
        step: &Step,
        spec: &Backfill,
        scope: &Scope,
    ) -> Result<Result<Facts, String>, ExecError> {
        self.under_lock_limits(&step.locks, async |run, _session| run.limited_backfill(step, spec, scope).await).await
    }

    async fn limited_backfill(
        &mut self,
        step: &Step,
        spec: &Backfill,
        scope: &Scope,
    ) -> Result<Result<Facts, String>, ExecError> {
        if self.dry_run || spec.dry_run {
            return Ok(match backfill::estimate(&mut self.db, spec).await {
                Ok(estimate) => {
                    self.record("backfill.estimate", json!({ "step": step.id, "estimate": estimate }))?;
                    Ok(Facts::DryRun { would: estimate.words() })
                }
                Err(e) => Err(format!("dry run: {e}")),
            });
        }
        if self.restart_backfill.contains(&step.id) {
            let forgotten = match self.db.delete_checkpoint(&self.runbook.name, &step.id).await {
                Ok(n) => n,
                Err(e) => return Ok(Err(format!("--restart-backfill: {e}"))),
            };
            self.record("backfill.restarted", json!({ "step": step.id, "checkpoint_deleted": forgotten > 0 }))?;
            if forgotten > 0 {
                self.face.note("--restart-backfill: the checkpoint is deleted, the backfill starts over");
            }
        }
        let pause_when = match &spec.pause_when {
            Some(template) => {
                let lookup = |r: &Ref| scope.lookup(r).flatten().map(str::to_string);
                match db::render(self.db.dialect(), template, lookup) {
                    Ok(rendered) => Some(rendered),
                    Err(e) => return Ok(Err(format!("pause_when: {e}"))),
                }
            }
            None => None,
        };
        let runbook = self.runbook.name.clone();
        let job = Job { runbook: &runbook, step: &step.id, spec, pause_when, locks: step.locks, timeout: step.timeout };
        let mut watch = Watcher { face: &mut self.face, journal: &self.journal, last_entry: None, last_throttle: None };
        match backfill::run(&mut self.db, &job, &mut watch).await {
            Ok(metrics) => Ok(Ok(Facts::Backfill { metrics })),
            Err(backfill::Error::Step(message)) => Ok(Err(message)),
            Err(backfill::Error::Journal(message)) => Err(ExecError::Journal(message)),
        }
    }
}

/// The driver's view of the run: the face, and the journal for progress entries.
struct Watcher<'a, F> {
    face: &'a mut F,
    journal: &'a Arc<Mutex<Journal>>,
    last_entry: Option<Instant>,
    /// The throttle state of the last progress entry: a pause is recorded when it begins.
    last_throttle: Option<Throttle>,
}

impl<F: Face> backfill::Watch for Watcher<'_, F> {
    fn progress(&mut self, progress: &Progress) -> Result<(), String> {
        self.face.progress(progress);
        let pause_began = matches!(progress.throttle, Throttle::Held | Throttle::Paused { .. })
            && self.last_throttle.as_ref() != Some(&progress.throttle);
        let due = self.last_entry.is_none_or(|at| at.elapsed() >= PROGRESS_ENTRY_EVERY);
        if due || pause_began {
            self.last_entry = Some(Instant::now());
            self.last_throttle = Some(progress.throttle.clone());
            return self.record("backfill.progress", json!(progress));
        }
        Ok(())
    }

    fn hold(&mut self) -> Hold {
        self.face.hold()
    }

    fn say(&mut self, line: &str) {
        self.face.note(line);
    }

    fn record(&mut self, kind: &str, fields: Value) -> Result<(), String> {
        let Value::Object(map) = fields else {
            return Err(format!("{kind}: entry fields must be an object"));
        };
        let mut journal = self.journal.lock().map_err(|_| "journal lock poisoned".to_string())?;
        journal.append(kind, map).map(drop).map_err(|e| e.to_string())
    }
}
