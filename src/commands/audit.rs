//! `runsheet audit verify` and `runsheet keygen`.

use std::path::{Path, PathBuf};

use super::{Fail, config_path, exit};
use crate::journal::{self, TrustedKeys};

/// Exit 0 for a sealed valid log, 1 naming the first bad line, 5 for a valid unsealed log.
pub fn audit_verify(log: &Path, pubkey: Option<&Path>, allowed_signers: Option<&Path>) -> i32 {
    let keys = match (pubkey, allowed_signers) {
        (Some(file), _) => TrustedKeys::from_pubkey_file(file),
        (None, Some(file)) => TrustedKeys::from_allowed_signers_file(file),
        (None, None) => return Fail::new(exit::INVALID, "give --pubkey FILE or --allowed-signers FILE").report(),
    };
    let keys = match keys {
        Ok(keys) => keys,
        Err(e) => return Fail::new(exit::INVALID, e.to_string()).report(),
    };
    let verdict = journal::verify(log, &keys);
    println!("{}: {verdict}", log.display());
    verdict.exit_code()
}

/// The signing key path: `--key`, else `$RUNSHEET_KEY`, else `~/.config/runsheet/id_ed25519`.
pub(super) fn key_path(given: Option<PathBuf>) -> PathBuf {
    given.or_else(|| std::env::var_os("RUNSHEET_KEY").map(PathBuf::from)).unwrap_or_else(|| config_path("id_ed25519"))
}

pub fn keygen(out: Option<PathBuf>) -> i32 {
    let path = key_path(out);
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return Fail::new(exit::INVALID, format!("cannot create {}: {e}", dir.display())).report();
    }
    let comment = format!("runsheet@{}", whoami());
    match journal::keygen(&path, &comment) {
        Ok(public) => {
            println!("private key: {}", path.display());
            println!("public key:  {}", journal::public_key_path(&path).display());
            println!("fingerprint: {}", journal::fingerprint(public.key_data()));
            0
        }
        Err(e) => Fail::new(exit::INVALID, e.to_string()).report(),
    }
}

pub(super) fn whoami() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
}
