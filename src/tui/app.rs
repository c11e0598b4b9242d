//! The TUI's view state: a replica of the run's engine fed the run's events, what the operator
//! selected and opened, and the question the run waits on. Pure: no IO, no async, no
//! terminal; `draw` only reads it, so every screen is a function of this state.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::crossterm::event::{KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

use super::bridge::{FromUi, ToUi};
use super::keymap::{self, Action, Context, Key};
use super::view;
use crate::backfill::{Progress, Throttle};
use crate::engine::{
    Actor, Effect, Engine, Event, Facts, FailureChoice, GateDecision, ItemStatus, RunOutcome, StepState, StepStatus,
};
use crate::exec::Reply;
use crate::model::rehearsal::{Lookup, Rehearsal};
use crate::model::{Branch, Runbook, Step, StepKind, Window};

/// What the header says about the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub title: String,
    pub change: Option<String>,
    /// host:port/database, never a password.
    pub database: String,
    /// Shows the banner that cannot be missed.
    pub production: bool,
    pub operator: Actor,
    pub window: Option<Window>,
    /// False under `NO_COLOR`: no colour at all, marks and modifiers only.
    pub color: bool,
    /// `--dry-run`: said on every frame, so nobody takes the run's greens for a change made.
    pub dry_run: bool,
}

/// What the terminal loop does after a key or a click.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Send(FromUi),
    /// Leave; the loop answers a pending question with `Reply::Stop("operator quit")`.
    Quit,
    /// The operator confirmed quitting while a step runs: cancel the run as Ctrl-C does.
    Cancel,
}

/// What `runsheet rollback` shows before the rollback branch starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollbackContext {
    /// `_sqlx_migrations`: (version, description, installed_on).
    pub applied: Vec<(i64, String, String)>,
    pub last_run: Option<LastRun>,
}

/// The last run's steps as its audit log tells them.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    pub log: PathBuf,
    /// (step, status, detail), in the order they last changed.
    pub steps: Vec<(String, String, String)>,
}

/// A step: its branch and its index in that branch.
pub(super) type Pos = (Branch, usize);

/// What fills the body of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Screen {
    /// `runsheet rollback`: what is applied, before the steps.
    Plan,
    Steps,
    /// The checklist of a gate step, by id.
    Gate(String),
    Audit,
}

pub(super) enum Dialog {
    /// Quit while a step runs?
    ConfirmCancel,
    Reason {
        purpose: Purpose,
        input: Box<TextArea<'static>>,
        /// Why Enter did not send it (an empty required reason).
        problem: Option<String>,
    },
}

/// What a typed reason is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    Skip(String),
    SkipFailed(String),
    NoGo(String),
    Rollback,
}

impl Purpose {
    pub(super) fn title(&self) -> String {
        match self {
            Purpose::Skip(step) | Purpose::SkipFailed(step) => format!("Skip step `{step}`"),
            Purpose::NoGo(step) => format!("No-Go at gate `{step}`"),
            Purpose::Rollback => "Start the rollback branch?".into(),
        }
    }

    pub(super) fn explanation(&self) -> &'static str {
        match self {
            Purpose::Skip(_) | Purpose::SkipFailed(_) => {
                "The step will not run. Why? The reason goes into the audit log with your name."
            }
            Purpose::NoGo(_) => "No-Go stops the change and starts the rollback branch. Why?",
            Purpose::Rollback => {
                "The main branch stops (after the step that runs, if any) and the rollback steps \
                 follow, each started with Enter. Reason (optional):"
            }
        }
    }

    fn required(&self) -> bool {
        !matches!(self, Purpose::Rollback)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub text: String,
    /// A refusal, a rollback, a failure: shown so it stands out.
    pub alert: bool,
}

/// One audit log line, reduced to what the pane shows when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AuditRow {
    pub seq: String,
    pub time: String,
    pub kind: String,
    pub fields: String,
}

/// The fields of an audit entry worth a glance, in the order shown.
const TELLING_FIELDS: &[&str] = &[
    "step",
    "status",
    "item",
    "ticked",
    "decision",
    "choice",
    "version",
    "description",
    "attempt",
    "duration_ms",
    "exit_code",
    "outcome",
    "reason",
    "detail",
    "message",
    "result",
    "by",
    "operator",
    "role",
    "database",
];

