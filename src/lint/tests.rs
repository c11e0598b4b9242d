//! Each rule with a migration that triggers it and one that does not; silencing; positions.

use std::path::{Path, PathBuf};

use super::*;

const PG: Option<Dialect> = Some(Dialect::Postgres);
const MYSQL: Option<Dialect> = Some(Dialect::MySql);
const SQLITE: Option<Dialect> = Some(Dialect::Sqlite);

fn lint_as(sql: &str, side: Side, dialect: Option<Dialect>) -> Vec<Finding> {
    lint_file(Path::new("m/1_x.up.sql"), sql, side, dialect, Vec::new())
}

/// The rules found in an up file, with their positions.
fn found(sql: &str, dialect: Option<Dialect>) -> Vec<(Rule, Option<(usize, usize)>)> {
    lint_as(sql, Side::Up, dialect).into_iter().map(|f| (f.rule, f.position)).collect()
}

fn rules(sql: &str, dialect: Option<Dialect>) -> Vec<Rule> {
    found(sql, dialect).into_iter().map(|(rule, _)| rule).collect()
}

/// Every dialect and the generic one.
const ALL: [Option<Dialect>; 4] = [PG, MYSQL, SQLITE, None];

#[test]
fn index_not_concurrent() {
    let sql = "-- an index\nSET lock_timeout = '5s';\nCREATE INDEX i ON orders (ref);";
    assert_eq!(found(sql, PG), vec![(Rule::IndexNotConcurrent, Some((3, 1)))]);
    let unique = "ALTER TABLE orders ADD CONSTRAINT u UNIQUE (ref);";
    assert_eq!(rules(unique, PG), vec![Rule::IndexNotConcurrent]);

    assert_eq!(rules("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON orders (ref);", PG), vec![]);
    assert_eq!(rules("ALTER TABLE orders ADD CONSTRAINT u UNIQUE USING INDEX i;", PG), vec![]);
    assert_eq!(rules("CREATE TABLE orders (id INT, ref TEXT);\nCREATE INDEX i ON orders (ref);", PG), vec![]);
    for other in [MYSQL, SQLITE, None] {
        assert_eq!(rules("CREATE INDEX i ON orders (ref);", other), vec![], "PostgreSQL only ({other:?})");
    }
}

#[test]
fn not_null_without_default() {
    for dialect in ALL {
        let sql = "ALTER TABLE orders ADD COLUMN c INT NOT NULL;";
        assert_eq!(rules(sql, dialect), vec![Rule::NotNullWithoutDefault], "{dialect:?}");
        assert_eq!(rules("ALTER TABLE orders ADD COLUMN c INT NOT NULL DEFAULT 0;", dialect), vec![]);
        assert_eq!(rules("ALTER TABLE orders ADD COLUMN c INT;", dialect), vec![]);
    }
    assert_eq!(rules("ALTER TABLE orders ADD COLUMN id BIGSERIAL NOT NULL;", PG), vec![]);
    assert_eq!(rules("CREATE TABLE t (id INT);\nALTER TABLE t ADD COLUMN c INT NOT NULL;", PG), vec![], "new table");
}

#[test]
fn set_not_null() {
    assert_eq!(found("ALTER TABLE orders ALTER COLUMN c SET NOT NULL;", PG), vec![(Rule::SetNotNull, Some((1, 1)))]);
    let modify = "-- runsheet: phase=contract\nALTER TABLE orders MODIFY COLUMN c INT NOT NULL;";
    assert_eq!(rules(modify, MYSQL), vec![Rule::SetNotNull]);

    assert_eq!(rules("ALTER TABLE orders ALTER COLUMN c DROP NOT NULL;", PG), vec![]);
    let relaxed = "-- runsheet: phase=contract\nALTER TABLE orders MODIFY COLUMN c INT NULL;";
    assert_eq!(rules(relaxed, MYSQL), vec![]);
}

