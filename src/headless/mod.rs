//! The non-interactive face: answers from `--yes` or `--answers FILE`, one plain line per
//! event, suitable for CI logs.

mod answers;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::time::{Duration, Instant};

pub use answers::{Answer, Answers};

use crate::backfill::{Progress, Throttle};
use crate::engine::{Actor, Effect, Engine, Event, Facts, FailureChoice, GateDecision, ItemStatus, StepStatus};
use crate::exec::{Face, Reply};
use crate::model::{Branch, Step, StepKind};

/// Where a headless run's decisions come from.
pub enum Decisions {
    /// `--yes`: confirm manual steps, tick manual items in the operator's name, Go when every
    /// automated required item passes (No-Go otherwise), and roll back a failed step (abort
    /// when there is no rollback branch).
    Yes,
    Answers(Answers),
    /// No answers: the first question stops the run (exit 3).
    None,
}

pub struct Headless<W: Write> {
    out: W,
    decisions: Decisions,
    actor: Actor,
    /// When the last backfill progress line was printed, and in which throttle state.
    last_progress: Option<(Instant, Throttle)>,
}

/// CI logs get a backfill progress line this often (and whenever it pauses or resumes).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

impl<W: Write> Headless<W> {
    pub fn new(out: W, decisions: Decisions, actor: Actor) -> Self {
        Headless { out, decisions, actor, last_progress: None }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// One line, prefixed with the UTC time of day.
    pub fn line(&mut self, text: &str) {
        let now = chrono::Utc::now().format("%H:%M:%S");
        // A CI log that cannot be written to must not stop the change.
        let _ = writeln!(self.out, "{now} {text}");
        let _ = self.out.flush();
    }

    fn by(&self) -> Actor {
        self.actor.clone()
    }

    fn gate(&mut self, step: &str, engine: &Engine, refused: Option<&str>) -> Reply {
        if let Some(message) = refused {
            return Reply::Stop(format!("gate `{step}`: {message}"));
        }
        let items = engine.gate_items(step);
        let manual: Vec<String> = items
            .iter()
            .filter(|(item, status)| item.check.is_none() && matches!(status, ItemStatus::Unticked))
            .map(|(item, _)| item.id.clone())
            .collect();
        let (decision, reason, tick) = match &mut self.decisions {
            Decisions::Yes => {
                let failing: Vec<String> = items
                    .iter()
                    .filter(|(item, status)| item.required && item.check.is_some() && !status.passes())
                    .map(|(item, _)| item.id.clone())
                    .collect();
                if failing.is_empty() {
                    (GateDecision::Go, None, manual)
                } else {
                    let reason = format!("automated items failing: {}", failing.join(", "));
                    (GateDecision::NoGo, Some(reason), manual)
                }
            }
            Decisions::Answers(answers) => match answers.take(step) {
                Some(Answer::Gate { decision, reason, tick }) => {
                    let tick = tick.unwrap_or(if decision == GateDecision::Go { manual } else { Vec::new() });
                    (decision, reason, tick)
                }
                _ => return Reply::Stop(format!("no answer for gate `{step}`")),
            },
            Decisions::None => return Reply::Stop(format!("gate `{step}` needs a decision (use --yes or --answers)")),
        };
        // The engine's statuses say what was ticked and decided, and by whom.
        let mut events: Vec<Event> = tick
            .into_iter()
            .map(|item| Event::Ticked { step: step.to_string(), item, ticked: true, by: self.by() })
            .collect();
        events.push(Event::Decided { step: step.to_string(), decision, reason, by: self.by() });
        Reply::Events(events)
    }

    fn failure(&mut self, step: &str, choices: &[FailureChoice], refused: Option<&str>) -> Reply {
        if let Some(message) = refused {
            return Reply::Stop(format!("step `{step}`: {message}"));
        }
        let (choice, reason) = match &mut self.decisions {
            Decisions::Yes if choices.contains(&FailureChoice::Rollback) => {
                (FailureChoice::Rollback, Some(format!("step `{step}` failed; --yes rolls back")))
            }
            Decisions::Yes => (FailureChoice::Abort, Some(format!("step `{step}` failed; --yes aborts"))),
            Decisions::Answers(answers) => match answers.take(step) {
                Some(Answer::Failure { choice, reason }) if choices.contains(&choice) => (choice, reason),
                Some(Answer::Failure { choice, .. }) => {
                    return Reply::Stop(format!("`{}` is not offered for step `{step}`", choice.name()));
                }
                _ => return Reply::Stop(format!("no answer for the failure of step `{step}`")),
            },
            Decisions::None => return Reply::Stop(format!("step `{step}` failed and needs a decision")),
        };
        self.line(&format!("{step}: {} by {}", choice.name(), self.actor.name));
        Reply::Events(vec![Event::Resolved { step: step.to_string(), choice, reason, by: self.by() }])
    }
}

/// Lines of a command's output shown under its status, the rest is in the audit log.
const OUTPUT_LINES: usize = 20;

impl<W: Write> Headless<W> {
    /// A command's output (its tail) under the line that says it ended: nothing hidden.
    fn command_output(&mut self, engine: &Engine, step: &str, status: StepStatus) {
        if !matches!(status, StepStatus::Done | StepStatus::Failed) {
            return;
        }
        let Some((branch, index, _)) = engine.runbook().step(step) else {
            return;
        };
        let Some(Facts::Command { output, .. }) = &engine.states(branch)[index].facts else {
            return;
        };
        let lines: Vec<&str> = output.lines().collect();
        let shown = &lines[lines.len().saturating_sub(OUTPUT_LINES)..];
        if shown.len() < lines.len() {
            self.line(&format!("  | … {} earlier lines in the audit log", lines.len() - shown.len()));
        }
        for line in shown {
            self.line(&format!("  | {line}"));
        }
    }
}

/// `[3/9] id` on the main branch, `[rollback 1/2] id` on the rollback branch.
fn label(engine: &Engine, step: &str) -> String {
    match engine.runbook().step(step) {
        Some((Branch::Main, i, _)) => format!("[{}/{}] {step}", i + 1, engine.runbook().steps.len()),
        Some((Branch::Rollback, i, _)) => format!("[rollback {}/{}] {step}", i + 1, engine.runbook().rollback.len()),
        None => step.to_string(),
    }
}

impl<W: Write> Face for Headless<W> {
    fn event(&mut self, event: &Event) {
        if let Event::Imported { from, values } = event {
            let shown: Vec<String> =
                values.iter().map(|(k, v)| format!("{k} = {}", v.as_deref().unwrap_or("NULL"))).collect();
            self.line(&format!("snapshots of the last run, from {from}: {}", shown.join(", ")));
        }
    }

