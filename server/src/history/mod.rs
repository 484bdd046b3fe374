//! The price history: a store of daily prices (`store`), filled by
//! `fiatline backfill` (`backfill`) and kept current by `serve --db`
//! (`keeper`), read by `fiatline history` (`query`) and `serve --db`
//! (through the connections `readers` keeps).

pub(crate) mod backfill;
pub(crate) mod block_text;
pub(crate) mod blocks;
pub(crate) mod chart;
pub(crate) mod fill;
pub(crate) mod keeper;
pub(crate) mod query;
pub(crate) mod readers;
pub(crate) mod series;
pub(crate) mod store;

use std::fmt;

use crate::price::PriceError;
use store::StoreError;

/// Why a history command failed.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum HistoryError {
    /// The history file.
    Store(StoreError),
    /// Pricing the days (flags, dates, the source, the estimate).
    Price(PriceError),
    /// `--db` names no file.
    NoDatabase(std::path::PathBuf),
    /// `--chart` names no file a chart can be written to.
    ChartPath(crate::chart::ChartPathError),
    /// A `--from`/`--to` date that does not parse (the error names it).
    Date(fiatline_adapters::DateError),
    /// A block the per-block series could not take.
    Series(series::SeriesError),
    /// The chart could not be written.
    Chart(std::path::PathBuf, std::io::Error),
    /// The listing could not be written to stdout.
    Output(std::io::Error),
}

impl HistoryError {
    /// 1: a day without a price; 2: bad input or a history file that
    /// cannot be used; 3: the source failed.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Store(_)
            | Self::NoDatabase(_)
            | Self::ChartPath(_)
            | Self::Date(_)
            | Self::Series(_)
            | Self::Chart(..)
            | Self::Output(_) => 2,
            Self::Price(e) => e.exit_code(),
        }
    }
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => e.fmt(f),
            Self::Price(e) => e.fmt(f),
            Self::NoDatabase(path) => write!(
                f,
                "no history database {} (fill one with fiatline backfill)",
                path.display()
            ),
            Self::ChartPath(e) => e.fmt(f),
            Self::Date(e) => e.fmt(f),
            Self::Series(e) => e.fmt(f),
            Self::Chart(p, e) => write!(f, "--chart {}: {e}", p.display()),
            Self::Output(e) => write!(f, "cannot write the listing: {e}"),
        }
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => Some(e),
            Self::Price(e) => Some(e),
            Self::Series(e) => Some(e),
            Self::Chart(_, e) | Self::Output(e) => Some(e),
            Self::ChartPath(e) => Some(e),
            Self::Date(e) => Some(e),
            Self::NoDatabase(_) => None,
        }
    }
}

impl From<StoreError> for HistoryError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<PriceError> for HistoryError {
    fn from(e: PriceError) -> Self {
        Self::Price(e)
    }
}
