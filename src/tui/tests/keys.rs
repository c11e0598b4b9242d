//! Keys → commands, per context.

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use super::*;
use crate::engine::{FailureChoice, GateDecision, StepStatus};
use crate::tui::keymap::{self, Action, BINDINGS, Context};

fn reply(event: Event) -> Vec<Command> {
    vec![Command::Send(FromUi::Reply(Reply::Events(vec![event])))]
}

fn operator(event: Event) -> Vec<Command> {
    vec![Command::Send(FromUi::Operator(event))]
}

fn message(sim: &Sim) -> String {
    sim.app.message.as_ref().map(|m| m.text.clone()).unwrap_or_default()
}

#[test]
fn enter_runs_the_step_the_run_waits_to_start_in_the_operators_name() {
    let mut sim = Sim::started();
    assert_eq!(sim.press(Key::Enter), reply(Event::RunRequested { step: "count-before".into(), by: alice() }));
    // Answered: a second Enter before the run asks again sends nothing.
    assert_eq!(sim.press(Key::Enter), vec![]);
}

#[test]
fn enter_on_another_step_says_where_the_run_waits() {
    let mut sim = Sim::started();
    sim.keys(&[Key::Char('j'), Key::Char('j')]);
    assert_eq!(sim.press(Key::Enter), vec![]);
    assert_eq!(message(&sim), "the run waits to start `count-before` (select it, Enter)");
}

#[test]
fn enter_confirms_a_manual_step() {
    let mut sim = Sim::past_gate();
    sim.run("rows-kept", value("120"), 30);
    assert_eq!(sim.press(Key::Enter), reply(Event::Confirmed { step: "smoke".into(), by: alice() }));
}

#[test]
fn the_gate_opens_when_evaluated_and_space_ticks_then_unticks_the_selected_item() {
    let mut sim = Sim::at_gate("0");
    assert_eq!(sim.app.context(), Context::Gate);
    // The view starts on the first item waiting for a person.
    let tick = |ticked| Event::Ticked { step: "go-no-go".into(), item: "backup-verified".into(), ticked, by: alice() };
    let commands = sim.press(Key::Char(' '));
    assert_eq!(commands, reply(tick(true)));
    sim.deliver(commands);
    assert_eq!(sim.key(Key::Char(' ')), vec![]);
    assert_eq!(sim.engine.gate_items("go-no-go")[2].1, crate::engine::ItemStatus::Unticked, "ticked, then unticked");
    // An automated item is not ticked by hand.
    sim.keys(&[Key::Char('k'), Key::Char('k')]);
    assert_eq!(sim.press(Key::Char(' ')), vec![]);
    assert_eq!(message(&sim), "this item is checked by its query, not ticked by hand");
}

#[test]
fn go_with_a_failing_required_item_is_refused_and_says_which() {
    let mut sim = Sim::at_gate("3");
    let commands = sim.press(Key::Char('y'));
    assert_eq!(
        commands,
        reply(Event::Decided { step: "go-no-go".into(), decision: GateDecision::Go, reason: None, by: alice() })
    );
    sim.deliver(commands);
    assert_eq!(message(&sim), "refused: Go refused: required items not passing: no-locks, backup-verified, rehearsed");
    assert_eq!(sim.app.context(), Context::Gate, "still deciding");
}

#[test]
fn go_when_every_required_item_passes_closes_the_gate_and_moves_on() {
    let mut sim = Sim::at_gate("0");
    sim.keys(&[Key::Char(' '), Key::Char('j'), Key::Char(' '), Key::Char('y')]);
    assert_eq!(sim.app.context(), Context::Steps);
    assert_eq!(sim.app.selected_step().unwrap().id, "expand", "the selection follows the run");
}

#[test]
fn no_go_asks_a_reason_and_leads_to_the_rollback_branch() {
    let mut sim = Sim::at_gate("0");
    assert_eq!(sim.press(Key::Char('n')), vec![]);
    assert_eq!(sim.app.context(), Context::Input);
    // No reason, no No-Go.
    assert_eq!(sim.press(Key::Enter), vec![]);
    assert_eq!(sim.app.context(), Context::Input);
    sim.type_text("P2 incident open");
    assert_eq!(
        sim.press(Key::Enter),
        reply(Event::Decided {
            step: "go-no-go".into(),
            decision: GateDecision::NoGo,
            reason: Some("P2 incident open".into()),
            by: alice(),
        })
    );
    let mut sim = Sim::at_gate("0");
    sim.key(Key::Char('n'));
    sim.type_text("P2 incident open");
    sim.key(Key::Enter);
    assert_eq!(sim.app.context(), Context::Steps);
    assert_eq!(sim.app.replica.current(), Some((Branch::Rollback, 0)));
    assert_eq!(sim.app.selected, (Branch::Rollback, 0));
}

