//! Capped exponential backoff with full jitter, for retrying transient database errors (lock
//! timeouts, deadlocks, lost connections): the jitter keeps two retrying sessions from
//! colliding again in lockstep, the cap keeps a long outage from stretching one wait.

use std::time::Duration;

use rand_core::{OsRng, RngCore};

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// Retries so far.
    retries: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, retries: 0 }
    }

    /// Retries done so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The ceiling of the next wait: `base × 2^retries`, at most `cap`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.retries.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Counts a retry and returns how long to wait before it: uniformly random up to the
    /// ceiling ("full jitter").
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.retries = self.retries.saturating_add(1);
        let fraction = OsRng.next_u64() as f64 / u64::MAX as f64;
        ceiling.mul_f64(fraction)
    }

    /// Starts counting afresh after a success.
    pub fn reset(&mut self) {
        self.retries = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap_and_waits_stay_under_it() {
        let mut b = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
        let mut ceilings = Vec::new();
        for _ in 0..7 {
            let ceiling = b.ceiling();
            let wait = b.next_wait();
            assert!(wait <= ceiling, "{wait:?} > {ceiling:?}");
            ceilings.push(ceiling.as_millis());
        }
        assert_eq!(ceilings, [50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.retries(), 7);
        b.reset();
        assert_eq!((b.retries(), b.ceiling()), (0, Duration::from_millis(50)));
    }

    #[test]
    fn waits_are_jittered() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10));
        let waits: std::collections::HashSet<Duration> = (0..20).map(|_| b.next_wait()).collect();
        assert!(waits.len() > 1, "20 waits were all equal: {waits:?}");
    }

    #[test]
    fn a_huge_retry_count_does_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        b.retries = u32::MAX;
        assert_eq!(b.ceiling(), Duration::from_secs(30));
        assert!(b.next_wait() <= Duration::from_secs(30));
    }
}
