//! `validate` on broken runbooks: every problem at once, each with its file, line, column and
//! step; the good fixtures load; the content hash follows the files it covers.

use std::path::{Path, PathBuf};

use runsheet::model::{Diagnostic, Expect, Migrations, Op, Operand, Ref, StepKind, load_runbook};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The diagnostics of `broken/NAME` as `validate` prints them, paths relative to the fixtures.
fn errors_with(name: &str, overrides: &[(&str, &str)]) -> Vec<String> {
    let overrides: Vec<(String, String)> = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let diags = load_runbook(&fixtures().join(name), &overrides).expect_err("the runbook should not load");
    let prefix = format!("{}/", fixtures().display());
    diags.0.iter().map(|d| d.to_string().replace(&prefix, "")).collect()
}

fn errors(name: &str) -> Vec<String> {
    errors_with(&format!("broken/{name}"), &[])
}

#[track_caller]
fn assert_errors(name: &str, expected: &[&str]) {
    assert_eq!(errors(name), expected, "diagnostics of {name}");
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    assert_errors(
        "yaml-syntax.yaml",
        &[
            "broken/yaml-syntax.yaml:7:7: did not find expected ',' or ']', while parsing a flow sequence at line 6 column 13",
        ],
    );
}

#[test]
fn duplicate_key_is_reported_where_it_repeats() {
    assert_errors("duplicate-key.yaml", &["broken/duplicate-key.yaml:7:5: duplicate key `title`"]);
}

#[test]
fn empty_file() {
    assert_errors("empty.yaml", &["broken/empty.yaml: the file is empty"]);
}

#[test]
fn unknown_keys_at_every_level() {
    assert_errors(
        "unknown-key-top.yaml",
        &["broken/unknown-key-top.yaml:3:1: unknown field `on_falure`, expected one of `name`, `title`, `change`, \
           `environment`, `window`, `migrations`, `vars`, `on_failure`, `lock_timeout`, `statement_timeout`, \
           `lock_retries`, `steps`, `rollback`"],
    );
    assert_errors(
        "unknown-key-step.yaml",
        &["broken/unknown-key-step.yaml:7:5: step `slow`: unknown field `tmeout`, expected one of `id`, `title`, \
           `manual`, `command`, `check`, `snapshot`, `migrate`, `revert`, `gate`, `backfill`, `role`, `timeout`, \
           `target_time`, `on_failure`, `lock_timeout`, `statement_timeout`, `lock_retries`"],
    );
    assert_errors(
        "unknown-key-nested.yaml",
        &["broken/unknown-key-nested.yaml:9:7: step `no-orphans`: unknown field `on_fail`, expected `sql` or `expect`"],
    );
}

#[test]
fn values_of_the_wrong_type() {
    assert_errors(
        "wrong-type.yaml",
        &[
            "broken/wrong-type.yaml:7:17: step `a`: unknown variant `later`, expected one of `ask`, `rollback`, `abort`",
            "broken/wrong-type.yaml:10:19: step `b`: invalid type: sequence, expected a string",
        ],
    );
}

#[test]
fn duplicate_step_ids() {
    assert_errors(
        "duplicate-ids.yaml",
        &[
            "broken/duplicate-ids.yaml:7:9: step `check-orders`: duplicate step id `check-orders` (first defined on line 4)",
        ],
    );
}

#[test]
fn step_without_a_kind_or_with_two() {
    assert_errors(
        "no-kind.yaml",
        &["broken/no-kind.yaml:4:5: step `nothing`: step has no kind: give one of manual, command, check, snapshot, \
           migrate, revert, gate, backfill"],
    );
    assert_errors(
        "two-kinds.yaml",
        &["broken/two-kinds.yaml:7:5: step `both`: step has 2 kinds (manual, command): give exactly one"],
    );
}

#[test]
fn kind_keys_without_a_value() {
    // `migrate:` alone is allowed: it applies every pending migration.
    assert_errors(
        "empty-kinds.yaml",
        &[
            "broken/empty-kinds.yaml:7:5: step `say`: `manual` needs a value",
            "broken/empty-kinds.yaml:10:5: step `check-nothing`: `check` needs `sql` and `expect`",
            "broken/empty-kinds.yaml:16:23: step `empty-sql`: the SQL is empty",
            "broken/empty-kinds.yaml:20:5: step `back`: `revert` needs `to`: a version, or 0 for all",
        ],
    );
}

