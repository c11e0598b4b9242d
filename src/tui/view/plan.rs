//! `runsheet rollback` opens here: what the database says is applied, what the last run's
//! audit log says happened, and the rollback steps about to be walked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Theme;
use crate::tui::app::{App, RollbackContext};

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, body: Rect) {
    let mut lines = Vec::new();
    let heading = |text: String| Line::styled(text, theme.heading());
    let none = RollbackContext::default();
    let context = app.rollback_context.as_ref().unwrap_or(&none);

    lines.push(heading(format!("Applied now (_sqlx_migrations): {}", context.applied.len())));
    if context.applied.is_empty() {
        lines.push(Line::styled("  no migration applied", theme.dim()));
    }
    let width = context.applied.iter().map(|(_, d, _)| d.len()).max().unwrap_or(0);
    for (version, description, installed_on) in &context.applied {
        lines.push(Line::from(vec![
            Span::styled(format!("  {version} "), theme.bold()),
            Span::raw(format!("{description:<width$}  ")),
            Span::styled(format!("installed {installed_on}"), theme.dim()),
        ]));
    }

    lines.push(Line::default());
    match &context.last_run {
        Some(run) => {
            lines.push(heading(format!("Last run: {}", run.log.display())));
            let width = run.steps.iter().map(|(s, _, _)| s.len()).max().unwrap_or(0);
            for (step, status, detail) in &run.steps {
                let style = if status == "failed" { theme.alert() } else { theme.plain() };
                lines.push(Line::from(vec![
                    Span::raw(format!("  {step:<width$}  ")),
                    Span::styled(format!("{status:<8}"), style),
                    Span::styled(format!(" {detail}"), theme.dim()),
                ]));
            }
        }
        None => {
            lines.push(heading("Last run".into()));
            lines.push(Line::styled("  no audit log of an earlier run was given or found", theme.dim()));
        }
    }

    lines.push(Line::default());
    let rollback = &app.runbook().rollback;
    lines.push(heading(format!("Rollback steps, in order: {}", rollback.len())));
    for (index, step) in rollback.iter().enumerate() {
        let target =
            step.target_time.map(|t| format!("  target {}", humantime::format_duration(t))).unwrap_or_default();
        lines.push(Line::from(vec![
            Span::raw(format!("  {}. ", index + 1)),
            Span::styled(format!("{} ", step.kind.name()), theme.dim()),
            Span::raw(step.title.clone()),
            Span::styled(target, theme.dim()),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::styled(
        "Enter continues to the rollback steps: nothing runs before you start each one.",
        theme.bold(),
    ));

    let block = Block::bordered().title(Span::styled(" Rollback: where the database stands ", theme.alert()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), body);
}
