//! The per-block series: for each block, the price of the window of the
//! `len` blocks ending at it, exactly what `fiatline price --heights
//! h-len+1..h` prints, kept by sliding one window rather than pricing `len`
//! blocks afresh at every block.
//!
//! A fresh run leaves out a transaction that spends one earlier in the run
//! (the same-day rule). The rolling window of `serve` applies the same rule
//! against the transactions it holds, so a block added to it is judged as
//! in a fresh run. What a fresh run of the next window would judge
//! differently is a transaction that spent one of the block that left: it
//! no longer spends anything earlier in the run. So each transaction the
//! window leaves out while it spends an earlier block of the window is kept
//! aside under that block's height, and when that block leaves it is taken
//! out and offered again, judged against the blocks still there.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ops::Range;

use fiatline_core::{
    window_amount_slots_for, window_index_slots_for, Added, Block, Estimate, EstimateError,
    ParseError, Refinement, Transaction, TxIn, Txid, Visitor, Window, WindowEntry, WindowError,
};

/// The window of a per-block price: a day of blocks, as the reference's
/// "recent blocks" mode prices.
pub(crate) const SERIES_BLOCKS: u32 = 144;

/// Transactions whose index slots are loaded together before they are
/// added or removed (see [`Window::prefetch`]): enough loads to overlap,
/// few enough cache lines (a few hundred) to stay in cache until used.
const PREFETCH: usize = 64;

/// A window that keeps its amounts sorted: each block's price reads only
/// the outputs near it (`Window::estimate_sorted`).
type VecWindow = Window<Vec<WindowEntry>, Vec<u32>, Vec<u64>>;

/// The price of the window ending at one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BlockPrice {
    /// The block's height.
    pub(crate) height: u32,
    /// The block's hash, internal byte order.
    pub(crate) hash: [u8; 32],
    /// The block's header time.
    pub(crate) time: u32,
    /// The estimate of the window ending at the block.
    pub(crate) estimate: Estimate,
}

/// Why a block could not go into the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum SeriesError {
    /// The block's bytes are not a block.
    Parse { height: u32, error: ParseError },
    /// The block is not the one after the last (the caller's order is wrong).
    OutOfOrder { expected: u32, got: u32 },
    /// The window could not take the block's transactions.
    Window(WindowError),
}

impl fmt::Display for SeriesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse { height, error } => write!(f, "block {height}: {error}"),
            Self::OutOfOrder { expected, got } => {
                write!(f, "block {got} given where block {expected} was due")
            }
            Self::Window(e) => write!(f, "the per-block window: {e}"),
        }
    }
}

impl std::error::Error for SeriesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Parse { error, .. } => Some(error),
            Self::Window(e) => Some(e),
            Self::OutOfOrder { .. } => None,
        }
    }
}

/// The transactions of a block and their inputs' previous txids, as its
/// parse meets them: later look-ups read these instead of walking the
/// transactions again.
#[derive(Default)]
struct Listed<'a> {
    txs: Vec<Transaction<'a>>,
    parents: Vec<&'a [u8; 32]>,
    /// Where each transaction's parents end in `parents`.
    ends: Vec<usize>,
}

impl<'a> Visitor<'a> for Listed<'a> {
    fn visit_input(&mut self, _: usize, input: &TxIn<'a>) {
        self.parents.push(input.prev_txid);
    }

    fn visit_transaction(&mut self, tx: &Transaction<'a>) {
        self.txs.push(*tx);
        self.ends.push(self.parents.len());
    }
}

impl<'a> Listed<'a> {
    /// The previous txids of the inputs of the transactions `txs` (those
    /// of them there are).
    fn parents_of(&self, txs: Range<usize>) -> &[&'a [u8; 32]] {
        let end = |i: usize| {
            self.ends
                .get(i.min(self.ends.len()).wrapping_sub(1))
                .copied()
        };
        let from = if txs.start == 0 {
            Some(0)
        } else {
            end(txs.start)
        };
        let to = end(txs.end);
        from.zip(to)
            .and_then(|(a, b)| self.parents.get(a..b))
            .unwrap_or_default()
    }
}

