//! A backfill step in the detail pane: a gauge while it runs, its metrics when it is done,
//! then its definition.

use ratatui::text::{Line, Span};

use super::Theme;
use crate::backfill::{Progress, Throttle, thousands};
use crate::engine::{BackfillMetrics, Facts};
use crate::model::Backfill;

/// Cells of the gauge bar.
const GAUGE_WIDTH: usize = 40;

pub(super) fn lines(
    out: &mut Vec<Line<'static>>,
    theme: &Theme,
    spec: &Backfill,
    progress: Option<&Progress>,
    facts: Option<&Facts>,
) {
    match facts {
        Some(Facts::Backfill { metrics }) => result(out, theme, metrics),
        Some(_) => {}
        None => {
            if let Some(p) = progress {
                gauge(out, theme, p);
            }
        }
    }
    heading(out, theme, "Backfill");
    let mut field = |name: &str, value: String| {
        out.push(Line::from(vec![Span::styled(format!("{name:<8}"), theme.dim()), Span::raw(value)]));
    };
    field("table", spec.table.clone());
    field("key", spec.key.join(", "));
    field("set", spec.set.clone());
    field("where", spec.filter.clone().unwrap_or_else(|| "(every row)".into()));
    let sleep = spec.sleep.map_or("none".to_string(), |s| humantime::format_duration(s).to_string());
    field(
        "batches",
        format!(
            "from {} rows ({}–{}), aiming at {} each, sleep {sleep}, up to {} retries",
            thousands(spec.batch_size),
            thousands(spec.min_batch_size),
            thousands(spec.max_batch_size),
            humantime::format_duration(spec.target_batch_time),
            spec.max_retries
        ),
    );
    if let Some(pause) = &spec.pause_when {
        field("pause", format!("while {}", pause.source.trim()));
    }
    if spec.dry_run {
        field("mode", "dry run: estimates, writes nothing".into());
    }
}

fn heading(out: &mut Vec<Line<'static>>, theme: &Theme, title: &str) {
    out.push(Line::default());
    out.push(Line::styled(title.to_string(), theme.heading()));
}

/// `[#########...............]  23.5 %`: readable without colour.
fn gauge(out: &mut Vec<Line<'static>>, theme: &Theme, p: &Progress) {
    heading(out, theme, "Progress");
    let filled = ((p.ratio() * GAUGE_WIDTH as f64).round() as usize).min(GAUGE_WIDTH);
    out.push(Line::from(vec![
        Span::raw("["),
        Span::styled("#".repeat(filled), theme.good()),
        Span::raw(".".repeat(GAUGE_WIDTH - filled)),
        Span::raw(format!("] {:5.1} %", p.ratio() * 100.0)),
    ]));
    let eta = p
        .eta_seconds
        .map_or("unknown".to_string(), |s| humantime::format_duration(std::time::Duration::from_secs(s)).to_string());
    out.push(Line::raw(format!(
        "{} of about {} rows · {} rows/s · batch {} · ETA {eta}",
        thousands(p.rows_visited),
        thousands(p.estimated_total),
        thousands(p.rows_per_second.round() as u64),
        thousands(p.batch_size),
    )));
    out.push(Line::raw(format!(
        "{} updated · {} batches · {} retries",
        thousands(p.rows_updated),
        thousands(p.batches),
        p.retries
    )));
    let style = match p.throttle {
        Throttle::Running | Throttle::Sleeping => theme.dim(),
        _ => theme.alert(),
    };
    out.push(Line::styled(p.throttle.words(), style));
}

fn result(out: &mut Vec<Line<'static>>, theme: &Theme, m: &BackfillMetrics) {
    heading(out, theme, "Result");
    out.push(Line::raw(format!(
        "{} rows visited, {} updated, in {} batches",
        thousands(m.rows_visited),
        thousands(m.rows_updated),
        thousands(m.batches)
    )));
    out.push(Line::raw(format!("{} retries, {} errors, {} ms", m.retries, m.errors, m.duration_ms)));
    if let Some(after) = &m.resumed_after {
        out.push(Line::raw(format!(
            "resumed after key {after}; {} rows visited in all runs",
            thousands(m.total_rows_visited)
        )));
    }
}
