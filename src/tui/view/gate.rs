//! The gate view: the checklist, automated items with their values or failures, manual
//! items with who ticked them, and what still stands between the gate and Go.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Theme, offset};
use crate::engine::{Actor, ItemStatus};
use crate::model::{Item, StepKind};
use crate::tui::app::App;

fn who(by: &Actor) -> String {
    match &by.role {
        Some(role) => format!("{} ({role})", by.name),
        None => by.name.clone(),
    }
}

fn mark(status: &ItemStatus) -> &'static str {
    match status {
        ItemStatus::Passed { .. } | ItemStatus::Ticked { .. } => "[x]",
        ItemStatus::Failed { .. } => "[!]",
        ItemStatus::Unevaluated | ItemStatus::Unticked => "[ ]",
    }
}

fn state_words(status: &ItemStatus) -> String {
    match status {
        ItemStatus::Unevaluated => "not evaluated yet".into(),
        ItemStatus::Passed { value } => format!("got {}", value.as_deref().unwrap_or("NULL")),
        ItemStatus::Failed { reason } => format!("FAILED: {reason}"),
        ItemStatus::Ticked { by } => format!("ticked by {}", who(by)),
        ItemStatus::Unticked => "not ticked".into(),
    }
}

/// The item list and the selected item's detail.
fn panes(body: Rect, items: usize) -> (Rect, Rect) {
    // Summary line + items + borders; the rest is the selected item.
    let list = (items as u16 + 3).min(body.height.saturating_sub(6).max(body.height / 2));
    let [list, detail] = Layout::vertical([Constraint::Length(list), Constraint::Min(0)]).areas(body);
    (list, detail)
}

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, body: Rect, step_id: &str) {
    let Some((_, _, step)) = app.runbook().step(step_id) else {
        return;
    };
    let StepKind::Gate { checklist } = &step.kind else {
        return;
    };
    let items = app.replica.gate_items(step_id);
    let (list_area, detail_area) = panes(body, items.len());
    let deciding =
        app.asked().is_some_and(|a| matches!(a, crate::engine::Effect::AwaitDecision { step } if step == step_id));
    let state = if deciding { "waiting for Go / No-Go" } else { "not waiting for a decision" };
    let title = format!(" Gate `{}` · {} · {state} ", step.id, checklist.title);
    let block = Block::bordered().title(Span::styled(title, theme.bold()));
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);

    let blocking: Vec<&str> = items
        .iter()
        .filter(|(item, status)| item.required && !status.passes())
        .map(|(item, _)| item.id.as_str())
        .collect();
    let summary = if blocking.is_empty() {
        Line::styled("Every required item passes: y gives Go.", theme.good())
    } else {
        Line::from(vec![Span::styled("Go needs: ", theme.alert()), Span::raw(blocking.join(", "))])
    };
    let [summary_row, rows] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(summary), summary_row);

    let height = rows.height as usize;
    let first = offset(items.len(), app.gate_item, height);
    let id_width = items.iter().map(|(item, _)| item.id.len()).max().unwrap_or(0);
    let lines: Vec<Line> = items
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(index, (item, status))| {
            let style = match status {
                ItemStatus::Failed { .. } => theme.alert(),
                s if s.passes() => theme.good(),
                _ => theme.plain(),
            };
            let kind = if item.check.is_some() { "auto" } else { "hand" };
            let optional = if item.required { "" } else { " (optional)" };
            let mut line = Line::from(vec![
                Span::raw(if index == app.gate_item { "›" } else { " " }),
                Span::styled(mark(status), style),
                Span::styled(format!(" {kind} "), theme.dim()),
                Span::raw(format!("{:<id_width$} ", item.id)),
                Span::styled(state_words(status), style),
                Span::styled(optional, theme.dim()),
                Span::styled(format!(" · {}", item.text), theme.dim()),
            ]);
            if index == app.gate_item {
                line = line.style(theme.selected());
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows);

    if let Some((item, status)) = items.get(app.gate_item) {
        draw_item(theme, frame, detail_area, item, status);
    }
}

fn draw_item(theme: &Theme, frame: &mut Frame, area: Rect, item: &Item, status: &ItemStatus) {
    let mut lines = vec![
        Line::styled(item.text.clone(), theme.bold()),
        Line::from(vec![
            Span::styled(format!("{} ", mark(status)), theme.plain()),
            Span::raw(state_words(status)),
            Span::styled(if item.required { " · required" } else { " · optional" }, theme.dim()),
        ]),
    ];
    match &item.check {
        Some(check) => {
            lines.push(Line::from(vec![Span::styled("expect ", theme.dim()), Span::raw(check.expect.to_string())]));
            lines.push(Line::styled("SQL", theme.heading()));
            lines.extend(check.sql.source.lines().map(|l| Line::raw(l.to_string())));
        }
        None => lines.push(Line::styled("ticked by a person: Space ticks or unticks it", theme.dim())),
    }
    let block = Block::bordered().title(Span::styled(format!(" {} ", item.id), theme.bold()));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

/// The item at a screen position, for mouse clicks: the same geometry as `draw`.
pub(super) fn item_at(app: &App, body: Rect, column: u16, row: u16) -> Option<usize> {
    let step = app.open_gate_id()?;
    let count = app.replica.gate_items(step).len();
    let (list_area, _) = panes(body, count);
    let inner = Block::bordered().inner(list_area);
    // The first row is the summary.
    let rows = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
    let inside = (rows.x..rows.right()).contains(&column) && (rows.y..rows.bottom()).contains(&row);
    if !inside {
        return None;
    }
    let index = offset(count, app.gate_item, rows.height as usize) + (row - rows.y) as usize;
    (index < count).then_some(index)
}
