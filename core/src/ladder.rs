//! The amounts of a window's counted outputs in ascending order: a "ladder".
//!
//! An estimate needs the price points near the rough price: outputs whose
//! amount lies in a band around a round USD amount at that price. In a
//! ladder those outputs sit together, so [`crate::Window::estimate_sorted`]
//! finds each band by binary search and reads only the outputs in it,
//! where [`crate::Window::estimate`] passes over every output of the window.
//! A per-block series of a day's window (some 500,000 outputs) prices each
//! block in a fraction of the time that way.
//!
//! Adding and removing is batched: changes go to a pending area, and are
//! merged into the sorted amounts in one pass when an estimate needs the
//! ladder whole or the pending area is full. A block's thousands of
//! changes so cost one pass over the ladder, not one each. The pass copies
//! the amounts between two changes at once into a second sorted area, and
//! the two swap roles: half a million amounts are copied once a block, not
//! moved twice in place (once to close the gaps of the removals, once to
//! open those of the additions).
//!
//! Only outputs that can give a price point are kept: a micro round BTC
//! amount never does (see [`crate::points`]), whatever the price, nor does
//! an amount outside [`KEPT`], which no band reaches at any rough price.
//! Those left fit 32 bits, so the amounts and pending changes take half
//! the caller's `u64` storage they would as `u64`s: a block's merge, a
//! pass over the whole ladder, moves half the bytes.
//!
//! The storage's last two thirds hold the price points of the last
//! estimate's range, kept up to date with every merge (see `in_range.rs`).

use core::ops::RangeInclusive;

use crate::in_range::InRange;
use crate::points::Bands;

/// The amounts (satoshis) a ladder keeps: every band of every rough price
/// lies inside (test `every_band_of_every_rough_price_lies_in_what_is_kept`
/// in `points.rs`), and `sats << 1 | 1` fits a `u32`.
pub(crate) const KEPT: RangeInclusive<u64> = 600..=16_000_000;

/// A word that holds sorted values, or changes of them: `v << 1 | 1` an
/// addition of `v`, `v << 1` a removal. The ladder's amounts are `u32`
/// (see [`KEPT`]), the points' prices `u64` (positive `f64` bits, below
/// 2^63, so the shift loses nothing).
pub(crate) trait Word: Copy + Ord {
    /// The value a change is of.
    fn value(self) -> Self;
    /// True for an addition.
    fn is_add(self) -> bool;
    /// The addition of `value`.
    fn addition(value: Self) -> Self;
    /// The removal of `value`.
    fn removal(value: Self) -> Self;
}

macro_rules! word {
    ($t:ty) => {
        impl Word for $t {
            fn value(self) -> Self {
                self >> 1
            }
            fn is_add(self) -> bool {
                self & 1 == 1
            }
            fn addition(value: Self) -> Self {
                value << 1 | 1
            }
            fn removal(value: Self) -> Self {
                value << 1
            }
        }
    };
}
word!(u32);
word!(u64);

/// Sorted amounts, pending changes and the points of a range in the
/// caller's storage.
#[derive(Debug)]
pub(crate) struct Ladder<S> {
    storage: S,
    /// `u32` slots of each of the two sorted areas, at the front (the
    /// first `points_at` `u64` slots, viewed as twice as many `u32`); the
    /// pending area follows them.
    sorted_cap: usize,
    /// The second sorted area holds the amounts (else the first).
    flipped: bool,
    /// Where the points region starts, after the pending area.
    points_at: usize,
    points: InRange,
    /// Amounts in the sorted area.
    held: usize,
    /// Entries in the pending area.
    pending: usize,
    /// Of those, additions.
    pending_adds: usize,
}

impl<S: AsRef<[u64]> + AsMut<[u64]>> Ladder<S> {
    /// A ladder over `storage`: its first third, as `u32` slots, an eighth
    /// of them (at least one) for pending changes and the others for two
    /// sorted areas; the rest for the points of a range (two halves, as
    /// many `u64` as the sorted areas have `u32`, and a little more). Empty
    /// storage makes a ladder that keeps nothing.
    pub(crate) fn new(storage: S) -> Self {
        let len = storage.as_ref().len();
        Self {
            sorted_cap: sorted_capacity(len),
            flipped: false,
            points_at: points_at(len),
            points: InRange::default(),
            storage,
            held: 0,
            pending: 0,
            pending_adds: 0,
        }
    }

    /// True when the ladder keeps amounts (its storage is not empty).
    pub(crate) fn is_enabled(&self) -> bool {
        !self.storage.as_ref().is_empty()
    }