    fn show(&mut self, effect: &Effect, engine: &Engine) {
        let text = match effect {
            Effect::Status { step, status, detail } => {
                let duration = engine
                    .runbook()
                    .step(step)
                    .and_then(|(b, i, _)| engine.states(b)[i].duration_ms)
                    .filter(|_| matches!(status, StepStatus::Done | StepStatus::Failed))
                    .map(|ms| format!(" [{ms} ms]"))
                    .unwrap_or_default();
                let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
                let line = format!("{} {}{detail}{duration}", label(engine, step), status.word());
                self.line(&line);
                self.command_output(engine, step, *status);
                return;
            }
            Effect::RollbackStarted { reason } => format!("ROLLBACK: {reason}"),
            Effect::Refused { message } => format!("refused: {message}"),
            Effect::Finished { outcome, reason } => {
                // The audit log's name for it (`rolled_back`); the reason as written, since it may quote SQL.
                let name = serde_json::json!(outcome);
                format!("finished: {} ({reason}), exit {}", name.as_str().unwrap_or_default(), outcome.exit_code())
            }
            Effect::AwaitFailureChoice { step, error, choices } => {
                let offered: Vec<&str> = choices.iter().map(|c| c.name()).collect();
                format!("{} failed: {error}; choices: {}", label(engine, step), offered.join(", "))
            }
            Effect::AwaitConfirmation { step } => match engine.runbook().step(step) {
                Some((_, _, Step { kind: StepKind::Manual { instructions }, .. })) => {
                    let scope = engine.scope();
                    let text = instructions.fill(|r| scope.lookup(r).map(|v| v.unwrap_or("NULL").to_string()));
                    format!("{} instructions: {text}", label(engine, step))
                }
                _ => return,
            },
            Effect::Execute { .. } | Effect::AwaitStart { .. } | Effect::AwaitDecision { .. } => return,
        };
        self.line(&text);
    }

    fn note(&mut self, line: &str) {
        self.line(&format!("  {line}"));
    }

    fn progress(&mut self, progress: &Progress) {
        let changed = |(at, throttle): &(Instant, Throttle)| {
            at.elapsed() >= PROGRESS_EVERY
                || std::mem::discriminant(throttle) != std::mem::discriminant(&progress.throttle)
        };
        // Sleeping between batches is not news.
        let news = progress.throttle != Throttle::Sleeping && self.last_progress.as_ref().is_none_or(changed);
        if news {
            self.line(&format!("  {}: {}", progress.step, progress.line()));
            self.last_progress = Some((Instant::now(), progress.throttle.clone()));
        }
    }

    async fn decide(&mut self, waiting: &Effect, engine: &Engine, refused: Option<&str>) -> Reply {
        match waiting {
            Effect::AwaitConfirmation { step } => {
                if let Some(message) = refused {
                    return Reply::Stop(format!("step `{step}`: {message}"));
                }
                let confirmed = match &mut self.decisions {
                    Decisions::Yes => true,
                    Decisions::Answers(answers) => answers.take(step) == Some(Answer::Confirm),
                    Decisions::None => false,
                };
                if !confirmed {
                    return Reply::Stop(format!("manual step `{step}` needs a confirmation"));
                }
                Reply::Events(vec![Event::Confirmed { step: step.clone(), by: self.by() }])
            }
            Effect::AwaitDecision { step } => self.gate(step, engine, refused),
            Effect::AwaitFailureChoice { step, choices, .. } => self.failure(step, choices, refused),
            other => Reply::Stop(format!("nothing to answer for {other:?}")),
        }
    }
}
