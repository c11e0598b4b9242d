//! The `runsheet` command line: parses arguments and dispatches. No logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use runsheet::commands::{self, RehearseOptions, RunOptions, StatusOptions};
use runsheet::model::Branch;

#[derive(Parser)]
#[command(name = "runsheet", version, about = "Terminal runbook assistant for database changes in production")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a runbook step by step.
    Run(RunArgs),
    /// Open a runbook straight on its rollback branch.
    Rollback(RunArgs),
    /// Show applied, pending, half-applied, changed and out-of-order migrations; change nothing.
    Status {
        /// sqlite:, postgres:// or mysql:// URL. Default: DATABASE_URL, also read from .env.
        #[arg(long)]
        database_url: Option<String>,
        /// Migrations folder (or a folder of postgres/mysql/sqlite folders). Default: ./migrations
        #[arg(long, conflicts_with = "runbook")]
        migrations: Option<PathBuf>,
        /// Use the migrations folder this runbook names.
        #[arg(long)]
        runbook: Option<PathBuf>,
    },
    /// Try a runbook's migrations (or a migrations folder) on a scratch database: up, replayed,
    /// down, up again; given a runbook, run it and its rollback branch there too.
    Rehearse(RehearseArgs),
    /// Parse and check runbooks, their checklists and migrations; run nothing.
    Validate {
        #[arg(required = true)]
        runbooks: Vec<PathBuf>,
    },
    /// Check migration files for changes that hurt in production; exit 1 on an error finding.
    Lint {
        #[arg(required = true, value_name = "MIGRATIONS_DIR")]
        dirs: Vec<PathBuf>,
        /// How to read the SQL. Default: the folder's name when it is a dialect, else the database's, else generic SQL.
        #[arg(long, value_parser = ["postgres", "mysql", "sqlite"])]
        dialect: Option<String>,
        /// Also report pending migrations older than the newest applied one. Default: DATABASE_URL, also read from .env.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write an OpenSSH Ed25519 key pair for signing audit logs.
    Keygen {
        /// Private key path; the public key goes to PATH.pub. Default: ~/.config/runsheet/id_ed25519
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create the legacy external_order demo data and run the shipped runbook on it.
    Demo {
        /// Rows of legacy data to create.
        #[arg(long, default_value_t = 300_000)]
        rows: u64,
        #[command(flatten)]
        options: RunFlags,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain, the signatures and the seal of an audit log.
    Verify {
        log: PathBuf,
        /// The signer's OpenSSH public key.
        #[arg(long, conflicts_with = "allowed_signers", required_unless_present = "allowed_signers")]
        pubkey: Option<PathBuf>,
        /// An OpenSSH allowed_signers file.
        #[arg(long)]
        allowed_signers: Option<PathBuf>,
    },
}

#[derive(Args)]
struct RehearseArgs {
    /// A runbook, or a migrations folder (with postgres/, mysql/, sqlite/ folders, or one for all).
    target: PathBuf,
    /// The database whose server (or SQLite file) the scratch database is made from; never changed.
    /// Default: DATABASE_URL, also read from .env.
    #[arg(long)]
    database_url: Option<String>,
    /// SQL run on each scratch database first, e.g. the schema the migrations start from.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// The rehearsal file. Default: beside the runbook, <runbook>.rehearsal.json
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Where the runs' audit logs go. Default: audit/rehearsals/<runbook name>-<time>
    #[arg(long, value_name = "DIR")]
    audit_dir: Option<PathBuf>,
    /// Who rehearses, for the audit logs. Default: $RUNSHEET_OPERATOR, then $USER.
    #[arg(long)]
    operator: Option<String>,
    /// The operator's role.
    #[arg(long)]
    role: Option<String>,
    /// Signing key of the audit logs. Default: $RUNSHEET_KEY, then ~/.config/runsheet/id_ed25519.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Override a runbook variable: --set name=value (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
}

impl RehearseArgs {
    fn options(self) -> RehearseOptions {
        RehearseOptions {
            target: self.target,
            database_url: self.database_url,
            seed: self.seed,
            out: self.out,
            audit_dir: self.audit_dir,
            operator: self.operator,
            role: self.role,
            key: self.key,
            set: self.set,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// The runbook.
    runbook: PathBuf,
    #[command(flatten)]
    options: RunFlags,
}

/// The options of `run`, `rollback` and `demo`.
#[derive(Args)]
struct RunFlags {
    /// sqlite:, postgres:// or mysql:// URL. Default: DATABASE_URL, also read from .env.
    #[arg(long)]
    database_url: Option<String>,
    /// Who runs it, for the audit log. Default: $RUNSHEET_OPERATOR, then $USER.
    #[arg(long)]
    operator: Option<String>,
    /// The operator's role, e.g. change-manager.
    #[arg(long)]
    role: Option<String>,
    /// Audit log path. Default: audit/<runbook name>-<run id>.jsonl
    #[arg(long)]
    audit_log: Option<PathBuf>,
    /// Signing key. Default: $RUNSHEET_KEY, then ~/.config/runsheet/id_ed25519 (created if missing).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Override a runbook variable: --set name=value (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// No terminal UI: plain progress lines.
    #[arg(long)]
    headless: bool,
    /// Answer every question: confirm, tick in the operator's name, Go when the automated items pass.
    #[arg(long, conflicts_with = "answers")]
    yes: bool,
    /// Answers step by step from a YAML file.
    #[arg(long)]
    answers: Option<PathBuf>,
    /// Write nothing: checks and snapshots run, backfills estimate, migrations and commands say
    /// what they would do.
    #[arg(long)]
    dry_run: bool,
    /// Forget the checkpoint of this backfill step and start it over (repeatable; recorded in
    /// the audit log).
    #[arg(long, value_name = "STEP")]
    restart_backfill: Vec<String>,
}

impl RunFlags {
    fn options(self, runbook: PathBuf) -> RunOptions {
        RunOptions {
            runbook,
            database_url: self.database_url,
            operator: self.operator,
            role: self.role,
            audit_log: self.audit_log,
            key: self.key,
            set: self.set,
            headless: self.headless,
            yes: self.yes,
            answers: self.answers,
            dry_run: self.dry_run,
            restart_backfill: self.restart_backfill,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _logs = commands::init_logging();
    let code = match cli.command {
        Command::Run(args) => commands::run(args.options.options(args.runbook), Branch::Main).await,
        Command::Rollback(args) => commands::run(args.options.options(args.runbook), Branch::Rollback).await,
        Command::Status { database_url, migrations, runbook } => {
            commands::status(StatusOptions { database_url, migrations, runbook }).await
        }
        Command::Rehearse(args) => commands::rehearse(args.options()).await,
        Command::Validate { runbooks } => commands::validate(&runbooks),
        Command::Lint { dirs, dialect, database_url } => {
            commands::lint(commands::LintOptions { dirs, dialect, database_url }).await
        }
        Command::Audit(AuditCommand::Verify { log, pubkey, allowed_signers }) => {
            commands::audit_verify(&log, pubkey.as_deref(), allowed_signers.as_deref())
        }
        Command::Keygen { out } => commands::keygen(out),
        Command::Demo { rows, options } => commands::demo(rows, options.options(commands::shipped_runbook())).await,
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
