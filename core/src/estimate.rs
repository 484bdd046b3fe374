//! Steps 7 to 11 from a histogram and its raw outputs to an [`Estimate`].

use core::fmt;
use core::ops::Range;

use crate::bins::BIN_COUNT;
use crate::central::{central, central_of_sorted, central_of_sorted_in, Central, CentralError};
use crate::confidence::confidence;
use crate::histogram::Histogram;
use crate::ladder::Ladder;
use crate::merge::merge_in_range;
use crate::outputs::RawOutput;
use crate::points::{Bands, PricePoint};
use crate::rough::{rough_price, Rough};

/// The central range is the rough price ±5%.
const TIGHT: f64 = 0.05;
/// Most centres [`Refinement::Recentre`] visits before it stops.
const MAX_RECENTRES: usize = 64;

/// How step 11 turns the first central value into the final price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Refinement {
    /// The first central value, as UTXOracle v9.1 prints it: its re-centring
    /// loop tests membership in a set that already holds the value, so it
    /// never runs.
    #[default]
    Reference,
    /// The re-centring the reference's comments describe: move the ±5% range
    /// to the last central value until a value repeats (at most 64 times).
    Recentre,
}

/// What a run of outputs says about the price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The final price in USD.
    pub price: f64,
    /// The rough price in USD (step 9).
    pub rough: u32,
    /// How much to trust `price`, from 0 to 1 (see [`crate::confidence`]).
    pub confidence: f64,
    /// Price points found (step 10).
    pub points: usize,
    /// Of those, the ones inside the final ±5% range.
    pub points_in_range: usize,
    /// Median absolute deviation of the points in range from `price`, in USD.
    pub deviation: f64,
    /// Outputs considered.
    pub outputs: usize,
    /// Details of the rough fit.
    pub fit: Rough,
}

/// Why no estimate could be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EstimateError {
    /// No output amount fell in the histogram's kept range.
    NoOutputs,
    /// The stencils found no fit (every slide scored the same).
    NoFit,
    /// No price point lay within 5% of the rough price.
    NoPricePoints,
    /// The price-point storage was too small; this many slots are needed.
    PointStorageFull(usize),
    /// The scratch storage was too small; this many values are needed.
    ScratchFull(usize),
    /// A sorted estimate was asked of a window that keeps no sorted amounts.
    Unsorted,
}

impl fmt::Display for EstimateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOutputs => f.write_str("no output amount in the histogram's range"),
            Self::NoFit => f.write_str("the stencils found no fit in the histogram"),
            Self::NoPricePoints => f.write_str("no price point within 5% of the rough price"),
            Self::PointStorageFull(n) => write!(f, "price-point storage too small: {n} needed"),
            Self::ScratchFull(n) => write!(f, "scratch storage too small: {n} needed"),
            Self::Unsorted => f.write_str("the window keeps no sorted amounts"),
        }
    }
}

impl core::error::Error for EstimateError {}

impl From<CentralError> for EstimateError {
    fn from(e: CentralError) -> Self {
        match e {
            CentralError::Empty => Self::NoPricePoints,
            CentralError::ScratchFull(n) => Self::ScratchFull(n),
        }
    }
}

/// Estimates the price from a histogram and the outputs it counted, in order.
///
/// `points` receives the price points of step 10 (their count is
/// [`Estimate::points`]); `scratch` sorts the points of step 11. Both need
/// room for every price point; a run gives about one per output.
///
/// # Errors
/// Returns an [`EstimateError`] when the data hold no price or the lent
/// storage is too small (the error says how much is needed).
pub fn estimate(
    histogram: &Histogram,
    outputs: &[RawOutput],
    refinement: Refinement,
    points: &mut [PricePoint],
    scratch: &mut [f64],
) -> Result<Estimate, EstimateError> {
    estimate_from(
        histogram,
        outputs.iter().copied(),
        refinement,
        points,
        scratch,
    )
}

/// As [`estimate`], with the outputs as any iterator in their order (the
/// rolling window's live outputs, for one).
///
/// # Errors
/// As [`estimate`].
pub fn estimate_from(
    histogram: &Histogram,
    outputs: impl IntoIterator<Item = RawOutput>,
    refinement: Refinement,
    points: &mut [PricePoint],
    scratch: &mut [f64],
) -> Result<Estimate, EstimateError> {
    let fit = fit(histogram)?;
    let bands = Bands::new(fit.price);
    let mut found = 0;
    let mut considered = 0;
    for output in outputs {
        considered += 1;
        bands.points_of(&output, |p| {
            if let Some(slot) = points.get_mut(found) {
                *slot = p;
            }
            found += 1;
        });
    }
    let points = points
        .get(..found)
        .ok_or(EstimateError::PointStorageFull(found))?;
    let c = refine(fit.price, refinement, |lo, hi| {
        central(points.iter().map(|p| p.price), lo, hi, scratch)
    })?;
    Ok(Estimate::of(fit, &c, found, considered))
}

