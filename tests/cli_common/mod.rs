//! Running the real binary as an operator would, for the command-line test files.

// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `runsheet ARGS` in `dir`, with a home, logs and no database or key from the environment.
pub fn runsheet(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_runsheet"))
        .current_dir(dir)
        .env("RUNSHEET_LOG_DIR", dir.join("logs"))
        .env("HOME", dir)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("RUNSHEET_KEY")
        .env_remove("DATABASE_URL")
        .args(args)
        .output()
        .unwrap();
    eprintln!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    output
}

/// stdout then stderr.
pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
