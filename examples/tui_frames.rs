//! Frame time of the terminal UI on a 1,000-step runbook, and the cost of one `update`.
//! Used by bench/tui.sh.
//!
//! A 990-step main branch (checks, snapshots, commands, manual steps, ten gates, four
//! migrations) and a 10-step rollback branch are written as YAML and loaded as `runsheet run`
//! loads them. The run's side of the bridge is played as exec plays it: its own engine, every
//! event, effect, question and audit line sent to the `App` as `ToUi`, until 700 steps are
//! done, skipped or skipped after a failure and step 701 waits for Enter. Then the selection
//! walks the whole list with `j`, one frame drawn per key, on a ratatui `TestBackend`.
//!
//! cargo run --release --example tui_frames -- --frames 1000 [--runbook-dir DIR]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use clap::Parser;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use runsheet::engine::{
    Actor, Effect, Engine, Event, Facts, FailureChoice, GateDecision, MigrationRun, Pace, StepStatus,
};
use runsheet::model::{Branch, Runbook, load_runbook};
use runsheet::tui::app::{App, Header};
use runsheet::tui::bridge::ToUi;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Frames to draw at each terminal size.
    #[arg(long, default_value_t = 1000)]
    frames: usize,
    /// Steps of the main branch the run has finished before the frames are drawn.
    #[arg(long, default_value_t = 700)]
    finished: usize,
    /// Where to write the runbook (kept, for bench/tui.sh's first-frame run); a temporary
    /// directory otherwise.
    #[arg(long)]
    runbook_dir: Option<PathBuf>,
}

const MAIN_STEPS: usize = 990;
const MIGRATIONS: i64 = 4;
/// Terminal sizes: a laptop's and a large monitor's.
const SIZES: [(u16, u16); 2] = [(120, 40), (200, 60)];

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tui_frames: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let temp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let dir = args.runbook_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let path = write_runbook(&dir)?;
    let runbook = Arc::new(load_runbook(&path, &[]).map_err(|d| d.to_string())?);
    println!(
        "runbook {}: {} main steps + {} rollback steps",
        path.display(),
        runbook.steps.len(),
        runbook.rollback.len()
    );

    let mut run = Sim::new(Arc::clone(&runbook));
    let finished = args.finished.min(MAIN_STEPS - 1);
    run.play_until(finished)?;
    let states = run.engine.states(Branch::Main);
    let count = |status| states.iter().filter(|s| s.status == status).count();
    println!(
        "fed {} updates ({} audit lines) until step {} waits for Enter: {} done, {} skipped",
        run.updates.len(),
        run.journal_seq,
        finished + 1,
        count(StepStatus::Done),
        count(StepStatus::Skipped),
    );
    println!("update, by message:");
    for kind in ["Event", "Effect", "Ask", "Journal", "Note"] {
        let times: Vec<Duration> = run.updates.iter().filter(|(k, _)| *k == kind).map(|(_, d)| *d).collect();
        println!("  {kind:<8} {}", Stats::of(times).line());
    }
    let all: Vec<Duration> = run.updates.iter().map(|(_, d)| *d).collect();
    println!("  {:<8} {}", "all", Stats::of(all).line());

    let mut app = run.app;
    let total = runbook.steps.len() + runbook.rollback.len();
    for (width, height) in SIZES {
        // From the top: each `j` moves the selection one row, and the list scrolls with it.
        for _ in 0..total {
            app.key(key('k'));
        }
        let mut terminal = Terminal::new(TestBackend::new(width, height)).map_err(|e| e.to_string())?;
        let mut keys = Vec::with_capacity(args.frames);
        let mut frames = Vec::with_capacity(args.frames);
        for _ in 0..args.frames {
            let started = Instant::now();
            app.key(key('j'));
            keys.push(started.elapsed());
            let started = Instant::now();
            terminal.draw(|frame| app.draw(frame)).map_err(|e| e.to_string())?;
            frames.push(started.elapsed());
        }
        println!("{width}x{height}, {} frames, selection moved with j:", args.frames);
        println!("  draw     {}", Stats::of(frames).line());
        println!("  key j    {}", Stats::of(keys).line());
    }
    Ok(())
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// What each main-branch step is, by its index: a repeating pattern of ten, with a gate and
/// (four times) a migration in the middle of every hundred.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Snapshot,
    /// A check against the snapshot of the step at this index.
    Count(usize),
    Zero,
    Manual,
    Command,
    Gate,
    Migrate(i64),
}

