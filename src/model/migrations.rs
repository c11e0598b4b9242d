//! The migrations folder, in sqlx's reversible layout:
//! `<version>_<description>.up.sql` and `<version>_<description>.down.sql`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: i64,
    /// As sqlx derives it: the file name's description with `_` read as spaces.
    pub description: String,
    pub up_path: PathBuf,
    pub up_sql: String,
    pub down_path: PathBuf,
    pub down_sql: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSet {
    pub dir: PathBuf,
    /// Ordered by version.
    pub migrations: Vec<MigrationFile>,
}

impl MigrationSet {
    pub fn get(&self, version: i64) -> Option<&MigrationFile> {
        self.migrations.iter().find(|m| m.version == version)
    }

    /// Reads the folder and reports every problem in it at once, each naming its file.
    pub fn load(dir: &Path) -> Result<Self, Vec<(PathBuf, String)>> {
        let (set, problems) =
            Self::scan(dir).map_err(|e| vec![(dir.to_path_buf(), format!("cannot read migrations folder: {e}"))])?;
        if problems.is_empty() { Ok(set) } else { Err(problems.into_iter().map(|p| (p.file, p.message)).collect()) }
    }

    /// Reads the folder: the complete migrations and, apart, every problem of the others
    /// (`lint` reports both; `load` refuses the folder when there is any problem).
    pub fn scan(dir: &Path) -> std::io::Result<(Self, Vec<FolderProblem>)> {
        let entries = std::fs::read_dir(dir)?;
        let mut problems = Vec::new();
        let mut problem = |file: PathBuf, kind: ProblemKind, message: String| {
            problems.push(FolderProblem { file, kind, message });
        };
        // version -> (description, up, down), each side with the files that claim it
        let mut found: BTreeMap<i64, Halves> = BTreeMap::new();
        let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for path in names {
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !file_name.ends_with(".sql") {
                continue;
            }
            match parse_name(file_name) {
                Ok((version, description, side)) => {
                    let halves = found.entry(version).or_default();
                    let slot = match side {
                        Side::Up => &mut halves.up,
                        Side::Down => &mut halves.down,
                    };
                    slot.push((path, description));
                }
                Err(message) => problem(path, ProblemKind::Other, message),
            }
        }
        let mut migrations = Vec::new();
        for (version, halves) in found {
            if halves.up.len() > 1 || halves.down.len() > 1 {
                let files: Vec<String> = halves.up.iter().chain(&halves.down).map(|(p, _)| display_name(p)).collect();
                let first = halves.up.first().or(halves.down.first()).map(|(p, _)| p.clone()).unwrap_or_default();
                let message = format!("duplicate migration version {version}: {}", files.join(", "));
                problem(first, ProblemKind::DuplicateVersion, message);
                continue;
            }
            match (halves.up.into_iter().next(), halves.down.into_iter().next()) {
                (Some((up_path, description)), Some((down_path, down_description))) => {
                    if description != down_description {
                        let message = format!(
                            "`{}` has another name than its up file `{}`",
                            display_name(&down_path),
                            display_name(&up_path)
                        );
                        problem(down_path, ProblemKind::Other, message);
                        continue;
                    }
                    match (std::fs::read_to_string(&up_path), std::fs::read_to_string(&down_path)) {
                        (Ok(up_sql), Ok(down_sql)) => migrations.push(MigrationFile {
                            version,
                            description,
                            up_path,
                            up_sql,
                            down_path,
                            down_sql,
                        }),
                        (Err(e), _) => problem(up_path, ProblemKind::Other, format!("cannot read: {e}")),
                        (_, Err(e)) => problem(down_path, ProblemKind::Other, format!("cannot read: {e}")),
                    }
                }
                (Some((up_path, _)), None) => {
                    let down = display_name(&up_path).replace(".up.sql", ".down.sql");
                    let message = format!("up migration without its down file `{down}`");
                    problem(up_path, ProblemKind::MissingDown, message);
                }
                (None, Some((down_path, _))) => {
                    let up = display_name(&down_path).replace(".down.sql", ".up.sql");
                    let message = format!("down migration without its up file `{up}`");
                    problem(down_path, ProblemKind::Other, message);
                }
                (None, None) => {}
            }
        }
        Ok((MigrationSet { dir: dir.to_path_buf(), migrations }, problems))
    }
}

/// A file of the migrations folder that does not make a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderProblem {
    pub file: PathBuf,
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Two files claim the same version and side.
    DuplicateVersion,
    /// An up file whose down file is missing: the migration cannot be reverted.
    MissingDown,
    /// A bad name, a down file without its up file, names that differ, an unreadable file.
    Other,
}

#[derive(Default)]
struct Halves {
    up: Vec<(PathBuf, String)>,
    down: Vec<(PathBuf, String)>,
}

enum Side {
    Up,
    Down,
}

fn display_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn parse_name(file_name: &str) -> Result<(i64, String, Side), String> {
    let (stem, side) = if let Some(stem) = file_name.strip_suffix(".up.sql") {
        (stem, Side::Up)
    } else if let Some(stem) = file_name.strip_suffix(".down.sql") {
        (stem, Side::Down)
    } else {
        return Err("not reversible: runsheet needs `<version>_<name>.up.sql` with its `.down.sql`".into());
    };
    let (version, description) = stem.split_once('_').unwrap_or((stem, ""));
    let version: i64 = version
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("`{file_name}` does not start with a positive version number and `_`"))?;
    Ok((version, description.replace('_', " "), side))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            std::fs::write(dir.path().join(name), sql).unwrap();
        }
        dir
    }

    #[test]
    fn loads_pairs_in_version_order() {
        let dir = folder(&[
            ("2_second_one.up.sql", "B"),
            ("2_second_one.down.sql", "b"),
            ("1_first.up.sql", "A"),
            ("1_first.down.sql", "a"),
            ("README.md", "ignored"),
        ]);
        let set = MigrationSet::load(dir.path()).unwrap();
        let versions: Vec<i64> = set.migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, vec![1, 2]);
        assert_eq!(set.migrations[1].description, "second one");
        assert_eq!(set.migrations[0].down_sql, "a");
    }

    #[test]
    fn reports_every_problem() {
        let dir = folder(&[
            ("1_a.up.sql", ""),
            ("1_b.up.sql", ""),
            ("1_a.down.sql", ""),
            ("2_lonely.up.sql", ""),
            ("3_plain.sql", ""),
            ("x_bad.up.sql", ""),
            ("4_name.up.sql", ""),
            ("4_nmae.down.sql", ""),
        ]);
        let problems = MigrationSet::load(dir.path()).unwrap_err();
        let text: Vec<String> = problems.iter().map(|(p, m)| format!("{}: {m}", display_name(p))).collect();
        assert_eq!(problems.len(), 5, "{text:#?}");
        assert!(text.iter().any(|t| t.contains("duplicate migration version 1")));
        assert!(text.iter().any(|t| t.starts_with("2_lonely.up.sql") && t.contains("2_lonely.down.sql")));
        assert!(text.iter().any(|t| t.starts_with("3_plain.sql: not reversible")));
        assert!(text.contains(
            &"4_nmae.down.sql: `4_nmae.down.sql` has another name than its up file `4_name.up.sql`".to_string()
        ));
        assert!(text.iter().any(|t| t.starts_with("x_bad.up.sql") && t.contains("version")));
    }
}
