//! The audit log: JSON Lines written ahead with fsync, each entry chained to the previous one
//! by the SHA-256 of its exact bytes, checkpoints and a final seal signed with an OpenSSH
//! Ed25519 key (SSHSIG, namespace `runsheet-audit`), and a detached `LOG.sig` over the whole
//! file that `ssh-keygen -Y verify` accepts.
//!
//! Line format, fields in this order:
//! `{"seq":1,"ts":"2026-11-28T01:02:03.123456Z","prev":"<64 hex>","kind":"run.started",…}`.
//! `prev` is the hex SHA-256 of the previous line without its newline (64 zeros on the first).
//! Checkpoints (`kind: checkpoint`) and the seal (`kind: seal`) add `entries` (the seq they
//! cover), `key` (the signer's `SHA256:` fingerprint) and, last, `sig`: standard base64 of the
//! binary SSHSIG blob (hash SHA-512) over the SHA-256 of the line with `"sig":""`.
//! Callers keep numbers small integers and write big values and times as strings.
//!
//! Secrets given to the journal (database passwords) are replaced by `***` in caller field
//! names and string values before a line is hashed and written.

mod entry;
mod keys;
mod read;
mod redact;
mod verify;
mod writer;

use std::io;
use std::path::{Path, PathBuf};

pub use entry::{CHECKPOINT, RESERVED_FIELDS, SEAL};
pub use keys::{NAMESPACE, TrustedKeys, fingerprint, keygen, load_or_create_key, public_key_path};
pub use read::read_entries;
pub use redact::{MASK, Redactor};
pub use verify::{Verdict, detached_signature_path, verify};
pub use writer::{DEFAULT_CHECKPOINT_EVERY, Journal};

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists { path: PathBuf },
    #[error("{}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error(
        "{}: the key is protected by a passphrase and runsheet cannot ask for one yet; \
         use an unencrypted key (`runsheet keygen` writes one)",
        path.display()
    )]
    EncryptedKey { path: PathBuf },
    #[error("{}:{line}: {reason}", path.display())]
    Parse { path: PathBuf, line: usize, reason: String },
    #[error("{}: no key in it may sign for namespace {NAMESPACE}", path.display())]
    NoTrustedKey { path: PathBuf },
    #[error("{}: cannot continue this log: line {line}: {reason}", path.display())]
    Corrupt { path: PathBuf, line: usize, reason: String },
    #[error("{}: the log is sealed; nothing may be appended to it", path.display())]
    Sealed { path: PathBuf },
    #[error("{}: another process is writing this log", path.display())]
    InUse { path: PathBuf },
    #[error("{}: an earlier write failed, so the log takes no more entries", path.display())]
    Failed { path: PathBuf },
    #[error("{}: signing failed: {reason}", path.display())]
    Sign { path: PathBuf, reason: String },
    #[error("field {0:?} is written by the journal itself; use another name")]
    ReservedField(String),
    #[error("kind {0:?} is written by the journal itself")]
    ReservedKind(String),
}

/// `path` with `suffix` appended to its file name: `audit.jsonl` → `audit.jsonl.sig`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

impl Error {
    fn io(path: &Path, source: io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }
}