#[test]
fn step_ids_must_be_identifiers() {
    assert_errors(
        "bad-id.yaml",
        &[
            "broken/bad-id.yaml:4:9: step `1st step`: step id `1st step` must be letters, digits, `-` and `_`, and \
             start with a letter or `_`",
            "broken/bad-id.yaml:7:5: `id` is missing or empty",
        ],
    );
}

#[test]
fn bad_durations_and_window() {
    assert_errors(
        "bad-duration.yaml",
        &[
            "broken/bad-duration.yaml:3:18: `2026-11-28 02:00` is not an RFC 3339 time like \
             2026-11-28T02:00:00+01:00: premature end of input",
            "broken/bad-duration.yaml:8:14: step `wait`: `20` is not a duration like 30s, 20m or 2h: time unit \
             needed, for example 20sec or 20ms",
            "broken/bad-duration.yaml:9:18: step `wait`: `0s` is zero: give a duration like 30s, 20m or 2h",
            "broken/bad-duration.yaml:13:18: step `soon`: `soon` is not a duration like 30s, 20m or 2h: expected \
             number at 0",
            "broken/bad-duration.yaml:17:5: step `call`: `timeout` does not apply to a `manual` step: it waits \
             for a person to confirm",
        ],
    );
}

#[test]
fn unknown_variables_in_sql_and_expectations() {
    assert_errors(
        "unknown-var.yaml",
        &[
            "broken/unknown-var.yaml:8:12: step `small-batches`: `${batch}` is not a variable: declare `batch` under `vars`",
            "broken/unknown-var.yaml:9:15: step `small-batches`: `${limit}` is not a variable: declare `limit` under `vars`",
        ],
    );
}

#[test]
fn snapshots_used_before_taken_never_taken_or_taken_twice() {
    assert_errors(
        "snapshot-order.yaml",
        &[
            "broken/snapshot-order.yaml:6:51: step `compare`: `${snapshot.rows}` is used before step `take` on line 7 takes it",
            "broken/snapshot-order.yaml:13:13: step `confirm`: `${snapshot.row}` is not taken by any snapshot step",
            "broken/snapshot-order.yaml:17:7: step `cleanup`: snapshot `rows` is already taken by step `take` on line 7",
            "broken/snapshot-order.yaml:20:51: step `too-early`: `${snapshot.undo}` is taken only in the rollback \
             branch (step `take-back` on line 25)",
            "broken/snapshot-order.yaml:24:51: step `compare-back`: `${snapshot.undo}` is used before step \
             `take-back` on line 25 takes it",
        ],
    );
}

#[test]
fn reference_inside_a_quoted_sql_string() {
    let errors = errors("quoted-ref.yaml");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .starts_with("broken/quoted-ref.yaml:8:12: step `no-long-transactions`: `${minutes}` is inside quotes"),
        "{errors:#?}"
    );
}

#[test]
fn expectation_with_arithmetic() {
    let errors = errors("expect-arithmetic.yaml");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "broken/expect-arithmetic.yaml:9:51: step `grown`: expectation `>= ${snapshot.rows} + 10` must compare \
             with one value"
        ),
        "{errors:#?}"
    );
}

#[test]
fn checklist_that_does_not_exist() {
    assert_errors(
        "missing-checklist.yaml",
        &["broken/missing-checklist.yaml:6:11: step `go-no-go`: checklist \
           `broken/checklists/nowhere.yaml` does not exist"],
    );
}

