//! The lint rules: each with its level and fix hint, and the checks of one statement's syntax tree.

use std::collections::HashSet;

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, ObjectName, ObjectType, Statement,
    TableConstraint,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `lint` exits 1, `validate` fails and `run` refuses, unless the finding is allowed.
    Error,
    /// Reported; nothing refuses.
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    IndexNotConcurrent,
    NotNullWithoutDefault,
    SetNotNull,
    DestructiveOutsideContract,
    ConstraintNotValid,
    DataChangeInSchemaMigration,
    ConcurrentlyInTransaction,
    ConcurrentlyNotAlone,
    OlderThanApplied,
    UnparsedStatement,
    MissingDown,
    DuplicateVersion,
    FolderLayout,
    BadDirective,
}

impl Rule {
    pub const ALL: [Rule; 14] = [
        Rule::IndexNotConcurrent,
        Rule::NotNullWithoutDefault,
        Rule::SetNotNull,
        Rule::DestructiveOutsideContract,
        Rule::ConstraintNotValid,
        Rule::DataChangeInSchemaMigration,
        Rule::ConcurrentlyInTransaction,
        Rule::ConcurrentlyNotAlone,
        Rule::OlderThanApplied,
        Rule::UnparsedStatement,
        Rule::MissingDown,
        Rule::DuplicateVersion,
        Rule::FolderLayout,
        Rule::BadDirective,
    ];

    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.id() == id)
    }

    pub fn id(self) -> &'static str {
        self.info().0
    }

    pub fn level(self) -> Level {
        self.info().1
    }

    /// How to make the migration safe.
    pub fn hint(self) -> &'static str {
        self.info().2
    }

    /// Whether an `allow` comment may silence it: not for a folder runsheet cannot run at all,
    /// nor for a directive it cannot read.
    pub fn can_be_allowed(self) -> bool {
        !matches!(self, Rule::MissingDown | Rule::DuplicateVersion | Rule::FolderLayout | Rule::BadDirective)
    }

    fn info(self) -> (&'static str, Level, &'static str) {
        use Level::{Error, Warning};
        match self {
            Rule::IndexNotConcurrent => (
                "index-not-concurrent",
                Error,
                "PostgreSQL: CREATE INDEX CONCURRENTLY, alone in a file whose first line is `-- no-transaction`; \
                 for a UNIQUE or PRIMARY KEY constraint, build its unique index that way, then \
                 ADD CONSTRAINT … UNIQUE USING INDEX",
            ),
            Rule::NotNullWithoutDefault => (
                "not-null-without-default",
                Error,
                "add the column nullable (or with a constant DEFAULT), backfill it, then make it NOT NULL",
            ),
            Rule::SetNotNull => (
                "set-not-null",
                Error,
                "PostgreSQL: ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later \
                 migration, then SET NOT NULL (it uses the check instead of scanning) and allow this rule with \
                 that reason; elsewhere, run it in a maintenance window and allow it with a reason",
            ),
            Rule::DestructiveOutsideContract => (
                "destructive-outside-contract",
                Error,
                "the previous application version still uses it: keep it until every running version is past \
                 it, then do it in a migration of its own whose header says `-- runsheet: phase=contract`",
            ),
            Rule::ConstraintNotValid => (
                "constraint-not-valid",
                Error,
                "PostgreSQL: ADD CONSTRAINT … NOT VALID (only new rows are checked, the lock is brief), then \
                 ALTER TABLE … VALIDATE CONSTRAINT in a later migration (it does not block writes)",
            ),
            Rule::DataChangeInSchemaMigration => (
                "data-change-in-schema-migration",
                Error,
                "one migration, one schema change: move the data to a `backfill` or `command` step (batched, \
                 resumable), or allow it with a reason (a few rows of reference data a new table needs)",
            ),
            Rule::ConcurrentlyInTransaction => (
                "concurrently-in-transaction",
                Error,
                "PostgreSQL refuses CONCURRENTLY in a transaction: make `-- no-transaction` the very first line \
                 of the file (sqlx reads it only there) and remove BEGIN/COMMIT",
            ),
            Rule::ConcurrentlyNotAlone => (
                "concurrently-not-alone",
                Error,
                "sqlx sends a file as one string, which PostgreSQL runs as one implicit transaction: give the \
                 CONCURRENTLY statement a migration of its own",
            ),
            Rule::OlderThanApplied => (
                "older-than-applied",
                Error,
                "it would run after newer migrations it was never tested with (usually a branch merged late): \
                 give it a version above the newest applied one, or allow it with a reason once checked",
            ),
            Rule::UnparsedStatement => (
                "unparsed-statement",
                Warning,
                "sqlparser cannot read this statement, so the rules that need its syntax were not checked: \
                 review it by hand, or allow it with a reason",
            ),
            Rule::MissingDown => {
                ("missing-down", Error, "write the `.down.sql` that reverts it: the rollback branch needs it")
            }
            Rule::DuplicateVersion => (
                "duplicate-version",
                Error,
                "give every migration a version of its own (sqlx orders and records by it)",
            ),
            Rule::FolderLayout => (
                "folder-layout",
                Error,
                "name migrations `<version>_<name>.up.sql` and `<version>_<name>.down.sql`, in pairs",
            ),
            Rule::BadDirective => (
                "bad-directive",
                Error,
                "write `-- runsheet: phase=contract` in the header, or `-- runsheet: allow RULE because REASON` \
                 in the header or on the lines before the statement",
            ),
        }
    }
}

