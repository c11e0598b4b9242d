//! Reading a log's entries back, for replay (resume) and reports.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::entry::complete_lines;
use super::{Error, Result};

/// Every complete entry of the log, in order. A last line whose write was cut short is not an
/// entry and is left out; any other line that is not a JSON object is an error. This does not
/// verify the chain or the signatures: that is `verify`'s job.
pub fn read_entries(path: &Path) -> Result<Vec<Value>> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let (lines, _cut_short) = complete_lines(&bytes);
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| match serde_json::from_slice(line) {
            Ok(entry @ Value::Object(_)) => Ok(entry),
            Ok(_) => Err(Error::Parse { path: path.to_owned(), line: index + 1, reason: "not a JSON object".into() }),
            Err(e) => {
                Err(Error::Parse { path: path.to_owned(), line: index + 1, reason: format!("not valid JSON ({e})") })
            }
        })
        .collect()
}
