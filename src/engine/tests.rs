//! Transition tests: plain unit tests, no database, no async.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::*;
use crate::model::{Branch, Check, Checklist, Expect, FailurePolicy, Item, Runbook, Step, StepKind, Template};

fn check(expect: &str) -> StepKind {
    StepKind::Check(Check { sql: Template::parse("SELECT 1").unwrap(), expect: Expect::parse(expect).unwrap() })
}

fn manual() -> StepKind {
    StepKind::Manual { instructions: Template::parse("do it").unwrap() }
}

fn gate() -> StepKind {
    let item = |id: &str, required: bool, expect: Option<&str>| Item {
        id: id.into(),
        text: id.into(),
        required,
        check: expect.map(|e| Check { sql: Template::parse("SELECT 0").unwrap(), expect: Expect::parse(e).unwrap() }),
    };
    StepKind::Gate {
        checklist: Checklist {
            path: PathBuf::from("go.yaml"),
            name: "go".into(),
            title: "Go".into(),
            items: vec![item("backup", true, None), item("quiet", true, Some("= 0")), item("told", false, None)],
        },
    }
}

fn step(id: &str, kind: StepKind) -> Step {
    Step {
        id: id.into(),
        title: id.into(),
        kind,
        role: None,
        timeout: None,
        target_time: None,
        on_failure: None,
        locks: Default::default(),
    }
}

fn runbook(steps: Vec<Step>, rollback: Vec<Step>, on_failure: FailurePolicy) -> Arc<Runbook> {
    Arc::new(Runbook {
        path: PathBuf::from("rb.yaml"),
        name: "rb".into(),
        title: "rb".into(),
        change: None,
        environment: None,
        window: None,
        migrations: None,
        vars: BTreeMap::new(),
        on_failure,
        steps,
        rollback,
        content_hash: String::new(),
    })
}

fn standard(on_failure: FailurePolicy) -> Arc<Runbook> {
    runbook(
        vec![
            step("count", StepKind::Snapshot { values: vec![("n".into(), Template::parse("SELECT 1").unwrap())] }),
            step("quiet", check("= 0")),
            step("go", gate()),
            step("expand", StepKind::Migrate { to: None }),
            step(
                "same",
                StepKind::Check(Check {
                    sql: Template::parse("SELECT 1").unwrap(),
                    expect: Expect::parse("= ${snapshot.n}").unwrap(),
                }),
            ),
            step("smoke", manual()),
        ],
        vec![step("revert", StepKind::Revert { to: 0 }), step("tell", manual())],
        on_failure,
    )
}

fn me() -> Actor {
    Actor { name: "ops".into(), role: Some("change-manager".into()) }
}

/// Feeds events, keeps every effect and the journal of events for replay.
struct Sim {
    engine: Engine,
    events: Vec<Event>,
    last: Vec<Effect>,
}

impl Sim {
    fn new(rb: Arc<Runbook>) -> Self {
        let mut sim = Sim { engine: Engine::new(rb, BTreeMap::new()), events: Vec::new(), last: Vec::new() };
        sim.send(Event::Started { branch: Branch::Main, pace: Pace::Auto });
        sim
    }

    fn send(&mut self, event: Event) -> &[Effect] {
        self.events.push(event.clone());
        self.last = self.engine.handle(event);
        &self.last
    }

    fn ok(&mut self, step: &str, facts: Facts) -> &[Effect] {
        self.send(Event::StepFinished { step: step.into(), result: Ok(facts), duration_ms: 5 })
    }

    fn value(&mut self, step: &str, v: &str) -> &[Effect] {
        self.ok(step, Facts::Value { value: Some(v.into()) })
    }

    fn status(&self, branch: Branch, id: &str) -> StepStatus {
        let index = self.engine.runbook().branch(branch).iter().position(|s| s.id == id).unwrap();
        self.engine.states(branch)[index].status
    }

    fn refused(&self) -> Option<&str> {
        self.last.iter().find_map(|e| match e {
            Effect::Refused { message } => Some(message.as_str()),
            _ => None,
        })
    }

