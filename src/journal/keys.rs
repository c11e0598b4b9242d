//! Ed25519 keys in OpenSSH format, SSHSIG signatures under the `runsheet-audit` namespace, and
//! the set of keys a verifier trusts.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use rand_core::OsRng;
use ssh_encoding::{Decode, Encode, Reader};
use ssh_key::authorized_keys::ConfigOpts;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use super::{Error, Result};

/// The SSHSIG namespace of every runsheet signature (`ssh-keygen -Y verify -n runsheet-audit`).
pub const NAMESPACE: &str = "runsheet-audit";

/// Writes a new unencrypted OpenSSH Ed25519 private key at `path` (mode 0600) and its public
/// key at `path.pub`. Refuses to overwrite either.
pub fn keygen(path: &Path, comment: &str) -> Result<PublicKey> {
    Ok(generate(path, comment)?.public_key().clone())
}

/// Loads the signing key at `path`, or creates one there when there is none. The flag says it
/// was created, so the caller can tell the operator where.
pub fn load_or_create_key(path: &Path) -> Result<(PrivateKey, bool)> {
    match fs::read_to_string(path) {
        Ok(pem) => Ok((parse_private_key(path, &pem)?, false)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok((generate(path, "runsheet audit key")?, true)),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The path of the public key that goes with a private key file.
pub fn public_key_path(private_key: &Path) -> PathBuf {
    super::with_suffix(private_key, ".pub")
}

fn generate(path: &Path, comment: &str) -> Result<PrivateKey> {
    let pub_path = public_key_path(path);
    for existing in [path, &pub_path] {
        if existing.exists() {
            return Err(Error::Exists { path: existing.to_owned() });
        }
    }
    let key_error = |e: ssh_key::Error| Error::Key { path: path.to_owned(), reason: e.to_string() };
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(key_error)?;
    key.set_comment(comment);
    let private_pem = key.to_openssh(LineEnding::LF).map_err(key_error)?;
    let public_line = key.public_key().to_openssh().map_err(key_error)? + "\n";
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_new(path, private_pem.as_bytes(), 0o600)?;
    write_new(&pub_path, public_line.as_bytes(), 0o644)?;
    Ok(key)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => Error::Exists { path: path.to_owned() },
            _ => Error::io(path, e),
        })?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io(path, e))
}

fn parse_private_key(path: &Path, pem: &str) -> Result<PrivateKey> {
    let key_error = |reason: String| Error::Key { path: path.to_owned(), reason };
    let key = PrivateKey::from_openssh(pem).map_err(|e| key_error(format!("not an OpenSSH private key ({e})")))?;
    if key.is_encrypted() {
        return Err(Error::EncryptedKey { path: path.to_owned() });
    }
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(key_error(format!(
            "is an {} key; runsheet signs with Ed25519 keys (create one with `runsheet keygen`)",
            key.algorithm()
        )));
    }
    Ok(key)
}

/// "SHA256:…", as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Signs `message` and returns the SSHSIG blob as standard base64 (the `sig` field of a line).
pub(crate) fn sign_base64(key: &PrivateKey, message: &[u8]) -> std::result::Result<String, ssh_key::Error> {
    let sig = key.sign(NAMESPACE, HashAlg::Sha512, message)?;
    let mut blob = Vec::new();
    sig.encode(&mut blob)?;
    Ok(Base64::encode_string(&blob))
}

/// Signs `message` and returns the armored SSHSIG that `ssh-keygen -Y verify` reads.
pub(crate) fn sign_armored(key: &PrivateKey, message: &[u8]) -> std::result::Result<String, ssh_key::Error> {
    key.sign(NAMESPACE, HashAlg::Sha512, message)?.to_pem(LineEnding::LF)
}

pub(crate) fn sig_from_base64(text: &str) -> std::result::Result<SshSig, String> {
    let blob = Base64::decode_vec(text).map_err(|e| format!("signature is not base64 ({e})"))?;
    let mut reader = blob.as_slice();
    SshSig::decode(&mut reader)
        .and_then(|sig| Ok(reader.finish(sig)?))
        .map_err(|e| format!("signature is not an SSH signature ({e})"))
}