#[test]
fn checklist_problems_are_reported_in_the_checklist_once() {
    // Two gates open the same broken checklist; each problem is reported once.
    assert_errors(
        "broken-checklist.yaml",
        &[
            "broken/checklists/broken.yaml:6:5: item `backup-verified`: unknown field `owner`, expected one of `id`, \
             `text`, `required`, `check`",
            "broken/checklists/broken.yaml:7:9: duplicate item id `backup-verified` (first defined on line 4)",
            "broken/checklists/broken.yaml:11:75: item `quiet`: unknown field `timeout`, expected `sql` or `expect`",
            "broken/checklists/broken.yaml:14:19: item `counted`: `${snapshot.rows}` is not taken by any snapshot step",
        ],
    );
}

#[test]
fn migration_versions_that_do_not_exist() {
    assert_errors(
        "migrate-unknown-version.yaml",
        &[
            "broken/migrate-unknown-version.yaml:7:20: step `expand`: no migration with version 3 in broken/migrations",
            "broken/migrate-unknown-version.yaml:11:19: step `revert`: no migration with version 7 in broken/migrations",
        ],
    );
}

#[test]
fn migrations_folder_problems() {
    assert_errors(
        "migrations-missing.yaml",
        &["broken/migrations-missing.yaml:3:13: migrations folder `broken/no-such-folder` does not exist"],
    );
    assert_errors(
        "migrations-duplicate.yaml",
        &["broken/migrations-duplicate/2_expand.up.sql: duplicate migration version 2: 2_expand.up.sql, \
           2_expand_again.up.sql, 2_expand.down.sql, 2_expand_again.down.sql"],
    );
    assert_errors(
        "migrations-no-down.yaml",
        &["broken/migrations-no-down/1_create.up.sql: up migration without its down file `1_create.down.sql`"],
    );
    assert_errors(
        "migrations-dialects.yaml",
        &[
            "broken/migrations-dialects.yaml:5:10: the `mysql` folder lacks version 2 that the `postgres` folder has: \
             every dialect needs the same versions",
            "broken/migrations-dialects.yaml:6:3: `oracle` is not a dialect: use postgres, mysql, sqlite",
        ],
    );
}

#[test]
fn migrate_and_revert_need_a_migrations_folder() {
    assert_errors(
        "migrate-without-migrations.yaml",
        &[
            "broken/migrate-without-migrations.yaml:6:5: step `expand`: a `migrate` step needs `migrations:` at the \
             top of the runbook",
            "broken/migrate-without-migrations.yaml:9:5: step `back`: a `revert` step needs `migrations:` at the top \
             of the runbook",
        ],
    );
}

#[test]
fn backfill_mistakes_are_reported_with_their_position() {
    assert_errors(
        "backfill.yaml",
        &[
            "broken/backfill.yaml:8:5: step `fill`: `backfill` needs `key`: the column(s) of a unique, not-null key, \
             e.g. `key: id`",
            "broken/backfill.yaml:9:14: step `fill`: `table` must be a table name (letters, digits, _, optionally \
             schema.table), got `external_order; DROP TABLE x`",
            "broken/backfill.yaml:10:12: step `fill`: `set` is SQL pasted into each batch's UPDATE and cannot hold \
             `${…}` references: values reach SQL only as bound parameters",
            "broken/backfill.yaml:11:19: step `fill`: `batch_size` must be a whole number of at least 1, got `lots`",
            "broken/backfill.yaml:16:17: step `bounds`: `bad column` is not a column name (letters, digits and _)",
            "broken/backfill.yaml:18:19: step `bounds`: batch sizes must satisfy min_batch_size (10) <= batch_size \
             (5) <= max_batch_size (50000)",
            "broken/backfill.yaml:20:26: step `bounds`: `target_batch_time` must be a duration like 100ms, 2s or 1m, \
             got `soon`",
            "broken/backfill.yaml:21:22: step `bounds`: `max_batch_wal` must be a size like 1MB, 256kB or 65536 \
             (bytes), got `1mb`",
            "broken/backfill.yaml:22:7: step `bounds`: unknown field `colour`, expected one of `table`, `key`, \
             `set`, `where`, `batch_size`, `min_batch_size`, `max_batch_size`, `target_batch_time`, \
             `max_batch_wal`, `sleep`, `pause_when`, `max_retries`, `dry_run`",
        ],
    );
}

