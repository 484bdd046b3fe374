//! The price points inside the last estimate's ±5% range, kept sorted in
//! a ladder's storage as its amounts change, so the next estimate reads
//! them as they are instead of merging them afresh from the bands.
//!
//! Between two blocks of a per-block series a day's window changes by a
//! block in and a block out: a few thousand of its half million amounts,
//! while some 140,000 points lie in the range. The ladder hands each
//! settled change here ([`InRange::apply`]): an amount whose price for one
//! round USD amount lies in the range adds or removes that price. When the
//! next estimate's range differs, [`InRange::move_to`] drops the points
//! that left it and merges in, from the bands, those of the part that is
//! new. The list so always holds exactly the points [`crate::merge`]
//! would give for the range, in the same order, so the estimate is the
//! same to the bit.
//!
//! A range narrower than the spacing of the round USD amounts (the
//! closest two are 20% apart; ±5% spans 10.5%) holds at most one price of
//! each amount, which is what makes a change of one amount a change of at
//! most one point. Wider ranges are not tracked.

use core::ops::Range;

use crate::ladder::{merge_changes, net_changes, Word};
use crate::merge::{count_in_range, merge_each};
use crate::outputs::btc_of;
use crate::points::USD_AMOUNTS;

/// Tracked ranges are narrower than this ratio of their ends: the closest
/// round USD amounts (25 and 30) are 1.2 apart.
const NARROW: f64 = 1.2;

/// What the points region of a ladder's storage holds: two halves, one
/// holding the points, the other where changes merge them into.
#[derive(Debug, Default)]
pub(crate) struct InRange {
    /// The open range the points cover; `None` when none is tracked.
    range: Option<(f64, f64)>,
    /// Points held, as `f64` bits, ascending, at the start of a half.
    len: usize,
    /// The second half holds them (else the first).
    flipped: bool,
}

