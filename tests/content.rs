//! The shipped content: the runbooks, checklists and migrations load cleanly; the demo data has
//! the legacy formats of the seeds and no collision; every query of the shipped runbooks gives
//! the expected value on that data and fails on the data it guards against; the migrations
//! revert exactly. On SQLite always, on PostgreSQL and MariaDB when their URLs are set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use runsheet::demo;
use runsheet::model::{Branch, Check, DIALECTS, Migrations, Operand, Ref, Runbook, StepKind, load_runbook};
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, PgConnection, Row, SqliteConnection};

const EXPAND_RUNBOOK: &str = "external-orders-expand.yaml";
const ROLLBACK_RUNBOOK: &str = "external-orders-expand-rollback.yaml";
const BACKFILL_RUNBOOK: &str = "external-orders-backfill.yaml";
const COLUMN_VERSION: i64 = 20261128010000;
const INDEX_VERSION: i64 = 20261128010100;
const CONTRACT_VERSION: i64 = 20261205010000;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn runbook(file: &str) -> Runbook {
    load_runbook(&root().join("runbooks").join(file), &[]).unwrap_or_else(|d| panic!("{file}:\n{d}"))
}

fn shipped_runbooks() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("runbooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
}

// ---------------------------------------------------------------- runbooks and migrations

#[test]
fn shipped_runbooks_load_and_their_versions_exist_in_every_dialect() {
    let paths = shipped_runbooks();
    assert_eq!(paths.len(), 3, "{paths:?}");
    for path in paths {
        let runbook = load_runbook(&path, &[]).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        let Some(migrations) = &runbook.migrations else {
            let migrating = runbook
                .steps
                .iter()
                .chain(&runbook.rollback)
                .any(|s| matches!(s.kind, StepKind::Migrate { .. } | StepKind::Revert { .. }));
            assert!(!migrating, "{}: migrate or revert steps without migrations", path.display());
            continue;
        };
        let Migrations::PerDialect(sets) = migrations else {
            panic!("{}: migrations must be given per dialect", path.display())
        };
        assert_eq!(sets.keys().map(String::as_str).collect::<Vec<_>>(), {
            let mut d = DIALECTS.to_vec();
            d.sort();
            d
        });
        for step in runbook.steps.iter().chain(&runbook.rollback) {
            let version = match step.kind {
                StepKind::Migrate { to } => to.unwrap_or_else(|| panic!("{}: migrate without `to`", step.id)),
                StepKind::Revert { to: 0 } => continue,
                StepKind::Revert { to } => to,
                _ => continue,
            };
            for (dialect, set) in sets {
                assert!(set.get(version).is_some(), "{}: {version} missing in {dialect}", step.id);
            }
        }
    }
}

