//! The final price (docs/algorithm.md step 11): the most central price point,
//! the one with the smallest total distance to all others.

/// A central value and the spread around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Central {
    /// The point with the smallest total distance to the others.
    pub price: f64,
    /// The median absolute deviation from `price`.
    pub deviation: f64,
    /// How many points lay in the range.
    pub count: usize,
}

/// Why [`central`] found no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CentralError {
    /// No point lay strictly inside the range.
    Empty,
    /// More points lay in the range than `scratch` holds; this many.
    ScratchFull(usize),
}

/// Finds the central point among the `prices` strictly inside `(lo, hi)`,
/// using `scratch` to sort them.
///
/// The total distance of the `i`th smallest of `n` points is computed from
/// prefix sums in ascending order, as the reference does, and the first
/// index with the smallest distance wins.
pub(crate) fn central(
    prices: impl Iterator<Item = f64>,
    lo: f64,
    hi: f64,
    scratch: &mut [f64],
) -> Result<Central, CentralError> {
    let mut n = 0;
    for p in prices.filter(|&p| lo < p && p < hi) {
        if let Some(slot) = scratch.get_mut(n) {
            *slot = p;
        }
        n += 1;
    }
    let xs = scratch.get_mut(..n).ok_or(CentralError::ScratchFull(n))?;
    if n == 0 {
        return Err(CentralError::Empty);
    }
    sort_prices(xs);
    Ok(central_of_sorted(xs))
}

/// Sorts positive prices ascending: positive finite floats order like
/// their bit patterns, and integer comparisons sort faster.
pub(crate) fn sort_prices(xs: &mut [f64]) {
    xs.sort_unstable_by_key(|x| x.to_bits());
}

/// The central value of `xs`, sorted ascending (see [`sort_prices`]) and
/// not empty.
pub(crate) fn central_of_sorted(xs: &[f64]) -> Central {
    let n = xs.len();
    let total = xs.iter().fold(0.0, |acc, &x| acc + x);
    let mut best = (f64::INFINITY, 0.0);
    let mut prefix = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        let left_sum = prefix;
        prefix += x;
        let right_sum = total - prefix;
        let left = i as f64;
        let right = (n - i - 1) as f64;
        let dist = (x * left - left_sum) + (right_sum - x * right);
        if dist < best.0 {
            best = (dist, x);
        }
    }
    let price = best.1;
    Central {
        price,
        deviation: median_distance(xs, price),
        count: n,
    }
}

/// The median of `|x - price|` over `xs` (sorted ascending, not empty):
/// the mean of the two middle values for an even count.
///
/// The distances of the values below `price`, read downwards, and of the
/// rest, read upwards, are two ascending lists (subtraction is monotone),
/// so the middle is found by merging them to halfway: no sort, no copy.
fn median_distance(xs: &[f64], price: f64) -> f64 {
    let m = xs.len();
    let split = xs.partition_point(|&x| x < price);
    let (below, above) = xs.split_at(split);
    let mut below = below.iter().rev().map(|&x| (x - price).abs()).peekable();
    let mut above = above.iter().map(|&x| (x - price).abs()).peekable();
    let mut next = || match (below.peek(), above.peek()) {
        (Some(&b), Some(&a)) if b <= a => below.next(),
        (Some(_), None) => below.next(),
        _ => above.next(),
    };
    // The values of rank m/2 - 1 and m/2, ascending, from zero.
    let mut lower = f64::NEG_INFINITY;
    for _ in 0..m / 2 {
        lower = next().unwrap_or(lower);
    }
    let upper = next().unwrap_or(lower);
    if m % 2 == 1 {
        return upper;
    }
    // The reference's arithmetic, not `f64::midpoint`: values are small.
    #[allow(clippy::manual_midpoint)]
    let mean = (lower + upper) / 2.0;
    mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_median_and_deviation() {
        let mut scratch = [0.0; 8];
        let pts = [1.0, 2.0, 3.0, 4.0, 100.0, 0.5, 1000.0];
        let c = central(pts.into_iter(), 0.9, 200.0, &mut scratch).unwrap();
        // In range: 1 2 3 4 100; the middle is 3; deviations 2 1 0 1 97.
        assert_eq!(
            c,
            Central {
                price: 3.0,
                deviation: 1.0,
                count: 5
            }
        );
        let c = central([1.0, 2.0, 3.0, 4.0].into_iter(), 0.0, 10.0, &mut scratch).unwrap();
        // Even count: distances tie between 2 and 3, the first wins; deviations 1 0 1 2.
        assert_eq!(
            c,
            Central {
                price: 2.0,
                deviation: 1.0,
                count: 4
            }
        );
    }

    #[test]
    fn the_merged_median_is_the_median_of_the_sorted_distances() {
        extern crate std;
        use std::vec::Vec;
        let mut x = 1u64;
        for n in 1..200 {
            let mut xs: Vec<f64> = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // Few distinct values, so ties and equal distances occur.
                    100.0 + ((x >> 58) as f64) * 0.5
                })
                .collect();
            sort_prices(&mut xs);
            for price in [xs[0], xs[n / 2], xs[n - 1], 107.25] {
                let mut d: Vec<f64> = xs.iter().map(|&v| (v - price).abs()).collect();
                d.sort_by(f64::total_cmp);
                // The reference's arithmetic, as in `median_distance`.
                #[allow(clippy::manual_midpoint)]
                let want = if n % 2 == 1 {
                    d[n / 2]
                } else {
                    (d[n / 2 - 1] + d[n / 2]) / 2.0
                };
                assert_eq!(median_distance(&xs, price), want, "{n} {price}");
            }
        }
    }

    #[test]
    fn errors() {
        let mut scratch = [0.0; 2];
        assert_eq!(
            central([5.0].into_iter(), 5.0, 6.0, &mut scratch),
            Err(CentralError::Empty)
        );
        let three = [1.0, 2.0, 3.0].into_iter();
        assert_eq!(
            central(three, 0.0, 9.0, &mut scratch),
            Err(CentralError::ScratchFull(3))
        );
    }
}
