//! The journal writer: appends entries ahead of the actions they record (each line is on disk,
//! fsynced, before `append` returns), signs checkpoints, and seals the log.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use ssh_key::PrivateKey;

use super::entry::{CHECKPOINT, OpenLine, RESERVED_FIELDS, SEAL, line_hash};
use super::keys::{fingerprint, sign_armored, sign_base64};
use super::redact::Redactor;
use super::verify::{Chain, detached_signature_path, scan};
use super::{Error, Result};

/// A checkpoint is signed automatically after this many unsigned entries, unless configured.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 100;

/// Fields of a checkpoint and the seal, besides the reserved ones.
const SIGNED_FIELDS: [&str; 2] = ["entries", "key"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Sealed,
    /// A write or fsync failed: what reached the disk is unknown, so nothing more is written.
    Failed,
}

/// Told each line written (see `Journal::observe`).
type Observer = Box<dyn FnMut(&str) + Send>;

/// An audit log open for appending. The file stays locked (advisory, exclusive) while this
/// value lives, so two processes cannot interleave entries.
pub struct Journal {
    path: PathBuf,
    file: File,
    key: PrivateKey,
    fingerprint: String,
    public_key: String,
    redactor: Redactor,
    last_seq: u64,
    last_hash: String,
    /// Entries since the last signed one.
    unsigned: u64,
    last_signed_at: Instant,
    checkpoint_every: u64,
    state: State,
    /// Told every line once it is on disk (the TUI's audit pane).
    observer: Option<Observer>,
}

