//! The program's own logs: rolling daily files, never the terminal (the TUI draws there).

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// `$RUNSHEET_LOG_DIR`, else `$XDG_STATE_HOME/runsheet/logs`, else `~/.local/state/runsheet/logs`.
pub fn log_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RUNSHEET_LOG_DIR") {
        return PathBuf::from(dir);
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    state.join("runsheet").join("logs")
}

/// Starts logging to `runsheet.log.YYYY-MM-DD` files; the level comes from `RUNSHEET_LOG`
/// (default `info`). Keep the guard alive: dropping it flushes the last lines.
pub fn init_logging() -> Option<WorkerGuard> {
    let dir = log_dir();
    // No log directory must not stop a change: the audit log is the record that matters.
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::daily(&dir, "runsheet.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = EnvFilter::try_from_env("RUNSHEET_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(false).try_init().ok()?;
    Some(guard)
}