/// A block in the window: what is needed to take it out again.
#[derive(Debug)]
struct Held {
    height: u32,
    txids: Vec<Txid>,
    /// Those of its transactions that wait for an earlier block to leave.
    waiting: Vec<Txid>,
}

/// A transaction left out for spending an earlier block of the window.
#[derive(Debug)]
struct Waiting {
    bytes: Vec<u8>,
    height: u32,
    time: u32,
}

/// The sliding window of the series.
#[derive(Debug)]
pub(crate) struct Series {
    len: usize,
    window: VecWindow,
    capacity: usize,
    blocks: VecDeque<Held>,
    /// The left-out transactions by txid; each is listed in `by_parent`
    /// under every earlier block it spends.
    waiting: HashMap<Txid, Waiting>,
    by_parent: HashMap<u32, Vec<Txid>>,
    scratch: Vec<f64>,
    /// Transactions counted late, when the block they spent left.
    late: u64,
}

impl Series {
    /// An empty series of windows of `len` blocks.
    ///
    /// # Errors
    /// Returns the window's error when its storage cannot be indexed.
    pub(crate) fn new(len: u32) -> Result<Self, SeriesError> {
        // Blocks of about 3,000 transactions; it grows as needed.
        let capacity = (len as usize).max(1) * 3_000;
        Ok(Self {
            len: (len as usize).max(1),
            window: new_window(capacity)?,
            capacity,
            blocks: VecDeque::new(),
            waiting: HashMap::new(),
            by_parent: HashMap::new(),
            scratch: Vec::new(),
            late: 0,
        })
    }

    /// The height of the last block added, if any.
    pub(crate) fn last_height(&self) -> Option<u32> {
        self.blocks.back().map(|b| b.height)
    }

    /// Adds the block at `height` (the one after the last), takes the
    /// oldest out when the window is over `len` blocks, and prices the
    /// window once it holds `len` blocks: `None` before that, or the
    /// estimate's error when the window holds no price.
    ///
    /// # Errors
    /// Returns a [`SeriesError`] for bytes that are not a block, a block
    /// out of order, or a window that cannot take it; the series is
    /// unchanged then.
    pub(crate) fn push(
        &mut self,
        bytes: &[u8],
        height: u32,
    ) -> Result<Option<Result<BlockPrice, EstimateError>>, SeriesError> {
        // One walk checks the block and lists its transactions.
        let mut listed = Listed::default();
        let block = Block::parse_visiting(bytes, &mut listed)
            .map_err(|error| SeriesError::Parse { height, error })?;
        let txs = &listed.txs;
        if let Some(last) = self.last_height() {
            let expected = last.saturating_add(1);
            if height != expected {
                return Err(SeriesError::OutOfOrder {
                    expected,
                    got: height,
                });
            }
        }
        self.make_room(block.tx_count())?;
        let time = block.header().time();
        let txids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
        let mut waiting = Vec::new();
        for (at, tx) in txs.iter().enumerate() {
            if at % PREFETCH == 0 {
                let batch = txids.get(at..).unwrap_or_default().iter().take(PREFETCH);
                let parents = listed.parents_of(at..at + PREFETCH);
                let parents = parents.iter().copied();
                self.window
                    .prefetch(batch.map(Txid::as_bytes).chain(parents));
            }
            let txid = txids[at];
            // Room was made for the whole block above.
            let added = self
                .window
                .add_hashed(tx, txid, time, height)
                .map_err(SeriesError::Window)?;
            // Only a transaction left out for spending the window can
            // wait for a block to leave (one a filter left out never
            // counts); its own entry, now in the window, is none of its
            // parents.
            let earlier = if added == Added::SpendsWindow {
                self.earlier_parents(listed.parents_of(at..at + 1), height)
            } else {
                Vec::new()
            };
            if !earlier.is_empty() {
                for parent in earlier {
                    self.by_parent.entry(parent).or_default().push(txid);
                }
                self.waiting.insert(
                    txid,
                    Waiting {
                        bytes: tx.as_bytes().to_vec(),
                        height,
                        time,
                    },
                );
                waiting.push(txid);
            }
        }
        self.blocks.push_back(Held {
            height,
            txids,
            waiting,
        });
        if self.blocks.len() > self.len {
            self.take_oldest_out()?;
        }
        if self.blocks.len() < self.len {
            return Ok(None);
        }
        let hash = block.header().block_hash();
        Ok(Some(self.estimate().map(|estimate| BlockPrice {
            height,
            hash,
            time,
            estimate,
        })))
    }

