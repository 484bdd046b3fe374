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
/// walk that follows makes the result depend only on the edges, so a
/// one-ulp difference between `log10` implementations cannot move an amount.
pub fn bin_of(btc: f64) -> Option<usize> {
    if !(btc > 0.0 && btc.is_finite()) {
        return None;
    }
    let position = ((libm::log10(btc) + 6.0) / 12.0) * BIN_COUNT as f64;
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
