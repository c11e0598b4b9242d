//! A check's single value rendered as text, the same way on every dialect: integers as written,
//! decimals in their shortest exact form, booleans `true`/`false`, dates and timestamps ISO 8601 / RFC 3339, bytes as hex.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::{PgRow, PgTypeKind};
use sqlx::sqlite::SqliteRow;
use sqlx::types::BigDecimal;
use sqlx::{Column, Decode, Row, Type, TypeInfo, ValueRef};

use super::{DbError, Result};

/// The first column of a row as text; None for NULL.
pub(super) fn render<R: RenderFirst>(row: &R) -> Result<Option<String>> {
    row.render_first()
}

/// Rendering of the first column, per driver (their type names differ).
pub(super) trait RenderFirst {
    fn render_first(&self) -> Result<Option<String>>;
}

fn get<'r, R, T>(row: &'r R) -> Result<T>
where
    R: Row,
    T: Decode<'r, R::Database> + Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    row.try_get(0usize).map_err(decode_error)
}

fn is_null<R: Row>(row: &R) -> Result<bool>
where
    usize: sqlx::ColumnIndex<R>,
{
    row.try_get_raw(0usize).map(|v| v.is_null()).map_err(decode_error)
}

/// Decoding errors name the column and types, never connection details.
fn decode_error(e: sqlx::Error) -> DbError {
    DbError::Sql { message: e.to_string(), code: None }
}

fn naive(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The shortest exact form: sqlx's PostgreSQL decoding drops the declared scale (2.00 arrives as
/// 2.0000), so trailing zeros carry no meaning and go on every dialect alike.
fn decimal(d: BigDecimal) -> String {
    d.normalized().to_plain_string()
}

impl RenderFirst for PgRow {
    fn render_first(&self) -> Result<Option<String>> {
        if is_null(self)? {
            return Ok(None);
        }
        let info = self.column(0).type_info();
        let text = match info.name() {
            "BOOL" => get::<_, bool>(self)?.to_string(),
            "INT2" => get::<_, i16>(self)?.to_string(),
            "INT4" => get::<_, i32>(self)?.to_string(),
            "INT8" => get::<_, i64>(self)?.to_string(),
            "FLOAT4" => get::<_, f32>(self)?.to_string(),
            "FLOAT8" => get::<_, f64>(self)?.to_string(),
            "NUMERIC" => decimal(get(self)?),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "UNKNOWN" => get::<_, String>(self)?,
            "DATE" => get::<_, NaiveDate>(self)?.to_string(),
            "TIME" => get::<_, NaiveTime>(self)?.to_string(),
            "TIMESTAMP" => naive(get(self)?),
            "TIMESTAMPTZ" => utc(get(self)?),
            "BYTEA" => hex::encode(get::<_, Vec<u8>>(self)?),
            // Enum labels travel as text.
            _ if matches!(info.kind(), PgTypeKind::Enum(_)) => {
                self.try_get_unchecked::<String, _>(0).map_err(decode_error)?
            }
            other => return Err(DbError::UnsupportedType(other.to_string())),
        };
        Ok(Some(text))
    }
}

impl RenderFirst for MySqlRow {
    fn render_first(&self) -> Result<Option<String>> {
        if is_null(self)? {
            return Ok(None);
        }
        let text = match self.column(0).type_info().name() {
            "BOOLEAN" => get::<_, bool>(self)?.to_string(),
            "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" => get::<_, i64>(self)?.to_string(),
            "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "INT UNSIGNED" | "MEDIUMINT UNSIGNED" | "BIGINT UNSIGNED" => {
                get::<_, u64>(self)?.to_string()
            }
            "FLOAT" => get::<_, f32>(self)?.to_string(),
            "DOUBLE" => get::<_, f64>(self)?.to_string(),
            "DECIMAL" => decimal(get(self)?),
            "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" => get::<_, String>(self)?,
            "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                hex::encode(get::<_, Vec<u8>>(self)?)
            }
            "DATE" => get::<_, NaiveDate>(self)?.to_string(),
            "TIME" => get::<_, NaiveTime>(self)?.to_string(),
            "DATETIME" => naive(get(self)?),
            "TIMESTAMP" => utc(get(self)?),
            other => return Err(DbError::UnsupportedType(other.to_string())),
        };
        Ok(Some(text))
    }
}

impl RenderFirst for SqliteRow {
    fn render_first(&self) -> Result<Option<String>> {
        let raw = self.try_get_raw(0).map_err(decode_error)?;
        if raw.is_null() {
            return Ok(None);
        }
        // SQLite types values, not columns: the storage class decides, except that an integer in
        // a column declared BOOLEAN is a boolean.
        let storage = raw.type_info().name().to_string();
        let text = match storage.as_str() {
            "INTEGER" if self.column(0).type_info().name() == "BOOLEAN" => get::<_, bool>(self)?.to_string(),
            "INTEGER" => get::<_, i64>(self)?.to_string(),
            "REAL" => get::<_, f64>(self)?.to_string(),
            "TEXT" => get::<_, String>(self)?,
            "BLOB" => hex::encode(get::<_, Vec<u8>>(self)?),
            other => return Err(DbError::UnsupportedType(other.to_string())),
        };
        Ok(Some(text))
    }
}
