//! Every key of the TUI in one table: the key handling, the help popup and the status line are
//! all read from it, so they cannot drift apart.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Where the keyboard is: the view in front, or the popup over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// `runsheet rollback`: what is applied and the last run, before the rollback branch.
    Plan,
    /// The step list and the detail of the selected step.
    Steps,
    /// A gate's checklist.
    Gate,
    /// The audit log pane.
    Audit,
    /// A step failed: the choices of its failure policy.
    Failure,
    /// A yes/no question (quit while a step runs).
    Confirm,
    /// A reason typed in (skip, No-Go, rollback); keys not in the table are typed.
    Input,
    Help,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Plan => "rollback plan",
            Context::Steps => "steps",
            Context::Gate => "gate",
            Context::Audit => "audit log",
            Context::Failure => "failure",
            Context::Confirm => "confirm",
            Context::Input => "reason",
            Context::Help => "help",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Up,
    Down,
    PageUp,
    PageDown,
}

impl Key {
    /// The key of a press; None for releases and Ctrl/Alt chords (Ctrl-C is the loop's).
    pub fn from_event(event: &KeyEvent) -> Option<Key> {
        if event.kind == KeyEventKind::Release || event.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        Some(match event.code {
            KeyCode::Char(c) => Key::Char(c),
            KeyCode::Enter => Key::Enter,
            KeyCode::Esc => Key::Esc,
            KeyCode::Up => Key::Up,
            KeyCode::Down => Key::Down,
            KeyCode::PageUp => Key::PageUp,
            KeyCode::PageDown => Key::PageDown,
            _ => return None,
        })
    }

    pub fn label(self) -> String {
        match self {
            Key::Char(' ') => "Space".into(),
            Key::Char(c) => c.to_string(),
            Key::Enter => "Enter".into(),
            Key::Esc => "Esc".into(),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::PageUp => "PgUp".into(),
            Key::PageDown => "PgDn".into(),
        }
    }
}

/// What a key does; `App` performs it, or says why it does not apply now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Down,
    Up,
    PageDown,
    PageUp,
    /// Start the selected step: it is the one the run waits to start.
    Run,
    /// Confirm the selected manual step as done.
    Confirm,
    OpenGate,
    /// Bring back the failure dialog after Esc.
    ShowFailure,
    Skip,
    Rollback,
    Pause,
    AuditLog,
    Help,
    Quit,
    /// Leave the view or popup in front.
    Close,
    Tick,
    Go,
    NoGo,
    Retry,
    SkipFailed,
    RollbackFailed,
    Abort,
    Yes,
    No,
    Submit,
    /// Leave the rollback plan for the steps.
    Continue,
}

pub struct Binding {
    pub keys: &'static [Key],
    pub contexts: &'static [Context],
    pub action: Action,
    /// For the status line; None keeps the binding out of it (moving is obvious).
    pub hint: Option<&'static str>,
    /// For the help popup.
    pub help: &'static str,
}

impl Binding {
    /// `j/↓`
    pub fn label(&self) -> String {
        self.keys.iter().map(|k| k.label()).collect::<Vec<_>>().join("/")
    }
}

use Context::{Audit, Confirm, Failure, Gate, Help, Input, Plan, Steps};