#[test]
fn expand_runbook_stops_before_the_contract_and_rolls_back_everything() {
    let runbook = runbook(EXPAND_RUNBOOK);
    let migrate: Vec<Option<i64>> = runbook
        .steps
        .iter()
        .filter_map(|s| match s.kind {
            StepKind::Migrate { to } => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(migrate, vec![Some(INDEX_VERSION)]);
    assert!(matches!(runbook.rollback[0].kind, StepKind::Revert { to: 0 }));
    let (_, _, gate) = runbook.step("go-no-go").unwrap();
    assert_eq!(gate.role.as_deref(), Some("change-manager"));
    let tell = runbook.step("tell-support").unwrap().2;
    assert!(tell.target_time.is_some() && matches!(tell.kind, StepKind::Manual { .. }));
}

#[test]
fn migrations_are_aligned_and_marked() {
    let runbook = runbook(EXPAND_RUNBOOK);
    for set in runbook.migrations.as_ref().unwrap().sets() {
        let dir = set.dir.display();
        let versions: Vec<i64> = set.migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, vec![COLUMN_VERSION, INDEX_VERSION, CONTRACT_VERSION], "{dir}");
        for m in &set.migrations {
            let contract = m.version == CONTRACT_VERSION;
            for sql in [&m.up_sql, &m.down_sql] {
                assert_eq!(sql.starts_with("-- runsheet: phase=contract\n"), contract, "{dir} {}", m.version);
                assert!(!sql.contains("INSERT") && !sql.contains("UPDATE "), "no data in migrations: {dir}");
            }
        }
        // CREATE/DROP INDEX CONCURRENTLY: out of any transaction, alone in its file.
        let postgres = set.dir.ends_with("postgres");
        for m in &set.migrations {
            for sql in [&m.up_sql, &m.down_sql] {
                let no_tx = sql.starts_with("-- no-transaction\n");
                assert_eq!(no_tx, postgres && m.version == INDEX_VERSION, "{dir} {}", m.version);
                let statements = sql.lines().filter(|l| !l.starts_with("--")).collect::<String>();
                if no_tx {
                    assert_eq!(statements.matches(';').count(), 1, "{dir} {}", m.version);
                    assert!(statements.contains("CONCURRENTLY"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------- demo data, pure

/// The legacy formats the seeds describe, told apart by their text only.
fn format_of(legacy_ref: Option<&str>) -> Vec<&'static str> {
    let Some(text) = legacy_ref else { return vec!["null"] };
    let trimmed = text.trim();
    if text.is_empty() {
        return vec!["empty"];
    }
    if trimmed.is_empty() {
        return vec!["blank"];
    }
    let mut kinds = Vec::new();
    if text.starts_with(' ') {
        kinds.push("leading spaces");
    }
    if text.ends_with(' ') {
        kinds.push("trailing spaces");
    }
    let (prefix, digits) = match trimmed.find(|c: char| c.is_ascii_digit()) {
        Some(i) => trimmed.split_at(i),
        None => (trimmed, ""),
    };
    assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()), "unknown format {text:?}");
    kinds.push(match prefix {
        "EXT-" => "EXT-",
        "ext-" => "ext-",
        "Ext-" => "Ext-",
        "ext_" => "ext_",
        "EXT_" => "EXT_",
        "Ext_" => "Ext_",
        "#" => "#",
        "" => "digits",
        other => panic!("unknown prefix {other:?} in {text:?}"),
    });
    if digits.starts_with('0') && digits.len() > 1 {
        kinds.push("zero padded");
    }
    kinds
}

fn order_number(legacy_ref: &str) -> u64 {
    legacy_ref.trim().trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap()
}

#[test]
fn demo_rows_are_deterministic_per_seed() {
    let a: Vec<_> = demo::orders(500, 7).collect();
    assert_eq!(a, demo::orders(500, 7).collect::<Vec<_>>());
    let b: Vec<_> = demo::orders(500, 8).collect();
    let same_refs = a.iter().zip(&b).filter(|(x, y)| x.legacy_ref == y.legacy_ref).count();
    assert!(same_refs < 50, "another seed gives other data ({same_refs} equal refs)");
    assert_eq!(a.iter().map(|o| o.id).collect::<Vec<_>>(), (1..=500).collect::<Vec<_>>());
}

#[test]
fn demo_rows_have_every_legacy_format_and_no_collision() {
    let rows: Vec<_> = demo::orders(50_000, demo::DEFAULT_SEED).collect();
    let mut formats: BTreeMap<&str, usize> = BTreeMap::new();
    let mut normalised = HashSet::new();
    let mut numbers = HashSet::new();
    for row in &rows {
        for kind in format_of(row.legacy_ref.as_deref()) {
            *formats.entry(kind).or_default() += 1;
        }
        for text in [row.legacy_ref.as_deref().unwrap_or(""), &row.customer_email, &row.created_at] {
            assert!(!text.contains(['\'', '\\']), "{text:?}");
        }
        if let Some(r) = row.legacy_ref.as_deref().filter(|r| !r.trim().is_empty()) {
            assert!(normalised.insert(r.trim().to_lowercase()), "collision on {r:?}");
            assert!(numbers.insert(order_number(r)), "order number of {r:?} seen before");
        }
    }
    let expected = [
        "null",
        "empty",
        "blank",
        "leading spaces",
        "trailing spaces",
        "EXT-",
        "ext-",
        "Ext-",
        "ext_",
        "EXT_",
        "Ext_",
        "#",
        "digits",
        "zero padded",
    ];
    for kind in expected {
        assert!(formats.get(kind).is_some_and(|n| *n >= 10), "{kind}: {formats:?}");
    }
    let missing = formats["null"] + formats["empty"] + formats["blank"];
    assert!(missing * 20 < rows.len(), "{missing} rows without reference");
}

#[test]
fn insert_statements_cover_every_row_once() {
    let statements: Vec<String> = demo::insert_statements(1001, 100).collect();
    assert_eq!(statements.len(), 11);
    let tuples: Vec<usize> = statements.iter().map(|s| s.matches('(').count() - 1).collect();
    assert_eq!(tuples.iter().sum::<usize>(), 1001);
    assert_eq!(tuples[10], 1);
    assert!(statements[0].starts_with("INSERT INTO external_order (id, legacy_ref,"));
    assert!(statements[0].contains("VALUES (1, "));
    assert!(statements[10].contains("VALUES (1001, "));
    assert_eq!(demo::insert_statements(3, 0).count(), 3, "at least one row a statement");
    assert_eq!(demo::insert_statements(0, 10).count(), 0);
    assert!(demo::schema_sql("oracle").is_none());
}

// ---------------------------------------------------------------- databases

enum Db {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    MySql(MySqlConnection),
}

/// Runs the same code on whichever connection `db` holds.
macro_rules! on {
    ($db:expr, $c:ident => $body:expr) => {
        match $db {
            Db::Sqlite($c) => $body,
            Db::Postgres($c) => $body,
            Db::MySql($c) => $body,
        }
    };
}

impl Db {
    async fn connect(url: &str) -> Db {
        if url.starts_with("sqlite:") {
            Db::Sqlite(SqliteConnection::connect(url).await.unwrap())
        } else if url.starts_with("postgres") {
            Db::Postgres(PgConnection::connect(url).await.unwrap())
        } else {
            Db::MySql(MySqlConnection::connect(url).await.unwrap())
        }
    }

    fn dialect(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
            Db::MySql(_) => "mysql",
        }
    }

    async fn execute(&mut self, sql: &str) {
        on!(self, c => {
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(&mut *c)
                .await
                .unwrap_or_else(|e| panic!("{e}: {sql}"));
        })
    }

    /// The first column of every row, as text; None for NULL.
    async fn values(&mut self, sql: &str) -> Result<Vec<Option<String>>, sqlx::Error> {
        on!(self, c => {
            // Not prepared for reuse: across a schema change PostgreSQL refuses a cached plan
            // whose result type changed ("cached plan must not change result type").
            let query = sqlx::query(AssertSqlSafe(sql.to_string())).persistent(false);
            let rows = query.fetch_all(&mut *c).await?;
            Ok(rows
                .iter()
                .map(|row| {
                    row.try_get::<Option<i64>, _>(0)
                        .map(|v| v.map(|v| v.to_string()))
                        .or_else(|_| row.try_get::<Option<i32>, _>(0).map(|v| v.map(|v| v.to_string())))
                        .or_else(|_| row.try_get::<Option<String>, _>(0))
                        .unwrap_or_else(|e| panic!("cannot read the value of {sql}: {e}"))
                })
                .collect())
        })
    }

    /// The single value of a check's query, or the query's error.
    async fn value(&mut self, sql: &str) -> Result<Option<String>, sqlx::Error> {
        let values = self.values(sql).await?;
        assert_eq!(values.len(), 1, "{sql} must return one row");
        Ok(values.into_iter().next().unwrap())
    }

    async fn count(&mut self, sql: &str) -> i64 {
        self.value(sql).await.unwrap().unwrap().parse().unwrap()
    }

    /// Applies pending migrations up to `to`, one at a time, through sqlx's `Migrate`.
    async fn migrate(&mut self, to: i64) {
        let migrator = migrator(self.dialect()).await;
        on!(self, c => {
            let applied = applied(&mut *c).await;
            for m in migrator.iter().filter(|m| !m.migration_type.is_down_migration()) {
                if m.version <= to && !applied.contains(&m.version) {
                    c.apply(MIGRATIONS_TABLE, m).await.unwrap_or_else(|e| panic!("{}: {e}", m.version));
                }
            }
        })
    }

    /// Reverts applied migrations above `to`, newest first.
    async fn revert(&mut self, to: i64) {
        let migrator = migrator(self.dialect()).await;
        on!(self, c => {
            let applied = applied(&mut *c).await;
            for m in migrator.iter().rev().filter(|m| m.migration_type.is_down_migration()) {
                if m.version > to && applied.contains(&m.version) {
                    c.revert(MIGRATIONS_TABLE, m).await.unwrap_or_else(|e| panic!("{}: {e}", m.version));
                }
            }
        })
    }

    /// Schema of `external_order` as the database states it: column order and indexes included.
    async fn schema(&mut self) -> Vec<String> {
        let sql = match self.dialect() {
            "sqlite" => "SELECT sql FROM sqlite_master WHERE tbl_name = 'external_order' ORDER BY type DESC, name",
            "postgres" => {
                "SELECT line FROM (
                   SELECT ordinal_position AS position, column_name || ' ' || data_type || ' '
                          || coalesce(character_maximum_length, 0) || ' ' || is_nullable AS line
                   FROM information_schema.columns WHERE table_name = 'external_order'
                   UNION ALL SELECT 1000, indexdef FROM pg_indexes WHERE tablename = 'external_order'
                 ) s ORDER BY position, line"
            }
            _ => {
                "SELECT line FROM (
                   SELECT ordinal_position AS position, concat(column_name, ' ', column_type, ' ', is_nullable) AS line
                   FROM information_schema.columns WHERE table_schema = database() AND table_name = 'external_order'
                   UNION ALL SELECT 1000, concat(index_name, ' ', non_unique, ' ', column_name)
                   FROM information_schema.statistics WHERE table_schema = database() AND table_name = 'external_order'
                 ) s ORDER BY position, line"
            }
        };
        self.values(sql).await.unwrap().into_iter().flatten().collect()
    }

    /// The columns of `external_order` (name, type, nullability), whatever their order.
    async fn columns(&mut self) -> Vec<String> {
        let sql = match self.dialect() {
            "sqlite" => {
                "SELECT name || ' ' || type || ' ' || \"notnull\" FROM pragma_table_info('external_order') ORDER BY name"
            }
            "postgres" => {
                "SELECT column_name || ' ' || data_type || ' ' || coalesce(character_maximum_length, 0) || ' ' || is_nullable
                 FROM information_schema.columns WHERE table_name = 'external_order' ORDER BY column_name"
            }
            _ => {
                "SELECT concat(column_name, ' ', column_type, ' ', is_nullable) FROM information_schema.columns
                 WHERE table_schema = database() AND table_name = 'external_order' ORDER BY column_name"
            }
        };
        self.values(sql).await.unwrap().into_iter().flatten().collect()
    }
}

const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

async fn applied(conn: &mut impl Migrate) -> HashSet<i64> {
    conn.ensure_migrations_table(MIGRATIONS_TABLE).await.unwrap();
    let applied = conn.list_applied_migrations(MIGRATIONS_TABLE).await.unwrap();
    applied.iter().map(|m| m.version).collect()
}

async fn migrator(dialect: &str) -> Migrator {
    Migrator::new(root().join("migrations").join(dialect)).await.unwrap()
}

/// A fresh database for one test: a SQLite file, or a uniquely named database on the server
/// whose URL is in `variable` (None when unset: the test is skipped).
struct Fresh {
    url: String,
    admin: Option<(String, String)>,
    /// Where commands run: the backups land here.
    workdir: tempfile::TempDir,
}

impl Fresh {
    fn sqlite() -> Fresh {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
        Fresh { url, admin: None, workdir: dir }
    }

    async fn server(variable: &str, test: &str) -> Option<Fresh> {
        let Ok(admin_url) = std::env::var(variable) else {
            eprintln!("skipped {test}: set {variable} to run it");
            return None;
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("runsheet_content_{}_{}", std::process::id(), nanos % 1_000_000_000);
        let mut admin = Db::connect(&admin_url).await;
        admin.execute(&format!("CREATE DATABASE {name}")).await;
        let (base, query) = admin_url.split_once('?').map_or((admin_url.as_str(), ""), |(b, q)| (b, q));
        let authority_end = base.find("://").unwrap() + 3;
        let path_start = base[authority_end..].find('/').map_or(base.len(), |i| authority_end + i);
        let mut url = format!("{}/{name}", &base[..path_start]);
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        Some(Fresh { url, admin: Some((admin_url, name)), workdir: tempfile::tempdir().unwrap() })
    }

    async fn remove(self) {
        if let Some((admin_url, name)) = &self.admin {
            let mut admin = Db::connect(admin_url).await;
            let force = if admin.dialect() == "postgres" { " WITH (FORCE)" } else { "" };
            admin.execute(&format!("DROP DATABASE {name}{force}")).await;
        }
    }

    /// Runs `body` and drops the database even when it panics.
    async fn run<F, Fut>(self, body: F)
    where
        F: FnOnce(String, PathBuf) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(body(self.url.clone(), self.workdir.path().to_path_buf())).await;
        self.remove().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

async fn load_demo(url: &str, rows: u64) -> Db {
    let mut db = Db::connect(url).await;
    db.execute(&demo::schema_sql(db.dialect()).unwrap()).await;
    let mut batch = String::from("BEGIN;\n");
    for statement in demo::insert_statements(rows, 500) {
        batch.push_str(&statement);
        batch.push_str(";\n");
    }
    batch.push_str("COMMIT;");
    db.execute(&batch).await;
    assert_eq!(db.count("SELECT count(*) FROM external_order").await, rows as i64);
    db
}

/// Walks one branch of a runbook the way a headless `--yes` run would: takes snapshots, runs
/// checks and automated checklist items (each must hold), applies and reverts migrations, and
/// runs commands for real; manual steps and manual items are confirmed.
struct Walk<'a> {
    runbook: &'a Runbook,
    url: &'a str,
    workdir: &'a Path,
    snapshots: HashMap<String, String>,
}

impl Walk<'_> {
    async fn branch(&mut self, db: &mut Db, branch: Branch) {
        for step in self.runbook.branch(branch) {
            match &step.kind {
                StepKind::Snapshot { values } => {
                    for (name, sql) in values {
                        let value = db.value(&sql.source).await.unwrap().unwrap();
                        self.snapshots.insert(name.clone(), value);
                    }
                }
                StepKind::Check(check) => self.assert_holds(db, check, &step.id).await,
                StepKind::Gate { checklist } => {
                    for item in &checklist.items {
                        if let Some(check) = &item.check {
                            self.assert_holds(db, check, &format!("{}/{}", step.id, item.id)).await;
                        }
                    }
                }
                StepKind::Migrate { to } => db.migrate(to.unwrap_or(i64::MAX)).await,
                StepKind::Revert { to } => db.revert(*to).await,
                StepKind::Command { run } => self.command(&step.id, run),
                // The oracle of a backfill: the one UPDATE it stands for (a dry run writes nothing).
                StepKind::Backfill(b) if b.dry_run => {}
                StepKind::Backfill(b) => {
                    let filter = b.filter.as_deref().map(|f| format!(" WHERE {f}")).unwrap_or_default();
                    db.execute(&format!("UPDATE {} SET {}{filter}", b.table, b.set)).await
                }
                StepKind::Manual { .. } => {}
            }
        }
    }

    async fn evaluate(&self, db: &mut Db, check: &Check) -> (Result<Option<String>, sqlx::Error>, bool) {
        assert_eq!(check.sql.refs().count(), 0, "this walk binds no parameters: {}", check.sql.source);
        let expected = match &check.expect.operand {
            Operand::Literal(v) => v.clone(),
            Operand::Ref(Ref::Snapshot(name)) => self.snapshots[name].clone(),
            Operand::Ref(Ref::Var(name)) => self.runbook.vars[name].clone(),
        };
        let actual = db.value(&check.sql.source).await;
        let holds = matches!(&actual, Ok(v) if check.expect.holds(v.as_deref(), &expected));
        (actual, holds)
    }

    async fn assert_holds(&self, db: &mut Db, check: &Check, what: &str) {
        let (actual, holds) = self.evaluate(db, check).await;
        assert!(holds, "{} on {}: {actual:?}, expected {}", what, db.dialect(), check.expect);
    }

    fn command(&self, id: &str, run: &str) {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(run)
            .current_dir(self.workdir)
            .env("DATABASE_URL", self.url)
            .env("run_id", "content-test")
            .envs(&self.runbook.vars)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{id}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.starts_with("backup written: "), "{id}: {stdout}");
    }
}

/// The shipped runbook end to end on demo data: forward, then its rollback branch; then the
/// standalone rollback runbook after a second forward run.
async fn shipped_runbooks_hold_on_demo_data(url: String, workdir: PathBuf) {
    let rows = 20_000;
    let mut db = load_demo(&url, rows).await;
    let before = db.schema().await;

    let expand = runbook(EXPAND_RUNBOOK);
    let mut walk = Walk { runbook: &expand, url: &url, workdir: &workdir, snapshots: HashMap::new() };
    walk.branch(&mut db, Branch::Main).await;
    assert_eq!(walk.snapshots["orders"], rows.to_string());
    let expanded = db.schema().await;
    assert_ne!(expanded, before);
    assert!(expanded.iter().any(|l| l.contains("external_reference")), "{expanded:?}");

    // The backfill runbook, once release N is live: its checks hold after the one UPDATE its
    // backfill stands for.
    let backfill = runbook(BACKFILL_RUNBOOK);
    let mut walk_backfill = Walk { runbook: &backfill, url: &url, workdir: &workdir, snapshots: HashMap::new() };
    walk_backfill.branch(&mut db, Branch::Main).await;
    let filled = db.count("SELECT count(*) FROM external_order WHERE external_reference IS NOT NULL").await;
    assert_eq!(filled.to_string(), walk_backfill.snapshots["to_fill"]);
    assert!(filled > rows as i64 / 2, "most demo orders have a legacy reference: {filled}");

    // The backup is a real one.
    let backups: Vec<PathBuf> =
        std::fs::read_dir(workdir.join("backups")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    if db.dialect() == "sqlite" {
        let mut copy = Db::connect(&format!("sqlite://{}", backups[0].display())).await;
        assert_eq!(copy.count("SELECT count(*) FROM external_order").await, rows as i64);
    } else {
        assert!(std::fs::metadata(&backups[0]).unwrap().len() > 100_000);
    }

    // While the column exists, the rollback's probe says so.
    let (_, _, column_gone) = expand.step("column-gone").unwrap();
    let StepKind::Check(probe) = &column_gone.kind else { panic!() };
    let (value, holds) = walk.evaluate(&mut db, probe).await;
    assert_eq!((value.unwrap().as_deref(), holds), (Some("present"), false));

    walk.branch(&mut db, Branch::Rollback).await;
    assert_eq!(db.schema().await, before, "the rollback restores the schema exactly");
    assert_eq!(db.count("SELECT count(*) FROM _sqlx_migrations").await, 0);

    // The incident runbook, after the expand was applied again.
    db.migrate(INDEX_VERSION).await;
    let incident = runbook(ROLLBACK_RUNBOOK);
    let mut walk = Walk { runbook: &incident, url: &url, workdir: &workdir, snapshots: HashMap::new() };
    walk.branch(&mut db, Branch::Main).await;
    assert_eq!(db.schema().await, before);
    assert_eq!(db.count("SELECT count(*) FROM external_order").await, rows as i64);
}

#[tokio::test]
async fn shipped_runbooks_hold_on_demo_data_sqlite() {
    Fresh::sqlite().run(shipped_runbooks_hold_on_demo_data).await;
}

#[tokio::test]
async fn shipped_runbooks_hold_on_demo_data_postgres() {
    let test = "shipped_runbooks_hold_on_demo_data_postgres";
    if let Some(fresh) = Fresh::server("RUNSHEET_TEST_POSTGRES_URL", test).await {
        fresh.run(shipped_runbooks_hold_on_demo_data).await;
    }
}

#[tokio::test]
async fn shipped_runbooks_hold_on_demo_data_mysql() {
    let test = "shipped_runbooks_hold_on_demo_data_mysql";
    if let Some(fresh) = Fresh::server("RUNSHEET_TEST_MYSQL_URL", test).await {
        fresh.run(shipped_runbooks_hold_on_demo_data).await;
    }
}

/// Each pre-check fails on the legacy data it guards against, and is the run's first to fail.
async fn pre_checks_fail_on_bad_legacy_data(url: String, _workdir: PathBuf) {
    let rows = 1_000;
    let mut db = load_demo(&url, rows).await;
    let expand = runbook(EXPAND_RUNBOOK);
    let walk = Walk { runbook: &expand, url: &url, workdir: Path::new("."), snapshots: HashMap::new() };
    let pre_checks: Vec<(&str, &Check)> = expand
        .steps
        .iter()
        .take_while(|s| s.id != "backup")
        .filter_map(|s| match &s.kind {
            StepKind::Check(c) => Some((s.id.as_str(), c)),
            _ => None,
        })
        .collect();
    assert_eq!(pre_checks.len(), 5);

    let padded = db
        .value("SELECT min(trim(legacy_ref)) FROM external_order WHERE legacy_ref LIKE 'EXT-%'")
        .await
        .unwrap()
        .unwrap();
    let number = order_number(&padded);
    let long = "9".repeat(65);
    let missing: Vec<String> = (0..200)
        .map(|i| format!("({}, NULL, 'x@example.com', 1, 'EUR', 'paid', '2020-01-01 00:00:00')", 5_000 + i))
        .collect();
    let row = |id: u64, legacy_ref: &str| {
        format!(
            "INSERT INTO external_order (id, legacy_ref, customer_email, amount_cents, currency, status, created_at)
             VALUES ({id}, '{legacy_ref}', 'x@example.com', 1, 'EUR', 'paid', '2020-01-01 00:00:00')"
        )
    };
    let cases = [
        (demo::collision_sql(rows), "no-ref-collisions"),
        (row(2_000, &format!("#{number}")), "no-order-number-collisions"),
        (row(2_001, "N/A"), "known-ref-formats"),
        (row(2_002, " ext- "), "known-ref-formats"),
        (row(2_003, "EXT-12A"), "known-ref-formats"),
        (row(2_004, &long), "refs-fit-new-column"),
        (
            format!(
                "INSERT INTO external_order (id, legacy_ref, customer_email, amount_cents, currency, status, created_at) VALUES {}",
                missing.join(", ")
            ),
            "missing-refs-within-budget",
        ),
    ];
    for (insert, expected) in cases {
        db.execute(&insert).await;
        // The run stops at the first failing check; a query error is a failure too.
        let mut first_failing = None;
        for (id, check) in &pre_checks {
            if !walk.evaluate(&mut db, check).await.1 {
                first_failing = Some(*id);
                break;
            }
        }
        assert_eq!(first_failing, Some(expected), "{}: {}", db.dialect(), &insert[..insert.len().min(200)]);
        db.execute(&format!("DELETE FROM external_order WHERE id > {rows}")).await;
    }
    // The collision rows trip the order-number check as well.
    db.execute(&demo::collision_sql(rows)).await;
    let (_, number_check) = pre_checks.iter().find(|(id, _)| *id == "no-order-number-collisions").unwrap();
    assert!(!walk.evaluate(&mut db, number_check).await.1);
}

#[tokio::test]
async fn pre_checks_fail_on_bad_legacy_data_sqlite() {
    Fresh::sqlite().run(pre_checks_fail_on_bad_legacy_data).await;
}

#[tokio::test]
async fn pre_checks_fail_on_bad_legacy_data_postgres() {
    let test = "pre_checks_fail_on_bad_legacy_data_postgres";
    if let Some(fresh) = Fresh::server("RUNSHEET_TEST_POSTGRES_URL", test).await {
        fresh.run(pre_checks_fail_on_bad_legacy_data).await;
    }
}

#[tokio::test]
async fn pre_checks_fail_on_bad_legacy_data_mysql() {
    let test = "pre_checks_fail_on_bad_legacy_data_mysql";
    if let Some(fresh) = Fresh::server("RUNSHEET_TEST_MYSQL_URL", test).await {
        fresh.run(pre_checks_fail_on_bad_legacy_data).await;
    }
}

/// Up then down leaves the schema as it was, twice over (seeds: migrations tested more than
/// once); the contract's down brings the dropped column back, empty; rows are kept throughout.
async fn migrations_revert_exactly(url: String, _workdir: PathBuf) {
    let rows = 2_000;
    let mut db = load_demo(&url, rows).await;
    let original = db.schema().await;
    let orders = "SELECT count(*) FROM external_order WHERE customer_email LIKE 'customer%'";

    db.migrate(INDEX_VERSION).await;
    let expanded = db.schema().await;
    assert_eq!(expanded.len(), original.len() + if db.dialect() == "sqlite" { 1 } else { 2 });
    for _ in 0..2 {
        db.revert(0).await;
        assert_eq!(db.schema().await, original);
        db.migrate(INDEX_VERSION).await;
        assert_eq!(db.schema().await, expanded);
    }
    db.revert(COLUMN_VERSION).await;
    assert_ne!(db.schema().await, expanded, "the index is gone, the column stays");
    db.migrate(INDEX_VERSION).await;

    let expanded_columns = db.columns().await;
    db.migrate(CONTRACT_VERSION).await;
    assert!(!db.columns().await.iter().any(|c| c.starts_with("legacy_ref ")));
    let incident = runbook(ROLLBACK_RUNBOOK);
    let StepKind::Check(probe) = &incident.step("contract-not-applied").unwrap().2.kind else { panic!() };
    let walk = Walk { runbook: &incident, url: &url, workdir: Path::new("."), snapshots: HashMap::new() };
    assert!(!walk.evaluate(&mut db, probe).await.1, "the incident runbook refuses after the contract");
    db.revert(INDEX_VERSION).await;
    assert_eq!(db.columns().await, expanded_columns, "legacy_ref is back, with its type");
    if db.dialect() == "mysql" {
        assert_eq!(db.schema().await, expanded, "MariaDB puts it back in its place");
    }
    assert_eq!(db.count("SELECT count(*) FROM external_order WHERE legacy_ref IS NOT NULL").await, 0);
    assert_eq!(db.count(orders).await, rows as i64);
}

#[tokio::test]
async fn migrations_revert_exactly_sqlite() {
    Fresh::sqlite().run(migrations_revert_exactly).await;
}

#[tokio::test]
async fn migrations_revert_exactly_postgres() {
    let test = "migrations_revert_exactly_postgres";
    if let Some(fresh) = Fresh::server("RUNSHEET_TEST_POSTGRES_URL", test).await {
        fresh.run(migrations_revert_exactly).await;
    }
}

#[tokio::test]
async fn migrations_revert_exactly_mysql() {
    let test = "migrations_revert_exactly_mysql";
    if let Some(fresh) = Fresh::server("RUNSHEET_TEST_MYSQL_URL", test).await {
        fresh.run(migrations_revert_exactly).await;
    }
}
