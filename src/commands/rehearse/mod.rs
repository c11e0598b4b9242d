//! `runsheet rehearse RUNBOOK|MIGRATIONS_DIR`: the migrations and the runbook tried on a
//! scratch database, never on the given one.
//!
//! 1. On a first scratch database, every pending migration is applied, its up SQL replayed
//!    (idempotence), reverted (the schema must be the one before up) and applied again.
//! 2. Given a runbook, on a second scratch database made the same way (so that the checks
//!    above leave no trace in the data it starts from): the runbook headless with `--yes`,
//!    then its rollback branch, as `run` and `rollback` would; each step's duration goes to
//!    the rehearsal file the terminal UI reads its estimates from.
//!
//! A scratch database starts as a copy of the given SQLite file, or empty (a new database on
//! the given server, an empty SQLite file); `--seed FILE` runs SQL on it first, e.g. the
//! schema the migrations start from.

mod checks;
mod report;
mod runs;

use std::path::{Path, PathBuf};

use super::{Fail, exit};
use crate::db::scratch::Scratch;
use crate::db::{Db, DbUrl};
use crate::model::rehearsal::{Outcome, Rehearsal, RehearsedMigration};
use crate::model::{DIALECTS, MigrationSet, Runbook, load_runbook};

/// The options of `runsheet rehearse`.
#[derive(Debug, Clone, Default)]
pub struct RehearseOptions {
    /// A runbook file, or a migrations folder (one folder per dialect allowed).
    pub target: PathBuf,
    pub database_url: Option<String>,
    /// SQL run on each scratch database before anything else.
    pub seed: Option<PathBuf>,
    /// The rehearsal file; default: beside the runbook.
    pub out: Option<PathBuf>,
    /// Where the runs' audit logs go; default: `audit/rehearsals/<runbook name>-<time>`.
    pub audit_dir: Option<PathBuf>,
    pub operator: Option<String>,
    pub role: Option<String>,
    pub key: Option<PathBuf>,
    pub set: Vec<String>,
}

/// Exit codes of `rehearse` besides 0 (everything passed), `exit::INVALID` and
/// `exit::INTERRUPTED`.
pub mod code {
    /// A check failed, or a run did not end as it should.
    pub const FAILED: i32 = 1;
    /// The rehearsal could not be carried out: no scratch database, a file not written.
    pub const NOT_DONE: i32 = super::exit::STOPPED;
}

pub async fn rehearse(opts: RehearseOptions) -> i32 {
    match rehearse_checked(opts).await {
        Ok(code) => code,
        Err(fail) => fail.report(),
    }
}

/// What is rehearsed, checked before anything runs.
struct Plan {
    url: DbUrl,
    runbook: Option<Runbook>,
    migrations: Option<MigrationSet>,
    seed: Option<String>,
}

fn plan(opts: &RehearseOptions) -> Result<Plan, Fail> {
    let url = super::parse_database_url(super::database_url(opts.database_url.clone()))?;
    let dialect = url.dialect().name();
    let target = &opts.target;
    let (runbook, migrations) = if target.is_dir() {
        (None, Some(load_folder(&folder_for(target, dialect)?)?))
    } else if target.is_file() {
        let sets = super::run::parse_sets(&opts.set)?;
        let runbook = load_runbook(target, &sets).map_err(|d| Fail::new(exit::INVALID, d.to_string()))?;
        let migrations = match &runbook.migrations {
            None => None,
            Some(m) => Some(m.for_dialect(dialect).cloned().ok_or_else(|| {
                Fail::new(exit::INVALID, format!("{}: `migrations` has no folder for {dialect}", target.display()))
            })?),
        };
        (Some(runbook), migrations)
    } else {
        return Err(Fail::new(exit::INVALID, format!("{}: no such runbook or migrations folder", target.display())));
    };
    let seed = match &opts.seed {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| Fail::new(exit::INVALID, format!("--seed {}: {e}", path.display())))?,
        ),
    };
    Ok(Plan { url, runbook, migrations, seed })
}