/// Where one key has several bindings in a context (Enter in the step list), the first that
/// applies wins; bindings that apply now make the status line.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Key::Char('j'), Key::Down],
        contexts: &[Steps, Gate, Audit, Help],
        action: Action::Down,
        hint: None,
        help: "move down (step, checklist item, log line)",
    },
    Binding {
        keys: &[Key::Char('k'), Key::Up],
        contexts: &[Steps, Gate, Audit, Help],
        action: Action::Up,
        hint: None,
        help: "move up",
    },
    Binding {
        keys: &[Key::PageDown],
        contexts: &[Steps, Audit],
        action: Action::PageDown,
        hint: None,
        help: "scroll the detail pane or the log down",
    },
    Binding {
        keys: &[Key::PageUp],
        contexts: &[Steps, Audit],
        action: Action::PageUp,
        hint: None,
        help: "scroll the detail pane or the log up",
    },
    Binding {
        keys: &[Key::Enter],
        contexts: &[Steps],
        action: Action::Run,
        hint: Some("run step"),
        help: "run the selected step when the run waits for it",
    },
    Binding {
        keys: &[Key::Enter],
        contexts: &[Steps],
        action: Action::Confirm,
        hint: Some("confirm done"),
        help: "confirm the selected manual step as done",
    },
    Binding {
        keys: &[Key::Enter],
        contexts: &[Steps],
        action: Action::OpenGate,
        hint: Some("open gate"),
        help: "open the selected gate's checklist",
    },
    Binding {
        keys: &[Key::Enter],
        contexts: &[Steps],
        action: Action::ShowFailure,
        hint: Some("answer failure"),
        help: "show the failed step's choices again",
    },
    Binding {
        keys: &[Key::Char('s')],
        contexts: &[Steps],
        action: Action::Skip,
        hint: Some("skip"),
        help: "skip the selected step (asks a reason)",
    },
    Binding {
        keys: &[Key::Char(' ')],
        contexts: &[Gate],
        action: Action::Tick,
        hint: Some("tick/untick"),
        help: "tick or untick the selected manual item",
    },
    Binding {
        keys: &[Key::Char('y')],
        contexts: &[Gate],
        action: Action::Go,
        hint: Some("Go"),
        help: "Go: every required item must pass",
    },
    Binding {
        keys: &[Key::Char('n')],
        contexts: &[Gate],
        action: Action::NoGo,
        hint: Some("No-Go"),
        help: "No-Go (asks a reason): leads to the rollback branch",
    },
    Binding {
        keys: &[Key::Char('r')],
        contexts: &[Failure],
        action: Action::Retry,
        hint: Some("retry"),
        help: "retry the failed step",
    },
    Binding {
        keys: &[Key::Char('s')],
        contexts: &[Failure],
        action: Action::SkipFailed,
        hint: Some("skip"),
        help: "skip the failed step (asks a reason)",
    },
    Binding {
        keys: &[Key::Char('R')],
        contexts: &[Failure],
        action: Action::RollbackFailed,
        hint: Some("roll back"),
        help: "start the rollback branch after the failure",
    },
    Binding {
        keys: &[Key::Char('a')],
        contexts: &[Failure],
        action: Action::Abort,
        hint: Some("abort"),
        help: "abort the run: it stops and needs a human",
    },
    Binding {
        keys: &[Key::Char('R')],
        contexts: &[Steps, Gate, Audit],
        action: Action::Rollback,
        hint: Some("rollback"),
        help: "start the rollback branch (asks to confirm)",
    },
    Binding {
        keys: &[Key::Char('p')],
        contexts: &[Steps],
        action: Action::Pause,
        hint: Some("pause/resume"),
        help: "pause or resume a backfill",
    },
    Binding {
        keys: &[Key::Char('y'), Key::Enter],
        contexts: &[Confirm],
        action: Action::Yes,
        hint: Some("yes"),
        help: "yes",
    },
    Binding {
        keys: &[Key::Char('n'), Key::Esc],
        contexts: &[Confirm],
        action: Action::No,
        hint: Some("no"),
        help: "no",
    },
    Binding {
        keys: &[Key::Enter],
        contexts: &[Input],
        action: Action::Submit,
        hint: Some("confirm"),
        help: "send the reason typed",
    },
    Binding {
        keys: &[Key::Enter],
        contexts: &[Plan],
        action: Action::Continue,
        hint: Some("continue"),
        help: "continue to the rollback steps",
    },
    Binding {
        keys: &[Key::Esc],
        contexts: &[Gate, Audit, Help, Failure, Input],
        action: Action::Close,
        hint: Some("close"),
        help: "close this view (the failure dialog comes back with Enter)",
    },
    Binding {
        keys: &[Key::Char('l')],
        contexts: &[Plan, Steps, Gate, Audit],
        action: Action::AuditLog,
        hint: Some("log"),
        help: "show or hide the audit log of this run",
    },
    Binding {
        keys: &[Key::Char('?')],
        contexts: &[Plan, Steps, Gate, Audit, Failure, Help],
        action: Action::Help,
        hint: Some("help"),
        help: "show or hide this help",
    },
    Binding {
        keys: &[Key::Char('q')],
        contexts: &[Plan, Steps, Gate, Audit],
        action: Action::Quit,
        hint: Some("quit"),
        help: "quit (asks when a step is running)",
    },
];

/// The bindings of `key` in `context`, in table order.
pub fn lookup(context: Context, key: Key) -> impl Iterator<Item = &'static Binding> {
    in_context(context).filter(move |b| b.keys.contains(&key))
}

pub fn in_context(context: Context) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.contexts.contains(&context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_has_one_action_per_context_unless_listed_as_alternatives() {
        // Enter in the step list is the only key with alternatives: which one applies depends
        // on the selected step. Anything else bound twice would shadow a binding.
        for binding in BINDINGS {
            for &context in binding.contexts {
                for &key in binding.keys {
                    let actions: Vec<Action> = lookup(context, key).map(|b| b.action).collect();
                    let alternatives = context == Context::Steps && key == Key::Enter;
                    assert!(actions.len() == 1 || alternatives, "{key:?} in {context:?} is bound to {actions:?}");
                }
            }
        }
    }

    #[test]
    fn ctrl_chords_and_releases_are_not_keys() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(Key::from_event(&ctrl_c), None);
        let mut release = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(Key::from_event(&release), None);
        let shift_r = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&shift_r), Some(Key::Char('R')));
    }
}
