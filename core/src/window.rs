//! The rolling window of live mode: transactions by first-seen time, each
//! leaving when it expires (default 3 hours) or earlier when it is removed
//! (replaced, evicted, conflicted). A confirmation does not remove a
//! transaction: it is still a real payment.
//!
//! The filters are the consensus run's, with the same-day rule read as "an
//! input spends a transaction still in the window". So a window filled with
//! a day of blocks, all inside its span, holds exactly what a consensus run
//! over those blocks counts, and estimates the same price.
//!
//! Storage is the caller's: a ring of [`WindowEntry`] slots in arrival order
//! (expiry pops from its front) and a txid index of `u32` slots (open
//! addressing, linear probing, backward-shift deletion), so adding, removing
//! and expiring are O(1) amortised.

use core::fmt;

use crate::block::Block;
use crate::error::ParseError;
use crate::estimate::{estimate_from, Estimate, EstimateError, Refinement};
use crate::filter::{in_range, Candidate, TxFilter};
use crate::histogram::Histogram;
use crate::outputs::RawOutput;
use crate::points::PricePoint;
use crate::tx::Transaction;
use crate::txid::{home_slot, Txid};

/// The default span: three hours.
pub const DEFAULT_SPAN: u32 = 3 * 3600;

/// One transaction in the window's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowEntry {
    txid: Txid,
    time: u32,
    height: u32,
    values: [u64; 2],
    /// Bit `i` set: `values[i]` is in the histogram.
    counted: u8,
    live: bool,
}

/// Counts of what a window has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    /// Transactions offered, duplicates included.
    pub received: u64,
    /// Offered transactions the filters (or the same-day rule) left out.
    pub filtered: u64,
    /// Offered transactions already in the window.
    pub duplicates: u64,
    /// Transactions removed before expiry.
    pub removed: u64,
    /// Transactions that expired.
    pub expired: u64,
}

/// What [`Window::add`] did with a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// In the window, and its outputs in the histogram.
    Used,
    /// In the window (for the same-day rule), its outputs not counted.
    Filtered,
    /// Already in the window; nothing changed but a confirmation height.
    Duplicate,
}

/// Why a window could not be made or take a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowError {
    /// The ring is full of live transactions: expire, remove or grow.
    Full,
    /// The index needs more slots than the ring has entries (at least 8/7 of them).
    IndexTooSmall,
    /// The ring cannot hold this many entries (over `u32::MAX - 1`).
    TooLarge,
    /// The transaction or block bytes are malformed.
    Parse(ParseError),
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the window is full"),
            Self::IndexTooSmall => {
                f.write_str("the window's index needs 8/7 as many slots as its ring")
            }
            Self::TooLarge => f.write_str("the window's ring is larger than u32 can index"),
            Self::Parse(e) => write!(f, "malformed transaction: {e}"),
        }
    }
}

impl core::error::Error for WindowError {}

/// Returns index slots enough for a ring of `entries` (load at most 7/8; a
/// half-full index, twice the entries, keeps probes shortest).
pub const fn window_index_slots_for(entries: usize) -> usize {
    entries.saturating_mul(2).saturating_add(1)
}

/// A rolling window over the caller's storage.
#[derive(Debug)]
pub struct Window<E, I> {
    ring: E,
    index: I,
    /// Arrival counters: entries `head..tail` are in the ring, at `n % len`.
    head: u64,
    tail: u64,
    live: usize,
    span: u32,
    histogram: Histogram,
    stats: WindowStats,
}

