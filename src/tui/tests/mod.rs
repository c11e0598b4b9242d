//! TUI tests: the key → command mapping per context, and snapshots of every view drawn on a
//! `TestBackend`. A `Sim` plays the run's side of the bridge the way exec and `TuiFace` do:
//! its own engine, every event forwarded to the app, each effect shown, each question asked.

mod keys;
mod snapshots;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Command, Header, LastRun, RollbackContext};
use super::bridge::{FromUi, ToUi};
use super::keymap::Key;
use crate::backfill::{Progress, Throttle};
use crate::engine::{Actor, BackfillMetrics, Effect, Engine, Event, Facts, MigrationRun, Pace};
use crate::exec::Reply;
use crate::model::rehearsal::{Lookup, Rehearsal, RehearsedStep};
use crate::model::{Branch, Runbook, Window, load_runbook};

const RUNBOOK: &str = r##"
name: tui-fixture
title: Orders 2.4 — add external_reference
change: CHG-2291
on_failure: ask
migrations: migrations
vars:
  channel: "#support"
steps:
  - id: count-before
    title: Count the orders before the change
    snapshot:
      orders: SELECT count(*) FROM orders
      refs: SELECT count(DISTINCT ref) FROM orders
  - id: no-dupes
    title: No two orders share a reference
    check:
      sql: |-
        SELECT count(*) FROM (
          SELECT ref FROM orders GROUP BY ref HAVING count(*) > 1
        ) dupes
      expect: "= 0"
  - id: backup
    title: Back up the database
    command: |-
      set -eu
      cp orders.db "backups/orders-$run_id.db"
      echo "backup written"
    timeout: 10m
  - id: go-no-go
    title: Go / No-Go
    gate: go.yaml
    role: change-manager
  - id: expand
    title: Add the column, then its index
    migrate: { to: 2 }
    timeout: 30m
  - id: rows-kept
    title: No order lost
    check: { sql: SELECT count(*) FROM orders, expect: ">= ${snapshot.orders}" }
  - id: smoke
    title: Smoke-test the admin UI
    manual: Open Admin → Orders, import the sample file, then post "done" in ${channel}.
    role: ops
    target_time: 15m
rollback:
  - id: revert
    title: Revert the expand
    revert: { to: 0 }
    target_time: 5m
  - id: column-gone
    title: The column is gone
    check: { sql: SELECT count(*) FROM columns WHERE name = 'ref', expect: "= 0" }
  - id: tell
    title: Tell support
    manual: Post the rollback notice in ${channel}.
    role: change-manager
    target_time: 10m
"##;

const BACKFILL_RUNBOOK: &str = r##"
name: tui-backfill
title: Orders 2.4 — fill external_reference
steps:
  - id: fill
    title: Fill external_reference from legacy_ref
    backfill:
      table: orders
      key: id
      set: external_reference = upper(trim(legacy_ref))
      where: external_reference IS NULL AND legacy_ref IS NOT NULL
      pause_when: SELECT lag_seconds > 10 FROM replica_status
  - id: check
    title: Every order has its reference
    check: { sql: SELECT count(*) FROM orders WHERE external_reference IS NULL, expect: "= 0" }
"##;

/// A gate with automated, manual and optional items (shared with examples/tui_frames.rs).
const CHECKLIST: &str = include_str!("../../../tests/fixtures/tui/go.yaml");

