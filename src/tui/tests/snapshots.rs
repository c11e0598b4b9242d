//! Snapshots of every view, drawn on a `TestBackend` at a fixed time, without colour.

use insta::assert_snapshot;
use ratatui::style::{Color, Modifier};

use super::*;
use crate::model::rehearsal::Lookup;

const W: u16 = 120;
const H: u16 = 40;

/// Every status but waiting at once: a skipped pre-check, a failed post-check that took the
/// rollback branch, a migrate step rolled back by the done revert, a running rollback step.
fn every_status() -> Sim {
    let mut sim = Sim::started();
    sim.run("count-before", snapshot_facts(), 85);
    sim.key(Key::Char('s'));
    sim.type_text("checked by the DBA this morning");
    sim.key(Key::Enter);
    sim.run("backup", command_facts(), 4200);
    sim.run("go-no-go", checklist("0"), 300);
    sim.keys(&[Key::Char(' '), Key::Char('j'), Key::Char(' '), Key::Char('y')]);
    sim.run("expand", applied(), 1872);
    sim.run("rows-kept", value("100"), 40);
    sim.key(Key::Char('R'));
    sim.run("revert", reverted(), 60);
    sim.key(Key::Enter);
    sim
}

fn select(sim: &mut Sim, branch: Branch, index: usize) {
    sim.app.select((branch, index));
}

#[test]
fn step_list_at_the_start_waits_for_enter() {
    assert_snapshot!(Sim::started().render(W, H));
}

#[test]
fn step_list_with_every_status() {
    assert_snapshot!(every_status().render(W, H));
}

