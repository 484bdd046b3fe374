//! A consensus run: blocks in, their used outputs counted (docs/algorithm.md
//! step 6), then an estimate of the whole run.

use core::fmt;

use crate::block::Block;
use crate::error::ParseError;
use crate::estimate::{estimate, Estimate, EstimateError, Refinement};
use crate::filter::{in_range, Candidate, TxFilter};
use crate::histogram::Histogram;
use crate::outputs::{OutputLog, RawOutput};
use crate::points::PricePoint;
use crate::seen::TxidSet;
use crate::tx::Transaction;
use crate::txid::Txid;
use crate::CapacityError;

/// Counts of what a run has taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunStats {
    /// Blocks added.
    pub blocks: u32,
    /// Transactions seen, all of them.
    pub txs: u64,
    /// Transactions that passed the filters.
    pub used_txs: u64,
    /// Outputs counted in the histogram.
    pub outputs: u64,
}

/// Why a block could not be added to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// The block's bytes are malformed.
    Parse(ParseError),
    /// The lent storage cannot take the block.
    Capacity(CapacityError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => write!(f, "malformed block: {e}"),
            Self::Capacity(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for RunError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Parse(e) => Some(e),
            Self::Capacity(e) => Some(e),
        }
    }
}

impl From<ParseError> for RunError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

impl From<CapacityError> for RunError {
    fn from(e: CapacityError) -> Self {
        Self::Capacity(e)
    }
}

/// The state of a consensus run over a sequence of blocks.
///
/// The histogram lives inside (9.6 KiB); the run-sized storage is the
/// caller's: txid slots for the seen set (size them with
/// [`crate::txid_slots_for`] of the run's transaction count) and slots for the
/// used outputs (at most two per transaction). Either is any
/// `AsRef<[T]> + AsMut<[T]>`: `&mut [T]`, `[T; N]`, or a `Vec<T>` that
/// [`Run::grow_into`] can replace when a run turns out longer than planned.
#[derive(Debug)]
pub struct Run<T, O> {
    histogram: Histogram,
    seen: TxidSet<T>,
    outputs: OutputLog<O>,
    stats: RunStats,
}

