//! Effects the engine asks for: actions for exec to perform, questions for a person, and
//! outcomes for the faces and the audit log.

use std::collections::BTreeMap;

use serde::Serialize;

use super::event::FailureChoice;
use super::state::StepStatus;
use crate::model::{Branch, Ref};

/// The values `${...}` references resolve to when the effect is performed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scope {
    pub vars: BTreeMap<String, String>,
    /// Snapshot values taken so far; None is SQL NULL.
    pub snapshots: BTreeMap<String, Option<String>>,
}

impl Scope {
    /// The value of a reference: Some(None) is a NULL snapshot, None an unknown reference.
    pub fn lookup(&self, r: &Ref) -> Option<Option<&str>> {
        match r {
            Ref::Var(name) => self.vars.get(name).map(|v| Some(v.as_str())),
            Ref::Snapshot(name) => self.snapshots.get(name).map(|v| v.as_deref()),
        }
    }
}

/// How a run ended, with the process exit code of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The main branch completed: exit 0.
    Completed,
    /// The rollback branch completed: exit 1.
    RolledBack,
    /// Stopped and needs a human: exit 3.
    Stopped,
}

impl RunOutcome {
    pub fn exit_code(self) -> i32 {
        match self {
            RunOutcome::Completed => 0,
            RunOutcome::RolledBack => 1,
            RunOutcome::Stopped => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Perform the step's action (check, snapshot, command, migrate, revert) or evaluate a
    /// gate's automated items; answer with `Event::StepFinished`.
    Execute { step: String, branch: Branch, attempt: u32, scope: Scope },
    /// Wait for the operator to start the automated step (operator pace).
    AwaitStart { step: String },
    /// Wait for a person to confirm the manual step.
    AwaitConfirmation { step: String },
    /// Wait for ticks and a Go / No-Go on the gate.
    AwaitDecision { step: String },
    /// Wait for the answer to a failed step.
    AwaitFailureChoice { step: String, error: String, choices: Vec<FailureChoice> },
    /// A step changed status; `detail` says why in words (e.g. "expected = 0, got 3").
    Status { step: String, status: StepStatus, detail: String },
    /// The rollback branch starts.
    RollbackStarted { reason: String },
    /// An event the engine cannot accept now, e.g. Go while a required item fails.
    Refused { message: String },
    /// The run is over.
    Finished { outcome: RunOutcome, reason: String },
}