#[test]
fn destructive_outside_contract() {
    let cases = [
        ("ALTER TABLE orders DROP COLUMN legacy_ref;", PG),
        ("DROP TABLE orders;", SQLITE),
        ("ALTER TABLE orders RENAME COLUMN a TO b;", PG),
        ("ALTER TABLE orders RENAME TO orders_old;", None),
        ("ALTER TABLE orders ALTER COLUMN amount TYPE BIGINT;", PG),
        ("ALTER TABLE orders MODIFY COLUMN amount BIGINT;", MYSQL),
        ("ALTER TABLE orders CHANGE COLUMN a b INT;", MYSQL),
        ("RENAME TABLE orders TO orders_old;", MYSQL),
    ];
    for (sql, dialect) in cases {
        assert_eq!(rules(sql, dialect), vec![Rule::DestructiveOutsideContract], "{sql}");
        let contract = format!("-- no-transaction\n-- runsheet: phase=contract\n{sql}");
        assert_eq!(rules(&contract, dialect), vec![], "marked contract: {sql}");
        let down = lint_as(sql, Side::Down, dialect);
        assert_eq!(down, vec![], "a down file undoes its up file: {sql}");
    }
    assert_eq!(
        rules("-- runsheet: phase=expand\nALTER TABLE orders DROP COLUMN c;", PG),
        vec![Rule::DestructiveOutsideContract]
    );
    assert_eq!(rules("ALTER TABLE orders ADD COLUMN c TEXT;\nDROP INDEX i;", PG), vec![]);
}

#[test]
fn constraint_not_valid() {
    let fk = "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (customer_id) REFERENCES customer (id);";
    assert_eq!(rules(fk, PG), vec![Rule::ConstraintNotValid]);
    let check = "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0);";
    assert_eq!(rules(check, PG), vec![Rule::ConstraintNotValid]);

    assert_eq!(rules(&fk.replace(';', " NOT VALID;"), PG), vec![]);
    assert_eq!(rules(&check.replace(';', " NOT VALID;"), PG), vec![]);
    assert_eq!(rules("ALTER TABLE orders VALIDATE CONSTRAINT fk;", PG), vec![]);
    assert_eq!(rules(fk, MYSQL), vec![], "PostgreSQL only");
}

#[test]
fn data_change_in_schema_migration() {
    for sql in ["INSERT INTO currency VALUES ('EUR');", "UPDATE orders SET a = 1;", "DELETE FROM orders;"] {
        for dialect in ALL {
            assert_eq!(rules(sql, dialect), vec![Rule::DataChangeInSchemaMigration], "{sql} {dialect:?}");
        }
    }
    assert_eq!(rules("TRUNCATE orders;", PG), vec![Rule::DataChangeInSchemaMigration]);
    assert_eq!(rules("CREATE TABLE currency (code TEXT);\nSELECT count(*) FROM currency;", PG), vec![]);
}

#[test]
fn concurrently_in_transaction() {
    let missing_marker = "\n-- no-transaction\nCREATE INDEX CONCURRENTLY i ON orders (ref);";
    assert_eq!(found(missing_marker, PG), vec![(Rule::ConcurrentlyInTransaction, Some((3, 1)))], "first bytes only");
    let begun = "-- no-transaction\nBEGIN;\nCREATE INDEX CONCURRENTLY i ON orders (ref);\nCOMMIT;";
    let begun = rules(begun, PG);
    assert!(begun.contains(&Rule::ConcurrentlyInTransaction), "{begun:?}");

    assert_eq!(rules("-- no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS i;", PG), vec![]);
}

#[test]
fn concurrently_not_alone() {
    let sql = "-- no-transaction\nSET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY i ON orders (ref);";
    assert_eq!(found(sql, PG), vec![(Rule::ConcurrentlyNotAlone, Some((3, 1)))]);

    assert_eq!(rules("-- no-transaction\n-- why\nCREATE INDEX CONCURRENTLY i ON orders (ref);\n", PG), vec![]);
}

#[test]
fn unparsed_statement_is_a_warning_that_keeps_the_other_statements_checked() {
    let findings = lint_as("FROBNICATE orders;\nDELETE FROM orders;", Side::Up, PG);
    let rules: Vec<(Rule, Option<(usize, usize)>)> = findings.iter().map(|f| (f.rule, f.position)).collect();
    assert_eq!(rules, vec![(Rule::UnparsedStatement, Some((1, 1))), (Rule::DataChangeInSchemaMigration, Some((2, 1)))]);
    assert!(!findings[0].is_error());
    assert_eq!(found("SELECT 1;", PG), vec![]);
    let unterminated = found("SELECT 1;\nSELECT 'oops", PG);
    assert_eq!(unterminated, vec![(Rule::UnparsedStatement, Some((2, 8)))]);
}

