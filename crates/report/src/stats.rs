//! The statistics a report states: Wilson intervals for rates, pass^k as
//! tau2-bench defines it, and a paired bootstrap over tasks for differences.

use std::collections::BTreeMap;

use serde::Serialize;

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// The Wilson score interval (95%) of `successes` out of `n`; `None` when
/// `n` is 0.
pub fn wilson(successes: usize, n: usize) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    Some(Interval {
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// pass^k as tau2-bench computes it: over tasks, the mean of
/// C(c, k) / C(n, k), where a task was tried n times and solved c times.
/// Tasks tried fewer than k times are left out; `None` when none is left.
pub fn pass_hat_k(per_task: &BTreeMap<String, (usize, usize)>, k: usize) -> Option<f64> {
    let values: Vec<f64> = per_task
        .values()
        .filter(|(_, n)| *n >= k && k > 0)
        .map(|(c, n)| choose(*c, k) / choose(*n, k))
        .collect();
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// A small deterministic generator (SplitMix64) so that a report's
/// bootstrap intervals are the same every time it is generated.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small (tasks): the modulo bias is far below the bootstrap's noise.
        (self.next() % n as u64) as usize
    }
}

/// Resamples in a paired bootstrap.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The 95% percentile interval of the mean of `differences` (one per task:
/// on minus off) under a paired bootstrap over tasks, seeded by `seed`;
/// `None` with fewer than two tasks.
pub fn paired_bootstrap(differences: &[f64], seed: u64) -> Option<Interval> {
    let n = differences.len();
    if n < 2 {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut means: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| (0..n).map(|_| differences[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| {
        means
            [((q * (BOOTSTRAP_RESAMPLES - 1) as f64).round() as usize).min(BOOTSTRAP_RESAMPLES - 1)]
    };
    Some(Interval {
        low: at(0.025),
        high: at(0.975),
    })
}

/// A stable 64-bit hash of a text (FNV-1a), for bootstrap seeds.
pub fn seed_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 8 of 10: the textbook Wilson interval is [0.490, 0.943].
        let i = wilson(8, 10).unwrap();
        assert!((i.low - 0.4902).abs() < 1e-3, "{i:?}");
        assert!((i.high - 0.9433).abs() < 1e-3, "{i:?}");
        // 0 of 20: [0, 0.161].
        let i = wilson(0, 20).unwrap();
        assert!(i.low.abs() < 1e-12);
        assert!((i.high - 0.1611).abs() < 1e-3, "{i:?}");
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn pass_hat_k_is_taus_definition() {
        let mut per_task = BTreeMap::new();
        per_task.insert("a".to_string(), (4, 4)); // always
        per_task.insert("b".to_string(), (2, 4)); // half the time
        per_task.insert("c".to_string(), (0, 4)); // never
        assert!((pass_hat_k(&per_task, 1).unwrap() - 0.5).abs() < 1e-12);
        // k = 2: (1 + C(2,2)/C(4,2) + 0) / 3 = (1 + 1/6) / 3.
        assert!((pass_hat_k(&per_task, 2).unwrap() - (1.0 + 1.0 / 6.0) / 3.0).abs() < 1e-12);
        assert!((pass_hat_k(&per_task, 4).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!(pass_hat_k(&per_task, 5).is_none());
    }

    #[test]
    fn bootstrap_brackets_the_mean_and_is_deterministic() {
        let d = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        let a = paired_bootstrap(&d, 7).unwrap();
        let b = paired_bootstrap(&d, 7).unwrap();
        assert_eq!(a, b);
        assert!(a.low < 0.7 && 0.7 < a.high, "{a:?}");
        assert!(a.low >= 0.0 && a.high <= 1.0);
        // Identical outcomes: no spread.
        let z = paired_bootstrap(&[0.0; 8], 1).unwrap();
        assert_eq!((z.low, z.high), (0.0, 0.0));
        assert!(paired_bootstrap(&[1.0], 1).is_none());
    }
}
