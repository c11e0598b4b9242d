//! The real `runsheet` binary as an operator runs it, for the command-line tests.

// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `runsheet ARGS` in `dir`, with a home, logs and key of its own there and no DATABASE_URL.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runsheet"));
    command
        .current_dir(dir)
        .env("RUNSHEET_LOG_DIR", dir.join("logs"))
        .env("HOME", dir)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("RUNSHEET_KEY")
        .env_remove("DATABASE_URL")
        .args(args);
    command
}

/// Runs `runsheet ARGS` to the end; what it printed is echoed for a failing test's report.
pub fn runsheet(dir: &Path, args: &[&str]) -> Output {
    let output = command(dir, args).output().unwrap();
    eprintln!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `runsheet run RUNBOOK --headless --yes --database-url URL EXTRA...`
pub fn run_yes(dir: &Path, runbook: &Path, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", runbook.to_str().unwrap(), "--headless", "--yes", "--database-url", url];
    args.extend_from_slice(extra);
    runsheet(dir, &args)
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("orders.db").display())
}

/// Writes files (name, content) into `dir`, creating it.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}
