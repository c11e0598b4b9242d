//! `runsheet validate RUNBOOK...`

use std::path::PathBuf;

use super::exit;
use super::lint::runbook_findings;
use crate::model::load_runbook;

/// Checks each runbook and prints every problem; exit 2 when any has one.
pub fn validate(runbooks: &[PathBuf]) -> i32 {
    let mut code = 0;
    for path in runbooks {
        match load_runbook(path, &[]) {
            Ok(rb) => {
                // Migrations that pass the linter, or whose findings their authors allowed with a reason.
                let (findings, failed) = runbook_findings(&rb);
                eprint!("{findings}");
                if failed {
                    code = exit::INVALID;
                } else {
                    println!("ok: {} ({} steps, {} rollback steps)", path.display(), rb.steps.len(), rb.rollback.len())
                }
            }
            Err(diags) => {
                eprint!("{diags}");
                code = exit::INVALID;
            }
        }
    }
    code
}