#[test]
fn rollback_branch_rules() {
    let errors = errors("rollback-policy.yaml");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("broken/rollback-policy.yaml:10:14: step `undo`: a command cannot use `${snapshot."));
    assert_eq!(
        errors[1],
        "broken/rollback-policy.yaml:11:17: step `undo`: `on_failure: rollback` cannot be used in the rollback \
         branch: use ask or abort"
    );
}

#[test]
fn many_problems_at_once_in_file_order() {
    assert_errors(
        "many.yaml",
        &[
            "broken/many.yaml:6:59: unknown field `end`, expected `start` or `duration`",
            "broken/many.yaml:11:14: step `backup`: expected a single value: a number, a string or a boolean",
            "broken/many.yaml:16:9: step `counts`: duplicate step id `counts` (first defined on line 12)",
            "broken/many.yaml:18:12: step `counts`: missing field `expect`",
            "broken/many.yaml:18:38: step `counts`: unknown field `expekt`, expected `sql` or `expect`",
            "broken/many.yaml:19:5: step `nothing`: step has no kind: give one of manual, command, check, snapshot, \
             migrate, revert, gate, backfill",
            "broken/many.yaml:23:11: step `gate`: checklist `broken/checklists/nowhere.yaml` does not exist",
            "broken/many.yaml:26:20: step `expand`: no migration with version 99 in broken/migrations",
            "broken/many.yaml:30:5: step `compare`: unknown field `retries`, expected one of `id`, `title`, `manual`, \
             `command`, `check`, `snapshot`, `migrate`, `revert`, `gate`, `backfill`, `role`, `timeout`, \
             `target_time`, `on_failure`, `lock_timeout`, `statement_timeout`, `lock_retries`",
            "broken/many.yaml:34:19: step `revert`: no migration with version 98 in broken/migrations",
            "broken/many.yaml:35:14: step `revert`: `1 fortnight` is not a duration like 30s, 20m or 2h: unknown time \
             unit \"fortnight\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and \
             few variations)",
        ],
    );
}

#[test]
fn diagnostics_carry_file_position_and_step() {
    let diags = load_runbook(&fixtures().join("broken/broken-checklist.yaml"), &[]).unwrap_err();
    let first: &Diagnostic = &diags.0[0];
    assert_eq!(first.file, fixtures().join("broken/checklists/broken.yaml"));
    assert_eq!(first.position, Some((6, 5)));
    assert_eq!(first.step, None);

    let diags = load_runbook(&fixtures().join("broken/duplicate-ids.yaml"), &[]).unwrap_err();
    assert_eq!(diags.0[0].step.as_deref(), Some("check-orders"));
    assert_eq!(diags.0[0].position, Some((7, 9)));
    // What the CLI prints: one `error:` line per problem.
    assert_eq!(
        diags.to_string(),
        format!(
            "error: {}:7:9: step `check-orders`: duplicate step id `check-orders` (first defined on line 4)\n",
            fixtures().join("broken/duplicate-ids.yaml").display()
        )
    );
}

#[test]
fn set_of_an_undeclared_variable() {
    assert_eq!(
        errors_with("good/runbook.yaml", &[("batch", "10"), ("run_id", "x")]),
        [
            "good/runbook.yaml: --set batch: the runbook declares no such variable in `vars`",
            "good/runbook.yaml: --set run_id: `run_id` is set by runsheet itself",
        ]
    );
    let runbook = load_runbook(&fixtures().join("good/runbook.yaml"), &[("batch_size".into(), "10".into())]).unwrap();
    assert_eq!(runbook.vars["batch_size"], "10");
    assert_eq!(runbook.vars["max_collisions"], "0");
}

