//! The actions of the step kinds, performed on the run's database connection.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::lock_waits::{Attempt, Retried};
use super::{ExecError, Face, Run, command};
use crate::db::migrations::AppliedRow;
use crate::db::{self, Db};
use crate::engine::{Facts, MigrationRun, Scope};
use crate::journal::Redactor;
use crate::lint;
use crate::model::{LockPolicy, MigrationFile, MigrationSet, Ref, Step, StepKind, Template};

/// A step's failure (as opposed to the run's failure, ExecError).
type Outcome = Result<Facts, String>;

/// What `step.started` records about the action about to run.
pub(super) fn describe(step: &Step) -> Value {
    match &step.kind {
        StepKind::Check(check) => json!({ "sql": check.sql.source, "expect": check.expect.to_string() }),
        StepKind::Snapshot { values } => {
            json!({ "sql": values.iter().map(|(k, t)| (k.clone(), t.source.clone())).collect::<BTreeMap<_, _>>() })
        }
        StepKind::Command { run } => json!({ "command": run }),
        StepKind::Migrate { to } => json!({ "to": to }),
        StepKind::Revert { to } => json!({ "to": to }),
        StepKind::Gate { checklist } => json!({ "checklist": checklist.path.display().to_string() }),
        StepKind::Manual { instructions } => json!({ "instructions": instructions.source }),
        StepKind::Backfill(b) => json!({
            "table": b.table, "key": b.key, "set": b.set, "where": b.filter, "batch_size": b.batch_size,
            "target_batch_time_ms": b.target_batch_time.as_millis(), "dry_run": b.dry_run,
            "definition": b.definition_hash(),
        }),
    }
}

impl<F: Face> Run<F> {
    pub(super) async fn act(&mut self, step: &Step, scope: &Scope) -> Result<Outcome, ExecError> {
        if self.dry_run
            && let Some(would) = self.would(step).await
        {
            return Ok(would.map(|would| Facts::DryRun { would }));
        }
        let timeout = step.timeout;
        Ok(match &step.kind {
            StepKind::Check(check) => self.value(&check.sql, scope, timeout).await.map(|value| Facts::Value { value }),
            StepKind::Snapshot { values } => {
                let mut taken = BTreeMap::new();
                for (name, sql) in values {
                    match self.value(sql, scope, timeout).await {
                        Ok(value) => taken.insert(name.clone(), value),
                        Err(e) => return Ok(Err(format!("{name}: {e}"))),
                    };
                }
                Ok(Facts::Snapshot { values: taken })
            }
            StepKind::Command { run } => {
                // The command has the full DATABASE_URL and may print it: mask the password
                // here, before the output reaches a face, the engine or the audit log.
                let secrets = self.url.secrets();
                let redactor = Redactor::new(&secrets.iter().map(String::as_str).collect::<Vec<_>>());
                let env = self.command_env(scope);
                let face = &mut self.face;
                let mut live = |line: &str| face.output(&redactor.text(line.to_string()));
                command::run(run, &env, timeout, &mut live)
                    .await
                    .map(|r| Facts::Command { exit_code: r.exit_code, output: redactor.text(r.output) })
            }
            StepKind::Migrate { to } => self.limited_migrations(Direction::Up(*to), step).await?,
            StepKind::Revert { to } => self.limited_migrations(Direction::Down(*to), step).await?,
            StepKind::Gate { checklist } => {
                let mut values = BTreeMap::new();
                for item in &checklist.items {
                    if let Some(check) = &item.check {
                        values.insert(item.id.clone(), self.value(&check.sql, scope, timeout).await);
                    }
                }
                Ok(Facts::Checklist { values })
            }
            StepKind::Backfill(spec) => self.backfill(step, spec, scope).await?,
            StepKind::Manual { .. } => return Err(ExecError::Stuck("a manual step is confirmed, not executed".into())),
        })
    }