    fn finished(&self) -> Option<RunOutcome> {
        self.last.iter().find_map(|e| match e {
            Effect::Finished { outcome, .. } => Some(*outcome),
            _ => None,
        })
    }

    /// Runs the forward path up to the gate waiting for its decision.
    fn run_to_gate(&mut self) {
        self.ok("count", Facts::Snapshot { values: BTreeMap::from([("n".into(), Some("7".into()))]) });
        self.value("quiet", "0");
        let values = BTreeMap::from([("quiet".to_string(), Ok(Some("0".to_string())))]);
        self.ok("go", Facts::Checklist { values });
        assert_eq!(self.engine.pending(), Some(Effect::AwaitDecision { step: "go".into() }));
    }

    fn go(&mut self) -> &[Effect] {
        self.send(Event::Decided { step: "go".into(), decision: GateDecision::Go, reason: None, by: me() })
    }

    fn tick(&mut self, item: &str) -> &[Effect] {
        self.send(Event::Ticked { step: "go".into(), item: item.into(), ticked: true, by: me() })
    }
}

fn executes(effects: &[Effect], id: &str) -> bool {
    effects.iter().any(|e| matches!(e, Effect::Execute { step, .. } if step == id))
}

#[test]
fn forward_path_runs_every_step_in_order() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    assert!(executes(&sim.last, "count"));
    sim.run_to_gate();
    sim.tick("backup");
    assert!(executes(sim.go(), "expand"));
    let migration = MigrationRun { version: 1, description: "x".into(), checksum: "ab".into(), duration_ms: 3 };
    assert!(executes(sim.ok("expand", Facts::Applied { migrations: vec![migration] }), "same"));
    // the expectation `= ${snapshot.n}` resolves to the snapshot taken earlier
    sim.value("same", "7");
    assert_eq!(sim.engine.pending(), Some(Effect::AwaitConfirmation { step: "smoke".into() }));
    sim.send(Event::Confirmed { step: "smoke".into(), by: me() });
    assert_eq!(sim.finished(), Some(RunOutcome::Completed));
    assert_eq!(RunOutcome::Completed.exit_code(), 0);
    for id in ["count", "quiet", "go", "expand", "same", "smoke"] {
        assert_eq!(sim.status(Branch::Main, id), StepStatus::Done, "{id}");
    }
    assert_eq!(sim.status(Branch::Rollback, "revert"), StepStatus::Pending);
}

#[test]
fn failing_check_with_rollback_policy_takes_the_rollback_branch() {
    let mut sim = Sim::new(standard(FailurePolicy::Rollback));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::from([("n".into(), Some("7".into()))]) });
    let fx = sim.value("quiet", "3").to_vec();
    assert!(fx.iter().any(|e| matches!(e, Effect::Status { step, status: StepStatus::Failed, detail } if step == "quiet" && detail.contains("got 3"))));
    assert!(fx.iter().any(|e| matches!(e, Effect::RollbackStarted { reason } if reason.contains("quiet"))));
    assert!(executes(&fx, "revert"));
    sim.ok("revert", Facts::Reverted { migrations: vec![] });
    sim.send(Event::Confirmed { step: "tell".into(), by: me() });
    assert_eq!(sim.finished(), Some(RunOutcome::RolledBack));
    assert_eq!(RunOutcome::RolledBack.exit_code(), 1);
    assert_eq!(sim.status(Branch::Main, "go"), StepStatus::Pending, "steps after the failure never ran");
}

#[test]
fn ask_policy_offers_choices_and_retry_runs_again() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    sim.send(Event::StepFinished { step: "quiet".into(), result: Err("connection reset".into()), duration_ms: 1 });
    let choices = vec![FailureChoice::Retry, FailureChoice::Skip, FailureChoice::Rollback, FailureChoice::Abort];
    assert_eq!(
        sim.engine.pending(),
        Some(Effect::AwaitFailureChoice { step: "quiet".into(), error: "connection reset".into(), choices })
    );
    let fx = sim.send(Event::Resolved { step: "quiet".into(), choice: FailureChoice::Retry, reason: None, by: me() });
    assert!(matches!(fx.last(), Some(Effect::Execute { step, attempt: 2, .. }) if step == "quiet"));
    sim.value("quiet", "0");
    assert_eq!(sim.status(Branch::Main, "quiet"), StepStatus::Done);
}

