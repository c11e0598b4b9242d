//! The SQL of keyset batches, per dialect: a batch covers the rows whose key lies after the
//! last one done and up to a key found by an index walk of `batch_size` rows, so no batch
//! ever counts its way through the rows before it (as `OFFSET` would), and each row's key
//! range is covered by exactly one batch.
//!
//! Key values travel as integers when the column is an integer (exact, and comparisons stay
//! indexable) and as text otherwise, cast back to the column's type where the dialect needs it.

use serde::{Deserialize, Serialize};

use super::Dialect;

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SqlValue {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for SqlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlValue::Int(i) => write!(f, "{i}"),
            SqlValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// A key's values, one per key column; shown as `(1, "a")`.
pub fn show_key(key: &[SqlValue]) -> String {
    let parts: Vec<String> = key.iter().map(SqlValue::to_string).collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("({})", parts.join(", ")),
    }
}

/// How a key column's values are read and bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    Int,
    /// Read as text; bound as text and cast to `cast` when given.
    Text {
        cast: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    pub name: String,
    pub ty: KeyType,
}

/// A statement and the values to bind, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// Builds a statement, numbering placeholders as the dialect wants them.
pub(super) struct Builder {
    dialect: Dialect,
    pub sql: String,
    params: Vec<SqlValue>,
}

impl Builder {
    pub fn new(dialect: Dialect, sql: &str) -> Builder {
        Builder { dialect, sql: sql.to_string(), params: Vec::new() }
    }

    pub fn text(&mut self, sql: &str) -> &mut Builder {
        self.sql.push_str(sql);
        self
    }

    pub fn param(&mut self, value: SqlValue) -> &mut Builder {
        self.params.push(value);
        let placeholder = self.dialect.placeholder(self.params.len());
        self.sql.push_str(&placeholder);
        self
    }

    pub fn build(&mut self) -> Stmt {
        Stmt { sql: std::mem::take(&mut self.sql), params: std::mem::take(&mut self.params) }
    }
}

/// One backfill's table, key and SQL fragments on one dialect.
#[derive(Debug, Clone)]
pub struct Keyset {
    dialect: Dialect,
    table: String,
    columns: Vec<KeyColumn>,
    set: String,
    filter: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Cmp {
    /// Strictly after the key: where a batch starts.
    After,
    /// Up to and including the key: where a batch ends.
    UpTo,
}

impl Keyset {
    pub fn new(dialect: Dialect, table: &str, columns: Vec<KeyColumn>, set: &str, filter: Option<&str>) -> Keyset {
        Keyset { dialect, table: table.into(), columns, set: set.into(), filter: filter.map(str::to_string) }
    }

    pub fn columns(&self) -> &[KeyColumn] {
        &self.columns
    }

    /// The highest key now: the backfill visits no row above it, so it ends even while the
    /// application inserts.
    pub fn highest(&self) -> Stmt {
        let order: Vec<String> = self.columns.iter().map(|c| format!("{} DESC", c.name)).collect();
        let sql = format!("SELECT {} FROM {} ORDER BY {} LIMIT 1", self.select_list(), self.table, order.join(", "));
        Builder::new(self.dialect, &sql).build()
    }

    /// The key of the `size`th row after `after` (from the first row when None), not above
    /// `bound`; no row means fewer are left and the batch ends at `bound`.
    pub fn batch_end(&self, after: Option<&[SqlValue]>, bound: &[SqlValue], size: u64) -> Stmt {
        let mut b = Builder::new(self.dialect, &format!("SELECT {} FROM {} WHERE ", self.select_list(), self.table));
        self.range(&mut b, after, bound);
        let order: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        b.text(&format!(" ORDER BY {} LIMIT 1 OFFSET ", order.join(", ")));
        b.param(SqlValue::Int(i64::try_from(size.saturating_sub(1)).unwrap_or(i64::MAX)));
        b.build()
    }