impl<T, O> Run<T, O>
where
    T: AsRef<[Txid]> + AsMut<[Txid]>,
    O: AsRef<[RawOutput]> + AsMut<[RawOutput]>,
{
    /// Starts an empty run over the caller's storage.
    pub fn new(txid_slots: T, outputs: O) -> Self {
        Self {
            histogram: Histogram::new(),
            seen: TxidSet::new(txid_slots),
            outputs: OutputLog::new(outputs),
            stats: RunStats::default(),
        }
    }

    /// Parses `bytes` as one block and adds it (see [`Run::add_block`]).
    ///
    /// # Errors
    /// Returns [`RunError::Parse`] for malformed bytes and
    /// [`RunError::Capacity`] when storage runs short; the run is unchanged then.
    pub fn add_block_bytes(&mut self, bytes: &[u8], height: u32) -> Result<(), RunError> {
        let block = Block::parse(bytes)?;
        Ok(self.add_block(&block, height)?)
    }

    /// Adds a block's transactions, in order, as the block at `height`.
    ///
    /// A block goes in whole or not at all: storage is checked for the worst
    /// case (every txid new, two outputs per transaction) before anything
    /// changes.
    ///
    /// # Errors
    /// Returns a [`CapacityError`] when the lent storage might not take the
    /// whole block; the run is unchanged then.
    pub fn add_block(&mut self, block: &Block<'_>, height: u32) -> Result<(), CapacityError> {
        let n = block.tx_count();
        if self.seen.room() < n {
            return Err(CapacityError::Txids);
        }
        if self.outputs.room() < n.saturating_mul(2) {
            return Err(CapacityError::Outputs);
        }
        let time = block.header().time();
        block.visit_transactions(&mut TxFilter::new(
            |tx: &Transaction<'_>, candidate: Candidate<'_, '_>| {
                self.take(&tx.txid(), candidate, (height, time));
            },
        ));
        self.stats.blocks += 1;
        Ok(())
    }

    /// Parses `bytes` as one transaction and adds it (see
    /// [`Run::add_transaction`]).
    ///
    /// # Errors
    /// Returns [`RunError::Parse`] for bytes that are not exactly one
    /// well-formed transaction and [`RunError::Capacity`] when storage runs
    /// short; the run is unchanged then.
    pub fn add_transaction_bytes(
        &mut self,
        bytes: &[u8],
        height: u32,
        time: u32,
    ) -> Result<(), RunError> {
        let tx = Transaction::parse(bytes)?;
        Ok(self.add_transaction(&tx, height, time)?)
    }

    /// Adds one transaction of the block at `height` whose header time is
    /// `time`: for firmware that receives a block's transactions one at a
    /// time. Fed in block order, a block's transactions leave the run
    /// exactly as [`Run::add_block`] does, except that
    /// [`RunStats::blocks`] counts only whole blocks.
    ///
    /// # Errors
    /// Returns a [`CapacityError`] when the storage has no room for one more
    /// txid or two more outputs; the run is unchanged then.
    pub fn add_transaction(
        &mut self,
        tx: &Transaction<'_>,
        height: u32,
        time: u32,
    ) -> Result<(), CapacityError> {
        if !self.has_room_for(1) {
            return Err(if self.seen.room() < 1 {
                CapacityError::Txids
            } else {
                CapacityError::Outputs
            });
        }
        // Validated bytes: the walk cannot fail, and hands the verdict over once.
        let _ = Transaction::visit(
            tx.as_bytes(),
            &mut TxFilter::new(|t: &Transaction<'_>, candidate: Candidate<'_, '_>| {
                self.take(&t.txid(), candidate, (height, time));
            }),
        );
        Ok(())
    }

    /// Takes in one transaction's verdict from the filter: records its txid,
    /// applies the same-day rule and counts its outputs if it is used.
    fn take(&mut self, txid: &Txid, candidate: Candidate<'_, '_>, at: (u32, u32)) {
        self.stats.txs += 1;
        // Room was checked for the whole block, so neither can fail here.
        let _ = self.seen.insert(txid);
        let Some((prevouts, values)) = candidate else {
            return;
        };
        if prevouts.iter().any(|p| self.seen.contains(p)) {
            return;
        }
        self.stats.used_txs += 1;
        for sats in values {
            let output = RawOutput {
                sats,
                height: at.0,
                time: at.1,
            };
            let btc = output.btc();
            if in_range(btc) && self.outputs.push(output).is_ok() {
                self.histogram.add(btc);
                self.stats.outputs += 1;
            }
        }
    }

    /// Returns the histogram so far.
    pub const fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    /// Returns the used outputs so far, in block and transaction order.
    pub fn outputs(&self) -> &[RawOutput] {
        self.outputs.as_slice()
    }

    /// Returns the counts so far.
    pub const fn stats(&self) -> RunStats {
        self.stats
    }

    /// Returns the set of txids seen so far.
    pub const fn seen(&self) -> &TxidSet<T> {
        &self.seen
    }

    /// Returns true when the storage can take a block of `tx_count`
    /// transactions (the worst case [`Run::add_block`] checks).
    pub fn has_room_for(&self, tx_count: usize) -> bool {
        self.seen.room() >= tx_count && self.outputs.room() >= tx_count.saturating_mul(2)
    }

    /// Moves the run into new storage, keeping everything it has taken in.
    ///
    /// # Errors
    /// Returns the unchanged run and a [`CapacityError`] if the new storage
    /// cannot hold what the run already has.
    // The run comes back by value on failure: nothing is lost, nothing allocated.
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    pub fn grow_into<T2, O2>(
        self,
        txid_slots: T2,
        outputs: O2,
    ) -> Result<Run<T2, O2>, (Self, CapacityError)>
    where
        T2: AsRef<[Txid]> + AsMut<[Txid]>,
        O2: AsRef<[RawOutput]> + AsMut<[RawOutput]>,
    {
        if !self.seen.fits_in(txid_slots.as_ref().len()) {
            return Err((self, CapacityError::Txids));
        }
        if outputs.as_ref().len() < self.outputs.as_slice().len() {
            return Err((self, CapacityError::Outputs));
        }
        Ok(Run {
            histogram: self.histogram,
            seen: self.seen.move_into(txid_slots),
            outputs: self.outputs.move_into(outputs),
            stats: self.stats,
        })
    }

    /// Estimates the price of the run so far (see [`estimate`]).
    ///
    /// # Errors
    /// Returns an [`EstimateError`] when the run holds no price or the lent
    /// storage is too small.
    pub fn estimate(
        &self,
        refinement: Refinement,
        points: &mut [PricePoint],
        scratch: &mut [f64],
    ) -> Result<Estimate, EstimateError> {
        estimate(&self.histogram, self.outputs(), refinement, points, scratch)
    }
}
