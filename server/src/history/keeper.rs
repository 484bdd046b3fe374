//! `serve --db`: keeps the history current while the server runs. Every
//! `--history-every` seconds it stores the live estimate, and prices the
//! days that ended since the last one stored (a week back at most; on an
//! empty file, yesterday) from the live source's own node or server, as
//! `fiatline backfill` would.
//!
//! A day is priced once its last block is 6 blocks deep (as `price --date`
//! requires), so a reorganisation shallower than that never reaches a
//! stored day.

use std::time::Duration;

use fiatline_adapters::{BlockSource, Network, UtcDate};

use super::fill::fill;
use super::store::{Estimate, Store};
use super::today;
use crate::price::Runs;
use crate::progress::Progress;

/// Days before yesterday the keeper fills at most (older ones are
/// `fiatline backfill`'s work).
const CATCH_UP_DAYS: i64 = 7;

/// What the keeper needs.
pub(crate) struct Keeper {
    pub(crate) store: Store,
    /// Reads the server's latest estimate.
    pub(crate) latest: Box<dyn Fn() -> Option<Estimate> + Send>,
    /// The live source's confirmed blocks, where it has them.
    pub(crate) blocks: Option<Box<dyn BlockSource>>,
    pub(crate) network: Network,
    pub(crate) every: Duration,
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
        let yesterday = UtcDate::of_unix(today().midnight() - 1);
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
}