    /// Rows in the key range (after, bound]; only those matching `where` when `filtered`.
    pub fn count(&self, after: Option<&[SqlValue]>, bound: &[SqlValue], filtered: bool) -> Stmt {
        let mut b = Builder::new(self.dialect, &format!("SELECT count(*) FROM {} WHERE ", self.table));
        self.range(&mut b, after, bound);
        if filtered && let Some(filter) = &self.filter {
            b.text(&format!(" AND ({filter})"));
        }
        b.build()
    }

    /// The batch's UPDATE of the rows in (after, end] that match `where`.
    pub fn update(&self, after: Option<&[SqlValue]>, end: &[SqlValue]) -> Stmt {
        let mut b = Builder::new(self.dialect, &format!("UPDATE {} SET {} WHERE ", self.table, self.set));
        self.range(&mut b, after, end);
        if let Some(filter) = &self.filter {
            b.text(&format!(" AND ({filter})"));
        }
        b.build()
    }

    fn select_list(&self) -> String {
        let read: Vec<String> = self.columns.iter().map(|c| self.read(c)).collect();
        read.join(", ")
    }

    /// A key column as the value the client reads.
    fn read(&self, column: &KeyColumn) -> String {
        let name = &column.name;
        match (&column.ty, self.dialect) {
            (KeyType::Int, Dialect::Postgres) => format!("CAST({name} AS bigint)"),
            (KeyType::Int, Dialect::MySql) => format!("CAST({name} AS SIGNED)"),
            (KeyType::Int, Dialect::Sqlite) => format!("CAST({name} AS INTEGER)"),
            (KeyType::Text { .. }, Dialect::Postgres) => format!("CAST({name} AS text)"),
            (KeyType::Text { .. }, Dialect::MySql) => format!("CAST({name} AS CHAR)"),
            (KeyType::Text { .. }, Dialect::Sqlite) => format!("CAST({name} AS TEXT)"),
        }
    }

    /// `after < key <= upper` (no lower bound when `after` is None).
    fn range(&self, b: &mut Builder, after: Option<&[SqlValue]>, upper: &[SqlValue]) {
        if let Some(after) = after {
            self.compare(b, Cmp::After, after);
            b.text(" AND ");
        }
        self.compare(b, Cmp::UpTo, upper);
    }

    fn compare(&self, b: &mut Builder, cmp: Cmp, key: &[SqlValue]) {
        match (self.dialect, self.columns.as_slice()) {
            (_, [column]) => {
                b.text(&format!("{} {} ", column.name, if cmp == Cmp::After { ">" } else { "<=" }));
                self.value(b, column, &key[0]);
            }
            // MariaDB may not use the index for row values: the expanded form, with a leading
            // bound on the first column that the range optimizer reads directly.
            (Dialect::MySql, [first, ..]) => {
                b.text(&format!("{} {} ", first.name, if cmp == Cmp::After { ">=" } else { "<=" }));
                self.value(b, first, &key[0]);
                b.text(" AND ");
                self.expanded(b, cmp, &self.columns, key);
            }
            _ => {
                let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
                b.text(&format!("({}) {} (", names.join(", "), if cmp == Cmp::After { ">" } else { "<=" }));
                for (i, (column, value)) in self.columns.iter().zip(key).enumerate() {
                    if i > 0 {
                        b.text(", ");
                    }
                    self.value(b, column, value);
                }
                b.text(")");
            }
        }
    }

    /// `a > x OR (a = x AND (b > y OR (b = y AND c > z)))`; the last comparison is `<=` for UpTo.
    fn expanded(&self, b: &mut Builder, cmp: Cmp, columns: &[KeyColumn], key: &[SqlValue]) {
        let (column, rest) = (&columns[0], &columns[1..]);
        if rest.is_empty() {
            b.text(&format!("{} {} ", column.name, if cmp == Cmp::After { ">" } else { "<=" }));
            self.value(b, column, &key[0]);
            return;
        }
        b.text(&format!("({} {} ", column.name, if cmp == Cmp::After { ">" } else { "<" }));
        self.value(b, column, &key[0]);
        b.text(&format!(" OR ({} = ", column.name));
        self.value(b, column, &key[0]);
        b.text(" AND ");
        self.expanded(b, cmp, rest, &key[1..]);
        b.text("))");
    }

