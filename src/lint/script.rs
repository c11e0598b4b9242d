//! A migration file read with sqlparser: its statements, each with its position, the comments
//! around it and its syntax tree when sqlparser can read it.

use sqlparser::ast;
use sqlparser::dialect::{Dialect as SqlDialect, GenericDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, TokenizerError, Whitespace};

use crate::db::Dialect;

pub struct Script {
    /// Comments before the first statement (every comment when there is no statement).
    pub header: Vec<Comment>,
    pub statements: Vec<Statement>,
    /// Comments after the last statement: they precede nothing.
    pub trailing: Vec<Comment>,
}

pub struct Statement {
    /// 1-based line and column of its first token.
    pub line: usize,
    pub column: usize,
    /// Comments between the previous statement and this one (the header excepted), and inside it.
    pub comments: Vec<Comment>,
    /// The syntax tree, or why sqlparser could not read the statement.
    pub ast: Result<ast::Statement, String>,
    /// It has the keyword CONCURRENTLY: read from the tokens, so known even when it cannot be parsed.
    pub concurrently: bool,
}

pub struct Comment {
    /// Without its `--`, `#` or `/* */`.
    pub text: String,
    pub line: usize,
    pub column: usize,
}

/// The tokenizer gave up (an unterminated string or comment): nothing of the file can be read.
pub struct Unreadable {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Splits the file into statements at the semicolons between them (strings, quoted names and
/// comments are tokens of their own, so a semicolon inside them does not count).
pub fn read(sql: &str, dialect: Option<Dialect>) -> Result<Script, Unreadable> {
    let dialect = sql_dialect(dialect);
    let tokens = Tokenizer::new(dialect.as_ref(), sql).tokenize_with_location().map_err(unreadable)?;
    let mut script = Script { header: Vec::new(), statements: Vec::new(), trailing: Vec::new() };
    // Comments seen since the previous statement ended, and the statement being read.
    let mut before: Vec<Comment> = Vec::new();
    let mut current: Option<Pending> = None;
    for token in tokens {
        match &token.token {
            Token::SemiColon => {
                if let Some(pending) = current.take() {
                    script.statements.push(pending.finish(dialect.as_ref()));
                }
            }
            Token::Whitespace(space) => {
                let comment = comment(space, token.span.start);
                match (&mut current, comment) {
                    (Some(pending), Some(comment)) => {
                        pending.comments.push(comment);
                        pending.tokens.push(token);
                    }
                    (Some(pending), None) => pending.tokens.push(token),
                    (None, Some(comment)) => before.push(comment),
                    (None, None) => {}
                }
            }
            _ => {
                let pending = current.get_or_insert_with(|| {
                    let mut comments = std::mem::take(&mut before);
                    if script.statements.is_empty() {
                        script.header.append(&mut comments);
                    }
                    Pending { start: token.span.start, comments, tokens: Vec::new() }
                });
                pending.tokens.push(token);
            }
        }
    }
    if let Some(pending) = current {
        script.statements.push(pending.finish(dialect.as_ref()));
    }
    if script.statements.is_empty() {
        script.header = before;
    } else {
        script.trailing = before;
    }
    Ok(script)
}

/// Every comment of the file, in order, when the file can be tokenized.
pub fn comments(sql: &str) -> Vec<Comment> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return Vec::new();
    };
    tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Whitespace(space) => comment(space, t.span.start),
            _ => None,
        })
        .collect()
}

struct Pending {
    start: Location,
    comments: Vec<Comment>,
    tokens: Vec<TokenWithSpan>,
}

impl Pending {
    fn finish(self, dialect: &dyn SqlDialect) -> Statement {
        let concurrently = self.tokens.iter().any(is_concurrently);
        let mut ast = parse(&self.tokens, dialect);
        if ast.is_err() && concurrently {
            // sqlparser does not know every place CONCURRENTLY may stand (DROP INDEX
            // CONCURRENTLY): it says how the change is made, not what it changes, and the
            // rules that need it read it from the tokens. Read the statement without it.
            let without: Vec<TokenWithSpan> = self.tokens.iter().filter(|t| !is_concurrently(t)).cloned().collect();
            if let Ok(statement) = parse(&without, dialect) {
                ast = Ok(statement);
            }
        }
        Statement {
            line: to_usize(self.start.line),
            column: to_usize(self.start.column),
            comments: self.comments,
            ast,
            concurrently,
        }
    }
}

/// Parses one statement in the dialect, then in sqlparser's generic dialect, which reads
/// syntax some servers accept beyond their dialect's grammar (MariaDB's `ADD COLUMN IF NOT
/// EXISTS`); the first error when neither can.
fn parse(tokens: &[TokenWithSpan], dialect: &dyn SqlDialect) -> Result<ast::Statement, String> {
    let first = parse_in(tokens, dialect);
    if first.is_err()
        && !dialect.is::<GenericDialect>()
        && let Ok(statement) = parse_in(tokens, &GenericDialect {})
    {
        return Ok(statement);
    }
    first
}

