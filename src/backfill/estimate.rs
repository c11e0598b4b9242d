//! The dry run of a backfill: how many rows it would visit and change, and how long it would
//! take, measured on one sample batch inside a transaction that is rolled back.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::thousands;
use crate::db::{Db, DbError, Keyset};
use crate::model::Backfill;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// Rows in the key range (up to the highest key now).
    pub rows_to_visit: u64,
    /// Of those, rows matching `where`.
    pub candidates: u64,
    pub sample_rows: u64,
    /// Rows the sample batch changed before it was rolled back.
    pub sample_updated: u64,
    pub sample_ms: u64,
    pub batches: u64,
    pub projected_ms: u64,
    /// WAL the whole backfill would write, projected from the sample batch (PostgreSQL).
    pub projected_wal_bytes: Option<u64>,
}

impl Estimate {
    pub fn words(&self) -> String {
        let wal = self
            .projected_wal_bytes
            .map_or(String::new(), |bytes| format!(", writing about {} of WAL", in_units(bytes)));
        format!(
            "would visit {} rows ({} match `where`) in about {} batches, about {}{wal}; \
             a sample batch of {} rows changed {} in {} ms (rolled back)",
            thousands(self.rows_to_visit),
            thousands(self.candidates),
            thousands(self.batches),
            humantime::format_duration(Duration::from_secs(self.projected_ms.div_ceil(1000))),
            thousands(self.sample_rows),
            thousands(self.sample_updated),
            self.sample_ms
        )
    }
}

/// Bytes in kB below a megabyte, in MB above (1 kB = 1024 bytes, as PostgreSQL counts).
fn in_units(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{} kB", thousands(bytes.div_ceil(1 << 10)))
    } else {
        format!("{} MB", thousands(bytes.div_ceil(1 << 20)))
    }
}

/// Counts, samples and projects; writes nothing (the sample batch is rolled back and the
/// checkpoint table is neither created nor touched).
pub async fn estimate(db: &mut Db, spec: &Backfill) -> Result<Estimate, DbError> {
    let columns = db.key_columns(&spec.table, &spec.key).await?;
    let keyset = Keyset::new(db.dialect(), &spec.table, columns, &spec.set, spec.filter.as_deref());
    let Some(bound) = db.fetch_key(&keyset.highest(), keyset.columns()).await? else {
        return Ok(Estimate {
            rows_to_visit: 0,
            candidates: 0,
            sample_rows: 0,
            sample_updated: 0,
            sample_ms: 0,
            batches: 0,
            projected_ms: 0,
            projected_wal_bytes: None,
        });
    };
    let rows_to_visit = db.fetch_count(&keyset.count(None, &bound, false)).await?;
    let candidates = db.fetch_count(&keyset.count(None, &bound, true)).await?;
    let size = spec.batch_size;
    let sample = async {
        let began = Instant::now();
        let wal_start = db.begin_batch().await?;
        let end = db.fetch_key(&keyset.batch_end(None, &bound, size), keyset.columns()).await?;
        let rows = if end.is_some() { size } else { rows_to_visit };
        let end = end.unwrap_or_else(|| bound.clone());
        let updated = db.run(&keyset.update(None, &end)).await?;
        let took = began.elapsed();
        // A batch's WAL is written before it commits, so a rolled-back one measures it too.
        let wal_end = db.wal_position().await?;
        let wal = wal_start.zip(wal_end).map(|(start, end)| end.saturating_sub(start));
        Ok::<_, DbError>((rows, updated, took, wal))
    }
    .await;
    let rolled_back = db.rollback().await;
    let (sample_rows, sample_updated, took, sample_wal) = sample?;
    rolled_back?;
    let batches = rows_to_visit.div_ceil(sample_rows.max(1));
    let per_batch = took + spec.sleep.unwrap_or_default();
    let projected = per_batch.saturating_mul(u32::try_from(batches).unwrap_or(u32::MAX));
    Ok(Estimate {
        rows_to_visit,
        candidates,
        sample_rows,
        sample_updated,
        sample_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        batches,
        projected_ms: u64::try_from(projected.as_millis()).unwrap_or(u64::MAX),
        projected_wal_bytes: sample_wal.map(|wal| {
            let per_row = wal as f64 / sample_rows.max(1) as f64;
            (per_row * rows_to_visit as f64).round() as u64
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::in_units;

    #[test]
    fn wal_sizes_read_in_kb_then_mb() {
        assert_eq!(in_units(0), "0 kB");
        assert_eq!(in_units(80_000), "79 kB");
        assert_eq!(in_units(1 << 20), "1 MB");
        assert_eq!(in_units(465_000_000), "444 MB");
        assert_eq!(in_units(20 << 30), "20,480 MB");
    }
}
