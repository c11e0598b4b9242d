//! Time from start to the first frame of the terminal UI: the release `runsheet run` in a
//! pseudo-terminal (120×40, NO_COLOR=1) on a fresh SQLite database, timed from the spawn to the
//! first screen that shows the runbook's title; then `q` and the wait for the exit.
//! Used by bench/tui.sh.
//!
//! cargo run --release --example tui_first_frame -- --bin target/release/runsheet \
//!     --runbook runbooks/external-orders-expand.yaml [--runbook OTHER.yaml] [--reps 10]
//!
//! Each repetition has its own directory: a new database, audit log and log directory. The
//! signing key is shared, made by a first run that is not counted (and warms the page cache),
//! as an operator's key exists before a run.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use runsheet::model::load_runbook;

#[derive(Parser)]
struct Args {
    /// The runsheet binary to start.
    #[arg(long, default_value = "target/release/runsheet")]
    bin: PathBuf,
    /// Runbooks to open, each timed `reps` times.
    #[arg(long, required = true)]
    runbook: Vec<PathBuf>,
    #[arg(long, default_value_t = 10)]
    reps: usize,
}

const ROWS: u16 = 40;
const COLS: u16 = 120;
/// How long a start may take before the run counts as broken.
const PATIENCE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tui_first_frame: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let bin = std::fs::canonicalize(&args.bin).map_err(|e| format!("{}: {e}", args.bin.display()))?;
    let work = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let key = work.path().join("key");
    for runbook in &args.runbook {
        let loaded = load_runbook(runbook, &[]).map_err(|d| d.to_string())?;
        let runbook = std::fs::canonicalize(runbook).map_err(|e| format!("{}: {e}", runbook.display()))?;
        println!(
            "{}: {} steps, {} rollback steps; first frame = the screen shows {:?}",
            runbook.display(),
            loaded.steps.len(),
            loaded.rollback.len(),
            loaded.title
        );
        let start = |name: String| {
            let dir = work.path().join(name);
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            start_once(&bin, &runbook, &dir, &key, &loaded.title)
        };
        let warm = start(format!("{}-warm-up", loaded.name))?;
        println!("  warm-up (not counted): first frame {}", warm.line());
        let mut firsts = Vec::with_capacity(args.reps);
        for rep in 1..=args.reps {
            let timing = start(format!("{}-{rep}", loaded.name))?;
            println!("  run {rep:>2}: first frame {}", timing.line());
            firsts.push(timing.first_frame);
        }
        firsts.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        if let (Some(min), Some(max)) = (firsts.first(), firsts.last()) {
            println!(
                "  first frame over {} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
                firsts.len(),
                ms(*min),
                ms(firsts[firsts.len() / 2]),
                ms(*max)
            );
        }
    }
    Ok(())
}

struct Timing {
    first_frame: Duration,
    /// From `q` to the process's end.
    quit: Duration,
    exit_code: u32,
}

impl Timing {
    fn line(&self) -> String {
        format!(
            "{:>6.1} ms; q → exit {:>6.1} ms (exit code {})",
            self.first_frame.as_secs_f64() * 1e3,
            self.quit.as_secs_f64() * 1e3,
            self.exit_code
        )
    }
}

fn start_once(bin: &Path, runbook: &Path, dir: &Path, key: &Path, title: &str) -> Result<Timing, String> {
    let pty = |e: &dyn std::fmt::Display| format!("pseudo-terminal: {e}");
    let pair = native_pty_system()
        .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
        .map_err(|e| pty(&e))?;
    let mut command = CommandBuilder::new(bin);
    command.arg("run");
    command.arg(runbook);
    command.arg("--database-url");
    command.arg(format!("sqlite:{}", dir.join("bench.db").display()));
    command.arg("--audit-log");
    command.arg(dir.join("audit.jsonl"));
    command.arg("--key");
    command.arg(key);
    command.args(["--operator", "bench", "--role", "operator"]);
    command.cwd(dir);
    command.env("NO_COLOR", "1");
    command.env("TERM", "xterm-256color");
    command.env("RUNSHEET_LOG_DIR", dir.join("logs"));
    command.env_remove("DATABASE_URL");

    let mut reader = pair.master.try_clone_reader().map_err(|e| pty(&e))?;
    let mut writer = pair.master.take_writer().map_err(|e| pty(&e))?;
    let (seen_tx, seen) = mpsc::channel();
    let title = title.to_string();
    let spawned = Instant::now();
    let mut child = pair.slave.spawn_command(command).map_err(|e| pty(&e))?;
    drop(pair.slave);
    // The screen is read back as a terminal shows it: ratatui skips unchanged cells, so only the
    // screen, never the byte stream, says what is drawn. The reader ends when the program does.
    let screen_reader = std::thread::spawn(move || {
        let (Some(rows), Some(cols)) = (NonZeroU16::new(ROWS), NonZeroU16::new(COLS)) else {
            return String::new();
        };
        let mut screen = vt100::Parser::new(rows, cols, 0);
        let mut seen_tx = Some(seen_tx);
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            screen.process(&buf[..n]);
            if seen_tx.is_some() && screen.screen().contents().contains(&title) {
                let _ = seen_tx.take().map(|tx| tx.send(Instant::now()));
            }
        }
        screen.screen().contents()
    });

    let timing = seen
        .recv_timeout(PATIENCE)
        .map_err(|_| format!("the title never showed within {} s", PATIENCE.as_secs()))
        .and_then(|shown| {
            let quit_sent = Instant::now();
            writer.write_all(b"q").and_then(|()| writer.flush()).map_err(|e| format!("sending q: {e}"))?;
            loop {
                match child.try_wait().map_err(|e| e.to_string())? {
                    Some(status) => {
                        let (first_frame, quit) = (shown - spawned, quit_sent.elapsed());
                        return Ok(Timing { first_frame, quit, exit_code: status.exit_code() });
                    }
                    None if quit_sent.elapsed() < PATIENCE => std::thread::sleep(Duration::from_millis(1)),
                    None => return Err(format!("still running {} s after q", PATIENCE.as_secs())),
                }
            }
        });
    if timing.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let screen = screen_reader.join().unwrap_or_default();
    timing.map_err(|problem| format!("{}: {problem}; the screen shows:\n{screen}", runbook.display()))
}