#[test]
fn detail_of_a_snapshot() {
    let mut sim = every_status();
    select(&mut sim, Branch::Main, 0);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_check_passed() {
    let mut sim = Sim::past_gate();
    select(&mut sim, Branch::Main, 1);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_check_failed() {
    let mut sim = Sim::failed();
    sim.key(Key::Esc);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_command_with_output() {
    let mut sim = Sim::past_gate();
    select(&mut sim, Branch::Main, 2);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_gate() {
    let mut sim = Sim::past_gate();
    select(&mut sim, Branch::Main, 3);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_migrate_step_with_its_migrations() {
    let mut sim = Sim::past_gate();
    select(&mut sim, Branch::Main, 4);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_migrate_step_rolled_back() {
    let mut sim = every_status();
    select(&mut sim, Branch::Main, 4);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_revert() {
    let mut sim = every_status();
    select(&mut sim, Branch::Rollback, 0);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_running_backfill_with_its_gauge() {
    let mut sim = Sim::backfilling();
    sim.app.update(progress(Throttle::Running));
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_backfill_paused_by_its_query() {
    let mut sim = Sim::backfilling();
    sim.app.update(progress(Throttle::Paused { reason: "pause_when holds (SELECT lag_seconds > 10 …)".into() }));
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_finished_backfill_with_its_metrics() {
    let mut sim = Sim::backfilling();
    let metrics = BackfillMetrics {
        rows_visited: 640_000,
        rows_updated: 598_000,
        batches: 131,
        retries: 2,
        errors: 2,
        duration_ms: 19_400,
        total_rows_visited: 1_000_000,
        total_rows_updated: 899_250,
        resumed_after: Some("360000".into()),
    };
    sim.finish("fill", Ok(Facts::Backfill { metrics }), 19_400);
    select(&mut sim, Branch::Main, 0);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn detail_of_a_manual_step_with_its_references_filled() {
    let mut sim = Sim::past_gate();
    sim.run("rows-kept", value("120"), 30);
    let screen = sim.render(W, H);
    assert!(screen.contains("#support.") && !screen.contains("${channel}"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn gate_with_ticked_and_unticked_items_and_a_failing_query() {
    let mut sim = Sim::at_gate("3");
    sim.key(Key::Char(' '));
    sim.key(Key::Char('y'));
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn failure_dialog() {
    assert_snapshot!(Sim::failed().render(W, H));
}

#[test]
fn rehearsed_times_per_step_and_to_go() {
    let sim = Sim::past_gate().rehearsed(4200);
    let screen = sim.render(W, H);
    // rows-kept 40 ms, then the smoke test's 15m target: a person's time is not rehearsed.
    assert!(screen.contains("to go (rehearsed) 15m 00s"), "{screen}");
    assert_snapshot!(screen);
}

#[test]
fn rehearsed_time_past_the_window_is_an_alert() {
    let sim = Sim::started().rehearsed(2 * 3600 * 1000);
    let screen = sim.render(W, H);
    assert!(screen.contains("to go (rehearsed) 2h 15m — past the window"), "{screen}");
    let fits = Sim::started().rehearsed(4200).render(W, H);
    assert!(fits.contains("to go (rehearsed) 15m 06s  ") && !fits.contains("past the window"), "{fits}");
}

#[test]
fn a_rehearsal_of_another_version_is_ignored_with_a_note() {
    let runbook = runbook();
    let header = header(&runbook);
    let mut sim = Sim::with(Arc::clone(&runbook), header, None);
    sim.app = sim.app.with_rehearsal(Lookup::Ignored("x.rehearsal.json is for another version".into()));
    sim.start(Branch::Main);
    let screen = sim.render(W, H);
    assert!(screen.contains("x.rehearsal.json is for another version"), "{screen}");
    assert!(!screen.contains("rehearsed"), "{screen}");
}

#[test]
fn help_popup() {
    let mut sim = Sim::started();
    sim.key(Key::Char('?'));
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn rollback_plan_before_the_rollback_branch() {
    assert_snapshot!(Sim::rollback_plan().render(W, H));
}

#[test]
fn rollback_plan_continues_to_the_rollback_steps() {
    let mut sim = Sim::rollback_plan();
    sim.key(Key::Enter);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn narrow_terminal_80_by_24() {
    let mut sim = Sim::past_gate();
    sim.key(Key::Enter);
    assert_snapshot!(sim.render(80, 24));
}

#[test]
fn narrow_terminal_80_by_24_gate() {
    let mut sim = Sim::at_gate("3");
    sim.key(Key::Char(' '));
    assert_snapshot!(sim.render(80, 24));
}

#[test]
fn skip_reason_input() {
    let mut sim = Sim::started();
    sim.key(Key::Char('s'));
    sim.type_text("counted yesterday");
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn rollback_confirmation() {
    let mut sim = Sim::past_gate();
    sim.key(Key::Char('R'));
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn quit_while_a_step_runs_asks() {
    let mut sim = Sim::started();
    sim.keys(&[Key::Enter, Key::Char('q')]);
    assert_snapshot!(sim.render(W, H));
}

#[test]
fn audit_pane_newest_at_the_bottom() {
    let mut sim = Sim::started();
    let lines = [
        (
            "run.started",
            serde_json::json!({ "branch": "main", "pace": "operator", "runbook": "tui-fixture", "operator": "alice", "role": "ops", "database": "db.example:5432/orders" }),
        ),
        ("step.run", serde_json::json!({ "step": "count-before", "by": { "name": "alice", "role": "ops" } })),
        (
            "step.started",
            serde_json::json!({ "step": "count-before", "branch": "main", "attempt": 1, "step_kind": "snapshot" }),
        ),
        (
            "step.finished",
            serde_json::json!({ "step": "count-before", "result": { "Ok": { "type": "snapshot", "values": { "orders": "120" } } }, "duration_ms": 85 }),
        ),
        ("step.status", serde_json::json!({ "step": "count-before", "status": "done", "detail": "orders = 120" })),
        (
            "step.finished",
            serde_json::json!({ "step": "no-dupes", "result": { "Err": "no such table: orders" }, "duration_ms": 3 }),
        ),
        ("refused", serde_json::json!({ "message": "Go refused: required items not passing: no-locks" })),
        (
            "gate.ticked",
            serde_json::json!({ "step": "go-no-go", "item": "backup-verified", "ticked": true, "by": { "name": "bob", "role": "change-manager" } }),
        ),
        ("checkpoint", serde_json::json!({ "sig": "AAAA" })),
    ];
    for (seq, (kind, fields)) in lines.into_iter().enumerate() {
        sim.app.journaled(journal_line(seq as u64 + 1, kind, fields));
    }
    sim.app.journaled("not json".into());
    sim.key(Key::Char('l'));
    assert_snapshot!(sim.render(W, 20));
}

#[test]
fn production_banner_reads_without_colour() {
    let runbook = runbook();
    let mut header = header(&runbook);
    header.production = true;
    header.database = "prod-db.internal:5432/orders".into();
    let mut sim = Sim::with(runbook, header, None);
    sim.start(Branch::Main);
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    terminal.draw(|frame| sim.app.draw(frame)).unwrap();
    let buffer = terminal.backend().buffer();
    // Row 2 is the banner: reversed and bold across the whole width.
    for x in 0..W {
        let cell = &buffer[(x, 2)];
        assert!(cell.modifier.contains(Modifier::REVERSED | Modifier::BOLD), "column {x}");
    }
    assert_snapshot!(terminal.backend().to_string());
}

/// Without colour (NO_COLOR) no cell of any screen has a colour: marks and modifiers only.
#[test]
fn no_colour_at_all_when_colour_is_off() {
    let screens = [Sim::started(), every_status(), Sim::at_gate("3"), Sim::failed(), Sim::rollback_plan()];
    for sim in screens {
        let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
        terminal.draw(|frame| sim.app.draw(frame)).unwrap();
        for cell in terminal.backend().buffer().content() {
            assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
        }
    }
}

#[test]
fn colour_repeats_what_the_marks_say() {
    let runbook = runbook();
    let mut header = header(&runbook);
    header.color = true;
    let mut sim = Sim::with(runbook, header, None);
    sim.start(Branch::Main);
    sim.run("count-before", snapshot_facts(), 85);
    let mut terminal = Terminal::new(TestBackend::new(W, H)).unwrap();
    terminal.draw(|frame| sim.app.draw(frame)).unwrap();
    let screen = terminal.backend().to_string();
    let row = screen.lines().position(|l| l.contains("[x]")).unwrap() as u16;
    let column = screen.lines().nth(row as usize).unwrap().find("[x]").unwrap() as u16;
    // The line is quoted in the text form: one column of offset.
    assert_eq!(terminal.backend().buffer()[(column - 1, row)].fg, Color::Green);
}

/// A 1,000-step runbook: only the rows on screen are drawn, around the selection.
#[test]
fn a_long_runbook_scrolls_to_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let steps: String = (1..=1000)
        .map(|i| {
            format!("  - id: s{i}\n    title: Check number {i}\n    check: {{ sql: SELECT 0, expect: \"= 0\" }}\n")
        })
        .collect();
    write(dir.path(), "long.yaml", &format!("name: long\ntitle: Long\nsteps:\n{steps}"));
    let runbook = Arc::new(load_runbook(&dir.path().join("long.yaml"), &[]).unwrap());
    let header = header(&runbook);
    let mut sim = Sim::with(runbook, header, None);
    sim.start(Branch::Main);
    select(&mut sim, Branch::Main, 499);
    let screen = sim.render(W, H);
    assert!(screen.contains("›[ ]  500 Check number 500"), "{screen}");
    assert!(!screen.contains(" 1 Check number 1 "), "{screen}");
    assert!(screen.contains("Steps · 0/1000 done"), "{screen}");
}
