//! Backfills on SQLite, PostgreSQL and MariaDB, by the real binary: every row ends as the one
//! `UPDATE` the backfill stands for would leave it, and a per-row counter that the `set` SQL
//! increments is exactly 1 wherever `where` matches — also after a run killed with `kill -9`
//! in the middle and run again. A dry run changes nothing; a changed definition is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use runsheet::db::{CHECKPOINT_TABLE, Db, DbUrl, Dialect, ScratchDatabase, scratch::server_url_or_skip};

/// Keys with gaps and negative values; every fifth legacy reference is NULL; the others come in
/// the formats legacy systems wrote.
const ITEMS: i64 = 600;
const PAIRS: i64 = 300;

struct Target {
    url: String,
    scratch: Option<ScratchDatabase>,
    dir: tempfile::TempDir,
}

fn legacy_ref(i: i64) -> String {
    match i.rem_euclid(5) {
        0 => "NULL".into(),
        1 => format!("' ext-{i} '"),
        2 => format!("'EXT{i}'"),
        3 => format!("'ext_{:05}'", i.abs()),
        _ => "''".into(),
    }
}

impl Target {
    async fn new(dialect: Dialect, test: &str) -> Option<Target> {
        let dir = tempfile::tempdir().unwrap();
        let (url, scratch) = match dialect {
            Dialect::Sqlite => (format!("sqlite:{}", dir.path().join("items.db").display()), None),
            _ => {
                let server = server_url_or_skip(dialect, test)?;
                let scratch = ScratchDatabase::create(&server, "rs_backfill").await.unwrap();
                (scratch.url().expose_url().to_string(), Some(scratch))
            }
        };
        let target = Target { url, scratch, dir };
        let mut db = target.db().await;
        for table in ["item", "item_expected"] {
            db.execute(&format!(
                "CREATE TABLE {table} (id BIGINT NOT NULL PRIMARY KEY, legacy_ref VARCHAR(40), \
                 external_reference VARCHAR(40), counter INTEGER NOT NULL DEFAULT 0)"
            ))
            .await
            .unwrap();
            db.execute(&format!(
                "CREATE TABLE {table}_pair (region VARCHAR(8) NOT NULL, seq INTEGER NOT NULL, \
                 legacy_ref VARCHAR(40), external_reference VARCHAR(40), counter INTEGER NOT NULL DEFAULT 0, \
                 PRIMARY KEY (region, seq))"
            ))
            .await
            .unwrap();
            // Gaps (only some ids exist) and negative keys.
            let items: Vec<String> = (0..ITEMS)
                .map(|i| (i * 7 - 1500, i))
                .filter(|(id, _)| id.rem_euclid(3) != 0)
                .map(|(id, i)| format!("({id}, {})", legacy_ref(i)))
                .collect();
            db.execute(&format!("INSERT INTO {table} (id, legacy_ref) VALUES {}", items.join(", "))).await.unwrap();
            let regions = ["ams", "ber", "cdg", "dub"];
            let pairs: Vec<String> = (0..PAIRS)
                .map(|i| format!("('{}', {}, {})", regions[(i % 4) as usize], i * 3 - 200, legacy_ref(i)))
                .collect();
            db.execute(&format!("INSERT INTO {table}_pair (region, seq, legacy_ref) VALUES {}", pairs.join(", ")))
                .await
                .unwrap();
        }
        // The oracle: the single statements the backfills stand for.
        db.execute(
            "UPDATE item_expected SET external_reference = upper(trim(legacy_ref)), counter = counter + 1 \
             WHERE legacy_ref IS NOT NULL",
        )
        .await
        .unwrap();
        db.execute(
            "UPDATE item_expected_pair SET external_reference = lower(legacy_ref), counter = counter + 1 \
             WHERE legacy_ref <> ''",
        )
        .await
        .unwrap();
        Some(target)
    }

    async fn db(&self) -> Db {
        Db::connect(&DbUrl::parse(&self.url).unwrap()).await.unwrap()
    }