    fn value(&self, b: &mut Builder, column: &KeyColumn, value: &SqlValue) {
        match (&column.ty, self.dialect) {
            (KeyType::Text { cast: Some(ty) }, Dialect::Postgres | Dialect::MySql) => {
                b.text("CAST(").param(value.clone()).text(&format!(" AS {ty})"));
            }
            _ => {
                b.param(value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyset(dialect: Dialect, columns: &[(&str, KeyType)]) -> Keyset {
        let columns = columns.iter().map(|(n, t)| KeyColumn { name: n.to_string(), ty: t.clone() }).collect();
        Keyset::new(dialect, "t", columns, "c = c + 1", Some("x IS NULL"))
    }

    fn key(values: &[i64]) -> Vec<SqlValue> {
        values.iter().map(|v| SqlValue::Int(*v)).collect()
    }

    #[test]
    fn composite_keys_use_row_values_on_postgres_and_sqlite() {
        let pg = keyset(Dialect::Postgres, &[("a", KeyType::Int), ("b", KeyType::Text { cast: Some("uuid".into()) })]);
        let after = vec![SqlValue::Int(1), SqlValue::Text("u1".into())];
        let end = vec![SqlValue::Int(9), SqlValue::Text("u9".into())];
        let stmt = pg.update(Some(&after), &end);
        assert_eq!(
            stmt.sql,
            "UPDATE t SET c = c + 1 WHERE (a, b) > ($1, CAST($2 AS uuid)) AND (a, b) <= ($3, CAST($4 AS uuid)) \
             AND (x IS NULL)"
        );
        assert_eq!(stmt.params.len(), 4);
        let lite = keyset(Dialect::Sqlite, &[("a", KeyType::Int), ("b", KeyType::Int)]);
        assert_eq!(lite.count(None, &key(&[5, 6]), false).sql, "SELECT count(*) FROM t WHERE (a, b) <= (?, ?)");
    }

    #[test]
    fn composite_keys_are_expanded_on_mariadb() {
        let my = keyset(Dialect::MySql, &[("a", KeyType::Int), ("b", KeyType::Int)]);
        let stmt = my.update(Some(&key(&[1, 2])), &key(&[3, 4]));
        assert_eq!(
            stmt.sql,
            "UPDATE t SET c = c + 1 WHERE a >= ? AND (a > ? OR (a = ? AND b > ?)) \
             AND a <= ? AND (a < ? OR (a = ? AND b <= ?)) AND (x IS NULL)"
        );
        assert_eq!(stmt.params, key(&[1, 1, 1, 2, 3, 3, 3, 4]));
    }

    #[test]
    fn a_batch_end_walks_the_index_for_size_rows_from_the_last_key() {
        let pg = keyset(Dialect::Postgres, &[("id", KeyType::Int)]);
        let stmt = pg.batch_end(Some(&key(&[10])), &key(&[99]), 500);
        assert_eq!(
            stmt.sql,
            "SELECT CAST(id AS bigint) FROM t WHERE id > $1 AND id <= $2 ORDER BY id LIMIT 1 OFFSET $3"
        );
        assert_eq!(stmt.params, key(&[10, 99, 499]));
        let first = pg.batch_end(None, &key(&[99]), 1);
        assert_eq!(first.sql, "SELECT CAST(id AS bigint) FROM t WHERE id <= $1 ORDER BY id LIMIT 1 OFFSET $2");
        assert_eq!(first.params, key(&[99, 0]));
    }

    #[test]
    fn the_highest_key_orders_every_column_descending() {
        let my = keyset(Dialect::MySql, &[("a", KeyType::Int), ("b", KeyType::Text { cast: None })]);
        assert_eq!(
            my.highest().sql,
            "SELECT CAST(a AS SIGNED), CAST(b AS CHAR) FROM t ORDER BY a DESC, b DESC LIMIT 1"
        );
    }

    #[test]
    fn keys_show_as_written() {
        assert_eq!(show_key(&key(&[-3])), "-3");
        assert_eq!(show_key(&[SqlValue::Int(1), SqlValue::Text("b".into())]), "(1, \"b\")");
    }
}
