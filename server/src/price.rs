//! `fiatline price`: consensus runs over dates, recent blocks, a height
//! range, or block files.

use std::fmt;
use std::path::{Path, PathBuf};

use fiatline_adapters::exchange::ExchangeClient;
use fiatline_adapters::Network;
use fiatline_adapters::{
    fetch_in_order, parse_dates_between, select, BlockSource, DateError, Retry, SelectError,
    Selection, SourceError, UtcDate,
};
use fiatline_core::{EstimateError, RefineError, Refinement};

use crate::blockfile::{self, BlockFileError};
use crate::chart::ChartPathError;
use crate::compare::{compare, Comparison, DEFAULT_THRESHOLD};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::{chart, PriceArgs, RefinementArg};
use fiatline_adapters::consensus::{BadBlock, Consensus, Outcome};

/// Transactions per block to size a run's storage before it starts (it
/// grows if blocks hold more).
const TXS_PER_BLOCK_GUESS: usize = 3_000;

/// Why `fiatline price` failed.
#[derive(Debug)]
pub(crate) enum PriceError {
    /// `--chart` names no file a chart can be written to.
    ChartPath(ChartPathError),
    /// `--heights` is not `A..B`: what was given.
    Heights(String),
    /// A run's thread ended without an answer (it panicked).
    Stopped,
    Date(DateError),
    BlockFile(BlockFileError),
    Source(SourceError),
    Select(SelectError),
    BadBlock(BadBlock),
    Estimate(EstimateError),
    Refine(RefineError),
    Chart(PathBuf, std::io::Error),
    /// Not run: the source had failed on an earlier run.
    NotRun,
    /// Some runs of several failed (each was reported); the first one's code.
    Several {
        failed: usize,
        of: usize,
        code: u8,
    },
}

impl PriceError {
    /// 1: no price in good data; 2: bad input (flags, dates, files, blocks);
    /// 3: the source failed (unreachable, credentials, errors).
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Estimate(_) | Self::Refine(_) => 1,
            Self::Source(e) | Self::Select(SelectError::Source(e)) if e.is_bad_input() => 2,
            Self::Source(_) | Self::Select(SelectError::Source(_)) => 3,
            Self::Several { code, .. } => *code,
            _ => 2,
        }
    }
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChartPath(e) => e.fmt(f),
            Self::Heights(range) => {
                write!(f, "--heights {range:?}: expected A..B, e.g. 840000..840143")
            }
            Self::Stopped => f.write_str("a run stopped unexpectedly"),
            Self::Date(e) => e.fmt(f),
            Self::BlockFile(e) => e.fmt(f),
            Self::Source(e) => write!(f, "{e}"),
            Self::Select(e) => e.fmt(f),
            Self::BadBlock(e) => e.fmt(f),
            Self::Estimate(e) => write!(f, "no price from these blocks: {e}"),
            Self::Refine(e) => write!(f, "no refined price from these blocks: {e}"),
            Self::Chart(path, e) => write!(f, "cannot write the chart {}: {e}", path.display()),
            Self::NotRun => f.write_str("not run: the source failed on an earlier run"),
            Self::Several { failed, of, .. } => {
                write!(f, "{failed} of {of} runs failed (see above)")
            }
        }
    }
}

impl std::error::Error for PriceError {}

impl From<SourceError> for PriceError {
    fn from(e: SourceError) -> Self {
        Self::Source(e)
    }
}

/// How a run's final price is made: step 11's variant, and whether the
/// hourly refinement follows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub(crate) refinement: Refinement,
    pub(crate) hourly: bool,
}

impl Mode {
    pub(crate) fn of(arg: RefinementArg) -> Self {
        let (refinement, hourly) = match arg {
            RefinementArg::Reference => (Refinement::Reference, false),
            RefinementArg::Recentre => (Refinement::Recentre, false),
            // The hourly refinement starts from the reference's price.
            RefinementArg::Hourly => (Refinement::Reference, true),
        };
        Self { refinement, hourly }
    }

    /// Finishes a run: the estimate, then the hourly path from `start`
    /// (the date's 00:00 UTC; the first block's time without one).
    fn finish(self, consensus: &Consensus, start: Option<i64>) -> Result<Outcome, PriceError> {
        let mut outcome = consensus
            .finish(self.refinement)
            .map_err(PriceError::Estimate)?;
        if self.hourly {
            outcome.refine_hourly(start).map_err(PriceError::Refine)?;
        }
        Ok(outcome)
    }
}