pub struct App {
    pub(super) replica: Engine,
    pub(super) header: Header,
    pub(super) rollback_context: Option<RollbackContext>,
    pub(super) screen: Screen,
    /// Where Esc goes back to from the audit pane.
    pub(super) previous: Screen,
    pub(super) dialog: Option<Dialog>,
    /// Open help, with its scroll offset.
    pub(super) help: Option<u16>,
    /// The operator closed the failure dialog to look around; Enter brings it back.
    pub(super) failure_hidden: bool,
    pub(super) selected: Pos,
    /// The selection follows the run's current step until the operator moves elsewhere.
    pub(super) follow: bool,
    pub(super) detail_scroll: u16,
    pub(super) gate_item: usize,
    /// An answer was sent and the run has not echoed an event since: a second key press must
    /// not answer the same question twice.
    pub(super) answered: bool,
    pub(super) message: Option<Message>,
    /// Progress notes (migrations applied one by one) per step, as they arrive.
    pub(super) notes: HashMap<Pos, Vec<String>>,
    /// The latest progress of each backfill step.
    pub(super) progress: HashMap<Pos, Progress>,
    pub(super) audit: Vec<AuditRow>,
    /// Lines scrolled up from the newest audit entry.
    pub(super) audit_scroll: usize,
    pub(super) now: Option<DateTime<Utc>>,
    /// When the running step started, by the last tick before it did.
    pub(super) running_since: Option<DateTime<Utc>>,
    /// Main-branch migrate steps whose migrations a later revert took back: the revert's id.
    pub(super) rolled_back: HashMap<usize, String>,
    /// The runbook's rehearsal, for the time each step and the rest of the run should take.
    pub(super) rehearsal: Option<Rehearsal>,
}

impl App {
    pub fn new(runbook: Arc<Runbook>, vars: BTreeMap<String, String>, header: Header) -> App {
        App {
            replica: Engine::new(runbook, vars),
            header,
            rollback_context: None,
            screen: Screen::Steps,
            previous: Screen::Steps,
            dialog: None,
            help: None,
            failure_hidden: false,
            selected: (Branch::Main, 0),
            follow: true,
            detail_scroll: 0,
            gate_item: 0,
            answered: false,
            message: None,
            notes: HashMap::new(),
            progress: HashMap::new(),
            audit: Vec::new(),
            audit_scroll: 0,
            now: None,
            running_since: None,
            rolled_back: HashMap::new(),
            rehearsal: None,
        }
    }

    /// `runsheet rollback`: the plan view comes first, then the rollback branch.
    pub fn with_rollback_context(mut self, ctx: RollbackContext) -> App {
        self.rollback_context = Some(ctx);
        self.screen = Screen::Plan;
        self.selected = (Branch::Rollback, 0);
        self
    }

    /// The rehearsal file found beside the runbook: its times are shown; one that cannot be
    /// used is said so once.
    pub fn with_rehearsal(mut self, lookup: Lookup) -> App {
        match lookup {
            Lookup::Found(rehearsal) => self.rehearsal = Some(rehearsal),
            Lookup::Ignored(why) => self.message = Some(Message { text: why, alert: false }),
            Lookup::Missing => {}
        }
        self
    }

    /// How the run ended, once it has.
    pub fn finished(&self) -> Option<RunOutcome> {
        self.replica.outcome()
    }

    /// The question the run waits on, if the operator has not answered it yet. It is read from
    /// the replica, which has seen every event the run has: the run's own `Ask` may still be on
    /// its way when the replica already waits, and a key pressed then is a valid answer.
    pub fn asked(&self) -> Option<Effect> {
        if self.answered {
            return None;
        }
        self.replica.pending().filter(|e| {
            matches!(
                e,
                Effect::AwaitStart { .. }
                    | Effect::AwaitConfirmation { .. }
                    | Effect::AwaitDecision { .. }
                    | Effect::AwaitFailureChoice { .. }
            )
        })
    }