    /// The distinct heights of the earlier blocks of the window that a
    /// transaction of the block at `height` spends from, given its inputs'
    /// previous txids.
    fn earlier_parents(&self, parents: &[&[u8; 32]], height: u32) -> Vec<u32> {
        let mut heights: Vec<u32> = parents
            .iter()
            .filter_map(|p| self.window.height_of(&Txid(**p)))
            .filter(|&h| h < height)
            .collect();
        heights.sort_unstable();
        heights.dedup();
        heights
    }

    /// Takes the oldest block out, then offers again each transaction that
    /// was left out for spending it.
    fn take_oldest_out(&mut self) -> Result<(), SeriesError> {
        let Some(oldest) = self.blocks.pop_front() else {
            return Ok(());
        };
        for (at, txid) in oldest.txids.iter().enumerate() {
            if at % PREFETCH == 0 {
                let next = oldest.txids.iter().skip(at).take(PREFETCH);
                self.window.prefetch(next.map(Txid::as_bytes));
            }
            self.window.remove(txid);
        }
        // A wait ends with its block (all the parents were earlier).
        for txid in &oldest.waiting {
            self.waiting.remove(txid);
        }
        for txid in self.by_parent.remove(&oldest.height).unwrap_or_default() {
            let Some(w) = self.waiting.get(&txid) else {
                continue;
            };
            let tx = Transaction::parse(&w.bytes).map_err(|error| SeriesError::Parse {
                height: w.height,
                error,
            })?;
            self.window.remove(&txid);
            match self.window.add_hashed(&tx, txid, w.time, w.height) {
                // Counted now: it waits no more (it may still be listed
                // under a later parent block, where it is skipped).
                Ok(Added::Used) => {
                    self.waiting.remove(&txid);
                    self.late += 1;
                }
                Ok(_) => {}
                Err(e) => return Err(SeriesError::Window(e)),
            }
        }
        Ok(())
    }

    /// Grows the window (doubling at least) so `txs` more fit.
    fn make_room(&mut self, txs: usize) -> Result<(), SeriesError> {
        let need = self.window.len() + txs;
        if need <= self.capacity {
            return Ok(());
        }
        let capacity = need.max(2 * self.capacity);
        let window = std::mem::replace(&mut self.window, new_window(0)?);
        // The amounts first: the ring may not outgrow them.
        let window = match window.grow_amounts_into(vec![0; window_amount_slots_for(capacity)]) {
            Ok(w) => w,
            Err((same, e)) => {
                self.window = same;
                return Err(SeriesError::Window(e));
            }
        };
        match window.grow_into(
            vec![WindowEntry::default(); capacity],
            vec![0; window_index_slots_for(capacity)],
        ) {
            Ok(grown) => {
                self.window = grown;
                self.capacity = capacity;
                Ok(())
            }
            Err((same, e)) => {
                self.window = same;
                Err(SeriesError::Window(e))
            }
        }
    }

    /// Prices the window, growing the scratch storage as the core asks.
    fn estimate(&mut self) -> Result<Estimate, EstimateError> {
        loop {
            match self
                .window
                .estimate_sorted(Refinement::Reference, &mut self.scratch)
            {
                Err(EstimateError::ScratchFull(n)) if n > self.scratch.len() => {
                    self.scratch.resize(n, 0.0);
                }
                other => return other,
            }
        }
    }
}