#[test]
fn bad_directive() {
    for comment in [
        "-- runsheet: allow data-change-in-schema-migration",
        "-- runsheet: allow no-such-rule because x",
        "-- runsheet: phase=contarct",
    ] {
        let sql = format!("{comment}\nCREATE TABLE t (id INT);");
        assert_eq!(found(&sql, PG), vec![(Rule::BadDirective, Some((1, 1)))], "{comment}");
    }
    let phase_too_late = "CREATE TABLE t (id INT);\n-- runsheet: phase=contract\nDROP TABLE x;";
    assert_eq!(rules(phase_too_late, PG), vec![Rule::BadDirective, Rule::DestructiveOutsideContract]);
    let precedes_nothing = "CREATE TABLE t (id INT);\n-- runsheet: allow set-not-null because x\n";
    assert_eq!(found(precedes_nothing, PG), vec![(Rule::BadDirective, Some((2, 1)))]);
    let trailing_without_reason = lint_as("CREATE TABLE t (id INT);\n-- runsheet: allow set-not-null\n", Side::Up, PG);
    assert!(trailing_without_reason[0].message.contains("gives no reason"), "{trailing_without_reason:?}");

    assert_eq!(rules("-- runsheet: allow set-not-null because checked\nCREATE TABLE t (id INT);", PG), vec![]);
}

#[test]
fn an_allow_in_the_header_covers_the_file_one_before_a_statement_covers_it() {
    let sql = "-- runsheet: allow index-not-concurrent because orders has 40 rows\n\
               CREATE INDEX a ON orders (x);\n\
               -- runsheet: allow data-change-in-schema-migration because the 3 currencies the new code needs\n\
               INSERT INTO currency VALUES ('EUR');\n\
               CREATE INDEX b ON orders (y);\n\
               INSERT INTO currency VALUES ('USD');\n";
    let findings = lint_as(sql, Side::Up, PG);
    let seen: Vec<(usize, Rule, Option<&str>)> =
        findings.iter().map(|f| (f.position.unwrap().0, f.rule, f.allowed.as_deref())).collect();
    assert_eq!(
        seen,
        vec![
            (2, Rule::IndexNotConcurrent, Some("orders has 40 rows")),
            (4, Rule::DataChangeInSchemaMigration, Some("the 3 currencies the new code needs")),
            (5, Rule::IndexNotConcurrent, Some("orders has 40 rows")),
            (6, Rule::DataChangeInSchemaMigration, None),
        ]
    );
    assert_eq!(findings.iter().filter(|f| f.is_error()).count(), 1);
    let shown = findings[1].to_string();
    assert_eq!(
        shown,
        "allowed: m/1_x.up.sql:4:1: data-change-in-schema-migration: INSERT into `currency` changes data in a \
         schema migration\n  allowed: the 3 currencies the new code needs"
    );
    assert!(findings[3].to_string().contains("\n  fix: one migration, one schema change"));
}

#[test]
fn allowances_are_every_well_formed_allow_of_the_file() {
    let sql = "-- runsheet: phase=contract\n-- runsheet: allow set-not-null because validated check exists\n\
               ALTER TABLE t ALTER COLUMN c SET NOT NULL;\n/* runsheet: allow data-change-in-schema-migration \
               because two rows */ INSERT INTO t VALUES (1);\n-- runsheet: allow set-not-null\n";
    let expected = vec![
        Allowance { rule: "set-not-null".into(), reason: "validated check exists".into() },
        Allowance { rule: "data-change-in-schema-migration".into(), reason: "two rows".into() },
    ];
    assert_eq!(allowances(sql), expected);
    assert_eq!(allowances("CREATE TABLE t (id INT);"), vec![]);
}

fn migration(dir: &Path, version: i64, up: &str, down: &str) -> crate::model::MigrationFile {
    crate::model::MigrationFile {
        version,
        description: "m".into(),
        up_path: dir.join(format!("{version}_m.up.sql")),
        up_sql: up.into(),
        down_path: dir.join(format!("{version}_m.down.sql")),
        down_sql: down.into(),
    }
}

