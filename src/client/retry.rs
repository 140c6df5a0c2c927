//! How long the client waits between attempts and between polls.

use std::time::Duration;

/// Bounded exponential backoff: the first retry after `first`, each next
/// one after twice as long, never more than `cap`, at most `retries`
/// retries in a row; polls of an accepted run back off from half a second
/// to `poll_cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The wait before the first retry.
    pub first: Duration,
    /// The longest wait between attempts.
    pub cap: Duration,
    /// The longest wait between polls of a run.
    pub poll_cap: Duration,
}

impl Default for Backoff {
    /// Five retries after 0.5, 1, 2, 4 and 8 s (15.5 s in all); polls up
    /// to every 5 s.
    fn default() -> Backoff {
        Backoff {
            retries: 5,
            first: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            poll_cap: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based), or `None`
    /// when no retry is left.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        if attempt == 0 || attempt > self.retries {
            return None;
        }
        let factor = 2u32.saturating_pow(attempt - 1);
        Some(self.first.saturating_mul(factor).min(self.cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_stop() {
        let b = Backoff {
            retries: 4,
            first: Duration::from_secs(1),
            cap: Duration::from_secs(5),
            poll_cap: Duration::from_secs(5),
        };
        let delays: Vec<_> = (1..=5).map(|a| b.delay(a)).collect();
        let s = Duration::from_secs;
        assert_eq!(
            delays,
            [Some(s(1)), Some(s(2)), Some(s(4)), Some(s(5)), None]
        );
        assert_eq!(Backoff::default().delay(40), None);
    }
}
