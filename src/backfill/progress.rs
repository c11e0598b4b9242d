//! What a running backfill reports: to the faces after every batch, to the audit log at least
//! every minute.

use std::time::Duration;

use serde::Serialize;

/// Why the backfill is not working on a batch right now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Throttle {
    Running,
    /// The configured pause between two batches.
    Sleeping,
    /// The operator paused it (`p` in the TUI).
    Held,
    /// `pause_when` holds.
    Paused {
        reason: String,
    },
    /// A transient error; the batch is retried after `wait_ms`.
    Retrying {
        error: String,
        wait_ms: u64,
    },
}

impl Throttle {
    pub fn words(&self) -> String {
        match self {
            Throttle::Running => "running".into(),
            Throttle::Sleeping => "sleeping between batches".into(),
            Throttle::Held => "paused by the operator (p resumes)".into(),
            Throttle::Paused { reason } => format!("paused: {reason}"),
            Throttle::Retrying { error, wait_ms } => format!("retrying in {wait_ms} ms after: {error}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub step: String,
    /// Rows whose key range is done, this run and earlier ones together.
    pub rows_visited: u64,
    pub rows_updated: u64,
    /// Rows to visit in all, counted when this run started (including those done before).
    pub estimated_total: u64,
    pub batches: u64,
    pub retries: u64,
    pub errors: u64,
    /// The size of the next batch.
    pub batch_size: u64,
    pub rows_per_second: f64,
    pub eta_seconds: Option<u64>,
    #[serde(flatten)]
    pub throttle: Throttle,
}

impl Progress {
    /// Done as a fraction of the estimate, for a gauge.
    pub fn ratio(&self) -> f64 {
        if self.estimated_total == 0 {
            return 1.0;
        }
        (self.rows_visited as f64 / self.estimated_total as f64).clamp(0.0, 1.0)
    }

    /// One line for people: `12,000/1,000,000 rows (1.2 %), 5,300 rows/s, batch 4,000, ETA 3m 6s, running`.
    pub fn line(&self) -> String {
        let eta = match self.eta_seconds {
            Some(s) => format!("ETA {}", humantime::format_duration(Duration::from_secs(s))),
            None => "ETA unknown".into(),
        };
        let mut line = format!(
            "{}/{} rows ({:.1} %), {} rows/s, batch {}, {eta}, {}",
            thousands(self.rows_visited),
            thousands(self.estimated_total),
            self.ratio() * 100.0,
            thousands(self.rows_per_second.round() as u64),
            thousands(self.batch_size),
            self.throttle.words()
        );
        if self.retries > 0 {
            line.push_str(&format!(", {} retries", self.retries));
        }
        line
    }
}

/// 1234567 → "1,234,567": row counts are read at a glance.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_reads_at_a_glance() {
        let p = Progress {
            step: "fill".into(),
            rows_visited: 12_000,
            rows_updated: 11_000,
            estimated_total: 1_000_000,
            batches: 3,
            retries: 0,
            errors: 0,
            batch_size: 4000,
            rows_per_second: 5300.4,
            eta_seconds: Some(186),
            throttle: Throttle::Running,
        };
        assert_eq!(p.line(), "12,000/1,000,000 rows (1.2 %), 5,300 rows/s, batch 4,000, ETA 3m 6s, running");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}
