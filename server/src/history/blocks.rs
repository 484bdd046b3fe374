//! Per-block rows into the store: the series of [`super::series`] fed
//! from a block source. `backfill --blocks` splits the heights to price
//! into one piece per job, each with its own series warmed up on the
//! blocks before its first; `serve --db` keeps one series going as blocks
//! arrive (see [`super::keeper`]).

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fiatline_adapters::{fetch_in_order, BlockSource, Retry, SourceError};
use fiatline_core::EstimateError;

use super::series::{BlockPrice, Series, SeriesError, SERIES_BLOCKS};
use super::store::{BlockRow, Store, StoreError};
use super::HistoryError;
use crate::price::{PriceError, Runs};
use crate::progress::Progress;

/// Rows written to the store at once: each batch is one transaction, so a
/// process killed midway keeps every batch it finished.
const BATCH: usize = 144;

/// Pieces shorter than this are not split further between jobs: each
/// piece prices `SERIES_BLOCKS - 1` blocks before its first row.
const MIN_PIECE: u32 = 8 * SERIES_BLOCKS;

/// What a block fill did.
#[derive(Debug, Default)]
pub(crate) struct BlocksFilled {
    /// Rows stored.
    pub(crate) stored: u64,
    /// Heights whose window held no price (no row; tried again next run).
    pub(crate) unpriced: u64,
    /// Rows priced after each piece's first, and the time they took in
    /// all (each piece's own, so two jobs add up their times): what a row
    /// costs once a piece's window is warm.
    pub(crate) warm: (u64, Duration),
}

impl BlocksFilled {
    /// The time a row took once its piece's window was warm, on its job.
    pub(crate) fn per_warm_row(&self) -> Option<Duration> {
        let rows = u32::try_from(self.warm.0).ok().filter(|&r| r > 0)?;
        Some(self.warm.1 / rows)
    }
}

/// Why feeding blocks to a series stopped.
#[derive(Debug)]
pub(crate) enum FeedError {
    /// The source failed.
    Source(SourceError),
    /// A block could not go into the series.
    Series(SeriesError),
    /// Storing a row failed.
    Store(StoreError),
    /// Another piece failed first.
    Stopped,
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Source(e) => e.fmt(f),
            Self::Series(e) => e.fmt(f),
            Self::Store(e) => e.fmt(f),
            Self::Stopped => f.write_str("stopped after another piece failed"),
        }
    }
}

impl std::error::Error for FeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Source(e) => Some(e),
            Self::Series(e) => Some(e),
            Self::Store(e) => Some(e),
            Self::Stopped => None,
        }
    }
}

impl From<SourceError> for FeedError {
    fn from(e: SourceError) -> Self {
        Self::Source(e)
    }
}

impl From<FeedError> for HistoryError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Source(e) => Self::Price(PriceError::Source(e)),
            FeedError::Series(e) => Self::Series(e),
            FeedError::Store(e) => Self::Store(e),
            FeedError::Stopped => Self::Price(PriceError::NotRun),
        }
    }
}

/// Feeds `series` the blocks `heights` of `source` in order, `fetchers`
/// at a time, and hands each priced window to `priced` (heights whose
/// window is not full yet give nothing).
///
/// # Errors
/// Returns the source's, the series' or `priced`'s error.
pub(crate) fn feed(
    series: &mut Series,
    source: &dyn BlockSource,
    heights: RangeInclusive<u32>,
    fetchers: usize,
    retry: Retry,
    mut priced: impl FnMut(u32, Option<Result<BlockPrice, EstimateError>>) -> Result<(), FeedError>,
) -> Result<(), FeedError> {
    let heights: Vec<u32> = heights.collect();
    let mut refs = Vec::with_capacity(heights.len());
    for chunk in heights.chunks(1_000) {
        refs.extend(retry.run(|| source.block_refs(chunk))?);
    }
    fetch_in_order(source, &refs, fetchers, retry, |r, raw| {
        let got = series.push(raw, r.height).map_err(FeedError::Series)?;
        priced(r.height, got)
    })
}

/// Prices and stores every height of `heights` that has no row yet, the
/// missing ones split between `runs.jobs` pieces.
///
/// # Errors
/// Returns the first error of a piece (the source, a block, a write);
/// the rows stored before it stay.
pub(crate) fn fill_blocks(
    store: &mut Store,
    source: &dyn BlockSource,
    heights: RangeInclusive<u32>,
    runs: Runs,
    progress: &Progress,
) -> Result<BlocksFilled, HistoryError> {
    let stored = store.block_heights(*heights.start(), *heights.end())?;
    let pieces = pieces(&missing(heights, &stored), runs.jobs);
    let warm = SERIES_BLOCKS - 1;
    progress.expect(
        pieces
            .iter()
            .map(|p| (p.end() - p.start().saturating_sub(warm) + 1) as usize)
            .sum(),
    );
    let shared = Pieces {
        source,
        fetchers: runs.fetchers,
        retry: Retry {
            attempts: runs.retries,
            ..Retry::default()
        },
        stop: AtomicBool::new(false),
        store: Mutex::new(store),
        stored: AtomicU64::new(0),
        unpriced: AtomicU64::new(0),
        warm: Mutex::new((0, Duration::ZERO)),
        progress,
    };
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<FeedError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..runs.jobs.clamp(1, pieces.len().max(1)) {
            scope.spawn(|| {
                while let Some(piece) = pieces.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let Err(e) = shared.fill(piece) else { continue };
                    shared.stop.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = first_error.lock() {
                        // The piece that failed first names the cause, not
                        // the pieces it stopped.
                        if slot
                            .as_ref()
                            .is_none_or(|s| matches!(s, FeedError::Stopped))
                        {
                            *slot = Some(e);
                        }
                    }
                    break;
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e.into());
    }
    Ok(BlocksFilled {
        stored: shared.stored.into_inner(),
        unpriced: shared.unpriced.into_inner(),
        warm: shared.warm.into_inner().unwrap_or_default(),
    })
}

/// What every piece of a fill shares.
struct Pieces<'a> {
    source: &'a dyn BlockSource,
    fetchers: usize,
    retry: Retry,
    /// Set when a piece failed: the others stop at their next block.
    stop: AtomicBool,
    store: Mutex<&'a mut Store>,
    stored: AtomicU64,
    unpriced: AtomicU64,
    /// Rows after each piece's first and their time, as [`BlocksFilled::warm`].
    warm: Mutex<(u64, Duration)>,
    progress: &'a Progress,
}

