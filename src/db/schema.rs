//! The schema fingerprint: a canonical, sorted text description of the current database's (or
//! schema's) tables, columns, indexes and constraints, read from each dialect's catalog, and
//! its SHA-256. `runsheet rehearse` compares two of them to tell whether a migration's replay
//! or its down changed the schema, and shows which lines differ.
//!
//! Column positions are left out on purpose: a down that adds a dropped column back can only
//! add it at the end (PostgreSQL, SQLite), and queries name their columns. runsheet's and
//! sqlx's own tables (`_runsheet…`, `_sqlx…`) are bookkeeping, not schema. SQLite keeps CHECK
//! constraints only inside a table's CREATE text, which ALTER TABLE rewrites: they are not in
//! its fingerprint.

use sha2::{Digest, Sha256};

use super::{Conn, Db, Dialect, Result, on_conn};

/// Tables whose names start with these are bookkeeping, never part of the fingerprint.
const BOOKKEEPING: &[&str] = &["_sqlx", "_runsheet"];

/// The oid of PostgreSQL's current schema, for the catalog queries.
const PG_SCHEMA: &str = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())";

/// One query per kind of object; each returns (table name, description line).
fn queries(dialect: Dialect) -> Vec<String> {
    match dialect {
        Dialect::Postgres => vec![
            format!(
                "SELECT c.relname::text, 'table ' || c.relname FROM pg_class c \
                 WHERE c.relnamespace = {PG_SCHEMA} AND c.relkind IN ('r', 'p')"
            ),
            format!(
                "SELECT c.relname::text, 'column ' || c.relname || '.' || a.attname || ' ' \
                   || format_type(a.atttypid, a.atttypmod) \
                   || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
                   || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') \
                   || CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity' ELSE '' END \
                   || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE c.relnamespace = {PG_SCHEMA} AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            format!(
                "SELECT t.relname::text, 'index ' || t.relname || '.' || i.relname || ': ' || pg_get_indexdef(x.indexrelid) \
                   || CASE WHEN x.indisvalid THEN '' ELSE ' INVALID' END \
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
                 WHERE t.relnamespace = {PG_SCHEMA}"
            ),
            format!(
                "SELECT t.relname::text, 'constraint ' || t.relname || '.' || k.conname || ': ' || pg_get_constraintdef(k.oid) \
                 FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid WHERE t.relnamespace = {PG_SCHEMA}"
            ),
        ],
        Dialect::MySql => vec![
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONCAT('table ', TABLE_NAME) AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
                .into(),
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, \
               IF(IS_NULLABLE = 'NO', ' not null', ''), \
               IF(COLUMN_DEFAULT IS NULL, '', CONCAT(' default ', COLUMN_DEFAULT)), \
               IF(EXTRA = '', '', CONCAT(' ', EXTRA)), \
               IF(COLLATION_NAME IS NULL, '', CONCAT(' collate ', COLLATION_NAME))) AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                .into(),
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(CONCAT(IF(NON_UNIQUE = 0, 'unique index ', 'index '), TABLE_NAME, '.', \
               INDEX_NAME, ' ', INDEX_TYPE, ' (', GROUP_CONCAT(CONCAT(COALESCE(COLUMN_NAME, '?'), \
               IF(SUB_PART IS NULL, '', CONCAT('(', SUB_PART, ')'))) ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') AS CHAR) \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE"
                .into(),
            // CHECK_CONSTRAINTS is joined by name only: MySQL 8 has no TABLE_NAME column there.
            "SELECT CAST(tc.TABLE_NAME AS CHAR), CAST(CONCAT('constraint ', tc.TABLE_NAME, '.', tc.CONSTRAINT_NAME, ': ', \
               tc.CONSTRAINT_TYPE, \
               COALESCE(CONCAT(' (', (SELECT GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', ') \
                 FROM information_schema.KEY_COLUMN_USAGE k WHERE k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
                 AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME), ')'), ''), \
               COALESCE((SELECT CONCAT(' references ', MIN(k.REFERENCED_TABLE_NAME), ' (', \
                 GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', '), ')') \
                 FROM information_schema.KEY_COLUMN_USAGE k WHERE k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
                 AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME \
                 AND k.REFERENCED_TABLE_NAME IS NOT NULL), ''), \
               COALESCE((SELECT CONCAT(' on update ', r.UPDATE_RULE, ' on delete ', r.DELETE_RULE) \
                 FROM information_schema.REFERENTIAL_CONSTRAINTS r WHERE r.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
                 AND r.TABLE_NAME = tc.TABLE_NAME AND r.CONSTRAINT_NAME = tc.CONSTRAINT_NAME), ''), \
               IF(tc.CONSTRAINT_TYPE = 'CHECK', COALESCE((SELECT CONCAT(' ', GROUP_CONCAT(DISTINCT c.CHECK_CLAUSE)) \
                 FROM information_schema.CHECK_CONSTRAINTS c WHERE c.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA \
                 AND c.CONSTRAINT_NAME = tc.CONSTRAINT_NAME), ''), '')) AS CHAR) \
             FROM information_schema.TABLE_CONSTRAINTS tc WHERE tc.CONSTRAINT_SCHEMA = DATABASE()"
                .into(),
        ],
        Dialect::Sqlite => {
            let tables = "sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
            vec![
                format!("SELECT m.name, 'table ' || m.name FROM {tables}"),
                format!(
                    "SELECT m.name, 'column ' || m.name || '.' || p.name || ' ' || p.type \
                       || CASE WHEN p.\"notnull\" THEN ' not null' ELSE '' END \
                       || coalesce(' default ' || p.dflt_value, '') \
                       || CASE WHEN p.pk > 0 THEN ' primary key ' || p.pk ELSE '' END \
                       || CASE WHEN p.hidden <> 0 THEN ' generated' ELSE '' END \
                     FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                ),
                format!(
                    "SELECT m.name, CASE WHEN l.\"unique\" THEN 'unique index ' ELSE 'index ' END || m.name || '.' \
                       || l.name || ' (' || coalesce((SELECT group_concat(coalesce(name, '<expression>'), ', ') \
                         FROM (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno)), '') || ')' \
                       || CASE WHEN l.partial THEN ' partial' ELSE '' END \
                     FROM sqlite_master m JOIN pragma_index_list(m.name) l \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                ),
                format!(
                    "SELECT m.name, 'foreign key ' || m.name || ' (' || group_concat(f.\"from\", ', ') || ') references ' \
                       || f.\"table\" || ' (' || group_concat(coalesce(f.\"to\", ''), ', ') || ') on update ' \
                       || f.on_update || ' on delete ' || f.on_delete \
                     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' GROUP BY m.name, f.id"
                ),
            ]
        }
    }
}

