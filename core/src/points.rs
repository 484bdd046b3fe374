//! Price points (ALGORITHM.md step 10): every output near a round USD amount
//! at the rough price, unless it is a round BTC amount, becomes a point.

use crate::outputs::RawOutput;

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

/// Returns true when `btc` lies strictly inside the band of a micro round amount.
pub fn is_micro_round(btc: f64) -> bool {
    // The last interval whose lower bound is below `btc` is the only candidate.
    let after = MICRO_UNION.partition_point(|&(lo, _)| lo < btc);
    after
        .checked_sub(1)
        .and_then(|i| MICRO_UNION.get(i))
        .is_some_and(|&(_, hi)| btc < hi)
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

    /// Calls `emit` with each price point of `output`, in USD-amount order.
    pub(crate) fn points_of(&self, output: &RawOutput, mut emit: impl FnMut(PricePoint)) {
        let btc = output.btc();
        let mut micro = None;
        for (&(lo, hi), usd) in self.0.iter().zip(USD_AMOUNTS) {
            if lo < btc && btc < hi && !*micro.get_or_insert_with(|| is_micro_round(btc)) {
                emit(PricePoint {
                    price: usd / btc,
                    height: output.height,
                    time: output.time,
                    sats: output.sats,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
