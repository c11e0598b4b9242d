//! The legacy `external_order` table of the demo, and its rows: pure and deterministic, no IO.
//!
//! Legacy references come in the formats the seeds describe (heterogeneous historical data):
//! `EXT-0387420489`, `ext_387420489`, `#387420489`, bare zero-padded digits, with mixed-case
//! prefixes, surrounding spaces, NULLs, empty and blank strings. Every row carries its own order
//! number, so no two references collide after normalisation, neither as `lower(trim(ref))` nor
//! once prefix and zero padding are stripped: the shipped runbook's pre-checks pass on this data,
//! and `collision_sql` adds the rows that make them fail.

use std::fmt::Write as _;

/// Rows `runsheet demo` creates unless told otherwise.
pub const DEFAULT_ROWS: u64 = 300_000;

/// The seed behind `insert_statements` and `collision_sql`.
pub const DEFAULT_SEED: u64 = 0x2291_5eed;

/// Order numbers are unique below this many rows; beyond it they repeat.
pub const MAX_ROWS: u64 = ORDER_NUMBERS - 1;

/// Order numbers live in `0..ORDER_NUMBERS`: at most 9 digits, so they fit a 32-bit INTEGER
/// on every database (the runbook's collision check casts them).
const ORDER_NUMBERS: u64 = 1_000_000_000;
/// Coprime with `ORDER_NUMBERS` (it is 3^18), so `id * MULTIPLIER + offset` is a bijection
/// on ids modulo `ORDER_NUMBERS` that does not look sequential.
const MULTIPLIER: u64 = 387_420_489;

/// 2016-01-01T00:00:00Z; rows are 15 minutes apart on average, oldest first.
const FIRST_CREATED_AT: i64 = 1_451_606_400;
const SECONDS_PER_ROW: u64 = 900;

const COLUMNS: &str = "id, legacy_ref, customer_email, amount_cents, currency, status, created_at";

/// `CREATE TABLE external_order` for `dialect` (`postgres`, `mysql` or `sqlite`); None for
/// another name. The types differ where a portable one would mislead: MariaDB's TIMESTAMP
/// converts time zones and, on older servers, silently updates itself on every UPDATE (a
/// backfill would rewrite `created_at`), so it gets DATETIME; SQLite's rowid is the id.
pub fn schema_sql(dialect: &str) -> Option<String> {
    let (id, created_at) = match dialect {
        "postgres" => ("BIGINT", "TIMESTAMP"),
        "mysql" => ("BIGINT", "DATETIME"),
        "sqlite" => ("INTEGER", "TIMESTAMP"),
        _ => return None,
    };
    Some(format!(
        "CREATE TABLE external_order (
    id {id} PRIMARY KEY,
    legacy_ref VARCHAR(100),
    customer_email VARCHAR(255) NOT NULL,
    amount_cents BIGINT NOT NULL,
    currency CHAR(3) NOT NULL,
    status VARCHAR(16) NOT NULL,
    created_at {created_at} NOT NULL
)"
    ))
}

/// One legacy row. Text values are ASCII without quotes or backslashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyOrder {
    pub id: u64,
    pub legacy_ref: Option<String>,
    pub customer_email: String,
    pub amount_cents: u64,
    pub currency: &'static str,
    pub status: &'static str,
    /// `YYYY-MM-DD HH:MM:SS`, UTC: a literal every dialect reads as a timestamp.
    pub created_at: String,
}

/// Rows with ids `1..=rows`. Each row depends only on `seed` and its id.
pub fn orders(rows: u64, seed: u64) -> impl Iterator<Item = LegacyOrder> {
    (1..=rows).map(move |id| LegacyOrder::generate(seed, id))
}

/// Multi-row INSERTs of `rows` rows (`DEFAULT_SEED`), `rows_per_statement` rows each
/// (at least one), valid on PostgreSQL, MariaDB and SQLite.
pub fn insert_statements(rows: u64, rows_per_statement: usize) -> impl Iterator<Item = String> {
    let chunk = rows_per_statement.max(1) as u64;
    (0..rows.div_ceil(chunk)).map(move |i| {
        let first = i * chunk + 1;
        let last = (first + chunk - 1).min(rows);
        insert_sql((first..=last).map(|id| LegacyOrder::generate(DEFAULT_SEED, id)))
    })
}

/// Two rows more (ids `rows + 1` and `rows + 2`) whose legacy references are the same order
/// number spelt `EXT-…` and ` ext-… `: they collide after normalisation, so the runbook's
/// collision pre-checks fail.
pub fn collision_sql(rows: u64) -> String {
    let number = order_number(DEFAULT_SEED, rows + 1);
    let spellings = [format!("EXT-{number:010}"), format!(" ext-{number:010} ")];
    insert_sql(
        spellings.into_iter().zip(rows + 1..).map(|(spelling, id)| LegacyOrder {
            legacy_ref: Some(spelling),
            ..LegacyOrder::generate(DEFAULT_SEED, id)
        }),
    )
}

