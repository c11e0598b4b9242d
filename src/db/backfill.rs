//! What a backfill needs from the database: the types of its key columns, statements with
//! typed parameters, explicit transactions, and the checkpoint table that remembers, in the
//! same transaction as each batch, the last key done.

use chrono::Utc;
use sqlx::{AssertSqlSafe, Row};

use super::keyset::{Builder, KeyColumn, KeyType, SqlValue, Stmt};
use super::{Conn, Db, DbError, Dialect, Result, on_conn};

/// runsheet's own bookkeeping, next to sqlx's `_sqlx_migrations`.
pub const CHECKPOINT_TABLE: &str = "_runsheet_backfill";

/// PostgreSQL's WAL insert position in bytes: two readings differ by the WAL written between
/// them, by the batch and by the application meanwhile.
const WAL_POSITION: &str = "CAST(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0') AS bigint)";

/// Binds a statement's values and hands the query to `$then`, on any connection type.
macro_rules! bound {
    ($stmt:expr) => {{
        let mut query = sqlx::query(AssertSqlSafe($stmt.sql.as_str()));
        for value in &$stmt.params {
            query = match value {
                SqlValue::Int(i) => query.bind(*i),
                SqlValue::Text(s) => query.bind(s.as_str()),
            };
        }
        query
    }};
}

impl Db {
    /// The key columns with the way their values travel; an error names a missing table or
    /// column, or a type runsheet cannot page through.
    pub async fn key_columns(&mut self, table: &str, key: &[String]) -> Result<Vec<KeyColumn>> {
        let mut columns = Vec::new();
        for name in key {
            let stmt = self.column_type_query(table, name);
            let found = on_conn!(&mut self.conn, c => {
                bound!(stmt).fetch_optional(&mut *c).await.map(|row| row.map(|r| r.try_get::<String, _>(0)))
            });
            let ty = match found.map_err(|e| self.sql_error(e))? {
                Some(Ok(ty)) => ty.to_ascii_lowercase(),
                Some(Err(e)) => return Err(self.sql_error(e)),
                None => {
                    return Err(DbError::Sql { message: format!("table {table} has no column {name}"), code: None });
                }
            };
            let ty = key_type(self.dialect(), &ty).ok_or_else(|| DbError::Sql {
                message: format!(
                    "column {table}.{name} is of type {ty}, which a backfill cannot page through on {}: \
                     use an integer or text key",
                    self.dialect().name()
                ),
                code: None,
            })?;
            columns.push(KeyColumn { name: name.clone(), ty });
        }
        Ok(columns)
    }

