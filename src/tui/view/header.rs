//! The header: what runs, where, by whom, how much of the window is left; and the production
//! banner, which cannot be missed even without colour.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Areas, Theme, eta, millis, seconds};
use crate::model::Window;
use crate::tui::app::App;

/// Less than this left in the window is shown as an alert.
const WINDOW_WARNING_SECS: i64 = 15 * 60;

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, areas: &Areas) {
    let header = &app.header;
    let [title_row, facts_row] = Layout::vertical([Constraint::Length(1); 2]).areas(areas.header);
    let change = header.change.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
    let [title_area, change_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(change.chars().count() as u16)]).areas(title_row);
    frame.render_widget(Paragraph::new(Span::styled(header.title.as_str(), theme.bold())), title_area);
    frame.render_widget(Paragraph::new(Span::styled(change, theme.bold())), change_area);

    let operator = &header.operator;
    let who = match &operator.role {
        Some(role) => format!("{} ({role})", operator.name),
        None => operator.name.clone(),
    };
    let mut facts = vec![
        Span::styled("db ", theme.dim()),
        Span::raw(header.database.clone()),
        Span::styled("  operator ", theme.dim()),
        Span::raw(who),
    ];
    if let Some(window) = &header.window {
        let (text, alert) = window_left(window, app.now);
        facts.push(Span::styled("  window ", theme.dim()));
        facts.push(Span::styled(text, if alert { theme.alert() } else { theme.plain() }));
    }
    if let Some(left) = eta::time_left_ms(app) {
        facts.push(Span::styled("  to go (rehearsed) ", theme.dim()));
        let left_ms = chrono::Duration::milliseconds(i64::try_from(left).unwrap_or(i64::MAX));
        let ends = app.now.and_then(|now| now.checked_add_signed(left_ms));
        // The rest of the run would not fit in the window: say so before it starts.
        if header.window.as_ref().zip(ends).is_some_and(|(window, ends)| ends > window_end(window)) {
            facts.push(Span::styled(format!("{} — past the window", millis(left)), theme.alert()));
        } else {
            facts.push(Span::raw(millis(left)));
        }
    }
    if header.dry_run {
        facts.push(Span::styled("  DRY RUN: nothing is written", theme.alert()));
    }
    frame.render_widget(Paragraph::new(Line::from(facts)), facts_row);

    if let Some(banner) = areas.banner {
        let text = format!("PRODUCTION · {} · every step acts on the production database", header.database);
        frame.render_widget(Paragraph::new(text).style(theme.banner()).alignment(Alignment::Center), banner);
    }
}

/// `1h 12m left`, `opens in 25m 00s`, `CLOSED 5m 00s ago`; true when it calls for attention.
fn window_left(window: &Window, now: Option<DateTime<Utc>>) -> (String, bool) {
    let start = window.start.with_timezone(&Utc);
    let end = window_end(window);
    let Some(now) = now else {
        return (
            format!(
                "{} for {}",
                window.start.format("%Y-%m-%d %H:%M %:z"),
                humantime::format_duration(window.duration)
            ),
            false,
        );
    };
    let secs = |d: chrono::Duration| seconds(d.num_seconds().unsigned_abs());
    if now < start {
        (format!("opens in {}", secs(start - now)), false)
    } else if now < end {
        let left = end - now;
        (format!("{} left", secs(left)), left.num_seconds() < WINDOW_WARNING_SECS)
    } else {
        (format!("CLOSED {} ago", secs(now - end)), true)
    }
}

fn window_end(window: &Window) -> DateTime<Utc> {
    let length = chrono::Duration::from_std(window.duration).unwrap_or(chrono::Duration::MAX);
    window.start.with_timezone(&Utc).checked_add_signed(length).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn says_how_much_of_the_window_is_left() {
        let window = Window {
            start: DateTime::parse_from_rfc3339("2026-11-28T02:00:00+01:00").unwrap(),
            duration: Duration::from_secs(2 * 3600),
        };
        let left = |now| window_left(&window, Some(at(now)));
        assert_eq!(left("2026-11-28T00:35:00Z"), ("opens in 25m 00s".into(), false));
        assert_eq!(left("2026-11-28T01:48:00Z"), ("1h 12m left".into(), false));
        assert_eq!(left("2026-11-28T02:50:00Z"), ("10m 00s left".into(), true));
        assert_eq!(left("2026-11-28T03:05:00Z"), ("CLOSED 5m 00s ago".into(), true));
        assert_eq!(window_left(&window, None).0, "2026-11-28 02:00 +01:00 for 2h");
    }
}
