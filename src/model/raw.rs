//! The YAML shapes exactly as written, before validation. Unknown keys are errors: they are
//! usually typos that would silently skip a safety check.
//!
//! Steps and checklist items stay `Value`s here and are deserialised one by one, so that a
//! broken step does not hide the problems of the others. Required strings default to empty
//! and are checked by validation, which names the step they are missing from.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml::Value;

use super::FailurePolicy;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a runbook: a map with name, title and steps")]
pub struct RawRunbook {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    pub change: Option<String>,
    pub environment: Option<String>,
    pub window: Option<RawWindow>,
    pub migrations: Option<RawMigrations>,
    #[serde(default)]
    pub vars: BTreeMap<String, Scalar>,
    pub on_failure: Option<FailurePolicy>,
    pub lock_timeout: Option<Scalar>,
    pub statement_timeout: Option<Scalar>,
    pub lock_retries: Option<u32>,
    #[serde(default)]
    pub steps: Vec<Value>,
    #[serde(default)]
    pub rollback: Vec<Value>,
}

/// One folder, or one per dialect when the SQL differs between databases.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a folder, or a map from dialect to folder")]
pub enum RawMigrations {
    One(String),
    PerDialect(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with start and duration")]
pub struct RawWindow {
    pub start: String,
    pub duration: Scalar,
}

/// Every kind key is optional here so that "no kind" and "two kinds" can be reported
/// with the step's position instead of serde's generic message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a step: a map with id, title and one kind")]
pub struct RawStep {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub manual: Option<String>,
    pub command: Option<String>,
    pub check: Option<RawCheck>,
    pub snapshot: Option<BTreeMap<String, String>>,
    pub migrate: Option<RawMigrate>,
    pub revert: Option<RawRevert>,
    pub gate: Option<String>,
    pub backfill: Option<super::backfill::RawBackfill>,
    pub role: Option<String>,
    pub timeout: Option<Scalar>,
    pub target_time: Option<Scalar>,
    pub on_failure: Option<FailurePolicy>,
    pub lock_timeout: Option<Scalar>,
    pub statement_timeout: Option<Scalar>,
    pub lock_retries: Option<u32>,
}

/// The step kind keys, in the order the documentation lists them.
pub const KINDS: &[&str] = &["manual", "command", "check", "snapshot", "migrate", "revert", "gate", "backfill"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with sql and expect")]
pub struct RawCheck {
    pub sql: String,
    pub expect: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with an optional `to` version")]
pub struct RawMigrate {
    pub to: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with a `to` version")]
pub struct RawRevert {
    pub to: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a checklist: a map with name, title and items")]
pub struct RawChecklist {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub items: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a checklist item: a map with id and text")]
pub struct RawItem {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub text: String,
    #[serde(default = "yes")]
    pub required: bool,
    pub check: Option<RawCheck>,
}

fn yes() -> bool {
    true
}

/// (For untagged enums serde's whole message is the `expecting` text.)
///
/// A YAML scalar kept as text: `expect: 0` and `expect: "= 0"` both arrive as strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "expected a single value: a number, a string or a boolean")]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Scalar {
    pub fn into_text(self) -> String {
        match self {
            Scalar::Int(v) => v.to_string(),
            Scalar::Float(v) => v.to_string(),
            Scalar::Bool(v) => v.to_string(),
            Scalar::Text(v) => v,
        }
    }
}
