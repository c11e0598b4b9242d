//! One YAML file being loaded: its text, the position index of its nodes, and deserialising
//! that reports every bad key and value at its line and column instead of stopping at the
//! first.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml::Value;

use super::Diagnostic;
use super::positions::{Positions, join};

pub struct Source {
    pub file: PathBuf,
    pub text: String,
    positions: Positions,
}

/// What deserialising a node left: the value without its bad parts, and the keys of the node
/// whose values were bad (already reported; validation stays quiet about them).
pub struct Parsed<T> {
    pub value: T,
    pub damaged: HashSet<String>,
}

impl Source {
    pub fn read(file: &Path, diags: &mut Vec<Diagnostic>) -> Option<Self> {
        match std::fs::read_to_string(file) {
            Ok(text) => Some(Source { file: file.to_path_buf(), positions: Positions::index(&text), text }),
            Err(e) => {
                diags.push(Diagnostic {
                    file: file.to_path_buf(),
                    position: None,
                    step: None,
                    message: format!("cannot read: {e}"),
                });
                None
            }
        }
    }

    /// The document as a YAML value; syntax errors and duplicate keys are reported.
    pub fn document(&self, diags: &mut Vec<Diagnostic>) -> Option<Value> {
        for (path, pos) in &self.positions.duplicates {
            let key = path.rsplit('.').next().unwrap_or(path);
            diags.push(self.at(Some((pos.line, pos.column)), None, format!("duplicate key `{key}`")));
        }
        match serde_yaml::from_str::<Value>(&self.text) {
            Ok(Value::Null) => {
                diags.push(self.at(None, None, "the file is empty".to_string()));
                None
            }
            Ok(value) => Some(value),
            Err(e) => {
                let message = e.to_string();
                // The duplicate keys are reported above, each where it repeats.
                if !message.contains("duplicate entry with key") {
                    let position = e.location().map(|l| (l.line(), l.column()));
                    // serde_yaml writes the position into the message; it goes in front instead
                    let message = match position {
                        Some((line, column)) => message.replacen(&format!(" at line {line} column {column}"), "", 1),
                        None => message,
                    };
                    diags.push(self.at(position, None, message));
                }
                None
            }
        }
    }

    /// Diagnostics about the file itself, not about one step or item.
    pub fn site(&self) -> Site<'_> {
        Site { source: self, step: None, item: None }
    }

    /// The line of the node at `path`, for messages that point at another place.
    pub fn line(&self, path: &str) -> usize {
        self.positions.get(path).map(|p| p.line).unwrap_or(0)
    }

    /// A diagnostic about the whole file.
    pub fn file_diag(&self, message: impl Into<String>) -> Diagnostic {
        self.at(None, None, message.into())
    }

    fn at(&self, position: Option<(usize, usize)>, step: Option<&str>, message: String) -> Diagnostic {
        Diagnostic { file: self.file.clone(), position, step: step.map(str::to_string), message }
    }
}

/// Where diagnostics go: a file, and the step or checklist item they are about.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    pub source: &'a Source,
    pub step: Option<&'a str>,
    pub item: Option<&'a str>,
}

impl Site<'_> {
    /// Deserialises `value`, the node at `path`. Every unknown key is reported at its key and
    /// dropped; every ill-typed value is reported at its value and dropped with its enclosing
    /// entry of the node. None only when the node itself has the wrong shape.
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        mut value: Value,
        path: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Parsed<T>> {
        let mut damaged = HashSet::new();
        // Each round removes one entry, so this ends.
        loop {
            let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(parsed) => return Some(Parsed { value: parsed, damaged }),
                Err(e) => e,
            };
            let segments: Option<Vec<String>> = error
                .path()
                .iter()
                .map(|s| match s {
                    Segment::Map { key } => Some(key.clone()),
                    Segment::Seq { index } => Some(index.to_string()),
                    Segment::Enum { .. } | Segment::Unknown => None,
                })
                .collect();
            let segments = segments.unwrap_or_default();
            let message = error.into_inner().to_string();
            let at = segments.iter().fold(path.to_string(), |p, s| join(&p, s));
            if message.starts_with("unknown field") {
                diags.push(self.key_diag(&at, message));
                if remove(&mut value, &segments) {
                    continue;
                }
                return None;
            }
            diags.push(self.diag(&at, message));
            // Dropping the whole entry (not just the bad leaf) avoids a second report such as
            // "missing field" for the rest of it.
            match segments.first() {
                Some(first) if remove(&mut value, &segments[..1]) => {
                    damaged.insert(first.clone());
                }
                _ => return None,
            }
        }
    }

    /// A diagnostic at the node at `path` (or its nearest ancestor).
    pub fn diag(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        let position = self.source.positions.get(path).map(|p| (p.line, p.column));
        self.at(position, message.into())
    }

    /// A diagnostic at the key of the mapping entry at `path`.
    pub fn key_diag(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        let position = self.source.positions.key(path).map(|p| (p.line, p.column));
        self.at(position, message.into())
    }

    fn at(&self, position: Option<(usize, usize)>, message: String) -> Diagnostic {
        let message = match self.item {
            Some(item) => format!("item `{item}`: {message}"),
            None => message,
        };
        self.source.at(position, self.step, message)
    }
}

/// Removes the mapping entry or list element at `segments`; false when there is none.
fn remove(value: &mut Value, segments: &[String]) -> bool {
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = value;
    for segment in parents {
        let next = match node {
            Value::Mapping(map) => map.get_mut(segment.as_str()),
            Value::Sequence(list) => segment.parse::<usize>().ok().and_then(|i| list.get_mut(i)),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    match node {
        Value::Mapping(map) => map.remove(last.as_str()).is_some(),
        Value::Sequence(list) => match last.parse::<usize>() {
            Ok(i) if i < list.len() => {
                list.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}