#[test]
fn skip_after_failure_needs_a_reason_and_abort_stops() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    sim.value("quiet", "1");
    sim.send(Event::Resolved { step: "quiet".into(), choice: FailureChoice::Skip, reason: Some(" ".into()), by: me() });
    assert_eq!(sim.refused(), Some("skipping a failed step needs a reason"));
    let fx = sim.send(Event::Resolved {
        step: "quiet".into(),
        choice: FailureChoice::Skip,
        reason: Some("known".into()),
        by: me(),
    });
    assert!(executes(fx, "go"), "the gate is evaluated next");
    assert_eq!(sim.status(Branch::Main, "quiet"), StepStatus::Skipped);

    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    sim.value("quiet", "1");
    sim.send(Event::Resolved { step: "quiet".into(), choice: FailureChoice::Abort, reason: None, by: me() });
    assert_eq!(sim.finished(), Some(RunOutcome::Stopped));
    assert_eq!(RunOutcome::Stopped.exit_code(), 3);
}

#[test]
fn abort_policy_stops_at_once() {
    let mut sim = Sim::new(standard(FailurePolicy::Abort));
    sim.send(Event::StepFinished { step: "count".into(), result: Err("boom".into()), duration_ms: 1 });
    assert_eq!(sim.finished(), Some(RunOutcome::Stopped));
    sim.send(Event::Confirmed { step: "smoke".into(), by: me() });
    assert_eq!(sim.refused(), Some("the run is over"));
}

#[test]
fn step_policy_overrides_the_runbook_policy() {
    let mut rb = (*standard(FailurePolicy::Ask)).clone();
    rb.steps[1].on_failure = Some(FailurePolicy::Rollback);
    let mut sim = Sim::new(Arc::new(rb));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    assert!(executes(sim.value("quiet", "9"), "revert"));
}

#[test]
fn go_is_refused_until_every_required_item_passes() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.run_to_gate();
    sim.go();
    assert_eq!(sim.refused(), Some("Go refused: required items not passing: backup"));
    // optional items need no tick; automated items cannot be ticked by hand
    sim.tick("quiet");
    assert_eq!(sim.refused(), Some("`quiet` is not a manual item of gate `go`"));
    sim.tick("backup");
    let items = sim.engine.gate_items("go");
    assert_eq!(items[0].1, ItemStatus::Ticked { by: me() });
    assert_eq!(items[1].1, ItemStatus::Passed { value: Some("0".into()) });
    assert_eq!(items[2].1, ItemStatus::Unticked);
    assert!(executes(sim.go(), "expand"));
}

#[test]
fn failing_automated_item_blocks_go_and_unticking_counts() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    sim.value("quiet", "0");
    let values = BTreeMap::from([("quiet".to_string(), Ok(Some("2".to_string())))]);
    sim.ok("go", Facts::Checklist { values });
    sim.tick("backup");
    sim.go();
    assert_eq!(sim.refused(), Some("Go refused: required items not passing: quiet"));
    sim.send(Event::Ticked { step: "go".into(), item: "backup".into(), ticked: false, by: me() });
    assert_eq!(sim.engine.gate_items("go")[0].1, ItemStatus::Unticked);
}

#[test]
fn no_go_needs_a_reason_and_takes_the_rollback_branch() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.run_to_gate();
    sim.send(Event::Decided { step: "go".into(), decision: GateDecision::NoGo, reason: None, by: me() });
    assert_eq!(sim.refused(), Some("No-Go needs a reason"));
    let fx = sim
        .send(Event::Decided {
            step: "go".into(),
            decision: GateDecision::NoGo,
            reason: Some("P1 open".into()),
            by: me(),
        })
        .to_vec();
    assert!(fx.iter().any(|e| matches!(e, Effect::RollbackStarted { reason } if reason.contains("P1 open"))));
    assert!(executes(&fx, "revert"));
    assert_eq!(sim.status(Branch::Main, "go"), StepStatus::Failed);
    assert_eq!(sim.status(Branch::Main, "expand"), StepStatus::Pending);
}