/// The folder of `dialect` when `dir` has one folder per dialect, else `dir` itself.
fn folder_for(dir: &Path, dialect: &str) -> Result<PathBuf, Fail> {
    if !DIALECTS.iter().any(|d| dir.join(d).is_dir()) {
        return Ok(dir.to_path_buf());
    }
    let folder = dir.join(dialect);
    if folder.is_dir() {
        Ok(folder)
    } else {
        Err(Fail::new(exit::INVALID, format!("{}: no `{dialect}` folder for this database", dir.display())))
    }
}

fn load_folder(dir: &Path) -> Result<MigrationSet, Fail> {
    let set = MigrationSet::load(dir).map_err(|problems| {
        let lines: Vec<String> =
            problems.iter().map(|(path, message)| format!("error: {}: {message}", path.display())).collect();
        Fail::new(exit::INVALID, lines.join("\n"))
    })?;
    if set.migrations.is_empty() {
        return Err(Fail::new(exit::INVALID, format!("{}: no migrations to rehearse", dir.display())));
    }
    Ok(set)
}

async fn rehearse_checked(opts: RehearseOptions) -> Result<i32, Fail> {
    let plan = plan(&opts)?;
    let mut interrupt = Interrupt::listen()?;
    let (migrations, failed) = match &plan.migrations {
        None => (Vec::new(), false),
        Some(set) => {
            let work = async |db: &mut Db| checks::rehearse(db, set).await;
            let Some(rehearsed) = on_scratch(&plan, &mut interrupt, work).await? else {
                return Ok(exit::INTERRUPTED);
            };
            print!("{}", report::migrations(set, &rehearsed));
            let mut checks = rehearsed.migrations.iter().flat_map(|m| &m.checks);
            let failed = rehearsed.refused.is_some() || checks.any(|c| c.outcome == Outcome::Failed);
            (rehearsed.migrations, failed)
        }
    };
    match &plan.runbook {
        Some(runbook) => rehearse_runbook(&opts, &plan, runbook, migrations, failed, &mut interrupt).await,
        None => Ok(verdict(failed)),
    }
}

/// The runbook's runs on a second scratch database, then the rehearsal file.
async fn rehearse_runbook(
    opts: &RehearseOptions,
    plan: &Plan,
    runbook: &Runbook,
    migrations: Vec<RehearsedMigration>,
    mut failed: bool,
    interrupt: &mut Interrupt,
) -> Result<i32, Fail> {
    let audit_dir = opts.audit_dir.clone().unwrap_or_else(|| default_audit_dir(runbook));
    let scratch = create_scratch(plan).await?;
    let runs = match interrupt.around(seeded(plan, &scratch)).await {
        Some(Ok(())) => runs::run_branches(runbook, opts, scratch.url(), &audit_dir, interrupt).await,
        Some(Err(fail)) => {
            drop_scratch(scratch).await;
            return Err(fail);
        }
        None => {
            drop_scratch(scratch).await;
            return Ok(exit::INTERRUPTED);
        }
    };
    let database = scratch.describe();
    drop_scratch(scratch).await;
    let Some(runs) = runs else { return Ok(exit::INTERRUPTED) };
    if let Some(invalid) = runs.iter().find(|r| r.code == exit::INVALID) {
        return Ok(invalid.code);
    }
    let steps: Vec<_> = runs.iter().flat_map(|run| runs::steps(runbook, run)).collect();
    print!("{}", report::runs(&runs, &steps));
    failed |= runs.iter().any(|r| !r.passed());
    let rehearsal = Rehearsal {
        runbook: runbook.name.clone(),
        content_hash: runbook.content_hash.clone(),
        dialect: plan.url.dialect().name().into(),
        database,
        rehearsed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        runsheet: env!("CARGO_PKG_VERSION").into(),
        passed: !failed,
        migrations,
        audit_logs: runs.iter().map(|r| r.log.clone()).collect(),
        steps,
    };
    let out = opts.out.clone().unwrap_or_else(|| Rehearsal::path_for(&runbook.path));
    write_rehearsal(&out, &rehearsal)?;
    println!("rehearsal file: {}", out.display());
    Ok(verdict(failed))
}