fn applied(version: i64) -> AppliedRow {
    AppliedRow {
        version,
        description: "m".into(),
        installed_on: chrono::DateTime::default(),
        success: true,
        checksum: String::new(),
        execution_time: 1,
    }
}

#[test]
fn older_than_applied() {
    let dir = PathBuf::from("m");
    let allow = "-- runsheet: allow older-than-applied because independent of 3, checked in staging\nSELECT 1;";
    let set = MigrationSet {
        dir: dir.clone(),
        migrations: vec![
            migration(&dir, 1, "SELECT 1;", "SELECT 1;"),
            migration(&dir, 2, "SELECT 1;", "SELECT 1;"),
            migration(&dir, 3, "SELECT 1;", "SELECT 1;"),
            migration(&dir, 4, allow, "SELECT 1;"),
            migration(&dir, 5, "SELECT 1;", "SELECT 1;"),
        ],
    };
    let findings = lint_set(&set, PG, Some(&[applied(1), applied(3), applied(6)]));
    let seen: Vec<(String, Rule, bool)> =
        findings.iter().map(|f| (f.file.display().to_string(), f.rule, f.is_error())).collect();
    assert_eq!(
        seen,
        vec![
            ("m/2_m.up.sql".into(), Rule::OlderThanApplied, true),
            ("m/4_m.up.sql".into(), Rule::OlderThanApplied, false),
            ("m/5_m.up.sql".into(), Rule::OlderThanApplied, true),
        ]
    );
    assert_eq!(findings[0].message, "version 2 is pending but 6, a newer one, is already applied");
    assert_eq!(lint_set(&set, PG, Some(&[applied(1), applied(2)])), vec![], "pending ones are all newer");
    assert_eq!(lint_set(&set, PG, None), vec![], "no database, no rule");
}

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

fn folder_rules(files: &[(&str, &str)]) -> Vec<(String, Rule)> {
    let dir = folder(files);
    let (_, findings) = lint_folder(dir.path(), None, None).unwrap();
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    findings.into_iter().map(|f| (name(&f.file), f.rule)).collect()
}

#[test]
fn missing_down_duplicate_version_and_folder_layout() {
    let good = [("1_a.up.sql", ""), ("1_a.down.sql", ""), ("2_b.up.sql", ""), ("2_b.down.sql", "")];
    assert_eq!(folder_rules(&good), vec![]);
    assert_eq!(folder_rules(&[("1_a.up.sql", "")]), vec![("1_a.up.sql".into(), Rule::MissingDown)]);
    let twice = [("1_a.up.sql", ""), ("1_a.down.sql", ""), ("1_b.up.sql", ""), ("1_b.down.sql", "")];
    assert_eq!(folder_rules(&twice), vec![("1_a.up.sql".into(), Rule::DuplicateVersion)]);
    let layout = [("1_a.sql", ""), ("2_a.down.sql", "")];
    assert_eq!(
        folder_rules(&layout),
        vec![("1_a.sql".into(), Rule::FolderLayout), ("2_a.down.sql".into(), Rule::FolderLayout)]
    );
}

#[test]
fn the_shipped_migrations_pass_and_the_contract_header_is_what_lets_the_contract_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
        let dir = root.join(dialect.name());
        assert_eq!(folder_dialect(&dir), Some(dialect));
        let set = MigrationSet::load(&dir).unwrap();
        assert_eq!(lint_set(&set, Some(dialect), None), vec![], "{}", dir.display());
        let contract = set.migrations.iter().find(|m| m.description.contains("contract")).unwrap();
        let without_header = contract.up_sql.replace("-- runsheet: phase=contract\n", "");
        let rules: Vec<Rule> = lint_file(&contract.up_path, &without_header, Side::Up, Some(dialect), Vec::new())
            .iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(rules, vec![Rule::DestructiveOutsideContract], "{}", dir.display());
    }
}

#[test]
fn rule_ids_are_unique_kebab_case_and_documented_in_the_readme() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for rule in Rule::ALL {
        assert_eq!(Rule::from_id(rule.id()), Some(rule));
        assert!(rule.id().chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", rule.id());
        assert!(readme.contains(&format!("| `{}` |", rule.id())), "README's rules table lacks {}", rule.id());
    }
}
