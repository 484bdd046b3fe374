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
//! amount never does (see [`crate::points`]), whatever the price.
//!
//! The storage's second half holds the price points of the last
//! estimate's range, kept up to date with every merge (see `in_range.rs`).

use crate::in_range::InRange;
use crate::points::Bands;

/// Each pending entry is `sats << 1 | ADD` (an addition) or `sats << 1` (a
/// removal). Counted amounts are at most 10^5 BTC (10^13 sats), far below
/// 2^63, so the shift loses nothing.
pub(crate) const ADD: u64 = 1;

/// Sorted amounts, pending changes and the points of a range in the
/// caller's storage.
#[derive(Debug)]
pub(crate) struct Ladder<S> {
    storage: S,
    /// Slots of each of the two sorted areas, at the front; the pending
    /// area follows them.
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
    /// A ladder over `storage`: half of it for the points of a range; of
    /// the rest an eighth (at least one slot) for pending changes, the
    /// others for two sorted areas. Empty storage makes a ladder that
    /// keeps nothing.
    pub(crate) fn new(storage: S) -> Self {
        let len = storage.as_ref().len();
        Self {
            sorted_cap: sorted_capacity(len),
            flipped: false,
            points_at: len - len / 2,
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

    /// Records the addition of `sats`. The caller keeps the ladder's
    /// amounts at most [`Ladder::capacity`] (the window does by its
    /// size); beyond that, or for a disabled ladder, nothing is kept.
    pub(crate) fn insert(&mut self, sats: u64) {
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
        self.push(sats << 1 | ADD);
    }

    /// Records the removal of `sats`, one amount the ladder holds.
    pub(crate) fn remove(&mut self, sats: u64) {
        if self.is_enabled() {
            self.push(sats << 1);
        }
    }

    fn push(&mut self, entry: u64) {
        let pending_at = 2 * self.sorted_cap;
        if pending_at + self.pending >= self.points_at {
            self.settle();
        }
        if let Some(slot) = self.storage.as_mut().get_mut(pending_at + self.pending) {
            *slot = entry;
            self.pending += 1;
            self.pending_adds += usize::from(entry & ADD == ADD);
        }
    }

    /// Merges the pending changes and returns the amounts in ascending order.
    #[cfg(test)]
    pub(crate) fn sorted(&mut self) -> &[u64] {
        self.settle();
        self.amounts()
    }

    /// The sorted amounts as last merged (pending changes left out).
    pub(crate) fn amounts(&self) -> &[u64] {
        let at = self.sorted_at();
        self.storage
            .as_ref()
            .get(at..at + self.held)
            .unwrap_or_default()
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
        let amounts = front.get(at..at + self.held).unwrap_or_default();
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
        let (areas, rest) = front.split_at_mut(2 * self.sorted_cap);
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
        let net = pending.get_mut(..net).unwrap_or_default();
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
        let Some(to) = moved.storage.as_mut().get_mut(..from.len()) else {
            return Err(self);
        };
        if from.len() > moved.sorted_cap {
            return Err(self);
        }
        to.copy_from_slice(from);
        moved.held = from.len();
        Ok(moved)
    }
}

/// Each sorted area of `len` slots of storage: half of its first half
/// (rounded up) but the pending area, an eighth of that half (at least
/// one slot).
pub(crate) const fn sorted_capacity(len: usize) -> usize {
    let half = len - len / 2;
    if half == 0 {
        0
    } else {
        (half - max(half / 8, 1)) / 2
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
pub(crate) fn net_changes(pending: &mut [u64]) -> (usize, usize) {
    let (mut write, mut read, mut adds_total) = (0, 0, 0);
    while let Some(&first) = pending.get(read) {
        let sats = first >> 1;
        let run = pending
            .get(read..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&e| e >> 1 == sats)
            .count();
        let adds = pending
            .get(read..read + run)
            .unwrap_or_default()
            .iter()
            .filter(|&&e| e & ADD == ADD)
            .count();
        let removes = run - adds;
        let (entry, copies) = if adds >= removes {
            adds_total += adds - removes;
            (sats << 1 | ADD, adds - removes)
        } else {
            (sats << 1, removes - adds)
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
pub(crate) fn merge_changes(from: &[u64], net: &[u64], to: &mut [u64]) -> usize {
    let (mut read, mut write) = (0, 0);
    for &entry in net {
        let value = entry >> 1;
        let rest = from.get(read..).unwrap_or_default();
        let at = read + scan(rest, value);
        write += copy(from.get(read..at).unwrap_or_default(), to, write);
        read = at;
        if entry & ADD == ADD {
            write += copy(&[value], to, write);
        } else if from.get(read) == Some(&value) {
            read += 1;
        }
    }
    write + copy(from.get(read..).unwrap_or_default(), to, write)
}

/// Copies `values` into `to` from index `at`, as many as fit; returns how many.
fn copy(values: &[u64], to: &mut [u64], at: usize) -> usize {
    let room = to.len().saturating_sub(at);
    let n = values.len().min(room);
    if let (Some(dst), Some(src)) = (to.get_mut(at..at + n), values.get(..n)) {
        dst.copy_from_slice(src);
    }
    n
}

/// The first index of `xs` (ascending) whose value is `value` or more,
/// found by a forward scan: a cache line (eight values) a step, then one
/// value a step. The changes of a block lie a hundred or so amounts apart,
/// so a scan reads memory in order, which the processor fetches ahead; a
/// binary search's probes each wait for a cache miss.
fn scan(xs: &[u64], value: u64) -> usize {
    const LINE: usize = 8;
    let mut at = 0;
    while xs.get(at + LINE - 1).is_some_and(|&v| v < value) {
        at += LINE;
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

    /// A multiset the obvious way, to check the ladder against.
    fn model(ops: &[(bool, u64)]) -> Vec<u64> {
        let mut held: Vec<u64> = Vec::new();
        for &(add, sats) in ops {
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
    fn it_holds_what_a_sorted_multiset_holds() {
        // Small storage: the pending area (2 slots) fills and settles often.
        let mut ladder = Ladder::new(vec![0u64; 40]);
        let mut ops = Vec::new();
        let mut x = 7u64;
        for i in 0..400 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let sats = (x >> 60) + 1;
            let held = model(&ops);
            // Remove something held one time in three, else add (when room).
            if i % 3 == 0 && !held.is_empty() {
                let v = held[(x >> 33) as usize % held.len()];
                ladder.remove(v);
                ops.push((false, v));
            } else if held.len() < ladder.capacity() {
                ladder.insert(sats);
                ops.push((true, sats));
            }
            if i % 7 == 0 {
                assert_eq!(ladder.sorted(), model(&ops).as_slice(), "after {i} steps");
            }
        }
        assert_eq!(ladder.sorted(), model(&ops).as_slice());
    }

    #[test]
    fn the_scan_finds_the_first_value_not_below() {
        let xs: Vec<u64> = (0..300).map(|i| i / 3).collect();
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
        ladder.insert(5);
        ladder.insert(3);
        assert_eq!(ladder.sorted(), &[3, 5]);
        ladder.insert(4);
        ladder.remove(4);
        ladder.remove(3);
        ladder.insert(3);
        ladder.insert(3);
        ladder.remove(5);
        assert_eq!(ladder.sorted(), &[3, 3]);
    }

    #[test]
    fn it_moves_into_storage_that_holds_its_amounts_only() {
        let mut ladder = Ladder::new(vec![0u64; 32]);
        for s in [9, 1, 5, 5] {
            ladder.insert(s);
        }
        // Half the storage is the points region.
        let Err(mut same) = ladder.move_into(vec![0u64; 16]) else {
            panic!("3 sorted slots cannot hold 4 amounts");
        };
        assert_eq!(same.sorted(), &[1, 5, 5, 9]);
        let mut moved = same.move_into(vec![0u64; 32]).unwrap();
        assert_eq!(moved.sorted(), &[1, 5, 5, 9]);
        let disabled = Ladder::new([0u64; 0]);
        assert!(!disabled.is_enabled());
        assert_eq!(disabled.capacity(), 0);
    }
}
