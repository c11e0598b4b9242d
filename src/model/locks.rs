//! How long the statements of a step may wait for locks: `lock_timeout`, `statement_timeout`
//! and `lock_retries`, given at the top of the runbook and overridden per step.

use std::time::Duration;

use super::Diagnostic;
use super::load::parse_duration;
use super::positions::join;
use super::raw::Scalar;
use super::source::Site;

/// How a step waits for the locks its statements need. A statement that has waited
/// `lock_timeout` gives up, so the application's queries, which queue behind a waiting DDL,
/// are never held up longer; the step retries it with backoff, `retries` times at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockPolicy {
    pub lock_timeout: Duration,
    /// How long one statement may run in all, waits included.
    pub statement_timeout: Duration,
    /// Retries after a lock timeout, not counting the first attempt.
    pub retries: u32,
}

impl Default for LockPolicy {
    /// 2 s is about what an application's request can wait unnoticed; an hour covers any
    /// online DDL that belongs in a maintenance window and stops a runaway one.
    fn default() -> Self {
        LockPolicy { lock_timeout: Duration::from_secs(2), statement_timeout: Duration::from_secs(3600), retries: 5 }
    }
}

/// The step kinds whose statements wait for locks the application also needs.
pub const LOCKING_KINDS: &[&str] = &["migrate", "revert", "backfill"];

/// The keys as written at one level (the runbook or a step).
pub(super) struct RawLocks {
    pub lock_timeout: Option<Scalar>,
    pub statement_timeout: Option<Scalar>,
    pub lock_retries: Option<u32>,
}

impl RawLocks {
    /// The keys given at this level.
    pub fn keys(&self) -> Vec<&'static str> {
        let given = [
            ("lock_timeout", self.lock_timeout.is_some()),
            ("statement_timeout", self.statement_timeout.is_some()),
            ("lock_retries", self.lock_retries.is_some()),
        ];
        given.into_iter().filter(|(_, given)| *given).map(|(key, _)| key).collect()
    }

    /// `defaults` with the keys given here, the map at `parent` holding them; every problem
    /// goes to `diags`.
    pub fn resolve(self, site: Site, parent: &str, defaults: LockPolicy, diags: &mut Vec<Diagnostic>) -> LockPolicy {
        let path = |key| join(parent, key);
        let lock_given = self.lock_timeout.is_some();
        let statement_given = self.statement_timeout.is_some();
        let mut duration = |key, value: Option<Scalar>, default| {
            value.and_then(|v| parse_duration(site, &path(key), v, diags)).unwrap_or(default)
        };
        let policy = LockPolicy {
            lock_timeout: duration("lock_timeout", self.lock_timeout, defaults.lock_timeout),
            statement_timeout: duration("statement_timeout", self.statement_timeout, defaults.statement_timeout),
            retries: self.lock_retries.unwrap_or(defaults.retries),
        };
        // Reported where it was written: a step that sets neither inherits the runbook's report.
        if policy.lock_timeout >= policy.statement_timeout && (lock_given || statement_given) {
            let key = if lock_given { "lock_timeout" } else { "statement_timeout" };
            let message = format!(
                "`lock_timeout` ({}) must be shorter than `statement_timeout` ({}): the statement timeout would \
                 always cut the wait first, and it is not retried",
                humantime::format_duration(policy.lock_timeout),
                humantime::format_duration(policy.statement_timeout)
            );
            diags.push(site.diag(&path(key), message));
        }
        policy
    }
}
