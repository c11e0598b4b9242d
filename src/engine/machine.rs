//! The transitions: which step runs next, what a result means, what the failure policy and
//! the people's decisions lead to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::effect::{Effect, RunOutcome, Scope};
use super::event::{Actor, Event, FailureChoice, GateDecision, Pace};
use super::facts::{BackfillMetrics, Facts, MigrationRun};
use super::state::{GateState, ItemStatus, StepState, StepStatus};
use crate::model::{Branch, Check, Expect, FailurePolicy, Operand, Runbook, Step, StepKind};

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    NotStarted,
    Active,
    Finished(RunOutcome),
}

/// What the current step is waiting for.
#[derive(Debug, Clone, PartialEq)]
enum Current {
    /// Between steps (or before the first).
    Idle,
    /// Waiting for the operator to start the action (operator pace).
    Ready,
    /// exec is performing the action.
    Running,
    Confirmation,
    Decision,
    FailureChoice {
        error: String,
        choices: Vec<FailureChoice>,
    },
}

#[derive(Debug, Clone)]
pub struct Engine {
    runbook: Arc<Runbook>,
    scope: Scope,
    main: Vec<StepState>,
    rollback: Vec<StepState>,
    gates: HashMap<String, GateState>,
    phase: Phase,
    pace: Pace,
    branch: Branch,
    cursor: usize,
    current: Current,
    /// A rollback asked for while a step runs starts when that step ends.
    rollback_requested: Option<String>,
}

impl Engine {
    /// `vars` are the runbook's variables plus the built-in ones (run_id, operator, …).
    pub fn new(runbook: Arc<Runbook>, vars: BTreeMap<String, String>) -> Self {
        let fresh = |n: usize| (0..n).map(|_| StepState::new()).collect();
        Engine {
            main: fresh(runbook.steps.len()),
            rollback: fresh(runbook.rollback.len()),
            runbook,
            scope: Scope { vars, snapshots: BTreeMap::new() },
            gates: HashMap::new(),
            phase: Phase::NotStarted,
            pace: Pace::Auto,
            branch: Branch::Main,
            cursor: 0,
            current: Current::Idle,
            rollback_requested: None,
        }
    }

    /// Rebuilds an engine by feeding it the journaled events again.
    pub fn replay(
        runbook: Arc<Runbook>,
        vars: BTreeMap<String, String>,
        events: impl IntoIterator<Item = Event>,
    ) -> Self {
        let mut engine = Engine::new(runbook, vars);
        for event in events {
            engine.handle(event);
        }
        engine
    }