impl Journal {
    /// Starts a new log at `path`; refuses an existing log or a leftover `LOG.sig`. `secrets`
    /// are masked wherever they occur in caller fields.
    pub fn create(path: &Path, key: PrivateKey, secrets: &[&str]) -> Result<Journal> {
        let sig_path = detached_signature_path(path);
        if sig_path.exists() {
            return Err(Error::Exists { path: sig_path });
        }
        let dir = log_dir(path);
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let file = OpenOptions::new().append(true).create_new(true).open(path).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => Error::Exists { path: path.to_owned() },
            _ => Error::io(path, e),
        })?;
        lock(path, &file)?;
        // The new file's name must survive a crash as much as its first entry does.
        sync_dir(dir)?;
        Journal::new(path, file, key, secrets, None)
    }

    /// Reopens an unsealed log to continue it (resume): checks its chain and carries on from
    /// its last entry. A last line whose write was cut short was never part of the log and is
    /// dropped.
    pub fn open_append(path: &Path, key: PrivateKey, secrets: &[&str]) -> Result<Journal> {
        let file = OpenOptions::new().read(true).append(true).open(path).map_err(|e| Error::io(path, e))?;
        lock(path, &file)?;
        let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
        let chain = scan(&bytes, None).map_err(|bad| Error::Corrupt {
            path: path.to_owned(),
            line: bad.line,
            reason: bad.reason,
        })?;
        if chain.sealed {
            return Err(Error::Sealed { path: path.to_owned() });
        }
        if chain.complete_len < bytes.len() {
            file.set_len(chain.complete_len as u64).and_then(|()| file.sync_data()).map_err(|e| Error::io(path, e))?;
        }
        Journal::new(path, file, key, secrets, Some(chain))
    }

    fn new(path: &Path, file: File, key: PrivateKey, secrets: &[&str], chain: Option<Chain>) -> Result<Journal> {
        let public_key = key
            .public_key()
            .to_openssh()
            .map_err(|e| Error::Key { path: path.to_owned(), reason: format!("cannot encode the public key ({e})") })?;
        let (last_seq, last_hash, unsigned) = match chain {
            Some(chain) => (chain.entries, chain.last_hash, chain.unsigned),
            None => (0, super::entry::GENESIS_PREV.to_owned(), 0),
        };
        Ok(Journal {
            path: path.to_owned(),
            file,
            fingerprint: fingerprint(key.public_key().key_data()),
            public_key,
            key,
            redactor: Redactor::new(secrets),
            last_seq,
            last_hash,
            unsigned,
            last_signed_at: Instant::now(),
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            state: State::Open,
            observer: None,
        })
    }

    /// Calls `observer` with every line (checkpoints and the seal too) once it is on disk,
    /// redacted as written.
    pub fn observe(&mut self, observer: impl FnMut(&str) + Send + 'static) {
        self.observer = Some(Box::new(observer));
    }

    /// Signs a checkpoint automatically after every `n` unsigned entries (at least 1).
    pub fn with_checkpoint_every(mut self, n: u64) -> Journal {
        self.checkpoint_every = n.max(1);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The signing key's public half in OpenSSH format, for the `run.started` entry.
    pub fn public_key_openssh(&self) -> &str {
        &self.public_key
    }

    /// The signing key's fingerprint, `SHA256:…`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Seq of the last entry written; 0 when the log is empty.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Writes one entry and fsyncs it before returning its seq. Signs a checkpoint after it
    /// when `checkpoint_every` entries have gone unsigned.
    pub fn append(&mut self, kind: &str, fields: Map<String, Value>) -> Result<u64> {
        if kind == CHECKPOINT || kind == SEAL {
            return Err(Error::ReservedKind(kind.to_owned()));
        }
        refuse_reserved(&fields, &[])?;
        let fields = self.redactor.fields(fields);
        let line = self.next_line(kind, &fields).close();
        let seq = self.write_line(line)?;
        self.unsigned += 1;
        if self.unsigned >= self.checkpoint_every {
            self.write_signed(CHECKPOINT, Map::new())?;
        }
        Ok(seq)
    }

    /// Signs a checkpoint over everything written so far (the executor calls this before every
    /// destructive step). Returns its seq, or None when nothing was written since the last one.
    pub fn checkpoint(&mut self) -> Result<Option<u64>> {
        self.ensure_open()?;
        if self.unsigned == 0 {
            return Ok(None);
        }
        self.write_signed(CHECKPOINT, Map::new()).map(Some)
    }

    /// Signs a checkpoint when entries went unsigned and the last signature is at least `age`
    /// old (the executor's timer: a stalled run still gets its tail signed).
    pub fn checkpoint_if_older_than(&mut self, age: Duration) -> Result<Option<u64>> {
        if self.last_signed_at.elapsed() < age {
            return Ok(None);
        }
        self.checkpoint()
    }

    /// Ends the log: writes the signed `seal` entry with the caller's fields (such as the
    /// outcome), then the detached `LOG.sig` over the whole file. Nothing may be appended after.
    pub fn seal(&mut self, fields: Map<String, Value>) -> Result<u64> {
        refuse_reserved(&fields, &SIGNED_FIELDS)?;
        let fields = self.redactor.fields(fields);
        let seq = self.write_signed(SEAL, fields)?;
        self.state = State::Sealed;
        self.write_detached_signature()?;
        Ok(seq)
    }

    fn next_line(&self, kind: &str, fields: &Map<String, Value>) -> OpenLine {
        let ts = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        OpenLine::new(self.last_seq + 1, &ts, &self.last_hash, kind, fields)
    }

    fn write_signed(&mut self, kind: &str, mut fields: Map<String, Value>) -> Result<u64> {
        fields.insert("entries".into(), self.last_seq.into());
        fields.insert("key".into(), self.fingerprint.clone().into());
        let line = self.next_line(kind, &fields);
        let sig = sign_base64(&self.key, &line.message_to_sign()).map_err(|e| self.sign_error(e))?;
        let seq = self.write_line(line.close_signed(&sig))?;
        self.unsigned = 0;
        self.last_signed_at = Instant::now();
        Ok(seq)
    }

    fn write_line(&mut self, line: String) -> Result<u64> {
        self.ensure_open()?;
        let hash = line_hash(line.as_bytes());
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        // One write per line, so a crash leaves at most one partial line, without its newline.
        if let Err(e) = self.file.write_all(&bytes).and_then(|()| self.file.sync_data()) {
            self.state = State::Failed;
            return Err(Error::io(&self.path, e));
        }
        self.last_seq += 1;
        self.last_hash = hash;
        if let Some(observer) = &mut self.observer {
            let written = String::from_utf8_lossy(&bytes[..bytes.len() - 1]);
            observer(&written);
        }
        Ok(self.last_seq)
    }

    fn write_detached_signature(&self) -> Result<()> {
        let bytes = fs::read(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let armored = sign_armored(&self.key, &bytes).map_err(|e| self.sign_error(e))?;
        // Written aside and renamed, so LOG.sig is either absent or whole.
        let sig_path = detached_signature_path(&self.path);
        let tmp_path = super::with_suffix(&sig_path, ".tmp");
        let mut tmp = File::create(&tmp_path).map_err(|e| Error::io(&tmp_path, e))?;
        tmp.write_all(armored.as_bytes())
            .and_then(|()| tmp.sync_all())
            .and_then(|()| fs::rename(&tmp_path, &sig_path))
            .map_err(|e| Error::io(&sig_path, e))?;
        sync_dir(log_dir(&self.path))
    }

    fn ensure_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::Sealed => Err(Error::Sealed { path: self.path.clone() }),
            State::Failed => Err(Error::Failed { path: self.path.clone() }),
        }
    }

    fn sign_error(&self, e: ssh_key::Error) -> Error {
        Error::Sign { path: self.path.clone(), reason: e.to_string() }
    }
}

fn log_dir(log: &Path) -> &Path {
    log.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

fn lock(path: &Path, file: &File) -> Result<()> {
    file.try_lock().map_err(|e| match e {
        TryLockError::WouldBlock => Error::InUse { path: path.to_owned() },
        TryLockError::Error(e) => Error::io(path, e),
    })
}

fn refuse_reserved(fields: &Map<String, Value>, also: &[&str]) -> Result<()> {
    match RESERVED_FIELDS.iter().chain(also).find(|name| fields.contains_key(**name)) {
        Some(name) => Err(Error::ReservedField(name.to_string())),
        None => Ok(()),
    }
}