pub(crate) fn run(args: &PriceArgs) -> Result<(), PriceError> {
    let mode = Mode::of(args.refinement);
    if let Some(path) = &args.chart {
        chart::check_path(path).map_err(PriceError::ChartPath)?;
    }
    let format = report::Format::of(args.json, args.csv);
    if !args.what.block_files.is_empty() {
        let outcome = price_files(&args.what.block_files, mode)?;
        // Raw blocks carry no network: mainnet unless --chain says otherwise.
        let network = args.sources.chain.unwrap_or_default();
        let mut reports = [Report::new(None, &outcome, network)];
        if args.compare {
            add_comparisons(&mut reports, args);
        }
        format.print_all(&reports);
        if let Some(path) = &args.chart {
            chart::write(path, "block files", &outcome)
                .map_err(|e| PriceError::Chart(path.clone(), e))?;
        }
        return Ok(());
    }

    let config = args.sources.config()?;
    let network = config.network();
    let selections = selections(args, network)?;
    let source = config.open_blocks(args.source.backend())?;
    let progress = Progress::new();
    let runs = args.runs.runs();
    let results = run_all(&*source, &selections, runs, mode, &progress, &|_, _| true);
    progress.finish();

    let mut reports = Vec::new();
    let mut first_error = None;
    let mut failed = 0;
    let mut not_run = 0;
    for ((label, _), result) in selections.iter().zip(results) {
        match result.and_then(|outcome| {
            if let Some(path) = &args.chart {
                let path = chart_path(path, label.as_deref(), selections.len());
                chart::write(&path, label.as_deref().unwrap_or("blocks"), &outcome)
                    .map_err(|e| PriceError::Chart(path, e))?;
            }
            Ok(outcome)
        }) {
            Ok(outcome) => reports.push(Report::new(label.clone(), &outcome, network)),
            Err(PriceError::NotRun) => not_run += 1,
            Err(e) => {
                failed += 1;
                if selections.len() > 1 {
                    eprintln!("error: {}: {e}", label.as_deref().unwrap_or("run"));
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if not_run > 0 {
        eprintln!("{not_run} more run(s) not tried: the source had failed");
        failed += not_run;
    }
    if args.compare {
        add_comparisons(&mut reports, args);
    }
    format.print_all(&reports);
    match first_error {
        None => Ok(()),
        Some(e) if selections.len() == 1 => Err(e),
        Some(e) => Err(PriceError::Several {
            failed,
            of: selections.len(),
            code: e.exit_code(),
        }),
    }
}

/// Asks the exchange for each run's price at its moment (noon UTC of a
/// date). A failure is reported beside the price, never in its place.
fn add_comparisons(reports: &mut [Report], args: &PriceArgs) {
    let Some(url) = &args.exchange_url else {
        return;
    };
    let client = ExchangeClient::new(url, std::time::Duration::from_secs(20));
    let retry = Retry {
        attempts: args.runs.retries,
        ..Retry::default()
    };
    for report in reports {
        let c = match report.moment() {
            Some(at) => {
                let x = retry.run(|| client.historical(at));
                let why = x.as_ref().err().map(ToString::to_string);
                compare(
                    Some(report.price()),
                    x.map_err(|_| why.as_deref().unwrap_or_default()),
                    at,
                    COMPARE_DISTANCE,
                    DEFAULT_THRESHOLD,
                )
            }
            None => Comparison::none("the run has no time to look the exchange price up at"),
        };
        report.set_compare(c);
    }
}

/// Farthest an exchange price may be from a run's moment (noon of its
/// date) to compare: the feed's daily points fall at midnight.
const COMPARE_DISTANCE: u32 = 86_400;

/// The runs the flags ask for, each with its label (the date, if any).
fn selections(
    args: &PriceArgs,
    network: Network,
) -> Result<Vec<(Option<String>, Selection)>, PriceError> {
    let what = &args.what;
    if let Some(n) = what.recent {
        return Ok(vec![(None, Selection::Recent(n))]);
    }
    if let Some(range) = &what.heights {
        let parsed = range
            .split_once("..")
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .ok_or_else(|| PriceError::Heights(range.clone()))?;
        return Ok(vec![(None, Selection::Heights(parsed.0, parsed.1))]);
    }
    // From the genesis block's day to today: a range can never grow past
    // the chain, whatever its ends say.
    let first = UtcDate::new(2009, 1, 3).unwrap_or_else(|| UtcDate::of_unix(0));
    let today = UtcDate::today();
    let mut out = Vec::new();
    for spec in &what.date {
        for date in parse_dates_between(spec, first, today).map_err(PriceError::Date)? {
            if network.is_mainnet() {
                warn_if_before_reference_range(date);
            }
            out.push((Some(date.to_string()), Selection::Date(date)));
        }
    }
    Ok(out)
}

fn warn_if_before_reference_range(date: UtcDate) {
    if UtcDate::new(2023, 12, 15).is_some_and(|first| date < first) {
        eprintln!("note: {date} is before 2023-12-15, the first date the reference script accepts");
    }
}

/// How runs are made: how many at once, blocks fetched at once per run,
/// attempts per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Runs {
    pub(crate) jobs: usize,
    pub(crate) fetchers: usize,
    pub(crate) retries: u32,
}

/// What to do with each run's result as soon as it is in (its index, the
/// result): the history stores each day then, so a killed backfill keeps
/// the days it finished. `false` stops the runs not started yet (a history
/// file that cannot be written).
pub(crate) type OnDone<'a> = &'a (dyn Fn(usize, &Result<Outcome, PriceError>) -> bool + Sync);

/// Prices every selection, `runs.jobs` at a time, results in order.
pub(crate) fn run_all(
    source: &dyn BlockSource,
    selections: &[(Option<String>, Selection)],
    runs: Runs,
    mode: Mode,
    progress: &Progress,
    on_done: OnDone<'_>,
) -> Vec<Result<Outcome, PriceError>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Once the source fails (or `on_done` says stop), the runs left are
    // not tried: one error, not the same one for every date of a range.
    let source_failed = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<std::sync::Mutex<Option<Result<Outcome, PriceError>>>> = selections
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..runs.jobs.clamp(1, selections.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((_, selection)) = selections.get(i) else {
                    break;
                };
                let retry = Retry {
                    attempts: runs.retries,
                    ..Retry::default()
                };
                if source_failed.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(Err(PriceError::NotRun));
                    }
                    continue;
                }
                let result =
                    price_selection(source, *selection, mode, runs.fetchers, retry, progress);
                if !on_done(i, &result) {
                    source_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if matches!(
                    &result,
                    Err(PriceError::Source(_) | PriceError::Select(SelectError::Source(_)))
                ) {
                    source_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or(Err(PriceError::Stopped))
        })
        .collect()
}

fn price_selection(
    source: &dyn BlockSource,
    selection: Selection,
    mode: Mode,
    fetchers: usize,
    retry: Retry,
    progress: &Progress,
) -> Result<Outcome, PriceError> {
    let refs = select(source, selection, retry).map_err(PriceError::Select)?;
    progress.expect(refs.len());
    let mut consensus = Consensus::new(refs.len() * TXS_PER_BLOCK_GUESS);
    fetch_in_order(source, &refs, fetchers, retry, |r, bytes| {
        progress.tick();
        consensus
            .add(bytes, Some(r.height), || {
                format!("block {} ({}) from {}", r.height, r.hash, source.name())
            })
            .map_err(PriceError::BadBlock)
    })?;
    let start = match selection {
        Selection::Date(date) => Some(date.midnight()),
        _ => None,
    };
    mode.finish(&consensus, start)
}

/// Prices block files as one run, checking them all before any work.
pub(crate) fn price_files(paths: &[PathBuf], mode: Mode) -> Result<Outcome, PriceError> {
    let blocks = blockfile::read_all(paths).map_err(PriceError::BlockFile)?;
    let txs = blocks
        .iter()
        .filter_map(|b| fiatline_core::Block::parse(b).ok())
        .map(|b| b.tx_count())
        .sum();
    let mut consensus = Consensus::new(txs);
    for (bytes, path) in blocks.iter().zip(paths) {
        consensus
            .add(bytes, None, || format!("block file {}", path.display()))
            .map_err(PriceError::BadBlock)?;
    }
    mode.finish(&consensus, None)
}

/// `out.html` becomes `out-2024-01-01.html` when several dates are charted.
fn chart_path(path: &Path, label: Option<&str>, runs: usize) -> PathBuf {
    match label {
        Some(label) if runs > 1 => {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("chart");
            let name = match path.extension().and_then(|e| e.to_str()) {
                Some(ext) => format!("{stem}-{label}.{ext}"),
                None => format!("{stem}-{label}"),
            };
            path.with_file_name(name)
        }
        _ => path.to_path_buf(),
    }
}