    /// The storage's slots, pending area included.
    pub(crate) fn slots(&self) -> usize {
        self.storage.as_ref().len()
    }

    /// How many amounts the sorted area can hold.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.sorted_cap
    }

    /// Records the addition of `sats`, unless it is outside [`KEPT`]. The
    /// caller keeps the ladder's amounts at most [`Ladder::capacity`] (the
    /// window does by its size); beyond that, or for a disabled ladder,
    /// nothing is kept.
    pub(crate) fn insert(&mut self, sats: u64) {
        let Some(sats) = kept(sats) else {
            return;
        };
        if !self.is_enabled() {
            return;
        }
        if self.held + self.pending_adds >= self.sorted_cap {
            // Pending removals may make room once merged.
            self.settle();
            if self.held >= self.sorted_cap {
                return;
            }
        }
        self.push(Word::addition(sats));
    }

    /// Records the removal of `sats`, one amount the ladder holds (or one
    /// outside [`KEPT`], which it ignores as [`Ladder::insert`] did).
    pub(crate) fn remove(&mut self, sats: u64) {
        if let Some(sats) = kept(sats).filter(|_| self.is_enabled()) {
            self.push(Word::removal(sats));
        }
    }

    fn push(&mut self, entry: u32) {
        let pending_at = 2 * self.sorted_cap;
        if pending_at + self.pending >= 2 * self.points_at {
            self.settle();
        }
        let at = pending_at + self.pending;
        if let Some(slot) = self.words_mut().get_mut(at) {
            *slot = entry;
            self.pending += 1;
            self.pending_adds += usize::from(entry.is_add());
        }
    }

    /// The storage before the points region, as `u32` slots.
    fn words(&self) -> &[u32] {
        let front = self.storage.as_ref().get(..self.points_at);
        bytemuck::cast_slice(front.unwrap_or_default())
    }

    fn words_mut(&mut self) -> &mut [u32] {
        let at = self.points_at;
        let front = self.storage.as_mut().get_mut(..at);
        bytemuck::cast_slice_mut(front.unwrap_or_default())
    }

    /// Merges the pending changes and returns the amounts in ascending order.
    #[cfg(test)]
    pub(crate) fn sorted(&mut self) -> &[u32] {
        self.settle();
        self.amounts()
    }

    /// The sorted amounts as last merged (pending changes left out).
    pub(crate) fn amounts(&self) -> &[u32] {
        let at = self.sorted_at();
        self.words().get(at..at + self.held).unwrap_or_default()
    }

    /// Where the sorted area holding the amounts starts.
    fn sorted_at(&self) -> usize {
        if self.flipped {
            self.sorted_cap
        } else {
            0
        }
    }

    /// Merges the pending changes and makes the points region hold the
    /// price points strictly inside `(lo, hi)` of `bands`; false when the
    /// range is not tracked (too wide, or too many points), and then
    /// [`Ladder::points`] gives none.
    pub(crate) fn track(&mut self, bands: &Bands, lo: f64, hi: f64) -> bool {
        self.settle();
        let at = self.sorted_at();
        let (front, region) = self.storage.as_mut().split_at_mut(self.points_at);
        let words: &[u32] = bytemuck::cast_slice(front);
        let amounts = words.get(at..at + self.held).unwrap_or_default();
        let runs = bands.runs(amounts);
        self.points.move_to(region, amounts, &runs, lo, hi)
    }

    /// The range tracked and its points (`f64` bits, ascending), as the
    /// last merge left them.
    pub(crate) fn points(&self) -> Option<(f64, f64, &[u64])> {
        let region = self.storage.as_ref().get(self.points_at..)?;
        self.points.points(region)
    }

    /// Merges the pending changes into the other sorted area, which then
    /// holds the amounts: O(held + pending log pending).
    fn settle(&mut self) {
        if self.pending == 0 {
            return;
        }
        let (front, region) = self.storage.as_mut().split_at_mut(self.points_at);
        let words: &mut [u32] = bytemuck::cast_slice_mut(front);
        let (areas, rest) = words.split_at_mut(2 * self.sorted_cap);
        let (first, second) = areas.split_at_mut(self.sorted_cap);
        let (from, to) = if self.flipped {
            (second, first)
        } else {
            (first, second)
        };
        let Some(pending) = rest.get_mut(..self.pending) else {
            return;
        };
        pending.sort_unstable();
        let (net, _) = net_changes(pending);
        let net = pending.get(..net).unwrap_or_default();
        self.held = merge_changes(from.get(..self.held).unwrap_or_default(), net, to);
        self.flipped = !self.flipped;
        self.points.apply(region, net);
        self.pending = 0;
        self.pending_adds = 0;
    }

    /// Moves the amounts into `storage`; `None` (and the ladder back) when
    /// the new sorted part cannot hold them.
    pub(crate) fn move_into<S2: AsRef<[u64]> + AsMut<[u64]>>(
        mut self,
        storage: S2,
    ) -> Result<Ladder<S2>, Self> {
        self.settle();
        let mut moved = Ladder::new(storage);
        if !moved.is_enabled() {
            return Ok(moved);
        }
        let from = self.amounts();
        if from.len() > moved.sorted_cap {
            return Err(self);
        }
        let Some(to) = moved.words_mut().get_mut(..from.len()) else {
            return Err(self);
        };
        to.copy_from_slice(from);
        moved.held = from.len();
        Ok(moved)
    }
}