fn insert_sql(rows: impl Iterator<Item = LegacyOrder>) -> String {
    let mut sql = format!("INSERT INTO external_order ({COLUMNS}) VALUES ");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        row.push_values(&mut sql);
    }
    sql
}

/// The order number behind a row's legacy reference: distinct for distinct ids below
/// `ORDER_NUMBERS`, and different from seed to seed.
fn order_number(seed: u64, id: u64) -> u64 {
    ((u128::from(id) * u128::from(MULTIPLIER) + u128::from(seed % ORDER_NUMBERS)) % u128::from(ORDER_NUMBERS)) as u64
}

impl LegacyOrder {
    fn generate(seed: u64, id: u64) -> Self {
        let mut rng = SplitMix64(seed ^ id.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let legacy_ref = legacy_ref(order_number(seed, id), &mut rng);
        let customer_email = format!(
            "customer{:06}@{}",
            rng.below(200_000),
            pick(&mut rng, &[("example.com", 5), ("example.org", 2), ("example.de", 2), ("example.fr", 1)])
        );
        let amount_cents = 199 + rng.below(250_000);
        let currency = pick(&mut rng, &[("EUR", 12), ("CHF", 3), ("GBP", 2), ("USD", 3)]);
        let status =
            pick(&mut rng, &[("pending", 5), ("paid", 15), ("shipped", 60), ("cancelled", 12), ("refunded", 8)]);
        let seconds = id.saturating_mul(SECONDS_PER_ROW).saturating_add(rng.below(SECONDS_PER_ROW));
        let created_at = i64::try_from(seconds)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(FIRST_CREATED_AT.saturating_add(s), 0))
            .unwrap_or_default()
            .naive_utc()
            .to_string();
        LegacyOrder { id, legacy_ref, customer_email, amount_cents, currency, status, created_at }
    }

    fn push_values(&self, sql: &mut String) {
        let _ = write!(sql, "({}, ", self.id);
        match &self.legacy_ref {
            Some(r) => push_text(sql, r),
            None => sql.push_str("NULL"),
        }
        sql.push_str(", ");
        push_text(sql, &self.customer_email);
        let _ = write!(sql, ", {}, ", self.amount_cents);
        push_text(sql, self.currency);
        sql.push_str(", ");
        push_text(sql, self.status);
        sql.push_str(", ");
        push_text(sql, &self.created_at);
        sql.push(')');
    }
}

/// A standard SQL string literal. Quotes are doubled; generated text has no backslash, which
/// MariaDB would read as an escape.
fn push_text(sql: &mut String, text: &str) {
    sql.push('\'');
    for (i, part) in text.split('\'').enumerate() {
        if i > 0 {
            sql.push_str("''");
        }
        sql.push_str(part);
    }
    sql.push('\'');
}

/// A legacy reference in one of the historical formats, per thousand rows:
/// 30 NULL, 15 empty, 5 blank, 400 `EXT-` + 10 padded digits, 200 `ext_` + digits,
/// 170 `#` + digits, 180 bare padded digits; prefixes in mixed case, 6 % with spaces around.
fn legacy_ref(number: u64, rng: &mut SplitMix64) -> Option<String> {
    let form = rng.below(1000);
    let text = match form {
        0..30 => return None,
        30..45 => return Some(String::new()),
        45..50 => return Some(" ".repeat(1 + rng.below(3) as usize)),
        50..450 => format!("{}{number:010}", prefix_case(rng, "EXT-")),
        450..650 => format!("{}{number}", prefix_case(rng, "ext_")),
        650..820 => format!("#{number}"),
        _ => format!("{number:010}"),
    };
    Some(match rng.below(100) {
        0..2 => format!(" {text}"),
        2..4 => format!("{text}  "),
        4..6 => format!("  {text} "),
        _ => text,
    })
}

/// Mostly as the old system wrote it, sometimes lower or upper case, sometimes `Ext`.
fn prefix_case(rng: &mut SplitMix64, usual: &str) -> String {
    match rng.below(10) {
        0..7 => usual.to_string(),
        7 => usual.to_ascii_lowercase(),
        8 => usual.to_ascii_uppercase(),
        _ => format!("Ext{}", &usual[3..]),
    }
}

fn pick(rng: &mut SplitMix64, weighted: &[(&'static str, u64)]) -> &'static str {
    let total: u64 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (value, weight) in weighted {
        if roll < *weight {
            return value;
        }
        roll -= weight;
    }
    weighted[0].0
}

/// SplitMix64 (Steele, Lea, Flood 2014): a few lines, statistically fine for demo data, and
/// its output is fixed forever, which a crate's `StdRng` does not promise across versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for n far below 2^64.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
