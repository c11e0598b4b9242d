//! The exact bytes of one log line. The writer and the verifier both go through here, so they
//! agree on what is hashed and what is signed.
//!
//! A line is `{"seq":N,"ts":"…","prev":"…","kind":"…",<caller fields>}`; a signed line (a
//! checkpoint or the seal) ends with `,"sig":"<base64>"}`. The signed message is the SHA-256 of
//! the line with the signature's value blanked (`"sig":""`), so a verifier rebuilds it from the
//! raw line alone, without re-encoding any JSON.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `prev` of the first line.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Field names the journal writes itself; caller fields must not use them.
pub const RESERVED_FIELDS: [&str; 5] = ["seq", "ts", "prev", "kind", "sig"];

/// Kinds only the journal writes.
pub const CHECKPOINT: &str = "checkpoint";
pub const SEAL: &str = "seal";

const SIG_OPEN: &str = ",\"sig\":\"";
const SIG_CLOSE: &str = "\"}";

/// Hex SHA-256 of a line's bytes (without its newline): the next line's `prev`.
pub fn line_hash(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// A line without its closing brace, so a signature can still be added as the last field.
pub struct OpenLine(String);

impl OpenLine {
    pub fn new(seq: u64, ts: &str, prev: &str, kind: &str, fields: &Map<String, Value>) -> OpenLine {
        let mut line =
            format!("{{\"seq\":{seq},\"ts\":{},\"prev\":{},\"kind\":{}", quote(ts), quote(prev), quote(kind));
        for (name, value) in fields {
            line.push(',');
            line.push_str(&quote(name));
            line.push(':');
            line.push_str(&value.to_string());
        }
        OpenLine(line)
    }

    /// The finished line of an unsigned entry.
    pub fn close(mut self) -> String {
        self.0.push('}');
        self.0
    }

    /// What a signature over this line signs: SHA-256 of the line with `"sig":""`.
    pub fn message_to_sign(&self) -> [u8; 32] {
        signed_message(&self.0)
    }

    /// The finished line with its signature (standard base64) as the last field.
    pub fn close_signed(mut self, sig_base64: &str) -> String {
        self.0.push_str(SIG_OPEN);
        self.0.push_str(sig_base64);
        self.0.push_str(SIG_CLOSE);
        self.0
    }
}

/// Splits a raw signed line into the message its signature covers and the signature's base64.
/// None when the line does not end with a `"sig"` field holding base64.
pub fn split_signed(line: &[u8]) -> Option<([u8; 32], &str)> {
    let line = std::str::from_utf8(line).ok()?;
    let body = line.strip_suffix(SIG_CLOSE)?;
    let at = body.rfind(SIG_OPEN)?;
    let sig = &body[at + SIG_OPEN.len()..];
    let is_base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=');
    if sig.is_empty() || !sig.chars().all(is_base64) {
        return None;
    }
    Some((signed_message(&body[..at]), sig))
}

fn signed_message(open_line: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(open_line.as_bytes());
    hasher.update(SIG_OPEN.as_bytes());
    hasher.update(SIG_CLOSE.as_bytes());
    hasher.finalize().into()
}

/// The complete lines of a log (each without its newline), and the bytes after the last newline:
/// a line whose write was cut short, never part of the log.
pub fn complete_lines(bytes: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = bytes[..end].split(|&b| b == b'\n').collect::<Vec<_>>();
    // split() yields an empty piece after the final newline; it is not a line.
    let lines = match lines.split_last() {
        Some((_, complete)) => complete.to_vec(),
        None => Vec::new(),
    };
    (lines, &bytes[end..])
}

fn quote(s: &str) -> String {
    Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_header_in_order() {
        let mut fields = Map::new();
        fields.insert("step".into(), "backup".into());
        let line = OpenLine::new(3, "2026-01-01T00:00:00.000000Z", GENESIS_PREV, "step.started", &fields).close();
        assert_eq!(
            line,
            format!(
                r#"{{"seq":3,"ts":"2026-01-01T00:00:00.000000Z","prev":"{GENESIS_PREV}","kind":"step.started","step":"backup"}}"#
            )
        );
    }

    #[test]
    fn split_signed_rebuilds_the_signed_message() {
        let open = OpenLine::new(1, "t", GENESIS_PREV, CHECKPOINT, &Map::new());
        let message = open.message_to_sign();
        let line = open.close_signed("AAAA+/==");
        let (rebuilt, sig) = split_signed(line.as_bytes()).unwrap();
        assert_eq!((rebuilt, sig), (message, "AAAA+/=="));
        assert!(split_signed(br#"{"seq":1,"sig":"not base64!"}"#).is_none());
        assert!(split_signed(br#"{"seq":1}"#).is_none());
    }

    #[test]
    fn a_cut_last_line_is_not_a_line() {
        let (lines, tail) = complete_lines(b"a\nb\nc");
        assert_eq!((lines, tail), (vec![&b"a"[..], b"b"], &b"c"[..]));
        let (lines, tail) = complete_lines(b"a\n\nb\n");
        assert_eq!((lines, tail), (vec![&b"a"[..], b"", b"b"], &b""[..]));
        assert_eq!(complete_lines(b""), (vec![], &b""[..]));
    }
}