    pub fn update(&mut self, message: ToUi) {
        match message {
            ToUi::Event(event) => {
                self.answered = false;
                self.apply(event)
            }
            ToUi::Effect(effect) => self.show(effect),
            ToUi::Journal(line) => self.journaled(line),
            ToUi::Progress(progress) => {
                if let Some(pos) = self.replica.current() {
                    self.progress.insert(pos, progress);
                }
            }
            ToUi::Note(line) => {
                if let Some(pos) = self.replica.current() {
                    self.notes.entry(pos).or_default().push(line.clone());
                }
                self.message = Some(Message { text: line, alert: false });
            }
            ToUi::Ask { waiting, refused } => {
                if let Some(why) = refused {
                    self.alert(format!("refused: {why}"));
                }
                match &waiting {
                    Effect::AwaitFailureChoice { .. } => self.failure_hidden = false,
                    // The gate the operator just evaluated opens by itself.
                    Effect::AwaitDecision { step }
                        if self.follow
                            && self.screen == Screen::Steps
                            && self.selected_step().is_some_and(|s| &s.id == step) =>
                    {
                        self.open_gate(step.clone());
                    }
                    _ => {}
                }
            }
        }
    }

    /// One audit log line as written (JSON), for the audit pane.
    pub fn journaled(&mut self, line: String) {
        self.audit.push(audit_row(&line));
        // Someone reading older entries keeps them in place.
        if self.audit_scroll > 0 {
            self.audit_scroll += 1;
        }
    }

    pub fn tick(&mut self, now: DateTime<Utc>) {
        self.now = Some(now);
    }

    pub fn draw(&self, frame: &mut Frame) {
        view::draw(self, frame);
    }

    pub fn key(&mut self, event: KeyEvent) -> Vec<Command> {
        if event.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let context = self.context();
        let bindings: Vec<_> =
            Key::from_event(&event).map(|key| keymap::lookup(context, key).collect()).unwrap_or_default();
        let Some(first) = bindings.first() else {
            // Keys not in the table edit the reason being typed (Backspace, arrows, …).
            if let Some(Dialog::Reason { input, problem, .. }) = &mut self.dialog {
                input.input(event);
                *problem = None;
            }
            return Vec::new();
        };
        match bindings.iter().find(|b| self.applies(b.action).is_ok()) {
            Some(binding) => self.perform(binding.action),
            None => {
                if let Err(why) = self.applies(first.action) {
                    self.message = Some(Message { text: why, alert: false });
                }
                Vec::new()
            }
        }
    }

