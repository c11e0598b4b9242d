//! `runsheet status`: where a database stands against its migrations folder, read without
//! changing anything (a read-only connection; a missing `_sqlx_migrations` means nothing applied).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Fail, exit};
use crate::db::migrations::{self, AppliedRow, Mismatch};
use crate::db::{Db, Dialect};
use crate::model::{DIALECTS, MigrationSet, load_runbook};

#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    pub database_url: Option<String>,
    /// The migrations folder (or a folder of per-dialect folders); default `./migrations`.
    pub migrations: Option<PathBuf>,
    /// Take the folder the runbook names instead.
    pub runbook: Option<PathBuf>,
}

pub async fn status(opts: StatusOptions) -> i32 {
    match status_checked(opts).await {
        Ok(code) => code,
        Err(fail) => fail.report(),
    }
}

async fn status_checked(opts: StatusOptions) -> Result<i32, Fail> {
    let url = super::parse_database_url(super::database_url(opts.database_url.clone()))?;
    if let Some(path) = url.sqlite_path().filter(|p| !p.exists()) {
        return Err(Fail::new(exit::INVALID, format!("no SQLite database at {}", path.display())));
    }
    let set = migration_set(&opts, url.dialect())?;
    let mut db = Db::connect_read_only(&url)
        .await
        .map_err(|e| Fail::new(exit::STOPPED, format!("cannot connect to {}: {e}", url.redacted())))?;
    let rows = migrations::read_applied(&mut db)
        .await
        .map_err(|e| Fail::new(exit::STOPPED, format!("cannot read {}: {e}", migrations::TABLE)))?;
    if let Err(e) = db.close().await {
        tracing::warn!("closing the status connection: {e}");
    }
    let lines = classify(&set, &rows);
    println!("database {} {}, migrations {}", url.dialect().name(), url.display_target(), set.dir.display());
    println!();
    print!("{}", table(&lines));
    println!();
    println!("{}", summary(&lines));
    Ok(if lines.iter().any(|l| l.state.needs_attention()) { exit::ATTENTION } else { 0 })
}

/// The folder to compare with: the runbook's for this dialect, or `--migrations` (default
/// `./migrations`); a folder holding `postgres`/`mysql`/`sqlite` folders means the dialect's one.
fn migration_set(opts: &StatusOptions, dialect: Dialect) -> Result<MigrationSet, Fail> {
    let invalid = |message: String| Fail::new(exit::INVALID, message);
    if let Some(path) = &opts.runbook {
        let runbook = load_runbook(path, &[]).map_err(|d| invalid(d.to_string()))?;
        let declared =
            runbook.migrations.ok_or_else(|| invalid(format!("{}: declares no `migrations`", path.display())))?;
        return declared
            .for_dialect(dialect.name())
            .cloned()
            .ok_or_else(|| invalid(format!("{}: `migrations` has no folder for {}", path.display(), dialect.name())));
    }
    let dir = opts.migrations.clone().unwrap_or_else(|| PathBuf::from("migrations"));
    let dir = dialect_folder(&dir, dialect).map_err(invalid)?;
    MigrationSet::load(&dir).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|(p, m)| format!("error: {}: {m}", p.display())).collect();
        invalid(lines.join("\n"))
    })
}

