//! What the runner needs from a face (the TUI, the headless face, a test script): showing
//! what happens and answering what the engine waits for. The engine never knows which.

use std::future::Future;

use crate::backfill::{Hold, Progress};
use crate::engine::{Effect, Engine, Event};

/// A face's answer to a question of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Events to feed the engine in order (ticks, then a decision).
    Events(Vec<Event>),
    /// No one can answer: the run stops and needs a human (exit 3).
    Stop(String),
}

pub trait Face {
    /// An event the run's engine is about to handle, journaled already. A face that keeps a
    /// replica of the engine (the TUI, on its own task) feeds it the same events.
    fn event(&mut self, _event: &Event) {}

    /// Events the operator raised on their own since the last call (start the rollback
    /// branch, skip a step ahead): fed to the engine between two actions.
    fn queued(&mut self) -> Vec<Event> {
        Vec::new()
    }

    /// Shows an effect as it happens (statuses, rollback, refusals, the end).
    fn show(&mut self, effect: &Effect, engine: &Engine);

    /// Shows progress that is not a status change, e.g. each migration applied.
    fn note(&mut self, line: &str);

    /// A line of a running command's output, as it comes (the password already masked). The
    /// whole output's tail also arrives with the step's facts when it ends.
    fn output(&mut self, _line: &str) {}

    /// A running backfill's progress, after every batch and while it waits.
    fn progress(&mut self, _progress: &Progress) {}

    /// Whether the operator holds a running backfill (asked between two batches).
    fn hold(&mut self) -> Hold {
        Hold::Go
    }

    /// Answers `waiting` (AwaitConfirmation, AwaitDecision or AwaitFailureChoice). `refused`
    /// is the engine's refusal of this face's previous answer to the same question.
    fn decide(&mut self, waiting: &Effect, engine: &Engine, refused: Option<&str>) -> impl Future<Output = Reply>;
}
