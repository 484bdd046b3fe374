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
//! Adding and removing is batched: changes go to a pending area at the end
//! of the storage, and are merged into the sorted part in one pass when an
//! estimate needs the ladder whole or the pending area is full. A block's
//! thousands of changes so cost one pass over the ladder, not one each.
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
    /// Slots of the sorted part, at the front; the pending area follows.
    sorted_cap: usize,
    /// Where the points region starts, after the pending area.
    points_at: usize,
    points: InRange,
    /// Amounts in the sorted part.
    held: usize,
    /// Entries in the pending area.
    pending: usize,
    /// Of those, additions.
    pending_adds: usize,
}

impl<S: AsRef<[u64]> + AsMut<[u64]>> Ladder<S> {
    /// A ladder over `storage`: half of it for the points of a range; of
    /// the rest an eighth (at least one slot) for pending changes, the
    /// others for sorted amounts. Empty storage makes a ladder that keeps
    /// nothing.
    pub(crate) fn new(storage: S) -> Self {
        let len = storage.as_ref().len();
        Self {
            sorted_cap: sorted_capacity(len),
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

    /// How many amounts the sorted part can hold.
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
        if self.sorted_cap + self.pending >= self.points_at {
            self.settle();
        }
        if let Some(slot) = self
            .storage
            .as_mut()
            .get_mut(self.sorted_cap + self.pending)
        {
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
        self.storage.as_ref().get(..self.held).unwrap_or_default()
    }

    /// Merges the pending changes and makes the points region hold the
    /// price points strictly inside `(lo, hi)` of `bands`; false when the
    /// range is not tracked (too wide, or too many points), and then
    /// [`Ladder::points`] gives none.
    pub(crate) fn track(&mut self, bands: &Bands, lo: f64, hi: f64) -> bool {
        self.settle();
        let (front, region) = self.storage.as_mut().split_at_mut(self.points_at);
        let amounts = front.get(..self.held).unwrap_or_default();
        let runs = bands.runs(amounts);
        self.points.move_to(region, amounts, &runs, lo, hi)
    }

    /// The range tracked and its points (`f64` bits, ascending), as the
    /// last merge left them.
    pub(crate) fn points(&self) -> Option<(f64, f64, &[u64])> {
        let region = self.storage.as_ref().get(self.points_at..)?;
        self.points.points(region)
    }

    /// Merges the pending changes into the sorted part: O(held + pending
    /// log pending), without any other storage.
    fn settle(&mut self) {
        if self.pending == 0 {
            return;
        }
        let (front, region) = self.storage.as_mut().split_at_mut(self.points_at);
        let (sorted, rest) = front.split_at_mut(self.sorted_cap);
        let Some(pending) = rest.get_mut(..self.pending) else {
            return;
        };
        pending.sort_unstable();
        let (net, adds) = net_changes(pending);
        let net = pending.get_mut(..net).unwrap_or_default();
        let held = remove_sorted(sorted.get_mut(..self.held).unwrap_or_default(), net);
        self.held = merge_from_back(sorted, held, net, adds);
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
        let from = self.storage.as_ref().get(..self.held).unwrap_or_default();
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

/// The sorted part of `len` slots of storage: its first half (rounded
/// up) but the pending area, an eighth of that half (at least one slot).
pub(crate) const fn sorted_capacity(len: usize) -> usize {
    let half = len - len / 2;
    if half == 0 {
        0
    } else {
        half - max(half / 8, 1)
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

/// Drops from `sorted` one amount per removal in `net` (both ascending),
/// keeping the rest in order at the front; returns how many remain. A
/// removal of an amount not held is ignored. Each removal is found by
/// galloping from the last, and the amounts between two removals move
/// together (`copy_within`): a block's few thousand removals from half a
/// million amounts cost one memmove of them, not a loop over each.
pub(crate) fn remove_sorted(sorted: &mut [u64], net: &[u64]) -> usize {
    let len = sorted.len();
    let (mut read, mut write) = (0, 0);
    for r in net.iter().filter(|&&e| e & ADD == 0).map(|&e| e >> 1) {
        let rest = sorted.get(read..).unwrap_or_default();
        let at = read + gallop(rest, |v| v < r);
        if sorted.get(at) != Some(&r) {
            continue;
        }
        sorted.copy_within(read..at, write);
        write += at - read;
        read = at + 1;
    }
    sorted.copy_within(read..len, write);
    write + (len - read)
}

/// Merges the `adds` additions of `net` (ascending) into the first `held`
/// amounts of `sorted` (ascending), from the back so nothing is overwritten
/// before it is read: each addition's place is found by galloping back,
/// and the amounts above it move up together. Returns the new count.
pub(crate) fn merge_from_back(sorted: &mut [u64], held: usize, net: &[u64], adds: usize) -> usize {
    let total = (held + adds).min(sorted.len());
    let (mut a, mut out) = (held, total);
    let additions = net
        .iter()
        .rev()
        .filter(|&&e| e & ADD == ADD)
        .map(|&e| e >> 1);
    for x in additions {
        let below = sorted.get(..a).unwrap_or_default();
        let above = trailing(below, |v| v > x);
        let Some(to) = out.checked_sub(above + 1) else {
            break;
        };
        sorted.copy_within(a - above..a, to + 1);
        if let Some(slot) = sorted.get_mut(to) {
            *slot = x;
        }
        a -= above;
        out = to;
    }
    total
}

/// The first index of `xs` where `below` no longer holds (it holds on a
/// prefix), found by doubling steps from the front, then bisecting.
fn gallop(xs: &[u64], below: impl Fn(u64) -> bool) -> usize {
    let mut bound = 1;
    while bound < xs.len() && xs.get(bound - 1).is_some_and(|&v| below(v)) {
        bound *= 2;
    }
    let start = bound / 2;
    let end = bound.min(xs.len());
    start
        + xs.get(start..end)
            .unwrap_or_default()
            .partition_point(|&v| below(v))
}

/// How many of the last values of `xs` satisfy `above` (it holds on a
/// suffix), found by doubling steps from the back, then bisecting.
fn trailing(xs: &[u64], above: impl Fn(u64) -> bool) -> usize {
    let n = xs.len();
    let mut bound = 1;
    while bound < n && xs.get(n - bound).is_some_and(|&v| above(v)) {
        bound *= 2;
    }
    let start = bound / 2;
    let end = bound.min(n);
    let window = xs.get(n - end..n - start).unwrap_or_default();
    start + window.len() - window.partition_point(|&v| !above(v))
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
    fn galloping_finds_what_a_linear_scan_finds() {
        let xs: Vec<u64> = (0..300).map(|i| i / 3).collect();
        for n in [0, 1, 2, 3, 7, 64, 300] {
            let xs = &xs[..n];
            for x in 0..=101 {
                let first = xs.iter().position(|&v| v >= x).unwrap_or(n);
                assert_eq!(gallop(xs, |v| v < x), first, "{n} {x}");
                let last = xs.iter().rev().take_while(|&&v| v > x).count();
                assert_eq!(trailing(xs, |v| v > x), last, "{n} {x}");
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
        let mut ladder = Ladder::new(vec![0u64; 16]);
        for s in [9, 1, 5, 5] {
            ladder.insert(s);
        }
        // Half the storage is the points region.
        let Err(mut same) = ladder.move_into(vec![0u64; 8]) else {
            panic!("3 sorted slots cannot hold 4 amounts");
        };
        assert_eq!(same.sorted(), &[1, 5, 5, 9]);
        let mut moved = same.move_into(vec![0u64; 16]).unwrap();
        assert_eq!(moved.sorted(), &[1, 5, 5, 9]);
        let disabled = Ladder::new([0u64; 0]);
        assert!(!disabled.is_enabled());
        assert_eq!(disabled.capacity(), 0);
    }
}