fn kind(i: usize) -> Kind {
    match (i % 100, i % 10) {
        (55, _) => Kind::Gate,
        (25, _) if i / 200 < MIGRATIONS as usize && i % 200 == 25 => Kind::Migrate((i / 200) as i64 + 1),
        (_, 0) => Kind::Snapshot,
        (_, 1 | 4 | 7) => Kind::Count(i - i % 10),
        (_, 2 | 8) => Kind::Zero,
        (_, 3 | 6 | 9) => Kind::Manual,
        _ => Kind::Command,
    }
}

/// Steps whose first attempt fails: every 23rd check or command.
fn fails_first(i: usize) -> bool {
    i % 23 == 2 && matches!(kind(i), Kind::Zero | Kind::Count(_) | Kind::Command)
}

/// Steps skipped with a reason before they run.
fn skipped(i: usize) -> bool {
    i % 70 == 13 && matches!(kind(i), Kind::Manual)
}

fn write_runbook(dir: &Path) -> Result<PathBuf, String> {
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).map_err(io(&migrations))?;
    for version in 1..=MIGRATIONS {
        for (direction, sql) in [("up", "ALTER TABLE orders ADD COLUMN c{v} TEXT;"), ("down", "SELECT {v};")] {
            let file = migrations.join(format!("{version}_step_{version}.{direction}.sql"));
            std::fs::write(&file, sql.replace("{v}", &version.to_string())).map_err(io(&file))?;
        }
    }
    let checklist = dir.join("go.yaml");
    std::fs::write(&checklist, CHECKLIST).map_err(io(&checklist))?;

    let mut yaml = String::from(
        "name: bench-1000\n\
         title: Orders 3.0 — bench runbook, 1,000 steps\n\
         change: CHG-1000\n\
         window: { start: 2026-11-28T02:00:00+01:00, duration: 6h }\n\
         migrations: migrations\n\
         on_failure: ask\n\
         vars: { channel: \"#orders-change\" }\n\
         steps:\n",
    );
    for i in 0..MAIN_STEPS {
        let n = i + 1;
        let _ = match kind(i) {
            Kind::Snapshot => write!(
                yaml,
                "  - id: snap-{n}\n    title: Count the orders and their total, round {n}\n    snapshot:\n      \
                 rows_{i}: SELECT count(*) FROM orders\n      total_{i}: SELECT sum(amount) FROM orders\n"
            ),
            Kind::Count(base) => write!(
                yaml,
                "  - id: kept-{n}\n    title: No order lost since step {}\n    check: {{ sql: SELECT count(*) FROM \
                 orders, expect: \">= ${{snapshot.rows_{base}}}\" }}\n",
                base + 1
            ),
            Kind::Zero => write!(
                yaml,
                "  - id: dupes-{n}\n    title: No two orders share a reference (batch {n})\n    check:\n      sql: \
                 |-\n        SELECT count(*) FROM (\n          SELECT ref FROM orders GROUP BY ref HAVING count(*) > 1\n        \
                 ) dupes\n      expect: \"= 0\"\n"
            ),
            Kind::Manual => write!(
                yaml,
                "  - id: confirm-{n}\n    title: Confirm the import of batch {n} in the admin UI\n    manual: >-\n      \
                 Open Admin → Orders → Import, check that batch {n} shows with its external reference, then post\n      \
                 \"batch {n} ok\" in ${{channel}}.\n    role: ops\n    target_time: 5m\n"
            ),
            Kind::Command => write!(
                yaml,
                "  - id: export-{n}\n    title: Export batch {n} to the warehouse\n    command: |-\n      set -eu\n      \
                 ./export --batch {n} --out \"exports/{n}-$run_id.csv\"\n      echo \"exported batch {n}\"\n    \
                 timeout: 10m\n"
            ),
            Kind::Gate => write!(
                yaml,
                "  - id: gate-{n}\n    title: Go / No-Go before batch {}\n    gate: go.yaml\n    role: change-manager\n",
                n + 1
            ),
            Kind::Migrate(to) => write!(
                yaml,
                "  - id: migrate-{to}\n    title: Apply migration {to}\n    migrate: {{ to: {to} }}\n    timeout: 30m\n"
            ),
        };
    }
    yaml.push_str(ROLLBACK);
    let path = dir.join("runbook.yaml");
    std::fs::write(&path, yaml).map_err(io(&path))?;
    Ok(path)
}

/// The same gate checklist as the TUI tests'.
const CHECKLIST: &str = include_str!("../tests/fixtures/tui/go.yaml");