fn verdict(failed: bool) -> i32 {
    println!("{}", if failed { "rehearsal FAILED" } else { "rehearsal passed" });
    if failed { code::FAILED } else { 0 }
}

/// Runs `work` on a new scratch database (seeded first), then drops it, also when `work`
/// fails; None when Ctrl-C interrupted it.
async fn on_scratch<T>(
    plan: &Plan,
    interrupt: &mut Interrupt,
    work: impl AsyncFnOnce(&mut Db) -> crate::db::Result<T>,
) -> Result<Option<T>, Fail> {
    let scratch = create_scratch(plan).await?;
    let done = interrupt
        .around(async {
            seeded(plan, &scratch).await?;
            let mut db = Db::connect(scratch.url()).await.map_err(|e| not_done(&e))?;
            let result = work(&mut db).await.map_err(|e| not_done(&e));
            let _ = db.close().await;
            result
        })
        .await;
    drop_scratch(scratch).await;
    done.transpose()
}

/// Ctrl-C, listened for from the start: one pressed while a scratch database is being
/// created, or between two phases, neither kills the process before the scratch database is
/// removed nor is lost.
struct Interrupt(tokio::signal::unix::Signal);

impl Interrupt {
    fn listen() -> Result<Interrupt, Fail> {
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .map_err(|e| Fail::new(code::NOT_DONE, format!("cannot listen for Ctrl-C: {e}")))?;
        Ok(Interrupt(signal))
    }

    /// `work`, unless Ctrl-C comes (or came) first: then None.
    async fn around<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            _ = self.0.recv() => {
                say!("rehearse: interrupted");
                None
            }
            done = work => Some(done),
        }
    }

    /// Whether Ctrl-C was pressed since last asked.
    fn pressed(&mut self) -> bool {
        use futures_util::FutureExt;
        self.0.recv().now_or_never().is_some()
    }
}

async fn create_scratch(plan: &Plan) -> Result<Scratch, Fail> {
    let scratch = Scratch::create(&plan.url, "rehearse").await.map_err(|e| {
        Fail::new(code::NOT_DONE, format!("cannot create a scratch database beside {}: {e}", plan.url.display_target()))
    })?;
    say!("rehearse: working on {}", scratch.describe());
    Ok(scratch)
}

/// Runs the seed, on a connection of its own: session settings it makes (a dump's
/// `search_path`) do not reach the rehearsal.
async fn seeded(plan: &Plan, scratch: &Scratch) -> Result<(), Fail> {
    let Some(seed) = &plan.seed else { return Ok(()) };
    let mut db = Db::connect(scratch.url()).await.map_err(|e| not_done(&e))?;
    db.execute(seed).await.map_err(|e| Fail::new(code::NOT_DONE, format!("--seed failed: {e}")))?;
    let _ = db.close().await;
    Ok(())
}

async fn drop_scratch(scratch: Scratch) {
    let what = scratch.describe();
    match scratch.drop_now().await {
        Ok(()) => say!("rehearse: removed {what}"),
        Err(e) => say!("rehearse: could not remove {what}: {e}"),
    }
}

fn not_done(e: &crate::db::DbError) -> Fail {
    Fail::new(code::NOT_DONE, format!("rehearse: {e}"))
}

fn default_audit_dir(runbook: &Runbook) -> PathBuf {
    use rand_core::RngCore;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let random = rand_core::OsRng.next_u32() & 0xffff;
    PathBuf::from("audit").join("rehearsals").join(format!("{}-{stamp}-{random:04x}", runbook.name))
}

fn write_rehearsal(path: &Path, rehearsal: &Rehearsal) -> Result<(), Fail> {
    let cannot =
        |e: String| Fail::new(code::NOT_DONE, format!("cannot write the rehearsal file {}: {e}", path.display()));
    let json = serde_json::to_string_pretty(rehearsal).map_err(|e| cannot(e.to_string()))?;
    std::fs::write(path, json + "\n").map_err(|e| cannot(e.to_string()))
}