#[test]
fn no_go_without_rollback_branch_stops() {
    let rb = runbook(vec![step("go", gate())], vec![], FailurePolicy::Ask);
    let mut sim = Sim::new(rb);
    sim.ok("go", Facts::Checklist { values: BTreeMap::new() });
    sim.send(Event::Decided { step: "go".into(), decision: GateDecision::NoGo, reason: Some("no".into()), by: me() });
    assert_eq!(sim.finished(), Some(RunOutcome::Stopped));
}

#[test]
fn rollback_requested_while_running_starts_after_the_step() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.send(Event::RollbackRequested { reason: "alerts".into(), by: me() });
    assert_eq!(sim.refused(), Some("the rollback starts when step `count` has finished"));
    let fx = sim.ok("count", Facts::Snapshot { values: BTreeMap::new() }).to_vec();
    assert!(executes(&fx, "revert"));
    assert_eq!(sim.status(Branch::Main, "count"), StepStatus::Done);
}

#[test]
fn rollback_requested_while_waiting_starts_at_once() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.run_to_gate();
    let fx = sim.send(Event::RollbackRequested { reason: "alerts".into(), by: me() }).to_vec();
    assert!(executes(&fx, "revert"));
    assert_eq!(sim.status(Branch::Main, "go"), StepStatus::Pending);
    sim.send(Event::RollbackRequested { reason: "again".into(), by: me() });
    assert_eq!(sim.refused(), Some("the rollback branch is already running"));
}

#[test]
fn failing_rollback_step_asks_without_rollback_and_stops_on_abort() {
    let mut sim = Sim::new(standard(FailurePolicy::Rollback));
    sim.send(Event::StepFinished { step: "count".into(), result: Err("x".into()), duration_ms: 1 });
    sim.send(Event::StepFinished { step: "revert".into(), result: Err("lock timeout".into()), duration_ms: 1 });
    let Some(Effect::AwaitFailureChoice { choices, .. }) = sim.engine.pending() else { panic!("should ask") };
    assert_eq!(choices, vec![FailureChoice::Retry, FailureChoice::Skip, FailureChoice::Abort]);
    sim.send(Event::Resolved { step: "revert".into(), choice: FailureChoice::Rollback, reason: None, by: me() });
    assert_eq!(sim.refused(), Some("`rollback` is not offered for step `revert`"));
    sim.send(Event::Resolved { step: "revert".into(), choice: FailureChoice::Abort, reason: None, by: me() });
    assert_eq!(sim.finished(), Some(RunOutcome::Stopped));
}

#[test]
fn starting_on_the_rollback_branch() {
    let mut engine = Engine::new(standard(FailurePolicy::Ask), BTreeMap::new());
    let fx = engine.handle(Event::Started { branch: Branch::Rollback, pace: Pace::Auto });
    assert!(executes(&fx, "revert"));
    assert_eq!(engine.current(), Some((Branch::Rollback, 0)));
}

#[test]
fn skipping_future_steps_but_not_gates_or_done_steps() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    let skip = |step: &str, reason: &str| Event::Skipped { step: step.into(), reason: reason.into(), by: me() };
    sim.send(skip("same", ""));
    assert_eq!(sim.refused(), Some("skipping needs a reason"));
    sim.send(skip("go", "hurry"));
    assert_eq!(sim.refused(), Some("a gate is decided with Go or No-Go, not skipped"));
    sim.send(skip("count", "busy"));
    assert_eq!(sim.refused(), Some("step `count` cannot be skipped now"), "running steps are not skipped");
    sim.send(skip("same", "checked by hand"));
    assert_eq!(sim.status(Branch::Main, "same"), StepStatus::Skipped);
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    sim.send(skip("count", "late"));
    assert_eq!(sim.refused(), Some("step `count` cannot be skipped now"));
    // the skipped step is passed over when the run reaches it
    sim.value("quiet", "0");
    sim.ok("go", Facts::Checklist { values: BTreeMap::from([("quiet".to_string(), Ok(Some("0".to_string())))]) });
    sim.tick("backup");
    sim.go();
    let fx = sim.ok("expand", Facts::Applied { migrations: vec![] }).to_vec();
    assert!(!executes(&fx, "same"));
    assert_eq!(sim.engine.pending(), Some(Effect::AwaitConfirmation { step: "smoke".into() }));
}