    /// A runbook with one backfill per table; `extra` goes into both steps' definitions.
    fn runbook(&self, extra: &str) -> PathBuf {
        let path = self.dir.path().join("backfill.yaml");
        let text = format!(
            "name: legacy-backfill\ntitle: Backfill the legacy references\non_failure: abort\nsteps:\n\
             \x20 - id: items\n    title: Items by id\n    backfill:\n      table: item\n      key: id\n\
             \x20     set: external_reference = upper(trim(legacy_ref)), counter = counter + 1\n\
             \x20     where: legacy_ref IS NOT NULL\n{extra}\
             \x20 - id: pairs\n    title: Pairs by region and seq\n    backfill:\n      table: item_pair\n\
             \x20     key: [region, seq]\n      set: external_reference = lower(legacy_ref), counter = counter + 1\n\
             \x20     where: legacy_ref <> ''\n{extra}"
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self, log: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_runsheet"));
        command
            .current_dir(self.dir.path())
            .env("RUNSHEET_LOG_DIR", self.dir.path().join("logs"))
            .env_remove("DATABASE_URL")
            .args(["run", self.dir.path().join("backfill.yaml").to_str().unwrap(), "--headless", "--yes"])
            .args(["--database-url", &self.url, "--audit-log", self.log(log).to_str().unwrap()])
            .args(["--key", self.dir.path().join("key").to_str().unwrap()])
            .args(extra);
        command
    }

    fn run(&self, log: &str, extra: &[&str]) -> Output {
        let output = self.command(log, extra).output().unwrap();
        eprintln!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        output
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.jsonl"))
    }

    fn verify(&self, log: &str) -> Option<i32> {
        let pubkey = self.dir.path().join("key.pub");
        let output = Command::new(env!("CARGO_BIN_EXE_runsheet"))
            .args(["audit", "verify", self.log(log).to_str().unwrap(), "--pubkey", pubkey.to_str().unwrap()])
            .output()
            .unwrap();
        output.status.code()
    }

    async fn count(&self, sql: &str) -> i64 {
        let value = self.db().await.query_value(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        value.unwrap().parse().unwrap()
    }

    /// Rows of a table that differ from its oracle (or are missing in it).
    async fn differences(&self, table: &str, key: &[&str]) -> i64 {
        let on: Vec<String> = key.iter().map(|k| format!("t.{k} = e.{k}")).collect();
        let total = self.count(&format!("SELECT count(*) FROM {table}")).await;
        let expected = self.count(&format!("SELECT count(*) FROM {}", expected_table(table))).await;
        assert_eq!(total, expected, "{table} has as many rows as its oracle");
        let same = self
            .count(&format!(
                "SELECT count(*) FROM {table} t JOIN {} e ON {} WHERE COALESCE(t.external_reference, '~') = \
                 COALESCE(e.external_reference, '~') AND t.counter = e.counter AND \
                 COALESCE(t.legacy_ref, '~') = COALESCE(e.legacy_ref, '~')",
                expected_table(table),
                on.join(" AND ")
            ))
            .await;
        total - same
    }

    /// Rows whose counter is not what one pass of the backfill leaves (1 where `where` holds).
    async fn wrong_counters(&self) -> (i64, i64) {
        let items = self
            .count("SELECT count(*) FROM item WHERE counter <> CASE WHEN legacy_ref IS NULL THEN 0 ELSE 1 END")
            .await;
        let pairs = self
            .count(
                "SELECT count(*) FROM item_pair WHERE counter <> \
                 CASE WHEN legacy_ref IS NULL OR legacy_ref = '' THEN 0 ELSE 1 END",
            )
            .await;
        (items, pairs)
    }

    async fn assert_done_exactly_once(&self) {
        assert_eq!(self.wrong_counters().await, (0, 0), "every counter is exactly one pass");
        assert_eq!(self.differences("item", &["id"]).await, 0, "items as one UPDATE leaves them");
        assert_eq!(self.differences("item_pair", &["region", "seq"]).await, 0, "pairs as one UPDATE leaves them");
    }

    /// Until the items backfill has committed `n` batches.
    async fn wait_for_batches(&self, n: u64) {
        let start = Instant::now();
        let mut db = self.db().await;
        while db.read_checkpoint("legacy-backfill", "items").await.unwrap().is_none_or(|c| c.batches < n) {
            assert!(start.elapsed() < Duration::from_secs(60), "the backfill never got going");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    async fn finish(self) {
        if let Some(scratch) = self.scratch {
            scratch.drop_now().await.unwrap();
        }
    }
}

fn expected_table(table: &str) -> String {
    match table.split_once('_') {
        Some((base, rest)) => format!("{base}_expected_{rest}"),
        None => format!("{table}_expected"),
    }
}

fn entries(log: &Path) -> Vec<serde_json::Value> {
    // A line being written while a run goes on is skipped.
    std::fs::read_to_string(log).unwrap().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Until a running run's audit log has an entry that `wanted` accepts.
fn wait_for_entry(log: &Path, never: &str, wanted: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    while !log.exists() || !entries(log).iter().any(&wanted) {
        assert!(start.elapsed() < Duration::from_secs(30), "{never}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The metrics of a backfill step's `step.finished` entry.
fn metrics(log: &Path, step: &str) -> serde_json::Value {
    let finished = entries(log).into_iter().find(|e| e["kind"] == "step.finished" && e["step"] == step).unwrap();
    finished["result"]["Ok"]["metrics"].clone()
}

async fn whole_backfill(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else { return };
    // Small batches that size themselves: many batches, composite ranges crossing regions.
    t.runbook("      batch_size: 16\n      min_batch_size: 4\n");
    let output = t.run("first", &[]);
    assert_eq!(output.status.code(), Some(0));
    t.assert_done_exactly_once().await;
    let items = t.count("SELECT count(*) FROM item").await;
    let m = metrics(&t.log("first"), "items");
    assert_eq!(m["rows_visited"], items, "{m}");
    assert_eq!(m["rows_updated"], t.count("SELECT count(*) FROM item WHERE legacy_ref IS NOT NULL").await);
    assert!(m["batches"].as_u64().unwrap() > 1, "{m}");
    assert_eq!(metrics(&t.log("first"), "pairs")["rows_visited"], PAIRS);
    assert_eq!(t.verify("first"), Some(0));
    // Run again: the checkpoint says it is done; nothing is touched twice.
    let again = t.run("second", &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("nothing left to do: an earlier run completed this backfill"));
    t.assert_done_exactly_once().await;
    t.finish().await;
}

async fn killed_and_resumed(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else { return };
    // Fixed small batches with a pause: the run is slow enough to be killed half-way.
    t.runbook("      batch_size: 8\n      min_batch_size: 8\n      max_batch_size: 8\n      sleep: 20ms\n");
    let mut child = t.command("killed", &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    t.wait_for_batches(10).await;
    assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
    // SIGKILL: no cleanup, the batch in flight dies with the connection.
    child.kill().unwrap();
    child.wait().unwrap();
    let done = t.db().await.read_checkpoint("legacy-backfill", "items").await.unwrap().unwrap();
    assert!(!done.finished, "killed half-way, not at the end");
    assert!(t.count("SELECT count(*) FROM item WHERE counter = 0 AND legacy_ref IS NOT NULL").await > 0);

    let resumed = t.run("resumed", &[]);
    assert_eq!(resumed.status.code(), Some(0));
    let text = stdout(&resumed);
    assert!(text.contains("resuming after key "), "the run says where it resumes:\n{text}");
    let m = metrics(&t.log("resumed"), "items");
    assert!(m["resumed_after"].is_string(), "{m}");
    assert_eq!(m["total_rows_visited"], t.count("SELECT count(*) FROM item").await, "{m}");
    assert!(m["rows_visited"].as_u64().unwrap() < m["total_rows_visited"].as_u64().unwrap());
    t.assert_done_exactly_once().await;
    assert_eq!(t.verify("resumed"), Some(0));
    t.finish().await;
}

async fn dry_run_changes_nothing(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else { return };
    t.runbook("      batch_size: 50\n");
    let untouched = "SELECT count(*) FROM item WHERE counter = 0 AND external_reference IS NULL";
    let output = t.run("dry", &["--dry-run"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let items = t.count("SELECT count(*) FROM item").await;
    let candidates = t.count("SELECT count(*) FROM item WHERE legacy_ref IS NOT NULL").await;
    assert!(text.contains(&format!("would visit {items} rows ({candidates} match `where`)")), "{text}");
    assert!(text.contains("a sample batch of 50 rows changed"), "{text}");
    assert_eq!(t.count(untouched).await, items, "no row changed");
    let tables = t.db().await.table_names().await.unwrap();
    assert!(!tables.iter().any(|n| n == CHECKPOINT_TABLE), "no checkpoint table: {tables:?}");
    let estimate = entries(&t.log("dry")).into_iter().find(|e| e["kind"] == "backfill.estimate").unwrap();
    // PostgreSQL measures the sample batch's WAL (written even though it is rolled back).
    let wal = &estimate["estimate"]["projected_wal_bytes"];
    if dialect == Dialect::Postgres {
        assert!(wal.as_u64().is_some_and(|bytes| bytes > 0), "{estimate}");
        assert!(text.contains("kB of WAL"), "{text}");
    } else {
        assert!(wal.is_null(), "{estimate}");
        assert!(!text.contains("of WAL"), "{text}");
    }
    // The step's own `dry_run: true` does the same without the flag.
    t.runbook("      dry_run: true\n");
    assert_eq!(t.run("step-dry", &[]).status.code(), Some(0));
    assert_eq!(t.count(untouched).await, items);
    t.finish().await;
}

#[tokio::test]
async fn sqlite_backfill_matches_one_update() {
    whole_backfill(Dialect::Sqlite, "sqlite_backfill_matches_one_update").await;
}

#[tokio::test]
async fn postgres_backfill_matches_one_update() {
    whole_backfill(Dialect::Postgres, "postgres_backfill_matches_one_update").await;
}

#[tokio::test]
async fn mysql_backfill_matches_one_update() {
    whole_backfill(Dialect::MySql, "mysql_backfill_matches_one_update").await;
}

#[tokio::test]
async fn sqlite_backfill_killed_and_resumed() {
    killed_and_resumed(Dialect::Sqlite, "sqlite_backfill_killed_and_resumed").await;
}

#[tokio::test]
async fn postgres_backfill_killed_and_resumed() {
    killed_and_resumed(Dialect::Postgres, "postgres_backfill_killed_and_resumed").await;
}

#[tokio::test]
async fn mysql_backfill_killed_and_resumed() {
    killed_and_resumed(Dialect::MySql, "mysql_backfill_killed_and_resumed").await;
}

#[tokio::test]
async fn sqlite_dry_run_changes_nothing() {
    dry_run_changes_nothing(Dialect::Sqlite, "sqlite_dry_run_changes_nothing").await;
}

#[tokio::test]
async fn postgres_dry_run_changes_nothing() {
    dry_run_changes_nothing(Dialect::Postgres, "postgres_dry_run_changes_nothing").await;
}

#[tokio::test]
async fn mysql_dry_run_changes_nothing() {
    dry_run_changes_nothing(Dialect::MySql, "mysql_dry_run_changes_nothing").await;
}

#[tokio::test]
async fn a_changed_definition_is_refused_until_restarted_on_purpose() {
    let Some(t) = Target::new(Dialect::Sqlite, "a_changed_definition_is_refused").await else { return };
    t.runbook("");
    assert_eq!(t.run("first", &[]).status.code(), Some(0));
    // Same step ids, another `set`: resuming would mix two definitions.
    let path = t.runbook("");
    let text = std::fs::read_to_string(&path).unwrap().replace("upper(trim(legacy_ref))", "trim(legacy_ref)");
    std::fs::write(&path, text).unwrap();
    let refused = t.run("changed", &[]);
    assert_eq!(refused.status.code(), Some(3), "the step fails, on_failure: abort");
    let out = stdout(&refused);
    assert!(out.contains("was written by another definition of this backfill"), "{out}");
    assert!(out.contains("--restart-backfill items"), "{out}");
    assert_eq!(t.count("SELECT count(*) FROM item WHERE counter > 1").await, 0, "nothing ran twice");

    let restarted = t.run("restarted", &["--restart-backfill", "items", "--restart-backfill", "pairs"]);
    assert_eq!(restarted.status.code(), Some(0));
    assert!(entries(&t.log("restarted")).iter().any(|e| e["kind"] == "backfill.restarted" && e["step"] == "items"));
    // Started over on purpose: each matching row has had exactly two passes now.
    assert_eq!(t.count("SELECT count(*) FROM item WHERE legacy_ref IS NOT NULL AND counter <> 2").await, 0);
    assert_eq!(t.count("SELECT count(*) FROM item WHERE external_reference <> trim(legacy_ref)").await, 0);
    // A step that is not a backfill cannot be restarted.
    let wrong = t.run("wrong", &["--restart-backfill", "nope"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("has no backfill step `nope`"));
}

/// A backfill past its step's `timeout` ends between two batches, with its checkpoint in
/// place; the next run, without the timeout, goes on from there.
#[tokio::test]
async fn a_backfill_past_its_timeout_stops_between_batches_and_resumes() {
    let Some(t) = Target::new(Dialect::Sqlite, "a_backfill_past_its_timeout").await else { return };
    // Ten rows a batch, a fifth of a second apart: two batches fit in the timeout, not all.
    let path =
        t.runbook("      batch_size: 10\n      min_batch_size: 10\n      max_batch_size: 10\n      sleep: 200ms\n");
    let text = std::fs::read_to_string(&path).unwrap();
    let timed = text.replacen("    title: Items by id\n", "    title: Items by id\n    timeout: 300ms\n", 1);
    std::fs::write(&path, timed).unwrap();
    let stopped = t.run("timed-out", &[]);
    assert_eq!(stopped.status.code(), Some(3), "the step fails, on_failure: abort");
    let out = stdout(&stopped);
    assert!(out.contains("stopped between two batches (the step ran longer than its timeout, 300ms)"), "{out}");
    assert!(out.contains("a new run of this runbook resumes there"), "{out}");
    let done = t.count("SELECT count(*) FROM item WHERE counter = 1").await;
    assert!(done >= 10 && done < t.count("SELECT count(*) FROM item WHERE legacy_ref IS NOT NULL").await);
    assert_eq!(t.count("SELECT count(*) FROM item WHERE counter > 1").await, 0);

    // Batch sizes and pauses are not part of the definition: the defaults resume it.
    t.runbook("");
    let resumed = t.run("resumed", &[]);
    assert_eq!(resumed.status.code(), Some(0));
    assert!(stdout(&resumed).contains("resuming after key "));
    t.assert_done_exactly_once().await;
}

#[tokio::test]
async fn pause_when_holds_the_batches_until_it_turns_false() {
    let Some(t) = Target::new(Dialect::Sqlite, "pause_when_holds_the_batches").await else { return };
    let mut db = t.db().await;
    db.execute("CREATE TABLE replica_lag (behind INTEGER NOT NULL); INSERT INTO replica_lag VALUES (1)").await.unwrap();
    drop(db);
    t.runbook("      pause_when: SELECT count(*) > 0 FROM replica_lag WHERE behind = 1\n");
    let child = t.command("paused", &[]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    wait_for_entry(&t.log("paused"), "the backfill never paused", |e| {
        e["kind"] == "backfill.progress" && e["state"] == "paused"
    });
    assert_eq!(t.count("SELECT count(*) FROM item WHERE counter > 0").await, 0, "no batch while paused");
    t.db().await.execute("UPDATE replica_lag SET behind = 0").await.unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("paused: pause_when holds (SELECT count(*) > 0 FROM replica_lag"), "{text}");
    t.assert_done_exactly_once().await;
}

#[tokio::test]
async fn postgres_backfill_goes_on_after_its_connection_is_dropped() {
    let test = "postgres_backfill_goes_on_after_its_connection_is_dropped";
    let Some(t) = Target::new(Dialect::Postgres, test).await else { return };
    t.runbook("      batch_size: 8\n      min_batch_size: 8\n      max_batch_size: 8\n      sleep: 20ms\n");
    let child = t.command("dropped", &[]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    t.wait_for_batches(5).await;
    // The server ends the backfill's session (not the one holding the run lock).
    let ended = t
        .count(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND application_name = 'runsheet' AND query NOT LIKE '%advisory%'",
        )
        .await;
    assert_eq!(ended, 1);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let m = metrics(&t.log("dropped"), "items");
    assert!(m["retries"].as_u64().unwrap() >= 1, "{m}");
    assert!(entries(&t.log("dropped")).iter().any(|e| e["kind"] == "backfill.retry"));
    t.assert_done_exactly_once().await;
    t.finish().await;
}

/// A batch that meets a row another session holds gives up after `lock_timeout` (so the
/// application's writes never queue behind it for long), waits and is tried again; once the
/// row is free the backfill ends, every row done once.
async fn waits_out_a_held_row(dialect: Dialect, test: &str) {
    let Some(t) = Target::new(dialect, test).await else { return };
    // 200 ms (MariaDB rounds it up to a whole second).
    t.runbook("      batch_size: 8\n      min_batch_size: 8\n      max_batch_size: 8\n    lock_timeout: 200ms\n");
    let mut holder = t.db().await;
    let second = t.count("SELECT min(id) FROM item WHERE id > (SELECT min(id) FROM item)").await;
    holder.execute(&format!("BEGIN; SELECT * FROM item WHERE id = {second} FOR UPDATE")).await.unwrap();
    let child = t.command("held", &[]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let log = t.log("held");
    let retried = |e: &serde_json::Value| e["kind"] == "backfill.retry";
    wait_for_entry(&log, "the batch never gave up waiting", retried);
    std::thread::sleep(Duration::from_millis(500));
    holder.execute("COMMIT").await.unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let m = metrics(&log, "items");
    assert!(m["retries"].as_u64().unwrap() >= 1, "{m}");
    let retry = entries(&log).into_iter().find(|e| retried(e)).unwrap();
    assert!(retry["error"].as_str().unwrap().to_lowercase().contains("lock"), "{retry}");
    t.assert_done_exactly_once().await;
    t.finish().await;
}

#[tokio::test]
async fn postgres_backfill_waits_out_a_held_row() {
    waits_out_a_held_row(Dialect::Postgres, "postgres_backfill_waits_out_a_held_row").await;
}

#[tokio::test]
async fn mysql_backfill_waits_out_a_held_row() {
    waits_out_a_held_row(Dialect::MySql, "mysql_backfill_waits_out_a_held_row").await;
}

/// On PostgreSQL a batch also stays within `max_batch_wal`: with a tiny budget the batches
/// shrink far below the size the row-lock share allows, and every row is still done once.
#[tokio::test]
async fn postgres_batches_stay_within_their_wal_budget() {
    let test = "postgres_batches_stay_within_their_wal_budget";
    let Some(t) = Target::new(Dialect::Postgres, test).await else { return };
    const ROWS: i64 = 40_000;
    let mut db = t.db().await;
    db.execute(&format!(
        "CREATE TABLE wide (id BIGINT PRIMARY KEY, note TEXT NOT NULL, counter INTEGER NOT NULL DEFAULT 0); \
         INSERT INTO wide (id, note) SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g"
    ))
    .await
    .unwrap();
    let runbook = "name: wal-budget\ntitle: WAL budget\nsteps:\n  - id: wide\n    title: Wide rows\n    backfill:\n\
                   \x20     table: wide\n      key: id\n      set: note = upper(note), counter = counter + 1\n\
                   \x20     max_batch_wal: 8kB\n";
    std::fs::write(t.dir.path().join("backfill.yaml"), runbook).unwrap();
    let output = t.run("wal", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // One row in 200 of the table would allow 200-row batches, 200 batches in all; each row's
    // new version writes well over 40 bytes of WAL, so 8kB holds far fewer rows than that.
    let batches = metrics(&t.log("wal"), "wide")["batches"].as_u64().unwrap();
    assert!(batches > 2 * (ROWS as u64 / 200), "{batches} batches");
    assert_eq!(t.count("SELECT count(*) FROM wide WHERE counter <> 1 OR note <> upper(note)").await, 0);
    t.finish().await;
}
