//! `runsheet run` and `runsheet rollback`: check everything, then run the runbook.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::audit::{key_path, whoami};
use super::last_run::{self, rollback_context};
use super::lint::runbook_findings;
use super::{Fail, exit};
use crate::db::{Db, DbUrl, lock::RunLock, migrations};
use crate::engine::{Actor, Event, Pace};
use crate::exec::{Ending, ExecError, Run};
use crate::headless::{Answers, Decisions, Headless};
use crate::journal::{self, Journal};
use crate::model::rehearsal::Rehearsal;
use crate::model::{Branch, MigrationSet, Runbook, Step, StepKind, load_runbook};
use crate::tui::app::{App, Header};
use crate::tui::bridge::bridge;
use crate::tui::terminal::{Leave, run_ui};

/// The options `run`, `rollback` and `demo` share.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub runbook: PathBuf,
    pub database_url: Option<String>,
    pub operator: Option<String>,
    pub role: Option<String>,
    pub audit_log: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub set: Vec<String>,
    pub headless: bool,
    pub yes: bool,
    pub answers: Option<PathBuf>,
    pub dry_run: bool,
    pub restart_backfill: Vec<String>,
}

impl RunOptions {
    /// `--database-url`, else `DATABASE_URL` from the environment or `.env` (as sqlx-cli).
    pub fn database_url(&self) -> Option<String> {
        super::database_url(self.database_url.clone())
    }
}

pub async fn run(opts: RunOptions, start: Branch) -> i32 {
    match run_checked(opts, start).await {
        Ok(code) => code,
        Err(fail) => fail.report(),
    }
}

/// Everything a run needs that can be checked without the database: any problem here is
/// invalid input (exit 2) and nothing has been executed.
struct Prepared {
    runbook: Arc<Runbook>,
    url: DbUrl,
    migrations: Option<MigrationSet>,
    decisions: Decisions,
    actor: Actor,
    vars: BTreeMap<String, String>,
    key: ssh_key::PrivateKey,
    log_path: PathBuf,
}