#[test]
fn skip_of_the_waiting_step_is_its_answer() {
    let mut sim = Sim::started();
    sim.key(Key::Char('s'));
    assert_eq!(sim.app.context(), Context::Input);
    sim.type_text("counted yesterday");
    assert_eq!(
        sim.press(Key::Enter),
        reply(Event::Skipped { step: "count-before".into(), reason: "counted yesterday".into(), by: alice() })
    );
}

#[test]
fn the_reason_is_edited_with_keys_outside_the_table() {
    let mut sim = Sim::started();
    sim.key(Key::Char('s'));
    sim.type_text("countedd");
    sim.app.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
    sim.type_text(" yesterday, see CHG-2290 q?");
    let Some(Command::Send(FromUi::Reply(Reply::Events(events)))) = sim.press(Key::Enter).pop() else {
        panic!("no reply");
    };
    assert!(
        matches!(&events[..], [Event::Skipped { reason, .. }] if reason == "counted yesterday, see CHG-2290 q?"),
        "{events:?}"
    );
}

#[test]
fn skip_of_a_step_ahead_while_one_runs_is_the_operators_own_event() {
    let mut sim = Sim::started();
    sim.key(Key::Enter);
    sim.keys(&[Key::Char('j'), Key::Char('j'), Key::Char('s')]);
    sim.type_text("no backup tool here");
    let commands = sim.press(Key::Enter);
    assert_eq!(
        commands,
        operator(Event::Skipped { step: "backup".into(), reason: "no backup tool here".into(), by: alice() })
    );
    sim.deliver(commands);
    assert_eq!(sim.engine.states(Branch::Main)[2].status, StepStatus::Skipped);
}

#[test]
fn a_gate_and_a_done_step_are_not_skipped() {
    let mut sim = Sim::started();
    sim.run("count-before", snapshot_facts(), 10);
    sim.keys(&[Key::Char('j'), Key::Char('j'), Key::Char('s')]);
    assert_eq!(sim.app.context(), Context::Steps);
    assert_eq!(message(&sim), "a gate is decided with Go or No-Go, not skipped");
    sim.keys(&[Key::Char('k'), Key::Char('k'), Key::Char('k'), Key::Char('s')]);
    assert!(message(&sim).starts_with("step `count-before` cannot be skipped now"), "{}", message(&sim));
}

#[test]
fn rollback_asks_to_confirm_and_esc_cancels() {
    let mut sim = Sim::started();
    sim.key(Key::Char('R'));
    assert_eq!(sim.app.context(), Context::Input);
    assert_eq!(sim.press(Key::Esc), vec![]);
    assert_eq!(sim.app.context(), Context::Steps);
    sim.key(Key::Char('R'));
    assert_eq!(
        sim.press(Key::Enter),
        reply(Event::RollbackRequested { reason: "rollback started from the terminal UI".into(), by: alice() })
    );
}

#[test]
fn rollback_while_a_step_runs_waits_for_it() {
    let mut sim = Sim::started();
    sim.key(Key::Enter);
    sim.key(Key::Char('R'));
    sim.type_text("wrong database");
    let commands = sim.press(Key::Enter);
    assert_eq!(commands, operator(Event::RollbackRequested { reason: "wrong database".into(), by: alice() }));
    sim.deliver(commands);
    assert_eq!(message(&sim), "refused: the rollback starts when step `count-before` has finished");
    sim.finish("count-before", Ok(snapshot_facts()), 10);
    assert_eq!(sim.app.selected, (Branch::Rollback, 0));
    assert_eq!(message(&sim), "ROLLBACK: wrong database");
}

#[test]
fn quit_while_a_step_runs_asks_then_cancels() {
    let mut sim = Sim::started();
    sim.key(Key::Enter);
    assert_eq!(sim.press(Key::Char('q')), vec![]);
    assert_eq!(sim.app.context(), Context::Confirm);
    assert_eq!(sim.press(Key::Char('n')), vec![]);
    assert_eq!(sim.app.context(), Context::Steps);
    sim.press(Key::Char('q'));
    assert_eq!(sim.press(Key::Char('y')), vec![Command::Cancel]);
}