    /// A click selects a step (or a checklist item); the wheel moves. Nothing is ever sent by
    /// the mouse: a stray click must not run a step.
    pub fn mouse(&mut self, event: MouseEvent, area: Rect) -> Vec<Command> {
        let context = self.context();
        match event.kind {
            MouseEventKind::Down(MouseButton::Left) => match context {
                Context::Steps => {
                    if let Some(pos) = view::step_at(self, area, event.column, event.row) {
                        self.select(pos);
                    }
                }
                Context::Gate => {
                    if let Some(item) = view::gate_item_at(self, area, event.column, event.row) {
                        self.gate_item = item;
                    }
                }
                _ => {}
            },
            MouseEventKind::ScrollDown if keymap::lookup(context, Key::Down).next().is_some() => {
                self.perform(Action::Down);
            }
            MouseEventKind::ScrollUp if keymap::lookup(context, Key::Up).next().is_some() => {
                self.perform(Action::Up);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Which part of the key table is live: the popup in front, else the screen.
    pub fn context(&self) -> Context {
        if self.help.is_some() {
            return Context::Help;
        }
        self.context_behind_help()
    }

    pub(super) fn context_behind_help(&self) -> Context {
        match &self.dialog {
            Some(Dialog::ConfirmCancel) => return Context::Confirm,
            Some(Dialog::Reason { .. }) => return Context::Input,
            None => {}
        }
        if self.failure_shown() {
            return Context::Failure;
        }
        match self.screen {
            Screen::Plan => Context::Plan,
            Screen::Steps => Context::Steps,
            Screen::Gate(_) => Context::Gate,
            Screen::Audit => Context::Audit,
        }
    }

    pub(super) fn failure_shown(&self) -> bool {
        matches!(self.asked(), Some(Effect::AwaitFailureChoice { .. })) && !self.failure_hidden
    }

    pub(super) fn runbook(&self) -> &Runbook {
        self.replica.runbook()
    }

    pub(super) fn step(&self, (branch, index): Pos) -> Option<&Step> {
        self.runbook().branch(branch).get(index)
    }

    pub(super) fn state(&self, (branch, index): Pos) -> Option<&StepState> {
        self.replica.states(branch).get(index)
    }

    pub(super) fn selected_step(&self) -> Option<&Step> {
        self.step(self.selected)
    }

    /// A step's action is in flight.
    pub(super) fn running(&self) -> Option<Pos> {
        self.replica.current().filter(|&pos| self.state(pos).is_some_and(|s| s.status == StepStatus::Running))
    }

    /// The gate shown in the gate view.
    pub(super) fn open_gate_id(&self) -> Option<&str> {
        match &self.screen {
            Screen::Gate(step) => Some(step),
            _ => None,
        }
    }

    /// Whether `action` can be done now, or why not in words.
    pub(super) fn applies(&self, action: Action) -> Result<(), String> {
        let selected = self.selected_step().map(|s| s.id.as_str()).unwrap_or_default();
        let now = |cond: bool| if cond { Ok(()) } else { Err(self.why_not_now()) };
        match action {
            Action::Run => now(matches!(&self.asked(), Some(Effect::AwaitStart { step }) if step == selected)),
            Action::Confirm => {
                now(matches!(&self.asked(), Some(Effect::AwaitConfirmation { step }) if step == selected))
            }
            Action::OpenGate => now(self.selected_step().is_some_and(|s| matches!(s.kind, StepKind::Gate { .. }))
                && self.applies(Action::Run).is_err()),
            Action::ShowFailure => {
                now(matches!(self.asked(), Some(Effect::AwaitFailureChoice { .. })) && self.failure_hidden)
            }
            Action::Skip => self.skippable(),
            Action::Rollback => self.rollback_allowed(),
            Action::Pause => match self.running().and_then(|pos| self.step(pos)) {
                Some(step) if matches!(step.kind, StepKind::Backfill(_)) => Ok(()),
                _ => Err("no backfill is running: p pauses and resumes a running backfill".into()),
            },
            Action::Tick => {
                self.deciding()?;
                match self.gate_items().get(self.gate_item) {
                    Some((true, _)) => Ok(()),
                    _ => Err("this item is checked by its query, not ticked by hand".into()),
                }
            }
            Action::Go | Action::NoGo => self.deciding(),
            Action::Retry => self.offered(FailureChoice::Retry),
            Action::SkipFailed => self.offered(FailureChoice::Skip),
            Action::RollbackFailed => self.offered(FailureChoice::Rollback),
            Action::Abort => self.offered(FailureChoice::Abort),
            Action::Down
            | Action::Up
            | Action::PageDown
            | Action::PageUp
            | Action::AuditLog
            | Action::Help
            | Action::Quit
            | Action::Close
            | Action::Yes
            | Action::No
            | Action::Submit
            | Action::Continue => Ok(()),
        }
    }

    /// Where the run is, for a key that does not apply to the selected step.
    fn why_not_now(&self) -> String {
        if let Some(outcome) = self.finished() {
            return format!("the run is over ({})", outcome_words(outcome));
        }
        if let Some(pos) = self.running() {
            let id = self.step(pos).map(|s| s.id.as_str()).unwrap_or_default();
            return format!("step `{id}` is running");
        }
        match &self.asked() {
            Some(Effect::AwaitStart { step }) => format!("the run waits to start `{step}` (select it, Enter)"),
            Some(Effect::AwaitConfirmation { step }) => format!("the run waits for `{step}` to be confirmed"),
            Some(Effect::AwaitDecision { step }) => format!("the run waits for the decision at gate `{step}`"),
            Some(Effect::AwaitFailureChoice { step, .. }) => format!("the run waits for an answer to `{step}` failing"),
            _ => "the run is busy".into(),
        }
    }

    fn skippable(&self) -> Result<(), String> {
        let Some(step) = self.selected_step() else {
            return Err("no step selected".into());
        };
        if matches!(step.kind, StepKind::Gate { .. }) {
            return Err("a gate is decided with Go or No-Go, not skipped".into());
        }
        let waiting_here = match &self.asked() {
            Some(
                Effect::AwaitStart { step: s }
                | Effect::AwaitConfirmation { step: s }
                | Effect::AwaitFailureChoice { step: s, .. },
            ) => *s == step.id,
            _ => false,
        };
        let ahead = match self.replica.current() {
            Some((branch, index)) => {
                self.selected.0 == branch
                    && self.selected.1 > index
                    && self.state(self.selected).is_some_and(|s| s.status == StepStatus::Pending)
            }
            None => false,
        };
        if waiting_here || ahead {
            Ok(())
        } else {
            Err(format!(
                "step `{}` cannot be skipped now: only the step the run waits on, or one still ahead on this branch",
                step.id
            ))
        }
    }

    fn rollback_allowed(&self) -> Result<(), String> {
        if self.runbook().rollback.is_empty() {
            Err("this runbook has no rollback branch".into())
        } else if let Some(outcome) = self.finished() {
            Err(format!("the run is over ({})", outcome_words(outcome)))
        } else if matches!(self.replica.current(), Some((Branch::Rollback, _))) {
            Err("the rollback branch is already running".into())
        } else {
            Ok(())
        }
    }

    /// The gate in view waits for ticks and a decision.
    fn deciding(&self) -> Result<(), String> {
        match (&self.asked(), self.open_gate_id()) {
            (Some(Effect::AwaitDecision { step }), Some(open)) if step == open => Ok(()),
            _ => Err(format!("this gate is not waiting for a decision: {}", self.why_not_now())),
        }
    }

    fn offered(&self, choice: FailureChoice) -> Result<(), String> {
        match &self.asked() {
            Some(Effect::AwaitFailureChoice { choices, .. }) if choices.contains(&choice) => Ok(()),
            _ => Err(format!("`{}` is not offered for this failure", choice.name())),
        }
    }

    /// The open gate's items: (manual, status).
    fn gate_items(&self) -> Vec<(bool, ItemStatus)> {
        self.open_gate_id()
            .map(|id| {
                self.replica.gate_items(id).into_iter().map(|(item, status)| (item.check.is_none(), status)).collect()
            })
            .unwrap_or_default()
    }

    fn perform(&mut self, action: Action) -> Vec<Command> {
        let by = self.header.operator.clone();
        let selected = self.selected_step().map(|s| s.id.clone()).unwrap_or_default();
        let gate = self.open_gate_id().map(str::to_string).unwrap_or_default();
        let failed = match &self.asked() {
            Some(Effect::AwaitFailureChoice { step, .. }) => step.clone(),
            _ => String::new(),
        };
        let resolve = |choice, reason| Event::Resolved { step: failed.clone(), choice, reason, by: by.clone() };
        match action {
            Action::Down => self.scroll(1),
            Action::Up => self.scroll(-1),
            Action::PageDown => self.page(1),
            Action::PageUp => self.page(-1),
            Action::Run => return self.send(Event::RunRequested { step: selected, by }),
            Action::Confirm => return self.send(Event::Confirmed { step: selected, by }),
            Action::OpenGate => self.open_gate(selected),
            Action::ShowFailure => self.failure_hidden = false,
            Action::Skip => self.ask_reason(Purpose::Skip(selected)),
            Action::Rollback => self.ask_reason(Purpose::Rollback),
            Action::SkipFailed => self.ask_reason(Purpose::SkipFailed(failed)),
            Action::NoGo => self.ask_reason(Purpose::NoGo(gate)),
            Action::Pause => {
                let held = self.running().and_then(|pos| self.progress.get(&pos)).map(|p| &p.throttle);
                let text = if held == Some(&Throttle::Held) {
                    "resuming the backfill"
                } else {
                    "pausing the backfill after the batch in flight"
                };
                self.message = Some(Message { text: text.into(), alert: false });
                return vec![Command::Send(FromUi::TogglePause)];
            }
            Action::AuditLog => {
                if self.screen == Screen::Audit {
                    self.screen = self.previous.clone();
                } else {
                    self.previous = self.screen.clone();
                    self.screen = Screen::Audit;
                    self.audit_scroll = 0;
                }
            }
            Action::Help => self.help = if self.help.is_some() { None } else { Some(0) },
            Action::Quit => {
                if self.running().is_some() {
                    self.dialog = Some(Dialog::ConfirmCancel);
                } else {
                    return vec![Command::Quit];
                }
            }
            Action::Close => self.close(),
            Action::Tick => {
                let items = self.replica.gate_items(&gate);
                if let Some((item, status)) = items.get(self.gate_item) {
                    let event = Event::Ticked {
                        step: gate.clone(),
                        item: item.id.clone(),
                        ticked: !matches!(status, ItemStatus::Ticked { .. }),
                        by,
                    };
                    return self.send(event);
                }
            }
            Action::Go => {
                return self.send(Event::Decided { step: gate, decision: GateDecision::Go, reason: None, by });
            }
            Action::Retry => return self.send(resolve(FailureChoice::Retry, None)),
            Action::RollbackFailed => return self.send(resolve(FailureChoice::Rollback, None)),
            Action::Abort => return self.send(resolve(FailureChoice::Abort, None)),
            Action::Yes => {
                self.dialog = None;
                return vec![Command::Cancel];
            }
            Action::No => self.dialog = None,
            Action::Submit => return self.submit(),
            Action::Continue => self.screen = Screen::Steps,
        }
        Vec::new()
    }

    /// An event of the operator: the answer when the run asks (a reply the run would drop as
    /// stale otherwise), else one it picks up between two actions.
    fn send(&mut self, event: Event) -> Vec<Command> {
        self.message = None;
        // A tick leaves the gate waiting for more ticks and the decision; other answers move on.
        let moves_on = !matches!(event, Event::Ticked { .. });
        let message = match self.asked() {
            Some(_) => FromUi::Reply(Reply::Events(vec![event])),
            None => FromUi::Operator(event),
        };
        self.answered = moves_on;
        vec![Command::Send(message)]
    }

    fn submit(&mut self) -> Vec<Command> {
        let Some(Dialog::Reason { purpose, input, problem }) = &mut self.dialog else {
            return Vec::new();
        };
        let reason = input.lines().join(" ").trim().to_string();
        if reason.is_empty() && purpose.required() {
            *problem = Some("a reason is needed: it goes into the audit log".into());
            return Vec::new();
        }
        let purpose = purpose.clone();
        self.dialog = None;
        let by = self.header.operator.clone();
        let event = match purpose {
            Purpose::Skip(step) => Event::Skipped { step, reason, by },
            Purpose::SkipFailed(step) => {
                Event::Resolved { step, choice: FailureChoice::Skip, reason: Some(reason), by }
            }
            Purpose::NoGo(step) => Event::Decided { step, decision: GateDecision::NoGo, reason: Some(reason), by },
            Purpose::Rollback => Event::RollbackRequested {
                reason: if reason.is_empty() { "rollback started from the terminal UI".into() } else { reason },
                by,
            },
        };
        self.send(event)
    }

    fn ask_reason(&mut self, purpose: Purpose) {
        let mut input = TextArea::default();
        input.set_cursor_line_style(ratatui::style::Style::default());
        input.set_block(ratatui::widgets::Block::bordered());
        self.dialog = Some(Dialog::Reason { purpose, input: Box::new(input), problem: None });
    }

    fn close(&mut self) {
        if self.help.is_some() {
            self.help = None;
        } else if self.dialog.is_some() {
            self.dialog = None;
        } else if self.failure_shown() {
            self.failure_hidden = true;
        } else if self.screen == Screen::Audit {
            self.screen = self.previous.clone();
        } else {
            self.screen = Screen::Steps;
        }
    }

    fn open_gate(&mut self, step: String) {
        // Start on the first item still waiting for a person.
        self.gate_item = self
            .replica
            .gate_items(&step)
            .iter()
            .position(|(item, status)| item.check.is_none() && !status.passes())
            .unwrap_or(0);
        self.screen = Screen::Gate(step);
    }

    /// j/k: the step list, the checklist, the log or the help, whichever is in front.
    fn scroll(&mut self, delta: isize) {
        match self.context() {
            Context::Help => {
                let last = view::help_rows().saturating_sub(1);
                self.help = self.help.map(|h| h.saturating_add_signed(delta as i16).min(last));
            }
            Context::Audit => self.scroll_audit(-delta),
            Context::Gate => {
                let count = self.gate_items().len();
                self.gate_item = self.gate_item.saturating_add_signed(delta).min(count.saturating_sub(1));
            }
            _ => {
                let total = self.runbook().steps.len() + self.runbook().rollback.len();
                let flat = self.flat(self.selected).saturating_add_signed(delta);
                if total > 0 {
                    self.select(self.unflat(flat.min(total - 1)));
                }
            }
        }
    }

    fn page(&mut self, direction: i16) {
        const PAGE: i16 = 10;
        match self.context() {
            Context::Audit => self.scroll_audit(-(direction * PAGE) as isize),
            _ => {
                let last = view::detail_rows(self).saturating_sub(1);
                self.detail_scroll = self.detail_scroll.saturating_add_signed(direction * PAGE).min(last);
            }
        }
    }

    /// Lines up from the newest entry, at most to the oldest.
    fn scroll_audit(&mut self, up: isize) {
        self.audit_scroll = self.audit_scroll.saturating_add_signed(up).min(self.audit.len().saturating_sub(1));
    }

    fn flat(&self, (branch, index): Pos) -> usize {
        match branch {
            Branch::Main => index,
            Branch::Rollback => self.runbook().steps.len() + index,
        }
    }

    fn unflat(&self, flat: usize) -> Pos {
        let main = self.runbook().steps.len();
        if flat < main { (Branch::Main, flat) } else { (Branch::Rollback, flat - main) }
    }

    /// The operator picks a step: following the run stops unless it is the run's step.
    pub(super) fn select(&mut self, pos: Pos) {
        if pos != self.selected {
            self.detail_scroll = 0;
        }
        self.selected = pos;
        self.follow = self.replica.current() == Some(pos);
    }

    fn follow_run(&mut self) {
        if let Some(pos) = self.replica.current().filter(|_| self.follow)
            && pos != self.selected
        {
            self.selected = pos;
            self.detail_scroll = 0;
        }
    }

    fn alert(&mut self, text: String) {
        self.message = Some(Message { text, alert: true });
    }

    fn apply(&mut self, event: Event) {
        let decided = match &event {
            Event::Decided { step, .. } => Some(step.clone()),
            _ => None,
        };
        // Only a migrate or revert step's facts change what reads as rolled back.
        let migrations_moved = match &event {
            Event::StepFinished { step, .. } => self
                .runbook()
                .step(step)
                .is_some_and(|(_, _, s)| matches!(s.kind, StepKind::Migrate { .. } | StepKind::Revert { .. })),
            _ => false,
        };
        let effects = self.replica.handle(event);
        if effects.iter().any(|e| matches!(e, Effect::Status { status: StepStatus::Running, .. })) {
            self.running_since = self.now;
        }
        if migrations_moved {
            self.rolled_back = rolled_back(&self.replica);
        }
        // A decided gate closes its view: the run moves on (or to the rollback branch).
        if let Some(step) = decided
            && self.open_gate_id() == Some(step.as_str())
            && self.replica.current().and_then(|pos| self.step(pos)).map(|s| &s.id) != Some(&step)
        {
            self.screen = Screen::Steps;
        }
        self.follow_run();
    }

    fn show(&mut self, effect: Effect) {
        match effect {
            Effect::Refused { message } => self.alert(format!("refused: {message}")),
            Effect::RollbackStarted { reason } => {
                self.alert(format!("ROLLBACK: {reason}"));
                // Everyone's attention goes to the rollback branch.
                self.follow = true;
                if matches!(self.screen, Screen::Gate(_)) {
                    self.screen = Screen::Steps;
                }
                self.follow_run();
            }
            Effect::Finished { outcome, reason } => {
                self.dialog = None;
                if matches!(self.screen, Screen::Gate(_)) {
                    self.screen = Screen::Steps;
                }
                let text = format!(
                    "run finished: {} ({reason}), exit {}. q leaves.",
                    outcome_words(outcome),
                    outcome.exit_code()
                );
                self.message = Some(Message { text, alert: outcome != RunOutcome::Completed });
            }
            // Statuses are in the replica already; questions come as `ToUi::Ask`.
            Effect::Status { .. }
            | Effect::Execute { .. }
            | Effect::AwaitStart { .. }
            | Effect::AwaitConfirmation { .. }
            | Effect::AwaitDecision { .. }
            | Effect::AwaitFailureChoice { .. } => {}
        }
    }
}

pub(super) fn outcome_words(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Completed => "completed",
        RunOutcome::RolledBack => "rolled back",
        RunOutcome::Stopped => "stopped, needs a human",
    }
}

/// Main-branch migrate steps whose every applied migration a revert that ran after them took
/// back, with that revert's id: they read "rolled back" in the list.
fn rolled_back(engine: &Engine) -> HashMap<usize, String> {
    let runbook = engine.runbook();
    // Reverts in run order: later main steps, then the rollback branch.
    let reverts: Vec<(Pos, &str, Vec<i64>)> = [Branch::Main, Branch::Rollback]
        .into_iter()
        .flat_map(|branch| {
            engine.states(branch).iter().enumerate().filter_map(move |(index, state)| match &state.facts {
                Some(Facts::Reverted { migrations }) => Some((
                    (branch, index),
                    runbook.branch(branch)[index].id.as_str(),
                    migrations.iter().map(|m| m.version).collect(),
                )),
                _ => None,
            })
        })
        .collect();
    if reverts.is_empty() {
        return HashMap::new();
    }
    engine
        .states(Branch::Main)
        .iter()
        .enumerate()
        .filter_map(|(index, state)| {
            let Some(Facts::Applied { migrations }) = &state.facts else {
                return None;
            };
            // The revert of each migration; None as soon as one was not reverted.
            let reverted_by: Option<Vec<&str>> = migrations
                .iter()
                .map(|m| {
                    reverts
                        .iter()
                        .find(|((branch, i), _, versions)| {
                            (*branch == Branch::Rollback || *i > index) && versions.contains(&m.version)
                        })
                        .map(|(_, id, _)| *id)
                })
                .collect();
            // An empty list applied nothing: nothing to roll back.
            let last = *reverted_by?.last()?;
            Some((index, last.to_string()))
        })
        .collect()
}

fn audit_row(line: &str) -> AuditRow {
    let Ok(serde_json::Value::Object(entry)) = serde_json::from_str::<serde_json::Value>(line) else {
        return AuditRow { seq: "?".into(), time: String::new(), kind: "unreadable".into(), fields: line.to_string() };
    };
    let text = |key: &str| match entry.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    // ts is RFC 3339 UTC: the time of day is what a glance needs.
    let ts = text("ts");
    let time = ts.get(11..19).unwrap_or(&ts).to_string();
    let fields = TELLING_FIELDS
        .iter()
        .filter_map(|&key| {
            let value = entry.get(key)?;
            let shown = match (key, value) {
                ("by", serde_json::Value::Object(by)) => {
                    let name = by.get("name").and_then(|v| v.as_str()).unwrap_or_default();
                    match by.get("role").and_then(|v| v.as_str()) {
                        Some(role) => format!("{name} ({role})"),
                        None => name.to_string(),
                    }
                }
                ("result", serde_json::Value::Object(result)) => match result.get("Err") {
                    Some(error) => {
                        format!("error {}", error.as_str().map_or_else(|| error.to_string(), str::to_string))
                    }
                    None => "ok".into(),
                },
                (_, serde_json::Value::String(s)) if s.is_empty() => return None,
                (_, serde_json::Value::String(s)) => s.clone(),
                (_, serde_json::Value::Null) => return None,
                (_, other) => other.to_string(),
            };
            Some(format!("{key}={shown}"))
        })
        .collect::<Vec<_>>()
        .join("  ");
    AuditRow { seq: text("seq"), time, kind: text("kind"), fields }
}
