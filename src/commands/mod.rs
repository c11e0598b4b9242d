//! The subcommands behind `main.rs`: each opens what it needs, reports in plain words and
//! returns the process exit code of DESIGN.md.

/// A line for the operator on stderr. Unlike `eprintln!` it does not panic when the
/// terminal is gone (a dropped SSH session): the audit log is the record that matters.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod audit;
mod demo;
mod last_run;
mod lint;
mod logging;
mod rehearse;
mod run;
mod status;
mod validate;

pub use audit::{audit_verify, keygen};
pub use demo::{demo, shipped_runbook};
pub use lint::{LintOptions, lint};
pub use logging::init_logging;
pub use rehearse::{RehearseOptions, rehearse};
pub use run::{RunOptions, run};
pub use status::{StatusOptions, status};
pub use validate::validate;

/// Exit codes shared by the subcommands (DESIGN.md).
pub mod exit {
    /// Invalid input (arguments, YAML, validation, migrations folder): nothing executed.
    pub const INVALID: i32 = 2;
    /// Stopped and needs a human.
    pub const STOPPED: i32 = 3;
    /// Refused: another run holds the database's runsheet lock.
    pub const REFUSED: i32 = 4;
    /// `status`: something needs attention (a dirty version, drift, out of order, a missing file).
    pub const ATTENTION: i32 = 1;
    /// Interrupted by Ctrl-C (128 + SIGINT); the audit log stays unsealed.
    pub const INTERRUPTED: i32 = 130;
}

/// A subcommand that ends early: the exit code and what to tell the operator.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub message: String,
}

impl Fail {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Fail { code, message: message.into() }
    }

    /// Prints the message to stderr and gives the exit code.
    pub fn report(self) -> i32 {
        say!("{}", self.message.trim_end());
        self.code
    }
}

/// `--database-url` when given, else `DATABASE_URL` from the environment or `.env` (as sqlx-cli).
fn database_url(given: Option<String>) -> Option<String> {
    given.or_else(|| {
        let _ = dotenvy::dotenv();
        std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
    })
}

/// The database a command works on; none, or one that does not parse, is invalid input.
fn parse_database_url(raw: Option<String>) -> Result<crate::db::DbUrl, Fail> {
    let raw = raw.ok_or_else(|| {
        Fail::new(exit::INVALID, "no database: give --database-url or set DATABASE_URL (in the environment or .env)")
    })?;
    crate::db::DbUrl::parse(&raw).map_err(|e| Fail::new(exit::INVALID, e.to_string()))
}

/// `~/.config/runsheet/<name>`, where runsheet keeps the operator's signing key.
fn config_path(name: &str) -> std::path::PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    base.join("runsheet").join(name)
}