    pub fn runbook(&self) -> &Runbook {
        &self.runbook
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn states(&self, branch: Branch) -> &[StepState] {
        match branch {
            Branch::Main => &self.main,
            Branch::Rollback => &self.rollback,
        }
    }

    /// The step the run is at, unless it has not started or has finished.
    pub fn current(&self) -> Option<(Branch, usize)> {
        (self.phase == Phase::Active && self.cursor < self.runbook.branch(self.branch).len())
            .then_some((self.branch, self.cursor))
    }

    pub fn outcome(&self) -> Option<RunOutcome> {
        match self.phase {
            Phase::Finished(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// What the run waits for now: the action in flight, or the question to a person.
    pub fn pending(&self) -> Option<Effect> {
        let (branch, index) = self.current()?;
        let step = self.runbook.branch(branch)[index].id.clone();
        match &self.current {
            Current::Idle => None,
            Current::Running => Some(Effect::Execute {
                step,
                branch,
                attempt: self.states(branch)[index].attempts,
                scope: self.scope.clone(),
            }),
            Current::Ready => Some(Effect::AwaitStart { step }),
            Current::Confirmation => Some(Effect::AwaitConfirmation { step }),
            Current::Decision => Some(Effect::AwaitDecision { step }),
            Current::FailureChoice { error, choices } => {
                Some(Effect::AwaitFailureChoice { step, error: error.clone(), choices: choices.clone() })
            }
        }
    }

    /// The items of a gate step with their status, in checklist order.
    pub fn gate_items(&self, step_id: &str) -> Vec<(&crate::model::Item, ItemStatus)> {
        let Some((_, _, step)) = self.runbook.step(step_id) else {
            return Vec::new();
        };
        let StepKind::Gate { checklist } = &step.kind else {
            return Vec::new();
        };
        let gate = self.gates.get(step_id);
        checklist
            .items
            .iter()
            .map(|item| {
                let status = match (&item.check, gate) {
                    (Some(_), Some(g)) => match (g.verdicts.get(&item.id), g.values.get(&item.id)) {
                        (Some(Ok(())), Some(Ok(value))) => ItemStatus::Passed { value: value.clone() },
                        (Some(Err(reason)), _) => ItemStatus::Failed { reason: reason.clone() },
                        _ => ItemStatus::Unevaluated,
                    },
                    (Some(_), None) => ItemStatus::Unevaluated,
                    (None, g) => match g.and_then(|g| g.ticks.get(&item.id)) {
                        Some(by) => ItemStatus::Ticked { by: by.clone() },
                        None => ItemStatus::Unticked,
                    },
                };
                (item, status)
            })
            .collect()
    }

    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Phase::Finished(_) = self.phase {
            fx.push(refused("the run is over"));
            return fx;
        }
        match event {
            Event::Started { branch, pace } => {
                self.pace = pace;
                self.start(branch, &mut fx)
            }
            Event::Imported { values, .. } => {
                if self.phase == Phase::NotStarted {
                    self.scope.snapshots.extend(values);
                } else {
                    fx.push(refused("snapshots are imported before the run starts"));
                }
            }
            Event::RunRequested { step, .. } => {
                if self.expect_current(&step, |c| *c == Current::Ready, "ready to run", &mut fx) {
                    self.run_step(&mut fx);
                }
            }
            Event::StepFinished { step, result, duration_ms } => self.finished(&step, result, duration_ms, &mut fx),
            Event::Confirmed { step, by } => {
                if self.expect_current(&step, |c| *c == Current::Confirmation, "waiting for confirmation", &mut fx) {
                    self.set_status(StepStatus::Done, format!("confirmed by {}", who(&by)), &mut fx);
                    self.advance(&mut fx);
                }
            }
            Event::Ticked { step, item, ticked, by } => self.tick(&step, &item, ticked, by, &mut fx),
            Event::Decided { step, decision, reason, by } => self.decide(&step, decision, reason, &by, &mut fx),
            Event::Resolved { step, choice, reason, by } => self.resolve(&step, choice, reason, &by, &mut fx),
            Event::Skipped { step, reason, by } => self.skip(&step, &reason, &by, &mut fx),
            Event::RollbackRequested { reason, .. } => self.request_rollback(reason, &mut fx),
        }
        fx
    }

    fn start(&mut self, branch: Branch, fx: &mut Vec<Effect>) {
        if self.phase != Phase::NotStarted {
            fx.push(refused("the run has already started"));
            return;
        }
        self.phase = Phase::Active;
        match branch {
            Branch::Main => self.advance(fx),
            Branch::Rollback => self.start_rollback("rollback runbook opened by the operator".into(), fx),
        }
    }

    /// Is `step` the current step, in the state `ok` accepts? Refuses the event otherwise.
    fn expect_current(&self, step: &str, ok: impl Fn(&Current) -> bool, what: &str, fx: &mut Vec<Effect>) -> bool {
        match self.current_step() {
            Some(s) if s.id == step && ok(&self.current) => true,
            _ => {
                fx.push(refused(&format!("step `{step}` is not {what}")));
                false
            }
        }
    }

    fn current_step(&self) -> Option<&Step> {
        self.current().map(|(b, i)| &self.runbook.branch(b)[i])
    }

    fn state_mut(&mut self) -> &mut StepState {
        let index = self.cursor;
        match self.branch {
            Branch::Main => &mut self.main[index],
            Branch::Rollback => &mut self.rollback[index],
        }
    }

    fn set_status(&mut self, status: StepStatus, detail: String, fx: &mut Vec<Effect>) {
        let step = self.runbook.branch(self.branch)[self.cursor].id.clone();
        let state = self.state_mut();
        state.status = status;
        state.detail = detail.clone();
        fx.push(Effect::Status { step, status, detail });
    }

    /// Moves to the next pending step of the branch and starts it, or ends the branch.
    fn advance(&mut self, fx: &mut Vec<Effect>) {
        self.current = Current::Idle;
        let steps = self.runbook.branch(self.branch).len();
        while self.cursor < steps && self.states(self.branch)[self.cursor].status != StepStatus::Pending {
            self.cursor += 1;
        }
        if self.cursor >= steps {
            match self.branch {
                Branch::Main => self.finish(RunOutcome::Completed, "every step is done".into(), fx),
                Branch::Rollback => self.finish(RunOutcome::RolledBack, "the rollback branch is done".into(), fx),
            }
            return;
        }
        self.begin_step(fx);
    }

    fn begin_step(&mut self, fx: &mut Vec<Effect>) {
        let runbook = Arc::clone(&self.runbook);
        let step = &runbook.branch(self.branch)[self.cursor];
        if let StepKind::Manual { .. } = step.kind {
            self.current = Current::Confirmation;
            self.set_status(StepStatus::Waiting, "waiting for confirmation".into(), fx);
            fx.push(Effect::AwaitConfirmation { step: step.id.clone() });
            return;
        }
        if self.pace == Pace::Operator {
            self.current = Current::Ready;
            self.set_status(StepStatus::Waiting, "ready: press Enter to run it".into(), fx);
            fx.push(Effect::AwaitStart { step: step.id.clone() });
            return;
        }
        self.run_step(fx);
    }

    /// Starts the current step's action.
    fn run_step(&mut self, fx: &mut Vec<Effect>) {
        let runbook = Arc::clone(&self.runbook);
        let step = &runbook.branch(self.branch)[self.cursor];
        self.current = Current::Running;
        self.state_mut().attempts += 1;
        let attempt = self.state_mut().attempts;
        self.set_status(StepStatus::Running, String::new(), fx);
        fx.push(Effect::Execute { step: step.id.clone(), branch: self.branch, attempt, scope: self.scope.clone() });
    }

    fn finished(&mut self, step_id: &str, result: Result<Facts, String>, duration_ms: u64, fx: &mut Vec<Effect>) {
        if !self.expect_current(step_id, |c| *c == Current::Running, "running", fx) {
            return;
        }
        let runbook = Arc::clone(&self.runbook);
        let step = &runbook.branch(self.branch)[self.cursor];
        let state = self.state_mut();
        state.duration_ms = Some(duration_ms);
        state.facts = result.as_ref().ok().cloned();
        let verdict = match result {
            Err(error) => Err(error),
            Ok(facts) => self.judge(step, facts),
        };
        match verdict {
            Ok(Judged::Done(detail)) => {
                self.set_status(StepStatus::Done, detail, fx);
                match self.rollback_requested.take() {
                    Some(reason) => self.start_rollback(reason, fx),
                    None => self.advance(fx),
                }
            }
            Ok(Judged::AwaitDecision(detail)) => {
                self.current = Current::Decision;
                self.set_status(StepStatus::Waiting, detail, fx);
                match self.rollback_requested.take() {
                    Some(reason) => self.start_rollback(reason, fx),
                    None => fx.push(Effect::AwaitDecision { step: step.id.clone() }),
                }
            }
            Err(error) => self.fail(step, error, fx),
        }
    }

    /// What the facts of a finished action mean for its step.
    fn judge(&mut self, step: &Step, facts: Facts) -> Result<Judged, String> {
        match (&step.kind, facts) {
            (StepKind::Check(check), Facts::Value { value }) => self
                .verdict(check, value.as_deref())
                .map(|()| Judged::Done(format!("{} (got {})", check.expect, show(&value)))),
            (StepKind::Snapshot { .. }, Facts::Snapshot { values }) => {
                let detail = values.iter().map(|(k, v)| format!("{k} = {}", show(v))).collect::<Vec<_>>().join(", ");
                self.scope.snapshots.extend(values);
                Ok(Judged::Done(detail))
            }
            (StepKind::Command { .. }, Facts::Command { exit_code: 0, .. }) => Ok(Judged::Done("exit code 0".into())),
            (StepKind::Command { .. }, Facts::Command { exit_code, .. }) => Err(format!("exit code {exit_code}")),
            (StepKind::Migrate { .. }, Facts::Applied { migrations }) => {
                Ok(Judged::Done(describe("applied", &migrations)))
            }
            (StepKind::Revert { .. }, Facts::Reverted { migrations }) => {
                Ok(Judged::Done(describe("reverted", &migrations)))
            }
            (StepKind::Gate { checklist }, Facts::Checklist { values }) => {
                let mut gate = self.gates.remove(&step.id).unwrap_or_default();
                gate.verdicts = checklist
                    .items
                    .iter()
                    .filter_map(|item| {
                        let check = item.check.as_ref()?;
                        let verdict = match values.get(&item.id) {
                            Some(Ok(value)) => self.verdict(check, value.as_deref()),
                            Some(Err(error)) => Err(format!("query failed: {error}")),
                            None => Err("not evaluated".into()),
                        };
                        Some((item.id.clone(), verdict))
                    })
                    .collect();
                gate.values = values;
                self.gates.insert(step.id.clone(), gate);
                let evaluated: Vec<String> = self
                    .gate_items(&step.id)
                    .into_iter()
                    .filter_map(|(item, status)| match status {
                        ItemStatus::Passed { value } => Some(format!("{} passed (got {})", item.id, show(&value))),
                        ItemStatus::Failed { reason } => Some(format!("{} FAILED ({reason})", item.id)),
                        _ => None,
                    })
                    .collect();
                let summary = self.gate_summary(&step.id);
                Ok(Judged::AwaitDecision(format!("{}; {summary}", evaluated.join(", "))))
            }
            (StepKind::Backfill(_), Facts::Backfill { metrics }) => Ok(Judged::Done(backfilled(&metrics))),
            (_, Facts::DryRun { would }) => Ok(Judged::Done(format!("dry run: {would}"))),
            (kind, facts) => Err(format!("internal: a {} step cannot report {facts:?}", kind.name())),
        }
    }

    fn verdict(&self, check: &Check, actual: Option<&str>) -> Result<(), String> {
        let expected = self.resolve_expected(&check.expect)?;
        if check.expect.holds(actual, &expected) {
            Ok(())
        } else {
            let resolved = match &check.expect.operand {
                Operand::Ref(_) => format!(" (that is {expected})"),
                Operand::Literal(_) => String::new(),
            };
            Err(format!("expected {}{resolved}, got {}", check.expect, actual.unwrap_or("NULL")))
        }
    }

    fn resolve_expected(&self, expect: &Expect) -> Result<String, String> {
        match &expect.operand {
            Operand::Literal(v) => Ok(v.clone()),
            Operand::Ref(r) => match self.scope.lookup(r) {
                Some(Some(v)) => Ok(v.to_string()),
                Some(None) => Ok("null".into()),
                None => Err(format!("`{r}` has no value: its snapshot was not taken in this run")),
            },
        }
    }

    fn gate_summary(&self, step: &str) -> String {
        let items = self.gate_items(step);
        let required: Vec<_> = items.iter().filter(|(i, _)| i.required).collect();
        let passing = required.iter().filter(|(_, s)| s.passes()).count();
        format!("{passing} of {} required items pass", required.len())
    }

    fn fail(&mut self, step: &Step, error: String, fx: &mut Vec<Effect>) {
        self.set_status(StepStatus::Failed, error.clone(), fx);
        if let Some(reason) = self.rollback_requested.take() {
            return self.start_rollback(reason, fx);
        }
        let reason = format!("step `{}` failed: {error}", step.id);
        match self.branch {
            Branch::Main => match step.on_failure.unwrap_or(self.runbook.on_failure) {
                FailurePolicy::Ask => {
                    let mut choices = vec![FailureChoice::Retry, FailureChoice::Skip];
                    if !self.runbook.rollback.is_empty() {
                        choices.push(FailureChoice::Rollback);
                    }
                    choices.push(FailureChoice::Abort);
                    self.ask_failure(step, error, choices, fx);
                }
                FailurePolicy::Rollback => self.start_rollback(reason, fx),
                FailurePolicy::Abort => self.finish(RunOutcome::Stopped, reason, fx),
            },
            // A failing rollback step never starts another rollback: a human decides.
            Branch::Rollback => match step.on_failure.unwrap_or(FailurePolicy::Ask) {
                FailurePolicy::Ask => {
                    let choices = vec![FailureChoice::Retry, FailureChoice::Skip, FailureChoice::Abort];
                    self.ask_failure(step, error, choices, fx);
                }
                FailurePolicy::Rollback | FailurePolicy::Abort => self.finish(RunOutcome::Stopped, reason, fx),
            },
        }
    }

    fn ask_failure(&mut self, step: &Step, error: String, choices: Vec<FailureChoice>, fx: &mut Vec<Effect>) {
        self.current = Current::FailureChoice { error: error.clone(), choices: choices.clone() };
        fx.push(Effect::AwaitFailureChoice { step: step.id.clone(), error, choices });
    }

    fn resolve(&mut self, step: &str, choice: FailureChoice, reason: Option<String>, by: &Actor, fx: &mut Vec<Effect>) {
        let offered = match &self.current {
            Current::FailureChoice { choices, .. } => choices.contains(&choice),
            _ => false,
        };
        if !self.expect_current(
            step,
            |c| matches!(c, Current::FailureChoice { .. }),
            "waiting for a failure choice",
            fx,
        ) {
            return;
        }
        if !offered {
            fx.push(refused(&format!("`{}` is not offered for step `{step}`", choice.name())));
            return;
        }
        match choice {
            FailureChoice::Retry => self.run_step(fx),
            FailureChoice::Skip => match reason.filter(|r| !r.trim().is_empty()) {
                Some(reason) => {
                    self.set_status(StepStatus::Skipped, format!("skipped after failure by {}: {reason}", who(by)), fx);
                    self.advance(fx);
                }
                None => fx.push(refused("skipping a failed step needs a reason")),
            },
            FailureChoice::Rollback => {
                let why = reason.unwrap_or_else(|| format!("operator chose rollback after step `{step}` failed"));
                self.start_rollback(why, fx);
            }
            FailureChoice::Abort => {
                let why = reason.unwrap_or_else(|| format!("operator aborted after step `{step}` failed"));
                self.finish(RunOutcome::Stopped, why, fx);
            }
        }
    }

    fn tick(&mut self, step: &str, item_id: &str, ticked: bool, by: Actor, fx: &mut Vec<Effect>) {
        if !self.expect_current(step, |c| *c == Current::Decision, "a gate waiting for a decision", fx) {
            return;
        }
        let manual = self.gate_items(step).iter().any(|(item, _)| item.id == item_id && item.check.is_none());
        if !manual {
            fx.push(refused(&format!("`{item_id}` is not a manual item of gate `{step}`")));
            return;
        }
        let gate = self.gates.entry(step.to_string()).or_default();
        if ticked {
            gate.ticks.insert(item_id.to_string(), by.clone());
        } else {
            gate.ticks.remove(item_id);
        }
        let verb = if ticked { "ticked" } else { "unticked" };
        let summary = format!("{verb} {item_id} by {}; {}", who(&by), self.gate_summary(step));
        self.set_status(StepStatus::Waiting, summary, fx);
    }

    fn decide(&mut self, step: &str, decision: GateDecision, reason: Option<String>, by: &Actor, fx: &mut Vec<Effect>) {
        if !self.expect_current(step, |c| *c == Current::Decision, "a gate waiting for a decision", fx) {
            return;
        }
        match decision {
            GateDecision::Go => {
                let blocking: Vec<String> = self
                    .gate_items(step)
                    .into_iter()
                    .filter(|(item, status)| item.required && !status.passes())
                    .map(|(item, _)| item.id.clone())
                    .collect();
                if !blocking.is_empty() {
                    fx.push(refused(&format!("Go refused: required items not passing: {}", blocking.join(", "))));
                    return;
                }
                self.set_status(StepStatus::Done, format!("Go by {}", who(by)), fx);
                self.advance(fx);
            }
            GateDecision::NoGo => {
                let Some(reason) = reason.filter(|r| !r.trim().is_empty()) else {
                    fx.push(refused("No-Go needs a reason"));
                    return;
                };
                self.set_status(StepStatus::Failed, format!("No-Go by {}: {reason}", who(by)), fx);
                self.current = Current::Idle;
                self.start_rollback(format!("No-Go at gate `{step}`: {reason}"), fx);
            }
        }
    }

    fn skip(&mut self, step_id: &str, reason: &str, by: &Actor, fx: &mut Vec<Effect>) {
        if reason.trim().is_empty() {
            fx.push(refused("skipping needs a reason"));
            return;
        }
        let Some((branch, index, step)) = self.runbook.step(step_id) else {
            fx.push(refused(&format!("no step `{step_id}`")));
            return;
        };
        if matches!(step.kind, StepKind::Gate { .. }) {
            fx.push(refused("a gate is decided with Go or No-Go, not skipped"));
            return;
        }
        let is_current = self.current() == Some((branch, index));
        let status = self.states(branch)[index].status;
        let allowed = if is_current {
            matches!(self.current, Current::Ready | Current::Confirmation | Current::FailureChoice { .. })
        } else {
            branch == self.branch && status == StepStatus::Pending && self.phase == Phase::Active
        };
        if !allowed {
            fx.push(refused(&format!("step `{step_id}` cannot be skipped now")));
            return;
        }
        let detail = format!("skipped by {}: {reason}", who(by));
        if is_current {
            self.set_status(StepStatus::Skipped, detail, fx);
            self.advance(fx);
        } else {
            let state = match branch {
                Branch::Main => &mut self.main[index],
                Branch::Rollback => &mut self.rollback[index],
            };
            state.status = StepStatus::Skipped;
            state.detail = detail.clone();
            fx.push(Effect::Status { step: step_id.to_string(), status: StepStatus::Skipped, detail });
        }
    }

    fn request_rollback(&mut self, reason: String, fx: &mut Vec<Effect>) {
        if self.branch == Branch::Rollback {
            fx.push(refused("the rollback branch is already running"));
        } else if self.runbook.rollback.is_empty() {
            fx.push(refused("the runbook has no rollback branch"));
        } else if self.current == Current::Running {
            let step = self.current_step().map(|s| s.id.clone()).unwrap_or_default();
            fx.push(refused(&format!("the rollback starts when step `{step}` has finished")));
            self.rollback_requested = Some(reason);
        } else {
            if self.phase == Phase::NotStarted {
                self.phase = Phase::Active;
            }
            self.start_rollback(reason, fx);
        }
    }

    fn start_rollback(&mut self, reason: String, fx: &mut Vec<Effect>) {
        if self.runbook.rollback.is_empty() {
            return self.finish(RunOutcome::Stopped, format!("{reason}; the runbook has no rollback branch"), fx);
        }
        // A step left waiting for a person did not run: it goes back to pending.
        if matches!(self.current, Current::Ready | Current::Confirmation | Current::Decision)
            && let Some((Branch::Main, _)) = self.current()
        {
            self.set_status(StepStatus::Pending, "not run: rollback".into(), fx);
        }
        self.branch = Branch::Rollback;
        self.cursor = 0;
        self.current = Current::Idle;
        fx.push(Effect::RollbackStarted { reason });
        self.advance(fx);
    }

    fn finish(&mut self, outcome: RunOutcome, reason: String, fx: &mut Vec<Effect>) {
        self.phase = Phase::Finished(outcome);
        self.current = Current::Idle;
        fx.push(Effect::Finished { outcome, reason });
    }
}

enum Judged {
    Done(String),
    AwaitDecision(String),
}

/// `alice (change-manager)`, for the details the faces and the audit log show.
fn who(by: &Actor) -> String {
    match &by.role {
        Some(role) => format!("{} ({role})", by.name),
        None => by.name.clone(),
    }
}

fn refused(message: &str) -> Effect {
    Effect::Refused { message: message.to_string() }
}

fn show(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("NULL")
}

fn describe(verb: &str, migrations: &[MigrationRun]) -> String {
    if migrations.is_empty() {
        return format!("{verb} nothing: already in place");
    }
    let versions: Vec<String> = migrations.iter().map(|m| m.version.to_string()).collect();
    format!("{verb} {}", versions.join(", "))
}

fn backfilled(m: &BackfillMetrics) -> String {
    if m.batches == 0 && m.total_rows_visited > 0 {
        return format!("nothing left: an earlier run completed it ({} rows visited)", m.total_rows_visited);
    }
    let mut text = format!(
        "{} rows visited, {} updated in {} batches ({} retries)",
        m.rows_visited, m.rows_updated, m.batches, m.retries
    );
    if let Some(after) = &m.resumed_after {
        text.push_str(&format!("; resumed after key {after}: {} rows visited in all", m.total_rows_visited));
    }
    text
}
