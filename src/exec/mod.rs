//! The tokio driver: performs the engine's effects (SQL, shell commands, migrations),
//! writes the journal ahead of every action, and feeds the results back as events.

mod actions;
mod backfill;
pub mod backoff;
pub mod command;
mod face;
mod lock_waits;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

pub use face::{Face, Reply};

use crate::db::{Db, DbUrl};
use crate::engine::{Actor, Effect, Engine, Event, Pace, RunOutcome};
use crate::journal::Journal;
use crate::model::{Branch, MigrationSet, Runbook};

/// Signed checkpoints at least this often while a run is active (DESIGN: audit log).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// Everything a run needs, opened and checked by the caller.
pub struct Run<F> {
    pub runbook: Arc<Runbook>,
    /// The runbook's variables with the built-in ones (run_id, operator, role, runbook).
    pub vars: BTreeMap<String, String>,
    pub url: DbUrl,
    pub db: Db,
    /// The migrations folder for this database's dialect, when the runbook has one.
    pub migrations: Option<MigrationSet>,
    pub journal: Arc<Mutex<Journal>>,
    pub actor: Actor,
    /// Headless runs go on by themselves; in the TUI the operator starts each step.
    pub pace: Pace,
    /// Events fed before the run starts (snapshots imported from an earlier run's log).
    pub preface: Vec<Event>,
    /// `--dry-run`: steps that write say what they would do instead.
    pub dry_run: bool,
    /// `--restart-backfill STEP`: these backfills forget their checkpoint and start over.
    pub restart_backfill: Vec<String>,
    pub face: F,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Nothing may run that is not on disk first: a journal failure stops the run.
    #[error("audit log: {0}")]
    Journal(String),
    #[error("{0}")]
    Stuck(String),
}

/// How a run ended: the engine's outcome, or stopped for want of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Finished(RunOutcome),
    NeedsHuman(String),
}

impl Ending {
    pub fn exit_code(&self) -> i32 {
        match self {
            Ending::Finished(outcome) => outcome.exit_code(),
            Ending::NeedsHuman(_) => RunOutcome::Stopped.exit_code(),
        }
    }
}

impl<F> Run<F> {
    /// The same run answered by another face.
    pub fn with_face<G>(self, face: G) -> Run<G> {
        Run {
            runbook: self.runbook,
            vars: self.vars,
            url: self.url,
            db: self.db,
            migrations: self.migrations,
            journal: self.journal,
            actor: self.actor,
            pace: self.pace,
            preface: self.preface,
            dry_run: self.dry_run,
            restart_backfill: self.restart_backfill,
            face,
        }
    }
}

impl<F: Face> Run<F> {
    /// Walks the runbook from `start` to its end; the caller seals the journal.
    pub async fn execute(mut self, start: Branch) -> Result<(Ending, F), ExecError> {
        let mut engine = Engine::new(Arc::clone(&self.runbook), self.vars.clone());
        let timer = self.spawn_checkpoint_timer();
        let result = self.drive(&mut engine, start).await;
        timer.abort();
        result.map(|ending| (ending, self.face))
    }

    async fn drive(&mut self, engine: &mut Engine, start: Branch) -> Result<Ending, ExecError> {
        for event in std::mem::take(&mut self.preface) {
            self.feed(engine, event)?;
        }
        self.feed(engine, Event::Started { branch: start, pace: self.pace })?;
        let mut refused: Option<String> = None;
        loop {
            if let Some(outcome) = engine.outcome() {
                return Ok(Ending::Finished(outcome));
            }
            let queued = self.face.queued();
            if !queued.is_empty() {
                for event in queued {
                    self.feed(engine, event)?;
                }
                continue;
            }
            let Some(waiting) = engine.pending() else {
                return Err(ExecError::Stuck("the engine waits for nothing but has not finished".into()));
            };
            match &waiting {
                Effect::Execute { step, branch, attempt, scope } => {
                    let event = self.perform(step, *branch, *attempt, scope).await?;
                    self.feed(engine, event)?;
                    refused = None;
                }
                _ => match self.face.decide(&waiting, engine, refused.as_deref()).await {
                    Reply::Stop(reason) => {
                        self.record("run.stopped", json!({ "reason": reason }))?;
                        return Ok(Ending::NeedsHuman(reason));
                    }
                    Reply::Events(events) => {
                        refused = None;
                        for event in events {
                            let effects = self.feed(engine, event)?;
                            if let Some(message) = effects.iter().find_map(|e| match e {
                                Effect::Refused { message } => Some(message.clone()),
                                _ => None,
                            }) {
                                refused = Some(message);
                            }
                        }
                    }
                },
            }
        }
    }

