//! The runbook's two runs on a scratch database, exactly as an operator would start them:
//! `run --headless --yes`, then `rollback --headless --yes`, each with a signed audit log of
//! its own; then each step's duration and outcome as those logs recorded them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Interrupt, RehearseOptions};
use crate::commands::exit;
use crate::commands::run::{RunOptions, run};
use crate::db::DbUrl;
use crate::journal::read_entries;
use crate::model::rehearsal::RehearsedStep;
use crate::model::{Branch, Runbook};

/// One run of the rehearsal.
pub struct BranchRun {
    pub branch: Branch,
    pub code: i32,
    pub log: PathBuf,
    pub duration_ms: u64,
}

impl BranchRun {
    /// The main branch must complete (exit 0); a run started on the rollback branch ends
    /// rolled back (exit 1) when every rollback step succeeds.
    pub fn expected_code(&self) -> i32 {
        match self.branch {
            Branch::Main => 0,
            Branch::Rollback => 1,
        }
    }

    pub fn passed(&self) -> bool {
        self.code == self.expected_code()
    }
}

/// Runs the main branch, then (when the runbook has one) the rollback branch; stops after a
/// run refused as invalid input. None when interrupted by Ctrl-C.
pub async fn run_branches(
    runbook: &Runbook,
    opts: &RehearseOptions,
    url: &DbUrl,
    audit_dir: &Path,
    interrupt: &mut Interrupt,
) -> Option<Vec<BranchRun>> {
    let mut branches = vec![Branch::Main];
    if !runbook.rollback.is_empty() {
        branches.push(Branch::Rollback);
    }
    let mut runs = Vec::new();
    for branch in branches {
        if interrupt.pressed() {
            return None;
        }
        let name = match branch {
            Branch::Main => "main",
            Branch::Rollback => "rollback",
        };
        // `<runbook name>-*.jsonl`: the rollback run reads the main run's snapshots from it.
        let log = audit_dir.join(format!("{}-{name}.jsonl", runbook.name));
        say!("rehearse: {name} branch, headless with --yes; audit log {}", log.display());
        let options = RunOptions {
            runbook: runbook.path.clone(),
            database_url: Some(url.expose_url().to_string()),
            operator: opts.operator.clone(),
            role: opts.role.clone(),
            audit_log: Some(log.clone()),
            key: opts.key.clone(),
            set: opts.set.clone(),
            headless: true,
            yes: true,
            answers: None,
            // The scratch database is the place to run every step for real.
            dry_run: false,
            restart_backfill: Vec::new(),
        };
        let clock = Instant::now();
        let code = run(options, branch).await;
        let duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The run saw the Ctrl-C first and recorded it in its audit log.
        if code == exit::INTERRUPTED || interrupt.pressed() {
            return None;
        }
        runs.push(BranchRun { branch, code, log, duration_ms });
        if code == exit::INVALID {
            break;
        }
    }
    Some(runs)
}

/// The steps of `run`'s branch as its audit log recorded them, in runbook order: the time
/// their actions took (every attempt) and their last status. Steps the run never reached are
/// left out.
pub fn steps(runbook: &Runbook, run: &BranchRun) -> Vec<RehearsedStep> {
    let Ok(entries) = read_entries(&run.log) else { return Vec::new() };
    let mut durations: BTreeMap<&str, u64> = BTreeMap::new();
    let mut outcomes: BTreeMap<&str, &str> = BTreeMap::new();
    for entry in &entries {
        let Some(step) = entry["step"].as_str() else { continue };
        match entry["kind"].as_str() {
            Some("step.finished") => {
                *durations.entry(step).or_default() += entry["duration_ms"].as_u64().unwrap_or_default();
            }
            Some("step.status") => {
                outcomes.insert(step, entry["status"].as_str().unwrap_or_default());
            }
            _ => {}
        }
    }
    runbook
        .branch(run.branch)
        .iter()
        .filter_map(|step| {
            let outcome = outcomes.get(step.id.as_str())?;
            Some(RehearsedStep {
                id: step.id.clone(),
                branch: run.branch,
                duration_ms: durations.get(step.id.as_str()).copied().unwrap_or_default(),
                outcome: outcome.to_string(),
            })
        })
        .collect()
}
