//! The price points within a range, in ascending order, read from the
//! bands' stretches of sorted amounts without a sort.
//!
//! In a band's stretch of ascending amounts the prices (its USD amount over
//! each BTC amount) fall, so read from its end they rise: each stretch is
//! an ascending run, and a k-way merge of at most 14 runs, through a small
//! binary heap of their heads, gives every point in order with about
//! `log2(14)` comparisons each, where sorting them takes `log2(n)`.

use core::ops::Range;

use crate::outputs::btc_of;
use crate::points::USD_AMOUNTS;

/// Runs at most: one per USD amount.
const RUNS: usize = USD_AMOUNTS.len();

/// One run: its USD amount and the amounts not yet read, read from the end.
#[derive(Clone, Copy)]
struct Run<'a> {
    usd: f64,
    left: &'a [u32],
}

impl Run<'_> {
    /// The price of the next amount (the last one left), if any.
    fn head(&self) -> Option<f64> {
        self.left.last().map(|&sats| self.usd / btc_of(sats.into()))
    }
}

/// Writes into `out` the prices strictly inside `(lo, hi)` of every run
/// (each a USD amount and a range of `amounts`, ascending), in ascending
/// order, and returns how many there are; only the first `out.len()` are
/// written when there are more.
pub(crate) fn merge_in_range(
    runs: &[(f64, Range<usize>)],
    amounts: &[u32],
    lo: f64,
    hi: f64,
    out: &mut [f64],
) -> usize {
    let mut n = 0;
    merge_each(runs, amounts, lo, hi, |price| {
        if let Some(slot) = out.get_mut(n) {
            *slot = price;
        }
        n += 1;
    });
    n
}

/// How many prices of the runs lie strictly inside `(lo, hi)`: what
/// [`merge_in_range`] would give, counted by bisection alone.
pub(crate) fn count_in_range(
    runs: &[(f64, Range<usize>)],
    amounts: &[u32],
    lo: f64,
    hi: f64,
) -> usize {
    runs.iter()
        .take(RUNS)
        .map(|(usd, run)| stretch(*usd, amounts.get(run.clone()).unwrap_or_default(), lo, hi).len())
        .sum()
}

/// The amounts of a run whose prices lie strictly inside `(lo, hi)`.
fn stretch(usd: f64, run: &[u32], lo: f64, hi: f64) -> &[u32] {
    let price = |sats: u32| usd / btc_of(sats.into());
    // Prices fall along the run: both tests hold on a prefix.
    let first = run.partition_point(|&s| price(s) >= hi);
    let end = run.partition_point(|&s| price(s) > lo);
    run.get(first..end).unwrap_or_default()
}

/// Calls `emit` with each price of the runs strictly inside `(lo, hi)`,
/// in ascending order.
pub(crate) fn merge_each(
    runs: &[(f64, Range<usize>)],
    amounts: &[u32],
    lo: f64,
    hi: f64,
    mut emit: impl FnMut(f64),
) {
    let mut heap: [(u64, usize); RUNS] = [(0, 0); RUNS];
    let mut live = [Run {
        usd: 0.0,
        left: &[],
    }; RUNS];
    let mut len = 0;
    for (i, (usd, run)) in runs.iter().take(RUNS).enumerate() {
        let run = amounts.get(run.clone()).unwrap_or_default();
        let r = Run {
            usd: *usd,
            left: stretch(*usd, run, lo, hi),
        };
        if let (Some(slot), Some(p)) = (live.get_mut(i), r.head()) {
            *slot = r;
            push(&mut heap, &mut len, (p.to_bits(), i));
        }
    }
    // Positive prices order like their bit patterns.
    while let Some(&(bits, i)) = heap.first().filter(|_| len > 0) {
        emit(f64::from_bits(bits));
        let next = live.get_mut(i).and_then(|r| {
            r.left = r.left.split_last().map_or(&[], |(_, rest)| rest);
            r.head()
        });
        match next {
            Some(p) => replace_top(&mut heap, len, (p.to_bits(), i)),
            None => pop(&mut heap, &mut len),
        }
    }
}

fn push(heap: &mut [(u64, usize)], len: &mut usize, item: (u64, usize)) {
    let mut at = *len;
    if let Some(slot) = heap.get_mut(at) {
        *slot = item;
    }
    *len += 1;
    while at > 0 {
        let parent = (at - 1) / 2;
        match (heap.get(parent), heap.get(at)) {
            (Some(&p), Some(&c)) if c.0 < p.0 => heap.swap(parent, at),
            _ => break,
        }
        at = parent;
    }
}

fn pop(heap: &mut [(u64, usize)], len: &mut usize) {
    let Some(last) = len.checked_sub(1) else {
        return;
    };
    *len = last;
    if let Some(&item) = heap.get(last) {
        replace_top(heap, last, item);
    }
}

/// Puts `item` at the top of the first `len` entries and sifts it down.
fn replace_top(heap: &mut [(u64, usize)], len: usize, item: (u64, usize)) {
    if len == 0 {
        return;
    }
    let mut at = 0;
    loop {
        let (l, r) = (2 * at + 1, 2 * at + 2);
        let mut least = (item.0, at, false);
        for c in [l, r] {
            if let Some(&(k, _)) = heap.get(c).filter(|_| c < len) {
                if k < least.0 {
                    least = (k, c, true);
                }
            }
        }
        if !least.2 {
            break;
        }
        // The lesser child moves up into the hole.
        if let Some(&child) = heap.get(least.1) {
            if let Some(s) = heap.get_mut(at) {
                *s = child;
            }
        }
        at = least.1;
    }
    if let Some(s) = heap.get_mut(at) {
        *s = item;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    #[test]
    fn it_gives_what_filtering_and_sorting_give() {
        let mut x = 3u64;
        let mut amounts: Vec<u32> = (0..5_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Repeated amounts, so equal prices meet in the merge.
                1_000 + (x >> 52) as u32
            })
            .collect();
        amounts.sort_unstable();
        let runs: Vec<(f64, Range<usize>)> = USD_AMOUNTS
            .iter()
            .enumerate()
            .map(|(i, &usd)| (usd, (i * 300)..(i * 300 + 1_200).min(amounts.len())))
            .collect();
        let all = || {
            runs.iter().flat_map(|(usd, r)| {
                amounts[r.clone()]
                    .iter()
                    .map(move |&s| usd / btc_of(s.into()))
            })
        };
        for (lo, hi) in [(0.0, f64::INFINITY), (50_000.0, 400_000.0), (1.0, 2.0)] {
            let mut want: Vec<f64> = all().filter(|&p| lo < p && p < hi).collect();
            want.sort_by(f64::total_cmp);
            let mut out = std::vec![0.0; want.len() + 1];
            let n = merge_in_range(&runs, &amounts, lo, hi, &mut out);
            assert_eq!(&out[..n], want.as_slice(), "({lo}, {hi})");
            // Too little room: the count still says how many.
            assert_eq!(merge_in_range(&runs, &amounts, lo, hi, &mut []), want.len());
            assert_eq!(count_in_range(&runs, &amounts, lo, hi), want.len());
        }
    }
}
