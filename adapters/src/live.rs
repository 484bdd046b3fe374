//! The live interface: sources that push transactions and blocks as they
//! happen, beside the [`crate::BlockSource`]s that answer questions.

use std::time::Duration;

use fiatline_core::Txid;

use crate::{BlockHash, BlockSource, SourceError};

/// Something that happened at a live source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiveEvent {
    /// A transaction entered the mempool (or a recording), first seen at `time`.
    Tx {
        /// The serialised transaction.
        raw: Vec<u8>,
        /// First-seen time, Unix seconds.
        time: u32,
    },
    /// A transaction left the mempool without confirming (replaced,
    /// evicted, conflicted).
    Gone {
        /// The txid.
        txid: Txid,
    },
    /// A block was connected.
    Block {
        /// The serialised block.
        raw: Vec<u8>,
        /// When it arrived, Unix seconds.
        time: u32,
    },
    /// A block left the chain (a reorganisation). Its transactions stay
    /// in a live window: they are still real payments, most of them back
    /// in the mempool.
    Disconnected {
        /// The block's hash.
        hash: BlockHash,
    },
    /// Messages may have been missed (a gap in sequence numbers, or a
    /// reconnect); what follows is a resynchronisation of the mempool.
    Resync,
    /// A finite source (a recording) has nothing more.
    End,
}

/// What a live source can say of itself, for `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveStatus {
    /// Receiving now.
    pub connected: bool,
    /// Times messages were lost (sequence gaps, reconnects).
    pub gaps: u64,
    /// Resynchronisations completed (mempool listings loaded).
    pub resyncs: u64,
    /// Attempts that failed and were tried again (a node still starting).
    pub retries: u64,
    /// Inputs the source skipped as malformed (counted and logged there).
    pub skipped: u64,
    /// The source stopped for good on an error (a damaged recording).
    pub failed: bool,
    /// Whether the source sees the mempool, or only blocks.
    pub mempool: bool,
    /// Transactions the source knows of but has not passed on yet (a
    /// polling source working through a mempool listing).
    pub backlog: u64,
}

/// The wall clock in Unix seconds: when a live event happened. 0 before
/// 1970, `u32::MAX` past 2106, where a `u32` of seconds ends.
#[must_use]
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// Whose clock a source's times follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The wall clock: a live node's events happen now.
    #[default]
    Wall,
    /// The recording's: its times are when they were recorded, and the
    /// window expires by them.
    Recorded,
}

/// A source of live events.
pub trait LiveSource: Send {
    /// A short name for messages and `/health`.
    fn name(&self) -> &'static str;

    /// Waits at most `timeout` for the next event; `Ok(None)` when none came.
    ///
    /// # Errors
    /// Returns a [`SourceError`]: transient ones are worth calling again.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<LiveEvent>, SourceError>;

    /// Returns the source's state.
    fn status(&self) -> LiveStatus;

    /// Tells the source that the caller holds the blocks up to `height`,
    /// whose hash is `hash`, filled before the live
    /// events began. A source that follows the chain then passes on every
    /// block after it, including those found before its first poll; the
    /// others ignore this.
    fn follow_from(&mut self, height: u32, hash: BlockHash) {
        let _ = (height, hash);
    }

    /// Whose clock the source's times follow (the wall clock, unless it
    /// replays a recording).
    fn clock(&self) -> Clock {
        Clock::Wall
    }

    /// The source's own way to confirmed blocks (Core's RPC beside ZMQ, the
    /// Esplora or Electrum server itself), to fill the window at start
    /// without a second connection; `None` for a recording.
    ///
    /// # Errors
    /// Returns a [`SourceError`] when the source has to connect for it and cannot.
    fn block_source(&mut self) -> Result<Option<&dyn BlockSource>, SourceError> {
        Ok(None)
    }
}
