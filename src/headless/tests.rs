//! The headless face on a real engine: what `--yes` and answers reply, what is printed.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use crate::engine::Pace;
use crate::model::load_runbook;

const RUNBOOK: &str = "name: h\ntitle: H\nvars: { channel: '#ops' }\nsteps:
  - id: go
    title: Go
    gate: go.yaml
  - id: backup
    title: Backup
    command: echo done
  - id: tell
    title: Tell
    manual: Post in ${channel} as ${operator}.
";
const CHECKLIST: &str = "name: go\ntitle: Go\nitems:
  - id: backup-tested
    text: Backup tested
  - id: quiet
    text: No long transactions
    check: { sql: SELECT 0, expect: 0 }
";

fn engine() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rb.yaml"), RUNBOOK).unwrap();
    std::fs::write(dir.path().join("go.yaml"), CHECKLIST).unwrap();
    let runbook = Arc::new(load_runbook(&dir.path().join("rb.yaml"), &[]).unwrap());
    let mut vars = runbook.vars.clone();
    vars.insert("operator".into(), "alice".into());
    let mut engine = Engine::new(runbook, vars);
    engine.handle(Event::Started { branch: Branch::Main, pace: Pace::Auto });
    (engine, dir)
}

fn alice() -> Actor {
    Actor { name: "alice".into(), role: Some("dba".into()) }
}

fn evaluate_gate(engine: &mut Engine, quiet: &str) {
    let values = BTreeMap::from([("quiet".to_string(), Ok(Some(quiet.to_string())))]);
    engine.handle(Event::StepFinished { step: "go".into(), result: Ok(Facts::Checklist { values }), duration_ms: 1 });
}

async fn reply(face: &mut Headless<Vec<u8>>, engine: &Engine, refused: Option<&str>) -> Reply {
    face.decide(&engine.pending().unwrap(), engine, refused).await
}

#[tokio::test]
async fn yes_ticks_manual_items_in_the_operators_name_and_goes() {
    let (mut engine, _dir) = engine();
    evaluate_gate(&mut engine, "0");
    let mut face = Headless::new(Vec::new(), Decisions::Yes, alice());
    let expected = vec![
        Event::Ticked { step: "go".into(), item: "backup-tested".into(), ticked: true, by: alice() },
        Event::Decided { step: "go".into(), decision: GateDecision::Go, reason: None, by: alice() },
    ];
    assert_eq!(reply(&mut face, &engine, None).await, Reply::Events(expected));
}

#[tokio::test]
async fn yes_says_no_go_naming_the_failing_automated_items() {
    let (mut engine, _dir) = engine();
    evaluate_gate(&mut engine, "4");
    let mut face = Headless::new(Vec::new(), Decisions::Yes, alice());
    let Reply::Events(events) = reply(&mut face, &engine, None).await else { panic!("expected events") };
    assert_eq!(
        events.last(),
        Some(&Event::Decided {
            step: "go".into(),
            decision: GateDecision::NoGo,
            reason: Some("automated items failing: quiet".into()),
            by: alice()
        })
    );
}

#[tokio::test]
async fn a_refused_answer_or_no_answer_stops_instead_of_guessing() {
    let (mut engine, _dir) = engine();
    evaluate_gate(&mut engine, "0");
    let mut face = Headless::new(Vec::new(), Decisions::Yes, alice());
    let refused = Some("Go refused: required items not passing: backup-tested");
    assert_eq!(
        reply(&mut face, &engine, refused).await,
        Reply::Stop("gate `go`: Go refused: required items not passing: backup-tested".into())
    );
    let mut face = Headless::new(Vec::new(), Decisions::None, alice());
    assert_eq!(
        reply(&mut face, &engine, None).await,
        Reply::Stop("gate `go` needs a decision (use --yes or --answers)".into())
    );
}

#[tokio::test]
async fn prints_statuses_command_output_and_filled_instructions() {
    let (mut engine, _dir) = engine();
    evaluate_gate(&mut engine, "0");
    let mut face = Headless::new(Vec::new(), Decisions::Yes, alice());
    let Reply::Events(events) = reply(&mut face, &engine, None).await else { panic!("expected events") };
    for event in events {
        for effect in engine.handle(event) {
            face.show(&effect, &engine);
        }
    }
    let facts = Facts::Command { exit_code: 0, output: "dumped 3 tables\n".into() };
    for effect in engine.handle(Event::StepFinished { step: "backup".into(), result: Ok(facts), duration_ms: 42 }) {
        face.show(&effect, &engine);
    }
    let printed = String::from_utf8(face.into_inner()).unwrap();
    // each line starts with the time of day
    let lines: Vec<&str> = printed.lines().map(|l| &l[9..]).collect();
    assert_eq!(
        lines,
        vec![
            "[1/3] go waiting: ticked backup-tested by alice (dba); 2 of 2 required items pass",
            "[1/3] go done: Go by alice (dba) [1 ms]",
            "[2/3] backup running",
            "[2/3] backup done: exit code 0 [42 ms]",
            "  | dumped 3 tables",
            "[3/3] tell waiting: waiting for confirmation",
            "[3/3] tell instructions: Post in #ops as alice.",
        ]
    );
}