fn dialect_folder(dir: &Path, dialect: Dialect) -> Result<PathBuf, String> {
    if !DIALECTS.iter().any(|d| dir.join(d).is_dir()) {
        return Ok(dir.to_path_buf());
    }
    let own = dir.join(dialect.name());
    if own.is_dir() {
        Ok(own)
    } else {
        Err(format!("{} has a folder per dialect but none for {}", dir.display(), dialect.name()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Applied,
    Pending,
    /// Failed part-way on MariaDB/MySQL (`success = false`).
    Dirty,
    /// Applied, but its up file changed since.
    Drift,
    /// Pending, older than the newest applied version.
    OutOfOrder,
    /// Applied, but the folder has no file of that version.
    MissingFile,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Dirty => "dirty",
            State::Drift => "drift",
            State::OutOfOrder => "out-of-order",
            State::MissingFile => "missing-file",
        }
    }

    fn needs_attention(self) -> bool {
        !matches!(self, State::Applied | State::Pending)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    version: i64,
    description: String,
    state: State,
    installed_on: Option<DateTime<Utc>>,
    note: String,
}

/// Every version of the folder and of `_sqlx_migrations`, oldest first, with its state.
fn classify(set: &MigrationSet, rows: &[AppliedRow]) -> Vec<Line> {
    let mut lines: Vec<Line> = rows.iter().map(|row| applied_line(set, row)).collect();
    let newest = rows.iter().map(|r| r.version).max();
    let late = migrations::out_of_order(set, rows);
    for file in migrations::plan_up(set, rows, None) {
        let (state, note) = match newest {
            Some(newest) if late.iter().any(|m| m.version == file.version) => (
                State::OutOfOrder,
                format!("pending but older than applied {newest}: `migrate` would apply it after newer ones"),
            ),
            _ => (State::Pending, String::new()),
        };
        lines.push(Line {
            version: file.version,
            description: file.description.clone(),
            state,
            installed_on: None,
            note,
        });
    }
    lines.sort_by_key(|l| l.version);
    lines
}

fn applied_line(set: &MigrationSet, row: &AppliedRow) -> Line {
    let (state, note) = if !row.success {
        let note = "failed part-way: the statements before the failing one are applied; repair by hand, then mark \
                    it done or delete its row (README: half-applied migrations)";
        (State::Dirty, note.to_string())
    } else {
        match migrations::mismatch(set, row) {
            Some(Mismatch::Missing) => {
                (State::MissingFile, format!("no file of this version in {}", set.dir.display()))
            }
            Some(Mismatch::Changed(file)) => {
                (State::Drift, format!("{} changed after it was applied", file.up_path.display()))
            }
            // sqlx records the time after the commit: -1 means the process stopped in between.
            None if row.execution_time < 0 => (State::Applied, "no execution time recorded".to_string()),
            None => (State::Applied, String::new()),
        }
    };
    Line {
        version: row.version,
        description: row.description.clone(),
        state,
        installed_on: Some(row.installed_on),
        note,
    }
}

/// The lines as aligned columns; the note, last, is as long as it needs.
fn table(lines: &[Line]) -> String {
    const HEADER: [&str; 5] = ["VERSION", "DESCRIPTION", "STATE", "INSTALLED ON", "NOTE"];
    let cells: Vec<[String; 5]> = lines
        .iter()
        .map(|l| {
            let installed = l.installed_on.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default();
            [l.version.to_string(), l.description.clone(), l.state.name().to_string(), installed, l.note.clone()]
        })
        .collect();
    let rows: Vec<[String; 5]> = std::iter::once(HEADER.map(String::from)).chain(cells).collect();
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    rows.iter()
        .map(|r| {
            let padded: Vec<String> = (0..4).map(|c| format!("{:<w$}", r[c], w = widths[c])).collect();
            format!("{}  {}", padded.join("  "), r[4]).trim_end().to_string() + "\n"
        })
        .collect()
}

fn summary(lines: &[Line]) -> String {
    if lines.is_empty() {
        return "no migrations: the folder is empty and none is applied".into();
    }
    let count = |state: State| lines.iter().filter(|l| l.state == state).count();
    let counted = |states: &[State]| -> Vec<String> {
        states.iter().map(|s| (count(*s), s.name())).filter(|(n, _)| *n > 0).map(|(n, s)| format!("{n} {s}")).collect()
    };
    let fine = counted(&[State::Applied, State::Pending]);
    let attention = counted(&[State::Dirty, State::Drift, State::OutOfOrder, State::MissingFile]);
    let fine = if fine.is_empty() { String::new() } else { format!("{}; ", fine.join(", ")) };
    if attention.is_empty() {
        format!("{fine}nothing needs attention")
    } else {
        format!("{fine}needs attention: {}", attention.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::fixtures::{row, set};

    fn states(lines: &[Line]) -> Vec<(i64, &'static str)> {
        lines.iter().map(|l| (l.version, l.state.name())).collect()
    }

    #[test]
    fn every_version_of_folder_and_table_gets_one_state() {
        let mut changed = row(2);
        changed.checksum = "00".into();
        let mut dirty = row(5);
        dirty.success = false;
        let lines = classify(&set(&[1, 2, 3, 5, 6]), &[row(1), changed, row(4), dirty]);
        assert_eq!(
            states(&lines),
            vec![(1, "applied"), (2, "drift"), (3, "out-of-order"), (4, "missing-file"), (5, "dirty"), (6, "pending")]
        );
        assert_eq!(lines[1].note, "m/2_step.up.sql changed after it was applied");
        assert!(lines[2].note.contains("older than applied 5"), "{}", lines[2].note);
        assert_eq!(lines[3].note, "no file of this version in m");
        assert_eq!(
            summary(&lines),
            "1 applied, 1 pending; needs attention: 1 dirty, 1 drift, 1 out-of-order, 1 missing-file"
        );
    }

    #[test]
    fn applied_and_pending_need_no_attention() {
        let lines = classify(&set(&[1, 2, 3]), &[row(1)]);
        assert_eq!(states(&lines), vec![(1, "applied"), (2, "pending"), (3, "pending")]);
        assert!(lines.iter().all(|l| !l.state.needs_attention()));
        assert_eq!(summary(&lines), "1 applied, 2 pending; nothing needs attention");
        assert_eq!(summary(&[]), "no migrations: the folder is empty and none is applied");
    }

    #[test]
    fn the_table_aligns_its_columns() {
        let mut lines = classify(&set(&[1, 20]), &[row(1)]);
        lines[0].note = "a note".into();
        let text = table(&lines);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "VERSION  DESCRIPTION  STATE    INSTALLED ON             NOTE");
        assert_eq!(rows[1], "1        step 1       applied  1970-01-01 00:00:00 UTC  a note");
        assert_eq!(rows[2], "20       step 20      pending");
    }

    #[test]
    fn a_folder_of_dialect_folders_means_the_dialects_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(dialect_folder(dir.path(), Dialect::MySql).unwrap(), dir.path());
        std::fs::create_dir(dir.path().join("postgres")).unwrap();
        assert_eq!(dialect_folder(dir.path(), Dialect::Postgres).unwrap(), dir.path().join("postgres"));
        let none = dialect_folder(dir.path(), Dialect::Sqlite).unwrap_err();
        assert!(none.ends_with("has a folder per dialect but none for sqlite"), "{none}");
    }
}