/// The public keys whose signatures a verifier accepts.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    pub fn from_public_key(key: &PublicKey) -> TrustedKeys {
        TrustedKeys { keys: vec![key.clone()] }
    }

    /// A file holding one OpenSSH public key (`ssh-ed25519 AAAA… comment`), such as `KEY.pub`.
    pub fn from_pubkey_file(path: &Path) -> Result<TrustedKeys> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let parse_error = |line: usize, reason: String| Error::Parse { path: path.to_owned(), line, reason };
        let mut keys = Vec::new();
        for (number, line) in meaningful_lines(&text) {
            if line.starts_with("-----BEGIN") {
                return Err(parse_error(number, "this is a private key; give the public key (the .pub file)".into()));
            }
            if !keys.is_empty() {
                return Err(parse_error(number, "more than one key; use --allowed-signers for several".into()));
            }
            let key = PublicKey::from_openssh(line)
                .map_err(|e| parse_error(number, format!("not an OpenSSH public key ({e})")))?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(Error::NoTrustedKey { path: path.to_owned() });
        }
        Ok(TrustedKeys { keys })
    }

    /// An OpenSSH allowed_signers file (`principals [options] keytype base64 [comment]`, see
    /// ssh-keygen(1)). Keys whose `namespaces` option excludes runsheet-audit, CA keys and keys
    /// outside their `valid-after`/`valid-before` window (judged now, as ssh-keygen does) are
    /// left out.
    pub fn from_allowed_signers_file(path: &Path) -> Result<TrustedKeys> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut keys = Vec::new();
        for (number, line) in meaningful_lines(&text) {
            let parse_error = |reason: String| Error::Parse { path: path.to_owned(), line: number, reason };
            let rest = skip_principals(line)
                .ok_or_else(|| parse_error("expected `principals [options] keytype base64 [comment]`".into()))?;
            let (key, options) = match PublicKey::from_openssh(rest) {
                Ok(key) => (key, ConfigOpts::default()),
                Err(_) => {
                    let (options, key) = split_options(rest);
                    let key = PublicKey::from_openssh(key).map_err(|e| {
                        parse_error(format!("expected `principals [options] keytype base64 [comment]` ({e})"))
                    })?;
                    let options = ConfigOpts::new(options).map_err(|e| parse_error(format!("bad options ({e})")))?;
                    (key, options)
                }
            };
            if signs_for_us(&options, Utc::now()).map_err(parse_error)? {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Err(Error::NoTrustedKey { path: path.to_owned() });
        }
        Ok(TrustedKeys { keys })
    }

    /// Checks a signature over `message`: its namespace, its signer, and the signature itself.
    pub(crate) fn check(&self, message: &[u8], sig: &SshSig) -> std::result::Result<(), SigError> {
        if sig.namespace() != NAMESPACE {
            return Err(SigError::Namespace(sig.namespace().to_owned()));
        }
        let signer = self.keys.iter().find(|key| key.key_data() == sig.public_key());
        let Some(signer) = signer else {
            return Err(SigError::Untrusted(fingerprint(sig.public_key())));
        };
        signer.verify(NAMESPACE, message, sig).map_err(|_| SigError::Mismatch)
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigError {
    Namespace(String),
    Untrusted(String),
    Mismatch,
}

impl std::fmt::Display for SigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigError::Namespace(namespace) => write!(f, "signed for namespace {namespace:?}, not {NAMESPACE}"),
            SigError::Untrusted(key) => write!(f, "signed by key {key}, which is not a trusted key"),
            SigError::Mismatch => f.write_str("the signature does not match the signed bytes"),
        }
    }
}

/// Non-blank, non-comment lines with their 1-based numbers.
fn meaningful_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// What follows the principals field (which may be double-quoted).
fn skip_principals(line: &str) -> Option<&str> {
    let rest = match line.strip_prefix('"') {
        Some(quoted) => &quoted[quoted.find('"')? + 1..],
        None => &line[line.find(char::is_whitespace)?..],
    };
    Some(rest.trim_start()).filter(|rest| !rest.is_empty())
}

/// Splits `options key…` at the first blank outside double quotes.
fn split_options(text: &str) -> (&str, &str) {
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&text[..at], text[at..].trim_start()),
            _ => {}
        }
    }
    (text, "")
}

