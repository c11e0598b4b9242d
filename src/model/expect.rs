//! Expectations of `check` steps and checklist items: `= 0`, `>= ${snapshot.orders}`, `!= 'x'`.

use serde::{Deserialize, Serialize};

use super::template::{Ref, parse_ref};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A literal; `null` stands for SQL NULL.
    Literal(String),
    Ref(Ref),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub op: Op,
    pub operand: Operand,
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.operand {
            Operand::Literal(v) => write!(f, "{} {v}", self.op.symbol()),
            Operand::Ref(r) => write!(f, "{} {r}", self.op.symbol()),
        }
    }
}

impl Expect {
    /// `"= 0"`, `"0"` (equality), `"!= 'text'"`, `"> ${snapshot.n}"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let ops = [("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("=", Op::Eq), ("<", Op::Lt), (">", Op::Gt)];
        let (op, rest) = ops
            .iter()
            .find_map(|(sym, op)| text.strip_prefix(sym).map(|rest| (*op, rest.trim())))
            .unwrap_or((Op::Eq, text));
        if rest.is_empty() {
            return Err(format!("expectation `{text}` has no value to compare with"));
        }
        let operand = match rest.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
            Some(inner) if !inner.contains('}') => Operand::Ref(parse_ref(inner)?),
            _ if rest.contains("${") => {
                return Err(format!(
                    "expectation `{text}` must compare with one value: a literal, ${{name}} or ${{snapshot.name}} \
                     (put arithmetic in the SQL)"
                ));
            }
            _ => Operand::Literal(unquote(rest).to_string()),
        };
        Ok(Expect { op, operand })
    }

    /// Compares the actual value (None for SQL NULL) with the resolved operand. Two numbers
    /// compare as numbers, anything else as text; NULL equals only the literal `null`.
    pub fn holds(&self, actual: Option<&str>, expected: &str) -> bool {
        use std::cmp::Ordering;
        let Some(actual) = actual else {
            let is_null = expected.eq_ignore_ascii_case("null");
            return match self.op {
                Op::Eq => is_null,
                Op::Ne => !is_null,
                _ => false,
            };
        };
        let ordering = match (parse_number(actual), parse_number(expected)) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => Some(actual.cmp(expected)),
        };
        let Some(ordering) = ordering else { return false };
        match self.op {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
        }
    }
}

/// Numbers compare exactly as integers when both are, else as floats.
#[derive(Debug, PartialEq, PartialOrd)]
enum Number {
    Int(i128),
    Float(f64),
}

fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    text.parse::<i128>()
        .map(Number::Int)
        .ok()
        .or_else(|| text.parse::<f64>().ok().filter(|f| f.is_finite()).map(Number::Float))
}

impl Number {
    fn partial_cmp(&self, other: &Number) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            Number::Int(v) => *v as f64,
            Number::Float(v) => *v,
        }
    }
}

fn unquote(text: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = text.strip_prefix(q).and_then(|t| t.strip_suffix(q)) {
            return inner;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(expect: &str, actual: Option<&str>) -> bool {
        let e = Expect::parse(expect).unwrap();
        let Operand::Literal(v) = &e.operand else { panic!("literal expected") };
        e.holds(actual, v)
    }

    #[test]
    fn numbers_compare_as_numbers() {
        assert!(holds("= 0", Some("0")));
        assert!(holds("0", Some("0")));
        assert!(holds("> 9", Some("10")));
        assert!(!holds("< 9", Some("10")));
        assert!(holds(">= 1.5", Some("2")));
        assert!(holds("= 1.0", Some("1")));
        assert!(holds("!= 3", Some("4")));
    }

    #[test]
    fn text_and_null() {
        assert!(holds("= 'on'", Some("on")));
        assert!(holds("= \"a b\"", Some("a b")));
        assert!(!holds("= on", Some("off")));
        assert!(holds("= null", None));
        assert!(!holds("= 0", None));
        assert!(holds("!= 0", None));
        assert!(!holds("> 0", None));
    }

    #[test]
    fn references_and_errors() {
        let e = Expect::parse(">= ${snapshot.orders}").unwrap();
        assert_eq!(e.op, Op::Ge);
        assert_eq!(e.operand, Operand::Ref(Ref::Snapshot("orders".into())));
        assert!(Expect::parse("=").is_err());
        assert!(Expect::parse("= ${bad name}").is_err());
        assert!(Expect::parse(">= ${snapshot.orders} - 10").unwrap_err().contains("one value"));
        assert!(Expect::parse("= ${a} ${b}").unwrap_err().contains("one value"));
    }
}
