//! `serve --db`: keeps the history current while the server runs. Every
//! `--history-every` seconds it stores the live estimate, and prices the
//! days that ended since the last one stored (a week back at most; on an
//! empty file, yesterday) from the live source's own node or server, as
//! `fiatline backfill` would.
//!
//! A day is priced once its last block is 6 blocks deep (as `price --date`
//! requires), so a reorganisation shallower than that never reaches a
//! stored day.
//!
//! Blocks are followed as they arrive (the one chain follower): each
//! connected block gets its row (the price of the 144 blocks ending at it),
//! and a reorganisation removes the rows of the blocks it disconnected
//! before the new branch's rows go in. On an empty file the rows start a
//! day of blocks below the tip; after a restart, at the last stored row.

use std::time::Duration;

use fiatline_adapters::follower::{ChainChange, ChainFollower};
use fiatline_adapters::{BlockHash, BlockSource, Network, Retry, UtcDate};

use super::blocks::{feed, FeedError};
use super::fill::fill;
use super::series::{Series, SERIES_BLOCKS};
use super::store::{BlockRow, Estimate, Store};
use crate::price::Runs;
use crate::progress::Progress;

/// Days before yesterday the keeper fills at most (older ones are
/// `fiatline backfill`'s work).
const CATCH_UP_DAYS: i64 = 7;

/// Blocks the follower remembers: the deepest reorganisation whose rows
/// are replaced block by block (a deeper one is walked back from below).
const REMEMBERED_BLOCKS: usize = 144;

/// Blocks the follower brings at once after a pause (a week of them);
/// older gaps are `fiatline backfill --blocks`'s work.
const CATCH_UP_BLOCKS: u32 = 7 * SERIES_BLOCKS;

/// The per-block rows' follower and the window it slides.
#[derive(Debug, Default)]
pub(crate) struct Following {
    follower: Option<ChainFollower>,
    /// The series, when it ends at the follower's tip.
    series: Option<Series>,
}

/// What the keeper needs.
pub(crate) struct Keeper {
    pub(crate) store: Store,
    /// Reads the server's latest estimate.
    pub(crate) latest: Box<dyn Fn() -> Option<Estimate> + Send>,
    /// The live source's confirmed blocks, where it has them.
    pub(crate) blocks: Option<Box<dyn BlockSource>>,
    pub(crate) network: Network,
    pub(crate) every: Duration,
    pub(crate) following: Following,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Keeper {
    /// Runs on a thread of its own until the process ends.
    ///
    /// # Errors
    /// Returns the error of a thread that cannot be started.
    pub(crate) fn start(self) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("history".into())
            .spawn(move || self.run())
            .map(drop)
    }

    fn run(mut self) {
        let mut last_estimate = None;
        loop {
            self.catch_up();
            if let Err(e) = self.follow_blocks() {
                tracing::warn!("history: per-block rows: {e}; tried again next round");
            }
            std::thread::sleep(self.every);
            if let Some(e) = (self.latest)() {
                // A replay that ended, or a node that went quiet, gives the
                // same estimate again: stored once.
                if last_estimate != Some(e.time) {
                    last_estimate = Some(e.time);
                    if let Err(e) = self.store.put_estimate(&e) {
                        tracing::error!("{e}");
                    }
                }
            }
        }
    }

