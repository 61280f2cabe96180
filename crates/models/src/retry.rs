//! Retry policy: bounded exponential backoff with jitter.
//!
//! The jitter's randomness comes from a [`JitterSource`], a seedable seam, so
//! that runs (and tests) are reproducible.

use std::sync::Mutex;
use std::time::Duration;

/// A source of uniform numbers in `[0, 1)` for backoff jitter.
pub trait JitterSource: Send + Sync + std::fmt::Debug {
    /// The next number in `[0, 1)`.
    fn next_unit(&self) -> f64;
}

/// A seeded SplitMix64 generator: deterministic jitter for a given seed.
#[derive(Debug)]
pub struct SeededJitter {
    state: Mutex<u64>,
}

impl SeededJitter {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(seed),
        }
    }
}

impl JitterSource for SeededJitter {
    fn next_unit(&self) -> f64 {
        let mut guard = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = guard.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *guard;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How often and how long to wait between retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = no retry).
    pub max_retries: u32,
    /// The delay before the first retry, before jitter.
    pub base_delay: Duration,
    /// The largest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0-based): `base * 2^attempt`,
    /// capped at `max_delay`, scaled by a jitter factor in `[0.5, 1)`. A
    /// server's `Retry-After` hint, when given, is a floor (still capped).
    pub fn delay(&self, attempt: u32, unit: f64, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        let jittered = capped.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        match retry_after {
            Some(hint) => jittered.max(hint.min(self.max_delay)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let policy = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(policy.delay(0, 1.0, None), Duration::from_millis(100));
        assert_eq!(policy.delay(2, 1.0, None), Duration::from_millis(400));
        assert_eq!(policy.delay(9, 1.0, None), Duration::from_secs(1));
        assert_eq!(policy.delay(0, 0.0, None), Duration::from_millis(50));
        assert_eq!(
            policy.delay(0, 0.0, Some(Duration::from_secs(30))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_in_range() {
        let a = SeededJitter::new(7);
        let b = SeededJitter::new(7);
        for _ in 0..100 {
            let x = a.next_unit();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x.to_bits(), b.next_unit().to_bits());
        }
    }
}
