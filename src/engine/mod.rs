//! The pure state machine that walks a runbook: events in, effects out. No IO, no async, no
//! clock: durations and values arrive inside events, so replaying the journal's events
//! rebuilds exactly the same state.

mod effect;
mod event;
mod facts;
mod machine;
mod state;
#[cfg(test)]
mod tests;

pub use effect::{Effect, RunOutcome, Scope};
pub use event::{Actor, Event, FailureChoice, GateDecision, Pace};
pub use facts::{BackfillMetrics, Facts, MigrationRun};
pub use machine::Engine;
pub use state::{GateState, ItemStatus, StepState, StepStatus};