#[test]
fn unexpected_events_are_refused_not_panicked() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.value("quiet", "0");
    assert_eq!(sim.refused(), Some("step `quiet` is not running"));
    sim.ok("count", Facts::Value { value: None });
    assert!(
        matches!(sim.engine.pending(), Some(Effect::AwaitFailureChoice { error, .. }) if error.contains("cannot report"))
    );
    sim.send(Event::Started { branch: Branch::Main, pace: Pace::Auto });
    assert_eq!(sim.refused(), Some("the run has already started"));
}

#[test]
fn a_missing_snapshot_fails_the_check_that_needs_it() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.send(Event::Skipped { step: "count".into(), reason: "x".into(), by: me() });
    assert_eq!(sim.refused(), Some("step `count` cannot be skipped now"));
    sim.ok("count", Facts::Snapshot { values: BTreeMap::new() });
    sim.value("quiet", "0");
    sim.ok("go", Facts::Checklist { values: BTreeMap::from([("quiet".to_string(), Ok(Some("0".to_string())))]) });
    sim.tick("backup");
    sim.go();
    sim.ok("expand", Facts::Applied { migrations: vec![] });
    sim.value("same", "7");
    assert!(
        matches!(sim.engine.pending(), Some(Effect::AwaitFailureChoice { error, .. }) if error.contains("snapshot was not taken"))
    );
}

#[test]
fn replaying_the_events_rebuilds_the_same_state() {
    let mut sim = Sim::new(standard(FailurePolicy::Ask));
    sim.run_to_gate();
    sim.tick("backup");
    sim.go();
    sim.send(Event::StepFinished { step: "expand".into(), result: Err("deadlock".into()), duration_ms: 9 });
    // events survive the journal's JSON round trip
    let journaled: Vec<Event> =
        sim.events.iter().map(|e| serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap()).collect();
    let replayed = Engine::replay(standard(FailurePolicy::Ask), BTreeMap::new(), journaled);
    for branch in [Branch::Main, Branch::Rollback] {
        assert_eq!(replayed.states(branch), sim.engine.states(branch));
    }
    assert_eq!(replayed.pending(), sim.engine.pending());
    assert_eq!(replayed.scope(), sim.engine.scope());
    let statuses = |e: &Engine| e.gate_items("go").into_iter().map(|(_, s)| s).collect::<Vec<_>>();
    assert_eq!(statuses(&replayed), statuses(&sim.engine));
}

