//! Where each node of a YAML document starts, by path (`steps.2.check.expect`), and where
//! each mapping key is written.
//!
//! serde reports positions only for syntax errors; problems found while or after deserialising
//! (unknown keys, ill-typed values, duplicate ids, dangling references) look their position up
//! here. Duplicate keys are found here too, because serde rejects them without saying where.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct Positions {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
    /// Keys written twice in one mapping: (path of the key, position of the second one).
    pub duplicates: Vec<(String, Pos)>,
}

enum Frame {
    Map {
        path: String,
        /// The key whose value comes next; None while a key is expected.
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

impl Positions {
    /// Indexes `text` up to its first syntax error (serde reports that one with its position).
    pub fn index(text: &str) -> Self {
        let mut index = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = Pos { line: span.start.line(), column: span.start.col() + 1 };
            let (is_scalar, value) = match &event {
                Event::Scalar(value, ..) => (true, Some(value.to_string())),
                Event::Alias(_) => (true, None),
                Event::MappingStart(..) | Event::SequenceStart(..) => (false, None),
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    continue;
                }
                _ => continue,
            };
            if let Some(Frame::Map { path, key, seen }) = stack.last_mut()
                && key.is_none()
            {
                // A key. Complex keys (maps or lists as keys) are not indexed: their contents
                // go under a path no lookup asks for.
                let name = value.unwrap_or_else(|| "?".to_string());
                let key_path = join(path, &name);
                if !seen.insert(name.clone()) {
                    index.duplicates.push((key_path.clone(), pos));
                }
                index.keys.entry(key_path).or_insert(pos);
                *key = Some(name);
                if !is_scalar {
                    stack.push(Frame::Seq { path: "?".to_string(), index: 0 });
                }
                continue;
            }
            let path = child_path(&mut stack);
            index.values.entry(path.clone()).or_insert(pos);
            match event {
                Event::MappingStart(..) => stack.push(Frame::Map { path, key: None, seen: HashSet::new() }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { path, index: 0 }),
                _ => {}
            }
        }
        index
    }

    /// The position of the node at `path`, or of its nearest ancestor that has one.
    pub fn get(&self, path: &str) -> Option<Pos> {
        let mut path = path;
        loop {
            if let Some(pos) = self.values.get(path) {
                return Some(*pos);
            }
            path = &path[..path.rfind('.')?];
        }
    }

    /// The position of the key of the mapping entry at `path`, else of its node or ancestor.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.get(path))
    }
}

/// The path of the node that starts now, advancing the parent past it.
fn child_path(stack: &mut [Frame]) -> String {
    match stack.last_mut() {
        None => String::new(),
        Some(Frame::Map { path, key, .. }) => join(path, &key.take().unwrap_or_default()),
        Some(Frame::Seq { path, index }) => {
            *index += 1;
            join(path, &(*index - 1).to_string())
        }
    }
}

pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() { child.to_string() } else { format!("{parent}.{child}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(line: usize, column: usize) -> Option<Pos> {
        Some(Pos { line, column })
    }

    #[test]
    fn finds_nested_nodes_and_keys_by_path() {
        let text = "name: x\nsteps:\n  - id: a\n    check:\n      sql: SELECT 1\n      expect: \"= 1\"\n  - id: b\n";
        let p = Positions::index(text);
        assert_eq!(p.get("name"), pos(1, 7));
        assert_eq!(p.key("name"), pos(1, 1));
        assert_eq!(p.get("steps.0"), pos(3, 5));
        assert_eq!(p.get("steps.0.check.expect"), pos(6, 15));
        assert_eq!(p.key("steps.0.check.expect"), pos(6, 7));
        assert_eq!(p.get("steps.1.id"), pos(7, 9));
        // a path below a scalar falls back to the nearest ancestor
        assert_eq!(p.get("steps.1.id.nothing"), pos(7, 9));
        assert_eq!(p.key("steps.1.nothing"), pos(7, 5));
        assert!(p.duplicates.is_empty());
    }

    #[test]
    fn flow_maps_and_complex_keys_keep_later_paths_right() {
        let text = "a: {x: 1, y: [2, 3]}\n? [k]\n: v\nb: 4\n";
        let p = Positions::index(text);
        assert_eq!(p.get("a.y.1"), pos(1, 18));
        assert_eq!(p.key("a.y"), pos(1, 11));
        assert_eq!(p.get("b"), pos(4, 4));
    }

    #[test]
    fn reports_duplicate_keys_where_they_repeat() {
        let p = Positions::index("name: x\nsteps:\n  - id: a\n    id: b\nname: y\n");
        assert_eq!(
            p.duplicates,
            vec![
                ("steps.0.id".to_string(), Pos { line: 4, column: 5 }),
                ("name".to_string(), Pos { line: 5, column: 1 })
            ]
        );
    }
}
