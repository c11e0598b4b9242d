//! The detail pane of a step: what it is, where it stands, what it found, then what it does.
//! Results come before the definition, so a long command does not push its output off screen.

use ratatui::text::{Line, Span};

use super::steps::{mark, status_word};
use super::{Theme, millis, seconds};
use crate::engine::{Facts, MigrationRun, Scope, StepStatus};
use crate::model::{Operand, Ref, StepKind, Template};
use crate::tui::app::{App, Pos};

/// A command's output shown in the pane; the whole of it is in the audit log.
const OUTPUT_LINES: usize = 50;

pub(super) fn lines(app: &App, pos: Pos, theme: &Theme) -> Vec<Line<'static>> {
    let (Some(step), Some(state)) = (app.step(pos), app.state(pos)) else {
        return vec![Line::raw("This runbook has no steps.")];
    };
    let scope = app.replica.scope();
    let mut out = vec![Line::styled(step.title.clone(), theme.bold())];

    let mut facts = vec![step.kind.name().to_string()];
    if let Some(role) = &step.role {
        facts.push(format!("role {role}"));
    }
    if let Some(target) = step.target_time {
        facts.push(format!("target {}", humantime::format_duration(target)));
    }
    if let Some(ms) = app.rehearsal.as_ref().and_then(|r| r.duration_ms(&step.id)) {
        facts.push(format!("rehearsed {}", millis(ms)));
    }
    if let Some(timeout) = step.timeout {
        facts.push(format!("timeout {}", humantime::format_duration(timeout)));
    }
    if let Some(policy) = step.on_failure {
        facts.push(format!(
            "on failure {}",
            serde_json::to_value(policy).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
        ));
    }
    out.push(Line::styled(facts.join(" · "), theme.dim()));
    out.push(Line::default());

    let reverted_by = (pos.0 == crate::model::Branch::Main).then(|| app.rolled_back.get(&pos.1)).flatten();
    let style = if reverted_by.is_some() { theme.rolled_back() } else { theme.status(state.status) };
    let mut status = vec![Span::styled(
        format!("{} {}", mark(state.status, reverted_by.is_some()), status_word(state.status, reverted_by.is_some())),
        style,
    )];
    if !state.detail.is_empty() {
        status.push(Span::raw(format!(" — {}", state.detail)));
    }
    out.push(Line::from(status));
    let mut numbers = Vec::new();
    if state.attempts > 0 {
        numbers.push(format!("attempts {}", state.attempts));
    }
    if let Some(ms) = state.duration_ms {
        numbers.push(format!("took {}", millis(ms)));
    }
    if state.status == StepStatus::Running
        && let (Some(since), Some(now)) = (app.running_since, app.now)
    {
        numbers.push(format!("running for {}", seconds((now - since).num_seconds().unsigned_abs())));
    }
    if !numbers.is_empty() {
        out.push(Line::styled(numbers.join(" · "), theme.dim()));
    }
    if let Some(revert) = reverted_by {
        out.push(Line::styled(format!("its migrations were reverted by step `{revert}`"), theme.rolled_back()));
    }

    if state.facts.is_none()
        && let Some(notes) = app.notes.get(&pos)
    {
        section(&mut out, theme, "Progress");
        out.extend(notes.iter().map(|n| Line::raw(n.clone())));
    }

    match &step.kind {
        StepKind::Manual { instructions } => {
            section(&mut out, theme, "Instructions");
            text(&mut out, &fill(instructions, scope));
        }
        StepKind::Command { run } => {
            if let Some(Facts::Command { exit_code, output }) = &state.facts {
                section(&mut out, theme, &format!("Output (exit code {exit_code})"));
                let all: Vec<&str> = output.lines().collect();
                let shown = &all[all.len().saturating_sub(OUTPUT_LINES)..];
                if shown.len() < all.len() {
                    out.push(Line::styled(
                        format!("… {} earlier lines in the audit log", all.len() - shown.len()),
                        theme.dim(),
                    ));
                }
                if all.is_empty() {
                    out.push(Line::styled("(no output)", theme.dim()));
                }
                text(&mut out, &shown.join("\n"));
            }
            section(&mut out, theme, "Command");
            text(&mut out, run);
        }
        StepKind::Check(check) => {
            let resolved = match &check.expect.operand {
                Operand::Ref(r) => lookup(scope, r).map(|v| format!(" (that is {v})")).unwrap_or_default(),
                Operand::Literal(_) => String::new(),
            };
            out.push(Line::default());
            out.push(Line::from(vec![
                Span::styled("expect ", theme.dim()),
                Span::raw(format!("{}{resolved}", check.expect)),
            ]));
            if let Some(Facts::Value { value }) = &state.facts {
                let passed = state.status == StepStatus::Done;
                let verdict = if passed { "  passed" } else { "  FAILED" };
                out.push(Line::from(vec![
                    Span::styled("actual ", theme.dim()),
                    Span::raw(value.clone().unwrap_or_else(|| "NULL".into())),
                    Span::styled(verdict, if passed { theme.good() } else { theme.alert() }),
                ]));
            }
            section(&mut out, theme, "SQL");
            text(&mut out, &check.sql.source);
        }
        StepKind::Snapshot { values } => {
            let taken = match &state.facts {
                Some(Facts::Snapshot { values }) => Some(values),
                _ => None,
            };
            section(&mut out, theme, "Values");
            for (name, sql) in values {
                let value = match taken.map(|t| t.get(name)) {
                    Some(Some(v)) => v.clone().unwrap_or_else(|| "NULL".into()),
                    _ => "not taken yet".into(),
                };
                out.push(Line::from(vec![Span::styled(format!("{name} = "), theme.bold()), Span::raw(value)]));
                out.push(Line::styled(format!("  {}", sql.source.replace('\n', " ")), theme.dim()));
            }
        }
        StepKind::Migrate { to } => {
            let target = to.map_or("every pending migration".to_string(), |v| format!("up to version {v}"));
            out.push(Line::default());
            out.push(Line::raw(format!("applies {target}, one at a time")));
            if let Some(Facts::Applied { migrations }) = &state.facts {
                section(&mut out, theme, "Applied");
                migration_lines(&mut out, theme, migrations);
            }
        }
        StepKind::Revert { to } => {
            let target =
                if *to == 0 { "every applied migration".to_string() } else { format!("down to version {to} (kept)") };
            out.push(Line::default());
            out.push(Line::raw(format!("reverts {target}, newest first")));
            if let Some(Facts::Reverted { migrations }) = &state.facts {
                section(&mut out, theme, "Reverted");
                migration_lines(&mut out, theme, migrations);
            }
        }
        StepKind::Gate { checklist } => {
            let items = app.replica.gate_items(&step.id);
            let required: Vec<_> = items.iter().filter(|(item, _)| item.required).collect();
            let passing = required.iter().filter(|(_, status)| status.passes()).count();
            section(&mut out, theme, "Checklist");
            out.push(Line::raw(checklist.title.clone()));
            out.push(Line::raw(format!("{} items, {passing} of {} required pass", items.len(), required.len())));
            out.push(Line::styled("Enter opens the checklist", theme.dim()));
        }
        StepKind::Backfill(spec) => {
            super::backfill::lines(&mut out, theme, spec, app.progress.get(&pos), state.facts.as_ref())
        }
    }
    out
}

fn section(out: &mut Vec<Line<'static>>, theme: &Theme, title: &str) {
    out.push(Line::default());
    out.push(Line::styled(title.to_string(), theme.heading()));
}

fn text(out: &mut Vec<Line<'static>>, text: &str) {
    out.extend(text.lines().map(|l| Line::raw(l.to_string())));
}

fn migration_lines(out: &mut Vec<Line<'static>>, theme: &Theme, migrations: &[MigrationRun]) {
    if migrations.is_empty() {
        out.push(Line::styled("nothing: already in place", theme.dim()));
    }
    for m in migrations {
        out.push(Line::from(vec![
            Span::styled(m.version.to_string(), theme.bold()),
            Span::raw(format!(" {}  ", m.description)),
            Span::styled(millis(m.duration_ms), theme.dim()),
        ]));
    }
}

fn lookup(scope: &Scope, r: &Ref) -> Option<String> {
    scope.lookup(r).map(|v| v.unwrap_or("NULL").to_string())
}

/// Manual instructions with their references filled in from the run's values.
fn fill(template: &Template, scope: &Scope) -> String {
    template.fill(|r| lookup(scope, r))
}
