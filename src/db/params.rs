//! How runbook values reach SQL: `${...}` references become the dialect's placeholders and the
//! values are bound, never pasted into the SQL text.

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use super::Dialect;
use crate::model::{Part, Ref, Template};

/// Turns a template into SQL with the dialect's placeholders and the values to bind, in order.
/// Every occurrence of a reference gets its own placeholder; an unresolved reference is an error
/// naming all of them.
pub fn render(
    dialect: Dialect,
    template: &Template,
    lookup: impl Fn(&Ref) -> Option<String>,
) -> Result<(String, Vec<String>), String> {
    let mut sql = String::with_capacity(template.source.len());
    let mut values = Vec::new();
    let mut unresolved: Vec<String> = Vec::new();
    for part in &template.parts {
        match part {
            Part::Text(text) => sql.push_str(text),
            Part::Ref(r) => match lookup(r) {
                Some(value) => {
                    values.push(value);
                    sql.push_str(&dialect.placeholder(values.len()));
                }
                None => {
                    let name = r.to_string();
                    if !unresolved.contains(&name) {
                        unresolved.push(name);
                    }
                }
            },
        }
    }
    match unresolved.as_slice() {
        [] => Ok((sql, values)),
        [one] => Err(format!("unresolved reference {one}")),
        many => Err(format!("unresolved references {}", many.join(", "))),
    }
}

/// A parameter as it is bound: integers and floats keep comparisons numeric in SQL.
#[derive(Debug, PartialEq)]
enum Param<'a> {
    Int(i64),
    Float(f64),
    Text(&'a str),
}

impl<'a> Param<'a> {
    fn of(text: &'a str) -> Param<'a> {
        if let Ok(i) = text.parse::<i64>() {
            return Param::Int(i);
        }
        // Only plain decimal notation: "inf" or "NaN" are words, not numbers, in a runbook.
        let numeric = text.chars().any(|c| c.is_ascii_digit())
            && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
        match text.parse::<f64>() {
            Ok(f) if numeric => Param::Float(f),
            _ => Param::Text(text),
        }
    }
}

/// Binds each parameter as an integer, a float or text, whichever it reads as.
pub(super) fn bind<'q, DB>(
    mut query: Query<'q, DB, <DB as Database>::Arguments>,
    params: &'q [String],
) -> Query<'q, DB, <DB as Database>::Arguments>
where
    DB: Database,
    i64: Encode<'q, DB> + Type<DB>,
    f64: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
{
    for text in params {
        query = match Param::of(text) {
            Param::Int(i) => query.bind(i),
            Param::Float(f) => query.bind(f),
            Param::Text(t) => query.bind(t),
        };
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(r: &Ref) -> Option<String> {
        match r {
            Ref::Var(name) if name == "limit" => Some("5000".into()),
            Ref::Var(name) if name == "who" => Some("x'; DROP TABLE t; --".into()),
            Ref::Snapshot(name) if name == "orders" => Some("42".into()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_per_dialect() {
        let t =
            Template::parse("SELECT ${snapshot.orders} - count(*) FROM t WHERE who = ${who} LIMIT ${limit}").unwrap();
        let (pg, values) = render(Dialect::Postgres, &t, lookup).unwrap();
        assert_eq!(pg, "SELECT $1 - count(*) FROM t WHERE who = $2 LIMIT $3");
        assert_eq!(values, vec!["42", "x'; DROP TABLE t; --", "5000"]);
        let (mysql, _) = render(Dialect::MySql, &t, lookup).unwrap();
        assert_eq!(mysql, "SELECT ? - count(*) FROM t WHERE who = ? LIMIT ?");
        let (sqlite, _) = render(Dialect::Sqlite, &t, lookup).unwrap();
        assert_eq!(sqlite, mysql);
    }

    #[test]
    fn repeated_reference_binds_twice() {
        let t = Template::parse("SELECT ${limit} + ${limit}").unwrap();
        let (sql, values) = render(Dialect::Postgres, &t, lookup).unwrap();
        assert_eq!(sql, "SELECT $1 + $2");
        assert_eq!(values, vec!["5000", "5000"]);
    }

    #[test]
    fn unresolved_references_are_named() {
        let t = Template::parse("SELECT ${nope} + ${snapshot.missing} + ${nope}").unwrap();
        assert_eq!(
            render(Dialect::Sqlite, &t, lookup).unwrap_err(),
            "unresolved references ${nope}, ${snapshot.missing}"
        );
        let t = Template::parse("SELECT ${nope}").unwrap();
        assert_eq!(render(Dialect::Sqlite, &t, lookup).unwrap_err(), "unresolved reference ${nope}");
    }

    #[test]
    fn parameters_read_as_numbers_only_when_they_are() {
        assert_eq!(Param::of("42"), Param::Int(42));
        assert_eq!(Param::of("-7"), Param::Int(-7));
        assert_eq!(Param::of("2.5"), Param::Float(2.5));
        assert_eq!(Param::of("1e3"), Param::Float(1000.0));
        for text in ["inf", "NaN", "infinity", "e", "abc", "", " 5", "12 monkeys"] {
            assert_eq!(Param::of(text), Param::Text(text), "{text:?}");
        }
    }
}
