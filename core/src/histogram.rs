//! The histogram of output amounts (docs/algorithm.md step 5) and its
//! normalisation (step 7).

use crate::bins::{bin_of, BIN_COUNT};

/// First bin kept by the normalisation (1,000 sats and up).
pub(crate) const FIRST_KEPT: usize = 201;
/// Last bin kept by the normalisation (below 100 BTC).
pub(crate) const LAST_KEPT: usize = 1600;
/// Bins of round BTC amounts, smoothed over in this order.
const ROUND_BTC_BINS: [usize; 18] = [
    201, 401, 461, 496, 540, 601, 661, 696, 740, 801, 861, 896, 940, 1001, 1061, 1096, 1140, 1201,
];
/// Normalised bins are capped at this share of the total.
const CAP: f64 = 0.008;

/// A histogram's bins after step 7, as fractions of their sum.
pub type Curve = [f64; BIN_COUNT];

/// Counts of output amounts per bin. Integer counts give the same `f64`
/// values as the reference's float counts (all below 2^53), and they can be
/// decremented exactly, which the rolling window needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u32; BIN_COUNT],
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// Creates an empty histogram.
    pub const fn new() -> Self {
        Self {
            counts: [0; BIN_COUNT],
            total: 0,
        }
    }

    /// Counts one amount in BTC; returns its bin, or `None` (and counts
    /// nothing) for an amount that is not positive and finite.
    pub fn add(&mut self, btc: f64) -> Option<usize> {
        let bin = bin_of(btc)?;
        let count = self.counts.get_mut(bin)?;
        *count = count.saturating_add(1);
        self.total += 1;
        Some(bin)
    }

    /// Takes back one amount counted by [`Histogram::add`]; returns its bin,
    /// or `None` if that bin was empty (nothing changes then).
    pub fn remove(&mut self, btc: f64) -> Option<usize> {
        let bin = bin_of(btc)?;
        self.remove_from(bin).then_some(bin)
    }

    /// Takes back one amount that [`Histogram::add`] counted in `bin`;
    /// returns false if that bin was empty (nothing changes then).
    pub fn remove_from(&mut self, bin: usize) -> bool {
        let Some(count) = self.counts.get_mut(bin) else {
            return false;
        };
        let Some(less) = count.checked_sub(1) else {
            return false;
        };
        *count = less;
        self.total -= 1;
        true
    }

    /// Returns the count of every bin.
    pub const fn counts(&self) -> &[u32; BIN_COUNT] {
        &self.counts
    }

    /// Returns the number of amounts counted.
    pub const fn total(&self) -> u64 {
        self.total
    }

    /// Writes the normalised curve of step 7 into `curve`: bins outside
    /// 201..=1600 zeroed, round-BTC bins replaced by the mean of their
    /// neighbours, then each kept bin divided by their sum and capped at 0.008.
    ///
    /// Returns the sum, which is zero when no amount falls in the kept bins
    /// (the curve is then all zero).
    pub fn normalise_into(&self, curve: &mut Curve) -> f64 {
        curve.fill(0.0);
        for (c, &n) in curve
            .iter_mut()
            .zip(&self.counts)
            .take(LAST_KEPT + 1)
            .skip(FIRST_KEPT)
        {
            *c = f64::from(n);
        }
        for r in ROUND_BTC_BINS {
            let (below, above) = (get(curve, r - 1), get(curve, r + 1));
            if let Some(c) = curve.get_mut(r) {
                *c = 0.5 * (above + below);
            }
        }
        let kept = curve.get_mut(FIRST_KEPT..=LAST_KEPT).unwrap_or_default();
        // Summed in index order: the order is part of the result.
        let sum = kept.iter().fold(0.0, |acc, &c| acc + c);
        if sum > 0.0 {
            for c in kept {
                *c = (*c / sum).min(CAP);
            }
        }
        sum
    }
}

fn get(curve: &Curve, i: usize) -> f64 {
    curve.get(i).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bins::edge;

    #[test]
    fn add_and_remove_are_inverse() {
        let mut h = Histogram::new();
        assert_eq!(h.add(0.001), Some(601));
        assert_eq!(h.add(0.001), Some(601));
        assert_eq!(h.total(), 2);
        assert_eq!(h.remove(0.001), Some(601));
        assert_eq!(h.remove(0.001), Some(601));
        assert_eq!(h.remove(0.001), None);
        assert_eq!(h, Histogram::new());
        assert_eq!(h.add(f64::NAN), None);
        assert_eq!(h.total(), 0);
    }

    #[test]
    fn normalisation_smooths_round_bins_and_caps() {
        let mut h = Histogram::new();
        let mid = |i: usize| f64::midpoint(edge(i).unwrap(), edge(i + 1).unwrap());
        for _ in 0..10 {
            h.add(mid(600));
        }
        for _ in 0..30 {
            h.add(mid(601)); // a round bin: replaced by its neighbours' mean
        }
        for _ in 0..10_000 {
            h.add(mid(1010));
        }
        h.add(mid(5)); // outside the kept range
        let mut curve = [0.0; BIN_COUNT];
        let sum = h.normalise_into(&mut curve);
        assert_eq!(sum, 10.0 + 5.0 + 10_000.0);
        assert_eq!(curve[5], 0.0);
        assert_eq!(curve[600], 10.0 / 10_015.0);
        assert_eq!(curve[601], 5.0 / 10_015.0);
        assert_eq!(curve[1010], CAP);
    }

    #[test]
    fn empty_histogram_normalises_to_zero() {
        let mut curve = [1.0; BIN_COUNT];
        assert_eq!(Histogram::new().normalise_into(&mut curve), 0.0);
        assert!(curve.iter().all(|&c| c == 0.0));
    }
}
