//! Days priced into the store: each as `fiatline price --date D
//! --refinement hourly` prices it, stored as soon as it is. The one way
//! `backfill` and `serve --db` fill the history.

use std::sync::Mutex;

use fiatline_adapters::consensus::Outcome;
use fiatline_adapters::report::Report;
use fiatline_adapters::{BlockSource, Network, Selection, UtcDate};

use super::store::{Store, StoreError};
use crate::price::{self, Mode, PriceError, Runs};
use crate::progress::Progress;
use crate::RefinementArg;

/// What a fill did.
#[derive(Debug)]
pub(crate) struct Filled {
    /// Each day's pricing, in the order asked.
    pub(crate) results: Vec<Result<Outcome, PriceError>>,
    /// The first write that failed: it stopped the days not started yet.
    pub(crate) write_error: Option<StoreError>,
}

/// Prices `days` from `source`, `runs.jobs` at a time, storing each in
/// `store` the moment it is priced (so a process killed midway keeps every
/// day it finished), and calls `on_stored` for each one stored.
pub(crate) fn fill(
    store: &mut Store,
    source: &dyn BlockSource,
    days: &[UtcDate],
    runs: Runs,
    network: Network,
    progress: &Progress,
    on_stored: &(dyn Fn(&str, &Report) + Sync),
) -> Filled {
    let selections: Vec<(Option<String>, Selection)> = days
        .iter()
        .map(|d| (Some(d.to_string()), Selection::Date(*d)))
        .collect();
    let store = Mutex::new(store);
    let write_error: Mutex<Option<StoreError>> = Mutex::new(None);
    let results = price::run_all(
        source,
        &selections,
        runs,
        Mode::of(RefinementArg::Hourly),
        progress,
        &|i, result| {
            let (Ok(outcome), Some(day)) = (result, days.get(i)) else {
                // No price (yet): the caller reports it; the others go on.
                return true;
            };
            let date = day.to_string();
            let report = Report::new(Some(date.clone()), outcome).on_network(network);
            let Ok(mut store) = store.lock() else {
                return false;
            };
            match store.put(&date, day.midnight(), &report) {
                Ok(()) => {
                    on_stored(&date, &report);
                    true
                }
                Err(e) => {
                    if let Ok(mut slot) = write_error.lock() {
                        slot.get_or_insert(e);
                    }
                    false
                }
            }
        },
    );
    Filled {
        results,
        write_error: write_error.into_inner().ok().flatten(),
    }
}
