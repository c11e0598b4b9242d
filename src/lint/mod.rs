//! The migration linter: reads migration files with sqlparser and reports what hurts in
//! production (locks that block writes, changes the previous application version cannot live
//! with, files PostgreSQL or sqlx will refuse), each finding with its file, line, rule and fix.
//!
//! Which SQL is risky depends on the database; the rules name it (PostgreSQL-only rules run
//! when the folder is read as PostgreSQL). Running SQL stays in `db/`: nothing here connects.

mod directives;
mod report;
mod rules;
mod script;

use std::path::{Path, PathBuf};

pub use directives::Allowance;
pub use report::{plural, summary};
pub use rules::{Level, Rule};

use crate::db::Dialect;
use crate::db::migrations::{AppliedRow, no_transaction, out_of_order};
use crate::model::{FolderProblem, MigrationSet, Migrations, ProblemKind, Runbook};
use directives::{Directive, Phase};
use script::{Comment, Script};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    /// 1-based line and column of the statement at fault; None for the whole file.
    pub position: Option<(usize, usize)>,
    pub rule: Rule,
    pub message: String,
    /// The reason of the `allow` comment that silences it.
    pub allowed: Option<String>,
}

impl Finding {
    /// Error level and not allowed: `lint` exits 1, `validate` fails, `run` refuses.
    pub fn is_error(&self) -> bool {
        self.allowed.is_none() && self.rule.level() == Level::Error
    }
}

/// The dialect a folder's name says: runbooks name per-dialect folders after the dialect
/// (`migrations/postgres`, `migrations/mysql`, `migrations/sqlite`).
pub fn folder_dialect(dir: &Path) -> Option<Dialect> {
    // `.` or `..` have their name only once resolved.
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dialect_named(dir.file_name()?.to_str()?)
}

/// Every migrations folder of a runbook, each read in its dialect: the key of a per-dialect
/// map, else the folder's name; a folder for every database is read in the generic dialect.
pub fn lint_runbook(runbook: &Runbook) -> Vec<Finding> {
    let Some(migrations) = &runbook.migrations else {
        return Vec::new();
    };
    let sets: Vec<(Option<Dialect>, &MigrationSet)> = match migrations {
        Migrations::One(set) => vec![(folder_dialect(&set.dir), set)],
        Migrations::PerDialect(sets) => {
            sets.iter().map(|(name, set)| (dialect_named(name).or(folder_dialect(&set.dir)), set)).collect()
        }
    };
    let mut findings: Vec<Finding> = sets.into_iter().flat_map(|(d, set)| lint_set(set, d, None)).collect();
    sort(&mut findings);
    findings
}

/// The findings of every migration of a folder, up and down files; with the rows of
/// `_sqlx_migrations`, also the pending migrations older than the newest applied one.
fn lint_set(set: &MigrationSet, dialect: Option<Dialect>, applied: Option<&[AppliedRow]>) -> Vec<Finding> {
    let late = applied.map(|rows| out_of_order(set, rows)).unwrap_or_default();
    let newest = applied.and_then(|rows| rows.iter().map(|row| row.version).max()).unwrap_or_default();
    let mut findings = Vec::new();
    for m in &set.migrations {
        let mut whole_file = Vec::new();
        if late.iter().any(|l| l.version == m.version) {
            let message = format!("version {} is pending but {newest}, a newer one, is already applied", m.version);
            whole_file.push((Rule::OlderThanApplied, message));
        }
        findings.extend(lint_file(&m.up_path, &m.up_sql, Side::Up, dialect, whole_file));
        findings.extend(lint_file(&m.down_path, &m.down_sql, Side::Down, dialect, Vec::new()));
    }
    findings
}

/// Reads a migrations folder and lints it: the files that make no migration (a missing down
/// file, a duplicate version) are findings too. Returns the migrations read, for their count.
pub fn lint_folder(
    dir: &Path,
    dialect: Option<Dialect>,
    applied: Option<&[AppliedRow]>,
) -> std::io::Result<(MigrationSet, Vec<Finding>)> {
    let (set, problems) = MigrationSet::scan(dir)?;
    let mut findings = folder_findings(problems);
    findings.extend(lint_set(&set, dialect, applied));
    sort(&mut findings);
    Ok((set, findings))
}

/// The problems that keep files of a folder from making migrations, as findings.
fn folder_findings(problems: Vec<FolderProblem>) -> Vec<Finding> {
    problems
        .into_iter()
        .map(|p| Finding {
            file: p.file,
            position: None,
            rule: match p.kind {
                ProblemKind::DuplicateVersion => Rule::DuplicateVersion,
                ProblemKind::MissingDown => Rule::MissingDown,
                ProblemKind::Other => Rule::FolderLayout,
            },
            message: p.message,
            allowed: None,
        })
        .collect()
}