fn prepare(opts: &RunOptions) -> Result<Prepared, Fail> {
    let path = opts.runbook.clone();
    let sets = parse_sets(&opts.set)?;
    let runbook = Arc::new(load_runbook(&path, &sets).map_err(|d| Fail::new(exit::INVALID, d.to_string()))?);
    let (findings, failed) = runbook_findings(&runbook);
    if failed {
        return Err(Fail::new(exit::INVALID, findings));
    }
    if !findings.is_empty() {
        say!("{}", findings.trim_end());
    }
    let url = super::parse_database_url(opts.database_url())?;
    let dialect = url.dialect().name();
    let migrations = match &runbook.migrations {
        None => None,
        Some(m) => Some(m.for_dialect(dialect).cloned().ok_or_else(|| {
            Fail::new(exit::INVALID, format!("{}: `migrations` has no folder for {dialect}", path.display()))
        })?),
    };
    let decisions = if opts.yes {
        Decisions::Yes
    } else if let Some(file) = &opts.answers {
        Decisions::Answers(Answers::load(file, &runbook).map_err(|d| Fail::new(exit::INVALID, d.to_string()))?)
    } else {
        Decisions::None
    };
    let actor = Actor {
        name: opts.operator.clone().or_else(|| std::env::var("RUNSHEET_OPERATOR").ok()).unwrap_or_else(whoami),
        role: Some(opts.role.clone().unwrap_or_else(|| "operator".into())),
    };
    for id in &opts.restart_backfill {
        if !matches!(runbook.step(id), Some((_, _, Step { kind: StepKind::Backfill(_), .. }))) {
            let message = format!("--restart-backfill {id}: {} has no backfill step `{id}`", path.display());
            return Err(Fail::new(exit::INVALID, message));
        }
    }
    let run_id = format!("{}-{:04x}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), rand_u16());
    let vars = builtin_vars(&runbook, &run_id, &actor);

    let key_file = key_path(opts.key.clone());
    let (key, created) = journal::load_or_create_key(&key_file).map_err(|e| Fail::new(exit::INVALID, e.to_string()))?;
    if created {
        say!(
            "runsheet: created a signing key at {} (public key {}): auditors verify the audit log with the public key",
            key_file.display(),
            journal::public_key_path(&key_file).display()
        );
    }

    let log_path = opts
        .audit_log
        .clone()
        .unwrap_or_else(|| PathBuf::from("audit").join(format!("{}-{run_id}.jsonl", runbook.name)));
    // A run never writes into another run's evidence.
    for existing in [log_path.clone(), journal::detached_signature_path(&log_path)] {
        if existing.exists() {
            let message = format!("{} already exists: give the run an audit log of its own", existing.display());
            return Err(Fail::new(exit::INVALID, message));
        }
    }

    Ok(Prepared { runbook, url, migrations, decisions, actor, vars, key, log_path })
}

async fn run_checked(opts: RunOptions, start: Branch) -> Result<i32, Fail> {
    let Prepared { runbook, url, migrations, decisions, actor, vars, key, log_path } = prepare(&opts)?;
    // --yes and --answers answer for a person: they make the run headless.
    let tui = !opts.headless
        && !opts.yes
        && opts.answers.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut db = Db::connect(&url)
        .await
        .map_err(|e| Fail::new(exit::STOPPED, format!("cannot connect to {}: {e}", url.redacted())))?;
    let lock = RunLock::try_acquire(&url)
        .await
        .map_err(|e| Fail::new(exit::STOPPED, format!("cannot take the runsheet lock on {}: {e}", url.redacted())))?
        .ok_or_else(|| {
            let message = format!("refused: another runsheet run holds the lock on {}", url.display_target());
            Fail::new(exit::REFUSED, message)
        })?;
    if let Some(set) = &migrations {
        refuse_drift(&mut db, set).await?;
    }
    let rollback_context = match (tui, start) {
        (true, Branch::Rollback) => Some(rollback_context(&mut db, &runbook, &log_path).await),
        _ => None,
    };
    let journal = create_journal(&log_path, key, &url)?;
    let header = header(&runbook, &url, &actor, opts.dry_run);

    // The run without its face yet: the TUI or the headless face takes it.
    let run = Run {
        runbook: Arc::clone(&runbook),
        vars: vars.clone(),
        url: url.clone(),
        db,
        migrations,
        journal: Arc::clone(&journal),
        actor: actor.clone(),
        pace: Pace::Auto,
        preface: imported_snapshots(start, &runbook, &log_path),
        dry_run: opts.dry_run,
        restart_backfill: opts.restart_backfill.clone(),
        face: (),
    };
    let ended = if tui {
        // The rehearsal beside the runbook gives each step's expected time and the time to go.
        let mut app = App::new(Arc::clone(&runbook), vars, header).with_rehearsal(Rehearsal::find(&runbook));
        if let Some(context) = rollback_context {
            app = app.with_rollback_context(context);
        }
        in_tui(run, start, app, &journal).await
    } else {
        let mut face = Headless::new(std::io::stdout(), decisions, actor.clone());
        face.line(&format!(
            "run {} ({}) on {}{}{}, as {} ({}), audit log {}",
            runbook.name,
            runbook.change.as_deref().unwrap_or("no change ticket"),
            header.database,
            if header.production { " — PRODUCTION" } else { "" },
            if opts.dry_run { " — DRY RUN: nothing is written" } else { "" },
            actor.name,
            actor.role.as_deref().unwrap_or_default(),
            log_path.display()
        ));
        tokio::select! {
            result = run.with_face(face).execute(start) => Some(result.map(|(ending, _)| ending)),
            _ = tokio::signal::ctrl_c() => None,
        }
    };
    let code = match ended {
        None => {
            interrupted(&journal, &log_path);
            exit::INTERRUPTED
        }
        Some(Err(e)) => {
            say!("runsheet: {e}; the audit log {} is left unsealed", log_path.display());
            exit::STOPPED
        }
        Some(Ok(ending)) => seal(&journal, &log_path, &ending)?,
    };
    if let Err(e) = lock.release().await {
        // Closing the lock's connection releases it anyway; the log says why it was unclean.
        tracing::warn!("releasing the runsheet lock: {e}");
    }
    Ok(code)
}

/// An applied migration whose file changed or is gone: the folder no longer says what the
/// database holds, so neither applying on top nor reverting can be trusted. Checked under the
/// lock, before the audit log exists: nothing has run.
async fn refuse_drift(db: &mut Db, set: &MigrationSet) -> Result<(), Fail> {
    let applied = migrations::read_applied(db)
        .await
        .map_err(|e| Fail::new(exit::STOPPED, format!("cannot read {}: {e}", migrations::TABLE)))?;
    migrations::verify_applied(set, &applied).map_err(|e| {
        let message = format!(
            "refused: {e}; nothing was executed. `runsheet status` lists every applied migration that disagrees \
             with {}; the README's \"Drift\" section says how to resolve it",
            set.dir.display()
        );
        Fail::new(exit::INVALID, message)
    })
}

/// How a run's task ended: None when it was cancelled (Ctrl-C, or quit while a step ran).
type Ended = Option<Result<Ending, ExecError>>;

/// Runs at the operator's pace on a task of its own while the UI owns the terminal.
async fn in_tui(run: Run<()>, start: Branch, app: App, journal: &Mutex<Journal>) -> Ended {
    let (face, ui) = bridge();
    if let Ok(mut journal) = journal.lock() {
        journal.observe(face.journal_tap());
    }
    let run = Run { pace: Pace::Operator, ..run }.with_face(face);
    let task = tokio::spawn(async move { run.execute(start).await.map(|(ending, _)| ending) });
    let leave = run_ui(app, ui).await;
    if let Err(e) = &leave {
        tracing::error!("terminal UI: {e}");
    }
    if let Ok(Leave::Cancel) = leave {
        task.abort();
    }
    // An aborted task ended as interrupted.
    task.await.ok()
}

/// `runsheet rollback` is a run of its own: the snapshots its steps compare with were taken
/// by the last run of the runbook, so they are read from that run's audit log.
fn imported_snapshots(start: Branch, runbook: &Runbook, log_path: &Path) -> Vec<Event> {
    if start != Branch::Rollback {
        return Vec::new();
    }
    let Some(log) = last_run::last_log(log_path, &runbook.name) else { return Vec::new() };
    let values = last_run::snapshots(&log);
    if values.is_empty() {
        return Vec::new();
    }
    vec![Event::Imported { from: log.display().to_string(), values }]
}

fn create_journal(log_path: &Path, key: ssh_key::PrivateKey, url: &DbUrl) -> Result<Arc<Mutex<Journal>>, Fail> {
    if let Some(dir) = log_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Fail::new(exit::STOPPED, format!("cannot create {}: {e}", dir.display())))?;
    }
    let secrets = url.secrets();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let journal = Journal::create(log_path, key, &secrets).map_err(|e| Fail::new(exit::STOPPED, e.to_string()))?;
    Ok(Arc::new(Mutex::new(journal)))
}