    fn column_type_query(&self, table: &str, column: &str) -> Stmt {
        let (schema, table) = match table.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, table),
        };
        let text = |s: &str| SqlValue::Text(s.to_string());
        let mut b = match self.dialect() {
            Dialect::Postgres => {
                let mut b = Builder::new(
                    self.dialect(),
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                     WHERE NOT attisdropped AND attnum > 0 AND attrelid = to_regclass(",
                );
                b.param(text(&schema.map_or(table.to_string(), |s| format!("{s}.{table}"))));
                b.text(") AND attname = ").param(text(column));
                b
            }
            Dialect::MySql => {
                let mut b = Builder::new(
                    self.dialect(),
                    "SELECT CAST(column_type AS CHAR) FROM information_schema.columns WHERE table_schema = ",
                );
                match schema {
                    Some(s) => b.param(text(s)),
                    None => b.text("DATABASE()"),
                };
                b.text(" AND table_name = ").param(text(table)).text(" AND column_name = ").param(text(column));
                b
            }
            Dialect::Sqlite => {
                let mut b = Builder::new(self.dialect(), "SELECT type FROM pragma_table_info(");
                b.param(text(table));
                if let Some(s) = schema {
                    b.text(", ").param(text(s));
                }
                b.text(") WHERE name = ").param(text(column));
                b
            }
        };
        b.build()
    }

    /// The first row of a statement that reads key values, typed as `columns` say.
    pub async fn fetch_key(&mut self, stmt: &Stmt, columns: &[KeyColumn]) -> Result<Option<Vec<SqlValue>>> {
        let row = on_conn!(&mut self.conn, c => {
            bound!(stmt).fetch_optional(&mut *c).await.and_then(|row| {
                row.map(|row| {
                    columns
                        .iter()
                        .enumerate()
                        .map(|(i, column)| match column.ty {
                            KeyType::Int => row.try_get::<i64, _>(i).map(SqlValue::Int),
                            KeyType::Text { .. } => row.try_get::<String, _>(i).map(SqlValue::Text),
                        })
                        .collect::<std::result::Result<Vec<_>, _>>()
                })
                .transpose()
            })
        });
        row.map_err(|e| self.sql_error(e))
    }

    /// A statement's single integer (a count).
    pub async fn fetch_count(&mut self, stmt: &Stmt) -> Result<u64> {
        let n = on_conn!(&mut self.conn, c => {
            bound!(stmt).fetch_one(&mut *c).await.and_then(|row| row.try_get::<i64, _>(0))
        });
        n.map(|n| n.max(0) as u64).map_err(|e| self.sql_error(e))
    }

    /// Runs a statement; returns the rows it affected.
    pub async fn run(&mut self, stmt: &Stmt) -> Result<u64> {
        let done = on_conn!(&mut self.conn, c => bound!(stmt).execute(&mut *c).await.map(|r| r.rows_affected()));
        done.map_err(|e| self.sql_error(e))
    }

    /// Starts a transaction; SQLite takes the write lock at once, so a batch never fails
    /// half-way on upgrading its lock.
    pub async fn begin(&mut self) -> Result<()> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres | Dialect::MySql => "BEGIN",
        };
        self.execute(sql).await.map(drop)
    }

    /// Starts a batch's transaction; on PostgreSQL, returns the WAL insert position (bytes) at
    /// its start. There its commit does not wait for the WAL flush (`synchronous_commit = off`,
    /// for this transaction only): it leaves the disk to the application's commits. A server
    /// crash may lose the last batches, but each with its checkpoint row, so the next run redoes
    /// exactly those.
    pub async fn begin_batch(&mut self) -> Result<Option<u64>> {
        if self.dialect() != Dialect::Postgres {
            return self.begin().await.map(|()| None);
        }
        // One round trip for all three: small batches pay it on every batch.
        let sql = format!("BEGIN; SET LOCAL synchronous_commit = off; SELECT {WAL_POSITION}");
        let position = on_conn!(&mut self.conn, c => {
            sqlx::raw_sql(AssertSqlSafe(sql)).fetch_one(&mut *c).await.and_then(|row| row.try_get::<i64, _>(0))
        });
        position.map(|p| Some(u64::try_from(p).unwrap_or(0))).map_err(|e| self.sql_error(e))
    }

    /// PostgreSQL's WAL insert position (bytes); None on other databases.
    pub async fn wal_position(&mut self) -> Result<Option<u64>> {
        if self.dialect() != Dialect::Postgres {
            return Ok(None);
        }
        let stmt = Builder::new(self.dialect(), &format!("SELECT {WAL_POSITION}")).build();
        self.fetch_count(&stmt).await.map(Some)
    }

    pub async fn commit(&mut self) -> Result<()> {
        self.execute("COMMIT").await.map(drop)
    }

    pub async fn rollback(&mut self) -> Result<()> {
        self.execute("ROLLBACK").await.map(drop)
    }

    /// Creates the checkpoint table when missing.
    pub async fn ensure_checkpoint_table(&mut self) -> Result<()> {
        let (name, text) = match self.dialect() {
            // Key columns of MariaDB need a length.
            Dialect::MySql => ("VARCHAR(191)", "TEXT"),
            Dialect::Postgres | Dialect::Sqlite => ("TEXT", "TEXT"),
        };
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {CHECKPOINT_TABLE} (\
             runbook {name} NOT NULL, step {name} NOT NULL, definition {text} NOT NULL, \
             bound_key {text}, after_key {text}, \
             rows_visited BIGINT NOT NULL, rows_updated BIGINT NOT NULL, batches BIGINT NOT NULL, \
             started_at {text} NOT NULL, updated_at {text} NOT NULL, finished_at {text}, \
             PRIMARY KEY (runbook, step))"
        );
        self.execute(&sql).await.map(drop)
    }

    /// The checkpoint of a step, when the table and the row exist.
    pub async fn read_checkpoint(&mut self, runbook: &str, step: &str) -> Result<Option<Checkpoint>> {
        if !self.has_table(CHECKPOINT_TABLE).await? {
            return Ok(None);
        }
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "SELECT definition, bound_key, after_key, rows_visited, rows_updated, batches, started_at, \
                 finished_at FROM {CHECKPOINT_TABLE} WHERE runbook = "
            ),
        );
        b.param(SqlValue::Text(runbook.into())).text(" AND step = ").param(SqlValue::Text(step.into()));
        let stmt = b.build();
        let row = on_conn!(&mut self.conn, c => {
            bound!(stmt).fetch_optional(&mut *c).await.and_then(|row| {
                row.map(|r| {
                    Ok::<_, sqlx::Error>(RawCheckpoint {
                        definition: r.try_get(0)?,
                        bound: r.try_get(1)?,
                        after: r.try_get(2)?,
                        rows_visited: r.try_get(3)?,
                        rows_updated: r.try_get(4)?,
                        batches: r.try_get(5)?,
                        started_at: r.try_get(6)?,
                        finished_at: r.try_get(7)?,
                    })
                })
                .transpose()
            })
        });
        let Some(raw) = row.map_err(|e| self.sql_error(e))? else {
            return Ok(None);
        };
        let key = |text: Option<String>| -> Result<Option<Vec<SqlValue>>> {
            text.map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(|e| DbError::Sql { message: format!("{CHECKPOINT_TABLE}: unreadable key: {e}"), code: None })
        };
        Ok(Some(Checkpoint {
            definition: raw.definition,
            bound: key(raw.bound)?,
            after: key(raw.after)?,
            rows_visited: raw.rows_visited.max(0) as u64,
            rows_updated: raw.rows_updated.max(0) as u64,
            batches: raw.batches.max(0) as u64,
            started_at: raw.started_at,
            finished: raw.finished_at.is_some(),
        }))
    }

    /// Records a new backfill (no row done yet) with its bound.
    pub async fn start_checkpoint(
        &mut self,
        runbook: &str,
        step: &str,
        definition: &str,
        bound: Option<&[SqlValue]>,
    ) -> Result<()> {
        let now = SqlValue::Text(Utc::now().to_rfc3339());
        let mut b = Builder::new(
            self.dialect(),
            &format!(
                "INSERT INTO {CHECKPOINT_TABLE} (runbook, step, definition, bound_key, after_key, rows_visited, \
                 rows_updated, batches, started_at, updated_at) VALUES ("
            ),
        );
        b.param(SqlValue::Text(runbook.into())).text(", ");
        b.param(SqlValue::Text(step.into())).text(", ");
        b.param(SqlValue::Text(definition.into())).text(", ");
        match bound {
            Some(bound) => b.param(SqlValue::Text(json(bound))),
            None => b.text("NULL"),
        };
        b.text(", NULL, 0, 0, 0, ").param(now.clone()).text(", ").param(now).text(")");
        self.run(&b.build()).await.map(drop)
    }

    /// Moves the checkpoint past a batch; runs inside the batch's transaction. On PostgreSQL,
    /// returns the WAL insert position (bytes) after the batch's writes.
    pub async fn advance_checkpoint(
        &mut self,
        runbook: &str,
        step: &str,
        after: &[SqlValue],
        visited: u64,
        updated: u64,
    ) -> Result<Option<u64>> {
        let mut b = Builder::new(self.dialect(), &format!("UPDATE {CHECKPOINT_TABLE} SET after_key = "));
        b.param(SqlValue::Text(json(after)));
        b.text(", rows_visited = rows_visited + ").param(count(visited));
        b.text(", rows_updated = rows_updated + ").param(count(updated));
        b.text(", batches = batches + 1, updated_at = ").param(SqlValue::Text(Utc::now().to_rfc3339()));
        self.where_step(&mut b, runbook, step);
        if self.dialect() != Dialect::Postgres {
            return match self.run(&b.build()).await? {
                1 => Ok(None),
                n => Err(wrong_checkpoint_rows(n, step)),
            };
        }
        // The WAL insert position after the batch's writes, in the same round trip.
        b.text(&format!(" RETURNING {WAL_POSITION}"));
        let stmt = b.build();
        let positions = on_conn!(&mut self.conn, c => {
            bound!(stmt).fetch_all(&mut *c).await.and_then(|rows| {
                rows.iter().map(|row| row.try_get::<i64, _>(0)).collect::<std::result::Result<Vec<_>, _>>()
            })
        });
        match positions.map_err(|e| self.sql_error(e))?.as_slice() {
            [position] => Ok(Some(u64::try_from(*position).unwrap_or(0))),
            rows => Err(wrong_checkpoint_rows(rows.len() as u64, step)),
        }
    }

    /// Marks the backfill complete: a later run of the runbook has nothing left to do.
    pub async fn finish_checkpoint(&mut self, runbook: &str, step: &str) -> Result<()> {
        let now = SqlValue::Text(Utc::now().to_rfc3339());
        let mut b = Builder::new(self.dialect(), &format!("UPDATE {CHECKPOINT_TABLE} SET finished_at = "));
        b.param(now.clone()).text(", updated_at = ").param(now);
        self.where_step(&mut b, runbook, step);
        self.run(&b.build()).await.map(drop)
    }

    /// Forgets a step's checkpoint: the backfill starts over (a deliberate choice of the operator).
    pub async fn delete_checkpoint(&mut self, runbook: &str, step: &str) -> Result<u64> {
        if !self.has_table(CHECKPOINT_TABLE).await? {
            return Ok(0);
        }
        let mut b = Builder::new(self.dialect(), &format!("DELETE FROM {CHECKPOINT_TABLE}"));
        self.where_step(&mut b, runbook, step);
        self.run(&b.build()).await
    }

    fn where_step(&self, b: &mut Builder, runbook: &str, step: &str) {
        b.text(" WHERE runbook = ").param(SqlValue::Text(runbook.into()));
        b.text(" AND step = ").param(SqlValue::Text(step.into()));
    }
}

