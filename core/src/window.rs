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
//! and expiring are O(1) amortised. A slot holds its entry's ring position
//! in its low bits and, in the bits the ring's size leaves free (13 for a
//! day's 432,000 entries), how far the slot is from the txid's home slot
//! (4 bits) and a fingerprint of the txid (the rest). On a large window a
//! ring entry read is a cache miss, and these spare most of them: a probe
//! passes a slot of another fingerprint without reading its entry (most
//! look-ups, a new txid or an input spending an output from before the
//! window, find nothing), and a deletion's backward shift knows from the
//! distance which later slots may move back. Optionally a third storage keeps the
//! counted amounts sorted (a ladder, see `ladder.rs`), for an estimate that
//! reads only the outputs near the price: [`Window::estimate_sorted`].

use core::fmt;

use crate::block::Block;
use crate::error::ParseError;
use crate::estimate::{estimate_from, estimate_sorted, Estimate, EstimateError, Refinement};
use crate::filter::{in_range, Candidate, TxFilter};
use crate::histogram::Histogram;
use crate::ladder::{sorted_capacity, Ladder};
use crate::outputs::{btc_of, RawOutput};
use crate::points::{is_micro_round, PricePoint};
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
    /// The histogram bin of each counted value: its removal needs no
    /// logarithm. (The entry stays 64 bytes.)
    bins: [u16; 2],
    /// Bit `i` set: `values[i]` is in the histogram; bit `2 + i`: it is
    /// in the sorted amounts too (not micro round).
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
    /// In the window (for the same-day rule), its outputs not counted: a
    /// filter of step 6 left it out, whatever else the window holds.
    Filtered,
    /// In the window (for the same-day rule), its outputs not counted: it
    /// passed the filters but spends a transaction the window holds (the
    /// same-day rule), so it would count once that one has left.
    SpendsWindow,
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
    /// The amounts' storage is smaller than [`window_amount_slots_for`] the ring.
    AmountsTooSmall,
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
            Self::AmountsTooSmall => {
                f.write_str("the window's amount storage is smaller than its ring needs")
            }
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

/// Returns amount slots enough for a ring of `entries`: a third for two
/// counted outputs each, as `u32`, in each of two sorted areas (changes
/// are merged from one into the other) and an eighth more for changes
/// waiting to be merged; two thirds for the price points of the last
/// estimate's range (see [`Window::estimate_sorted`]), as many `u64` in
/// each of two halves: 56 bytes an entry.
pub const fn window_amount_slots_for(entries: usize) -> usize {
    entries
        .saturating_mul(2)
        .saturating_add(entries / 3)
        .saturating_add(8)
        .saturating_mul(3)
}

/// A rolling window over the caller's storage: a ring of entries `E`, a
/// txid index `I`, and optionally (see [`Window::with_amounts`]) sorted
/// amounts `A`.
#[derive(Debug)]
pub struct Window<E, I, A = [u64; 0]> {
    ring: E,
    index: I,
    /// Index slots keep the ring position plus one in their low `pos_bits`
    /// bits, then the distance from the home slot in `dist_bits` bits,
    /// then the txid's fingerprint.
    pos_bits: u32,
    dist_bits: u32,
    ladder: Ladder<A>,
    /// Outputs in the histogram.
    counted: usize,
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
    pub fn new(ring: E, index: I, span: u32) -> Result<Self, WindowError> {
        Window::with_amounts(ring, index, [], span)
    }
}

