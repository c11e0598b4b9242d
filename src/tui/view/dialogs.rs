//! Popups over the screen: the failure dialog, the quit confirmation, the reason input and
//! the help, each keyed from the key table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Theme, centered, clear};
use crate::engine::{Effect, FailureChoice};
use crate::tui::app::{App, Dialog};
use crate::tui::keymap::{self, Action, BINDINGS, Binding, Context};

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    if let Some(Effect::AwaitFailureChoice { step, error, choices }) = app.asked()
        && app.failure_shown()
    {
        failure(theme, frame, area, &step, &error, &choices);
    }
    match &app.dialog {
        Some(Dialog::ConfirmCancel) => confirm_cancel(app, theme, frame, area),
        Some(Dialog::Reason { purpose, input, problem }) => {
            let width = area.width.saturating_sub(4).min(72);
            let explanation = [Line::raw(purpose.explanation())];
            let text_rows = rows(&explanation, width.saturating_sub(2));
            let popup = centered(area, width, text_rows + 7);
            clear(frame, popup);
            let block = Block::bordered().title(Span::styled(format!(" {} ", purpose.title()), theme.bold()));
            let inner = block.inner(popup);
            frame.render_widget(block, popup);
            let [text, field, problem_row, keys] = Layout::vertical([
                Constraint::Length(text_rows),
                Constraint::Length(3),
                Constraint::Length(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(Paragraph::new(explanation.to_vec()).wrap(Wrap { trim: true }), text);
            frame.render_widget(&**input, field);
            if let Some(problem) = problem {
                frame.render_widget(Paragraph::new(Span::styled(problem.as_str(), theme.alert())), problem_row);
            }
            frame.render_widget(Paragraph::new(hints(theme, Context::Input)), keys);
        }
        None => {}
    }
    if let Some(scroll) = app.help {
        help(app, theme, frame, area, scroll);
    }
}

/// The rows `lines` take wrapped at `width`, with a row of slack per wrapped line: word
/// wrapping breaks earlier than the width.
fn rows(lines: &[Line], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let count: usize = lines
        .iter()
        .map(|line| match line.width().div_ceil(width) {
            0 | 1 => 1,
            n => n + 1,
        })
        .sum();
    u16::try_from(count).unwrap_or(u16::MAX)
}

/// `Enter done  Esc close` for a popup's keys.
fn hints(theme: &Theme, context: Context) -> Line<'static> {
    let mut spans = Vec::new();
    for binding in keymap::in_context(context) {
        if let Some(hint) = binding.hint {
            spans.push(Span::styled(format!(" {} ", binding.label()), theme.key()));
            spans.push(Span::raw(format!(" {hint}  ")));
        }
    }
    Line::from(spans)
}

fn choice_action(choice: FailureChoice) -> Action {
    match choice {
        FailureChoice::Retry => Action::Retry,
        FailureChoice::Skip => Action::SkipFailed,
        FailureChoice::Rollback => Action::RollbackFailed,
        FailureChoice::Abort => Action::Abort,
    }
}

fn failure(theme: &Theme, frame: &mut Frame, area: Rect, step: &str, error: &str, choices: &[FailureChoice]) {
    let width = area.width.saturating_sub(4).min(80);
    let mut lines = vec![Line::styled("The step failed:", theme.bold())];
    lines.extend(error.lines().map(|l| Line::styled(l.to_string(), theme.alert())));
    lines.push(Line::default());
    lines.push(Line::raw("What now?"));
    // Only the choices the step's failure policy gives, with their keys from the table.
    for &choice in choices {
        let action = choice_action(choice);
        if let Some(binding) = keymap::in_context(Context::Failure).find(|b| b.action == action) {
            lines.push(Line::from(vec![
                Span::styled(format!(" {} ", binding.label()), theme.key()),
                Span::raw(format!(" {}", binding.help)),
            ]));
        }
    }
    lines.push(Line::default());
    lines.push(Line::styled("Esc looks around first (Enter brings this back)", theme.dim()));
    let popup = centered(area, width, rows(&lines, width.saturating_sub(2)) + 2);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    clear(frame, popup);
    let block = Block::bordered().title(Span::styled(format!(" Step `{step}` FAILED "), theme.alert()));
    frame.render_widget(paragraph.block(block), popup);
}

fn confirm_cancel(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let step = app.running().and_then(|pos| app.step(pos)).map(|s| s.id.clone()).unwrap_or_default();
    let lines = vec![
        Line::raw(format!("Step `{step}` is running.")),
        Line::raw("Quitting cancels it and stops the run; the audit log records where it stopped."),
        Line::default(),
        hints(theme, Context::Confirm),
    ];
    let width = area.width.saturating_sub(4).min(60);
    let popup = centered(area, width, rows(&lines, width.saturating_sub(2)) + 2);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    clear(frame, popup);
    let block = Block::bordered().title(Span::styled(" Quit while a step runs? ", theme.alert()));
    frame.render_widget(paragraph.block(block), popup);
}

/// One row per binding of the key table, then the marks.
pub(super) fn help_lines(theme: &Theme) -> Vec<Line<'static>> {
    let label_width = BINDINGS.iter().map(|b| b.label().chars().count()).max().unwrap_or(0);
    let row = |b: &Binding| {
        let contexts: Vec<&str> = b.contexts.iter().map(|c| c.name()).collect();
        Line::from(vec![
            Span::styled(format!(" {:<label_width$} ", b.label()), theme.bold()),
            Span::raw(format!(" {}", b.help)),
            Span::styled(format!("  [{}]", contexts.join(", ")), theme.dim()),
        ])
    };
    let mut lines: Vec<Line> = BINDINGS.iter().map(row).collect();
    lines.push(Line::default());
    lines.push(Line::styled(
        " Marks: [ ] pending  [>] running  [?] waiting  [x] done  [!] failed  [-] skipped  [<] rolled back",
        theme.dim(),
    ));
    lines
}

fn help(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, scroll: u16) {
    let lines = help_lines(theme);
    let popup = centered(area, area.width.saturating_sub(4).min(110), lines.len() as u16 + 2);
    clear(frame, popup);
    let title = format!(" Keys · you are in: {} · j/k scroll · Esc closes ", app.context_behind_help().name());
    let block = Block::bordered().title(Span::styled(title, theme.bold()));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), popup);
}