    /// Journals the event, hands it to the engine, shows and journals what follows.
    fn feed(&mut self, engine: &mut Engine, event: Event) -> Result<Vec<Effect>, ExecError> {
        let Value::Object(mut fields) = serde_json::to_value(&event).map_err(|e| ExecError::Journal(e.to_string()))?
        else {
            return Err(ExecError::Journal("an event is not a JSON object".into()));
        };
        let kind = fields.remove("kind").and_then(|k| k.as_str().map(str::to_string)).unwrap_or_default();
        if let Event::Started { .. } = event {
            fields.extend(self.run_facts());
        }
        self.append(&kind, fields)?;
        self.face.event(&event);
        let effects = engine.handle(event);
        for effect in &effects {
            self.face.show(effect, engine);
            // The program's own log (a file, never the terminal) keeps the run's outline.
            match effect {
                Effect::Status { step, status, detail } => tracing::info!(step, ?status, detail, "step"),
                Effect::RollbackStarted { reason } => tracing::warn!(reason, "rollback started"),
                Effect::Finished { outcome, reason } => tracing::info!(?outcome, reason, "run ended"),
                _ => {}
            }
            match effect {
                Effect::Status { step, status, detail } => {
                    self.record("step.status", json!({ "step": step, "status": status, "detail": detail }))?
                }
                Effect::RollbackStarted { reason } => self.record("rollback.started", json!({ "reason": reason }))?,
                Effect::Refused { message } => self.record("refused", json!({ "message": message }))?,
                Effect::Finished { outcome, reason } => self.record(
                    "run.ended",
                    json!({ "outcome": outcome, "exit_code": outcome.exit_code(), "reason": reason }),
                )?,
                Effect::Execute { .. }
                | Effect::AwaitStart { .. }
                | Effect::AwaitConfirmation { .. }
                | Effect::AwaitDecision { .. }
                | Effect::AwaitFailureChoice { .. } => {}
            }
        }
        Ok(effects)
    }

    /// What the audit log's first entry says about this run.
    fn run_facts(&self) -> Map<String, Value> {
        let rb = &self.runbook;
        let host = hostname();
        let json = json!({
            "runbook": rb.name,
            "title": rb.title,
            "change": rb.change,
            "content_hash": rb.content_hash,
            "run_id": self.vars.get("run_id"),
            "operator": self.actor.name,
            "role": self.actor.role,
            "host": host,
            "database": self.url.redacted(),
            "dialect": self.url.dialect().name(),
            "runsheet": env!("CARGO_PKG_VERSION"),
            "dry_run": self.dry_run,
        });
        match json {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn record(&self, kind: &str, fields: Value) -> Result<(), ExecError> {
        match fields {
            Value::Object(map) => self.append(kind, map),
            other => Err(ExecError::Journal(format!("entry fields must be an object, not {other}"))),
        }
    }

    fn append(&self, kind: &str, fields: Map<String, Value>) -> Result<(), ExecError> {
        let mut journal = self.journal.lock().map_err(|_| ExecError::Journal("journal lock poisoned".into()))?;
        journal.append(kind, fields).map(|_| ()).map_err(|e| ExecError::Journal(e.to_string()))
    }

    fn checkpoint(&self) -> Result<(), ExecError> {
        let mut journal = self.journal.lock().map_err(|_| ExecError::Journal("journal lock poisoned".into()))?;
        journal.checkpoint().map(|_| ()).map_err(|e| ExecError::Journal(e.to_string()))
    }

    fn spawn_checkpoint_timer(&self) -> tokio::task::JoinHandle<()> {
        let journal = Arc::clone(&self.journal);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Ok(mut journal) = journal.lock() else { return };
                if let Err(e) = journal.checkpoint_if_older_than(CHECKPOINT_EVERY) {
                    tracing::error!("timed checkpoint failed: {e}");
                }
            }
        })
    }

    /// Performs one action, journaled ahead, and returns the event that reports it.
    async fn perform(
        &mut self,
        step_id: &str,
        branch: Branch,
        attempt: u32,
        scope: &crate::engine::Scope,
    ) -> Result<Event, ExecError> {
        let runbook = Arc::clone(&self.runbook);
        let Some((_, _, step)) = runbook.step(step_id) else {
            return Err(ExecError::Stuck(format!("no step `{step_id}`")));
        };
        if step.kind.is_destructive() {
            self.checkpoint()?;
        }
        let mut started =
            json!({ "step": step_id, "branch": branch, "attempt": attempt, "step_kind": step.kind.name() });
        if let (Value::Object(map), Value::Object(what)) = (&mut started, actions::describe(step)) {
            map.extend(what);
        }
        self.record("step.started", started)?;
        let clock = Instant::now();
        let result = self.act(step, scope).await?;
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(Event::StepFinished { step: step_id.to_string(), result, duration_ms })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}
