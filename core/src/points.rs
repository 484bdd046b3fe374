//! Price points (docs/algorithm.md step 10): every output near a round USD amount
//! at the rough price, unless it is a round BTC amount, becomes a point.

use core::ops::Range;

use crate::outputs::{btc_of, RawOutput};

/// Round USD amounts, in the order points are emitted.
pub const USD_AMOUNTS: [f64; 14] = [
    5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0,
];
/// An output counts for a USD amount within ±25% of it at the rough price.
const WIDE: f64 = 0.25;
/// An output within ±0.01% of a micro round BTC amount is left out.
const MICRO: f64 = 0.0001;

/// A price point: a USD amount divided by the BTC amount that paid it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PricePoint {
    /// USD per BTC.
    pub price: f64,
    /// Height of the output's block.
    pub height: u32,
    /// Time of the output's block (Unix seconds).
    pub time: u32,
    /// The output's amount in satoshis.
    pub sats: u64,
}

/// Number of micro round amounts the reference's loops produce.
const MICRO_COUNT: usize = micro_amounts().1;

/// The open intervals `(r - 0.0001 r, r + 0.0001 r)` around each micro round
/// amount `r`, in ascending order. Some overlap: accumulated rounding ends
/// the first loop just below 0.0001, where the second loop starts.
static MICRO_INTERVALS: [(f64, f64); MICRO_COUNT] = micro_intervals();

/// Number of disjoint intervals in the union of [`MICRO_INTERVALS`].
const MICRO_UNION_COUNT: usize = micro_union().1;

/// The union of [`MICRO_INTERVALS`] as disjoint open intervals, ascending,
/// so one binary search finds the only interval that can hold an amount.
#[allow(clippy::indexing_slicing)] // evaluated at compile time
static MICRO_UNION: [(f64, f64); MICRO_UNION_COUNT] = {
    let (all, _) = micro_union();
    let mut out = [(0.0, 0.0); MICRO_UNION_COUNT];
    let mut i = 0;
    while i < MICRO_UNION_COUNT {
        out[i] = all[i];
        i += 1;
    }
    out
};

/// Builds the micro round amounts by repeated `f64` addition, exactly as the
/// reference does: the accumulated rounding decides where each loop stops.
// Evaluated at compile time: an index out of bounds fails the build.
#[allow(clippy::indexing_slicing)]
const fn micro_amounts() -> ([f64; 512], usize) {
    const RANGES: [(f64, f64, f64); 5] = [
        (0.00005, 0.00001, 0.0001),
        (0.0001, 0.00001, 0.001),
        (0.001, 0.0001, 0.01),
        (0.01, 0.001, 0.1),
        (0.1, 0.01, 1.0),
    ];
    let mut out = [0.0; 512];
    let mut n = 0;
    let mut k = 0;
    while k < RANGES.len() {
        let (start, step, end) = RANGES[k];
        let mut r = start;
        while r < end {
            out[n] = r;
            n += 1;
            r += step;
        }
        k += 1;
    }
    (out, n)
}

// Evaluated at compile time: an index out of bounds fails the build.
#[allow(clippy::indexing_slicing)]
const fn micro_intervals() -> [(f64, f64); MICRO_COUNT] {
    let (amounts, _) = micro_amounts();
    let mut out = [(0.0, 0.0); MICRO_COUNT];
    let mut i = 0;
    while i < MICRO_COUNT {
        let r = amounts[i];
        out[i] = (r - MICRO * r, r + MICRO * r);
        i += 1;
    }
    out
}

/// Merges overlapping open intervals. Two that only touch (`hi == lo`) stay
/// apart: the shared end belongs to neither.
// Evaluated at compile time: an index out of bounds fails the build.
#[allow(clippy::indexing_slicing)]
const fn micro_union() -> ([(f64, f64); MICRO_COUNT], usize) {
    let mut out = [(0.0, 0.0); MICRO_COUNT];
    let mut n = 0;
    let mut i = 0;
    while i < MICRO_COUNT {
        let (lo, hi) = MICRO_INTERVALS[i];
        if n > 0 && lo < out[n - 1].1 {
            if hi > out[n - 1].1 {
                out[n - 1].1 = hi;
            }
        } else {
            out[n] = (lo, hi);
            n += 1;
        }
        i += 1;
    }
    (out, n)
}