const ROLLBACK: &str = r#"rollback:
  - id: rb-announce
    title: Announce the rollback
    manual: Post "rolling back CHG-1000" in ${channel}.
    role: change-manager
    target_time: 5m
  - id: rb-writes-off
    title: Stop writes to the new columns
    manual: Set the feature flag orders.v3 to off.
    role: ops
  - id: rb-count
    title: Count the orders before the revert
    snapshot:
      rb_rows: SELECT count(*) FROM orders
  - id: rb-revert
    title: Revert every migration
    revert: { to: 0 }
    timeout: 30m
  - id: rb-kept
    title: No order lost by the revert
    check: { sql: SELECT count(*) FROM orders, expect: ">= ${snapshot.rb_rows}" }
  - id: rb-dupes
    title: No two orders share a reference
    check: { sql: SELECT 0, expect: "= 0" }
  - id: rb-import
    title: Re-import the pending batches
    command: ./import --pending
    timeout: 20m
  - id: rb-smoke
    title: Smoke-test the admin UI
    manual: Open Admin → Orders and import the sample file.
    role: ops
  - id: rb-app
    title: Roll the application back to 2.9
    manual: Deploy image 2.9 and wait until no 3.0 instance runs.
    role: ops
  - id: rb-tell
    title: Tell support
    manual: Post the rollback notice in ${channel}.
    role: change-manager
"#;

/// The run's side of the bridge, as exec and `TuiFace` play it, timing every `App::update`.
struct Sim {
    engine: Engine,
    app: App,
    updates: Vec<(&'static str, Duration)>,
    journal_seq: u64,
}

impl Sim {
    fn new(runbook: Arc<Runbook>) -> Sim {
        let mut vars = runbook.vars.clone();
        vars.insert("run_id".into(), "20261128T010000Z-00ff".into());
        let header = Header {
            title: runbook.title.clone(),
            change: runbook.change.clone(),
            database: "db-prod-1.example:5432/orders".into(),
            production: true,
            operator: operator(),
            window: runbook.window.clone(),
            color: true,
            dry_run: false,
        };
        let mut app = App::new(Arc::clone(&runbook), vars.clone(), header);
        // 1h 10m into the 6-hour window.
        if let Some(now) = Utc.with_ymd_and_hms(2026, 11, 28, 2, 10, 0).single() {
            app.tick(now);
        }
        Sim { engine: Engine::new(runbook, vars), app, updates: Vec::new(), journal_seq: 0 }
    }

    fn send(&mut self, message: ToUi) {
        let kind = match &message {
            ToUi::Event(_) => "Event",
            ToUi::Effect(_) => "Effect",
            ToUi::Ask { .. } => "Ask",
            ToUi::Note(_) => "Note",
            ToUi::Progress(_) => "Progress",
            ToUi::Journal(_) => "Journal",
        };
        let started = Instant::now();
        self.app.update(message);
        self.updates.push((kind, started.elapsed()));
    }

    /// An audit line as the journal's tap sends it: the entry, then the UI sees it.
    fn journal(&mut self, kind: &str, fields: Value) {
        self.journal_seq += 1;
        let seq = self.journal_seq;
        let mut entry = json!({
            "seq": seq,
            "ts": format!("2026-11-28T01:{:02}:{:02}.{:06}Z", 10 + seq / 3600 % 50, seq / 60 % 60, seq % 1_000_000),
            "prev": format!("{seq:064x}"),
            "kind": kind,
        });
        if let (Some(entry), Value::Object(fields)) = (entry.as_object_mut(), fields) {
            entry.extend(fields);
        }
        self.send(ToUi::Journal(entry.to_string()));
    }

    /// What exec's `feed` does: journal the event, the face sees it, then each effect.
    fn event(&mut self, event: Event) {
        let mut fields = serde_json::to_value(&event).unwrap_or(Value::Null);
        let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("event").to_string();
        if let Some(fields) = fields.as_object_mut() {
            fields.remove("kind");
        }
        self.journal(&kind, fields);
        self.send(ToUi::Event(event.clone()));
        for effect in self.engine.handle(event) {
            if let Effect::Status { step, status, detail } = &effect {
                let fields = json!({ "step": step, "status": status, "detail": detail });
                self.journal("step.status", fields);
            }
            self.send(ToUi::Effect(effect));
        }
    }

