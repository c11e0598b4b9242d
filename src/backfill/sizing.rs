//! Adaptive batch size: each batch should take about `target_batch_time`, because a batch
//! holds its row locks until it commits and the application's writes to those rows wait that
//! long. Growth is gradual (at most ×1.5 a batch); a batch that takes far longer than the
//! target shrinks the next one at once.
//!
//! On PostgreSQL a batch is also bounded by the WAL it writes. There is one WAL stream: a
//! commit of the application that lands during a batch must flush the batch's WAL written so
//! far along with its own, so the application's commit latency grows with the batch's WAL
//! (bench/backfill: the writer's p99 rose from 3.7 ms with 1,000-row batches to 4.4 ms with
//! 5,000-row ones, with ~450 bytes of WAL a row).

use std::time::Duration;

/// How much longer than the target a batch must take to shrink the next one at once.
const FAR_LONGER: f64 = 2.0;
const MAX_GROWTH: f64 = 1.5;
/// Weight of the newest batch in the averages per row (time, WAL).
const SMOOTHING: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct Sizer {
    size: u64,
    min: u64,
    max: u64,
    target: Duration,
    /// Seconds per row, a moving average over the batches so far.
    per_row: Option<f64>,
    /// The most WAL a batch may write, and the WAL bytes per row seen so far (moving average).
    wal_budget: u64,
    wal_per_row: Option<f64>,
}

impl Sizer {
    pub fn new(start: u64, min: u64, max: u64, target: Duration, wal_budget: u64) -> Sizer {
        Sizer { size: start.clamp(min, max), min, max, target, per_row: None, wal_budget, wal_per_row: None }
    }

    /// The size of the next batch.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Learns from a batch of `rows` rows that took `took`.
    pub fn observe(&mut self, rows: u64, took: Duration) {
        if rows == 0 {
            return;
        }
        let target = self.target.as_secs_f64();
        let now = took.as_secs_f64() / rows as f64;
        let next = if took.as_secs_f64() > FAR_LONGER * target {
            // An outlier (a lock wait, a burst of load): back off now, trust only this batch.
            self.per_row = Some(now);
            rows as f64 * target / took.as_secs_f64()
        } else {
            let per_row = smoothed(self.per_row, now);
            self.per_row = Some(per_row);
            let ideal = if per_row > 0.0 { target / per_row } else { f64::MAX };
            ideal.min(self.size as f64 * MAX_GROWTH)
        };
        self.settle(next);
    }

    /// Learns from a batch of `rows` rows that wrote `bytes` of WAL (PostgreSQL only): the next
    /// batch is at most the rows that fit in the WAL budget.
    pub fn observe_wal(&mut self, rows: u64, bytes: u64) {
        if rows == 0 {
            return;
        }
        let now = bytes as f64 / rows as f64;
        self.wal_per_row = Some(smoothed(self.wal_per_row, now));
        self.settle(self.size as f64);
    }

    /// The next size: `wanted`, within the WAL budget and the bounds.
    fn settle(&mut self, wanted: f64) {
        self.size = (wanted.min(self.wal_cap()).floor() as u64).clamp(self.min, self.max);
    }

    /// The rows that fit in the WAL budget, unbounded until a batch's WAL is known.
    fn wal_cap(&self) -> f64 {
        match self.wal_per_row {
            Some(per_row) if per_row > 0.0 => self.wal_budget as f64 / per_row,
            _ => f64::MAX,
        }
    }
}

/// The moving average after one more batch's figure.
fn smoothed(average: Option<f64>, now: f64) -> f64 {
    average.map_or(now, |avg| SMOOTHING * now + (1.0 - SMOOTHING) * avg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A budget no batch reaches.
    const NO_WAL: u64 = u64::MAX;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_fast_table_grows_by_at_most_half_a_batch_at_a_time_up_to_the_max() {
        let mut s = Sizer::new(1000, 10, 5000, ms(100), NO_WAL);
        let mut sizes = Vec::new();
        for _ in 0..6 {
            let rows = s.size();
            s.observe(rows, ms(1)); // 100× faster than the target
            sizes.push(s.size());
        }
        assert_eq!(sizes, [1500, 2250, 3375, 5000, 5000, 5000]);
    }

    #[test]
    fn sizes_settle_where_a_batch_takes_the_target() {
        let mut s = Sizer::new(100, 10, 1_000_000, ms(100), NO_WAL);
        // 20 µs per row: 5,000 rows take 100 ms.
        for _ in 0..30 {
            let rows = s.size();
            s.observe(rows, Duration::from_micros(20 * rows));
        }
        assert!((4900..=5000).contains(&s.size()), "{}", s.size());
    }

    #[test]
    fn a_batch_far_over_the_target_shrinks_the_next_at_once() {
        let mut s = Sizer::new(4000, 10, 50_000, ms(100), NO_WAL);
        s.observe(4000, ms(80));
        let before = s.size();
        s.observe(before, ms(1000)); // ten times the target
        assert_eq!(s.size(), before / 10);
    }

    #[test]
    fn the_minimum_holds_even_when_every_row_is_slow() {
        let mut s = Sizer::new(100, 10, 1000, ms(100), NO_WAL);
        s.observe(100, Duration::from_secs(60));
        assert_eq!(s.size(), 10);
        s.observe(0, Duration::from_secs(60));
        assert_eq!(s.size(), 10, "an empty batch teaches nothing");
    }

    #[test]
    fn a_batch_writes_at_most_the_wal_budget_and_grows_again_within_it() {
        let mut s = Sizer::new(1000, 10, 50_000, ms(100), 1 << 20);
        // 500 bytes of WAL a row: 1 MB holds 2,097 rows, though the time target allows 50,000.
        let mut sizes = Vec::new();
        for _ in 0..5 {
            let rows = s.size();
            s.observe(rows, ms(1));
            s.observe_wal(rows, rows * 500);
            sizes.push(s.size());
        }
        assert_eq!(sizes, [1500, 2097, 2097, 2097, 2097]);
        // Rows that write less WAL (a `where` that skips most of them) let batches grow back.
        for _ in 0..3 {
            let rows = s.size();
            s.observe(rows, ms(1));
            s.observe_wal(rows, rows * 50);
        }
        assert!(s.size() > 4000, "{}", s.size());
    }

    #[test]
    fn the_wal_budget_never_goes_below_the_minimum() {
        let mut s = Sizer::new(100, 10, 1000, ms(100), 1024);
        s.observe(100, ms(1));
        s.observe_wal(100, 100 * 8192);
        assert_eq!(s.size(), 10);
    }
}
