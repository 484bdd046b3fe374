//! fiatline-core: the BTC/USD price from Bitcoin transactions alone.
//!
//! People pay round fiat amounts ($10, $20, $100…); in BTC those amounts
//! land at `usd / price`, so the histogram of output amounts has spikes
//! whose position gives the price. This crate implements the method
//! published as UTXOracle (version 9.1, by its author "Steve"), and
//! reproduces that script's numbers on the same blocks.
//!
//! The crate is `no_std`, needs no allocator, never does I/O, never reads a
//! clock and never panics on any input: bytes and times come in, an
//! [`Estimate`] comes out.
//!
//! # Use
//! ```
//! use fiatline_core::{Block, RawOutput, Refinement, Run, Txid, txid_slots_for};
//! # fn demo(block_bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let block = Block::parse(block_bytes)?;
//! let mut slots = vec![Txid::default(); txid_slots_for(block.tx_count())];
//! let mut outputs = vec![RawOutput::default(); 2 * block.tx_count()];
//! let mut run = Run::new(&mut slots, &mut outputs);
//! run.add_block(&block, 702_861)?;
//! // One output can give up to three price points (neighbouring USD
//! // amounts' ±25% bands overlap): size for the worst case.
//! let n = run.outputs().len() * 3;
//! let (mut points, mut scratch) = (vec![Default::default(); n], vec![0.0; n]);
//! let estimate = run.estimate(Refinement::Reference, &mut points, &mut scratch)?;
//! println!("price: ${:.0}", estimate.price);
//! # Ok(()) }
//! ```
//!
//! # Parts, one file each
//! - parsing: [`Transaction`] and [`Block`] views (`tx.rs`, `block.rs`), the
//!   [`Visitor`] they call, [`ParseError`];
//! - the filter of step 6 (`filter.rs`), the seen-txid set ([`TxidSet`]) and
//!   the output list ([`OutputLog`]), both in lent storage;
//! - the [`Histogram`] (`histogram.rs`, steps 5 and 7) over fixed [`bins`];
//! - the [`stencil`]s (step 8) and the [`rough`] price (step 9);
//! - price [`points`] (step 10) and the [`central`] price (step 11), put
//!   together by [`estimate()`]; the [`confidence`] formula;
//! - the [`hourly`] refinement: the run read hour by hour, an on-chain
//!   path and a price with a calibrated confidence ([`refine_hourly`]);
//! - [`Run`]: blocks in, estimate out; [`Window`] (`window.rs`): the
//!   rolling window of live mode, transactions in and out, estimate at any time;
//! - [`cell`]: the latest estimate, published by one writer to many readers
//!   without locks.
//!
//! # Memory
//! All state is fixed-size or lent by the caller:
//! - a [`Run`] is 9.7 KiB (the histogram's 2,401 `u32` counts) plus the lent
//!   slices: 32 bytes per txid slot (two slots per transaction of the run is
//!   the advised size) and 16 bytes per used output (at most two per
//!   transaction);
//! - [`estimate()`] uses about 25 KiB of stack (the normalised curve and the
//!   slide scores) plus lent slices of 24 + 8 bytes per price point;
//! - the constant tables (bin edges, smooth stencil, micro round amounts)
//!   are 31 KiB of read-only data.
//!
//! # Floating point
//! Every `f64` operation is the reference's, in the reference's order. The
//! bin edges and the smooth stencil are powers that the reference gets from
//! glibc's `pow`; they are carried as constants generated on that platform
//! (`core/tables/generate.py`) because the `libm` crate differs by one ulp
//! on some of them. Logarithms go through `libm`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    warn(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use core::fmt;

pub mod bins;
mod block;
pub mod cell;
pub mod central;
pub mod confidence;
mod error;
mod estimate;
mod filter;
pub mod histogram;
pub mod hourly;
mod in_range;
mod ladder;
mod merge;
mod outputs;
pub mod points;
mod reader;
pub mod rough;
mod run;
mod seen;
pub mod stencil;
mod tables;
mod tx;
mod txid;
mod visitor;
mod window;

pub use block::{Block, Header, Transactions, HEADER_LEN};
pub use error::{ParseError, ParseErrorKind};
pub use estimate::{
    chart_half_range, estimate, estimate_from, Estimate, EstimateError, Refinement,
};
pub use histogram::Histogram;
pub use hourly::{refine_hourly, Grade, Hour, HourPoint, RefineError, Refined};
pub use outputs::{OutputLog, RawOutput};
pub use points::PricePoint;
pub use run::{Run, RunError, RunStats};
pub use seen::{txid_slots_for, TxidSet};
pub use tx::{Inputs, Outputs, Transaction, TxIn, TxOut, Witness, Witnesses};
pub use txid::Txid;
pub use visitor::{NoopVisitor, Visitor};
pub use window::{
    window_amount_slots_for, window_index_slots_for, Added, Window, WindowEntry, WindowError,
    WindowStats, DEFAULT_SPAN,
};

/// Lent storage that is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CapacityError {
    /// The seen-txid set is at capacity.
    Txids,
    /// The output list is full.
    Outputs,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Txids => f.write_str("txid storage is full"),
            Self::Outputs => f.write_str("output storage is full"),
        }
    }
}

impl core::error::Error for CapacityError {}
