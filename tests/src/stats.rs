//! Two-sample statistics for the timing tests: whether two sets of response
//! times could come from one distribution.

use std::time::Duration;

/// The two-sample Kolmogorov–Smirnov statistic: the largest distance between
/// the empirical distribution functions of `a` and `b` (0: the same, 1:
/// apart). Under one distribution it stays below about `1.95 * sqrt(2 / n)`
/// for `n` samples each, at the 0.1 % level.
pub fn ks_distance(a: &[Duration], b: &[Duration]) -> f64 {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j, mut d) = (0, 0, 0f64);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        let next = x.min(y);
        while a.get(i).is_some_and(|&v| v == next) {
            i += 1;
        }
        while b.get(j).is_some_and(|&v| v == next) {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// The median (the upper one of an even count); zero for no samples.
pub fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&x| Duration::from_micros(x)).collect()
    }

    #[test]
    fn distance_and_median() {
        assert_eq!(ks_distance(&us(&[1, 2, 3]), &us(&[3, 2, 1])), 0.0);
        assert_eq!(ks_distance(&us(&[1, 2]), &us(&[3, 4])), 1.0);
        assert_eq!(ks_distance(&us(&[1, 2, 3, 4]), &us(&[3, 4, 5, 6])), 0.5);
        assert_eq!(median(&us(&[5, 1, 3])), Duration::from_micros(3));
        assert_eq!(median(&[]), Duration::ZERO);
    }
}
