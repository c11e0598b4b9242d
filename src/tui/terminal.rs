//! The UI task: owns the terminal, reads keys and mouse on a thread of its own, applies what
//! the run reports, and redraws at most every ~16 ms. It never waits on the database, a
//! command or the disk: those run on the run's task.

use std::io::stdout;
use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers,
};
use ratatui::crossterm::execute;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::MissedTickBehavior;

use super::app::{App, Command};
use super::bridge::{FromUi, UiEnd};
use crate::exec::Reply;

/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(16);
/// How often the clock in the header (time left in the window) moves.
const TICK: Duration = Duration::from_secs(1);

/// How the operator left the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// The run had ended, or was told to stop at its pending question.
    Quit,
    /// Quit confirmed while a step was running: the run is cancelled like Ctrl-C.
    Cancel,
    /// The terminal went away (SSH dropped, SIGHUP): the run finishes the action in flight
    /// and stops at its next question, with everything in the audit log.
    HungUp,
}

/// Puts the terminal back as it was: raw mode off, main screen, cursor shown, mouse released.
/// Also installed in the panic hook, so a panic never leaves a broken terminal.
pub fn restore() {
    let _ = execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
}

fn setup() -> std::io::Result<DefaultTerminal> {
    // ratatui::init enters raw mode and the alternate screen and installs a panic hook that
    // restores them; ours also releases the mouse first.
    let terminal = ratatui::init();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    execute!(stdout(), EnableMouseCapture)?;
    Ok(terminal)
}

/// Runs the UI until the operator leaves; the run keeps its own task.
pub async fn run_ui(mut app: App, mut ui: UiEnd) -> std::io::Result<Leave> {
    let mut terminal = setup()?;
    let result = event_loop(&mut terminal, &mut app, &mut ui).await;
    restore();
    result
}

async fn event_loop(terminal: &mut DefaultTerminal, app: &mut App, ui: &mut UiEnd) -> std::io::Result<Leave> {
    let mut input = terminal_events();
    let mut hangup = signal(SignalKind::hangup())?;
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(TICK);
    let mut dirty = true;
    let mut run_open = true;
    loop {
        tokio::select! {
            message = ui.from_run.recv(), if run_open => match message {
                Some(message) => { app.update(message); dirty = true; }
                // The run's task ended (sealed or stopped): the UI stays until the operator leaves.
                None => { run_open = false; dirty = true; }
            },
            Some(event) = input.recv() => {
                let commands = match event {
                    TermEvent::Key(key) if key.kind == KeyEventKind::Press => {
                        // Raw mode turns Ctrl-C into a key: treat it as q.
                        let key = if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
                            event::KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)
                        } else {
                            key
                        };
                        app.key(key)
                    }
                    TermEvent::Mouse(mouse) => {
                        let size = terminal.size()?;
                        app.mouse(mouse, ratatui::layout::Rect::new(0, 0, size.width, size.height))
                    }
                    TermEvent::Resize(..) => Vec::new(),
                    _ => continue,
                };
                dirty = true;
                for command in commands {
                    match command {
                        Command::Send(message) => { let _ = ui.to_run.send(message); }
                        Command::Quit => {
                            // A pending question ends the run as "needs a human"; a run that
                            // ended already just closes.
                            if app.asked().is_some() {
                                let stop = Reply::Stop("the operator quit the terminal UI".into());
                                let _ = ui.to_run.send(FromUi::Reply(stop));
                            }
                            return Ok(Leave::Quit);
                        }
                        Command::Cancel => return Ok(Leave::Cancel),
                    }
                }
            }
            _ = hangup.recv() => return Ok(Leave::HungUp),
            _ = tick.tick() => { app.tick(chrono::Utc::now()); dirty = true; }
            _ = frame.tick(), if dirty => {
                terminal.draw(|f| app.draw(f))?;
                dirty = false;
            }
        }
    }
}

/// Terminal input read on a thread of its own (crossterm's read blocks) and handed over.
fn terminal_events() -> UnboundedReceiver<TermEvent> {
    let (tx, rx) = unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    rx
}
