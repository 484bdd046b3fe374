//! Which blocks a run prices: the last 144, a height range, or a UTC day.

use std::fmt;

use crate::date::UtcDate;
use crate::{BlockRef, BlockSource, Retry, SourceError};

/// Blocks a date must be buried under, as in the reference.
pub const CONFIRMATIONS: u32 = 6;
/// Headers asked for at a time while walking a day.
const WALK: u32 = 24;

/// A run of blocks to price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The `n` blocks below the tip: heights `tip - n ..= tip - 1` (the
    /// reference's recent mode is `n = 144`).
    Recent(u32),
    /// Heights `first ..= last`.
    Heights(u32, u32),
    /// Every block of a UTC day: from the first block at or after 00:00 UTC,
    /// while the header's UTC date stays that block's date.
    Date(UtcDate),
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Recent(n) => write!(f, "the last {n} blocks"),
            Self::Heights(a, b) => write!(f, "heights {a}..{b}"),
            Self::Date(d) => write!(f, "{d}"),
        }
    }
}

/// Why a selection could not be made.
#[derive(Debug)]
#[non_exhaustive]
pub enum SelectError {
    /// The source failed.
    Source(SourceError),
    /// The date's day is not yet buried under enough blocks.
    TooRecent {
        /// The date asked for.
        date: UtcDate,
        /// The latest date that can be priced.
        latest: UtcDate,
    },
    /// The heights do not exist or make no run.
    Heights(String),
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Source(e) => e.fmt(f),
            Self::TooRecent { date, latest } => write!(
                f,
                "{date} is too recent: a day is priced once the block {CONFIRMATIONS} below the tip is past it; \
                 the latest date available now is {latest} (use --recent for the latest blocks)"
            ),
            Self::Heights(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SelectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Source(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SourceError> for SelectError {
    fn from(e: SourceError) -> Self {
        Self::Source(e)
    }
}

/// Finds the blocks of `selection`, asking `source` with `retry`.
///
/// # Errors
/// Returns a [`SelectError`] when the source fails or the selection is not
/// available yet.
pub fn select(
    source: &dyn BlockSource,
    selection: Selection,
    retry: Retry,
) -> Result<Vec<BlockRef>, SelectError> {
    let tip = retry.run(|| source.tip_height())?;
    let refs = |heights: &[u32]| retry.run(|| source.block_refs(heights));
    match selection {
        Selection::Recent(n) => {
            if n == 0 || n > tip {
                return Err(SelectError::Heights(format!(
                    "cannot take {n} blocks below tip {tip}"
                )));
            }
            let heights: Vec<u32> = (tip - n..tip).collect();
            Ok(refs(&heights)?)
        }
        Selection::Heights(first, last) => {
            if first > last || last > tip {
                return Err(SelectError::Heights(format!(
                    "heights {first}..{last} are not a run of existing blocks (the tip is {tip})"
                )));
            }
            let heights: Vec<u32> = (first..=last).collect();
            Ok(refs(&heights)?)
        }
        Selection::Date(date) => select_date(source, date, tip, retry),
    }
}

fn select_date(
    source: &dyn BlockSource,
    date: UtcDate,
    tip: u32,
    retry: Retry,
) -> Result<Vec<BlockRef>, SelectError> {
    let at = |h: u32| retry.run(|| source.block_ref(h));
    let consensus = tip.saturating_sub(CONFIRMATIONS);
    let latest = UtcDate::of_unix(i64::from(at(consensus)?.time));
    // The reference refuses the latest block's own date and later ones.
    if date >= latest {
        let available = UtcDate::of_unix(latest.midnight() - 1);
        return Err(SelectError::TooRecent {
            date,
            latest: available,
        });
    }
    let midnight = date.midnight();
    // A first guess as the reference makes it (a block every ten minutes
    // back from the consensus block) and a small margin, widened until it
    // is before midnight; then bisect for the first height at or after
    // midnight (block times are nearly monotonic) and step back over
    // stragglers. Close guesses matter for blk files, read whole.
    let latest_time = i64::from(at(consensus)?.time);
    let blocks_back = u32::try_from((latest_time - midnight).max(0) / 600).unwrap_or(u32::MAX);
    let mut margin = 6u32;
    let mut lo = consensus.saturating_sub(blocks_back.saturating_add(margin));
    while lo > 0 && i64::from(at(lo)?.time) >= midnight {
        margin = margin.saturating_mul(4);
        lo = consensus.saturating_sub(blocks_back.saturating_add(margin));
    }
    let mut hi = consensus;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if i64::from(at(mid)?.time) < midnight {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut start = at(lo)?;
    while start.height > 0 {
        let before = at(start.height - 1)?;
        if i64::from(before.time) < midnight {
            break;
        }
        start = before;
    }
    let day = UtcDate::of_unix(i64::from(start.time));
    let mut run = vec![start];
    let mut next = start.height + 1;
    'walk: while next <= tip {
        let heights: Vec<u32> = (next..=tip.min(next + WALK - 1)).collect();
        for r in retry.run(|| source.block_refs(&heights))? {
            if UtcDate::of_unix(i64::from(r.time)) != day {
                break 'walk;
            }
            run.push(r);
        }
        next += WALK;
    }
    Ok(run)
}
