//! What `runsheet rollback` shows before the rollback branch starts: the migrations the
//! database has applied, and how the last run of the same runbook left its steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::db::Db;
use crate::db::migrations::read_applied;
use crate::engine::{Event, Facts};
use crate::journal::read_entries;
use crate::model::Runbook;
use crate::tui::app::{LastRun, RollbackContext};

/// Gathers the context; what cannot be read is left out (the responder still gets the
/// rollback branch).
pub async fn rollback_context(db: &mut Db, runbook: &Runbook, this_log: &Path) -> RollbackContext {
    let applied = match read_applied(db).await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| {
                let description = if r.success {
                    r.description
                } else {
                    format!("{} — HALF-APPLIED (failed part-way)", r.description)
                };
                (r.version, description, r.installed_on.to_rfc3339())
            })
            .collect(),
        Err(e) => {
            tracing::warn!("reading _sqlx_migrations for the rollback view: {e}");
            Vec::new()
        }
    };
    let last_run = last_log(this_log, &runbook.name).and_then(|log| {
        let steps = last_statuses(&log)?;
        Some(LastRun { log, steps })
    });
    RollbackContext { applied, last_run }
}

/// The snapshot values an earlier run's audit log recorded or imported, by name (later ones
/// win).
pub fn snapshots(log: &Path) -> BTreeMap<String, Option<String>> {
    let Ok(entries) = read_entries(log) else { return BTreeMap::new() };
    entries
        .iter()
        .filter_map(Event::from_entry)
        .filter_map(Result::ok)
        .filter_map(|event| match event {
            Event::StepFinished { result: Ok(Facts::Snapshot { values }), .. } => Some(values),
            // a rollback run that imported them passes them on to the next attempt
            Event::Imported { values, .. } => Some(values),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The audit log of the runbook's last run: the most recently written `<runbook name>-*.jsonl`
/// beside `this_log`, other than `this_log` itself (which may exist already).
pub fn last_log(this_log: &Path, runbook: &str) -> Option<PathBuf> {
    let dir = this_log.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!("{runbook}-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name() != this_log.file_name())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".jsonl"))
        })
        // Two runs may start within the same second: the time written decides, then the name.
        .max_by_key(|p| (std::fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone()))
}

/// Each step's last status in a log, in the order the steps first appear.
fn last_statuses(log: &Path) -> Option<Vec<(String, String, String)>> {
    let entries = read_entries(log).ok()?;
    let mut steps: Vec<(String, String, String)> = Vec::new();
    for entry in entries.iter().filter(|e| e["kind"] == "step.status") {
        let field = |name: &str| entry[name].as_str().unwrap_or_default().to_string();
        let (step, status, detail) = (field("step"), field("status"), field("detail"));
        match steps.iter_mut().find(|(s, ..)| *s == step) {
            Some(slot) => *slot = (step, status, detail),
            None => steps.push((step, status, detail)),
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_taken_or_imported_by_the_last_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("rb-1.jsonl");
        let lines = [
            r#"{"kind":"snapshot.imported","from":"rb-0.jsonl","values":{"orders":"10","refs":"9"}}"#,
            r#"{"kind":"step.finished","step":"count","duration_ms":1,"result":{"Ok":{"type":"snapshot","values":{"orders":"12"}}}}"#,
            r#"{"kind":"step.finished","step":"check","duration_ms":1,"result":{"Ok":{"type":"value","value":"3"}}}"#,
        ];
        std::fs::write(&log, lines.join("\n") + "\n").unwrap();
        let expected = BTreeMap::from([
            ("orders".to_string(), Some("12".to_string())),
            ("refs".to_string(), Some("9".to_string())),
        ]);
        assert_eq!(snapshots(&log), expected);
        assert!(snapshots(&dir.path().join("missing.jsonl")).is_empty());
    }

    #[test]
    fn finds_the_newest_log_of_the_runbook_and_its_last_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let line = |seq: u32, step: &str, status: &str, detail: &str| {
            format!(r#"{{"seq":{seq},"kind":"step.status","step":"{step}","status":"{status}","detail":"{detail}"}}"#)
        };
        // written last though its name sorts first: two runs started within the same second
        let newest = dir.path().join("rb-20261128T020000Z-aaaa.jsonl");
        let lines = [
            line(1, "expand", "running", ""),
            line(2, "check", "pending", ""),
            line(3, "expand", "done", "applied 1, 2"),
            line(4, "check", "failed", "expected = 0, got 3"),
        ];
        let written = |name: &str, text: &str, secs: u64| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            std::fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
        };
        written("rb-20261128T020000Z-bbbb.jsonl", "", 1_000);
        written("rb-20261128T020000Z-aaaa.jsonl", &(lines.join("\n") + "\n"), 2_000);
        written("other-20261129T020000Z-cccc.jsonl", "", 3_000);
        // this run's own log, created already, is not the last run's
        let this = dir.path().join("rb-20261128T030000Z-dddd.jsonl");
        written("rb-20261128T030000Z-dddd.jsonl", "", 4_000);
        assert_eq!(last_log(&this, "rb"), Some(newest.clone()));
        assert_eq!(
            last_statuses(&newest).unwrap(),
            vec![
                ("expand".to_string(), "done".to_string(), "applied 1, 2".to_string()),
                ("check".to_string(), "failed".to_string(), "expected = 0, got 3".to_string()),
            ]
        );
    }
}