impl InRange {
    /// The points of the range tracked, if one is, from the region.
    pub(crate) fn points<'r>(&self, region: &'r [u64]) -> Option<(f64, f64, &'r [u64])> {
        let (lo, hi) = self.range?;
        let half = region.len() / 2;
        let at = if self.flipped { half } else { 0 };
        Some((lo, hi, region.get(at..at + self.len)?))
    }

    /// The half of the region holding the points, and the other.
    fn halves<'r>(&self, region: &'r mut [u64]) -> (&'r mut [u64], &'r mut [u64]) {
        let half = region.len() / 2;
        let (first, rest) = region.split_at_mut(half);
        let second = rest.get_mut(..half).unwrap_or_default();
        if self.flipped {
            (second, first)
        } else {
            (first, second)
        }
    }

    /// Applies settled changes of the amounts (`net`: ascending, as the
    /// ladder's pending entries, `sats << 1 | 1` or `sats << 1`) to the
    /// points. The changes of the points are gathered at the end of the
    /// half the points merge into.
    pub(crate) fn apply(&mut self, region: &mut [u64], net: &[u32]) {
        let Some((lo, hi)) = self.range else {
            return;
        };
        let (points, other) = self.halves(region);
        // Each change of an amount becomes the change of its price in the
        // range, if it has one, written from the end of `other` down.
        let mut k = 0;
        for &entry in net.iter().rev() {
            let Some(price) = price_in_range(entry.value(), lo, hi) else {
                continue;
            };
            let bits = price.to_bits();
            let change = if entry.is_add() {
                Word::addition(bits)
            } else {
                Word::removal(bits)
            };
            k += 1;
            let Some(slot) = other.len().checked_sub(k).and_then(|i| other.get_mut(i)) else {
                // No room to be sure of: track nothing; the next estimate
                // merges from the bands and starts again.
                *self = Self::default();
                return;
            };
            *slot = change;
        }
        let (to, deltas) = other.split_at_mut(other.len() - k);
        deltas.sort_unstable();
        let (n, adds) = net_changes(deltas);
        let deltas = deltas.get(..n).unwrap_or_default();
        if self.len + adds > to.len() {
            *self = Self::default();
            return;
        }
        self.len = merge_changes(points.get(..self.len).unwrap_or_default(), deltas, to);
        self.flipped = !self.flipped;
    }

    /// Makes the region hold the points strictly inside `(lo, hi)` of the
    /// bands' `runs` over `amounts` (settled, so the points of the range
    /// tracked are up to date); false, tracking nothing, when the range is
    /// not narrow or its points do not fit the region.
    pub(crate) fn move_to(
        &mut self,
        region: &mut [u64],
        amounts: &[u32],
        runs: &[(f64, Range<usize>)],
        lo: f64,
        hi: f64,
    ) -> bool {
        if !(lo > 0.0 && hi < lo * NARROW) {
            *self = Self::default();
            return false;
        }
        let (points, _) = self.halves(region);
        let moved = match self.range {
            Some((old_lo, old_hi)) if lo < old_hi && old_lo < hi => {
                self.trim(points, lo, hi);
                // Below: (lo, old_lo]; above: [old_hi, hi).
                (lo >= old_lo || self.insert(points, amounts, runs, lo, next_up(old_lo), 0))
                    && (hi <= old_hi
                        || self.insert(points, amounts, runs, next_down(old_hi), hi, self.len))
            }
            _ => {
                self.len = 0;
                self.insert(points, amounts, runs, lo, hi, 0)
            }
        };
        if !moved {
            *self = Self::default();
            return false;
        }
        self.range = Some((lo, hi));
        true
    }

    /// Keeps the points strictly inside `(lo, hi)`, moved to the front.
    fn trim(&mut self, points: &mut [u64], lo: f64, hi: f64) {
        let list = points.get(..self.len).unwrap_or_default();
        let start = list.partition_point(|&b| f64::from_bits(b) <= lo);
        let end = list.partition_point(|&b| f64::from_bits(b) < hi).max(start);
        points.copy_within(start..end, 0);
        self.len = end - start;
    }

    /// Inserts at index `at` the points strictly inside `(lo, hi)`, which
    /// all lie between the points before `at` and those after; false when
    /// they do not fit.
    fn insert(
        &mut self,
        points: &mut [u64],
        amounts: &[u32],
        runs: &[(f64, Range<usize>)],
        lo: f64,
        hi: f64,
        at: usize,
    ) -> bool {
        let k = count_in_range(runs, amounts, lo, hi);
        if at > self.len || self.len + k > points.len() {
            return false;
        }
        points.copy_within(at..self.len, at + k);
        let mut i = at;
        merge_each(runs, amounts, lo, hi, |price| {
            if let Some(slot) = points.get_mut(i) {
                *slot = price.to_bits();
            }
            i += 1;
        });
        self.len += k;
        true
    }
}

/// The price `sats` gives inside `(lo, hi)` for a round USD amount, as
/// [`crate::merge`] computes it; in a narrow range there is at most one.
fn price_in_range(sats: u32, lo: f64, hi: f64) -> Option<f64> {
    let btc = btc_of(u64::from(sats));
    // The USD amount is near `lo * btc` or above: the amounts well below
    // are skipped without a division (a margin of 1% covers rounding), and
    // each candidate is tested exactly as the merge tests it.
    let floor = lo * btc * 0.99;
    let first = USD_AMOUNTS.partition_point(|&usd| usd < floor);
    USD_AMOUNTS
        .get(first..)
        .unwrap_or_default()
        .iter()
        .map(|usd| usd / btc)
        .take_while(|&p| p < hi)
        .find(|&p| lo < p)
}

/// The least `f64` above `x` (positive, finite): `(lo, next_up(x))` is `(lo, x]`.
fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

