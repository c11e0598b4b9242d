//! Loading and validating a runbook with its checklists and migrations folder. Every
//! problem is collected, so that `validate` reports them all at once, in file order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::locks::RawLocks;
use super::raw::{RawMigrations, RawRunbook, Scalar};
use super::source::{Parsed, Site, Source};
use super::steps::StepContext;
use super::template::is_var_name;
use super::{DIALECTS, Diagnostic, Diagnostics, FailurePolicy, LockPolicy, MigrationSet, Migrations, Runbook, Window};

/// Variables every run defines: usable as `${name}` without declaring them.
pub const BUILTIN_VARS: &[&str] = &["run_id", "operator", "role", "runbook"];

/// Loads `path`, applies `--set` overrides and validates everything it references.
pub fn load_runbook(path: &Path, overrides: &[(String, String)]) -> Result<Runbook, Diagnostics> {
    let mut diags = Vec::new();
    let runbook = load(path, overrides, &mut diags);
    // A checklist shared by two gates reports its problems once.
    diags.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
    diags.dedup();
    match runbook {
        Some(runbook) if diags.is_empty() => Ok(runbook),
        _ => Err(Diagnostics(diags)),
    }
}

fn load(path: &Path, overrides: &[(String, String)], diags: &mut Vec<Diagnostic>) -> Option<Runbook> {
    let source = Source::read(path, diags)?;
    let document = source.document(diags)?;
    let site = source.site();
    let Parsed { value: raw, damaged } = site.deserialize::<RawRunbook>(document, "", diags)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut hash = ContentHash::default();
    hash.add("runbook", &source.text);

    required(site, "", "name", &raw.name, &damaged, diags);
    required(site, "", "title", &raw.title, &damaged, diags);
    if raw.steps.is_empty() && !damaged.contains("steps") {
        diags.push(site.diag("steps", "the runbook has no steps"));
    }
    let vars = load_vars(&source, raw.vars, overrides, diags);
    let window = raw.window.and_then(|w| {
        let start = chrono::DateTime::parse_from_rfc3339(&w.start)
            .map_err(|e| {
                let message = format!("`{}` is not an RFC 3339 time like 2026-11-28T02:00:00+01:00: {e}", w.start);
                diags.push(site.diag("window.start", message))
            })
            .ok();
        let duration = parse_duration(site, "window.duration", w.duration, diags);
        Some(Window { start: start?, duration: duration? })
    });
    let migrations = raw.migrations.as_ref().and_then(|m| load_migrations(&source, base, m, &mut hash, diags));
    let locks = RawLocks {
        lock_timeout: raw.lock_timeout,
        statement_timeout: raw.statement_timeout,
        lock_retries: raw.lock_retries,
    }
    .resolve(site, "", LockPolicy::default(), diags);

    let cx = StepContext {
        source: &source,
        base,
        vars: &vars,
        vars_known: !damaged.contains("vars"),
        migrations: migrations.as_ref(),
        migrations_declared: raw.migrations.is_some() || damaged.contains("migrations"),
        locks,
        hash: &mut hash,
        diags,
    };
    let (steps, rollback) = cx.load(raw.steps, raw.rollback);

    Some(Runbook {
        path: path.to_path_buf(),
        name: raw.name,
        title: raw.title,
        change: raw.change,
        environment: raw.environment,
        window,
        migrations,
        vars,
        on_failure: raw.on_failure.unwrap_or(FailurePolicy::Ask),
        steps,
        rollback,
        content_hash: hash.finish(),
    })
}

/// Reports `key` of the map at `parent` when it is missing or blank (unless its value was
/// already reported as ill-typed).
pub(super) fn required(
    site: Site,
    parent: &str,
    key: &str,
    value: &str,
    damaged: &std::collections::HashSet<String>,
    diags: &mut Vec<Diagnostic>,
) {
    if value.trim().is_empty() && !damaged.contains(key) {
        let path = super::positions::join(parent, key);
        diags.push(site.diag(&path, format!("`{key}` is missing or empty")));
    }
}

/// SHA-256 over the runbook, its checklists and its migrations, each labelled by the name the
/// runbook gives it, so that the hash does not depend on the directory `runsheet` runs from.
#[derive(Default)]
pub(super) struct ContentHash(Sha256);

impl ContentHash {
    pub(super) fn add(&mut self, label: &str, text: &str) {
        // Lengths make the concatenation unambiguous.
        self.0.update(format!("{}:{label}\n{}:", label.len(), text.len()));
        self.0.update(text.as_bytes());
    }

    fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

fn load_migrations(
    source: &Source,
    base: &Path,
    raw: &RawMigrations,
    hash: &mut ContentHash,
    diags: &mut Vec<Diagnostic>,
) -> Option<Migrations> {
    let site = source.site();
    let mut load_one = |path: &str, dir: &str, diags: &mut Vec<Diagnostic>| {
        let full = base.join(dir);
        if !full.is_dir() {
            let message = format!("migrations folder `{}` does not exist", full.display());
            diags.push(site.diag(path, message));
            return None;
        }
        match MigrationSet::load(&full) {
            Ok(set) => {
                for m in &set.migrations {
                    for file in [&m.up_path, &m.down_path] {
                        let name = file.file_name().unwrap_or_default().to_string_lossy();
                        let sql = if file == &m.up_path { &m.up_sql } else { &m.down_sql };
                        hash.add(&format!("{dir}/{name}"), sql);
                    }
                }
                Some(set)
            }
            Err(problems) => {
                diags.extend(problems.into_iter().map(|(file, message)| Diagnostic {
                    file,
                    position: None,
                    step: None,
                    message,
                }));
                None
            }
        }
    };
    match raw {
        RawMigrations::One(dir) => load_one("migrations", dir, diags).map(Migrations::One),
        RawMigrations::PerDialect(dirs) => {
            if dirs.is_empty() {
                diags.push(site.diag("migrations", "`migrations` names no folder"));
                return None;
            }
            let mut sets = BTreeMap::new();
            let mut complete = true;
            for (dialect, dir) in dirs {
                let path = format!("migrations.{dialect}");
                if !DIALECTS.contains(&dialect.as_str()) {
                    let message = format!("`{dialect}` is not a dialect: use {}", DIALECTS.join(", "));
                    diags.push(site.key_diag(&path, message));
                    complete = false;
                } else if let Some(set) = load_one(&path, dir, diags) {
                    sets.insert(dialect.clone(), set);
                } else {
                    complete = false;
                }
            }
            same_versions(site, &sets, diags);
            complete.then_some(Migrations::PerDialect(sets))
        }
    }
}

/// `migrate: {to: V}` must mean the same on every database, so every dialect's folder must
/// hold the same versions.
fn same_versions(site: Site, sets: &BTreeMap<String, MigrationSet>, diags: &mut Vec<Diagnostic>) {
    let versions = |set: &MigrationSet| set.migrations.iter().map(|m| m.version).collect::<BTreeSet<i64>>();
    let all: BTreeSet<i64> = sets.values().flat_map(versions).collect();
    for (dialect, set) in sets {
        let missing: Vec<String> = all.difference(&versions(set)).map(i64::to_string).collect();
        if !missing.is_empty() {
            let others: Vec<String> = sets
                .iter()
                .filter(|(d, s)| *d != dialect && versions(s).difference(&versions(set)).next().is_some())
                .map(|(d, _)| format!("`{d}`"))
                .collect();
            let message = format!(
                "the `{dialect}` folder lacks version {} that the {} folder has: every dialect needs the same versions",
                missing.join(", "),
                others.join(", ")
            );
            diags.push(site.diag(&format!("migrations.{dialect}"), message));
        }
    }
}

fn load_vars(
    source: &Source,
    declared: BTreeMap<String, Scalar>,
    overrides: &[(String, String)],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, String> {
    let site = source.site();
    let mut vars = BTreeMap::new();
    for (name, value) in declared {
        let path = format!("vars.{name}");
        if !is_var_name(&name) {
            let message = format!("variable name `{name}` must be letters, digits and `_`, and not start with a digit");
            diags.push(site.key_diag(&path, message));
        } else if BUILTIN_VARS.contains(&name.as_str()) {
            diags.push(site.key_diag(&path, format!("`{name}` is set by runsheet itself")));
        }
        vars.insert(name, value.into_text());
    }
    for (name, value) in overrides {
        match vars.get_mut(name) {
            Some(slot) => *slot = value.clone(),
            None if BUILTIN_VARS.contains(&name.as_str()) => {
                diags.push(source.file_diag(format!("--set {name}: `{name}` is set by runsheet itself")));
            }
            None => {
                diags.push(source.file_diag(format!("--set {name}: the runbook declares no such variable in `vars`")))
            }
        }
    }
    vars
}

/// `30s`, `20m`, `2h`, `1h 30m`, `100ms`; zero is refused (a zero timeout would fail every run).
pub(super) fn parse_duration(
    site: Site,
    path: &str,
    value: Scalar,
    diags: &mut Vec<Diagnostic>,
) -> Option<std::time::Duration> {
    let text = value.into_text();
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() => {
            diags.push(site.diag(path, format!("`{text}` is zero: give a duration like 30s, 20m or 2h")));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            diags.push(site.diag(path, format!("`{text}` is not a duration like 30s, 20m or 2h: {e}")));
            None
        }
    }
}