impl Pieces<'_> {
    /// Prices one piece: its series warmed up on the blocks before it.
    fn fill(&self, piece: &RangeInclusive<u32>) -> Result<(), FeedError> {
        let mut series = Series::new(SERIES_BLOCKS).map_err(FeedError::Series)?;
        let first = *piece.start();
        let mut batch = Vec::with_capacity(BATCH);
        // From the first row on, the window is warm.
        let mut warm: Option<(Instant, u64)> = None;
        feed(
            &mut series,
            self.source,
            first.saturating_sub(SERIES_BLOCKS - 1)..=*piece.end(),
            self.fetchers,
            self.retry,
            |height, priced| {
                self.progress.tick();
                if self.stop.load(Ordering::Relaxed) {
                    return Err(FeedError::Stopped);
                }
                if height < first {
                    return Ok(());
                }
                match &mut warm {
                    Some((_, rows)) => *rows += 1,
                    None => warm = Some((Instant::now(), 0)),
                }
                match priced {
                    Some(Ok(p)) => batch.push(BlockRow::of(&p)),
                    Some(Err(e)) => {
                        self.unpriced.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("block {height}: no price: {e}");
                    }
                    // Below height 143 no window is whole: no row, as no
                    // 144-block `price --heights` run ends there.
                    None => {}
                }
                if batch.len() >= BATCH {
                    self.write(&batch)?;
                    batch.clear();
                }
                Ok(())
            },
        )?;
        if !batch.is_empty() {
            self.write(&batch)?;
        }
        if let (Some((since, rows)), Ok(mut total)) = (warm, self.warm.lock()) {
            total.0 += rows;
            total.1 += since.elapsed();
        }
        Ok(())
    }

    fn write(&self, batch: &[BlockRow]) -> Result<(), FeedError> {
        let Ok(mut store) = self.store.lock() else {
            return Err(FeedError::Stopped);
        };
        store.put_blocks(batch).map_err(FeedError::Store)?;
        self.stored.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// The runs of heights in `range` not in `stored` (ascending).
fn missing(range: RangeInclusive<u32>, stored: &[u32]) -> Vec<RangeInclusive<u32>> {
    let end = *range.end();
    let mut out = Vec::new();
    let mut have = stored.iter().copied().peekable();
    let mut start = None;
    for h in range {
        while have.next_if(|&s| s < h).is_some() {}
        if have.next_if_eq(&h).is_some() {
            if let Some(s) = start.take() {
                out.push(s..=h - 1);
            }
        } else if start.is_none() {
            start = Some(h);
        }
    }
    if let Some(s) = start {
        out.push(s..=end);
    }
    out
}

/// Splits `runs` so `jobs` threads share them, no piece under
/// [`MIN_PIECE`] blocks unless its run is.
fn pieces(runs: &[RangeInclusive<u32>], jobs: usize) -> Vec<RangeInclusive<u32>> {
    let total: u64 = runs
        .iter()
        .map(|r| u64::from(r.end() - r.start()) + 1)
        .sum();
    let jobs = u64::try_from(jobs.max(1)).unwrap_or(1);
    let size = u32::try_from(total.div_ceil(jobs))
        .unwrap_or(u32::MAX)
        .max(MIN_PIECE);
    let mut out = Vec::new();
    for r in runs {
        let mut start = *r.start();
        loop {
            let end = start.saturating_add(size - 1).min(*r.end());
            out.push(start..=end);
            if end == *r.end() {
                break;
            }
            start = end + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_heights_come_in_runs_split_between_jobs() {
        assert_eq!(missing(10..=20, &[]), [10..=20]);
        assert_eq!(
            missing(10..=20, &[3, 10, 11, 15, 20, 30]),
            [12..=14, 16..=19]
        );
        assert_eq!(
            missing(10..=12, &[10, 11, 12]),
            Vec::<RangeInclusive<u32>>::new()
        );
        let big = 100_000..=100_000 + 4 * MIN_PIECE - 1;
        assert_eq!(
            pieces(std::slice::from_ref(&big), 2),
            [
                100_000..=100_000 + 2 * MIN_PIECE - 1,
                100_000 + 2 * MIN_PIECE..=*big.end()
            ]
        );
        // Short runs are not cut below MIN_PIECE.
        assert_eq!(pieces(&[5..=9, 20..=20], 8), [5..=9, 20..=20]);
    }
}
