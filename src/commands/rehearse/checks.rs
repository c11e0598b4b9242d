//! The checks of each pending migration, on a scratch database: up applies; the up SQL
//! replayed neither fails nor changes the schema (idempotence); down brings the schema back
//! to what it was before up (reversibility); up applies again, to the same schema.

use std::time::Instant;

use crate::db::migrations::{self, apply_one, replay_failure_excused, replay_up, revert_one};
use crate::db::schema::{Schema, SchemaDiff};
use crate::db::{Db, DbError};
use crate::model::rehearsal::{CheckResult, Outcome, RehearsedMigration};
use crate::model::{MigrationFile, MigrationSet};

/// The checks of one migration, in the order they run (the columns of the report).
pub const CHECKS: [&str; 4] = ["up", "idempotent", "down restores", "up again"];

pub struct Rehearsed {
    /// Migrations the database had applied already: they are not rehearsed.
    pub applied_before: usize,
    pub migrations: Vec<RehearsedMigration>,
    /// Why nothing could be rehearsed (an applied migration's file changed or is gone).
    pub refused: Option<String>,
}

/// Rehearses every pending migration of `set`, oldest first. A migration that cannot be
/// applied or reverted stops the rehearsal there; a failed comparison does not.
pub async fn rehearse(db: &mut Db, set: &MigrationSet) -> Result<Rehearsed, DbError> {
    let applied = migrations::applied(db).await?;
    if let Err(e) = migrations::verify_applied(set, &applied) {
        return Ok(Rehearsed { applied_before: applied.len(), migrations: Vec::new(), refused: Some(e.to_string()) });
    }
    let mut rehearsed = Vec::new();
    let mut stopped = false;
    for file in migrations::plan_up(set, &applied, None) {
        if stopped {
            let why = "not rehearsed: an earlier migration could not be applied or reverted".to_string();
            rehearsed.push(migration(file, vec![not_run(CHECKS[0], Some(why))]));
            continue;
        }
        let (checks, carried_through) = one(db, file).await?;
        stopped = !carried_through;
        rehearsed.push(migration(file, checks));
    }
    Ok(Rehearsed { applied_before: applied.len(), migrations: rehearsed, refused: None })
}

/// The four checks of one migration; false when the database is left where the next
/// migration cannot be rehearsed.
async fn one(db: &mut Db, file: &MigrationFile) -> Result<(Vec<CheckResult>, bool), DbError> {
    let before = Schema::read(db).await?;
    let clock = Instant::now();
    if let Err(e) = apply_one(db, file).await {
        let mut checks = vec![failed(CHECKS[0], &clock, vec![e.to_string()])];
        checks.extend(CHECKS[1..].iter().map(|c| not_run(c, None)));
        return Ok((checks, false));
    }
    let mut checks = vec![passed(CHECKS[0], &clock)];
    let applied = Schema::read(db).await?;

    let clock = Instant::now();
    checks.push(match replay_up(db, file).await {
        Ok(replayed) => compared(CHECKS[1], &clock, &applied, &replayed, "the replay changed the schema"),
        Err(e) if replay_failure_excused(db.dialect(), file) => CheckResult {
            check: CHECKS[1].into(),
            outcome: Outcome::Warning,
            duration_ms: Some(elapsed(&clock)),
            detail: vec![
                e.to_string(),
                "excused on SQLite, which has no IF [NOT] EXISTS for ALTER TABLE columns: this file runs in one \
                 transaction with its _sqlx_migrations row, so it is never half applied and never runs twice"
                    .into(),
            ],
        },
        Err(e) => failed(CHECKS[1], &clock, vec![e.to_string()]),
    });

    let clock = Instant::now();
    if let Err(e) = revert_one(db, file).await {
        checks.push(failed(CHECKS[2], &clock, vec![e.to_string()]));
        checks.push(not_run(CHECKS[3], None));
        return Ok((checks, false));
    }
    let reverted = Schema::read(db).await?;
    checks.push(compared(CHECKS[2], &clock, &before, &reverted, "the schema after down differs from before up"));

    let clock = Instant::now();
    if let Err(e) = apply_one(db, file).await {
        checks.push(failed(CHECKS[3], &clock, vec![e.to_string()]));
        return Ok((checks, false));
    }
    let again = Schema::read(db).await?;
    checks.push(compared(CHECKS[3], &clock, &applied, &again, "the schema differs from the first up"));
    Ok((checks, true))
}

fn migration(file: &MigrationFile, checks: Vec<CheckResult>) -> RehearsedMigration {
    RehearsedMigration { version: file.version, description: file.description.clone(), checks }
}

/// Ok when `actual` is `expected`, else failed with the lines that differ.
fn compared(check: &str, clock: &Instant, expected: &Schema, actual: &Schema, what: &str) -> CheckResult {
    let diff = expected.diff(actual);
    if diff.is_empty() { passed(check, clock) } else { failed(check, clock, differences(what, &diff)) }
}

fn differences(what: &str, diff: &SchemaDiff) -> Vec<String> {
    let mut lines = vec![format!("{what}:")];
    lines.extend(diff.missing.iter().map(|l| format!("  missing:   {l}")));
    lines.extend(diff.extra.iter().map(|l| format!("  left over: {l}")));
    lines
}

fn passed(check: &str, clock: &Instant) -> CheckResult {
    CheckResult { check: check.into(), outcome: Outcome::Ok, duration_ms: Some(elapsed(clock)), detail: Vec::new() }
}

fn failed(check: &str, clock: &Instant, detail: Vec<String>) -> CheckResult {
    CheckResult { check: check.into(), outcome: Outcome::Failed, duration_ms: Some(elapsed(clock)), detail }
}

fn not_run(check: &str, why: Option<String>) -> CheckResult {
    CheckResult { check: check.into(), outcome: Outcome::NotRun, duration_ms: None, detail: why.into_iter().collect() }
}

fn elapsed(clock: &Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}
