//! A migration that failed half-way on MariaDB/MySQL, explained.
//!
//! sqlx applies a MySQL migration as one multi-statement string inside a transaction, after
//! inserting its `_sqlx_migrations` row with `success = false`. Every DDL statement commits
//! implicitly, and after that commit the session is back in autocommit: so when a statement
//! fails after a DDL statement ran, everything before the failing statement stays, and so
//! does the `success = false` row (a "dirty" version). The server's error does not say which
//! statement of the string failed; the names it quotes usually do.

use std::fmt;
use std::path::PathBuf;

use super::Dialect;
use super::statements::{Statement, split};

/// How much of a statement a message shows.
const SHOWN: usize = 60;
/// How many statements a list shows (a message is read in a dialog, not a file viewer).
const LISTED: usize = 3;

/// A dirty version right after its failure: what stayed applied, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HalfApplied {
    pub version: i64,
    /// The up file.
    pub path: PathBuf,
    /// The server's error, password scrubbed.
    pub cause: String,
    /// The file's statements in order, each on one line (shortened).
    pub statements: Vec<String>,
    /// The statement the error points at, when exactly one does (0-based).
    pub failed: Option<usize>,
}

impl HalfApplied {
    pub fn new(version: i64, path: PathBuf, sql: &str, cause: String) -> Self {
        let statements = split(sql, Dialect::MySql).unwrap_or_default();
        let failed = failing_statement(&statements, &cause);
        let statements = statements.iter().map(|s| s.short(SHOWN)).collect();
        HalfApplied { version, path, cause, statements, failed }
    }
}

impl HalfApplied {
    /// Statements `range` as `1. \`…\`; 2. \`…\``, at most `LISTED` of them: those nearest the
    /// failure (the end of what stayed, the start of what did not run); the file has the rest.
    fn listed(&self, range: std::ops::Range<usize>, nearest_end: bool) -> String {
        let quote = |i: usize| format!("{}. `{}`", i + 1, self.statements[i]);
        if range.len() <= LISTED {
            return range.map(quote).collect::<Vec<_>>().join("; ");
        }
        let (first, last) = (range.start + 1, range.end);
        if nearest_end {
            let shown: Vec<String> = (range.end - LISTED..range.end).map(quote).collect();
            format!("{first}.–{}. (see the file); {}", range.end - LISTED, shown.join("; "))
        } else {
            let shown: Vec<String> = (range.start..range.start + LISTED).map(quote).collect();
            format!("{}; {}.–{last}. (see the file)", shown.join("; "), range.start + LISTED + 1)
        }
    }
}

impl fmt::Display for HalfApplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (version, path, n) = (self.version, self.path.display(), self.statements.len());
        write!(f, "migration {version} is half-applied: {path} ")?;
        match self.failed {
            Some(k) => {
                write!(f, "failed at statement {} of {n} (`{}`): {}. ", k + 1, self.statements[k], self.cause)?;
                if k == 0 {
                    write!(f, "No statement of it is in place (its implicit commit kept only the bookkeeping row)")?;
                } else {
                    let before = self.listed(0..k, true);
                    write!(f, "MariaDB/MySQL commits DDL at once, so what ran before it stays applied: {before}")?;
                }
                if k + 1 < n {
                    write!(f, "; not run: {}", self.listed(k + 1..n, false))?;
                }
            }
            None => {
                let all = self.listed(0..n, false);
                write!(f, "failed: {}. MariaDB/MySQL commits DDL at once, so the statements before ", self.cause)?;
                write!(
                    f,
                    "the failing one stay applied; the error does not say which of the {n} statements failed: {all}"
                )?;
            }
        }
        write!(f, ". `_sqlx_migrations` marks {version} failed (success = false). {}", repair(version))
    }
}

/// What a person does about a dirty version.
pub fn repair(version: i64) -> String {
    format!(
        "Repair it by hand, then retry: finish the rest and mark it done (UPDATE _sqlx_migrations SET success = \
         TRUE WHERE version = {version}), or undo what stayed and forget it (DELETE FROM _sqlx_migrations WHERE \
         version = {version})"
    )
}

