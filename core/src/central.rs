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

/// A sorted price as a list keeps it: an `f64`, or its bits (positive
/// prices order like their bit patterns).
pub(crate) trait Price: Copy {
    /// The price.
    fn value(self) -> f64;
}

impl Price for f64 {
    fn value(self) -> f64 {
        self
    }
}

impl Price for u64 {
    fn value(self) -> f64 {
        f64::from_bits(self)
    }
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

/// As [`central_of_sorted`], the same to the bit, without computing every
/// point's total distance. The running sums go into `sums` (as long as
/// `xs`) in one pass, as the reference adds them; then the distances are
/// computed outwards from the middle point, on each side until they have
/// risen past any rounding.
///
/// The exact total distance `F(i)` of the `i`th point falls from the first
/// point to the middle one, `n / 2`, and rises from there on: its step from
/// `i` to `i + 1` is `(x[i+1] - x[i]) * (2i + 2 - n)`. Each distance as
/// computed is within `E` of `F(i)`, `E` below `(2n + 4)` epsilons of the
/// largest magnitude met (the total, or the largest point times `n`): the
/// running sums err by at most `n` half-epsilons of the total, and the
/// distance's five operations add one half-epsilon of a magnitude each. So
/// once a point's distance exceeds the best found by `2E`, so does every
/// point further out on its side (`F` only grows there, by at least
/// nothing), and none of them can be the first smallest. A day's window
/// of price points has some 100,000 in its range; the scan reads tens to
/// hundreds of them.
pub(crate) fn central_of_sorted_in<P: Price>(xs: &[P], sums: &mut [f64]) -> Central {
    let n = xs.len();
    let mut prefix = 0.0;
    for (x, sum) in xs.iter().zip(sums.iter_mut()) {
        prefix += x.value();
        *sum = prefix;
    }
    let total = prefix;
    let sums = sums.get(..n).unwrap_or_default();
    let dist = |i: usize| -> Option<(f64, f64)> {
        let x = xs.get(i)?.value();
        let left_sum = i
            .checked_sub(1)
            .and_then(|j| sums.get(j))
            .copied()
            .unwrap_or(0.0);
        let right_sum = total - sums.get(i)?;
        let left = i as f64;
        let right = (n - i - 1) as f64;
        Some(((x * left - left_sum) + (right_sum - x * right), x))
    };
    let largest = xs.last().map_or(0.0, |x| x.value());
    let magnitude = total.max(largest * n as f64);
    // Twice `2E`: the bound's own rounding and the sums' higher-order
    // terms are far inside the margin.
    let slack = (8 * n + 64) as f64 * f64::EPSILON * magnitude;
    // (distance, point, index): the first smallest, by index on a tie.
    let mut best = (f64::INFINITY, 0.0, usize::MAX);
    let mut still_near = |i: usize| -> bool {
        let Some((d, x)) = dist(i) else {
            return false;
        };
        if d < best.0 || (d == best.0 && i < best.2) {
            best = (d, x, i);
        }
        d <= best.0 + slack
    };
    let middle = n / 2;
    for i in (0..=middle).rev() {
        if !still_near(i) {
            break;
        }
    }
    for i in middle + 1..n {
        if !still_near(i) {
            break;
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
/// so the middle ones are found by bisecting the two lists: O(log n), no
/// sort, no copy.
fn median_distance<P: Price>(xs: &[P], price: f64) -> f64 {
    let m = xs.len();
    let split = xs.partition_point(|x| x.value() < price);
    let (below, above) = xs.split_at(split);
    let below = |i: usize| below.len().checked_sub(i + 1).and_then(|i| below.get(i));
    let near = |i: usize| below(i).map(|x| (x.value() - price).abs());
    let far = |j: usize| above.get(j).map(|x| (x.value() - price).abs());
    let lists = (split, m - split);
    // The values of rank m/2 - 1 and m/2, ascending, from zero.
    let upper = kth_of_two(lists, &near, &far, m / 2);
    if m % 2 == 1 {
        return upper;
    }
    let lower = kth_of_two(lists, &near, &far, m / 2 - 1);
    // The reference's arithmetic, not `f64::midpoint`: values are small.
    #[allow(clippy::manual_midpoint)]
    let mean = (lower + upper) / 2.0;
    mean
}

/// The value of rank `k` (from 0) of two ascending lists of `lens` values,
/// `a(i)` and `b(j)`, taken together: the `i` first of `a` and the `j`
/// first of `b` with `i + j = k + 1` are the `k + 1` smallest when neither
/// list's last taken value exceeds the other's first left, and `i` is
/// found by bisection. `NAN` when `k` is past both lists.
fn kth_of_two(
    lens: (usize, usize),
    a: &impl Fn(usize) -> Option<f64>,
    b: &impl Fn(usize) -> Option<f64>,
    k: usize,
) -> f64 {
    let (p, q) = lens;
    let take = k + 1;
    if take > p + q {
        return f64::NAN;
    }
    let (mut lo, mut hi) = (take.saturating_sub(q), take.min(p));
    while lo < hi {
        let i = lo + (hi - lo) / 2;
        let j = take - i;
        // Too few from `a` while `b`'s last taken exceeds `a`'s next.
        match (j.checked_sub(1).and_then(b), a(i)) {
            (Some(bl), Some(an)) if bl > an => lo = i + 1,
            _ => hi = i,
        }
    }
    let j = take - lo;
    let last_a = lo.checked_sub(1).and_then(a);
    let last_b = j.checked_sub(1).and_then(b);
    match (last_a, last_b) {
        (Some(x), Some(y)) => x.max(y),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => f64::NAN,
    }
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
    fn the_bisected_median_is_the_median_of_the_sorted_distances() {
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
    fn two_passes_give_the_one_pass_central_value() {
        extern crate std;
        use std::vec::Vec;
        let mut x = 5u64;
        for n in 1..300 {
            let mut xs: Vec<f64> = (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // Prices near 42,000 with fractions, so sums round;
                    // for odd counts eight values only, so ties abound.
                    if n % 2 == 1 {
                        42_000.0 + ((x >> 61) as f64) * 0.25
                    } else {
                        42_000.0 + ((x >> 40) as f64) / 1_000.0
                    }
                })
                .collect();
            sort_prices(&mut xs);
            let mut sums = std::vec![0.0; n];
            let bits: Vec<u64> = xs.iter().map(|v| v.to_bits()).collect();
            let one = central_of_sorted(&xs);
            assert_eq!(central_of_sorted_in(&xs, &mut sums), one, "{n}");
            assert_eq!(central_of_sorted_in(&bits, &mut sums), one, "{n}");
        }
    }

    /// Points so large that their sums round by more than the distances
    /// between neighbours: the computed distances are noisy near the
    /// middle, and the first smallest of them must still be found.
    #[test]
    fn the_scan_from_the_middle_finds_the_first_smallest_despite_rounding() {
        extern crate std;
        use std::vec::Vec;
        let mut x = 11u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x
        };
        for n in (1..4_000).step_by(37) {
            for base in [1e12, 3.0e15, 42_000.0] {
                let mut xs: Vec<f64> = (0..n)
                    .map(|_| base + ((next() >> 54) as f64) * 0.75)
                    .collect();
                sort_prices(&mut xs);
                let mut sums = std::vec![0.0; n];
                assert_eq!(
                    central_of_sorted_in(&xs, &mut sums),
                    central_of_sorted(&xs),
                    "{n} points near {base}"
                );
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