#[test]
fn quit_while_nothing_runs_leaves_at_once() {
    let mut sim = Sim::started();
    assert_eq!(sim.press(Key::Char('q')), vec![Command::Quit]);
}

#[test]
fn the_failure_dialog_answers_with_the_choices_given() {
    let mut sim = Sim::failed();
    assert_eq!(sim.app.context(), Context::Failure);
    let resolved = |choice, reason: Option<&str>| Event::Resolved {
        step: "rows-kept".into(),
        choice,
        reason: reason.map(str::to_string),
        by: alice(),
    };
    assert_eq!(sim.press(Key::Char('r')), reply(resolved(FailureChoice::Retry, None)));
    let mut sim = Sim::failed();
    assert_eq!(sim.press(Key::Char('a')), reply(resolved(FailureChoice::Abort, None)));
    let mut sim = Sim::failed();
    assert_eq!(sim.press(Key::Char('R')), reply(resolved(FailureChoice::Rollback, None)));
    let mut sim = Sim::failed();
    sim.key(Key::Char('s'));
    sim.type_text("count checked by hand");
    assert_eq!(sim.press(Key::Enter), reply(resolved(FailureChoice::Skip, Some("count checked by hand"))));
}

#[test]
fn a_failed_rollback_step_offers_no_rollback() {
    let mut sim = Sim::rolling_back();
    sim.finish("column-gone", Ok(value("1")), 20);
    assert_eq!(sim.app.context(), Context::Failure);
    assert_eq!(sim.press(Key::Char('R')), vec![]);
    assert_eq!(message(&sim), "`rollback` is not offered for this failure");
    let screen = sim.render(100, 30);
    assert!(screen.contains("retry the failed step"), "{screen}");
    assert!(!screen.contains("start the rollback branch after the failure"), "{screen}");
}

#[test]
fn esc_hides_the_failure_dialog_and_enter_brings_it_back() {
    let mut sim = Sim::failed();
    sim.key(Key::Esc);
    assert_eq!(sim.app.context(), Context::Steps);
    sim.key(Key::Char('k'));
    sim.key(Key::Enter);
    assert_eq!(sim.app.context(), Context::Failure);
}

#[test]
fn pause_needs_a_running_backfill() {
    let mut sim = Sim::started();
    assert_eq!(sim.press(Key::Char('p')), vec![]);
    assert_eq!(message(&sim), "no backfill is running: p pauses and resumes a running backfill");
}

#[test]
fn p_pauses_a_running_backfill_and_resumes_it() {
    let mut sim = Sim::backfilling();
    sim.app.update(progress(Throttle::Running));
    assert_eq!(sim.press(Key::Char('p')), vec![Command::Send(FromUi::TogglePause)]);
    assert_eq!(message(&sim), "pausing the backfill after the batch in flight");
    sim.app.update(progress(Throttle::Held));
    assert_eq!(sim.press(Key::Char('p')), vec![Command::Send(FromUi::TogglePause)]);
    assert_eq!(message(&sim), "resuming the backfill");
}

#[test]
fn the_selection_follows_the_run_until_the_operator_looks_elsewhere() {
    let mut sim = Sim::started();
    sim.run("count-before", snapshot_facts(), 10);
    assert_eq!(sim.app.selected, (Branch::Main, 1), "moved to the next step");
    // While no-dupes runs the operator reads ahead: the selection stays there.
    sim.key(Key::Enter);
    sim.keys(&[Key::Char('j'), Key::Char('j')]);
    sim.finish("no-dupes", Ok(value("0")), 10);
    assert_eq!(sim.app.selected, (Branch::Main, 3), "stayed where the operator looked");
    // Back on the run's step: following again.
    sim.key(Key::Char('k'));
    sim.run("backup", command_facts(), 10);
    assert_eq!(sim.app.selected, (Branch::Main, 3));
    assert_eq!(sim.app.context(), Context::Steps);
    sim.key(Key::Enter);
    sim.finish("go-no-go", Ok(checklist("0")), 10);
    assert_eq!(sim.app.context(), Context::Gate, "the evaluated gate opened by itself");
}

