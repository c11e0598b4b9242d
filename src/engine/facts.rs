//! What exec reports back about a finished action: plain data, journaled and replayed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One migration applied or reverted by a `migrate` or `revert` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRun {
    pub version: i64,
    pub description: String,
    /// Hex SHA-384 of the up file, as `_sqlx_migrations.checksum` holds it.
    pub checksum: String,
    pub duration_ms: u64,
}

/// The result of an action that completed. Whether it *passed* is the engine's call (a check
/// compares its value with the expectation), not exec's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Facts {
    /// The single value of a check's query; None for SQL NULL.
    Value { value: Option<String> },
    /// The values a snapshot step took, by name.
    Snapshot { values: BTreeMap<String, Option<String>> },
    /// A shell command that ran to its end (any exit code).
    Command { exit_code: i32, output: String },
    /// Migrations applied, in order.
    Applied { migrations: Vec<MigrationRun> },
    /// Migrations reverted, newest first.
    Reverted { migrations: Vec<MigrationRun> },
    /// Values of a gate's automated checklist items, by item id; Err is the query's error.
    Checklist { values: BTreeMap<String, Result<Option<String>, String>> },
    /// A backfill that reached its last key.
    Backfill { metrics: BackfillMetrics },
    /// A dry run: what the step would have done, nothing written.
    DryRun { would: String },
}

/// What a backfill step did, for the audit log and the step's detail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillMetrics {
    /// Rows whose key range this run covered.
    pub rows_visited: u64,
    /// Rows the batches of this run changed.
    pub rows_updated: u64,
    pub batches: u64,
    /// Batches tried again after a transient error.
    pub retries: u64,
    /// Transient errors met (each one retried, or the last one failed the step).
    pub errors: u64,
    pub duration_ms: u64,
    /// This run and the earlier ones it resumed, together.
    pub total_rows_visited: u64,
    pub total_rows_updated: u64,
    /// The last key an earlier run had committed, when this run resumed after it.
    pub resumed_after: Option<String>,
}