/// The greatest `f64` below `x` (positive): `(next_down(x), hi)` is `[x, hi)`.
fn next_down(x: f64) -> f64 {
    f64::from_bits(x.to_bits().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::Ladder;
    use crate::points::Bands;

    extern crate std;
    use std::vec;
    use std::vec::Vec;

    /// Every point of `amounts` strictly inside `(lo, hi)`, the obvious way.
    fn model(amounts: &[u64], lo: f64, hi: f64) -> Vec<u64> {
        let mut want: Vec<u64> = amounts
            .iter()
            .flat_map(|&s| USD_AMOUNTS.iter().map(move |usd| usd / btc_of(s)))
            .filter(|&p| lo < p && p < hi)
            .map(f64::to_bits)
            .collect();
        want.sort_unstable();
        want
    }

    #[test]
    fn the_tracked_points_are_the_points_of_the_range_after_any_changes() {
        // Small storage: the pending area (16 slots) fills and settles
        // between estimates too, applying changes at the range tracked.
        let mut ladder = Ladder::new(vec![0u64; 260]);
        assert!(ladder.capacity() >= 50);
        let mut held: Vec<u64> = Vec::new();
        let mut x = 11u64;
        let mut next = |m: u32| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            u32::try_from((x >> 33) % u64::from(m)).unwrap()
        };
        let mut rough = 40_000u32;
        let (mut tracked, mut moves) = (0, [0usize; 3]);
        for step in 0..3_000 {
            // Amounts near a round USD amount at a price within 10% of the
            // rough one: usd * 10^8 / (rough * (0.9 to 1.1)) satoshis.
            if next(3) > 0 && held.len() < 50 {
                let usd = [
                    5u64, 10, 15, 20, 25, 30, 40, 50, 100, 150, 200, 300, 500, 1000,
                ][next(14) as usize];
                let per_10k = u64::from(rough) * u64::from(9_000 + next(2_000));
                let sats = usd * 100_000_000 * 10_000 / per_10k;
                ladder.insert(sats);
                held.push(sats);
            } else if !held.is_empty() {
                let i = next(u32::try_from(held.len()).unwrap());
                let sats = held.swap_remove(i as usize);
                ladder.remove(sats);
            }
            if step % 5 != 0 {
                continue;
            }
            // The rough price drifts, now and then jumps.
            rough = match next(10) {
                0 => 20_000 + next(40_000),
                1..=4 => rough + next(800),
                _ => rough - next(800),
            };
            let r = f64::from(rough);
            let (lo, hi) = (r - 0.05 * r, r + 0.05 * r);
            let before = ladder.points().map(|(a, b, _)| (a, b));
            if ladder.track(&Bands::new(rough), lo, hi) {
                tracked += 1;
                moves[match before {
                    None => 0,
                    Some((a, b)) if lo < b && a < hi => 1,
                    Some(_) => 2,
                }] += 1;
            }
            let (got_lo, got_hi, points) = ladder.points().expect("a narrow range fits");
            assert_eq!((got_lo, got_hi), (lo, hi));
            assert_eq!(points, model(&held, lo, hi).as_slice(), "step {step}");
        }
        // Every case met: a first range, moves that overlap, jumps.
        assert_eq!(tracked, 600);
        assert!(moves.iter().all(|&m| m > 0), "{moves:?}");
    }

    #[test]
    fn a_point_on_the_old_ranges_end_joins_when_the_range_moves_past_it() {
        let amounts = [240_000u32, 250_000, 260_000];
        let runs = Bands::new(40_000).runs(&amounts);
        let price = |sats: u64| 100.0 / btc_of(sats);
        let p = price(250_000); // 40,000 exactly
        for (first, second) in [
            // Up: p is the first range's upper end, then inside.
            ((p * 0.96, p), (p * 0.97, p * 1.01)),
            // Down: p is the first range's lower end, then inside.
            ((p, p * 1.04), (p * 0.99, p * 1.03)),
        ] {
            let mut points = InRange::default();
            let mut region = [0u64; 16];
            assert!(points.move_to(&mut region, &amounts, &runs, first.0, first.1));
            let got = points.points(&region).map(|(_, _, xs)| xs.to_vec());
            assert_eq!(got, Some(model(&amounts.map(u64::from), first.0, first.1)));
            assert!(!got.unwrap_or_default().contains(&p.to_bits()));
            assert!(points.move_to(&mut region, &amounts, &runs, second.0, second.1));
            let got = points.points(&region).map(|(_, _, xs)| xs.to_vec());
            assert_eq!(
                got,
                Some(model(&amounts.map(u64::from), second.0, second.1))
            );
            assert!(got.unwrap_or_default().contains(&p.to_bits()));
        }
    }

    #[test]
    fn wide_ranges_are_not_tracked() {
        // As wide as two USD amounts apart: an amount may give two prices.
        let mut ladder = Ladder::new(vec![0u64; 64]);
        assert!(!ladder.track(&Bands::new(40_000), 30_000.0, 40_000.0));
        assert_eq!(ladder.points(), None);
    }
}
