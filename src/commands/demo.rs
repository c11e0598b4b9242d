//! `runsheet demo`: legacy `external_order` data, then the shipped runbook on it.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::run::{RunOptions, run};
use super::{Fail, exit};
use crate::db::{Db, DbUrl};
use crate::model::Branch;

/// The demo's database when no URL is given: a local SQLite file, made afresh each time.
const DEMO_SQLITE: &str = "runsheet-demo.db";
const SHIPPED_RUNBOOK: &str = "runbooks/external-orders-expand.yaml";
const ROWS_PER_STATEMENT: usize = 1_000;

pub async fn demo(rows: u64, mut opts: RunOptions) -> i32 {
    if rows > crate::demo::MAX_ROWS {
        let message = format!("--rows {rows}: the demo makes at most {} rows", crate::demo::MAX_ROWS);
        return Fail::new(exit::INVALID, message).report();
    }
    let url = match opts.database_url() {
        Some(url) => url,
        None => {
            for suffix in ["", "-wal", "-shm", ".runsheet.lock"] {
                let _ = std::fs::remove_file(format!("{DEMO_SQLITE}{suffix}"));
            }
            format!("sqlite:{DEMO_SQLITE}")
        }
    };
    if let Err(fail) = create_legacy_data(&url, rows).await {
        return fail.report();
    }
    opts.database_url = Some(url);
    // On a terminal the demo opens the TUI; elsewhere (or with --headless) it answers like
    // --yes unless answers are given.
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if (opts.headless || !interactive) && opts.answers.is_none() {
        opts.yes = true;
    }
    run(opts, Branch::Main).await
}

/// The shipped runbook, from the working directory or else from the source tree.
pub fn shipped_runbook() -> PathBuf {
    let here = PathBuf::from(SHIPPED_RUNBOOK);
    if here.is_file() { here } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SHIPPED_RUNBOOK) }
}

async fn create_legacy_data(raw_url: &str, rows: u64) -> Result<(), Fail> {
    let url = DbUrl::parse(raw_url).map_err(|e| Fail::new(exit::INVALID, e.to_string()))?;
    let mut db = Db::connect(&url)
        .await
        .map_err(|e| Fail::new(exit::STOPPED, format!("cannot connect to {}: {e}", url.redacted())))?;
    // Never touch existing data: the demo wants a database of its own.
    if db.query_value("SELECT count(*) FROM external_order", &[]).await.is_ok() {
        return Err(Fail::new(
            exit::INVALID,
            format!("{} already has an external_order table: give the demo a scratch database", url.display_target()),
        ));
    }
    say!("runsheet demo: creating {rows} legacy external_order rows in {}", url.display_target());
    let fail = |e: crate::db::DbError| Fail::new(exit::STOPPED, format!("creating the demo data: {e}"));
    let schema = crate::demo::schema_sql(url.dialect().name())
        .ok_or_else(|| Fail::new(exit::INVALID, format!("the demo has no schema for {}", url.dialect().name())))?;
    db.execute(&schema).await.map_err(fail)?;
    db.execute("BEGIN").await.map_err(fail)?;
    for statement in crate::demo::insert_statements(rows, ROWS_PER_STATEMENT) {
        db.execute(&statement).await.map_err(fail)?;
    }
    db.execute("COMMIT").await.map_err(fail)?;
    Ok(())
}