/// The one statement the error's quoted names or text point at; None when none or several do.
fn failing_statement(statements: &[Statement<'_>], cause: &str) -> Option<usize> {
    let fragments = quoted(cause, '\'').into_iter().chain(quoted(cause, '`')).collect::<Vec<_>>();
    let mut hits = statements.iter().enumerate().filter(|(_, s)| fragments.iter().any(|f| mentions(s, f)));
    match (hits.next(), hits.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// The pieces of `text` between pairs of `quote` (an apostrophe in a word may shift the
/// pairs: a wrong piece then matches nothing, or several statements, and no statement is named).
fn quoted(text: &str, quote: char) -> Vec<&str> {
    text.split(quote).skip(1).step_by(2).map(str::trim).filter(|piece| !piece.is_empty()).collect()
}

/// A name (`db.table`, `column`) matches a name the statement mentions; a piece of SQL (MariaDB's
/// "near '…'") matches the statement's text, up to the end of its first statement and line.
fn mentions(statement: &Statement<'_>, fragment: &str) -> bool {
    if fragment.contains(char::is_whitespace) {
        let near = fragment.split([';', '\n']).next().unwrap_or_default();
        let near = near.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = statement.text.split_whitespace().collect::<Vec<_>>().join(" ");
        !near.is_empty() && text.contains(&near)
    } else {
        let name = fragment.rsplit('.').next().unwrap_or(fragment).trim_matches('`');
        statement.words.iter().any(|w| w.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "CREATE TABLE two (id INT);\nINSERT INTO nowhere VALUES (1);\nCREATE TABLE three (id INT);\n";

    fn half(sql: &str, cause: &str) -> HalfApplied {
        HalfApplied::new(2, PathBuf::from("m/2_two.up.sql"), sql, cause.to_string())
    }

    #[test]
    fn a_missing_table_names_the_failing_statement() {
        let h = half(SQL, "error returned from database: 1146 (42S02): Table 'rs_1.nowhere' doesn't exist");
        assert_eq!(h.failed, Some(1));
        let text = h.to_string();
        assert!(text.starts_with("migration 2 is half-applied: m/2_two.up.sql failed at statement 2 of 3 "), "{text}");
        assert!(text.contains("so what ran before it stays applied: 1. `CREATE TABLE two (id INT)`"), "{text}");
        assert!(text.contains("; not run: 3. `CREATE TABLE three (id INT)`"), "{text}");
        assert!(text.contains("DELETE FROM _sqlx_migrations WHERE version = 2"), "{text}");
    }

    #[test]
    fn a_syntax_error_is_found_by_its_near_text() {
        let sql = "CREATE TABLE a (id INT);\nALTER TABLE a ADD COLUM b INT;\nCREATE TABLE c (id INT);";
        let cause = "1064 (42000): You have an error in your SQL syntax; check the manual that corresponds to your \
                     MariaDB server version for the right syntax to use near 'COLUM b INT;\nCREATE TABLE c (id INT)' at line 1";
        assert_eq!(half(sql, cause).failed, Some(1));
    }

    #[test]
    fn a_backquoted_name_counts_and_an_apostrophe_does_not_confuse() {
        let sql = "ALTER TABLE t ADD COLUMN x INT;\nALTER TABLE t DROP COLUMN gone;";
        let cause = "1091 (42000): Can't DROP COLUMN `gone`; check that it exists";
        assert_eq!(half(sql, cause).failed, Some(1));
    }

    #[test]
    fn a_name_in_several_statements_names_none() {
        let sql = "CREATE TABLE t (id INT);\nALTER TABLE t ADD COLUMN c INT;\nALTER TABLE t ADD COLUMN c INT;";
        let h = half(sql, "1060 (42S21): Duplicate column name 'c'");
        assert_eq!(h.failed, None);
        let text = h.to_string();
        assert!(
            text.contains("the error does not say which of the 3 statements failed: 1. `CREATE TABLE t (id INT)`; 2.")
        );
    }

    #[test]
    fn long_files_list_the_statements_nearest_the_failure() {
        let mut sql: String = (1..=6).map(|i| format!("CREATE TABLE t{i} (id INT);\n")).collect();
        sql.push_str("INSERT INTO nowhere VALUES (1);\n");
        sql.extend((8..=12).map(|i| format!("CREATE TABLE t{i} (id INT);\n")));
        let text = half(&sql, "1146 (42S02): Table 'db.nowhere' doesn't exist").to_string();
        assert!(text.contains("failed at statement 7 of 12"), "{text}");
        assert!(text.contains("stays applied: 1.–3. (see the file); 4. `CREATE TABLE t4 (id INT)`; 5."), "{text}");
        assert!(text.contains("6. `CREATE TABLE t6 (id INT)`; not run: 8. `CREATE TABLE t8 (id INT)`; 9."), "{text}");
        assert!(text.contains("10. `CREATE TABLE t10 (id INT)`; 11.–12. (see the file)."), "{text}");
    }

    #[test]
    fn the_first_statement_failing_leaves_none_in_place() {
        let text =
            half("CREATE TABLE two (id INT);\nSELECT 1;", "1050 (42S01): Table 'two' already exists").to_string();
        assert!(text.contains("failed at statement 1 of 2"), "{text}");
        assert!(text.contains("No statement of it is in place"), "{text}");
        assert!(text.contains("not run: 2. `SELECT 1`"), "{text}");
    }
}