    /// Answers every question as an operator would until main step `stop` waits to start.
    fn play_until(&mut self, stop: usize) -> Result<(), String> {
        self.event(Event::Started { branch: Branch::Main, pace: Pace::Operator });
        loop {
            let Some((Branch::Main, index)) = self.engine.current() else {
                return Err(format!("the run left the main branch: {:?}", self.engine.outcome()));
            };
            let pending = self.engine.pending().ok_or("the run waits for nothing")?;
            if !matches!(pending, Effect::Execute { .. }) {
                self.send(ToUi::Ask { waiting: pending.clone(), refused: None });
            }
            let by = operator();
            match pending {
                Effect::AwaitStart { .. } | Effect::AwaitConfirmation { .. } if index >= stop => return Ok(()),
                Effect::AwaitStart { step } | Effect::AwaitConfirmation { step } if skipped(index) => {
                    self.event(Event::Skipped { step, reason: "done by hand before the window".into(), by });
                }
                Effect::AwaitStart { step } => self.event(Event::RunRequested { step, by }),
                Effect::AwaitConfirmation { step } => self.event(Event::Confirmed { step, by }),
                Effect::Execute { step, attempt, .. } => {
                    let result = facts(index, attempt);
                    for note in notes(&result) {
                        self.send(ToUi::Note(note));
                    }
                    self.event(Event::StepFinished { step, result, duration_ms: 40 + (index as u64 * 37) % 900 });
                }
                // One manual item ticked per question, then Go.
                Effect::AwaitDecision { step } => {
                    let unticked = self
                        .engine
                        .gate_items(&step)
                        .iter()
                        .find(|(item, status)| item.check.is_none() && !status.passes())
                        .map(|(item, _)| item.id.clone());
                    match unticked {
                        Some(item) => self.event(Event::Ticked { step, item, ticked: true, by }),
                        None => self.event(Event::Decided { step, decision: GateDecision::Go, reason: None, by }),
                    }
                }
                // Every other failure is retried; the rest skipped with a reason.
                Effect::AwaitFailureChoice { step, .. } if index % 2 == 0 => {
                    self.event(Event::Resolved { step, choice: FailureChoice::Retry, reason: None, by });
                }
                Effect::AwaitFailureChoice { step, .. } => self.event(Event::Resolved {
                    step,
                    choice: FailureChoice::Skip,
                    reason: Some("known difference, ticket ORD-77 follows it up".into()),
                    by,
                }),
                other => return Err(format!("unexpected question: {other:?}")),
            }
        }
    }
}

fn operator() -> Actor {
    Actor { name: "alice".into(), role: Some("change-manager".into()) }
}

/// What exec would report for main step `i`'s attempt.
fn facts(i: usize, attempt: u32) -> Result<Facts, String> {
    let failing = fails_first(i) && attempt == 1;
    let value = |v: String| Facts::Value { value: Some(v) };
    Ok(match kind(i) {
        Kind::Snapshot => Facts::Snapshot {
            values: BTreeMap::from([
                (format!("rows_{i}"), Some((120_000 + i * 7).to_string())),
                (format!("total_{i}"), Some(format!("{}.50", 9_800_000 + i * 311))),
            ]),
        },
        Kind::Count(base) if failing => value((120_000 + base * 7 - 3).to_string()),
        Kind::Count(base) => value((120_000 + base * 7 + i % 10).to_string()),
        Kind::Zero => value(if failing { "3" } else { "0" }.into()),
        Kind::Command if failing => return Err("./export: connection to the warehouse refused".into()),
        Kind::Command => Facts::Command {
            exit_code: 0,
            output: (1..=12).map(|line| format!("batch {i}: exported chunk {line} of 12 (5000 rows)\n")).collect(),
        },
        Kind::Gate => Facts::Checklist {
            values: BTreeMap::from([("quiet".into(), Ok(Some("0".into()))), ("no-locks".into(), Ok(Some("0".into())))]),
        },
        Kind::Migrate(version) => Facts::Applied {
            migrations: vec![MigrationRun {
                version,
                description: format!("step {version}"),
                checksum: "ab".repeat(48),
                duration_ms: 1200 + version as u64 * 100,
            }],
        },
        Kind::Manual => return Err("a manual step has no action".into()),
    })
}

/// The progress notes exec sends while a migration applies.
fn notes(result: &Result<Facts, String>) -> Vec<String> {
    match result {
        Ok(Facts::Applied { migrations }) => migrations
            .iter()
            .map(|m| format!("applied {} {} in {} ms", m.version, m.description, m.duration_ms))
            .collect(),
        _ => Vec::new(),
    }
}

/// Mean, median, 99th percentile and maximum of a sample.
struct Stats {
    count: usize,
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut sample: Vec<Duration>) -> Stats {
        sample.sort();
        let count = sample.len();
        let at = |q: usize| sample.get((count * q / 100).min(count.saturating_sub(1))).copied().unwrap_or_default();
        let total: Duration = sample.iter().sum();
        Stats {
            count,
            mean: total / u32::try_from(count.max(1)).unwrap_or(u32::MAX),
            p50: at(50),
            p99: at(99),
            max: sample.last().copied().unwrap_or_default(),
        }
    }

    fn line(&self) -> String {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        format!(
            "n={:<6} mean {:>8.1} µs  p50 {:>8.1} µs  p99 {:>8.1} µs  max {:>8.1} µs",
            self.count,
            us(self.mean),
            us(self.p50),
            us(self.p99),
            us(self.max)
        )
    }
}
