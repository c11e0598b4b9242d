//! The `backfill` step kind: a data change done in short keyset batches (see `crate::backfill`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::raw::Scalar;
use super::source::Site;
use super::template::is_var_name;
use super::{Diagnostic, Template};

/// Defaults, chosen for production tables under load (README "Backfills").
pub const DEFAULT_BATCH_SIZE: u64 = 1000;
pub const DEFAULT_MIN_BATCH_SIZE: u64 = 10;
pub const DEFAULT_MAX_BATCH_SIZE: u64 = 50_000;
/// A batch holds its row locks this long: the application's writes to those rows wait as long.
pub const DEFAULT_TARGET_BATCH_TIME: Duration = Duration::from_millis(100);
/// A PostgreSQL batch writes at most about this much WAL: PostgreSQL's own default
/// `wal_writer_flush_after`, the chunk its WAL writer flushes in anyway.
pub const DEFAULT_MAX_BATCH_WAL: u64 = 1024 * 1024;
pub const DEFAULT_MAX_RETRIES: u32 = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct Backfill {
    /// The table, optionally schema-qualified; a vetted identifier.
    pub table: String,
    /// The key column(s) the batches page through, in index order: unique and not null.
    pub key: Vec<String>,
    /// The `SET` clause of each batch's UPDATE, as written.
    pub set: String,
    /// Which rows of each batch's key range to update, as written (`where:`).
    pub filter: Option<String>,
    pub batch_size: u64,
    pub min_batch_size: u64,
    pub max_batch_size: u64,
    pub target_batch_time: Duration,
    /// Bytes of WAL a batch may write on PostgreSQL: each commit of the application that lands
    /// during a batch flushes the batch's WAL with its own (README "Backfills").
    pub max_batch_wal: u64,
    /// A pause between two batches, to leave room to the application.
    pub sleep: Option<Duration>,
    /// A query returning true while the backfill must wait (replication lag, load).
    pub pause_when: Option<Template>,
    /// Transient errors (lock timeout, deadlock, lost connection) retried per batch.
    pub max_retries: u32,
    /// Estimate only, write nothing.
    pub dry_run: bool,
}

impl Backfill {
    /// SHA-256 over what decides which rows change and how: the checkpoint of a backfill whose
    /// definition changed must not be resumed. Batch sizing and throttling may change freely.
    pub fn definition_hash(&self) -> String {
        let definition = serde_json::json!({
            "table": self.table, "key": self.key, "set": self.set.trim(), "where": self.filter.as_deref().map(str::trim),
        });
        hex::encode(Sha256::digest(definition.to_string().as_bytes()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a backfill: a map with table, key and set")]
pub struct RawBackfill {
    #[serde(default)]
    pub table: String,
    pub key: Option<RawKey>,
    #[serde(default)]
    pub set: String,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub batch_size: Option<Scalar>,
    pub min_batch_size: Option<Scalar>,
    pub max_batch_size: Option<Scalar>,
    pub target_batch_time: Option<Scalar>,
    pub max_batch_wal: Option<Scalar>,
    pub sleep: Option<Scalar>,
    pub pause_when: Option<String>,
    pub max_retries: Option<Scalar>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a column name or a list of column names")]
pub enum RawKey {
    One(String),
    Many(Vec<String>),
}

/// A table or column name: letters, digits and `_`, one optional `schema.` prefix for tables.
/// Names go into SQL text, so nothing else is accepted.
pub fn is_sql_name(name: &str, qualified: bool) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    (parts.len() == 1 || (qualified && parts.len() == 2)) && parts.iter().all(|p| is_var_name(p))
}

/// Validation of the fields that need no other context than the runbook's variables; the
/// caller validates `pause_when` as a query.
pub(super) struct Fields<'a> {
    pub site: Site<'a>,
    pub path: &'a str,
    pub vars: &'a BTreeMap<String, String>,
    pub diags: &'a mut Vec<Diagnostic>,
}

impl Fields<'_> {
    pub fn check(&mut self, raw: &RawBackfill) -> Option<Backfill> {
        let mut ok = true;
        if !is_sql_name(&raw.table, true) {
            let message = format!(
                "`table` must be a table name (letters, digits, _, optionally schema.table), got `{}`",
                raw.table
            );
            self.push("table", message);
            ok = false;
        }
        let key = match &raw.key {
            None => {
                self.push_key("", "`backfill` needs `key`: the column(s) of a unique, not-null key, e.g. `key: id`");
                ok = false;
                Vec::new()
            }
            Some(RawKey::One(k)) => vec![k.clone()],
            Some(RawKey::Many(ks)) => ks.clone(),
        };
        if raw.key.is_some() && key.is_empty() {
            self.push("key", "`key` lists no column");
            ok = false;
        }
        for (i, column) in key.iter().enumerate() {
            if !is_sql_name(column, false) {
                let at = if matches!(raw.key, Some(RawKey::Many(_))) { format!("key.{i}") } else { "key".into() };
                self.push(&at, format!("`{column}` is not a column name (letters, digits and _)"));
                ok = false;
            }
        }
        if raw.set.trim().is_empty() {
            self.push_key("", "`backfill` needs `set`: the SET clause of each batch's UPDATE");
            ok = false;
        }
        for (name, text) in [("set", Some(&raw.set)), ("where", raw.filter.as_ref())] {
            if text.is_some_and(|t| t.contains("${")) {
                let message = format!(
                    "`{name}` is SQL pasted into each batch's UPDATE and cannot hold `${{…}}` references: \
                     values reach SQL only as bound parameters"
                );
                self.push(name, message);
                ok = false;
            }
        }
        let batch_size = self.count("batch_size", raw.batch_size.as_ref(), DEFAULT_BATCH_SIZE);
        let min_batch_size = self.count("min_batch_size", raw.min_batch_size.as_ref(), DEFAULT_MIN_BATCH_SIZE);
        let max_batch_size = self.count("max_batch_size", raw.max_batch_size.as_ref(), DEFAULT_MAX_BATCH_SIZE);
        let max_retries = self.count("max_retries", raw.max_retries.as_ref(), u64::from(DEFAULT_MAX_RETRIES));
        let target_batch_time = self.duration("target_batch_time", raw.target_batch_time.as_ref());
        let sleep = self.duration("sleep", raw.sleep.as_ref());
        let max_batch_wal = self.bytes("max_batch_wal", raw.max_batch_wal.as_ref(), DEFAULT_MAX_BATCH_WAL);
        let (Some(batch_size), Some(min_batch_size), Some(max_batch_size), Some(max_retries)) =
            (batch_size, min_batch_size, max_batch_size, max_retries)
        else {
            return None;
        };
        if !(min_batch_size <= batch_size && batch_size <= max_batch_size) {
            let message = format!(
                "batch sizes must satisfy min_batch_size ({min_batch_size}) <= batch_size ({batch_size}) <= \
                 max_batch_size ({max_batch_size})"
            );
            self.push("batch_size", message);
            ok = false;
        }
        let Ok(max_retries) = u32::try_from(max_retries) else {
            self.push("max_retries", "`max_retries` is too large");
            return None;
        };
        let (Some(target_batch_time), Some(sleep), Some(max_batch_wal)) = (target_batch_time, sleep, max_batch_wal)
        else {
            return None;
        };
        ok.then(|| Backfill {
            table: raw.table.clone(),
            key,
            set: raw.set.trim().to_string(),
            filter: raw.filter.as_ref().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()),
            batch_size,
            min_batch_size,
            max_batch_size,
            target_batch_time: target_batch_time.unwrap_or(DEFAULT_TARGET_BATCH_TIME),
            max_batch_wal,
            sleep,
            pause_when: None,
            max_retries,
            dry_run: raw.dry_run,
        })
    }

    fn push(&mut self, key: &str, message: impl Into<String>) {
        self.diags.push(self.site.diag(&format!("{}.{key}", self.path), message));
    }

    fn push_key(&mut self, key: &str, message: impl Into<String>) {
        let path = if key.is_empty() { self.path.to_string() } else { format!("{}.{key}", self.path) };
        self.diags.push(self.site.key_diag(&path, message));
    }

    /// The text of a value, `${var}` replaced by the runbook variable (e.g. `batch_size: ${batch_size}`).
    fn text(&mut self, key: &str, value: &Scalar) -> Option<String> {
        let text = value.clone().into_text();
        let trimmed = text.trim();
        let Some(name) = trimmed.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
            return Some(trimmed.to_string());
        };
        match self.vars.get(name) {
            Some(v) => Some(v.trim().to_string()),
            None => {
                self.push(key, format!("`${{{name}}}`: the runbook declares no such variable in `vars`"));
                None
            }
        }
    }