/// What a statement is checked against.
pub struct Context {
    /// PostgreSQL-only rules apply (the folder is read as PostgreSQL).
    pub postgres: bool,
    /// A down file: it undoes its up file, so dropping what that added is its job.
    pub down: bool,
    /// The header says `-- runsheet: phase=contract`.
    pub contract: bool,
    /// Tables created earlier in the same file: empty and unused, so building an index on them,
    /// or adding a constraint or a NOT NULL column, locks nobody out.
    pub created: HashSet<String>,
}

/// The findings of one statement.
pub fn check(statement: &Statement, cx: &mut Context) -> Vec<(Rule, String)> {
    let mut found = Vec::new();
    let destructive = !cx.down && !cx.contract;
    match statement {
        Statement::CreateTable(create) => {
            cx.created.insert(key(&create.name));
        }
        Statement::CreateIndex(index) if cx.postgres && !index.concurrently && !cx.is_new(&index.table_name) => {
            let message = format!(
                "CREATE INDEX on `{}` without CONCURRENTLY blocks writes to the table while the index builds",
                index.table_name
            );
            found.push((Rule::IndexNotConcurrent, message));
        }
        Statement::AlterTable(alter) => {
            let new = cx.is_new(&alter.name);
            for operation in &alter.operations {
                alter_table(&alter.name, operation, new, destructive, cx.postgres, &mut found);
            }
        }
        Statement::Drop { object_type: ObjectType::Table, names, .. } if destructive => {
            found.push((Rule::DestructiveOutsideContract, format!("table {} dropped", list(names))));
        }
        Statement::RenameTable(renames) if destructive => {
            for rename in renames {
                let message = format!("table `{}` renamed to `{}`", rename.old_name, rename.new_name);
                found.push((Rule::DestructiveOutsideContract, message));
            }
        }
        Statement::Insert(insert) => data_change(&mut found, format!("INSERT into `{}`", insert.table)),
        Statement::Update(update) => data_change(&mut found, format!("UPDATE of `{}`", update.table)),
        Statement::Delete(_) => data_change(&mut found, "DELETE".to_string()),
        Statement::Merge(_) => data_change(&mut found, "MERGE".to_string()),
        Statement::Truncate(truncate) => {
            let tables: Vec<String> = truncate.table_names.iter().map(|t| t.name.to_string()).collect();
            data_change(&mut found, format!("TRUNCATE of `{}`", tables.join("`, `")))
        }
        _ => {}
    }
    found
}