/// The crossterm event a terminal sends for `key`.
fn event(key: Key) -> KeyEvent {
    let code = match key {
        Key::Char(c) => KeyCode::Char(c),
        Key::Enter => KeyCode::Enter,
        Key::Esc => KeyCode::Esc,
        Key::Up => KeyCode::Up,
        Key::Down => KeyCode::Down,
        Key::PageUp => KeyCode::PageUp,
        Key::PageDown => KeyCode::PageDown,
    };
    let modifiers = match key {
        Key::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    KeyEvent::new(code, modifiers)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// The fixture runbook: every step kind, a gate, two migrations, a rollback branch.
fn runbook() -> Arc<Runbook> {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for (version, name) in [(1, "add_column"), (2, "add_index")] {
        write(&migrations, &format!("{version}_{name}.up.sql"), "SELECT 1;");
        write(&migrations, &format!("{version}_{name}.down.sql"), "SELECT 1;");
    }
    write(dir.path(), "go.yaml", CHECKLIST);
    write(dir.path(), "runbook.yaml", RUNBOOK);
    Arc::new(load_runbook(&dir.path().join("runbook.yaml"), &[]).unwrap())
}

/// One backfill step, then a check.
fn backfill_runbook() -> Arc<Runbook> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "runbook.yaml", BACKFILL_RUNBOOK);
    Arc::new(load_runbook(&dir.path().join("runbook.yaml"), &[]).unwrap())
}

fn alice() -> Actor {
    Actor { name: "alice".into(), role: Some("ops".into()) }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// The fixed time of every test: 1h 12m left in the window.
fn now() -> DateTime<Utc> {
    at("2026-11-28T01:48:00Z")
}

fn header(runbook: &Runbook) -> Header {
    Header {
        title: runbook.title.clone(),
        change: runbook.change.clone(),
        database: "db.example:5432/orders".into(),
        production: false,
        operator: alice(),
        window: Some(Window {
            start: DateTime::parse_from_rfc3339("2026-11-28T02:00:00+01:00").unwrap(),
            duration: Duration::from_secs(2 * 3600),
        }),
        color: false,
        dry_run: false,
    }
}

fn migration(version: i64, description: &str, duration_ms: u64) -> MigrationRun {
    MigrationRun { version, description: description.into(), checksum: "ab".repeat(48), duration_ms }
}

/// An audit log line as the journal writes it.
fn journal_line(seq: u64, kind: &str, fields: serde_json::Value) -> String {
    let mut entry = serde_json::json!({
        "seq": seq,
        "ts": format!("2026-11-28T01:{:02}:{:02}.000000Z", 40 + seq / 60, seq % 60),
        "prev": "00",
        "kind": kind,
    });
    if let (Some(entry), serde_json::Value::Object(fields)) = (entry.as_object_mut(), fields) {
        entry.extend(fields);
    }
    entry.to_string()
}

/// The run's side of the bridge.
struct Sim {
    engine: Engine,
    app: App,
}

impl Sim {
    fn with(runbook: Arc<Runbook>, header: Header, rollback: Option<RollbackContext>) -> Sim {
        let mut vars = runbook.vars.clone();
        vars.insert("run_id".into(), "r1".into());
        let mut app = App::new(Arc::clone(&runbook), vars.clone(), header);
        if let Some(context) = rollback {
            app = app.with_rollback_context(context);
        }
        app.tick(now());
        Sim { engine: Engine::new(runbook, vars), app }
    }

    /// The backfill fixture, its backfill started by Enter and running.
    fn backfilling() -> Sim {
        let runbook = backfill_runbook();
        let header = header(&runbook);
        let mut sim = Sim::with(runbook, header, None);
        sim.start(Branch::Main);
        sim.key(Key::Enter);
        sim
    }

    /// The fixture, started on the main branch: the first step waits for Enter.
    fn started() -> Sim {
        let runbook = runbook();
        let header = header(&runbook);
        let mut sim = Sim::with(runbook, header, None);
        sim.start(Branch::Main);
        sim
    }

    fn start(&mut self, branch: Branch) {
        self.event(Event::Started { branch, pace: Pace::Operator });
        self.ask(None);
    }

    /// What exec's `feed` does: the face sees the event, then each effect.
    fn event(&mut self, event: Event) -> Vec<Effect> {
        self.app.update(ToUi::Event(event.clone()));
        let effects = self.engine.handle(event);
        for effect in &effects {
            self.app.update(ToUi::Effect(effect.clone()));
        }
        effects
    }

    /// What exec's loop does when the engine waits for a person.
    fn ask(&mut self, refused: Option<String>) {
        if let Some(waiting) = self.engine.pending().filter(|p| !matches!(p, Effect::Execute { .. })) {
            self.app.update(ToUi::Ask { waiting, refused });
        }
    }

    /// Delivers the app's commands to the run as `TuiFace` would; returns what was not sent.
    fn deliver(&mut self, commands: Vec<Command>) -> Vec<Command> {
        let mut rest = Vec::new();
        for command in commands {
            let events = match command {
                Command::Send(FromUi::Reply(Reply::Events(events))) => events,
                Command::Send(FromUi::Operator(event)) => vec![event],
                other => {
                    rest.push(other);
                    continue;
                }
            };
            let mut refused = None;
            for event in events {
                for effect in self.event(event) {
                    if let Effect::Refused { message } = effect {
                        refused = Some(message);
                    }
                }
            }
            self.ask(refused);
        }
        rest
    }

    fn press(&mut self, key: Key) -> Vec<Command> {
        self.app.key(event(key))
    }

    /// Presses a key and lets the run take what it sends.
    fn key(&mut self, key: Key) -> Vec<Command> {
        let commands = self.press(key);
        self.deliver(commands)
    }

    fn keys(&mut self, keys: &[Key]) {
        for &key in keys {
            self.key(key);
        }
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(Key::Char(c));
        }
    }

    /// The running step ends with `facts` (Err: its error).
    fn finish(&mut self, step: &str, result: Result<Facts, String>, duration_ms: u64) {
        self.event(Event::StepFinished { step: step.into(), result, duration_ms });
        self.ask(None);
    }

    /// Enter on the step waiting, then its result.
    fn run(&mut self, step: &str, facts: Facts, duration_ms: u64) {
        assert!(
            matches!(self.engine.pending(), Some(Effect::AwaitStart { step: s }) if s == step),
            "{step} is not waiting to start: {:?}",
            self.engine.pending()
        );
        self.key(Key::Enter);
        self.finish(step, Ok(facts), duration_ms);
    }

    fn journal(&mut self, count: u64) {
        for seq in 1..=count {
            let line = journal_line(
                seq,
                "step.status",
                serde_json::json!({ "step": "count-before", "status": "done", "detail": format!("entry {seq}") }),
            );
            self.app.journaled(line);
        }
    }

    fn render(&self, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| self.app.draw(frame)).unwrap();
        terminal.backend().to_string()
    }
}

