//! One consensus run: raw blocks in, in order; an estimate and its price
//! points out. Storage starts at a guess and grows when a block needs more.

use std::fmt;

use fiatline_core::{
    txid_slots_for, Block, Estimate, EstimateError, ParseError, PricePoint, RawOutput, Refinement,
    Run, RunStats, Txid,
};

type VecRun = Run<Vec<Txid>, Vec<RawOutput>>;

/// A run in progress.
pub(crate) struct Consensus {
    run: Option<VecRun>,
    heights: Option<(u32, u32)>,
    times: Option<(u32, u32)>,
}

/// A finished run.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) estimate: Estimate,
    pub(crate) stats: RunStats,
    pub(crate) heights: Option<(u32, u32)>,
    pub(crate) times: Option<(u32, u32)>,
    pub(crate) points: Vec<PricePoint>,
}

/// A block that could not be used.
#[derive(Debug)]
pub(crate) struct BadBlock {
    pub(crate) what: String,
    pub(crate) error: ParseError,
}

impl fmt::Display for BadBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not a valid block: {}", self.what, self.error)
    }
}

impl std::error::Error for BadBlock {}

impl Consensus {
    /// Starts a run sized for about `expected_txs` transactions.
    pub(crate) fn new(expected_txs: usize) -> Self {
        let txs = expected_txs.max(1);
        Self {
            run: Some(Run::new(
                vec![Txid::default(); txid_slots_for(txs)],
                vec![RawOutput::default(); 2 * txs],
            )),
            heights: None,
            times: None,
        }
    }

    /// Adds one block; `what` names it in errors, `height` labels its points
    /// (from its BIP 34 coinbase when `None`).
    pub(crate) fn add(
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
        self.heights = Some(self.heights.map_or((height, height), |(a, _)| (a, height)));
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
        let have = run.stats().txs as usize;
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
    pub(crate) fn finish(self, refinement: Refinement) -> Result<Outcome, EstimateError> {
        let Some(run) = self.run else {
            return Err(EstimateError::NoOutputs);
        };
        let mut room = run.outputs().len().max(16) * 2;
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
                        points,
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
        let block = bitcoin_test_data::blocks::mainnet_702861();
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
