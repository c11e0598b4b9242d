//! The TUI as a face of the run: the exec task talks to the UI task through two channels, so
//! the UI never blocks on the database, a command or the disk.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::backfill::{Hold, Progress};
use crate::engine::{Effect, Engine, Event};
use crate::exec::{Face, Reply};

/// What the run tells the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum ToUi {
    /// An event the run's engine handles: the UI feeds its replica of the engine the same.
    Event(Event),
    /// A status, the rollback, a refusal, the end.
    Effect(Effect),
    /// Progress that is not a status, e.g. a migration applied.
    Note(String),
    /// An audit log line, as written.
    Journal(String),
    /// A question for the operator: answer with `FromUi::Reply`. `refused` is the engine's
    /// refusal of the previous answer.
    Ask { waiting: Effect, refused: Option<String> },
    /// A running backfill's progress.
    Progress(Progress),
}

/// What the UI tells the run.
#[derive(Debug, Clone, PartialEq)]
pub enum FromUi {
    /// The answer to the last `ToUi::Ask`.
    Reply(Reply),
    /// Something the operator started on their own: the rollback branch, a skip ahead.
    Operator(Event),
    /// `p`: pause the running backfill, or resume it.
    TogglePause,
}

/// The exec side of the bridge.
pub struct TuiFace {
    to_ui: UnboundedSender<ToUi>,
    from_ui: UnboundedReceiver<FromUi>,
    /// A stop that arrived between two questions.
    stop: Option<Reply>,
    /// Operator events that arrived while a backfill ran, for `queued`.
    held: Vec<Event>,
    /// The operator paused the running backfill.
    paused: bool,
}

/// The UI side of the bridge.
pub struct UiEnd {
    pub from_run: UnboundedReceiver<ToUi>,
    pub to_run: UnboundedSender<FromUi>,
}

pub fn bridge() -> (TuiFace, UiEnd) {
    let (to_ui, from_run) = unbounded_channel();
    let (to_run, from_ui) = unbounded_channel();
    (TuiFace { to_ui, from_ui, stop: None, held: Vec::new(), paused: false }, UiEnd { from_run, to_run })
}

impl TuiFace {
    /// Where the journal's observer sends each line it writes, for the audit pane.
    pub fn journal_tap(&self) -> impl FnMut(&str) + Send + 'static {
        let to_ui = self.to_ui.clone();
        move |line: &str| {
            let _ = to_ui.send(ToUi::Journal(line.to_string()));
        }
    }

    /// A closed UI (the operator quit) is not the run's failure: sends are best effort.
    fn send(&self, message: ToUi) {
        let _ = self.to_ui.send(message);
    }
}

impl Face for TuiFace {
    fn event(&mut self, event: &Event) {
        self.send(ToUi::Event(event.clone()));
    }

    fn queued(&mut self) -> Vec<Event> {
        // Keys arrive whenever the operator presses them: a reply that reaches the run between
        // two questions (a second tick typed fast) is as good as one inside a question.
        let mut events = std::mem::take(&mut self.held);
        self.paused = false;
        while let Ok(message) = self.from_ui.try_recv() {
            match message {
                FromUi::Operator(event) => events.push(event),
                // No backfill runs between two actions.
                FromUi::TogglePause => {}
                FromUi::Reply(Reply::Events(answer)) => events.extend(answer),
                // "Stop" typed between two questions answers the next one.
                FromUi::Reply(stop @ Reply::Stop(_)) => {
                    self.stop = Some(stop);
                    break;
                }
            }
        }
        events
    }

    fn show(&mut self, effect: &Effect, _engine: &Engine) {
        self.send(ToUi::Effect(effect.clone()));
    }

    fn note(&mut self, line: &str) {
        self.send(ToUi::Note(line.to_string()));
    }

    fn output(&mut self, line: &str) {
        self.send(ToUi::Note(line.to_string()));
    }

    fn progress(&mut self, progress: &Progress) {
        self.send(ToUi::Progress(progress.clone()));
    }

    fn hold(&mut self) -> Hold {
        while let Ok(message) = self.from_ui.try_recv() {
            match message {
                FromUi::TogglePause => self.paused = !self.paused,
                FromUi::Operator(event) => self.held.push(event),
                FromUi::Reply(Reply::Events(events)) => self.held.extend(events),
                FromUi::Reply(stop @ Reply::Stop(_)) => self.stop = Some(stop),
            }
        }
        // The incident responder's rollback, or quitting, does not wait for the last batch.
        if self.held.iter().any(|e| matches!(e, Event::RollbackRequested { .. })) {
            return Hold::Stop("the operator started the rollback branch".into());
        }
        if let Some(Reply::Stop(reason)) = &self.stop {
            return Hold::Stop(reason.clone());
        }
        if self.paused { Hold::Pause } else { Hold::Go }
    }

    async fn decide(&mut self, waiting: &Effect, _engine: &Engine, refused: Option<&str>) -> Reply {
        if let Some(stop) = self.stop.take() {
            return stop;
        }
        self.send(ToUi::Ask { waiting: waiting.clone(), refused: refused.map(str::to_string) });
        loop {
            return match self.from_ui.recv().await {
                Some(FromUi::Reply(reply)) => reply,
                // The operator started the rollback (or skipped ahead) instead of answering.
                Some(FromUi::Operator(event)) => Reply::Events(vec![event]),
                // No backfill runs while the run asks.
                Some(FromUi::TogglePause) => continue,
                None => Reply::Stop("the terminal UI was closed".into()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Actor;

    #[test]
    fn a_backfill_is_held_by_p_and_stopped_by_the_rollback() {
        let (mut face, ui) = bridge();
        assert_eq!(face.hold(), Hold::Go);
        ui.to_run.send(FromUi::TogglePause).unwrap();
        assert_eq!(face.hold(), Hold::Pause);
        assert_eq!(face.hold(), Hold::Pause, "it stays paused until p again");
        ui.to_run.send(FromUi::TogglePause).unwrap();
        assert_eq!(face.hold(), Hold::Go);
        let rollback =
            Event::RollbackRequested { reason: "replica lag".into(), by: Actor { name: "bob".into(), role: None } };
        ui.to_run.send(FromUi::Operator(rollback.clone())).unwrap();
        assert!(matches!(face.hold(), Hold::Stop(reason) if reason.contains("rollback")));
        assert_eq!(face.queued(), vec![rollback], "the rollback reaches the engine after the backfill stops");
    }
}
