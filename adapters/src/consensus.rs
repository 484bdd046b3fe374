//! One consensus run with growable storage: raw blocks in, in order; an
//! estimate, its price points and (when asked) the hourly refinement out.
//! Storage starts at a guess and grows when a block needs more.

use std::fmt;

use fiatline_core::{
    txid_slots_for, Block, Estimate, EstimateError, ParseError, PricePoint, RawOutput, RefineError,
    Refinement, Run, RunStats, Transaction, Txid,
};

use crate::hourly::Hourly;

type VecRun = Run<Vec<Txid>, Vec<RawOutput>>;

/// A run in progress.
#[derive(Debug)]
pub struct Consensus {
    run: Option<VecRun>,
    heights: Option<(u32, u32)>,
    times: Option<(u32, u32)>,
    first_time: Option<u32>,
}

/// A finished run.
#[derive(Debug)]
pub struct Outcome {
    /// The estimate (reference or re-centred).
    pub estimate: Estimate,
    /// What the run took in.
    pub stats: RunStats,
    /// The first and last block's heights.
    pub heights: Option<(u32, u32)>,
    /// The earliest and latest block times.
    pub times: Option<(u32, u32)>,
    /// The first block's header time: where a run that is not a UTC date
    /// starts its hours.
    pub first_time: Option<u32>,
    /// The price points, in output order.
    pub points: Vec<PricePoint>,
    /// With the hourly refinement: the refined price and its path.
    pub hourly: Option<Hourly>,
}

impl Outcome {
    /// Adds the hourly refinement, hours counted from `start` (00:00 UTC of
    /// the date), else from the first block's time.
    ///
    /// # Errors
    /// Returns a [`RefineError`] when the estimate's price is not positive.
    pub fn refine_hourly(&mut self, start: Option<i64>) -> Result<(), RefineError> {
        let start = start
            .or_else(|| self.first_time.map(i64::from))
            .unwrap_or_default();
        self.hourly = Some(Hourly::of(&self.points, self.estimate.price, start)?);
        Ok(())
    }
}

/// A block that could not be used.
#[derive(Debug)]
pub struct BadBlock {
    /// Which block: "block 840000 (…) from rpc", "block file x.bin".
    pub what: String,
    /// What is wrong with its bytes.
    pub error: ParseError,
}

impl fmt::Display for BadBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a valid block: {}", self.what, self.error)
    }
}

/// A transaction that could not be used.
#[derive(Debug)]
pub struct BadTransaction {
    /// Which transaction: "transaction 3".
    pub what: String,
    /// What is wrong with its bytes.
    pub error: ParseError,
}

impl fmt::Display for BadTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a valid transaction: {}",
            self.what, self.error
        )
    }
}

impl std::error::Error for BadTransaction {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl std::error::Error for BadBlock {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl Consensus {
    /// Starts a run sized for about `expected_txs` transactions.
    pub fn new(expected_txs: usize) -> Self {
        let txs = expected_txs.max(1);
        Self {
            run: Some(Run::new(
                vec![Txid::default(); txid_slots_for(txs)],
                vec![RawOutput::default(); 2 * txs],
            )),
            heights: None,
            times: None,
            first_time: None,
        }
    }

    /// Adds one block; `what` names it in errors, `height` labels its points
    /// (from its BIP 34 coinbase when `None`).
    ///
    /// # Errors
    /// Returns a [`BadBlock`] naming the block when its bytes are not a
    /// block; the run is unchanged then.
    pub fn add(
        &mut self,
        bytes: &[u8],
        height: Option<u32>,
        what: impl FnOnce() -> String,
    ) -> Result<(), BadBlock> {
        let block = Block::parse(bytes).map_err(|error| BadBlock {
            what: what(),
            error,
        })?;
        let height = height
            .or_else(|| block.bip34_height().and_then(|h| u32::try_from(h).ok()))
            .unwrap_or(0);
        self.make_room(block.tx_count());
        let time = block.header().time();
        if let Some(run) = self.run.as_mut() {
            // Room was made for the worst case, so this cannot fail.
            let _ = run.add_block(&block, height);
        }
        self.first_time.get_or_insert(time);
        self.heights = Some(self.heights.map_or((height, height), |(a, _)| (a, height)));
        self.times = Some(
            self.times
                .map_or((time, time), |(a, b)| (a.min(time), b.max(time))),
        );
        Ok(())
    }