/// The well-formed `allow` comments of a migration file, wherever they stand: what the audit
/// log records when the file runs.
pub fn allowances(sql: &str) -> Vec<Allowance> {
    script::comments(sql)
        .iter()
        .filter_map(|c| match directives::parse(&c.text) {
            Some(Ok(Directive::Allow(allowance))) => Some(allowance),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Up,
    Down,
}

/// The findings of one file; `whole_file` are findings about the file as a whole (silenced by
/// an `allow` in its header).
fn lint_file(
    path: &Path,
    sql: &str,
    side: Side,
    dialect: Option<Dialect>,
    whole_file: Vec<(Rule, String)>,
) -> Vec<Finding> {
    let finding =
        |position, rule, message, allowed| Finding { file: path.to_path_buf(), position, rule, message, allowed };
    let script = match script::read(sql, dialect) {
        Ok(script) => script,
        Err(e) => {
            let message = format!("sqlparser cannot read the file ({}), so no rule was checked", e.message);
            let mut findings = vec![finding(Some((e.line, e.column)), Rule::UnparsedStatement, message, None)];
            findings.extend(whole_file.into_iter().map(|(rule, message)| finding(None, rule, message, None)));
            return findings;
        }
    };
    let mut findings = Vec::new();
    let mut bad = |c: &Comment, message: String| {
        findings.push(finding(Some((c.line, c.column)), Rule::BadDirective, message, None));
    };
    // The header's directives apply to the whole file; the others to the statement they precede or stand in.
    let mut phase = None;
    let header = allows(&script.header, true, &mut phase, &mut bad);
    let per_statement: Vec<Vec<Allowance>> =
        script.statements.iter().map(|s| allows(&s.comments, false, &mut phase, &mut bad)).collect();
    for c in &script.trailing {
        match directives::parse(&c.text) {
            None => {}
            Some(Ok(_)) => {
                bad(c, "this runsheet comment precedes no statement: put it in the header or before one".to_string())
            }
            Some(Err(message)) => bad(c, message),
        }
    }
    let allowed = |rule: Rule, local: &[Allowance]| {
        header.iter().chain(local).find(|a| a.rule == rule.id()).map(|a| a.reason.clone())
    };

    let mut cx = rules::Context {
        postgres: dialect == Some(Dialect::Postgres),
        down: side == Side::Down,
        contract: phase == Some(Phase::Contract),
        created: Default::default(),
    };
    for (statement, local) in script.statements.iter().zip(&per_statement) {
        let at = Some((statement.line, statement.column));
        let found = match &statement.ast {
            Ok(ast) => rules::check(ast, &mut cx),
            Err(e) => vec![(Rule::UnparsedStatement, format!("{e}: the rules that need its syntax were not checked"))],
        };
        let concurrently = if statement.concurrently { concurrently(&script, sql) } else { Vec::new() };
        for (rule, message) in found.into_iter().chain(concurrently) {
            findings.push(finding(at, rule, message, allowed(rule, local)));
        }
    }
    for (rule, message) in whole_file {
        findings.push(finding(None, rule, message, allowed(rule, &[])));
    }
    findings
}

/// What makes PostgreSQL refuse a CONCURRENTLY statement of this file.
fn concurrently(script: &Script, sql: &str) -> Vec<(Rule, String)> {
    use sqlparser::ast::Statement as S;
    let mut found = Vec::new();
    if !no_transaction(sql) {
        let message = "CONCURRENTLY runs inside the transaction sqlx opens around the file: the file does not \
                       start with `-- no-transaction`";
        found.push((Rule::ConcurrentlyInTransaction, message.to_string()));
    }
    let begin = script.statements.iter().find(|s| matches!(s.ast, Ok(S::StartTransaction { .. })));
    if let Some(begin) = begin {
        let message = format!("CONCURRENTLY runs inside the transaction begun at line {}", begin.line);
        found.push((Rule::ConcurrentlyInTransaction, message));
    }
    if script.statements.len() > 1 {
        let count = script.statements.len();
        let message =
            format!("CONCURRENTLY is one of {count} statements of its file: PostgreSQL runs them as one transaction");
        found.push((Rule::ConcurrentlyNotAlone, message));
    }
    found
}

/// The `allow` directives of some comments; a phase is taken from the header only, and every
/// directive that cannot be used is reported.
fn allows(
    comments: &[Comment],
    header: bool,
    phase: &mut Option<Phase>,
    bad: &mut impl FnMut(&Comment, String),
) -> Vec<Allowance> {
    let mut found = Vec::new();
    for c in comments {
        match directives::parse(&c.text) {
            None => {}
            Some(Ok(Directive::Allow(allowance))) => found.push(allowance),
            Some(Ok(Directive::Phase(p))) if header => *phase = Some(p),
            Some(Ok(Directive::Phase(_))) => {
                bad(c, "a phase belongs in the header, before the first statement".to_string())
            }
            Some(Err(message)) => bad(c, message),
        }
    }
    found
}

/// The dialect of this name (`model::DIALECTS`).
pub fn dialect_named(name: &str) -> Option<Dialect> {
    [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite].into_iter().find(|d| d.name() == name)
}

fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (&a.file, a.position, a.rule).cmp(&(&b.file, b.position, b.rule)));
}

#[cfg(test)]
mod tests;