/// A backfill a third of the way through, in the throttle state given.
fn progress(throttle: Throttle) -> ToUi {
    ToUi::Progress(Progress {
        step: "fill".into(),
        rows_visited: 340_000,
        rows_updated: 301_250,
        estimated_total: 1_000_000,
        batches: 85,
        retries: 2,
        errors: 2,
        batch_size: 6000,
        rows_per_second: 52_310.4,
        eta_seconds: Some(13),
        throttle,
    })
}

fn value(v: &str) -> Facts {
    Facts::Value { value: Some(v.into()) }
}

fn snapshot_facts() -> Facts {
    Facts::Snapshot {
        values: BTreeMap::from([("orders".into(), Some("120".into())), ("refs".into(), Some("118".into()))]),
    }
}

fn command_facts() -> Facts {
    Facts::Command { exit_code: 0, output: "copying orders.db\nbackup written".into() }
}

fn checklist(no_locks: &str) -> Facts {
    Facts::Checklist {
        values: BTreeMap::from([
            ("quiet".into(), Ok(Some("0".into()))),
            ("no-locks".into(), Ok(Some(no_locks.into()))),
        ]),
    }
}

fn applied() -> Facts {
    Facts::Applied { migrations: vec![migration(1, "add column", 42), migration(2, "add index", 1830)] }
}

fn reverted() -> Facts {
    Facts::Reverted { migrations: vec![migration(2, "add index", 35), migration(1, "add column", 12)] }
}

