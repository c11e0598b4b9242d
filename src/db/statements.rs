//! A migration file cut into its statements, for saying which of them a failure left in place.
//!
//! The cut is sqlparser's tokenizer, not a parser: a `;` ends a statement unless it sits in a
//! string, a quoted name or a comment, and a statement with a syntax error still tokenizes.
//! A compound body (`CREATE PROCEDURE … BEGIN …; …; END`) is cut at its inner `;` too: the
//! server parses that as one statement, this does not.

use sqlparser::dialect::{self as sql_dialect};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use super::Dialect;

/// One statement of a file: its text as written, without the leading comments and blanks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    pub text: &'a str,
    /// The names it mentions (table, column, index …), as written without quotes.
    pub words: Vec<String>,
}

impl Statement<'_> {
    /// The text on one line, cut at `max` characters, for a message.
    pub fn short(&self, max: usize) -> String {
        let line = self.text.split_whitespace().collect::<Vec<_>>().join(" ");
        match line.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line,
        }
    }
}

/// The statements of `sql` in order; None when it does not even tokenize (an unclosed quote).
pub fn split(sql: &str, dialect: Dialect) -> Option<Vec<Statement<'_>>> {
    let tokens = match dialect {
        Dialect::Postgres => Tokenizer::new(&sql_dialect::PostgreSqlDialect {}, sql).tokenize_with_location(),
        Dialect::MySql => Tokenizer::new(&sql_dialect::MySqlDialect {}, sql).tokenize_with_location(),
        Dialect::Sqlite => Tokenizer::new(&sql_dialect::SQLiteDialect {}, sql).tokenize_with_location(),
    }
    .ok()?;
    let offsets = Offsets::new(sql);
    let mut statements = Vec::new();
    // The start of the current statement's first token that is not blank or a comment.
    let mut start: Option<usize> = None;
    let mut words = Vec::new();
    for token in tokens {
        match token.token {
            Token::SemiColon => {
                if let Some(from) = start.take() {
                    let to = offsets.of(token.span.start);
                    statements.push(Statement { text: sql[from..to].trim_end(), words: std::mem::take(&mut words) });
                }
            }
            Token::Whitespace(_) => {}
            other => {
                start.get_or_insert_with(|| offsets.of(token.span.start));
                if let Token::Word(word) = other {
                    words.push(word.value);
                }
            }
        }
    }
    if let Some(from) = start {
        statements.push(Statement { text: sql[from..].trim_end(), words });
    }
    Some(statements)
}

/// Byte offsets of the tokenizer's locations (1-based lines, columns counted in characters).
struct Offsets<'a> {
    line_starts: Vec<usize>,
    text: &'a str,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Offsets { line_starts, text }
    }

    fn of(&self, at: Location) -> usize {
        let line = usize::try_from(at.line.saturating_sub(1)).unwrap_or(usize::MAX);
        let Some(&line_start) = self.line_starts.get(line) else { return self.text.len() };
        let column = usize::try_from(at.column.saturating_sub(1)).unwrap_or(usize::MAX);
        self.text[line_start..].char_indices().nth(column).map_or(self.text.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql, Dialect::MySql).unwrap().into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn cuts_at_semicolons_outside_strings_names_and_comments() {
        let sql = "-- no-transaction\nCREATE TABLE `a;b` (id INT);\n\n/* one; two */ INSERT INTO t VALUES ('x;y');\n\
                   -- trailing; comment\nUPDATE t SET n = 1";
        assert_eq!(
            texts(sql),
            vec!["CREATE TABLE `a;b` (id INT)", "INSERT INTO t VALUES ('x;y')", "UPDATE t SET n = 1"]
        );
    }

    #[test]
    fn empty_statements_and_comment_only_tails_are_not_statements() {
        assert_eq!(texts(";;\n-- only a comment\n"), Vec::<&str>::new());
        assert_eq!(texts("SELECT 1;;\n"), vec!["SELECT 1"]);
    }

    #[test]
    fn keeps_the_text_after_multibyte_characters_exact() {
        let sql = "INSERT INTO t VALUES ('é—ü');\nCREATE TABLE ü (id INT);";
        assert_eq!(texts(sql), vec!["INSERT INTO t VALUES ('é—ü')", "CREATE TABLE ü (id INT)"]);
    }

    #[test]
    fn lists_the_names_a_statement_mentions_without_quotes() {
        let statements = split("ALTER TABLE `Orders` ADD COLUMN ref VARCHAR(10);", Dialect::MySql).unwrap();
        assert!(statements[0].words.contains(&"Orders".to_string()), "{:?}", statements[0].words);
        assert!(statements[0].words.contains(&"ref".to_string()));
    }

    #[test]
    fn a_short_form_fits_one_line() {
        let statements = split("CREATE TABLE t (\n  id INT,\n  name VARCHAR(100)\n)", Dialect::Postgres).unwrap();
        assert_eq!(statements[0].short(100), "CREATE TABLE t ( id INT, name VARCHAR(100) )");
        assert_eq!(statements[0].short(12), "CREATE TABLE…");
    }

    #[test]
    fn an_unclosed_quote_does_not_split() {
        assert_eq!(split("INSERT INTO t VALUES ('x);", Dialect::MySql), None);
    }
}
