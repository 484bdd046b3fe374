//! `fiatline price`: one consensus run over the given blocks.

use std::fmt;

use fiatline_core::{
    Block, Estimate, EstimateError, PricePoint, RawOutput, Refinement, Run, RunError, RunStats,
    Txid, TxidSet,
};

use crate::blockfile::{self, BlockFileError};
use crate::report::Report;
use crate::{PriceArgs, RefinementArg};

/// Why `fiatline price` failed.
#[derive(Debug)]
pub(crate) enum PriceError {
    BlockFile(BlockFileError),
    Run(RunError),
    Estimate(EstimateError),
}

impl PriceError {
    /// Bad input is the user's to fix (2); no price in good data is 1.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::BlockFile(_) | Self::Run(_) => 2,
            Self::Estimate(_) => 1,
        }
    }
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockFile(e) => e.fmt(f),
            Self::Run(e) => write!(f, "cannot add block: {e}"),
            Self::Estimate(e) => write!(f, "no price from these blocks: {e}"),
        }
    }
}

impl std::error::Error for PriceError {}

pub(crate) fn run(args: &PriceArgs) -> Result<(), PriceError> {
    let blocks = blockfile::read_all(&args.block_files).map_err(PriceError::BlockFile)?;
    let refinement = match args.refinement {
        RefinementArg::Reference => Refinement::Reference,
        RefinementArg::Recentre => Refinement::Recentre,
    };
    let (estimate, stats, heights) = price_blocks(&blocks, refinement)?;
    let report = Report::new(&estimate, &stats, heights);
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.line());
        eprintln!("{}", report.summary());
    }
    Ok(())
}

/// What a run of blocks gave: the estimate, the run's counts and the first
/// and last heights (from BIP 34 coinbases, when present).
pub(crate) type Priced = (Estimate, RunStats, Option<(u64, u64)>);

/// Prices raw blocks as one run.
pub(crate) fn price_blocks(
    blocks: &[Vec<u8>],
    refinement: Refinement,
) -> Result<Priced, PriceError> {
    let parsed: Vec<Block<'_>> = blocks
        .iter()
        .map(|b| Block::parse(b).map_err(|e| PriceError::Run(RunError::Parse(e))))
        .collect::<Result<_, _>>()?;
    let txs: usize = parsed.iter().map(Block::tx_count).sum();
    let mut slots = vec![Txid::default(); TxidSet::slots_for(txs)];
    let mut outputs = vec![RawOutput::default(); 2 * txs];
    let mut run = Run::new(&mut slots, &mut outputs);
    let mut heights = None;
    for block in &parsed {
        let height = block.bip34_height();
        if let Some(h) = height {
            heights = Some(heights.map_or((h, h), |(first, _)| (first, h)));
        }
        let height = height.and_then(|h| u32::try_from(h).ok()).unwrap_or(0);
        run.add_block(block, height)
            .map_err(|e| PriceError::Run(RunError::Capacity(e)))?;
    }
    let estimate = estimate_with_room(&run, refinement).map_err(PriceError::Estimate)?;
    Ok((estimate, run.stats(), heights))
}

/// Estimates with point storage sized from a first guess, growing it once
/// to the size the core reports if the guess was short.
fn estimate_with_room(run: &Run<'_>, refinement: Refinement) -> Result<Estimate, EstimateError> {
    let mut room = run.outputs().len().max(16) * 2;
    loop {
        let mut points = vec![PricePoint::default(); room];
        let mut scratch = vec![0.0; room];
        match run.estimate(refinement, &mut points, &mut scratch) {
            Err(EstimateError::PointStorageFull(n) | EstimateError::ScratchFull(n)) if n > room => {
                room = n;
            }
            other => return other,
        }
    }
}