    /// Adds one transaction of the block at `height` whose header time is
    /// `time` (see [`Run::add_transaction`]); `what` names it in errors.
    ///
    /// # Errors
    /// Returns a [`BadTransaction`] when the bytes are not exactly one
    /// transaction; the run is unchanged then.
    pub fn add_transaction(
        &mut self,
        bytes: &[u8],
        height: u32,
        time: u32,
        what: impl FnOnce() -> String,
    ) -> Result<(), BadTransaction> {
        let tx = Transaction::parse(bytes).map_err(|error| BadTransaction {
            what: what(),
            error,
        })?;
        self.make_room(1);
        if let Some(run) = self.run.as_mut() {
            // Room was made, so this cannot fail.
            let _ = run.add_transaction(&tx, height, time);
        }
        self.first_time.get_or_insert(time);
        self.times = Some(
            self.times
                .map_or((time, time), |(a, b)| (a.min(time), b.max(time))),
        );
        Ok(())
    }

    /// Grows the storage, doubling at least, so a block of `txs` fits.
    fn make_room(&mut self, txs: usize) {
        let Some(run) = self.run.take() else { return };
        if run.has_room_for(txs) {
            self.run = Some(run);
            return;
        }
        let have = usize::try_from(run.stats().txs).unwrap_or(usize::MAX);
        let want = (2 * have).max(have + txs);
        self.run = Some(
            match run.grow_into(
                vec![Txid::default(); txid_slots_for(want)],
                vec![RawOutput::default(); 2 * want],
            ) {
                Ok(bigger) => bigger,
                Err((same, _)) => same,
            },
        );
    }

    /// Estimates the run, sizing point storage from what the core reports.
    ///
    /// # Errors
    /// Returns an [`EstimateError`] when the run holds no price.
    /// The run stays as it is: more can be added and estimated again.
    pub fn finish(&self, refinement: Refinement) -> Result<Outcome, EstimateError> {
        let Some(run) = &self.run else {
            return Err(EstimateError::NoOutputs);
        };
        // Up to three points per output; the core says if more are needed.
        let mut room = run.outputs().len().max(16) * 3;
        loop {
            let mut points = vec![PricePoint::default(); room];
            let mut scratch = vec![0.0; room];
            match run.estimate(refinement, &mut points, &mut scratch) {
                Err(EstimateError::PointStorageFull(n) | EstimateError::ScratchFull(n))
                    if n > room =>
                {
                    room = n;
                }
                Err(e) => return Err(e),
                Ok(estimate) => {
                    points.truncate(estimate.points);
                    return Ok(Outcome {
                        estimate,
                        stats: run.stats(),
                        heights: self.heights,
                        times: self.times,
                        first_time: self.first_time,
                        points,
                        hourly: None,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_grows_from_a_tiny_guess_to_the_same_result() {
        let block = fiatline_testkit::block_702861();
        let mut small = Consensus::new(1);
        small.add(block, None, String::new).unwrap();
        let mut sized = Consensus::new(2500);
        sized.add(block, None, String::new).unwrap();
        let (a, b) = (
            small.finish(Refinement::Reference).unwrap(),
            sized.finish(Refinement::Reference).unwrap(),
        );
        assert_eq!(a.estimate, b.estimate);
        assert_eq!(a.estimate.rough, 42880);
        assert_eq!(a.heights, Some((702_861, 702_861)));
    }

    #[test]
    fn a_bad_block_is_named() {
        let mut c = Consensus::new(10);
        let e = c.add(&[0; 10], Some(5), || "block 5".into()).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("block 5 is not a valid block: unexpected end"));
    }
}
