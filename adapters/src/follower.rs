//! One chain follower for every source that learns of blocks by asking: it
//! remembers the last blocks it passed on and, brought to a source's tip,
//! reports the blocks connected since and, after a reorganisation, the
//! blocks disconnected back to the fork (lightning-block-sync's shape).

use std::collections::VecDeque;

use crate::{BlockHash, BlockRef, BlockSource, SourceError};

/// A change of the followed chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainChange {
    /// A block joined the chain; its bytes as the source gave them.
    Connected {
        /// Its height.
        height: u32,
        /// Its hash.
        hash: BlockHash,
        /// The serialised block.
        raw: Vec<u8>,
    },
    /// A block left the chain (a reorganisation), tip first.
    Disconnected {
        /// Its height.
        height: u32,
        /// Its hash.
        hash: BlockHash,
    },
}

/// Follows a chain from a starting block.
#[derive(Debug, Clone)]
pub struct ChainFollower {
    /// The last blocks passed on, oldest first.
    recent: VecDeque<(u32, BlockHash)>,
    keep: usize,
    max_catch_up: u32,
}

impl ChainFollower {
    /// A follower that remembers `keep` blocks (the deepest reorganisation
    /// it can walk back) and brings at most `max_catch_up` blocks at once (a
    /// source that fell further behind skips to the last ones).
    pub fn new(keep: usize, max_catch_up: u32) -> Self {
        Self {
            recent: VecDeque::new(),
            keep: keep.max(1),
            max_catch_up: max_catch_up.max(1),
        }
    }

    /// Continues from `height`/`hash`, forgetting what came before (the
    /// caller filled everything up to there by other means).
    pub fn start_at(&mut self, height: u32, hash: BlockHash) {
        self.recent.clear();
        self.recent.push_back((height, hash));
    }

    /// The last block passed on.
    pub fn tip(&self) -> Option<(u32, BlockHash)> {
        self.recent.back().copied()
    }

    /// Notes a block passed on by other means (a push notification):
    /// returns its height when it extends the tip, `None` when it does not
    /// (the caller should [`sync`](Self::sync) then).
    pub fn note(&mut self, prev: BlockHash, hash: BlockHash) -> Option<u32> {
        let (height, tip) = self.tip()?;
        if tip == hash {
            return Some(height);
        }
        (tip == prev).then(|| {
            self.push(height + 1, hash);
            height + 1
        })
    }

    fn push(&mut self, height: u32, hash: BlockHash) {
        self.recent.push_back((height, hash));
        while self.recent.len() > self.keep {
            self.recent.pop_front();
        }
    }

    /// Brings the follower to `source`'s tip: the blocks taken back by a
    /// reorganisation (tip first), then the blocks connected since, in
    /// order. Not started yet, it starts at the source's tip and reports
    /// nothing. On an error, what was reported so far stands and the next
    /// call goes on from there.
    ///
    /// # Errors
    /// Returns the source's error.
    pub fn sync(&mut self, source: &dyn BlockSource) -> Result<Vec<ChainChange>, SourceError> {
        let tip = source.tip_height()?;
        self.sync_to(source, tip)
    }

    /// As [`ChainFollower::sync`], to a tip height the caller already knows
    /// (a header notification's).
    ///
    /// # Errors
    /// Returns the source's error.
    pub fn sync_to(
        &mut self,
        source: &dyn BlockSource,
        tip: u32,
    ) -> Result<Vec<ChainChange>, SourceError> {
        let mut changes = Vec::new();
        let Some(&(mut height, _)) = self.recent.back() else {
            let r = source.block_ref(tip)?;
            self.start_at(tip, r.hash);
            return Ok(changes);
        };
        // Walk back while the source's chain disagrees (or is shorter).
        let mut lowest_dropped = None;
        while let Some(&(h, hash)) = self.recent.back() {
            if h <= tip && source.block_ref(h)?.hash == hash {
                break;
            }
            self.recent.pop_back();
            lowest_dropped = Some(h);
            changes.push(ChainChange::Disconnected { height: h, hash });
        }
        if let Some(&(h, _)) = self.recent.back() {
            height = h;
        } else if let Some(low) = lowest_dropped {
            // Deeper than remembered: go on from below the lowest block dropped.
            height = low.saturating_sub(1);
            let r = source.block_ref(height)?;
            self.start_at(height, r.hash);
        }
        let mut from = height + 1;
        if tip >= from && tip - from + 1 > self.max_catch_up {
            let skipped = tip + 1 - self.max_catch_up - from;
            tracing::warn!("{}: {skipped} blocks behind the tip skipped", source.name());
            from = tip + 1 - self.max_catch_up;
            let r = source.block_ref(from - 1)?;
            self.start_at(from - 1, r.hash);
        }
        for h in from..=tip {
            let r: BlockRef = source.block_ref(h)?;
            let raw = source.raw_block(&r)?;
            let prev = raw
                .get(4..36)
                .and_then(|p| <[u8; 32]>::try_from(p).ok())
                .map(BlockHash);
            if prev != self.tip().map(|(_, hash)| hash) {
                // The chain moved while we read it: the next sync sorts it out.
                break;
            }
            self.push(h, r.hash);
            changes.push(ChainChange::Connected {
                height: h,
                hash: r.hash,
                raw,
            });
        }
        Ok(changes)
    }
}
