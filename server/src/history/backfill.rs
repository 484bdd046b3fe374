//! `fiatline backfill`: every UTC day of a range priced from a block
//! source, as `fiatline price --date D --refinement hourly` prices it, and
//! stored as soon as it is done. Days already stored are skipped, so a run
//! that was killed, started again, ends with the same rows: none missing,
//! none twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fiatline_adapters::exchange::ExchangeClient;
use fiatline_adapters::redact::redacted;
use fiatline_adapters::{parse_dates_between, BlockSource, Retry, UtcDate};

use super::blocks::fill_blocks;
use super::fill::fill;
use super::store::Store;
use super::HistoryError;
use fiatline_adapters::consensus::Outcome;

use crate::price::PriceError;
use crate::progress::Progress;
use crate::BackfillArgs;

/// Prices and stores the days of `args` not stored yet.
///
/// # Errors
/// Returns an error for bad dates, a history file that cannot be opened or
/// written (what was stored stays), a source that failed (the days done
/// stay), or days without a price (each is reported; the others are kept).
pub(crate) fn run(args: &BackfillArgs) -> Result<(), HistoryError> {
    let config = args.sources.config().map_err(PriceError::from)?;
    let network = config.network();
    // A day is stored once it is over: yesterday is the last.
    let genesis = UtcDate::new(2009, 1, 3).unwrap_or_else(|| UtcDate::of_unix(0));
    let last = UtcDate::of_unix(UtcDate::today().midnight() - 1);
    let to = args.to.clone().unwrap_or_else(|| last.to_string());
    let dates = parse_dates_between(&format!("{}..{to}", args.from), genesis, last)
        .map_err(PriceError::Date)?;
    let mut store = Store::open(&args.db, network)?;
    let first = dates.first().map(ToString::to_string).unwrap_or_default();
    let stored = store.dates(&first, &to)?;
    let todo: Vec<UtcDate> = dates
        .iter()
        .filter(|d| !stored.contains(&d.to_string()))
        .copied()
        .collect();
    eprintln!(
        "backfill: {} day(s) from {first} to {to}, {} already stored, {} to price ({})",
        dates.len(),
        stored.len(),
        todo.len(),
        args.db.display()
    );
    let open = || {
        config
            .open_blocks(args.source.backend())
            .map_err(PriceError::from)
    };
    if todo.is_empty() {
        exchange_prices(&store, args, &first, &to)?;
        if !args.blocks {
            return Ok(());
        }
        return block_rows(&mut store, &*open()?, args, &first, &to);
    }
    let source = open()?;
    let progress = Progress::new();
    let done = AtomicUsize::new(0);
    let filled = fill(
        &mut store,
        &*source,
        &todo,
        args.runs.runs(),
        network,
        &progress,
        &|_, _| {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress.note(&format!("{n}/{} days", todo.len()));
        },
    );
    progress.finish();
    if let Some(e) = filled.write_error {
        return Err(e.into());
    }
    exchange_prices(&store, args, &first, &to)?;
    let days = summarise(&todo, filled.results);
    // The blocks of the days that were priced, even when some were not.
    block_rows(&mut store, &*source, args, &first, &to)?;
    days
}

/// With `--blocks`: stores a row for every block of the stored days of the
/// range that has none yet.
fn block_rows(
    store: &mut Store,
    source: &dyn BlockSource,
    args: &BackfillArgs,
    from: &str,
    to: &str,
) -> Result<(), HistoryError> {
    if !args.blocks {
        return Ok(());
    }
    let Some((first, last)) = store.day_heights(from, to)? else {
        eprintln!("backfill: no stored day from {from} to {to}: no block to price");
        return Ok(());
    };
    let have = store.block_heights(first, last)?.len();
    eprintln!(
        "backfill: blocks {first} to {last}, {have} already stored, {} to price",
        (last - first + 1) as usize - have
    );
    let progress = Progress::new();
    progress.note("blocks");
    let filled = fill_blocks(store, source, first..=last, args.runs.runs(), &progress);
    progress.finish();
    let filled = filled?;
    eprintln!(
        "backfill: stored {} block row(s){}{}",
        filled.stored,
        if filled.unpriced > 0 {
            format!(", {} without a price", filled.unpriced)
        } else {
            String::new()
        },
        filled.per_warm_row().map_or_else(String::new, |t| format!(
            "; {:.2} ms a row once the window was warm",
            t.as_secs_f64() * 1e3
        ))
    );
    Ok(())
}

/// Reports the days without a price; the run's error if there were some.
fn summarise(
    todo: &[UtcDate],
    results: Vec<Result<Outcome, PriceError>>,
) -> Result<(), HistoryError> {
    let mut failed = 0;
    let mut first_error = None;
    for (day, result) in todo.iter().zip(results) {
        if let Err(e) = result {
            failed += 1;
            if !matches!(e, PriceError::NotRun) {
                eprintln!("error: {day}: {e}");
            }
            first_error.get_or_insert(e);
        }
    }
    eprintln!(
        "backfill: stored {} day(s){}",
        todo.len() - failed,
        if failed > 0 {
            format!(", {failed} without a price (run again to retry them)")
        } else {
            String::new()
        }
    );
    match first_error {
        None => Ok(()),
        Some(e) if todo.len() == 1 => Err(e.into()),
        Some(e) => Err(PriceError::Several {
            failed,
            of: todo.len(),
            code: e.exit_code(),
        }
        .into()),
    }
}

/// With `--exchange-url`: fetches the exchange's price of every stored day
/// of the range that has none yet (noon UTC, as `price --compare` asks),
/// and stores it apart from the on-chain rows. A day the feed has no price
/// for is reported and tried again on the next run.
fn exchange_prices(
    store: &Store,
    args: &BackfillArgs,
    from: &str,
    to: &str,
) -> Result<(), HistoryError> {
    let Some(url) = &args.exchange_url else {
        return Ok(());
    };
    let client = ExchangeClient::new(url, Duration::from_secs(20));
    let retry = Retry {
        attempts: args.runs.retries,
        ..Retry::default()
    };
    let shown = redacted(url);
    let days = store.days_without_exchange(from, to)?;
    let (mut stored, mut failed) = (0, 0);
    for (date, midnight) in &days {
        let noon = u32::try_from(midnight + 43_200).unwrap_or(u32::MAX);
        match retry.run(|| client.historical(noon)) {
            Ok(quote) => {
                store.put_exchange(date, i64::from(quote.time), quote.usd, &shown)?;
                stored += 1;
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {date}: no exchange price: {e}");
            }
        }
    }
    if !days.is_empty() {
        eprintln!("backfill: exchange prices from {shown}: {stored} stored, {failed} failed");
    }
    Ok(())
}