    /// Prices the days that ended since the last one stored.
    fn catch_up(&mut self) {
        let Some(blocks) = &self.blocks else { return };
        let yesterday = UtcDate::of_unix(UtcDate::today().midnight() - 1);
        let week_ago = UtcDate::of_unix(yesterday.midnight() - CATCH_UP_DAYS * 86_400);
        let last = match self.store.last_date() {
            Ok(last) => last.and_then(|d| d.parse::<UtcDate>().ok()),
            Err(e) => {
                tracing::error!("{e}");
                return;
            }
        };
        // The days since the last one stored (a week at most); on an empty
        // file, yesterday alone: older days are `fiatline backfill`'s work.
        let mut day = last.map_or(yesterday, UtcDate::succ).max(week_ago);
        let mut todo = Vec::new();
        while day <= yesterday {
            todo.push(day);
            day = day.succ();
        }
        if todo.is_empty() {
            return;
        }
        let runs = Runs {
            jobs: 1,
            fetchers: 4,
            retries: 3,
        };
        let filled = fill(
            &mut self.store,
            &**blocks,
            &todo,
            runs,
            self.network,
            &Progress::hidden(),
            &|date, report| {
                tracing::info!(
                    price = report.price,
                    "history: stored {date}: ${:.0}",
                    report.headline()
                );
            },
        );
        for (day, result) in todo.iter().zip(&filled.results) {
            // Not buried yet, or the node away: tried next round.
            if let Err(e) = result {
                tracing::debug!("history: {day} not priced yet: {e}");
            }
        }
        if let Some(e) = filled.write_error {
            tracing::error!("history: {e}; tried again next round");
        }
    }

    /// Brings the per-block rows to the source's tip: rows of blocks a
    /// reorganisation disconnected go, each connected block gets its row.
    /// After a failure the follower starts again from the last row stored,
    /// so the blocks it had passed on but not stored are not lost.
    fn follow_blocks(&mut self) -> Result<(), FeedError> {
        let result = self.follow_blocks_once();
        if result.is_err() {
            self.following = Following::default();
        }
        result
    }

    fn follow_blocks_once(&mut self) -> Result<(), FeedError> {
        let Some(source) = &self.blocks else {
            return Ok(());
        };
        let follow = &mut self.following;
        if follow.follower.is_none() {
            // Go on from the last row stored, or start a day below the tip.
            let stored = self
                .store
                .last_block()
                .map_err(FeedError::Store)?
                .and_then(|(height, hash)| Some((height, hash.parse::<BlockHash>().ok()?)));
            let (height, hash) = if let Some(stored) = stored {
                stored
            } else {
                let h = source.tip_height()?.saturating_sub(SERIES_BLOCKS);
                (h, source.block_ref(h)?.hash)
            };
            let mut f = ChainFollower::new(REMEMBERED_BLOCKS, CATCH_UP_BLOCKS);
            f.start_at(height, hash);
            follow.follower = Some(f);
        }
        let Some(follower) = follow.follower.as_mut() else {
            return Ok(());
        };
        let mut rows = Vec::new();
        for change in follower.sync(&**source)? {
            match change {
                ChainChange::Disconnected { height, .. } => {
                    follow.series = None;
                    rows.retain(|r: &BlockRow| r.height < height);
                    let gone = self
                        .store
                        .remove_blocks_from(height)
                        .map_err(FeedError::Store)?;
                    if gone > 0 {
                        tracing::info!(
                            "history: block {height} left the chain: {gone} row(s) removed"
                        );
                    }
                }
                ChainChange::Connected { height, raw, .. } => {
                    let series = match &mut follow.series {
                        Some(s) if s.last_height() == height.checked_sub(1) => s,
                        _ => follow.series.insert(warmed(&**source, height)?),
                    };
                    match series.push(&raw, height).map_err(FeedError::Series)? {
                        Some(Ok(p)) => rows.push(BlockRow::of(&p)),
                        Some(Err(e)) => tracing::debug!("history: block {height}: no price: {e}"),
                        None => {}
                    }
                }
            }
        }
        if !rows.is_empty() {
            self.store.put_blocks(&rows).map_err(FeedError::Store)?;
            tracing::debug!("history: {} block row(s) stored", rows.len());
        }
        Ok(())
    }
}

/// A series holding the blocks below `height` (`SERIES_BLOCKS - 1` of them).
fn warmed(source: &dyn BlockSource, height: u32) -> Result<Series, FeedError> {
    let mut series = Series::new(SERIES_BLOCKS).map_err(FeedError::Series)?;
    if height > 0 {
        feed(
            &mut series,
            source,
            height.saturating_sub(SERIES_BLOCKS - 1)..=height - 1,
            4,
            Retry::default(),
            |_, _| Ok(()),
        )?;
    }
    Ok(series)
}