/// Whether an allowed_signers line's options let its key sign runsheet's audit log at `now`.
fn signs_for_us(options: &ConfigOpts, now: DateTime<Utc>) -> std::result::Result<bool, String> {
    let mut allowed = true;
    for option in options.iter() {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let value = value.trim_matches('"');
        match name.to_ascii_lowercase().as_str() {
            // A CA key vouches for certificates; runsheet signs with plain keys, so trusting a CA
            // key as a signer would widen trust beyond what the file says.
            "cert-authority" => allowed = false,
            "namespaces" => allowed &= matches_pattern_list(NAMESPACE, value),
            "valid-after" => allowed &= now >= parse_ssh_time(value)?,
            "valid-before" => allowed &= now <= parse_ssh_time(value)?,
            _ => return Err(format!("unknown option {name:?}")),
        }
    }
    Ok(allowed)
}

/// OpenSSH pattern lists: comma-separated globs (`*`, `?`); a match of a `!pattern` denies.
fn matches_pattern_list(name: &str, list: &str) -> bool {
    let mut matched = false;
    for pattern in list.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if glob(negated.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= glob(pattern.as_bytes(), name.as_bytes()),
        }
    }
    matched
}

fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.split_first(), name.split_first()) {
        (None, _) => name.is_empty(),
        (Some((b'*', rest)), _) => glob(rest, name) || (!name.is_empty() && glob(pattern, &name[1..])),
        (Some((b'?', rest)), Some((_, name_rest))) => glob(rest, name_rest),
        (Some((p, rest)), Some((n, name_rest))) => p == n && glob(rest, name_rest),
        (Some(_), None) => false,
    }
}

/// `YYYYMMDD[HHMM[SS]]`, local time unless it ends in `Z` (ssh-keygen(1), ALLOWED SIGNERS).
fn parse_ssh_time(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(digits) => (digits, true),
        None => (text, false),
    };
    let naive = match digits.len() {
        8 => NaiveDate::parse_from_str(digits, "%Y%m%d").map(|d| d.and_hms_opt(0, 0, 0)),
        12 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M").map(Some),
        14 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").map(Some),
        _ => return Err(format!("time {text:?} is not YYYYMMDD[HHMM[SS]][Z]")),
    }
    .ok()
    .flatten()
    .ok_or_else(|| format!("time {text:?} is not a valid date"))?;
    if utc {
        return Ok(naive.and_utc());
    }
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("time {text:?} does not exist in the local time zone"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_patterns_follow_openssh() {
        assert!(matches_pattern_list(NAMESPACE, "git,runsheet-audit"));
        assert!(matches_pattern_list(NAMESPACE, "runsheet-*"));
        assert!(matches_pattern_list(NAMESPACE, "*"));
        assert!(!matches_pattern_list(NAMESPACE, "git"));
        assert!(!matches_pattern_list(NAMESPACE, "*,!runsheet-?udit"));
    }

    #[test]
    fn validity_windows_are_judged_at_the_given_time() {
        let now = "2026-06-01T00:00:00Z".parse().unwrap();
        let opts = |s: &str| ConfigOpts::new(s).unwrap();
        assert_eq!(signs_for_us(&opts("valid-after=\"20260101Z\""), now), Ok(true));
        assert_eq!(signs_for_us(&opts("valid-before=\"202605312359Z\""), now), Ok(false));
        assert_eq!(signs_for_us(&opts("cert-authority"), now), Ok(false));
        assert!(signs_for_us(&opts("valid-after=\"2026\""), now).is_err());
        assert!(signs_for_us(&opts("no-touch-required"), now).is_err());
    }

    #[test]
    fn principals_may_be_quoted() {
        assert_eq!(skip_principals("\"a b\" ssh-ed25519 AAAA"), Some("ssh-ed25519 AAAA"));
        assert_eq!(skip_principals("alice@example.com  ssh-ed25519 AAAA"), Some("ssh-ed25519 AAAA"));
        assert_eq!(skip_principals("ssh-ed25519"), None);
        assert_eq!(split_options("namespaces=\"a b\"  ssh-ed25519 AAAA"), ("namespaces=\"a b\"", "ssh-ed25519 AAAA"));
    }
}