impl<E, I, A> Window<E, I, A>
where
    E: AsRef<[WindowEntry]> + AsMut<[WindowEntry]>,
    I: AsRef<[u32]> + AsMut<[u32]>,
    A: AsRef<[u64]> + AsMut<[u64]>,
{
    /// Creates an empty window that also keeps its counted amounts sorted
    /// in `amounts`, for [`Window::estimate_sorted`]. Empty `amounts`
    /// keep nothing (as [`Window::new`]).
    ///
    /// # Errors
    /// As [`Window::new`], and [`WindowError::AmountsTooSmall`] unless
    /// `amounts` is empty or has [`window_amount_slots_for`] the ring.
    pub fn with_amounts(ring: E, mut index: I, amounts: A, span: u32) -> Result<Self, WindowError> {
        let ladder = Ladder::new(amounts);
        check_sizes(ring.as_ref().len(), index.as_ref().len(), &ladder)?;
        index.as_mut().fill(0);
        Ok(Self {
            pos_bits: position_bits(ring.as_ref().len()),
            dist_bits: distance_bits(ring.as_ref().len()),
            ring,
            index,
            ladder,
            counted: 0,
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

    /// Reads the index slot where a look-up of each of `txids` starts, so
    /// that the adds, removes and look-ups that follow find it in cache.
    ///
    /// A look-up of a large window's index is a cache miss, and a
    /// transaction's add makes several (its txid, each input's parent) one
    /// after another. Read here in one tight loop, the slots of a batch of
    /// transactions load together instead: the processor overlaps
    /// independent loads. Nothing changes; it only saves time.
    pub fn prefetch<'t>(&self, txids: impl IntoIterator<Item = &'t [u8; 32]>) {
        let index = self.index.as_ref();
        let mut touched = 0u32;
        for txid in txids {
            touched ^= index.get(self.home(txid)).copied().unwrap_or(0);
        }
        // The loads must happen: their result is used.
        core::hint::black_box(touched);
    }

    /// Returns true when `txid` is in the window.
    pub fn contains(&self, txid: &Txid) -> bool {
        self.find(&txid.0).is_ok()
    }

    /// Returns the height `txid` was added with (0 while unconfirmed), if
    /// it is in the window.
    pub fn height_of(&self, txid: &Txid) -> Option<u32> {
        let slot = self.find(&txid.0).ok()?;
        let pos = self.pos_of(*self.index.as_ref().get(slot)?)?;
        self.ring.as_ref().get(pos).map(|e| e.height)
    }

    /// Moves the window into new storage, keeping every live transaction
    /// (in arrival order), the histogram, the sorted amounts and the counts.
    ///
    /// # Errors
    /// Returns the unchanged window and [`WindowError::Full`] when the new
    /// ring cannot hold the live transactions, the error of [`Window::new`]
    /// for an index that does not fit the new ring, or
    /// [`WindowError::AmountsTooSmall`] when the amounts' storage is too
    /// small for the new ring (grow it first: [`Window::grow_amounts_into`]).
    // The window comes back by value on failure: nothing is lost, nothing allocated.
    #[allow(clippy::result_large_err)]
    pub fn grow_into<E2, I2>(
        self,
        ring: E2,
        mut index: I2,
    ) -> Result<Window<E2, I2, A>, (Self, WindowError)>
    where
        E2: AsRef<[WindowEntry]> + AsMut<[WindowEntry]>,
        I2: AsRef<[u32]> + AsMut<[u32]>,
    {
        if ring.as_ref().len() < self.live {
            return Err((self, WindowError::Full));
        }
        if let Err(e) = check_sizes(ring.as_ref().len(), index.as_ref().len(), &self.ladder) {
            return Err((self, e));
        }
        index.as_mut().fill(0);
        let Self {
            ring: old,
            ladder,
            counted,
            head,
            tail,
            span,
            histogram,
            stats,
            ..
        } = self;
        let mut grown = Window {
            pos_bits: position_bits(ring.as_ref().len()),
            dist_bits: distance_bits(ring.as_ref().len()),
            ring,
            index,
            ladder,
            counted,
            head: 0,
            tail: 0,
            live: 0,
            span,
            histogram,
            stats,
        };
        let old = old.as_ref();
        for n in head..tail {
            if let Some(e) = old.get(ring_pos(n, old.len())).filter(|e| e.live) {
                grown.push(*e);
            }
        }
        Ok(grown)
    }

    /// Moves the sorted amounts into new storage with room for two amounts
    /// per ring entry ([`window_amount_slots_for`] the ring is enough), or
    /// into empty storage, to stop keeping them.
    ///
    /// # Errors
    /// Returns the unchanged window and [`WindowError::AmountsTooSmall`]
    /// when `amounts` is neither.
    #[allow(clippy::result_large_err)]
    pub fn grow_amounts_into<A2>(self, amounts: A2) -> Result<Window<E, I, A2>, (Self, WindowError)>
    where
        A2: AsRef<[u64]> + AsMut<[u64]>,
    {
        if let Err(e) = check_amounts(self.ring.as_ref().len(), amounts.as_ref().len()) {
            return Err((self, e));
        }
        let (bare, ladder) = self.swap_ladder(Ladder::new([]));
        match ladder.move_into(amounts) {
            Ok(moved) => Ok(bare.swap_ladder(moved).0),
            Err(same) => Err((bare.swap_ladder(same).0, WindowError::AmountsTooSmall)),
        }
    }

    /// The same window with `ladder` for its amounts, and the ladder it had.
    fn swap_ladder<A2>(self, ladder: Ladder<A2>) -> (Window<E, I, A2>, Ladder<A>) {
        let Self {
            ring,
            index,
            pos_bits,
            dist_bits,
            ladder: old,
            counted,
            head,
            tail,
            live,
            span,
            histogram,
            stats,
        } = self;
        let window = Window {
            ring,
            index,
            pos_bits,
            dist_bits,
            ladder,
            counted,
            head,
            tail,
            live,
            span,
            histogram,
            stats,
        };
        (window, old)
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
        self.add_hashed(tx, tx.txid(), time, height)
    }

    /// Adds one parsed transaction whose txid the caller has computed
    /// already (hashing is a good part of adding). `txid` must be `tx`'s:
    /// the window indexes the transaction under it.
    ///
    /// # Errors
    /// As [`Window::add`].
    pub fn add_hashed(
        &mut self,
        tx: &Transaction<'_>,
        txid: Txid,
        time: u32,
        height: u32,
    ) -> Result<Added, WindowError> {
        self.stats.received += 1;
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
            bins: [0; 2],
            counted: 0,
            live: true,
        });
        // The txid goes in first, then the same-day rule, as in a consensus run.
        let used = match verdict.flatten() {
            None => {
                self.stats.filtered += 1;
                return Ok(Added::Filtered);
            }
            Some((prevouts, _)) if prevouts.iter().flatten().any(|p| self.find(p).is_ok()) => {
                self.stats.filtered += 1;
                return Ok(Added::SpendsWindow);
            }
            Some((_, values)) => values,
        };
        let (mut counted, mut bins) = (0, [0; 2]);
        for ((i, &sats), bin_slot) in used.iter().enumerate().zip(&mut bins) {
            let btc = btc_of(sats);
            let Some(bin) = in_range(btc).then(|| self.histogram.add(btc)).flatten() else {
                continue;
            };
            counted |= 1 << i;
            // Bins are fewer than 2^16 (BIN_COUNT).
            *bin_slot = u16::try_from(bin).unwrap_or(u16::MAX);
            self.counted += 1;
            // A micro round amount never gives a price point.
            if !is_micro_round(btc) {
                counted |= 1 << (2 + i);
                self.ladder.insert(sats);
            }
        }
        if let Some(e) = self.ring.as_mut().get_mut(pos) {
            e.values = used;
            e.bins = bins;
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

    /// Estimates the price of the window now, exactly as
    /// [`Window::estimate`] does, from the sorted amounts: only the outputs
    /// near the price are read, and those of the last estimate's range are
    /// kept between estimates, so it costs a small part of a pass over the
    /// window. The price points are not listed ([`Estimate::points`] still
    /// counts them); `scratch` is working storage with room for one value
    /// per point within ±5% of the price ([`EstimateError::ScratchFull`]
    /// says how many when it has not).
    ///
    /// # Errors
    /// As [`crate::estimate()`], and [`EstimateError::Unsorted`] for a
    /// window made without amount storage.
    pub fn estimate_sorted(
        &mut self,
        refinement: Refinement,
        scratch: &mut [f64],
    ) -> Result<Estimate, EstimateError> {
        if !self.ladder.is_enabled() {
            return Err(EstimateError::Unsorted);
        }
        estimate_sorted(
            &self.histogram,
            &mut self.ladder,
            self.counted,
            refinement,
            scratch,
        )
    }

    fn entries(&self) -> impl Iterator<Item = &WindowEntry> + '_ {
        (self.head..self.tail).filter_map(|n| self.ring.as_ref().get(self.ring_pos(n)))
    }

    fn ring_pos(&self, n: u64) -> usize {
        ring_pos(n, self.ring.as_ref().len())
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
            let value = self.index_value(pos, slot, &entry.txid.0);
            if let Some(s) = self.index.as_mut().get_mut(slot) {
                *s = value;
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
        for (i, (sats, bin)) in e.values.into_iter().zip(e.bins).enumerate() {
            if e.counted & (1 << i) != 0 {
                self.histogram.remove_from(usize::from(bin));
                self.counted -= 1;
                if e.counted & (1 << (2 + i)) != 0 {
                    self.ladder.remove(sats);
                }
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
                let pos_mask = self.pos_mask();
                if let Some(s) = slot.ok().and_then(|s| self.index.as_mut().get_mut(s)) {
                    // The same slot, so the same distance and fingerprint.
                    *s = (*s & !pos_mask) | (u32::try_from(to).unwrap_or(u32::MAX) + 1);
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
        let pos = self.pos_of(*self.index.as_ref().get(slot)?)?;
        self.ring.as_mut().get_mut(pos)
    }

    /// The bits of an index slot's value that hold the ring position plus one.
    fn pos_mask(&self) -> u32 {
        u32::MAX.checked_shr(32 - self.pos_bits).unwrap_or(0)
    }

    /// The largest distance an index slot's value holds; it also stands
    /// for every larger one (then the ring entry tells).
    fn dist_max(&self) -> u32 {
        u32::MAX.checked_shr(32 - self.dist_bits).unwrap_or(0)
    }

    /// The ring position an index slot's value points at (`None` for an
    /// empty slot).
    fn pos_of(&self, value: u32) -> Option<usize> {
        Some((value & self.pos_mask()).checked_sub(1)? as usize)
    }

    /// The fingerprint bits of `txid` (its bytes 8 to 11, which the home
    /// slot does not use), in place above the position and distance.
    fn tag(&self, txid: &[u8; 32]) -> u32 {
        let [_, _, _, _, _, _, _, _, a, b, c, d, ..] = *txid;
        u32::from_le_bytes([a, b, c, d])
            .checked_shl(self.pos_bits + self.dist_bits)
            .unwrap_or(0)
    }

    /// An index slot's value for `txid` at ring position `pos`, kept in
    /// index slot `slot` (0 marks an empty slot). [`Window::new`] refuses
    /// rings of `u32::MAX - 1` entries or more, so every position fits
    /// below the distance.
    fn index_value(&self, pos: usize, slot: usize, txid: &[u8; 32]) -> u32 {
        let pos = u32::try_from(pos).map_or(u32::MAX, |p| p.saturating_add(1));
        let dist = wrapping_distance(self.home(txid), slot, self.index.as_ref().len());
        self.tag(txid) | self.with_distance(pos, dist)
    }

    /// `value` with its distance bits set to `dist` (the largest they hold
    /// when it is more).
    fn with_distance(&self, value: u32, dist: usize) -> u32 {
        let max = self.dist_max();
        let dist = u32::try_from(dist).unwrap_or(u32::MAX).min(max);
        let field = max.checked_shl(self.pos_bits).unwrap_or(0);
        (value & !field) | dist.checked_shl(self.pos_bits).unwrap_or(0)
    }

    /// How far index slot `slot`, holding `value`, is from its txid's home
    /// slot: from the value's bits, or from the ring entry when they are
    /// at their largest.
    fn distance_of(&self, value: u32, slot: usize) -> Option<usize> {
        let max = self.dist_max();
        let dist = value.checked_shr(self.pos_bits).unwrap_or(0) & max;
        if dist < max {
            return Some(dist as usize);
        }
        let txid = self.ring.as_ref().get(self.pos_of(value)?)?.txid.0;
        Some(wrapping_distance(
            self.home(&txid),
            slot,
            self.index.as_ref().len(),
        ))
    }

    fn home(&self, txid: &[u8; 32]) -> usize {
        home_slot(txid, self.index.as_ref().len())
    }

    /// `Ok(slot)` holding `txid`, or `Err(slot)`: the empty slot where it would go.
    fn find(&self, txid: &[u8; 32]) -> Result<usize, usize> {
        let index = self.index.as_ref();
        let n = index.len();
        let mut slot = self.home(txid);
        let tag = self.tag(txid);
        let tags = u32::MAX
            .checked_shl(self.pos_bits + self.dist_bits)
            .unwrap_or(0);
        for _ in 0..n {
            match index.get(slot).copied() {
                Some(0) | None => return Err(slot),
                // Another fingerprint: another txid, its entry left unread.
                Some(v) if v & tags != tag => {}
                Some(v) => {
                    if self
                        .pos_of(v)
                        .and_then(|pos| self.ring.as_ref().get(pos))
                        .is_some_and(|e| &e.txid.0 == txid)
                    {
                        return Ok(slot);
                    }
                }
            }
            slot = next_slot(slot, n);
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
            j = next_slot(j, n);
            let v = self.index.as_ref().get(j).copied().unwrap_or(0);
            if v == 0 {
                break;
            }
            let Some(dist) = self.distance_of(v, j) else {
                break;
            };
            // The entry may stay if its home lies cyclically in (hole, j]:
            // if it is nearer to its home than the hole is.
            let gap = wrapping_distance(hole, j, n);
            if dist >= gap {
                let moved = self.with_distance(v, dist - gap);
                if let Some(h) = self.index.as_mut().get_mut(hole) {
                    *h = moved;
                }
                hole = j;
            }
        }
        if let Some(h) = self.index.as_mut().get_mut(hole) {
            *h = 0;
        }
    }
}

/// The slot after `slot` in a table of `n`, wrapping to the first: a
/// compare, where `% n` is a division on every probe step.
fn next_slot(slot: usize, n: usize) -> usize {
    let next = slot + 1;
    if next >= n {
        0
    } else {
        next
    }
}

/// Checks that an index of `index` slots and `ladder` fit a ring of `ring` entries.
fn check_sizes<A: AsRef<[u64]> + AsMut<[u64]>>(
    ring: usize,
    index: usize,
    ladder: &Ladder<A>,
) -> Result<(), WindowError> {
    if ring >= u32::MAX as usize - 1 {
        return Err(WindowError::TooLarge);
    }
    if index < ring + ring / 7 + 1 {
        return Err(WindowError::IndexTooSmall);
    }
    check_amounts(ring, ladder.slots())
}

/// Checks that `len` slots of amounts (none, or a ladder's sorted part) fit
/// a ring of `ring` entries: every live entry may count two outputs.
fn check_amounts(ring: usize, len: usize) -> Result<(), WindowError> {
    if len > 0 && sorted_capacity(len) < ring.saturating_mul(2) {
        return Err(WindowError::AmountsTooSmall);
    }
    Ok(())
}

/// The ring position of arrival counter `n` in a ring of `len` entries.
fn ring_pos(n: u64, len: usize) -> usize {
    // Below the ring's length, so it fits a usize.
    usize::try_from(n % len.max(1) as u64).unwrap_or(0)
}

/// The bits an index slot needs for positions plus one in a ring of
/// `len` entries: the distance and the fingerprint take those above.
fn position_bits(len: usize) -> u32 {
    (len as u64 + 1)
        .checked_ilog2()
        .map_or(1, |b| b + 1)
        .min(32)
}

/// The bits an index slot gives the distance from the home slot: four
/// (distances 0 to 14 exact; at half load nearly all are) where the
/// position leaves them.
fn distance_bits(len: usize) -> u32 {
    (32 - position_bits(len)).min(4)
}

/// How many slots forward from `from` `to` lies, in a table of `n` slots.
fn wrapping_distance(from: usize, to: usize, n: usize) -> usize {
    if to >= from {
        to - from
    } else {
        to + n - from
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry whose txid has the given home-slot bytes (0..8), fingerprint
    /// bytes (8..12) and last byte.
    fn entry(home: u8, tag: u8, last: u8) -> WindowEntry {
        let mut txid = [0u8; 32];
        txid[..8].fill(home);
        txid[8..12].fill(tag);
        txid[31] = last;
        WindowEntry {
            txid: Txid(txid),
            live: true,
            ..WindowEntry::default()
        }
    }

    #[test]
    fn fingerprints_skip_other_txids_and_never_hide_one() {
        let mut w = Window::new([WindowEntry::default(); 8], [0u32; 17], 10).unwrap();
        // Four bits of position (8 entries), four of distance, 24 of fingerprint.
        assert_eq!((w.pos_bits, w.dist_bits), (4, 4));
        // One probe run: same home slot; two share a fingerprint too.
        let same_tag = [entry(1, 7, 1), entry(1, 7, 2)];
        let other_tag = entry(1, 9, 3);
        for e in same_tag.iter().chain([&other_tag]) {
            w.push(*e);
        }
        for e in same_tag.iter().chain([&other_tag]) {
            let slot = w.find(&e.txid.0).unwrap();
            assert_eq!(w.entry_at_index_slot(slot).map(|x| x.txid), Some(e.txid));
        }
        // Absent, with a fingerprint met in the run and with a new one.
        assert!(w.find(&entry(1, 7, 4).txid.0).is_err());
        assert!(w.find(&entry(1, 8, 4).txid.0).is_err());
        // Deleting the first of the run shifts the others back: still found.
        let slot = w.find(&same_tag[0].txid.0).unwrap();
        w.take_out(slot);
        assert!(w.find(&same_tag[0].txid.0).is_err());
        assert!(w.find(&same_tag[1].txid.0).is_ok());
        assert!(w.find(&other_tag.txid.0).is_ok());
    }

    #[test]
    fn deletions_keep_every_txid_findable_past_the_largest_distance() {
        // 40 txids on three home slots, one near the index's end: runs
        // longer than the 15 a slot's distance bits hold, wrapping around.
        let mut w = Window::new([WindowEntry::default(); 64], [0u32; 80], 10).unwrap();
        assert_eq!(w.dist_max(), 15);
        let homes = [0x10, 0x80, 0xff];
        let mut all = [WindowEntry::default(); 40];
        for (i, e) in (0u8..).zip(all.iter_mut()) {
            *e = entry(homes[usize::from(i % 3)], i % 5, i);
        }
        for e in &all {
            w.push(*e);
        }
        // Delete in a scrambled order; after each, every other txid is
        // found where it is, and the deleted ones are not.
        let mut gone = [false; 40];
        for k in 0..40 {
            let i = (k * 17 + 5) % 40;
            let slot = w.find(&all[i].txid.0).unwrap();
            w.take_out(slot);
            gone[i] = true;
            for (j, e) in all.iter().enumerate() {
                let found = w.find(&e.txid.0);
                if gone[j] {
                    assert!(found.is_err(), "{j} after deleting {i}");
                } else {
                    let slot = found.unwrap_or_else(|_| panic!("{j} lost after deleting {i}"));
                    assert_eq!(w.entry_at_index_slot(slot).map(|x| x.txid), Some(e.txid));
                    // Its distance bits are exact below the largest.
                    let v = w.index[slot];
                    let home = w.home(&e.txid.0);
                    let dist = wrapping_distance(home, slot, 80);
                    assert_eq!(w.distance_of(v, slot), Some(dist));
                }
            }
        }
        assert!(w.index.iter().all(|&v| v == 0));
    }

    #[test]
    fn an_entry_is_a_cache_line() {
        // A day's ring is 432,000 of them: 27.6 MB.
        assert_eq!(core::mem::size_of::<WindowEntry>(), 64);
    }

    #[test]
    fn the_position_bits_fit_every_ring() {
        for len in [
            0usize,
            1,
            2,
            7,
            8,
            431_999,
            432_000,
            1 << 24,
            u32::MAX as usize - 2,
        ] {
            let shift = position_bits(len);
            // Positions plus one, up to `len`, stay below the distance.
            assert!(u64::from(u32::MAX.checked_shr(32 - shift).unwrap_or(0)) >= len as u64);
        }
        assert_eq!(position_bits(432_000), 19);
        assert_eq!(distance_bits(432_000), 4);
        assert_eq!(distance_bits(u32::MAX as usize - 2), 0);
    }
}
