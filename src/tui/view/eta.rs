//! Time estimates from the rehearsal: what each step should take, and what the steps not
//! done yet should take together.

use crate::engine::StepStatus;
use crate::model::{Branch, Step, StepKind};
use crate::tui::app::App;

/// What a step should take: its rehearsed time. A step a person answers (manual, gate) was
/// answered at once by `--yes` in the rehearsal, so its `target_time` counts when it has one;
/// so does the target of a step the rehearsal never reached.
pub(super) fn expected_ms(app: &App, step: &Step) -> Option<u64> {
    let rehearsal = app.rehearsal.as_ref()?;
    let target = step.target_time.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    let by_a_person = matches!(step.kind, StepKind::Manual { .. } | StepKind::Gate { .. });
    if by_a_person && target.is_some() {
        return target;
    }
    rehearsal.duration_ms(&step.id).or(target)
}

/// What the steps not done yet should take, on the branch the run is on (the main branch
/// until it starts); the running step counts what is left of its estimate. None without a
/// rehearsal, or once the run is over.
pub(super) fn time_left_ms(app: &App) -> Option<u64> {
    app.rehearsal.as_ref()?;
    if app.finished().is_some() {
        return None;
    }
    let branch = app.replica.current().map_or(Branch::Main, |(branch, _)| branch);
    let running = app.running();
    let spent = match (app.running_since, app.now) {
        (Some(since), Some(now)) => u64::try_from((now - since).num_milliseconds()).unwrap_or(0),
        _ => 0,
    };
    let steps = app.runbook().branch(branch).iter().zip(app.replica.states(branch)).enumerate();
    let to_do = |status| matches!(status, StepStatus::Pending | StepStatus::Waiting | StepStatus::Running);
    let left: Vec<u64> = steps
        .filter(|(_, (_, state))| to_do(state.status))
        .filter_map(|(index, (step, _))| {
            let expected = expected_ms(app, step)?;
            Some(if running == Some((branch, index)) { expected.saturating_sub(spent) } else { expected })
        })
        .collect();
    (!left.is_empty()).then(|| left.iter().sum())
}