fn parse_in(tokens: &[TokenWithSpan], dialect: &dyn SqlDialect) -> Result<ast::Statement, String> {
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens.to_vec());
    let statement = parser.parse_statement().map_err(|e| e.to_string())?;
    // parse_statement stops where the grammar it knows ends; what is left is not understood.
    match parser.peek_token_ref() {
        TokenWithSpan { token: Token::EOF, .. } => Ok(statement),
        rest => Err(format!("sql parser error: Expected: end of statement, found: {}{}", rest.token, rest.span.start)),
    }
}

fn is_concurrently(token: &TokenWithSpan) -> bool {
    matches!(&token.token, Token::Word(w) if w.keyword == Keyword::CONCURRENTLY && w.quote_style.is_none())
}

fn comment(space: &Whitespace, at: Location) -> Option<Comment> {
    let text = match space {
        // MySQL's `#` comments are left out: the audit log reads directives in every dialect's
        // files alike, and only `--` and `/* */` are comments in all of them.
        Whitespace::SingleLineComment { comment, prefix } if prefix == "--" => comment,
        Whitespace::MultiLineComment(comment) => comment,
        _ => return None,
    };
    Some(Comment { text: text.trim().to_string(), line: to_usize(at.line), column: to_usize(at.column) })
}

fn unreadable(e: TokenizerError) -> Unreadable {
    Unreadable { message: e.message, line: to_usize(e.location.line), column: to_usize(e.location.column) }
}

fn sql_dialect(dialect: Option<Dialect>) -> Box<dyn SqlDialect> {
    match dialect {
        Some(Dialect::Postgres) => Box::new(PostgreSqlDialect {}),
        Some(Dialect::MySql) => Box::new(MySqlDialect {}),
        Some(Dialect::Sqlite) => Box::new(SQLiteDialect {}),
        None => Box::new(GenericDialect {}),
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(script: &Script) -> Vec<(usize, usize)> {
        script.statements.iter().map(|s| (s.line, s.column)).collect()
    }

    #[test]
    fn statements_split_at_semicolons_with_their_lines_and_comments() {
        let sql = "-- header\n\n/* also header */\nCREATE TABLE a (id INT);\n-- before b\n  INSERT INTO a VALUES (';');\
                   \nSELECT 1 -- inside\n;\n-- the end\n";
        let script = read(sql, Some(Dialect::Postgres)).ok().unwrap();
        assert_eq!(lines(&script), vec![(4, 1), (6, 3), (7, 1)]);
        let texts = |c: &[Comment]| c.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
        assert_eq!(texts(&script.header), vec!["header", "also header"]);
        assert!(script.statements[0].comments.is_empty());
        assert_eq!(texts(&script.statements[1].comments), vec!["before b"]);
        assert_eq!(texts(&script.statements[2].comments), vec!["inside"]);
        assert_eq!(texts(&script.trailing), vec!["the end"]);
        assert!(matches!(script.statements[1].ast, Ok(ast::Statement::Insert(_))), "the `;` in a string is no end");
    }

    #[test]
    fn mysql_hash_comments_are_no_directive_comments() {
        let script = read("# runsheet: phase=contract\n-- kept\nSELECT 1;", Some(Dialect::MySql)).ok().unwrap();
        let texts: Vec<&str> = script.header.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, vec!["kept"]);
        assert!(script.statements[0].ast.is_ok());
    }

    #[test]
    fn an_unreadable_statement_keeps_its_place_and_says_why() {
        let script = read("CREATE TABLE a (id INT);\nFROBNICATE a;\nDROP TABLE a;", None).ok().unwrap();
        assert_eq!(lines(&script), vec![(1, 1), (2, 1), (3, 1)]);
        let error = script.statements[1].ast.as_ref().unwrap_err();
        assert!(error.contains("FROBNICATE"), "{error}");
        assert!(script.statements[2].ast.is_ok());
    }

    #[test]
    fn concurrently_is_read_from_tokens_even_where_sqlparser_does_not_know_it() {
        let script =
            read("DROP INDEX CONCURRENTLY IF EXISTS i;\nSELECT 'CONCURRENTLY'", Some(Dialect::Postgres)).ok().unwrap();
        assert!(script.statements[0].concurrently);
        assert!(matches!(script.statements[0].ast, Ok(ast::Statement::Drop { .. })));
        assert!(!script.statements[1].concurrently, "a string is not the keyword");
    }

    #[test]
    fn mariadb_syntax_beyond_the_mysql_grammar_is_read() {
        let sql = "ALTER TABLE t ADD COLUMN IF NOT EXISTS c VARCHAR(64) NULL, ALGORITHM=INSTANT;";
        let script = read(sql, Some(Dialect::MySql)).ok().unwrap();
        assert!(matches!(script.statements[0].ast, Ok(ast::Statement::AlterTable(_))));
    }

    #[test]
    fn an_unterminated_string_makes_the_file_unreadable_at_its_position() {
        let Err(e) = read("SELECT 1;\nSELECT 'oops", None) else { panic!("read") };
        assert_eq!((e.line, e.column), (2, 8));
    }
}
