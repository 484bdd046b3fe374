//! The histogram's bins (docs/algorithm.md step 5): 200 per decade of BTC, from
//! 1e-6 to 1e6, after a first bin for zero.

use crate::tables::BIN_EDGES;

/// Number of bins (and of bin edges).
pub const BIN_COUNT: usize = 2401;

/// Returns the lower edge, in BTC, of bin `index` (`None` past the last bin).
pub fn edge(index: usize) -> Option<f64> {
    BIN_EDGES.get(index).copied()
}

/// Returns the bin holding `btc`: the `i` with `edge(i) <= btc < edge(i + 1)`,
/// the last bin for amounts at or above its edge, and `None` for amounts that
/// are not positive and finite.
///
/// The first guess comes from the logarithm, as the reference's does; the
/// walk that follows makes the result depend only on the edges, so neither
/// a one-ulp difference between `log10` implementations nor the guess's
/// own error can move an amount.
pub fn bin_of(btc: f64) -> Option<usize> {
    if !(btc > 0.0 && btc.is_finite()) {
        return None;
    }
    let position = ((log10_guess(btc) + 6.0) / 12.0) * BIN_COUNT as f64;
    // `as` truncates toward zero like the reference's int(), and saturates
    // (negative positions become 0, for amounts below 1e-6 BTC).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut next = (position as usize).min(BIN_COUNT);
    // The guess never overshoots for amounts of 1e-6 BTC and up; below
    // that, step back until the edge is at or under the amount.
    while next > 1 && BIN_EDGES.get(next - 1).is_some_and(|&e| e > btc) {
        next -= 1;
    }
    while BIN_EDGES.get(next).is_some_and(|&e| e <= btc) {
        next += 1;
    }
    next.checked_sub(1)
}

/// `log10(btc)` (positive and finite) within 0.0004, a tenth of a bin: the
/// binary exponent plus a cubic fit of `log2` over the mantissa. `bin_of`
/// runs for every output a window takes in, and `libm::log10`, exact to
/// an ulp it does not need, was a few percent of a per-block series.
/// Subnormal amounts guess too low; the walk corrects them as any guess.
fn log10_guess(btc: f64) -> f64 {
    let bits = btc.to_bits();
    // Eleven bits: the conversion cannot fail.
    let biased = u16::try_from(bits >> 52 & 0x7ff).unwrap_or(0);
    // The mantissa as a number in [1, 2), less one.
    let t = f64::from_bits(bits & 0x000f_ffff_ffff_ffff | 0x3ff0_0000_0000_0000) - 1.0;
    let log2 = f64::from(biased) - 1023.0
        + t * (1.423_485_317_404_589_4
            + t * (-0.587_733_773_980_393_8 + t * 0.165_558_849_020_037_3));
    log2 * core::f64::consts::LOG10_2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_follow_the_formula_within_one_ulp() {
        // The table holds glibc's pow(); libm's may differ by one ulp.
        assert_eq!(BIN_EDGES[0], 0.0);
        let mut i = 1;
        for e in -6i32..6 {
            for b in 0..200 {
                let expected = libm::pow(10.0, f64::from(e) + f64::from(b) / 200.0);
                let ulps = BIN_EDGES[i].to_bits().abs_diff(expected.to_bits());
                assert!(ulps <= 1, "edge {i}: {} vs {expected}", BIN_EDGES[i]);
                i += 1;
            }
        }
        assert_eq!(i, BIN_COUNT);
    }

    /// The guess is a tenth of a bin from the logarithm or closer, so the
    /// walk from it is a step at most.
    #[test]
    fn the_logarithm_is_guessed_within_a_tenth_of_a_bin() {
        let mut btc = 1e-9;
        while btc < 1e7 {
            let error = (log10_guess(btc) - libm::log10(btc)).abs();
            assert!(error < 0.0004, "{btc}: off by {error}");
            btc *= 1.000_37;
        }
    }

    #[test]
    fn edges_increase() {
        assert!(BIN_EDGES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_amount_lands_between_its_edges() {
        let mut sats = 1u64;
        while sats < 2_100_000_000_000_000 {
            let btc = sats as f64 / 1e8;
            let i = bin_of(btc).unwrap();
            assert!(BIN_EDGES[i] <= btc, "{sats}");
            if i + 1 < BIN_COUNT {
                assert!(btc < BIN_EDGES[i + 1], "{sats}");
            }
            sats = sats * 21 / 20 + 1;
        }
    }

    #[test]
    fn exact_edges_open_their_own_bin() {
        for (i, &e) in BIN_EDGES.iter().enumerate().skip(1) {
            assert_eq!(bin_of(e), Some(i));
            assert_eq!(bin_of(f64::from_bits(e.to_bits() - 1)), Some(i - 1));
        }
    }

    #[test]
    fn odd_amounts() {
        assert_eq!(bin_of(0.0), None);
        assert_eq!(bin_of(-1.0), None);
        assert_eq!(bin_of(f64::NAN), None);
        assert_eq!(bin_of(f64::INFINITY), None);
        assert_eq!(bin_of(1e-300), Some(0));
        assert_eq!(bin_of(1e300), Some(BIN_COUNT - 1));
    }
}
