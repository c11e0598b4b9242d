//! `runsheet lint MIGRATIONS_DIR...`, and the lint findings `validate` and `run` show.

use std::path::PathBuf;

use super::{Fail, exit};
use crate::db::{Db, DbUrl, migrations::read_applied};
use crate::lint::{self, Finding};
use crate::model::Runbook;

/// Exit code of `lint` when a finding is an error.
const FOUND_ERRORS: i32 = 1;

#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    pub dirs: Vec<PathBuf>,
    /// `postgres`, `mysql` or `sqlite`; None: the folder's name, else the database's dialect, else generic SQL.
    pub dialect: Option<String>,
    pub database_url: Option<String>,
}

/// Lints each folder and prints every finding; exit 1 when one is an error.
pub async fn lint(opts: LintOptions) -> i32 {
    match lint_checked(opts).await {
        Ok(code) => code,
        Err(fail) => fail.report(),
    }
}

async fn lint_checked(opts: LintOptions) -> Result<i32, Fail> {
    let chosen = match opts.dialect.as_deref() {
        None => None,
        Some(name) => Some(lint::dialect_named(name).ok_or_else(|| {
            Fail::new(exit::INVALID, format!("`{name}` is not a dialect: use postgres, mysql or sqlite"))
        })?),
    };
    let url = super::database_url(opts.database_url)
        .map(|raw| DbUrl::parse(&raw).map_err(|e| Fail::new(exit::INVALID, e.to_string())))
        .transpose()?;
    // Only read: `_sqlx_migrations` is not created when it is missing.
    let applied = match &url {
        None => None,
        Some(url) => {
            let cannot =
                |e| Fail::new(exit::STOPPED, format!("cannot read the applied migrations of {}: {e}", url.redacted()));
            let mut db = Db::connect(url).await.map_err(cannot)?;
            let rows = read_applied(&mut db).await.map_err(cannot)?;
            let _ = db.close().await;
            Some(rows)
        }
    };
    let mut all = Vec::new();
    for dir in &opts.dirs {
        let dialect = chosen.or_else(|| lint::folder_dialect(dir)).or(url.as_ref().map(DbUrl::dialect));
        let (set, findings) = lint::lint_folder(dir, dialect, applied.as_deref())
            .map_err(|e| Fail::new(exit::INVALID, format!("{}: cannot read migrations folder: {e}", dir.display())))?;
        let read_as = match dialect {
            Some(d) => d.name().to_string(),
            None => "generic SQL (PostgreSQL-only rules not checked: give --dialect)".to_string(),
        };
        let against = match &url {
            Some(url) => format!(", against {}", url.display_target()),
            None => String::new(),
        };
        let count = lint::plural(set.migrations.len(), "migration");
        println!("{}: {count}, read as {read_as}{against}", dir.display());
        for finding in &findings {
            println!("{finding}");
        }
        all.extend(findings);
    }
    println!("{}", lint::summary(&all));
    Ok(if all.iter().any(Finding::is_error) { FOUND_ERRORS } else { 0 })
}

/// The lint findings of a runbook's migrations that `validate` and `run` show (the allowed
/// ones are listed by `lint`), and whether one of them is an error.
pub(super) fn runbook_findings(runbook: &Runbook) -> (String, bool) {
    let findings = lint::lint_runbook(runbook);
    let shown = findings.iter().filter(|f| f.allowed.is_none()).map(|f| format!("{f}\n")).collect();
    (shown, findings.iter().any(Finding::is_error))
}
