//! A compact, mergeable summary of durations for medians and percentiles.
//!
//! Exact while it holds at most [`EXACT_LIMIT`] values, so small groups (and the figures
//! in tests) are exact; past that, the values move into logarithmic buckets 1% wide
//! (the idea of DDSketch): a percentile is then within 1% of the true value, and memory is
//! bounded by the number of buckets (about 1,100 from a second to ten years), not by the
//! number of values.

use std::collections::BTreeMap;

/// How many values a digest keeps exactly before it switches to buckets.
pub const EXACT_LIMIT: usize = 256;

/// Relative width of a bucket: a reported percentile is within this share of the truth.
const RELATIVE_ACCURACY: f64 = 0.01;

/// Durations in seconds (non-negative), summarised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Digest {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// The values while there are few of them.
    exact: Vec<f64>,
    /// Values per bucket once there are many; zero has a bucket of its own (`i32::MIN`).
    buckets: BTreeMap<i32, u64>,
}

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

fn bucket_of(value: f64) -> i32 {
    if value <= 0.0 {
        return i32::MIN;
    }
    // Bounded: durations are at most a few hundred years in seconds.
    (value.ln() / gamma().ln()).ceil() as i32
}

fn value_of(bucket: i32) -> f64 {
    if bucket == i32::MIN {
        return 0.0;
    }
    let gamma = gamma();
    2.0 * gamma.powi(bucket) / (gamma + 1.0)
}

impl Digest {
    /// An empty digest.
    pub fn new() -> Digest {
        Digest::default()
    }

    /// Adds one duration, in seconds; a negative one counts as zero.
    pub fn add(&mut self, seconds: f64) {
        let value = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        if self.count == 0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        if self.buckets.is_empty() && self.exact.len() < EXACT_LIMIT {
            self.exact.push(value);
        } else {
            for kept in std::mem::take(&mut self.exact) {
                *self.buckets.entry(bucket_of(kept)).or_default() += 1;
            }
            *self.buckets.entry(bucket_of(value)).or_default() += 1;
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Digest) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.count += other.count;
        self.sum += other.sum;
        if self.buckets.is_empty()
            && other.buckets.is_empty()
            && self.exact.len() + other.exact.len() <= EXACT_LIMIT
        {
            self.exact.extend_from_slice(&other.exact);
            return;
        }
        for kept in std::mem::take(&mut self.exact)
            .into_iter()
            .chain(other.exact.iter().copied())
        {
            *self.buckets.entry(bucket_of(kept)).or_default() += 1;
        }
        for (&bucket, &n) in &other.buckets {
            *self.buckets.entry(bucket).or_default() += n;
        }
    }

    /// How many values it holds.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether every percentile is exact (few values) rather than within 1%.
    pub fn is_exact(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The mean, `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The smallest value, `None` when empty.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// The largest value, `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// The median: the mean of the two middle values for an even count while exact.
    pub fn median(&self) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        if self.is_exact() {
            let sorted = self.sorted();
            let n = sorted.len();
            return Some(if n % 2 == 1 {
                sorted[n / 2]
            } else {
                (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
            });
        }
        self.quantile(0.5)
    }

    /// The `q` quantile (0 to 1), nearest rank: the smallest value with at least `q` of
    /// the values at or below it.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.5 } else { q.clamp(0.0, 1.0) };
        let rank = ((q * self.count as f64).ceil() as u64).max(1);
        if self.is_exact() {
            let sorted = self.sorted();
            let index = usize::try_from(rank - 1).unwrap_or(usize::MAX);
            return sorted.get(index).or(sorted.last()).copied();
        }
        let mut seen = 0;
        for (&bucket, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(value_of(bucket).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.exact.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_while_small() {
        let mut digest = Digest::new();
        for value in [5.0, 1.0, 3.0, 2.0] {
            digest.add(value);
        }
        assert_eq!(digest.median(), Some(2.5));
        assert_eq!(digest.quantile(0.9), Some(5.0));
        assert_eq!(digest.quantile(0.25), Some(1.0));
        assert_eq!(digest.mean(), Some(2.75));
        assert!(digest.is_exact());
    }

    #[test]
    fn within_one_percent_when_large() {
        let mut digest = Digest::new();
        for value in 1..=100_000 {
            digest.add(f64::from(value));
        }
        assert!(!digest.is_exact());
        let median = digest.median().unwrap();
        assert!((median - 50_000.0).abs() <= 500.0, "{median}");
        let p90 = digest.quantile(0.9).unwrap();
        assert!((p90 - 90_000.0).abs() <= 900.0, "{p90}");
        assert!(digest.buckets.len() < 1_200);
    }

    #[test]
    fn merging_gives_what_adding_gives() {
        let (mut a, mut b, mut all) = (Digest::new(), Digest::new(), Digest::new());
        for value in 0..600 {
            let value = f64::from(value * 7 % 1000);
            if value < 500.0 { &mut a } else { &mut b }.add(value);
            all.add(value);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.median(), all.median());
        assert_eq!(a.quantile(0.9), all.quantile(0.9));
    }
}
