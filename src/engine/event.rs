//! Events fed to the engine. Every event is journaled before the engine sees it, so that
//! replaying the journal's events rebuilds the engine's state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::facts::Facts;
use crate::model::Branch;

/// Who starts each automated step: the run itself (headless), or the operator with Enter
/// (the terminal UI), so that nothing runs before the person at the keyboard says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    #[default]
    Auto,
    Operator,
}

/// Who made a decision, as recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateDecision {
    Go,
    NoGo,
}

/// The answers to a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureChoice {
    Retry,
    Skip,
    Rollback,
    Abort,
}

impl FailureChoice {
    pub fn name(self) -> &'static str {
        match self {
            FailureChoice::Retry => "retry",
            FailureChoice::Skip => "skip",
            FailureChoice::Rollback => "rollback",
            FailureChoice::Abort => "abort",
        }
    }
}

/// The journal entry kind of each event is its serde tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Event {
    /// The run begins, on the main branch or (`runsheet rollback`) straight on the rollback branch.
    #[serde(rename = "run.started")]
    Started {
        branch: Branch,
        #[serde(default)]
        pace: Pace,
    },
    /// Snapshot values of an earlier run, read from its audit log (`runsheet rollback`), so
    /// that rollback steps can compare with them; fed before the run starts.
    #[serde(rename = "snapshot.imported")]
    Imported { from: String, values: BTreeMap<String, Option<String>> },
    /// The operator started the current automated step (operator pace).
    #[serde(rename = "step.run")]
    RunRequested { step: String, by: Actor },
    /// The action of `step` ended: its facts, or the error that stopped it.
    #[serde(rename = "step.finished")]
    StepFinished { step: String, result: Result<Facts, String>, duration_ms: u64 },
    /// A person confirmed a manual step as done.
    #[serde(rename = "step.confirmed")]
    Confirmed { step: String, by: Actor },
    /// A person ticked (or unticked) a manual checklist item of a gate.
    #[serde(rename = "gate.ticked")]
    Ticked { step: String, item: String, ticked: bool, by: Actor },
    #[serde(rename = "gate.decided")]
    Decided { step: String, decision: GateDecision, reason: Option<String>, by: Actor },
    /// The answer to a failed step.
    #[serde(rename = "failure.resolved")]
    Resolved { step: String, choice: FailureChoice, reason: Option<String>, by: Actor },
    /// A person skipped a step that has not run (or failed) with a reason.
    #[serde(rename = "step.skipped")]
    Skipped { step: String, reason: String, by: Actor },
    /// A person started the rollback branch.
    #[serde(rename = "rollback.requested")]
    RollbackRequested { reason: String, by: Actor },
}

impl Event {
    /// The event an audit log entry records, if its kind is an event's (None for entries
    /// such as `step.status` or `checkpoint`, which replay does not need).
    pub fn from_entry(entry: &serde_json::Value) -> Option<Result<Event, serde_json::Error>> {
        let kind = entry.get("kind")?.as_str()?;
        Event::KINDS.contains(&kind).then(|| Event::deserialize(entry))
    }

    /// The journal kinds that are events, for replay.
    pub const KINDS: &'static [&'static str] = &[
        "run.started",
        "snapshot.imported",
        "step.run",
        "step.finished",
        "step.confirmed",
        "gate.ticked",
        "gate.decided",
        "failure.resolved",
        "step.skipped",
        "rollback.requested",
    ];
}
