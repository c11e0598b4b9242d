//! The step list (main branch, then the rollback branch in its own block) and the detail of
//! the selected step. Only the rows on screen are built, so a long runbook draws as fast as a
//! short one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Theme, detail, eta, millis, offset};
use crate::engine::StepStatus;
use crate::model::Branch;
use crate::tui::app::{App, Pos};

/// The status marks, readable without colour.
pub(super) fn mark(status: StepStatus, rolled_back: bool) -> &'static str {
    if rolled_back {
        return "[<]";
    }
    match status {
        StepStatus::Pending => "[ ]",
        StepStatus::Running => "[>]",
        StepStatus::Waiting => "[?]",
        StepStatus::Done => "[x]",
        StepStatus::Failed => "[!]",
        StepStatus::Skipped => "[-]",
    }
}

pub(super) fn status_word(status: StepStatus, rolled_back: bool) -> &'static str {
    if rolled_back { "rolled back" } else { status.word() }
}

/// The list's column and the detail's.
struct Panes {
    main: Rect,
    rollback: Option<Rect>,
    detail: Rect,
}

fn panes(app: &App, body: Rect) -> Panes {
    let list_width = (body.width * 2 / 5).clamp(30.min(body.width), 60);
    let [list, detail] = Layout::horizontal([Constraint::Length(list_width), Constraint::Min(0)]).areas(body);
    let rollback_len = app.runbook().rollback.len() as u16;
    if rollback_len == 0 {
        return Panes { main: list, rollback: None, detail };
    }
    // The branch the run is on gets the room.
    let on_rollback = matches!(app.replica.current(), Some((Branch::Rollback, _)));
    let share = if on_rollback { list.height * 2 / 3 } else { list.height / 3 };
    let rollback_height = (rollback_len + 2).min(share.max(4));
    let [main, rollback] = Layout::vertical([Constraint::Min(3), Constraint::Length(rollback_height)]).areas(list);
    Panes { main, rollback: Some(rollback), detail }
}

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, body: Rect) {
    let panes = panes(app, body);
    draw_branch(app, theme, frame, panes.main, Branch::Main);
    if let Some(area) = panes.rollback {
        draw_branch(app, theme, frame, area, Branch::Rollback);
    }
    let title = app.selected_step().map(|s| format!(" {} ", s.id)).unwrap_or_default();
    let block = Block::bordered().title(Span::styled(title, theme.bold()));
    let lines = detail::lines(app, app.selected, theme);
    frame.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((app.detail_scroll, 0)),
        panes.detail,
    );
}

/// The row a branch's block scrolls to: the selection when it is in this branch, else the
/// run's step, else where the main branch stopped.
fn focus(app: &App, branch: Branch) -> usize {
    if app.selected.0 == branch {
        return app.selected.1;
    }
    match app.replica.current() {
        Some((b, index)) if b == branch => index,
        _ if branch == Branch::Main => {
            app.replica.states(branch).iter().rposition(|s| s.status != StepStatus::Pending).unwrap_or(0)
        }
        _ => 0,
    }
}

fn draw_branch(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, branch: Branch) {
    let steps = app.runbook().branch(branch);
    let states = app.replica.states(branch);
    let done = states.iter().filter(|s| s.status == StepStatus::Done).count();
    let on_it = matches!(app.replica.current(), Some((b, _)) if b == branch);
    let title = match branch {
        Branch::Main => format!(" Steps · {done}/{} done ", steps.len()),
        Branch::Rollback if on_it => format!(" ROLLBACK BRANCH · running · {done}/{} done ", steps.len()),
        Branch::Rollback => format!(" Rollback branch · {} steps ", steps.len()),
    };
    let title_style = if branch == Branch::Rollback && on_it { theme.alert() } else { theme.bold() };
    let block = Block::bordered().title(Span::styled(title, title_style));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let first = offset(steps.len(), focus(app, branch), height);
    let number_width = steps.len().to_string().len();
    let lines: Vec<Line> = (first..steps.len().min(first + height))
        .map(|index| {
            let pos = (branch, index);
            let state = &states[index];
            let rolled_back = branch == Branch::Main && app.rolled_back.contains_key(&index);
            let style = if rolled_back { theme.rolled_back() } else { theme.status(state.status) };
            let number = format!(" {:>number_width$} ", index + 1);
            let mut spans = vec![
                Span::raw(if pos == app.selected { "›" } else { " " }),
                Span::styled(mark(state.status, rolled_back), style),
            ];
            match eta::expected_ms(app, &steps[index]) {
                None => spans.extend([Span::raw(number), Span::raw(steps[index].title.as_str())]),
                Some(ms) => {
                    // The rehearsed time at the right edge; the title gives way.
                    let time = format!(" {}", millis(ms));
                    let room =
                        usize::from(inner.width).saturating_sub(4 + number.chars().count() + time.chars().count());
                    let title = fit(&steps[index].title, room);
                    let pad = " ".repeat(room - title.chars().count());
                    spans.extend([
                        Span::raw(number),
                        Span::raw(title),
                        Span::raw(pad),
                        Span::styled(time, theme.dim()),
                    ]);
                }
            }
            let mut line = Line::from(spans);
            if pos == app.selected {
                line = line.style(theme.selected());
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `text` cut to `width` characters, the cut marked with `…`.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    if width == 0 { kept } else { format!("{kept}…") }
}

/// The step at a screen position, for mouse clicks: the same geometry as `draw`.
pub(super) fn step_at(app: &App, body: Rect, column: u16, row: u16) -> Option<Pos> {
    let panes = panes(app, body);
    let blocks = [(Branch::Main, Some(panes.main)), (Branch::Rollback, panes.rollback)];
    blocks.into_iter().find_map(|(branch, area)| {
        let inner = Block::bordered().inner(area?);
        let inside = (inner.x..inner.right()).contains(&column) && (inner.y..inner.bottom()).contains(&row);
        if !inside {
            return None;
        }
        let len = app.runbook().branch(branch).len();
        let index = offset(len, focus(app, branch), inner.height as usize) + (row - inner.y) as usize;
        (index < len).then_some((branch, index))
    })
}