/// Amounts are bucketed by their top 19 bits (sign, exponent and 7 mantissa
/// bits): 128 buckets per power of two, each under 0.8% wide. Micro round
/// amounts are at least 1% apart, so a bucket meets at most two intervals.
const BUCKET_SHIFT: u32 = 45;
/// The bucket of the lowest interval's lower end.
const FIRST_BUCKET: u64 = micro_union().0[0].0.to_bits() >> BUCKET_SHIFT;
/// Buckets from the lowest interval to the highest.
// Evaluated at compile time: a few hundred buckets.
#[allow(clippy::cast_possible_truncation)]
const BUCKETS: usize = ((micro_union().0[MICRO_UNION_COUNT - 1].1.to_bits() >> BUCKET_SHIFT)
    - FIRST_BUCKET
    + 1) as usize;

/// For each bucket, the first interval of [`MICRO_UNION`] that ends above
/// the bucket's lowest amount: the first that can hold an amount of it.
static BUCKET_FIRST: [u16; BUCKETS] = bucket_table();

// Evaluated at compile time: an index out of bounds fails the build.
#[allow(clippy::indexing_slicing)]
const fn bucket_table() -> [u16; BUCKETS] {
    let (union, n) = micro_union();
    let mut out = [0u16; BUCKETS];
    let (mut b, mut i) = (0, 0);
    while b < BUCKETS {
        let start = f64::from_bits((FIRST_BUCKET + b as u64) << BUCKET_SHIFT);
        while i < n && union[i].1 <= start {
            i += 1;
        }
        // At most MICRO_UNION_COUNT (a few hundred); a const fn cannot use `try_from`.
        #[allow(clippy::cast_possible_truncation)]
        let first = i as u16;
        out[b] = first;
        b += 1;
    }
    out
}

/// Returns true when `btc` lies strictly inside the band of a micro round amount.
pub fn is_micro_round(btc: f64) -> bool {
    let bucket = (btc.to_bits() >> BUCKET_SHIFT).checked_sub(FIRST_BUCKET);
    let Some(&first) = bucket
        .and_then(|b| usize::try_from(b).ok())
        .and_then(|b| BUCKET_FIRST.get(b))
    else {
        return false;
    };
    // Intervals are disjoint and ascending: the candidates start at `first`
    // and end at the first interval starting at or above `btc`.
    MICRO_UNION
        .get(first as usize..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&(lo, _)| lo < btc)
        .any(|&(_, hi)| btc < hi)
}

/// The BTC band `(lo, hi)` of each USD amount at a rough price.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bands([(f64, f64); USD_AMOUNTS.len()]);

impl Bands {
    pub(crate) fn new(rough: u32) -> Self {
        let mut bands = [(0.0, 0.0); USD_AMOUNTS.len()];
        for (band, usd) in bands.iter_mut().zip(USD_AMOUNTS) {
            let btc = usd / f64::from(rough);
            *band = (btc - WIDE * btc, btc + WIDE * btc);
        }
        Self(bands)
    }

    /// For each USD amount, the amount itself and the index range of the
    /// `sorted` amounts (satoshis, ascending, none micro round) inside its
    /// band: those whose outputs give it a point, as
    /// [`Bands::points_of`] finds them.
    pub(crate) fn runs(&self, sorted: &[u32]) -> [(f64, Range<usize>); USD_AMOUNTS.len()] {
        core::array::from_fn(|i| {
            let (Some(&(lo, hi)), Some(&usd)) = (self.0.get(i), USD_AMOUNTS.get(i)) else {
                return (0.0, 0..0);
            };
            // BTC amounts rise with satoshis: both tests hold on a prefix.
            let start = sorted.partition_point(|&s| btc_of(s.into()) <= lo);
            let end = sorted.partition_point(|&s| btc_of(s.into()) < hi);
            (usd, start..end.max(start))
        })
    }