/// A rehearsal of the fixture: each step's time, `backup_ms` for the backup.
fn rehearsal(runbook: &Runbook, backup_ms: u64) -> Lookup {
    let times = [
        ("count-before", 85),
        ("no-dupes", 120),
        ("backup", backup_ms),
        ("go-no-go", 300),
        ("expand", 1872),
        ("rows-kept", 40),
        ("smoke", 0),
        ("revert", 60),
        ("column-gone", 5),
        ("tell", 0),
    ];
    let steps = times
        .into_iter()
        .map(|(id, duration_ms)| RehearsedStep {
            id: id.into(),
            branch: runbook.step(id).unwrap().0,
            duration_ms,
            outcome: "done".into(),
        })
        .collect();
    Lookup::Found(Rehearsal {
        runbook: runbook.name.clone(),
        content_hash: runbook.content_hash.clone(),
        dialect: "postgres".into(),
        database: "scratch database db.example:5432/rehearse_1".into(),
        rehearsed_at: "2026-11-27T10:00:00Z".into(),
        runsheet: "0.1.0".into(),
        passed: true,
        migrations: Vec::new(),
        audit_logs: Vec::new(),
        steps,
    })
}

impl Sim {
    /// The same run, its runbook's rehearsal found beside it.
    fn rehearsed(mut self, backup_ms: u64) -> Sim {
        let lookup = rehearsal(self.app.runbook(), backup_ms);
        self.app = self.app.with_rehearsal(lookup);
        self
    }

    /// Up to the gate, its automated items evaluated (`no_locks` is its value; "0" passes):
    /// the gate view is open and waits for ticks and a decision.
    fn at_gate(no_locks: &str) -> Sim {
        let mut sim = Sim::started();
        sim.run("count-before", snapshot_facts(), 85);
        sim.run("no-dupes", value("0"), 120);
        sim.run("backup", command_facts(), 4200);
        sim.run("go-no-go", checklist(no_locks), 300);
        sim
    }

    /// Past the gate (Go) and the migrations: `rows-kept` waits for Enter.
    fn past_gate() -> Sim {
        let mut sim = Sim::at_gate("0");
        sim.keys(&[Key::Char(' '), Key::Char('j'), Key::Char(' '), Key::Char('y')]);
        sim.run("expand", applied(), 1872);
        sim
    }

    /// `rows-kept` failed (100 rows, 120 before): the failure dialog is up.
    fn failed() -> Sim {
        let mut sim = Sim::past_gate();
        sim.run("rows-kept", value("100"), 40);
        sim
    }

    /// The rollback branch after `rows-kept` failed: the revert is done, `column-gone` runs.
    fn rolling_back() -> Sim {
        let mut sim = Sim::failed();
        sim.key(Key::Char('R'));
        sim.run("revert", reverted(), 60);
        sim.key(Key::Enter);
        sim
    }

    /// `runsheet rollback`: the plan view over a run started on the rollback branch.
    fn rollback_plan() -> Sim {
        let context = RollbackContext {
            applied: vec![
                (1, "add column".into(), "2026-11-28 01:20:07 UTC".into()),
                (2, "add index".into(), "2026-11-28 01:20:09 UTC".into()),
            ],
            last_run: Some(LastRun {
                log: PathBuf::from("audit/orders-r1.jsonl"),
                steps: vec![
                    ("count-before".into(), "done".into(), "orders = 120, refs = 118".into()),
                    ("expand".into(), "done".into(), "applied 1, 2".into()),
                    (
                        "rows-kept".into(),
                        "failed".into(),
                        "expected >= ${snapshot.orders} (that is 120), got 100".into(),
                    ),
                ],
            }),
        };
        let runbook = runbook();
        let header = header(&runbook);
        let mut sim = Sim::with(runbook, header, Some(context));
        sim.start(Branch::Rollback);
        sim
    }
}