impl<E, I> Window<E, I>
where
    E: AsRef<[WindowEntry]> + AsMut<[WindowEntry]>,
    I: AsRef<[u32]> + AsMut<[u32]>,
{
    /// Creates an empty window that keeps transactions `span` seconds.
    ///
    /// # Errors
    /// Returns [`WindowError::IndexTooSmall`] unless the index has at least
    /// `ring.len() * 8 / 7 + 1` slots, and [`WindowError::TooLarge`] for a
    /// ring of `u32::MAX - 1` entries or more.
    pub fn new(ring: E, mut index: I, span: u32) -> Result<Self, WindowError> {
        let n = ring.as_ref().len();
        if n >= u32::MAX as usize - 1 {
            return Err(WindowError::TooLarge);
        }
        if index.as_ref().len() < n + n / 7 + 1 {
            return Err(WindowError::IndexTooSmall);
        }
        index.as_mut().fill(0);
        Ok(Self {
            ring,
            index,
            head: 0,
            tail: 0,
            live: 0,
            span,
            histogram: Histogram::new(),
            stats: WindowStats::default(),
        })
    }

    /// Returns the number of transactions in the window.
    pub const fn len(&self) -> usize {
        self.live
    }

    /// Returns true when the window holds no transaction.
    pub const fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Returns the span in seconds.
    pub const fn span(&self) -> u32 {
        self.span
    }

    /// Returns the histogram of the counted outputs.
    pub const fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    /// Returns the counts so far.
    pub const fn stats(&self) -> WindowStats {
        self.stats
    }

    /// Returns true when `txid` is in the window.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.find(&txid.0).is_ok()
    }

    /// Returns the height `txid` was added with (0 while unconfirmed), if
    /// it is in the window.
    pub fn height_of(&self, txid: &Txid) -> Option<u32> {
        let slot = self.find(&txid.0).ok()?;
        let pos = self.index.as_ref().get(slot)?.checked_sub(1)? as usize;
        self.ring.as_ref().get(pos).map(|e| e.height)
    }

    /// Moves the window into new storage, keeping every live transaction
    /// (in arrival order), the histogram and the counts.
    ///
    /// # Errors
    /// Returns the unchanged window and [`WindowError::Full`] when the new
    /// ring cannot hold the live transactions, or the error of
    /// [`Window::new`] for an index that does not fit the new ring.
    // The window comes back by value on failure: nothing is lost, nothing allocated.
    #[allow(clippy::result_large_err)]
    pub fn grow_into<E2, I2>(
        self,
        ring: E2,
        index: I2,
    ) -> Result<Window<E2, I2>, (Self, WindowError)>
    where
        E2: AsRef<[WindowEntry]> + AsMut<[WindowEntry]>,
        I2: AsRef<[u32]> + AsMut<[u32]>,
    {
        if ring.as_ref().len() < self.live {
            return Err((self, WindowError::Full));
        }
        let mut grown = match Window::new(ring, index, self.span) {
            Ok(w) => w,
            Err(e) => return Err((self, e)),
        };
        for e in self.entries().filter(|e| e.live) {
            grown.push(*e);
        }
        grown.histogram = self.histogram.clone();
        grown.stats = self.stats;
        Ok(grown)
    }

    /// Parses and adds one transaction first seen at `time` (Unix seconds),
    /// in a block at `height` or unconfirmed (`0`).
    ///
    /// # Errors
    /// [`WindowError::Parse`] for malformed bytes, [`WindowError::Full`]
    /// when the ring has no room; the window is unchanged then.
    pub fn add_bytes(
        &mut self,
        bytes: &[u8],
        time: u32,
        height: u32,
    ) -> Result<Added, WindowError> {
        let tx = Transaction::parse(bytes).map_err(WindowError::Parse)?;
        self.add(&tx, time, height)
    }

    /// Adds one parsed transaction (see [`Window::add_bytes`]).
    ///
    /// # Errors
    /// [`WindowError::Full`] when the ring has no room; nothing changes then.
    pub fn add(
        &mut self,
        tx: &Transaction<'_>,
        time: u32,
        height: u32,
    ) -> Result<Added, WindowError> {
        self.stats.received += 1;
        let txid = tx.txid();
        if let Ok(slot) = self.find(&txid.0) {
            self.stats.duplicates += 1;
            if let Some(e) = self.entry_at_index_slot(slot) {
                if e.height == 0 {
                    e.height = height;
                }
            }
            return Ok(Added::Duplicate);
        }
        if !self.make_room(1) {
            self.stats.received -= 1;
            return Err(WindowError::Full);
        }
        let mut verdict = None;
        // Validated bytes: the walk cannot fail, and yields the facts once.
        let _ = Transaction::visit(
            tx.as_bytes(),
            &mut TxFilter::new(|_: &Transaction<'_>, c: Candidate<'_, '_>| {
                verdict = Some(c.map(|(prevouts, values)| (copy_prevouts(prevouts), values)));
            }),
        );
        let pos = self.push(WindowEntry {
            txid,
            time,
            height,
            values: [0; 2],
            counted: 0,
            live: true,
        });
        // The txid goes in first, then the same-day rule, as in a consensus run.
        let used = match verdict.flatten() {
            Some((prevouts, values))
                if !prevouts.iter().flatten().any(|p| self.find(p).is_ok()) =>
            {
                values
            }
            _ => {
                self.stats.filtered += 1;
                return Ok(Added::Filtered);
            }
        };
        let mut counted = 0;
        for (i, &sats) in used.iter().enumerate() {
            let btc = RawOutput { sats, height, time }.btc();
            if in_range(btc) && self.histogram.add(btc).is_some() {
                counted |= 1 << i;
            }
        }
        if let Some(e) = self.ring.as_mut().get_mut(pos) {
            e.values = used;
            e.counted = counted;
        }
        Ok(Added::Used)
    }

    /// Adds a block's transactions, first seen at the block's time.
    ///
    /// # Errors
    /// [`WindowError::Full`] when the ring cannot take every transaction of
    /// the block; nothing changes then.
    pub fn add_block(&mut self, block: &Block<'_>, height: u32) -> Result<(), WindowError> {
        if !self.make_room(block.tx_count()) {
            return Err(WindowError::Full);
        }
        let time = block.header().time();
        for tx in block.transactions() {
            self.add(&tx, time, height)?;
        }
        Ok(())
    }

    /// Removes `txid` before its expiry (replaced, evicted, conflicted);
    /// returns false if it was not in the window.
    pub fn remove(&mut self, txid: &Txid) -> bool {
        let Ok(slot) = self.find(&txid.0) else {
            return false;
        };
        self.take_out(slot);
        self.stats.removed += 1;
        self.drop_dead_front();
        true
    }

    /// Removes the transactions first seen `span` seconds or more before
    /// `now`, in arrival order; returns how many left.
    pub fn expire(&mut self, now: u32) -> usize {
        let mut gone = 0;
        while self.head < self.tail {
            let Some(&e) = self.ring.as_ref().get(self.ring_pos(self.head)) else {
                break;
            };
            if e.live {
                if u64::from(e.time) + u64::from(self.span) > u64::from(now) {
                    break;
                }
                if let Ok(slot) = self.find(&e.txid.0) {
                    self.take_out(slot);
                    self.stats.expired += 1;
                    gone += 1;
                }
            }
            self.head += 1;
        }
        gone
    }

    /// Returns the first-seen times of the oldest and newest transactions, in arrival order.
    pub fn bounds(&self) -> Option<(u32, u32)> {
        let mut live = self.entries().filter(|e| e.live);
        let first = live.next()?.time;
        Some((first, live.last().map_or(first, |e| e.time)))
    }

    /// Returns the counted outputs in arrival order, each with its
    /// first-seen time and height (0 while unconfirmed).
    pub fn outputs(&self) -> impl Iterator<Item = RawOutput> + '_ {
        self.entries().filter(|e| e.live).flat_map(|e| {
            let (counted, height, time) = (e.counted, e.height, e.time);
            e.values
                .into_iter()
                .enumerate()
                .filter(move |&(i, _)| counted & (1 << i) != 0)
                .map(move |(_, sats)| RawOutput { sats, height, time })
        })
    }

    /// Estimates the price of the window now (steps 7 to 11, as a
    /// consensus run does).
    ///
    /// # Errors
    /// As [`crate::estimate()`].
    pub fn estimate(
        &self,
        refinement: Refinement,
        points: &mut [PricePoint],
        scratch: &mut [f64],
    ) -> Result<Estimate, EstimateError> {
        estimate_from(&self.histogram, self.outputs(), refinement, points, scratch)
    }

    fn entries(&self) -> impl Iterator<Item = &WindowEntry> + '_ {
        (self.head..self.tail).filter_map(|n| self.ring.as_ref().get(self.ring_pos(n)))
    }

    fn ring_pos(&self, n: u64) -> usize {
        let len = self.ring.as_ref().len().max(1) as u64;
        // Below the ring's length, so it fits a usize.
        usize::try_from(n % len).unwrap_or(0)
    }

    /// Appends to the ring and indexes it; returns the ring position.
    fn push(&mut self, entry: WindowEntry) -> usize {
        let pos = self.ring_pos(self.tail);
        if let Some(e) = self.ring.as_mut().get_mut(pos) {
            *e = entry;
        }
        self.tail += 1;
        self.live += 1;
        if let Err(slot) = self.find(&entry.txid.0) {
            if let Some(s) = self.index.as_mut().get_mut(slot) {
                *s = index_value(pos);
            }
        }
        pos
    }

    /// Takes the entry behind index `slot` out: uncounts it, unindexes it.
    fn take_out(&mut self, slot: usize) {
        let Some(e) = self.entry_at_index_slot(slot).map(|e| {
            let copy = *e;
            e.live = false;
            e.counted = 0;
            copy
        }) else {
            return;
        };
        for (i, sats) in e.values.into_iter().enumerate() {
            if e.counted & (1 << i) != 0 {
                self.histogram.remove(
                    RawOutput {
                        sats,
                        height: 0,
                        time: 0,
                    }
                    .btc(),
                );
            }
        }
        self.live -= 1;
        self.unindex(slot);
    }

    /// Makes sure `n` more entries fit: drops dead entries at the front,
    /// and compacts the ring when removals left dead entries inside it.
    fn make_room(&mut self, n: usize) -> bool {
        let len = self.ring.as_ref().len() as u64;
        self.drop_dead_front();
        if self.tail - self.head + n as u64 <= len {
            return true;
        }
        if self.live + n > self.ring.as_ref().len() {
            return false;
        }
        self.compact();
        self.tail - self.head + n as u64 <= len
    }

    /// Moves the live entries together at the front, in arrival order, and
    /// repoints the index: O(ring), paid only when the ring is full of
    /// removed entries, so amortised over the removals that made them.
    fn compact(&mut self) {
        let mut write = self.head;
        for read in self.head..self.tail {
            let (from, to) = (self.ring_pos(read), self.ring_pos(write));
            let Some(entry) = self.ring.as_ref().get(from).copied().filter(|e| e.live) else {
                continue;
            };
            if from != to {
                // The index still points at `from`, which holds the entry until overwritten.
                let slot = self.find(&entry.txid.0);
                if let Some(e) = self.ring.as_mut().get_mut(to) {
                    *e = entry;
                }
                if let Some(s) = slot.ok().and_then(|s| self.index.as_mut().get_mut(s)) {
                    *s = index_value(to);
                }
                if let Some(e) = self.ring.as_mut().get_mut(from) {
                    e.live = false;
                }
            }
            write += 1;
        }
        self.tail = write;
    }

    fn drop_dead_front(&mut self) {
        while self.head < self.tail
            && !self
                .ring
                .as_ref()
                .get(self.ring_pos(self.head))
                .is_some_and(|e| e.live)
        {
            self.head += 1;
        }
    }

    fn entry_at_index_slot(&mut self, slot: usize) -> Option<&mut WindowEntry> {
        let pos = self.index.as_ref().get(slot)?.checked_sub(1)? as usize;
        self.ring.as_mut().get_mut(pos)
    }

    fn home(&self, txid: &[u8; 32]) -> usize {
        home_slot(txid, self.index.as_ref().len())
    }

    /// `Ok(slot)` holding `txid`, or `Err(slot)`: the empty slot where it would go.
    fn find(&self, txid: &[u8; 32]) -> Result<usize, usize> {
        let index = self.index.as_ref();
        let n = index.len();
        let mut slot = self.home(txid);
        for _ in 0..n {
            match index.get(slot).copied() {
                Some(0) | None => return Err(slot),
                Some(v) => {
                    let pos = v as usize - 1;
                    if self
                        .ring
                        .as_ref()
                        .get(pos)
                        .is_some_and(|e| &e.txid.0 == txid)
                    {
                        return Ok(slot);
                    }
                }
            }
            slot = (slot + 1) % n;
        }
        Err(n)
    }

    /// Deletes index `slot`, shifting later entries of its probe run back so
    /// that every lookup still finds them (no tombstones).
    fn unindex(&mut self, slot: usize) {
        let n = self.index.as_ref().len();
        let mut hole = slot;
        let mut j = slot;
        loop {
            j = (j + 1) % n;
            let v = self.index.as_ref().get(j).copied().unwrap_or(0);
            if v == 0 {
                break;
            }
            let Some(txid) = self.ring.as_ref().get(v as usize - 1).map(|e| e.txid.0) else {
                break;
            };
            let home = self.home(&txid);
            // The entry may stay if its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                if let Some(h) = self.index.as_mut().get_mut(hole) {
                    *h = v;
                }
                hole = j;
            }
        }
        if let Some(h) = self.index.as_mut().get_mut(hole) {
            *h = 0;
        }
    }
}

/// An index slot's value for ring position `pos` (0 marks an empty slot).
/// [`Window::new`] refuses rings of `u32::MAX - 1` entries or more, so
/// every position fits.
fn index_value(pos: usize) -> u32 {
    u32::try_from(pos).map_or(u32::MAX, |p| p.saturating_add(1))
}

/// The same-day rule looks up at most five previous txids; a copy frees the
/// borrow of the transaction's bytes.
fn copy_prevouts(prevouts: &[&[u8; 32]]) -> [Option<[u8; 32]>; 5] {
    let mut out = [None; 5];
    for (o, p) in out.iter_mut().zip(prevouts) {
        *o = Some(**p);
    }
    out
}
