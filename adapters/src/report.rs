//! A finished run as every interface shows it: the fields of `fiatline
//! price --json` (and of the Python package's dictionaries), with the flags
//! that say where not to trust it.

use serde::ser::SerializeSeq as _;
use serde::{Serialize, Serializer};

use fiatline_core::{Hour, Refined};

use crate::consensus::Outcome;
use crate::hourly::{self, Hourly};

/// Below this reference confidence an estimate is flagged.
pub const LOW_CONFIDENCE: f64 = 0.3;
/// Outside this range, in USD, an estimate is flagged: the stencils are
/// tuned for it.
pub const PLAUSIBLE: (f64, f64) = (10_000.0, 500_000.0);

/// One run's result, in the shape every format shares.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The UTC date priced, if the run is one.
    pub date: Option<String>,
    /// The reference's final price, USD.
    pub price: f64,
    /// The rough price, USD.
    pub rough: u32,
    /// The reference's confidence; with the hourly refinement, the refined
    /// price's calibrated probability.
    pub confidence: f64,
    /// Price points found.
    pub points: usize,
    /// Of those, inside the final ±5% range.
    pub points_in_range: usize,
    /// Median absolute deviation of those from the price, USD.
    pub deviation: f64,
    /// Outputs considered.
    pub outputs: usize,
    /// Blocks in the run.
    pub blocks: u32,
    /// Transactions in the run.
    pub txs: u64,
    /// Transactions that passed the filters.
    pub used_txs: u64,
    /// First block's height.
    pub first_height: Option<u32>,
    /// Last block's height.
    pub last_height: Option<u32>,
    /// Earliest block time.
    pub first_time: Option<u32>,
    /// Latest block time.
    pub last_time: Option<u32>,
    /// Where not to trust the result: `low_confidence`,
    /// `outside_plausible_range`, and with the hourly refinement
    /// `no_hourly_path`, `few_hours`, `not_a_utc_day`.
    pub flags: Vec<&'static str>,
    /// With the hourly refinement: the reference's confidence formula.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_confidence: Option<f64>,
    /// With the hourly refinement: the refined price, its path and grade.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub hourly: Option<HourlyFields>,
}

impl Report {
    /// Describes `outcome`, the run of `date` when it is one.
    pub fn new(date: Option<String>, outcome: &Outcome) -> Self {
        let (e, stats) = (&outcome.estimate, &outcome.stats);
        let refined = outcome.hourly.as_ref().map(|h| h.refined);
        let (headline, confidence, low) = match refined {
            Some(r) => (r.price, r.confidence, hourly::LOW_CONFIDENCE),
            None => (e.price, e.confidence, LOW_CONFIDENCE),
        };
        let mut flags = Vec::new();
        if confidence < low {
            flags.push("low_confidence");
        }
        if let Some(r) = &refined {
            flags.extend(hourly_flags(r, date.is_some()));
        }
        if !(PLAUSIBLE.0..=PLAUSIBLE.1).contains(&headline) {
            flags.push("outside_plausible_range");
        }
        Self {
            date,
            price: e.price,
            rough: e.rough,
            confidence,
            points: e.points,
            points_in_range: e.points_in_range,
            deviation: e.deviation,
            outputs: e.outputs,
            blocks: stats.blocks,
            txs: stats.txs,
            used_txs: stats.used_txs,
            first_height: outcome.heights.map(|h| h.0),
            last_height: outcome.heights.map(|h| h.1),
            first_time: outcome.times.map(|t| t.0),
            last_time: outcome.times.map(|t| t.1),
            flags,
            reference_confidence: refined.map(|_| e.confidence),
            hourly: outcome.hourly.as_ref().map(HourlyFields::of),
        }
    }

    /// Marks a run of another network than mainnet: there the amounts are
    /// made up and the price means nothing, so the plausible range does not
    /// apply; the flag `not_mainnet` says so instead.
    #[must_use]
    pub fn on_network(mut self, network: crate::Network) -> Self {
        if !network.is_mainnet() {
            self.flags.retain(|f| *f != "outside_plausible_range");
            self.flags.push("not_mainnet");
        }
        self
    }