fn alter_table(
    table: &ObjectName,
    operation: &AlterTableOperation,
    new: bool,
    destructive: bool,
    postgres: bool,
    found: &mut Vec<(Rule, String)>,
) {
    let mut destroy = |what: String| {
        if destructive {
            found.push((Rule::DestructiveOutsideContract, what));
        }
    };
    match operation {
        AlterTableOperation::AddColumn { column_def, .. } if !new && not_null_without_default(column_def) => {
            let message = format!(
                "column `{}` added to `{table}` NOT NULL without a default: it fails on a table with rows \
                 (PostgreSQL, SQLite) or fills them with zero values (MySQL)",
                column_def.name
            );
            found.push((Rule::NotNullWithoutDefault, message));
        }
        AlterTableOperation::AlterColumn { column_name, op } => match op {
            AlterColumnOperation::SetNotNull if !new => {
                found.push((Rule::SetNotNull, set_not_null(table, column_name)))
            }
            AlterColumnOperation::SetDataType { data_type, .. } => {
                destroy(format!("type of column `{table}.{column_name}` changed to {data_type}"))
            }
            _ => {}
        },
        AlterTableOperation::DropColumn { column_names, .. } => {
            let columns: Vec<String> = column_names.iter().map(|c| c.to_string()).collect();
            destroy(format!("column `{}` of `{table}` dropped", columns.join("`, `")));
        }
        AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
            destroy(format!("column `{table}.{old_column_name}` renamed to `{new_column_name}`"))
        }
        AlterTableOperation::RenameTable { table_name } => destroy(format!("table `{table}` renamed ({table_name})")),
        AlterTableOperation::ChangeColumn { old_name, new_name, data_type, options, .. } => {
            destroy(format!("column `{table}.{old_name}` redefined as `{new_name}` {data_type}"));
            if !new && options.contains(&ColumnOption::NotNull) {
                found.push((Rule::SetNotNull, set_not_null(table, new_name)));
            }
        }
        AlterTableOperation::ModifyColumn { col_name, data_type, options, .. } => {
            destroy(format!("column `{table}.{col_name}` redefined as {data_type}"));
            if !new && options.contains(&ColumnOption::NotNull) {
                found.push((Rule::SetNotNull, set_not_null(table, col_name)));
            }
        }
        AlterTableOperation::AddConstraint { constraint, not_valid } if postgres && !new => {
            let kind = match constraint {
                TableConstraint::ForeignKey(_) if !not_valid => "FOREIGN KEY",
                TableConstraint::Check(_) if !not_valid => "CHECK",
                TableConstraint::Unique(_) | TableConstraint::PrimaryKey(_) => {
                    let message = format!(
                        "constraint added to `{table}` builds its unique index while writes to the table are blocked"
                    );
                    found.push((Rule::IndexNotConcurrent, message));
                    return;
                }
                _ => return,
            };
            let message = format!(
                "{kind} constraint added to `{table}` without NOT VALID: every row is checked while the table \
                 is locked"
            );
            found.push((Rule::ConstraintNotValid, message));
        }
        _ => {}
    }
}

fn set_not_null(table: &ObjectName, column: &impl std::fmt::Display) -> String {
    format!("NOT NULL set on `{table}.{column}`: the whole table is read under a lock that blocks writes")
}

fn data_change(found: &mut Vec<(Rule, String)>, what: String) {
    found.push((Rule::DataChangeInSchemaMigration, format!("{what} changes data in a schema migration")));
}

/// NOT NULL with nothing that fills the rows already there.
fn not_null_without_default(column: &ColumnDef) -> bool {
    let options = || column.options.iter().map(|o| &o.option);
    let not_null = options().any(|o| matches!(o, ColumnOption::NotNull));
    let filled = options().any(|o| {
        matches!(
            o,
            ColumnOption::Default(_)
                | ColumnOption::Generated { .. }
                | ColumnOption::Identity(_)
                | ColumnOption::Materialized(_)
                // MySQL's AUTO_INCREMENT, SQLite's AUTOINCREMENT
                | ColumnOption::DialectSpecific(_)
        )
    });
    // PostgreSQL's serial types come with a sequence default.
    let serial = column.data_type.to_string().to_lowercase().ends_with("serial");
    not_null && !filled && !serial
}

impl Context {
    fn is_new(&self, table: &ObjectName) -> bool {
        self.created.contains(&key(table))
    }
}

/// A table's name as the file refers to it, for comparing names within one file.
fn key(name: &ObjectName) -> String {
    name.0.last().and_then(|part| part.as_ident()).map(|ident| ident.value.to_lowercase()).unwrap_or_default()
}

fn list(names: &[ObjectName]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}