    /// Calls `emit` with each price point of `output`, in USD-amount order.
    pub(crate) fn points_of(&self, output: &RawOutput, mut emit: impl FnMut(PricePoint)) {
        let btc = output.btc();
        let mut micro = None;
        for (&(lo, hi), usd) in self.0.iter().zip(USD_AMOUNTS) {
            if hi <= btc {
                continue;
            }
            // Both ends of the bands rise with the USD amount: once a band
            // starts at or above `btc`, so do all the rest.
            if btc <= lo {
                break;
            }
            if *micro.get_or_insert_with(|| is_micro_round(btc)) {
                return;
            }
            emit(PricePoint {
                price: usd / btc,
                height: output.height,
                time: output.time,
                sats: output.sats,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What makes the ladder's [`crate::ladder::KEPT`] safe: at every
    /// rough price a fit can give, every band's amounts lie inside it.
    #[test]
    fn every_band_of_every_rough_price_lies_in_what_is_kept() {
        let (least, most) = crate::rough::price_bounds();
        assert!((9_000.0..10_000.0).contains(&least), "{least}");
        assert!((500_000.0..520_000.0).contains(&most), "{most}");
        // The fit's price is cut to an integer (and its weighted mean may
        // round past a bound): the integers just outside both bounds. The
        // bands move with the price, so these two are the extremes.
        let below = (9_000u32..10_000)
            .rfind(|&r| f64::from(r) <= least)
            .unwrap()
            - 1;
        let above = (500_000u32..520_000)
            .find(|&r| f64::from(r) >= most)
            .unwrap()
            + 1;
        let (kept_lo, kept_hi) = (
            *crate::ladder::KEPT.start() as f64 / 1e8,
            *crate::ladder::KEPT.end() as f64 / 1e8,
        );
        for rough in [below, above] {
            for &(lo, hi) in &Bands::new(rough).0 {
                // Kept: `kept_lo <= btc <= kept_hi`; a band holds `lo < btc < hi`.
                assert!(kept_lo <= lo && hi <= kept_hi, "{rough}: ({lo}, {hi})");
            }
        }
    }

    #[test]
    fn micro_amounts_match_the_reference_loops() {
        // Five loops of nominally 5, 90, 90, 90 and 90 steps; accumulated
        // rounding may add one step to a loop, and the reference keeps it.
        let (amounts, n) = micro_amounts();
        assert!((365..=370).contains(&n), "{n}");
        assert_eq!(amounts[0], 0.00005);
        assert!(amounts[..n].windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn buckets_are_narrower_than_the_gaps_between_intervals() {
        // Two intervals' starts are always more than a bucket apart (0.8%),
        // except the overlap at 0.0001 that the union merged.
        let min_ratio = MICRO_UNION
            .windows(2)
            .map(|w| w[1].0 / w[0].0)
            .fold(f64::INFINITY, f64::min);
        assert!(min_ratio > 1.008, "{min_ratio}");
        assert!(BUCKET_FIRST.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn micro_union_is_ascending_and_disjoint() {
        assert!(MICRO_INTERVALS.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(MICRO_UNION.windows(2).all(|w| w[0].1 <= w[1].0));
        assert!(MICRO_UNION.iter().all(|&(lo, hi)| lo < hi));
        // The overlap at 0.0001 is real: the union is smaller than the list.
        const { assert!(MICRO_UNION_COUNT < MICRO_COUNT) };
    }

    #[test]
    fn binary_search_agrees_with_a_linear_scan() {
        let linear = |v: f64| MICRO_INTERVALS.iter().any(|&(lo, hi)| lo < v && v < hi);
        // Every sat amount up to 0.02 BTC, a coarser walk to 1 BTC, and the
        // exact ends of every interval with their neighbouring floats.
        let ends = MICRO_INTERVALS.iter().flat_map(|&(lo, hi)| {
            [lo, hi]
                .map(f64::to_bits)
                .into_iter()
                .flat_map(|b| [b - 1, b, b + 1])
                .map(f64::from_bits)
        });
        let amounts = (1..2_000_000u64)
            .chain((2_000_000..100_000_000).step_by(997))
            .map(|sats| sats as f64 / 1e8)
            .chain(ends);
        for v in amounts {
            assert_eq!(is_micro_round(v), linear(v), "{v}");
        }
        assert!(is_micro_round(0.001));
        assert!(!is_micro_round(0.00123456));
        assert!(!is_micro_round(0.0));
        assert!(!is_micro_round(5.0));
        assert!(!is_micro_round(-0.001));
    }

    #[test]
    fn band_ends_rise_with_the_usd_amount() {
        for rough in [1u32, 10_000, 42_880, 500_000, u32::MAX] {
            let Bands(b) = Bands::new(rough);
            assert!(
                b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
                "{rough}"
            );
        }
    }

    #[test]
    fn an_output_can_emit_several_points() {
        let bands = Bands::new(40_000);
        // 0.000618 BTC is $24.72 at $40k: inside the $20, $25 and $30 bands.
        let out = RawOutput {
            sats: 61_800,
            height: 7,
            time: 9,
        };
        let mut got = [0.0; 3];
        let mut n = 0;
        bands.points_of(&out, |p| {
            got[n] = p.price;
            n += 1;
        });
        assert_eq!(n, 3);
        assert_eq!(got, [20.0 / 0.000618, 25.0 / 0.000618, 30.0 / 0.000618]);
    }
}
