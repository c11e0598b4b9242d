//! Secrets (database passwords) never reach the audit log: every occurrence in a caller's field
//! names and string values becomes `***` before the line is hashed and written.
//!
//! Redaction works on the values rather than on the encoded line so that a secret that also
//! appears in the line's structure (a password `1` and `"seq":1`) cannot corrupt the JSON, and
//! a secret holding `"` or `\` is found although the encoding escapes it.

use serde_json::{Map, Value};

pub const MASK: &str = "***";

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: &[&str]) -> Redactor {
        let mut secrets: Vec<String> = secrets.iter().filter(|s| !s.is_empty()).map(|s| s.to_string()).collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn fields(&self, fields: Map<String, Value>) -> Map<String, Value> {
        if self.secrets.is_empty() {
            return fields;
        }
        fields.into_iter().map(|(name, value)| (self.text(name), self.value(value))).collect()
    }

    fn value(&self, value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.value(v)).collect()),
            Value::Object(fields) => Value::Object(self.fields(fields)),
            other => other,
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn text(&self, text: String) -> String {
        self.secrets.iter().fold(text, |text, secret| {
            if text.contains(secret.as_str()) { text.replace(secret.as_str(), MASK) } else { text }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_names_and_nested_values_longest_secret_first() {
        let redactor = Redactor::new(&["pw", "", "s3cr\"et-pw"]);
        let fields = json!({"url": "postgres://u:s3cr\"et-pw@h/db", "nested": [{"pw-name": 1}], "n": 7});
        let Value::Object(fields) = fields else { unreachable!() };
        let redacted = Value::Object(redactor.fields(fields));
        assert_eq!(redacted, json!({"url": "postgres://u:***@h/db", "nested": [{"***-name": 1}], "n": 7}));
    }
}
