//! The rehearsal as plain tables: one row per migration with each check, then what failed
//! and why; one row per step the runbook's runs reached, then how each run ended.

use std::fmt::Write as _;

use super::checks::{CHECKS, Rehearsed};
use super::runs::BranchRun;
use crate::model::rehearsal::{CheckResult, Outcome, RehearsedStep};
use crate::model::{Branch, MigrationSet};

pub fn migrations(set: &MigrationSet, rehearsed: &Rehearsed) -> String {
    let mut out = String::new();
    let dir = set.dir.display();
    if let Some(why) = &rehearsed.refused {
        let _ = writeln!(out, "migrations {dir}: cannot rehearse: {why}");
        return out;
    }
    let pending = rehearsed.migrations.len();
    let _ = writeln!(out, "migrations {dir}: {pending} to rehearse, {} applied before", rehearsed.applied_before);
    if pending == 0 {
        return out;
    }
    let mut header = vec!["version", "description"];
    header.extend(CHECKS);
    let rows = rehearsed.migrations.iter().map(|m| {
        let mut row = vec![m.version.to_string(), m.description.clone()];
        row.extend(CHECKS.iter().map(|name| cell(m.checks.iter().find(|c| c.check == *name))));
        row
    });
    out.push_str(&table(&header, rows.collect()));
    for m in &rehearsed.migrations {
        for check in m.checks.iter().filter(|c| !c.detail.is_empty()) {
            let _ = writeln!(out, "{} {}: {}", m.version, check.check, word(check.outcome));
            for line in &check.detail {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

pub fn runs(runs: &[BranchRun], steps: &[RehearsedStep]) -> String {
    let rows = steps
        .iter()
        .map(|s| vec![s.id.clone(), branch(s.branch).into(), s.outcome.clone(), format!("{} ms", s.duration_ms)])
        .collect();
    let mut out = table(&["step", "branch", "outcome", "duration"], rows);
    for run in runs {
        let verdict = if run.passed() {
            format!("exit {} as expected", run.code)
        } else {
            format!("exit {}, expected {}: FAILED", run.code, run.expected_code())
        };
        let _ = writeln!(
            out,
            "{} branch: {verdict}, {} ms, audit log {}",
            branch(run.branch),
            run.duration_ms,
            run.log.display()
        );
    }
    out
}

fn branch(branch: Branch) -> &'static str {
    match branch {
        Branch::Main => "main",
        Branch::Rollback => "rollback",
    }
}

fn cell(check: Option<&CheckResult>) -> String {
    match check {
        None | Some(CheckResult { outcome: Outcome::NotRun, .. }) => "-".into(),
        Some(c) => match c.duration_ms {
            Some(ms) => format!("{} {ms} ms", word(c.outcome)),
            None => word(c.outcome).into(),
        },
    }
}

fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Warning => "warning",
        Outcome::Failed => "FAILED",
        Outcome::NotRun => "not run",
    }
}

/// Columns padded to their widest cell, headers in capitals.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_uppercase()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rows = vec![vec!["1".into(), "create table".into()], vec!["20261128".into(), "index".into()]];
        assert_eq!(table(&["version", "what"], rows), "VERSION   WHAT\n1         create table\n20261128  index\n");
    }

    #[test]
    fn a_cell_says_the_outcome_and_how_long() {
        let check = |outcome, duration_ms| CheckResult { check: "up".into(), outcome, duration_ms, detail: vec![] };
        assert_eq!(cell(Some(&check(Outcome::Ok, Some(3)))), "ok 3 ms");
        assert_eq!(cell(Some(&check(Outcome::Failed, Some(12)))), "FAILED 12 ms");
        assert_eq!(cell(Some(&check(Outcome::NotRun, None))), "-");
        assert_eq!(cell(None), "-");
    }
}