fn new_window(capacity: usize) -> Result<VecWindow, SeriesError> {
    // A span no block time reaches: blocks leave by count, never by age.
    Window::with_amounts(
        vec![WindowEntry::default(); capacity],
        vec![0; window_index_slots_for(capacity)],
        vec![0; window_amount_slots_for(capacity)],
        u32::MAX,
    )
    .map_err(SeriesError::Window)
}

#[cfg(test)]
mod tests {
    use fiatline_adapters::consensus::Consensus;
    use fiatline_testkit::Chain;

    use super::*;

    /// Every window's price, from the sliding series and from a fresh
    /// consensus run over the same blocks (what `price --heights` does),
    /// on a chain whose transactions spend 1 to 14 blocks back: blocks
    /// leaving the 12-block window change what later blocks count.
    #[test]
    fn the_sliding_window_prices_exactly_as_fresh_runs() {
        let len = 12;
        let chain = Chain::generate_spending_back(840_000, 40, 1_704_067_200, 600, 400, 14);
        let mut series = Series::new(len).unwrap();
        for (i, b) in chain.blocks.iter().enumerate() {
            let priced = series.push(&b.bytes, b.height).unwrap();
            if i + 1 < len as usize {
                assert_eq!(priced, None, "block {i}: the window is not full yet");
                continue;
            }
            let mut fresh = Consensus::new(len as usize * 400);
            for f in &chain.blocks[i + 1 - len as usize..=i] {
                fresh.add(&f.bytes, Some(f.height), String::new).unwrap();
            }
            let expected = fresh.finish(Refinement::Reference).unwrap().estimate;
            let got = priced.expect("a full window").unwrap();
            assert_eq!(got.estimate, expected, "window ending at {}", b.height);
            assert_eq!((got.height, got.hash, got.time), (b.height, b.hash, b.time));
        }
        // The comparison above means something only if leaving blocks
        // changed what counted.
        let (late, waiting) = (series.late, series.waiting.len());
        assert!(
            late > 100,
            "only {late} transactions counted late, {waiting} waiting"
        );
    }

    /// As above, on blocks whose amounts drift by up to 8% from block to
    /// block (a price that moves): the window's rough price, so the range
    /// its points are kept for, changes as it slides.
    #[test]
    fn a_window_whose_price_moves_prices_exactly_as_fresh_runs() {
        let len = 12;
        let times = (0..60).map(|i| 1_704_067_200 + i * 600).collect();
        let drift = |i: usize| 920_000 + (i as u64 * 37 % 17) * 10_000;
        let chain = Chain::generate_scaled(840_000, times, |_| 1_500, drift);
        let mut series = Series::new(len).unwrap();
        let mut roughs = Vec::new();
        for (i, b) in chain.blocks.iter().enumerate() {
            let Some(priced) = series.push(&b.bytes, b.height).unwrap() else {
                continue;
            };
            let mut fresh = Consensus::new(len as usize * 1_500);
            for f in &chain.blocks[i + 1 - len as usize..=i] {
                fresh.add(&f.bytes, Some(f.height), String::new).unwrap();
            }
            let expected = fresh.finish(Refinement::Reference).unwrap().estimate;
            let got = priced.unwrap().estimate;
            assert_eq!(got, expected, "window ending at {}", b.height);
            roughs.push(got.rough);
        }
        roughs.sort_unstable();
        roughs.dedup();
        assert!(
            roughs.len() > 10,
            "the rough price moved only to {roughs:?}"
        );
    }

    #[test]
    fn a_block_out_of_order_or_malformed_changes_nothing() {
        let chain = Chain::generate_light(100, vec![1, 2, 3], 50);
        let mut series = Series::new(2).unwrap();
        series.push(&chain.blocks[0].bytes, 100).unwrap();
        assert_eq!(
            series.push(&chain.blocks[2].bytes, 102),
            Err(SeriesError::OutOfOrder {
                expected: 101,
                got: 102
            })
        );
        let torn = &chain.blocks[1].bytes[..500];
        assert!(matches!(
            series.push(torn, 101),
            Err(SeriesError::Parse { height: 101, .. })
        ));
        assert_eq!(series.last_height(), Some(100));
        assert_eq!(series.window.len(), 50);
    }
}