#[test]
fn event_kinds_are_the_journal_kinds() {
    let event = Event::Skipped { step: "a".into(), reason: "r".into(), by: me() };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], "step.skipped");
    let samples = [
        Event::Started { branch: Branch::Main, pace: Pace::Auto },
        Event::Imported { from: "last.jsonl".into(), values: BTreeMap::new() },
        Event::RunRequested { step: "a".into(), by: me() },
        Event::StepFinished { step: "a".into(), result: Err("e".into()), duration_ms: 0 },
        Event::Confirmed { step: "a".into(), by: me() },
        Event::Ticked { step: "a".into(), item: "i".into(), ticked: true, by: me() },
        Event::Decided { step: "a".into(), decision: GateDecision::Go, reason: None, by: me() },
        Event::Resolved { step: "a".into(), choice: FailureChoice::Skip, reason: None, by: me() },
        event,
        Event::RollbackRequested { reason: "r".into(), by: me() },
    ];
    let kinds: Vec<String> =
        samples.iter().map(|e| serde_json::to_value(e).unwrap()["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, Event::KINDS);
}

#[test]
fn at_operator_pace_nothing_runs_before_the_operator_starts_it() {
    let mut engine = Engine::new(standard(FailurePolicy::Ask), BTreeMap::new());
    let fx = engine.handle(Event::Started { branch: Branch::Main, pace: Pace::Operator });
    assert!(!executes(&fx, "count"));
    assert_eq!(engine.pending(), Some(Effect::AwaitStart { step: "count".into() }));
    assert_eq!(engine.states(Branch::Main)[0].status, StepStatus::Waiting);
    // only the current step can be started
    let fx = engine.handle(Event::RunRequested { step: "quiet".into(), by: me() });
    assert_eq!(fx, vec![Effect::Refused { message: "step `quiet` is not ready to run".into() }]);
    let fx = engine.handle(Event::RunRequested { step: "count".into(), by: me() });
    assert!(executes(&fx, "count"));
    let snapshot = Facts::Snapshot { values: BTreeMap::new() };
    engine.handle(Event::StepFinished { step: "count".into(), result: Ok(snapshot), duration_ms: 1 });
    assert_eq!(engine.pending(), Some(Effect::AwaitStart { step: "quiet".into() }));
    // a failed step retried runs at once: the operator just chose it
    engine.handle(Event::RunRequested { step: "quiet".into(), by: me() });
    engine.handle(Event::StepFinished { step: "quiet".into(), result: Err("boom".into()), duration_ms: 1 });
    let fx =
        engine.handle(Event::Resolved { step: "quiet".into(), choice: FailureChoice::Retry, reason: None, by: me() });
    assert!(executes(&fx, "quiet"));
}

#[test]
fn at_operator_pace_a_ready_step_can_be_skipped_or_left_for_the_rollback() {
    let mut engine = Engine::new(standard(FailurePolicy::Ask), BTreeMap::new());
    engine.handle(Event::Started { branch: Branch::Main, pace: Pace::Operator });
    engine.handle(Event::Skipped { step: "count".into(), reason: "taken by hand".into(), by: me() });
    assert_eq!(engine.pending(), Some(Effect::AwaitStart { step: "quiet".into() }));
    let fx = engine.handle(Event::RollbackRequested { reason: "alerts".into(), by: me() });
    assert!(fx.iter().any(|e| matches!(e, Effect::RollbackStarted { .. })));
    assert_eq!(engine.states(Branch::Main)[1].status, StepStatus::Pending, "never ran");
    assert_eq!(engine.pending(), Some(Effect::AwaitStart { step: "revert".into() }));
}

#[test]
fn snapshots_of_an_earlier_run_serve_the_rollback_branch() {
    let rb = runbook(
        vec![step("count", StepKind::Snapshot { values: vec![("n".into(), Template::parse("SELECT 1").unwrap())] })],
        vec![step(
            "same",
            StepKind::Check(Check {
                sql: Template::parse("SELECT 1").unwrap(),
                expect: Expect::parse("= ${snapshot.n}").unwrap(),
            }),
        )],
        FailurePolicy::Ask,
    );
    let mut engine = Engine::new(rb, BTreeMap::new());
    let values = BTreeMap::from([("n".to_string(), Some("7".to_string()))]);
    assert!(engine.handle(Event::Imported { from: "last.jsonl".into(), values: values.clone() }).is_empty());
    engine.handle(Event::Started { branch: Branch::Rollback, pace: Pace::Auto });
    engine.handle(Event::StepFinished {
        step: "same".into(),
        result: Ok(Facts::Value { value: Some("7".into()) }),
        duration_ms: 1,
    });
    assert_eq!(engine.outcome(), Some(RunOutcome::RolledBack));
    let fx = engine.handle(Event::Imported { from: "late.jsonl".into(), values });
    assert_eq!(fx, vec![Effect::Refused { message: "the run is over".into() }]);
}