#[test]
fn good_runbook_loads_with_one_migrations_folder() {
    let runbook = load_runbook(&fixtures().join("good/runbook.yaml"), &[]).unwrap();
    assert_eq!(runbook.name, "external-orders-expand");
    assert_eq!(runbook.change.as_deref(), Some("CHG-2291"));
    let window = runbook.window.as_ref().unwrap();
    assert_eq!(window.duration, std::time::Duration::from_secs(2 * 3600));
    assert_eq!(window.start.to_rfc3339(), "2026-11-28T02:00:00+01:00");

    let ids: Vec<&str> = runbook.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["backup", "no-collisions", "counts-before", "go-no-go", "expand", "counts-after", "confirm-smoke"]
    );
    let kinds: Vec<&str> = runbook.steps.iter().map(|s| s.kind.name()).collect();
    assert_eq!(kinds, ["command", "check", "snapshot", "gate", "migrate", "check", "manual"]);
    assert_eq!(runbook.steps[0].timeout, Some(std::time::Duration::from_secs(20 * 60)));
    assert!(matches!(runbook.steps[4].kind, StepKind::Migrate { to: Some(20261128010000) }));
    assert_eq!(runbook.steps[4].on_failure, Some(runsheet::model::FailurePolicy::Rollback));

    let StepKind::Check(check) = &runbook.steps[5].kind else { panic!("counts-after is a check") };
    assert_eq!(check.expect, Expect { op: Op::Eq, operand: Operand::Ref(Ref::Snapshot("orders".into())) });
    let StepKind::Manual { instructions } = &runbook.steps[6].kind else { panic!("confirm-smoke is manual") };
    let refs: Vec<&Ref> = instructions.refs().collect();
    assert_eq!(refs, [&Ref::Var("operator".into()), &Ref::Snapshot("with_ref".into())]);

    let StepKind::Gate { checklist } = &runbook.steps[3].kind else { panic!("go-no-go is a gate") };
    assert_eq!(checklist.items.len(), 4);
    assert!(checklist.items[2].check.is_some());
    assert!(!checklist.items[3].required);

    let Some(Migrations::One(set)) = &runbook.migrations else { panic!("one migrations folder") };
    let versions: Vec<i64> = set.migrations.iter().map(|m| m.version).collect();
    assert_eq!(versions, [20261101000000, 20261128010000]);
    assert_eq!(set.migrations[1].description, "add external reference");

    let rollback: Vec<&str> = runbook.rollback.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(rollback, ["revert-expand", "counts-after-revert", "tell-support"]);
    assert!(matches!(runbook.rollback[0].kind, StepKind::Revert { to: 20261101000000 }));
}

#[test]
fn lock_settings_default_inherit_and_override() {
    use runsheet::model::LockPolicy;
    use std::time::Duration;

    let defaults = load_runbook(&fixtures().join("good/runbook.yaml"), &[]).unwrap();
    let expected =
        LockPolicy { lock_timeout: Duration::from_secs(2), statement_timeout: Duration::from_secs(3600), retries: 5 };
    assert_eq!(LockPolicy::default(), expected);
    assert!(defaults.steps.iter().chain(&defaults.rollback).all(|s| s.locks == expected));

    let runbook = load_runbook(&fixtures().join("good/locks.yaml"), &[]).unwrap();
    let top =
        LockPolicy { lock_timeout: Duration::from_secs(3), statement_timeout: Duration::from_secs(3600), retries: 2 };
    assert_eq!(runbook.steps[0].locks, top, "a step without keys inherits the runbook's");
    let index = LockPolicy {
        lock_timeout: Duration::from_secs(600),
        statement_timeout: Duration::from_secs(4 * 3600),
        retries: 0,
    };
    assert_eq!(runbook.steps[1].locks, index, "every key overridden");
    assert_eq!(
        runbook.rollback[0].locks,
        LockPolicy { lock_timeout: Duration::from_millis(500), ..top },
        "one key overridden"
    );
}

#[test]
fn lock_settings_that_cannot_work() {
    assert_errors(
        "locks.yaml",
        &[
            "broken/locks.yaml:4:20: `soon` is not a duration like 30s, 20m or 2h: expected number at 0",
            "broken/locks.yaml:5:15: invalid value: integer `-1`, expected u32",
            "broken/locks.yaml:10:19: step `expand`: `2` is not a duration like 30s, 20m or 2h: time unit needed, \
             for example 2sec or 2ms",
            "broken/locks.yaml:14:5: step `count`: `lock_timeout` applies only to `migrate`, `revert` and `backfill` \
             steps (their statements wait for locks the application needs): this is a `check` step",
            "broken/locks.yaml:15:5: step `count`: `lock_retries` applies only to `migrate`, `revert` and `backfill` \
             steps (their statements wait for locks the application needs): this is a `check` step",
            "broken/locks.yaml:19:19: step `waits-too-long`: `lock_timeout` (5m) must be shorter than \
             `statement_timeout` (1m): the statement timeout would always cut the wait first, and it is not retried",
            "broken/locks.yaml:25:24: step `revert`: `lock_timeout` (2s) must be shorter than `statement_timeout` \
             (1s): the statement timeout would always cut the wait first, and it is not retried",
        ],
    );
}

