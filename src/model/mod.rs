//! The runbook and checklist model: YAML loading with file:line:col errors, validation of
//! ids, references and the migrations folder, and the runbook's content hash.

mod backfill;
mod diagnostic;
mod expect;
mod load;
mod locks;
mod migrations;
pub(crate) mod positions;
mod raw;
pub mod rehearsal;
mod source;
mod steps;
mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

pub use backfill::{Backfill, is_sql_name};
pub use diagnostic::{Diagnostic, Diagnostics};
pub use expect::{Expect, Op, Operand};
pub use load::{BUILTIN_VARS, load_runbook};
pub use locks::{LOCKING_KINDS, LockPolicy};
pub use migrations::{FolderProblem, MigrationFile, MigrationSet, ProblemKind};
pub use template::{Part, Ref, Template};

/// What to do when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Ask the operator: retry, skip with a reason, roll back or abort.
    Ask,
    /// Take the rollback branch at once.
    Rollback,
    /// Stop the run; a human takes over.
    Abort,
}

#[derive(Debug, Clone)]
pub struct Runbook {
    pub path: PathBuf,
    pub name: String,
    pub title: String,
    pub change: Option<String>,
    pub environment: Option<String>,
    pub window: Option<Window>,
    pub migrations: Option<Migrations>,
    /// Declared variables after `--set` overrides.
    pub vars: BTreeMap<String, String>,
    pub on_failure: FailurePolicy,
    pub steps: Vec<Step>,
    pub rollback: Vec<Step>,
    /// SHA-256 over the runbook, its checklists and its migrations, in a fixed order.
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<FixedOffset>,
    pub duration: Duration,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub kind: StepKind,
    pub role: Option<String>,
    pub timeout: Option<Duration>,
    pub target_time: Option<Duration>,
    /// None: the runbook's policy applies.
    pub on_failure: Option<FailurePolicy>,
    /// The runbook's lock settings with the step's own; used by the kinds in `LOCKING_KINDS`.
    pub locks: LockPolicy,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    Manual {
        instructions: Template,
    },
    /// A shell command; runbook variables reach it as environment variables.
    Command {
        run: String,
    },
    Check(Check),
    /// Named values, each the single value of a query.
    Snapshot {
        values: Vec<(String, Template)>,
    },
    /// Apply pending migrations one at a time, up to `to` (all when None).
    Migrate {
        to: Option<i64>,
    },
    /// Revert applied migrations newest first, down to (not including) `to`; 0 reverts all.
    Revert {
        to: i64,
    },
    Gate {
        checklist: Checklist,
    },
    /// Update a table's rows in short keyset batches, resumable from a checkpoint.
    Backfill(Box<Backfill>),
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Manual { .. } => "manual",
            StepKind::Command { .. } => "command",
            StepKind::Check(_) => "check",
            StepKind::Snapshot { .. } => "snapshot",
            StepKind::Migrate { .. } => "migrate",
            StepKind::Revert { .. } => "revert",
            StepKind::Gate { .. } => "gate",
            StepKind::Backfill(_) => "backfill",
        }
    }

    /// Steps that change the database or the world, before which the audit log is signed.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            StepKind::Command { .. } | StepKind::Migrate { .. } | StepKind::Revert { .. } | StepKind::Backfill(_)
        )
    }
}

#[derive(Debug, Clone)]
pub struct Check {
    pub sql: Template,
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub struct Checklist {
    pub path: PathBuf,
    pub name: String,
    pub title: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub text: String,
    pub required: bool,
    /// Automated items are decided by a query; the others are ticked by a person.
    pub check: Option<Check>,
}

/// Database dialects, by the names runbooks use for them.
pub const DIALECTS: &[&str] = &["postgres", "mysql", "sqlite"];

/// The runbook's migrations: one folder for every database, or one folder per dialect
/// (`postgres`, `mysql`, `sqlite`) with the same versions in each.
#[derive(Debug, Clone)]
pub enum Migrations {
    One(MigrationSet),
    PerDialect(BTreeMap<String, MigrationSet>),
}

impl Migrations {
    /// The folder to use on a database of `dialect`.
    pub fn for_dialect(&self, dialect: &str) -> Option<&MigrationSet> {
        match self {
            Migrations::One(set) => Some(set),
            Migrations::PerDialect(sets) => sets.get(dialect),
        }
    }

    pub fn sets(&self) -> Vec<&MigrationSet> {
        match self {
            Migrations::One(set) => vec![set],
            Migrations::PerDialect(sets) => sets.values().collect(),
        }
    }
}

/// Which list a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    Main,
    Rollback,
}

impl Runbook {
    pub fn branch(&self, branch: Branch) -> &[Step] {
        match branch {
            Branch::Main => &self.steps,
            Branch::Rollback => &self.rollback,
        }
    }

    /// Finds a step by id in either branch.
    pub fn step(&self, id: &str) -> Option<(Branch, usize, &Step)> {
        [Branch::Main, Branch::Rollback]
            .into_iter()
            .find_map(|b| self.branch(b).iter().enumerate().find(|(_, s)| s.id == id).map(|(i, s)| (b, i, s)))
    }
}
