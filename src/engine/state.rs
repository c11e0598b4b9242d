//! The state the engine keeps per step and per gate, readable by the faces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::event::Actor;
use super::facts::Facts;

/// A step's status; each reads without colour in the TUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    /// Waiting for a person: a confirmation, a gate decision.
    Waiting,
    Done,
    Failed,
    Skipped,
}

impl StepStatus {
    /// The status in one word, as the faces print it (failures in capitals, to stand out).
    pub fn word(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Waiting => "waiting",
            StepStatus::Done => "done",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    /// Number of times the action was started.
    pub attempts: u32,
    /// Why the status is what it is, in words.
    pub detail: String,
    pub facts: Option<Facts>,
    pub duration_ms: Option<u64>,
}

impl StepState {
    pub(super) fn new() -> Self {
        StepState { status: StepStatus::Pending, attempts: 0, detail: String::new(), facts: None, duration_ms: None }
    }
}

/// Where a gate's checklist stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateState {
    /// Automated items: the value their query returned, or its error.
    pub values: BTreeMap<String, Result<Option<String>, String>>,
    /// Automated items: whether the value met the expectation, with the reason.
    pub verdicts: BTreeMap<String, Result<(), String>>,
    /// Manual items ticked, by whom.
    pub ticks: BTreeMap<String, Actor>,
}

/// One checklist item as a face shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemStatus {
    /// An automated item not evaluated yet.
    Unevaluated,
    Passed {
        value: Option<String>,
    },
    Failed {
        reason: String,
    },
    Ticked {
        by: Actor,
    },
    Unticked,
}

impl ItemStatus {
    pub fn passes(&self) -> bool {
        matches!(self, ItemStatus::Passed { .. } | ItemStatus::Ticked { .. })
    }
}