fn wrong_checkpoint_rows(rows: u64, step: &str) -> DbError {
    DbError::Sql { message: format!("{CHECKPOINT_TABLE}: {rows} rows for step {step}"), code: None }
}

/// A backfill's progress as last committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// `Backfill::definition_hash` of the step that wrote it.
    pub definition: String,
    /// The highest key when the backfill started; None: the table was empty.
    pub bound: Option<Vec<SqlValue>>,
    /// The last key of the last committed batch; None: no batch yet.
    pub after: Option<Vec<SqlValue>>,
    pub rows_visited: u64,
    pub rows_updated: u64,
    pub batches: u64,
    pub started_at: String,
    pub finished: bool,
}

struct RawCheckpoint {
    definition: String,
    bound: Option<String>,
    after: Option<String>,
    rows_visited: i64,
    rows_updated: i64,
    batches: i64,
    started_at: String,
    finished_at: Option<String>,
}

fn json(key: &[SqlValue]) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

fn count(n: u64) -> SqlValue {
    SqlValue::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// How the values of a column of type `ty` (lower case, as the catalog names it) travel; None
/// when they cannot be paged through reliably.
fn key_type(dialect: Dialect, ty: &str) -> Option<KeyType> {
    let int = ["smallint", "integer", "bigint", "int2", "int4", "int8"];
    match dialect {
        Dialect::Postgres if int.contains(&ty) => Some(KeyType::Int),
        // Any other type goes as text and back through its own cast: exact for every type.
        Dialect::Postgres => Some(KeyType::Text { cast: Some(ty.to_string()) }),
        Dialect::MySql => {
            let base = ty.split(['(', ' ']).next().unwrap_or_default();
            let unsigned = ty.contains("unsigned");
            match base {
                "bigint" if unsigned => Some(KeyType::Text { cast: Some("UNSIGNED".into()) }),
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => Some(KeyType::Int),
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
                    Some(KeyType::Text { cast: None })
                }
                "date" => Some(KeyType::Text { cast: Some("DATE".into()) }),
                "datetime" | "timestamp" => Some(KeyType::Text { cast: Some("DATETIME(6)".into()) }),
                "decimal" | "numeric" => Some(KeyType::Text { cast: Some("DECIMAL(65,30)".into()) }),
                _ => None,
            }
        }
        // SQLite's own rule: a declared type containing INT has integer affinity.
        Dialect::Sqlite if ty.contains("int") => Some(KeyType::Int),
        Dialect::Sqlite => Some(KeyType::Text { cast: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_travel_as_integers_and_others_as_text() {
        assert_eq!(key_type(Dialect::Postgres, "integer"), Some(KeyType::Int));
        assert_eq!(key_type(Dialect::Postgres, "uuid"), Some(KeyType::Text { cast: Some("uuid".into()) }));
        assert_eq!(key_type(Dialect::MySql, "int(11)"), Some(KeyType::Int));
        assert_eq!(
            key_type(Dialect::MySql, "bigint(20) unsigned"),
            Some(KeyType::Text { cast: Some("UNSIGNED".into()) })
        );
        assert_eq!(key_type(Dialect::MySql, "varchar(40)"), Some(KeyType::Text { cast: None }));
        assert_eq!(key_type(Dialect::MySql, "blob"), None);
        assert_eq!(key_type(Dialect::Sqlite, "integer"), Some(KeyType::Int));
        assert_eq!(key_type(Dialect::Sqlite, ""), Some(KeyType::Text { cast: None }));
    }
}
