//! Retrying transient errors with bounded exponential backoff.

use std::time::Duration;

use crate::SourceError;

/// How often and how patiently to retry a transient error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each later one.
    pub first_delay: Duration,
    /// Longest single wait.
    pub max_delay: Duration,
}

impl Default for Retry {
    /// Five attempts over about 7.5 seconds: long enough for a node that is
    /// busy or briefly restarting, short enough to fail fast when it is down.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl Retry {
    /// No retries: one attempt.
    pub const NONE: Self = Self {
        attempts: 1,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Runs `op` until it succeeds, fails persistently, or the attempts run out.
    ///
    /// # Errors
    /// Returns the last error: at once if persistent, after the last attempt
    /// if transient.
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T, SourceError>) -> Result<T, SourceError> {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match op() {
                Err(e) if e.is_transient() && attempt < self.attempts => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(self.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Retry = Retry {
        attempts: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };

    #[test]
    fn transient_errors_are_retried_until_success() {
        let mut calls = 0;
        let r = FAST.run(|| {
            calls += 1;
            if calls < 3 {
                Err(SourceError::transient(std::io::Error::other("busy")))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.unwrap(), 3);
    }

    #[test]
    fn attempts_are_bounded_and_persistent_errors_are_not_retried() {
        let mut calls = 0;
        let r: Result<(), _> = FAST.run(|| {
            calls += 1;
            Err(SourceError::transient(std::io::Error::other("down")))
        });
        assert!(r.is_err());
        assert_eq!(calls, 3);
        calls = 0;
        let r: Result<(), _> = FAST.run(|| {
            calls += 1;
            Err(SourceError::persistent(std::io::Error::other("no")))
        });
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