    /// The on-chain price of the run: the refined one when there is one.
    pub fn headline(&self) -> f64 {
        self.hourly.as_ref().map_or(self.price, |h| h.refined)
    }
}

/// A day re-priced from its points alone (`fiatline refine`): the fields
/// of a report that such a day has.
#[derive(Debug, Clone, Serialize)]
pub struct RefinedDay {
    /// The UTC date.
    pub date: String,
    /// The central price given: the reference's price of the day.
    pub price: f64,
    /// The refined price's calibrated confidence.
    pub confidence: f64,
    /// Points given.
    pub points: usize,
    /// Of those, within ±5% of the central price.
    pub points_in_range: usize,
    /// As [`Report::flags`].
    pub flags: Vec<&'static str>,
    /// The refined price, its path and grade.
    #[serde(flatten)]
    pub hourly: HourlyFields,
}

impl RefinedDay {
    /// Describes the refinement `h` of `points` points around `central` on `date`.
    pub fn new(date: String, central: f64, points: usize, h: &Hourly) -> Self {
        let r = &h.refined;
        let mut flags: Vec<&str> = hourly_flags(r, true).collect();
        if r.confidence < hourly::LOW_CONFIDENCE {
            flags.push("low_confidence");
        }
        Self {
            date,
            price: central,
            confidence: r.confidence,
            points,
            points_in_range: r.kept,
            flags,
            hourly: HourlyFields::of(h),
        }
    }
}

/// The flags of a refined price: `no_hourly_path` when no hour counted,
/// `few_hours` below [`hourly::FEW_HOURS`], `not_a_utc_day` when the hours
/// were not counted from a date's midnight (the calibration's condition).
pub fn hourly_flags(r: &Refined, of_a_date: bool) -> impl Iterator<Item = &'static str> {
    let thin = if r.fallback {
        Some("no_hourly_path")
    } else if r.hours < hourly::FEW_HOURS {
        Some("few_hours")
    } else {
        None
    };
    thin.into_iter()
        .chain((!of_a_date).then_some("not_a_utc_day"))
}

/// What the hourly refinement adds to a report (its confidence goes in
/// the report's own `confidence` field).
#[derive(Debug, Clone, Serialize)]
pub struct HourlyFields {
    /// The refined price, USD.
    pub refined: f64,
    /// The confidence's grade, A to D.
    pub grade: &'static str,
    /// The first hour's price.
    pub open: f64,
    /// The highest hour's price.
    pub high: f64,
    /// The lowest hour's price.
    pub low: f64,
    /// The last hour's price.
    pub close: f64,
    /// Hours with 30 points or more.
    pub hours: usize,
    /// No hour counted: `refined` is the reference's price.
    pub fallback: bool,
    /// The confidence's inputs: R, edge and noise (docs/algorithm.md).
    pub range: f64,
    /// See `range`.
    pub edge: f64,
    /// See `range`.
    pub noise: f64,
    /// The hourly path.
    pub path: Path,
}

impl HourlyFields {
    /// The fields of a refined run.
    pub fn of(h: &Hourly) -> Self {
        let r = &h.refined;
        Self {
            refined: r.price,
            grade: r.grade.as_str(),
            open: r.open,
            high: r.high,
            low: r.low,
            close: r.close,
            hours: r.hours,
            fallback: r.fallback,
            range: r.range,
            edge: r.edge,
            noise: r.noise,
            path: Path {
                start: h.start,
                hours: h.path.clone(),
            },
        }
    }
}

/// The hourly path, serialised as `[[hour_start_unix, price, points], …]`.
#[derive(Debug, Clone)]
pub struct Path {
    start: i64,
    hours: Vec<Hour>,
}

impl Path {
    /// Each hour as (its start in Unix seconds, price, points).
    pub fn entries(&self) -> impl Iterator<Item = (i64, f64, usize)> + '_ {
        self.hours
            .iter()
            .map(|h| (self.start + h.hour * 3600, h.price, h.count))
    }
}

impl Serialize for Path {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.hours.len()))?;
        for entry in self.entries() {
            seq.serialize_element(&entry)?;
        }
        seq.end()
    }
}