/// A schema as sorted description lines, e.g. `column orders.ref character varying(64)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    lines: Vec<String>,
}

/// What another schema has that this one has not, and the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaDiff {
    /// Lines of the expected schema that the actual one lacks.
    pub missing: Vec<String>,
    /// Lines of the actual schema that the expected one lacks.
    pub extra: Vec<String>,
}

impl Schema {
    /// Reads the current database's (PostgreSQL: the current schema's) description.
    pub async fn read(db: &mut Db) -> Result<Schema> {
        let mut lines = Vec::new();
        for sql in queries(db.dialect()) {
            let rows = on_conn!(&mut db.conn, c => {
                sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await
            });
            let rows = rows.map_err(|e| db.sql_error(e))?;
            lines.extend(rows.into_iter().filter(|(table, _)| !is_bookkeeping(table)).map(|(_, line)| line));
        }
        Ok(Schema::from_lines(lines))
    }

    pub fn from_lines(lines: impl IntoIterator<Item = String>) -> Schema {
        let mut lines: Vec<String> =
            lines.into_iter().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        lines.sort();
        lines.dedup();
        Schema { lines }
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The description, one line per object.
    pub fn text(&self) -> String {
        self.lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// SHA-256 of the description, hex.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.text().as_bytes()))
    }

    /// How `actual` differs from `self` (the expected schema).
    pub fn diff(&self, actual: &Schema) -> SchemaDiff {
        let missing = self.lines.iter().filter(|l| actual.lines.binary_search(l).is_err()).cloned().collect();
        let extra = actual.lines.iter().filter(|l| self.lines.binary_search(l).is_err()).cloned().collect();
        SchemaDiff { missing, extra }
    }
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

fn is_bookkeeping(table: &str) -> bool {
    BOOKKEEPING.iter().any(|prefix| table.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(lines: &[&str]) -> Schema {
        Schema::from_lines(lines.iter().map(|l| l.to_string()))
    }

    #[test]
    fn lines_are_sorted_and_whitespace_is_canonical() {
        let a = schema(&["table t", "column t.id  integer", "column t.id integer"]);
        assert_eq!(a.lines(), ["column t.id integer", "table t"]);
        assert_eq!(a.text(), "column t.id integer\ntable t\n");
        assert_eq!(a.fingerprint(), schema(&["table t", "column t.id integer"]).fingerprint());
        assert_ne!(a.fingerprint(), schema(&["table t"]).fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
    }

    #[test]
    fn diff_names_what_is_missing_and_what_is_left_over() {
        let before = schema(&["table t", "column t.id integer"]);
        let after = schema(&["table t", "column t.id bigint", "index t.t_c (c)"]);
        let diff = before.diff(&after);
        assert_eq!(diff.missing, ["column t.id integer"]);
        assert_eq!(diff.extra, ["column t.id bigint", "index t.t_c (c)"]);
        assert!(before.diff(&before.clone()).is_empty());
    }

    #[test]
    fn bookkeeping_tables_are_not_schema() {
        assert!(is_bookkeeping("_sqlx_migrations"));
        assert!(is_bookkeeping("_runsheet_backfill"));
        assert!(!is_bookkeeping("sqlx_users"));
        assert!(!is_bookkeeping("orders"));
    }
}