/// As [`estimate_from`], from a [`crate::Window`]'s ladder: the amounts of
/// the counted outputs that are not micro round, in ascending order, and
/// the points of the last estimate's range; `outputs` is the number of
/// counted outputs. The price points are not listed: each band of step 10
/// is found by binary search, the points of the ±5% range are the ladder's
/// (brought up to date, see `in_range.rs`), and the points of any other
/// range [`Refinement::Recentre`] visits are merged from the bands into
/// `scratch`. The same points, so the same estimate, to the bit.
pub(crate) fn estimate_sorted<A: AsRef<[u64]> + AsMut<[u64]>>(
    histogram: &Histogram,
    ladder: &mut Ladder<A>,
    outputs: usize,
    refinement: Refinement,
    scratch: &mut [f64],
) -> Result<Estimate, EstimateError> {
    let fit = fit(histogram)?;
    let bands = Bands::new(fit.price);
    let (lo, hi) = tight(f64::from(fit.price));
    ladder.track(&bands, lo, hi);
    let amounts = ladder.amounts();
    let runs = bands.runs(amounts);
    let found = runs.iter().map(|(_, run)| run.len()).sum();
    let tracked = ladder.points();
    let c = refine(fit.price, refinement, |lo, hi| match tracked {
        Some((from, to, xs)) if (from, to) == (lo, hi) => {
            if xs.is_empty() {
                return Err(CentralError::Empty);
            }
            let n = xs.len();
            let sums = scratch.get_mut(..n).ok_or(CentralError::ScratchFull(n))?;
            Ok(central_of_sorted_in(xs, sums))
        }
        _ => central_in_runs(&runs, amounts, lo, hi, scratch),
    })?;
    Ok(Estimate::of(fit, &c, found, outputs))
}

/// The central range around `price`: ±5%.
fn tight(price: f64) -> (f64, f64) {
    (price - TIGHT * price, price + TIGHT * price)
}

impl Estimate {
    /// The estimate of a rough fit and its central value, from `points`
    /// price points of `outputs` outputs.
    fn of(fit: Rough, c: &Central, points: usize, outputs: usize) -> Self {
        Self {
            price: c.price,
            rough: fit.price,
            confidence: confidence(&fit, c),
            points,
            points_in_range: c.count,
            deviation: c.deviation,
            outputs,
            fit,
        }
    }
}

/// Steps 7 to 9: the rough price of a histogram.
fn fit(histogram: &Histogram) -> Result<Rough, EstimateError> {
    // 19 KiB of stack, stated in the crate's memory budget.
    let mut curve = [0.0; BIN_COUNT];
    if histogram.normalise_into(&mut curve) <= 0.0 {
        return Err(EstimateError::NoOutputs);
    }
    rough_price(&curve).ok_or(EstimateError::NoFit)
}

/// Step 11: the central value of the points within ±5% of the rough price,
/// re-centred as `refinement` says; `central_at(lo, hi)` finds the central
/// value of the points strictly inside `(lo, hi)`.
fn refine(
    rough: u32,
    refinement: Refinement,
    mut central_at: impl FnMut(f64, f64) -> Result<Central, CentralError>,
) -> Result<Central, EstimateError> {
    let (lo, hi) = tight(f64::from(rough));
    let mut c = central_at(lo, hi)?;
    if refinement == Refinement::Recentre {
        let mut visited = [0.0; MAX_RECENTRES];
        for i in 0..MAX_RECENTRES {
            if visited.get(..i).is_some_and(|v| v.contains(&c.price)) {
                break;
            }
            if let Some(v) = visited.get_mut(i) {
                *v = c.price;
            }
            let (lo, hi) = tight(c.price);
            c = central_at(lo, hi)?;
        }
    }
    Ok(c)
}

/// The central value of the points strictly inside `(lo, hi)`, read from
/// the bands' runs of ascending amounts: in a run the points in range are
/// one stretch, found by binary search, and the stretches are merged into
/// ascending order (`merge.rs`) rather than sorted.
fn central_in_runs(
    runs: &[(f64, Range<usize>)],
    amounts: &[u32],
    lo: f64,
    hi: f64,
    scratch: &mut [f64],
) -> Result<Central, CentralError> {
    let n = merge_in_range(runs, amounts, lo, hi, scratch);
    let xs = scratch.get(..n).ok_or(CentralError::ScratchFull(n))?;
    if xs.is_empty() {
        return Err(CentralError::Empty);
    }
    Ok(central_of_sorted(xs))
}

/// The chart's vertical half-range, as a fraction of `price`, from the
/// spread of the points within ±10% of it (the reference's axis rule).
///
/// # Errors
/// Returns an [`EstimateError`] when no point lies in that range or
/// `scratch` cannot hold them.
pub fn chart_half_range(
    points: &[PricePoint],
    price: f64,
    scratch: &mut [f64],
) -> Result<f64, EstimateError> {
    const MEDIUM: f64 = 0.1;
    let (lo, hi) = (price - MEDIUM * price, price + MEDIUM * price);
    let c = central(points.iter().map(|p| p.price), lo, hi, scratch)?;
    let dev_pct = c.deviation / (hi - lo);
    let range = 0.05 + (dev_pct - 0.17) * ((0.15 - 0.05) / (0.20 - 0.17));
    Ok(range.clamp(0.05, 0.2))
}
