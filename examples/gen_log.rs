//! Writes a sealed audit log of realistic entries through the journal API, timing the appends
//! (each one written and fsynced). Used by bench/verify-log.sh.
//!
//! cargo run --release --example gen_log -- --entries 100000 --out /var/tmp/audit.jsonl

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use runsheet::journal::{self, Journal};
use serde_json::{Map, Value, json};

#[derive(Parser)]
struct Args {
    /// Entries to write before the seal (checkpoints come on top, every 100 by default).
    #[arg(long, default_value_t = 100_000)]
    entries: u64,
    /// The log to create; its signing key goes to LOG.key and LOG.key.pub.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_log: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), journal::Error> {
    let mut key_path = args.out.clone().into_os_string();
    key_path.push(".key");
    let (key, _) = journal::load_or_create_key(&PathBuf::from(key_path))?;
    let mut journal = Journal::create(&args.out, key, &["db-password"])?;
    let started = Instant::now();
    for i in 0..args.entries {
        let (kind, fields) = entry(i);
        journal.append(kind, fields)?;
    }
    let appended = started.elapsed();
    journal.seal(object(json!({"outcome": "completed", "steps": args.entries / 2})))?;
    let bytes =
        std::fs::metadata(&args.out).map_err(|e| journal::Error::Io { path: args.out.clone(), source: e })?.len();
    let lines = journal.last_seq();
    println!(
        "wrote {} entries + {} checkpoints and the seal ({lines} lines, {bytes} bytes, {} bytes a line) in {:.3} s: {:.1} µs an append",
        args.entries,
        lines - args.entries - 1,
        bytes / lines.max(1),
        appended.as_secs_f64(),
        appended.as_secs_f64() * 1e6 / args.entries.max(1) as f64,
    );
    Ok(())
}

/// A step.started / step.finished pair per step, shaped like a run's real entries.
fn entry(i: u64) -> (&'static str, Map<String, Value>) {
    let step = format!("check-{:05}", i / 2);
    if i.is_multiple_of(2) {
        ("step.started", object(json!({"step": step, "title": "No legacy reference collides"})))
    } else {
        let facts = json!({"type": "value", "value": (i * 7919 % 100_000).to_string()});
        ("step.finished", object(json!({"step": step, "outcome": "passed", "duration_ms": i % 97, "facts": facts})))
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