#[test]
fn good_runbook_loads_with_one_folder_per_dialect() {
    let runbook = load_runbook(&fixtures().join("good/per-dialect.yaml"), &[]).unwrap();
    let Some(migrations @ Migrations::PerDialect(sets)) = &runbook.migrations else { panic!("one folder per dialect") };
    assert_eq!(sets.keys().collect::<Vec<_>>(), ["mysql", "postgres", "sqlite"]);
    let up = |dialect: &str| migrations.for_dialect(dialect).unwrap().migrations[1].up_sql.clone();
    assert!(up("mysql").contains("VARCHAR(64)"));
    assert!(up("postgres").contains("external_reference TEXT"));
    assert!(matches!(runbook.steps[0].kind, StepKind::Migrate { to: None }));
    assert!(matches!(runbook.rollback[0].kind, StepKind::Revert { to: 0 }));
}

/// A copy of the good fixtures that a test may edit.
fn good_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&fixtures().join("good"), dir.path());
    dir
}

fn hash(runbook: &Path) -> String {
    load_runbook(runbook, &[]).unwrap().content_hash
}

/// Appends a comment to `file`, checks that the hash of `runbook` changes, then restores the file and
/// checks that the hash is back.
#[track_caller]
fn assert_hash_follows(runbook: &Path, file: &Path) {
    let before = hash(runbook);
    let original = std::fs::read_to_string(file).unwrap();
    let comment = if file.extension().is_some_and(|e| e == "yaml") { "#" } else { "--" };
    std::fs::write(file, format!("{original}{comment} edited\n")).unwrap();
    assert_ne!(hash(runbook), before, "editing {} changes the hash", file.display());
    std::fs::write(file, original).unwrap();
    assert_eq!(hash(runbook), before, "restoring {} restores the hash", file.display());
}

#[test]
fn content_hash_changes_with_runbook_checklist_and_migrations_only() {
    let dir = good_copy();
    let runbook = dir.path().join("runbook.yaml");
    let first = hash(&runbook);
    assert_eq!(first.len(), 64);
    assert_eq!(hash(&runbook), first, "loading twice gives the same hash");
    // The same files reached by another path give the same hash.
    assert_eq!(hash(&dir.path().join("checklists/../runbook.yaml")), first);
    // Files the runbook does not use do not count.
    std::fs::write(dir.path().join("checklists/unused.yaml"), "name: x\n").unwrap();
    std::fs::write(dir.path().join("dialects/mysql/README.md"), "notes\n").unwrap();
    assert_eq!(hash(&runbook), first);

    assert_hash_follows(&runbook, &runbook);
    assert_hash_follows(&runbook, &dir.path().join("checklists/go-no-go.yaml"));
    let migrations = dir.path().join("migrations");
    assert_hash_follows(&runbook, &migrations.join("20261128010000_add_external_reference.up.sql"));
    assert_hash_follows(&runbook, &migrations.join("20261101000000_create_external_order.down.sql"));

    let per_dialect = dir.path().join("per-dialect.yaml");
    assert_ne!(hash(&per_dialect), first);
    assert_hash_follows(
        &per_dialect,
        &dir.path().join("dialects/mysql/20261128010000_add_external_reference.down.sql"),
    );
}

#[test]
fn content_hash_does_not_depend_on_where_the_runbook_lies() {
    let a = good_copy();
    let b = good_copy();
    assert_eq!(hash(&a.path().join("runbook.yaml")), hash(&b.path().join("runbook.yaml")));
}