    /// In a dry run, what a step that writes would do; None for steps that only read (and for
    /// backfills, which estimate).
    async fn would(&mut self, step: &Step) -> Option<Result<String, String>> {
        let direction = match &step.kind {
            StepKind::Command { run } => return Some(Ok(format!("would run `{run}`"))),
            StepKind::Migrate { to } => Direction::Up(*to),
            StepKind::Revert { to } => Direction::Down(*to),
            _ => return None,
        };
        let Some(set) = self.migrations.clone() else {
            return Some(Err("no migrations folder for this database's dialect".into()));
        };
        // Read only: a dry run does not even create `_sqlx_migrations`.
        let plan = db::migrations::read_applied(&mut self.db).await.and_then(|applied| direction.plan(&set, &applied));
        let (_, _, verb) = direction.words();
        Some(plan.map_err(|e| e.to_string()).map(|plan| {
            let versions: Vec<String> = plan.iter().map(|f| format!("{} {}", f.version, f.description)).collect();
            match versions.as_slice() {
                [] => format!("nothing to be {verb}"),
                _ => format!("would be {verb}: {}", versions.join(", ")),
            }
        }))
    }

    /// The single value of a query, its `${...}` references bound as parameters.
    async fn value(
        &mut self,
        sql: &Template,
        scope: &Scope,
        timeout: Option<Duration>,
    ) -> Result<Option<String>, String> {
        let lookup = |r: &Ref| scope.lookup(r).flatten().map(str::to_string);
        let (text, params) = db::render(self.db.dialect(), sql, lookup)?;
        let query = self.db.query_value(&text, &params);
        let result = limited(timeout, query).await;
        if let Err(Limited::TimedOut(_)) = &result {
            self.reconnect().await;
        }
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A query cut off by its timeout may still run on the old connection: start afresh.
    pub(super) async fn reconnect(&mut self) {
        match Db::connect(&self.url).await {
            Ok(db) => self.db = db,
            Err(e) => tracing::error!("reconnect after timeout failed: {e}"),
        }
    }

    /// Commands get `DATABASE_URL` and the variables under their own names; the shell expands
    /// `${run_id}` itself, so no value is ever pasted into the command text.
    fn command_env(&self, scope: &Scope) -> Vec<(String, String)> {
        let mut env = vec![("DATABASE_URL".to_string(), self.url.expose_url().to_string())];
        env.extend(scope.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }

    /// `migrations` with the step's lock and statement timeouts on the session.
    async fn limited_migrations(&mut self, direction: Direction, step: &Step) -> Result<Outcome, ExecError> {
        let (locks, timeout) = (&step.locks, step.timeout);
        self.under_lock_limits(locks, async |run, session| run.migrations(direction, locks, timeout, session).await)
            .await
    }

    /// Applies (or reverts) one migration at a time, each journaled ahead and after, so that
    /// a failure part-way says exactly what is in place. A migration that gives up waiting for
    /// a lock is retried as `locks` says; `session` is this connection's id on the server.
    /// Past the step's `timeout` no further migration starts: cutting one off half-way would
    /// leave a MariaDB schema half-changed, and its statements are bounded by
    /// `statement_timeout` already.
    async fn migrations(
        &mut self,
        direction: Direction,
        locks: &LockPolicy,
        timeout: Option<Duration>,
        session: Option<i64>,
    ) -> Result<Outcome, ExecError> {
        let Some(set) = self.migrations.clone() else {
            return Ok(Err("no migrations folder for this database's dialect".into()));
        };
        let applied = match db::migrations::applied(&mut self.db).await {
            Ok(applied) => applied,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let plan = match direction.plan(&set, &applied) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let (starting, finished, verb) = direction.words();
        let mut done = Vec::new();
        let clock = Instant::now();
        for file in plan {
            if let Some(limit) = timeout
                && clock.elapsed() >= limit
            {
                let limit = humantime::format_duration(limit);
                let error = format!("the step ran longer than its timeout, {limit}, so it was not started");
                return Ok(Err(half_done(file.version, &error, verb, &done)));
            }
            let mut entry = json!({ "version": file.version, "description": file.description });
            // The lint findings its author allowed, and why, are part of the evidence.
            let allowed = lint::allowances(direction.sql(file));
            if !allowed.is_empty() {
                entry["allowed"] = json!(allowed);
            }
            self.record(starting, entry)?;
            let what = Retried {
                kind: "migration.lock_timeout",
                fields: json!({ "version": file.version }),
                label: file.version.to_string(),
            };
            let result = self.with_lock_retries(locks, &what, session, &mut OneMigration { file, direction }).await?;
            match result {
                Ok(run) => {
                    self.record(finished, json!(run))?;
                    self.face.note(&format!("{verb} {} {} in {} ms", run.version, run.description, run.duration_ms));
                    done.push(run);
                }
                Err(e) => return Ok(Err(half_done(file.version, &e.to_string(), verb, &done))),
            }
        }
        Ok(Ok(match direction {
            Direction::Up(_) => Facts::Applied { migrations: done },
            Direction::Down(_) => Facts::Reverted { migrations: done },
        }))
    }
}

/// Applying or reverting one migration, retried after a lock timeout.
struct OneMigration<'f> {
    file: &'f MigrationFile,
    direction: Direction,
}

impl Attempt for OneMigration<'_> {
    type Output = MigrationRun;

    fn attempt<'a>(&'a mut self, db: &'a mut Db) -> impl Future<Output = db::Result<MigrationRun>> + Send + 'a {
        let (file, direction) = (self.file, self.direction);
        async move {
            match direction {
                Direction::Up(_) => db::migrations::apply_one(db, file).await,
                Direction::Down(_) => db::migrations::revert_one(db, file).await,
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    /// Apply pending migrations up to the version (all when None).
    Up(Option<i64>),
    /// Revert applied migrations above the version.
    Down(i64),
}

impl Direction {
    /// The migrations to apply or revert, in order.
    fn plan<'s>(self, set: &'s MigrationSet, applied: &[AppliedRow]) -> db::Result<Vec<&'s MigrationFile>> {
        // A half-applied version (MariaDB) blocks both directions, even when the plan would not
        // touch it: "nothing to do" would hide a schema that is neither before nor after it.
        db::migrations::refuse_dirty(applied)?;
        match self {
            Direction::Up(to) => {
                // An applied migration whose file changed or vanished: what the database holds
                // is not what the folder says, so applying more on top would be a guess.
                db::migrations::verify_applied(set, applied)?;
                Ok(db::migrations::plan_up(set, applied, to))
            }
            Direction::Down(to) => db::migrations::plan_down(set, applied, to),
        }
    }

    /// The file this direction runs.
    fn sql(self, file: &MigrationFile) -> &str {
        match self {
            Direction::Up(_) => &file.up_sql,
            Direction::Down(_) => &file.down_sql,
        }
    }

    /// The journal kinds before and after each migration, and the verb for people.
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Direction::Up(_) => ("migration.applying", "migration.applied", "applied"),
            Direction::Down(_) => ("migration.reverting", "migration.reverted", "reverted"),
        }
    }
}

/// A migrate or revert step that stopped part-way says what it did before the failure.
fn half_done(version: i64, error: &str, verb: &str, done: &[MigrationRun]) -> String {
    let before = if done.is_empty() {
        format!("nothing {verb} before it in this step")
    } else {
        let versions: Vec<String> = done.iter().map(|m| m.version.to_string()).collect();
        format!("{verb} before it in this step: {}", versions.join(", "))
    };
    format!("{version} could not be {verb}: {error} ({before})")
}

enum Limited {
    TimedOut(Duration),
}

impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limited::TimedOut(limit) => write!(f, "timed out after {}", humantime::format_duration(*limit)),
        }
    }
}

async fn limited<T>(timeout: Option<Duration>, work: impl Future<Output = T>) -> Result<T, Limited> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, work).await.map_err(|_| Limited::TimedOut(limit)),
        None => Ok(work.await),
    }
}