    /// A whole number of at least 1 (0 for `max_retries`).
    fn count(&mut self, key: &str, value: Option<&Scalar>, default: u64) -> Option<u64> {
        let Some(value) = value else { return Some(default) };
        let text = self.text(key, value)?;
        let least = if key == "max_retries" { 0 } else { 1 };
        match text.replace('_', "").parse::<u64>() {
            Ok(n) if n >= least => Some(n),
            _ => {
                self.push(key, format!("`{key}` must be a whole number of at least {least}, got `{text}`"));
                None
            }
        }
    }

    /// A size in bytes, with PostgreSQL's units: `1MB`, `256kB`, `65536` (kB = 1024 bytes).
    fn bytes(&mut self, key: &str, value: Option<&Scalar>, default: u64) -> Option<u64> {
        let Some(value) = value else { return Some(default) };
        let text = self.text(key, value)?;
        match parse_bytes(&text) {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.push(key, format!("`{key}` must be a size like 1MB, 256kB or 65536 (bytes), got `{text}`"));
                None
            }
        }
    }

    /// Some(None) when absent.
    fn duration(&mut self, key: &str, value: Option<&Scalar>) -> Option<Option<Duration>> {
        let Some(value) = value else { return Some(None) };
        let text = self.text(key, value)?;
        match humantime::parse_duration(&text) {
            Ok(d) if !d.is_zero() => Some(Some(d)),
            _ => {
                self.push(key, format!("`{key}` must be a duration like 100ms, 2s or 1m, got `{text}`"));
                None
            }
        }
    }
}

fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let unit = match text[digits..].trim() {
        "" | "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_read_with_postgresql_units() {
        assert_eq!(parse_bytes("65536"), Some(65536));
        assert_eq!(parse_bytes("256kB"), Some(256 * 1024));
        assert_eq!(parse_bytes("1 MB"), Some(1 << 20));
        assert_eq!(parse_bytes("2GB"), Some(2 << 30));
        assert_eq!(parse_bytes("1mb"), None, "units are case-sensitive, as in postgresql.conf");
        assert_eq!(parse_bytes("MB"), None);
        assert_eq!(parse_bytes("1.5MB"), None);
        assert_eq!(parse_bytes("99999999999999GB"), None, "overflow");
    }
}
