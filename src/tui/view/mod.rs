//! Drawing: every screen is a function of `&App`. The layout is computed here once, for both
//! drawing and mouse hit-testing, so a click lands where the row was drawn.

mod audit;
mod backfill;
mod detail;
mod dialogs;
mod eta;
mod gate;
mod header;
mod plan;
mod steps;
mod theme;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::app::{App, Pos, Screen};
use super::keymap;
pub(super) use theme::Theme;

/// The rows of the whole screen.
pub(super) struct Areas {
    pub header: Rect,
    pub banner: Option<Rect>,
    pub body: Rect,
    pub message: Rect,
    pub keys: Rect,
}

pub(super) fn areas(app: &App, area: Rect) -> Areas {
    let banner = u16::from(app.header.production);
    let [header, banner_row, body, message, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(banner),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas { header, banner: app.header.production.then_some(banner_row), body, message, keys }
}

pub(super) fn draw(app: &App, frame: &mut Frame) {
    let theme = Theme::new(app.header.color);
    let areas = areas(app, frame.area());
    header::draw(app, &theme, frame, &areas);
    match &app.screen {
        Screen::Plan => plan::draw(app, &theme, frame, areas.body),
        Screen::Steps => steps::draw(app, &theme, frame, areas.body),
        Screen::Gate(step) => gate::draw(app, &theme, frame, areas.body, step),
        Screen::Audit => audit::draw(app, &theme, frame, areas.body),
    }
    if let Some(message) = &app.message {
        let style = if message.alert { theme.alert() } else { theme.plain() };
        frame.render_widget(Paragraph::new(Span::styled(message.text.as_str(), style)), areas.message);
    }
    frame.render_widget(Paragraph::new(key_hints(app, &theme, areas.keys.width)), areas.keys);
    dialogs::draw(app, &theme, frame, frame.area());
}

/// The status line: the keys that do something now, from the key table. When they do not
/// fit, the spacing shrinks before anything is cut.
fn key_hints(app: &App, theme: &Theme, width: u16) -> Line<'static> {
    let live: Vec<(String, &str)> = keymap::in_context(app.context())
        .filter(|b| app.applies(b.action).is_ok())
        .filter_map(|b| Some((b.label(), b.hint?)))
        .collect();
    let roomy: usize = live.iter().map(|(label, hint)| label.chars().count() + hint.chars().count() + 5).sum();
    let (pad, gap) = if roomy <= usize::from(width) { (" ", "  ") } else { ("", " ") };
    let mut spans = Vec::new();
    for (label, hint) in live {
        if !spans.is_empty() {
            spans.push(Span::raw(gap));
        }
        spans.push(Span::styled(format!("{pad}{label}{pad}"), theme.key()));
        spans.push(Span::raw(format!(" {hint}")));
    }
    Line::from(spans)
}

/// The step drawn at a screen position of the step list, if any.
pub(super) fn step_at(app: &App, area: Rect, column: u16, row: u16) -> Option<Pos> {
    let body = areas(app, area).body;
    steps::step_at(app, body, column, row)
}

/// The checklist item drawn at a screen position of the gate view, if any.
pub(super) fn gate_item_at(app: &App, area: Rect, column: u16, row: u16) -> Option<usize> {
    let body = areas(app, area).body;
    gate::item_at(app, body, column, row)
}

/// The rows of the selected step's detail before wrapping, to bound its scrolling.
pub(super) fn detail_rows(app: &App) -> u16 {
    let rows = detail::lines(app, app.selected, &Theme::new(false)).len();
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// The rows of the help popup, to bound its scrolling.
pub(super) fn help_rows() -> u16 {
    u16::try_from(dialogs::help_lines(&Theme::new(false)).len()).unwrap_or(u16::MAX)
}

/// The first row shown of a list of `len` rows in `height` rows, so that `focus` is visible
/// with a third of the rows above it (what is done) and the rest below (what comes).
pub(super) fn offset(len: usize, focus: usize, height: usize) -> usize {
    if len <= height { 0 } else { focus.saturating_sub(height / 3).min(len - height) }
}

/// A rectangle of at most `width` × `height` in the middle of `area`.
pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}

/// Clears a popup's area, so the screen behind does not show through.
pub(super) fn clear(frame: &mut Frame, area: Rect) {
    frame.render_widget(Clear, area);
}

/// `850 ms`, `4.2 s`, `3m 05s`, `1h 02m`.
pub(super) fn millis(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        seconds(ms / 1000)
    }
}

/// `45s`, `3m 05s`, `1h 02m`.
pub(super) fn seconds(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_focus_stays_visible_with_room_for_what_comes() {
        assert_eq!(offset(5, 4, 10), 0);
        assert_eq!(offset(1000, 0, 30), 0);
        assert_eq!(offset(1000, 500, 30), 490);
        assert_eq!(offset(1000, 999, 30), 970);
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(millis(850), "850 ms");
        assert_eq!(millis(4200), "4.2 s");
        assert_eq!(millis(185_000), "3m 05s");
        assert_eq!(seconds(3720), "1h 02m");
    }
}