/// Where the points region starts in `len` slots of storage: after the
/// first third.
const fn points_at(len: usize) -> usize {
    len / 3
}

/// The `u32` slots of each sorted area in `len` `u64` slots of storage:
/// of the first third, twice as many `u32` slots, less the pending area
/// (an eighth of them, at least one), halved.
pub(crate) const fn sorted_capacity(len: usize) -> usize {
    let words = 2 * points_at(len);
    if words == 0 {
        0
    } else {
        (words - max(words / 8, 1)) / 2
    }
}

/// `sats` as the ladder keeps it, if it does (see [`KEPT`]).
fn kept(sats: u64) -> Option<u32> {
    if KEPT.contains(&sats) {
        u32::try_from(sats).ok()
    } else {
        None
    }
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Replaces sorted pending entries by their net effect per amount, in
/// place and still sorted: `n` additions and `m` removals of one amount
/// leave `n - m` additions or `m - n` removals. Returns how many entries
/// remain, and how many of them are additions.
pub(crate) fn net_changes<W: Word>(pending: &mut [W]) -> (usize, usize) {
    let (mut write, mut read, mut adds_total) = (0, 0, 0);
    while let Some(&first) = pending.get(read) {
        let value = first.value();
        let run = pending
            .get(read..)
            .unwrap_or_default()
            .iter()
            .take_while(|e| e.value() == value)
            .count();
        let adds = pending
            .get(read..read + run)
            .unwrap_or_default()
            .iter()
            .filter(|e| e.is_add())
            .count();
        let removes = run - adds;
        let (entry, copies) = if adds >= removes {
            adds_total += adds - removes;
            (W::addition(value), adds - removes)
        } else {
            (W::removal(value), removes - adds)
        };
        // `write` never passes `read`: a run leaves at most its own length.
        for slot in pending.iter_mut().skip(write).take(copies) {
            *slot = entry;
        }
        write += copies;
        read += run;
    }
    (write, adds_total)
}

/// Writes into `to` the amounts of `from` (ascending) with the changes
/// of `net` (ascending, as [`net_changes`] leaves them) made: the amounts
/// between two changes are found by a forward scan from the last change
/// and copied together. Returns how many were written. A removal of an amount
/// `from` does not hold is ignored; additions past `to`'s end are lost
/// (the ladder makes room before it records them).
pub(crate) fn merge_changes<W: Word>(from: &[W], net: &[W], to: &mut [W]) -> usize {
    let (mut read, mut write) = (0, 0);
    for &entry in net {
        let value = entry.value();
        let rest = from.get(read..).unwrap_or_default();
        let at = read + scan(rest, value);
        write += copy(from.get(read..at).unwrap_or_default(), to, write);
        read = at;
        if entry.is_add() {
            write += copy(&[value], to, write);
        } else if from.get(read) == Some(&value) {
            read += 1;
        }
    }
    write + copy(from.get(read..).unwrap_or_default(), to, write)
}

/// Copies `values` into `to` from index `at`, as many as fit; returns how many.
fn copy<W: Copy>(values: &[W], to: &mut [W], at: usize) -> usize {
    let room = to.len().saturating_sub(at);
    let n = values.len().min(room);
    if let (Some(dst), Some(src)) = (to.get_mut(at..at + n), values.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}

/// The first index of `xs` (ascending) whose value is `value` or more,
/// found by a forward scan: eight values a step, then one value a step.
/// The changes of a block lie a hundred or so amounts apart, so a scan
/// reads memory in order, which the processor fetches ahead; a binary
/// search's probes each wait for a cache miss.
fn scan<W: Word>(xs: &[W], value: W) -> usize {
    const STEP: usize = 8;
    let mut at = 0;
    while xs.get(at + STEP - 1).is_some_and(|&v| v < value) {
        at += STEP;
    }
    while xs.get(at).is_some_and(|&v| v < value) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec;
    use std::vec::Vec;

    /// An amount the ladder keeps, `k` satoshis above the least.
    fn sats(k: u64) -> u64 {
        KEPT.start() + k
    }

    /// A multiset the obvious way, to check the ladder against.
    fn model(ops: &[(bool, u64)]) -> Vec<u32> {
        let mut held: Vec<u32> = Vec::new();
        for &(add, sats) in ops {
            let sats = u32::try_from(sats).unwrap();
            if add {
                held.push(sats);
            } else if let Some(i) = held.iter().position(|&h| h == sats) {
                held.swap_remove(i);
            }
        }
        held.sort_unstable();
        held
    }

    #[test]
    fn amounts_outside_what_is_kept_are_ignored_both_ways() {
        let mut ladder = Ladder::new(vec![0u64; 64]);
        for s in [0, KEPT.start() - 1, KEPT.end() + 1, u64::MAX, sats(7)] {
            ladder.insert(s);
        }
        ladder.remove(KEPT.end() + 1);
        ladder.insert(*KEPT.end());
        assert_eq!(
            ladder.sorted(),
            model(&[(true, sats(7)), (true, *KEPT.end())])
        );
    }

    #[test]
    fn it_holds_what_a_sorted_multiset_holds() {
        // Small storage: the pending area (3 slots) fills and settles often.
        let mut ladder = Ladder::new(vec![0u64; 40]);
        let mut ops = Vec::new();
        let mut x = 7u64;
        for i in 0..400 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let s = sats((x >> 60) + 1);
            let held = model(&ops);
            // Remove something held one time in three, else add (when room).
            if i % 3 == 0 && !held.is_empty() {
                let v = u64::from(held[(x >> 33) as usize % held.len()]);
                ladder.remove(v);
                ops.push((false, v));
            } else if held.len() < ladder.capacity() {
                ladder.insert(s);
                ops.push((true, s));
            }
            if i % 7 == 0 {
                assert_eq!(ladder.sorted(), model(&ops).as_slice(), "after {i} steps");
            }
        }
        assert_eq!(ladder.sorted(), model(&ops).as_slice());
    }

    #[test]
    fn the_scan_finds_the_first_value_not_below() {
        let xs: Vec<u32> = (0..300).map(|i| i / 3).collect();
        for n in [0, 1, 2, 3, 7, 8, 9, 64, 300] {
            let xs = &xs[..n];
            for x in 0..=101 {
                let first = xs.iter().position(|&v| v >= x).unwrap_or(n);
                assert_eq!(scan(xs, x), first, "{n} {x}");
            }
        }
    }

    #[test]
    fn an_addition_and_removal_of_one_amount_cancel_while_pending() {
        let mut ladder = Ladder::new(vec![0u64; 64]);
        let (three, four, five) = (sats(3), sats(4), sats(5));
        ladder.insert(five);
        ladder.insert(three);
        assert_eq!(ladder.sorted(), model(&[(true, three), (true, five)]));
        ladder.insert(four);
        ladder.remove(four);
        ladder.remove(three);
        ladder.insert(three);
        ladder.insert(three);
        ladder.remove(five);
        assert_eq!(ladder.sorted(), model(&[(true, three), (true, three)]));
    }

    #[test]
    fn it_moves_into_storage_that_holds_its_amounts_only() {
        let mut ladder = Ladder::new(vec![0u64; 32]);
        let ops = [9, 1, 5, 5].map(|k| (true, sats(k)));
        for (_, s) in ops {
            ladder.insert(s);
        }
        // The first third of 12 `u64` slots, 8 `u32`: one pending, three
        // in each sorted area; of 15, 10: one pending, four in each.
        let Err(mut same) = ladder.move_into(vec![0u64; 12]) else {
            panic!("3 sorted slots cannot hold 4 amounts");
        };
        assert_eq!(same.sorted(), model(&ops));
        let mut moved = same.move_into(vec![0u64; 15]).unwrap();
        assert_eq!(moved.sorted(), model(&ops));
        let disabled = Ladder::new([0u64; 0]);
        assert!(!disabled.is_enabled());
        assert_eq!(disabled.capacity(), 0);
    }
}