#[test]
fn a_click_selects_a_step_and_sends_nothing() {
    let mut sim = Sim::started();
    let area = Rect::new(0, 0, 100, 30);
    let screen = sim.render(100, 30);
    let row = screen.lines().position(|l| l.contains("Back up the database")).unwrap() as u16;
    let click =
        MouseEvent { kind: MouseEventKind::Down(MouseButton::Left), column: 5, row, modifiers: KeyModifiers::NONE };
    assert_eq!(sim.app.mouse(click, area), vec![]);
    assert_eq!(sim.app.selected_step().unwrap().id, "backup");
    // The rollback block too.
    let row = screen.lines().position(|l| l.contains("Revert the expand")).unwrap() as u16;
    sim.app.mouse(MouseEvent { row, ..click }, area);
    assert_eq!(sim.app.selected, (Branch::Rollback, 0));
}

/// A state of each context, where as many of its keys as possible apply.
fn states() -> Vec<(&'static str, Sim)> {
    // Moving and scrolling first: they need room both ways. A long command output, read
    // while the next step waits.
    let mut long = Sim::started();
    long.run("count-before", snapshot_facts(), 10);
    long.run("no-dupes", value("0"), 10);
    long.key(Key::Enter);
    let output = (1..=40).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n");
    long.finish("backup", Ok(Facts::Command { exit_code: 0, output }), 10);
    long.keys(&[Key::Char('k'), Key::PageDown]);
    let mut middle = Sim::started();
    middle.keys(&[Key::Char('j'), Key::Char('j')]);
    let mut states = vec![("long output", long), ("a step ahead", middle), ("start", Sim::started())];
    let mut gate = Sim::started();
    gate.keys(&[Key::Char('j'), Key::Char('j'), Key::Char('j')]);
    states.push(("a gate selected", gate));
    let mut manual = Sim::past_gate();
    manual.run("rows-kept", value("120"), 30);
    states.push(("manual step", manual));
    states.push(("gate deciding", Sim::at_gate("0")));
    states.push(("failure", Sim::failed()));
    let mut hidden = Sim::failed();
    hidden.key(Key::Esc);
    states.push(("failure hidden", hidden));
    let mut confirm = Sim::started();
    confirm.keys(&[Key::Enter, Key::Char('q')]);
    states.push(("confirm", confirm));
    let mut input = Sim::started();
    input.key(Key::Char('s'));
    states.push(("input", input));
    let mut audit = Sim::started();
    audit.journal(80);
    audit.keys(&[Key::Char('l'), Key::Char('k'), Key::Char('k')]);
    states.push(("audit scrolled", audit));
    let mut help = Sim::started();
    help.keys(&[Key::Char('?'), Key::Char('j')]);
    states.push(("help scrolled", help));
    states.push(("plan", Sim::rollback_plan()));
    states
}

const HEIGHT: u16 = 24;

/// Every binding of the table does something where it applies (a command, or a change on
/// screen), shows in the status line then, and is listed in the help.
#[test]
fn every_key_in_the_table_is_handled_and_listed() {
    let mut help = Sim::started();
    help.key(Key::Char('?'));
    let help = help.render(160, 60);
    for binding in BINDINGS {
        assert!(help.contains(binding.help), "help lacks `{}`:\n{help}", binding.help);
        assert!(help.contains(&binding.label()), "help lacks `{}`", binding.label());
        for &context in binding.contexts {
            for &key in binding.keys {
                let found = states().into_iter().find(|(_, sim)| {
                    sim.app.context() == context
                        && keymap::lookup(context, key).find(|b| sim.app.applies(b.action).is_ok()).map(|b| b.action)
                            == Some(binding.action)
                });
                let Some((name, mut sim)) = found else {
                    // Only `p` never applies yet (no backfill): it says so.
                    assert_eq!(
                        binding.action,
                        Action::Pause,
                        "no state where {:?} applies in {context:?}",
                        binding.action
                    );
                    continue;
                };
                let before = sim.render(100, HEIGHT);
                // The help popup covers the status line.
                if let Some(hint) = binding.hint.filter(|_| context != Context::Help) {
                    let status_line = before.lines().nth(HEIGHT as usize - 1).unwrap_or_default();
                    let status_line = status_line.split_whitespace().collect::<Vec<_>>().join(" ");
                    let shown = format!("{} {hint}", binding.label());
                    assert!(
                        status_line.contains(&shown),
                        "{:?} ({name}): status line lacks `{shown}`: {status_line}",
                        binding.action
                    );
                }
                let commands = sim.press(key);
                let after = sim.render(100, HEIGHT);
                assert!(
                    !commands.is_empty() || before != after,
                    "{key:?} for {:?} in {context:?} ({name}) did nothing",
                    binding.action
                );
            }
        }
    }
}
