//! The audit pane: this run's journal entries as they are written, newest at the bottom.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::Theme;
use crate::tui::app::App;

pub(super) fn draw(app: &App, theme: &Theme, frame: &mut Frame, body: Rect) {
    let total = app.audit.len();
    let height = body.height.saturating_sub(2) as usize;
    // Scrolled up by `audit_scroll` from the newest entry, never past the oldest.
    let end = total.saturating_sub(app.audit_scroll.min(total.saturating_sub(height)));
    let start = end.saturating_sub(height);
    let position =
        if end == total { "newest at the bottom".to_string() } else { format!("{} newer below", total - end) };
    let title = format!(" Audit log · {total} entries · {position} ");
    let lines: Vec<Line> = app.audit[start..end]
        .iter()
        .map(|row| {
            let kind_style = if row.kind.starts_with("rollback") || row.kind == "refused" || row.kind == "run.stopped" {
                theme.alert()
            } else {
                theme.bold()
            };
            Line::from(vec![
                Span::styled(format!("{:>4} ", row.seq), theme.dim()),
                Span::raw(format!("{} ", row.time)),
                Span::styled(format!("{:<18} ", row.kind), kind_style),
                Span::raw(row.fields.clone()),
            ])
        })
        .collect();
    let block = Block::bordered().title(Span::styled(title, theme.bold()));
    frame.render_widget(Paragraph::new(lines).block(block), body);
}
