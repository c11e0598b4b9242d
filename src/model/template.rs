//! `${name}` and `${snapshot.NAME}` references in runbook text.
//!
//! In SQL a reference becomes a bound parameter (db/ writes the dialect's placeholder), so a
//! `--set` value never becomes SQL text.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ref {
    Var(String),
    Snapshot(String),
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ref::Var(name) => write!(f, "${{{name}}}"),
            Ref::Snapshot(name) => write!(f, "${{snapshot.{name}}}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Ref(Ref),
}

/// Text split into literal parts and references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub source: String,
    pub parts: Vec<Part>,
}

impl Template {
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| format!("unclosed reference `{}`", &rest[start..]))?;
            parts.push(Part::Ref(parse_ref(&after[..end])?));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { source: source.to_string(), parts })
    }

    /// The text with each reference replaced by its value, for people to read (never for
    /// SQL: there references become bound parameters). An unknown reference stays as written.
    pub fn fill(&self, lookup: impl Fn(&Ref) -> Option<String>) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.clone(),
                Part::Ref(r) => lookup(r).unwrap_or_else(|| r.to_string()),
            })
            .collect()
    }

    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }
}

pub fn parse_ref(inner: &str) -> Result<Ref, String> {
    let inner = inner.trim();
    let (name, make): (&str, fn(String) -> Ref) = match inner.strip_prefix("snapshot.") {
        Some(name) => (name, Ref::Snapshot),
        None => (inner, Ref::Var),
    };
    if is_identifier(name) {
        Ok(make(name.to_string()))
    } else {
        Err(format!("`${{{inner}}}` is not a reference: use ${{name}} or ${{snapshot.name}}"))
    }
}

/// Letters, digits, `_` and `-`, not starting with a digit.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Letters, digits and `_`, not starting with a digit: variables are also environment
/// variables of `command` steps, where `-` is not allowed.
pub fn is_var_name(name: &str) -> bool {
    is_identifier(name) && !name.contains('-')
}

/// The references in `sql` that sit inside a quoted string, a quoted identifier or a comment.
/// They would not work: a reference becomes a bound parameter, and a placeholder inside quotes
/// is just text.
pub fn quoted_refs(sql: &str) -> Vec<String> {
    let mut found = Vec::new();
    // The text that closes the quote or comment we are in, if any.
    let mut closer: Option<String> = None;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if let Some(end) = &closer {
            if rest.starts_with("${") {
                let len = rest.find('}').map_or(rest.len(), |i| i + 1);
                found.push(rest[..len].to_string());
                rest = &rest[len..];
                continue;
            }
            if rest.starts_with(end.as_str()) {
                rest = &rest[end.len()..];
                closer = None;
                continue;
            }
        } else if rest.starts_with("--") {
            closer = Some("\n".into());
        } else if rest.starts_with("/*") {
            closer = Some("*/".into());
            rest = &rest[2..];
            continue;
        } else if matches!(c, '\'' | '"' | '`') {
            closer = Some(c.to_string());
        } else if let Some(tag) = dollar_quote(rest) {
            // PostgreSQL's $tag$ ... $tag$ (`${` never opens one: `{` is not a tag character)
            rest = &rest[tag.len()..];
            closer = Some(tag);
            continue;
        }
        rest = &rest[c.len_utf8()..];
    }
    found
}

/// `$$` or `$tag$` at the start of `text`.
fn dollar_quote(text: &str) -> Option<String> {
    let tail = text.strip_prefix('$')?;
    let end = tail.find('$')?;
    let tag = &tail[..end];
    (tag.is_empty() || is_var_name(tag)).then(|| format!("${tag}$"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_references() {
        let t = Template::parse("SELECT ${a} + ${snapshot.n}").unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Text("SELECT ".into()),
                Part::Ref(Ref::Var("a".into())),
                Part::Text(" + ".into()),
                Part::Ref(Ref::Snapshot("n".into())),
            ]
        );
    }

    #[test]
    fn fills_references_for_reading() {
        let t = Template::parse("post in ${channel}: ${snapshot.n} rows, ${missing}").unwrap();
        let filled = t.fill(|r| match r {
            Ref::Var(name) if name == "channel" => Some("#support".into()),
            Ref::Snapshot(_) => Some("7".into()),
            _ => None,
        });
        assert_eq!(filled, "post in #support: 7 rows, ${missing}");
    }

    #[test]
    fn rejects_malformed_references() {
        assert!(Template::parse("x ${a").unwrap_err().contains("unclosed"));
        assert!(Template::parse("${a b}").unwrap_err().contains("not a reference"));
        assert!(Template::parse("${snapshot.}").is_err());
    }

    #[test]
    fn finds_references_inside_quotes_and_comments() {
        let sql = "SELECT ${a}, '${b}', 'it''s ${c}', \"${d}\" -- ${e}\n, ${f} /* ${g} */ FROM t WHERE x = $$ ${h} $$ AND y = $1";
        assert_eq!(quoted_refs(sql), vec!["${b}", "${c}", "${d}", "${e}", "${g}", "${h}"]);
        assert!(quoted_refs("SELECT count(*) FROM t WHERE n > ${n} AND s = 'x'").is_empty());
        assert!(quoted_refs("SELECT ${snapshot.orders} - 1").is_empty());
    }
}