/// What the operator must see first: the change, the database (never its password), who
/// they are, and whether this looks like production.
fn header(runbook: &Runbook, url: &DbUrl, actor: &Actor, dry_run: bool) -> Header {
    let target = url.display_target();
    let production = runbook.environment.as_deref() == Some("production") || target.to_lowercase().contains("prod");
    Header {
        title: runbook.title.clone(),
        change: runbook.change.clone(),
        database: format!("{} {target}", url.dialect().name()),
        production,
        operator: actor.clone(),
        window: runbook.window.clone(),
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        dry_run,
    }
}

/// Ctrl-C: the action in flight was cancelled; the log says so and stays unsealed, so
/// `audit verify` reports the run as interrupted.
fn interrupted(journal: &Mutex<Journal>, log_path: &Path) {
    if let Ok(mut journal) = journal.lock() {
        let _ = journal.append("run.interrupted", Map::new());
    }
    say!("runsheet: interrupted; the audit log {} is left unsealed", log_path.display());
}

fn seal(journal: &Mutex<Journal>, log_path: &Path, ending: &Ending) -> Result<i32, Fail> {
    let code = ending.exit_code();
    let fields = match ending {
        Ending::Finished(outcome) => json!({ "outcome": outcome, "exit_code": code }),
        Ending::NeedsHuman(reason) => json!({ "outcome": "needs_human", "exit_code": code, "reason": reason }),
    };
    let Value::Object(fields) = fields else { return Ok(code) };
    let mut journal = journal.lock().map_err(|_| Fail::new(exit::STOPPED, "audit log lock poisoned"))?;
    journal.seal(fields).map_err(|e| Fail::new(exit::STOPPED, format!("cannot seal the audit log: {e}")))?;
    if let Ending::NeedsHuman(reason) = ending {
        say!("runsheet: stopped, needs a human: {reason}");
    }
    say!(
        "runsheet: audit log {} sealed; detached signature {}",
        log_path.display(),
        journal::detached_signature_path(log_path).display()
    );
    Ok(code)
}

pub(super) fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, Fail> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| Fail::new(exit::INVALID, format!("--set {s}: expected NAME=VALUE")))
        })
        .collect()
}

fn builtin_vars(runbook: &Runbook, run_id: &str, actor: &Actor) -> BTreeMap<String, String> {
    let mut vars = runbook.vars.clone();
    vars.insert("run_id".into(), run_id.into());
    vars.insert("operator".into(), actor.name.clone());
    vars.insert("role".into(), actor.role.clone().unwrap_or_default());
    vars.insert("runbook".into(), runbook.name.clone());
    vars
}

/// A little randomness for run ids started within the same second.
fn rand_u16() -> u16 {
    use rand_core::RngCore;
    (rand_core::OsRng.next_u32() & 0xffff) as u16
}
