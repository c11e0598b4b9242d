//! The rehearsal file `runsheet rehearse` writes beside a runbook
//! (`<runbook>.rehearsal.json`): how each migration passed its checks and how long each step
//! took in the rehearsal. `runsheet run` reads it for the terminal UI's estimate of the time
//! left, but only while the runbook's content hash is the one rehearsed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Branch, Runbook};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rehearsal {
    /// The runbook's name and content hash when it was rehearsed.
    pub runbook: String,
    pub content_hash: String,
    pub dialect: String,
    /// The scratch database, in words (never a password).
    pub database: String,
    /// RFC 3339, UTC.
    pub rehearsed_at: String,
    pub runsheet: String,
    /// Every check passed and both branches ended as they should.
    pub passed: bool,
    pub migrations: Vec<RehearsedMigration>,
    /// The audit logs of the rehearsal's runs.
    pub audit_logs: Vec<PathBuf>,
    pub steps: Vec<RehearsedStep>,
}

/// One migration's checks, in the order they ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RehearsedMigration {
    pub version: i64,
    pub description: String,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `up`, `idempotent`, `down restores`, `up again`.
    pub check: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why it failed or warns, with the schema lines that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Reported, but the rehearsal still passes.
    Warning,
    Failed,
    /// An earlier check failed in a way that left nothing to check.
    NotRun,
}

/// A step as the rehearsal's audit log recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RehearsedStep {
    pub id: String,
    pub branch: Branch,
    /// The time its actions took (every attempt); 0 for a step a person answers, which
    /// `--yes` answers at once.
    pub duration_ms: u64,
    /// Its last status: `done`, `skipped`, `FAILED`, …
    pub outcome: String,
}

/// What `runsheet run` found beside the runbook.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Missing,
    Found(Rehearsal),
    /// There is a file, but it cannot be used; why, in words.
    Ignored(String),
}

impl Rehearsal {
    /// Where the rehearsal file of the runbook at `runbook` goes: `x.yaml` → `x.rehearsal.json`.
    pub fn path_for(runbook: &Path) -> PathBuf {
        runbook.with_extension("rehearsal.json")
    }

    /// The rehearsal of this very runbook, if one was written beside it.
    pub fn find(runbook: &Runbook) -> Lookup {
        let path = Rehearsal::path_for(&runbook.path);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Missing,
            Err(e) => return Lookup::Ignored(format!("cannot read {}: {e}", path.display())),
        };
        match serde_json::from_str::<Rehearsal>(&text) {
            Err(e) => Lookup::Ignored(format!("{} is not a rehearsal file: {e}", path.display())),
            Ok(r) if r.content_hash != runbook.content_hash => Lookup::Ignored(format!(
                "{} is for another version of the runbook (content hash differs): no rehearsed times",
                path.display()
            )),
            Ok(r) => Lookup::Found(r),
        }
    }

    /// The rehearsed duration of a step.
    pub fn duration_ms(&self, step: &str) -> Option<u64> {
        self.steps.iter().find(|s| s.id == step).map(|s| s.duration_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rehearsal(runbook: &Runbook, content_hash: &str) -> Rehearsal {
        Rehearsal {
            runbook: runbook.name.clone(),
            content_hash: content_hash.into(),
            dialect: "sqlite".into(),
            database: "a copy".into(),
            rehearsed_at: "2026-11-27T10:00:00Z".into(),
            runsheet: "0.1.0".into(),
            passed: true,
            migrations: Vec::new(),
            audit_logs: Vec::new(),
            steps: vec![RehearsedStep { id: "a".into(), branch: Branch::Main, duration_ms: 7, outcome: "done".into() }],
        }
    }

    #[test]
    fn only_a_rehearsal_of_this_very_runbook_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rb.yaml");
        std::fs::write(&path, "name: rb\ntitle: R\nsteps:\n  - id: a\n    title: A\n    manual: do it\n").unwrap();
        let runbook = super::super::load_runbook(&path, &[]).unwrap();
        assert_eq!(Rehearsal::find(&runbook), Lookup::Missing);

        let file = dir.path().join("rb.rehearsal.json");
        let current = rehearsal(&runbook, &runbook.content_hash);
        std::fs::write(&file, serde_json::to_string(&current).unwrap()).unwrap();
        assert_eq!(Rehearsal::find(&runbook), Lookup::Found(current.clone()));
        assert_eq!(current.duration_ms("a"), Some(7));
        assert_eq!(current.duration_ms("b"), None);

        std::fs::write(&file, serde_json::to_string(&rehearsal(&runbook, "0ld")).unwrap()).unwrap();
        let Lookup::Ignored(why) = Rehearsal::find(&runbook) else { panic!("a stale rehearsal is not used") };
        assert!(why.contains("another version of the runbook"), "{why}");

        std::fs::write(&file, "{").unwrap();
        let Lookup::Ignored(why) = Rehearsal::find(&runbook) else { panic!("garbage is not used") };
        assert!(why.contains("not a rehearsal file"), "{why}");
    }

    #[test]
    fn the_file_sits_beside_the_runbook() {
        assert_eq!(
            Rehearsal::path_for(Path::new("runbooks/expand.yaml")),
            PathBuf::from("runbooks/expand.rehearsal.json")
        );
    }
}
