//! What `fiatline price` prints: text lines, JSON lines or CSV.

use fiatline_core::RunStats;
use serde::Serialize;

use crate::consensus::Outcome;

/// Below this confidence an estimate is flagged.
const LOW_CONFIDENCE: f64 = 0.3;
/// Outside this range, in USD, an estimate is flagged.
const PLAUSIBLE: (f64, f64) = (10_000.0, 500_000.0);

/// One run's result, in the shape every format shares.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    date: Option<String>,
    price: f64,
    rough: u32,
    confidence: f64,
    points: usize,
    points_in_range: usize,
    deviation: f64,
    outputs: usize,
    blocks: u32,
    txs: u64,
    used_txs: u64,
    first_height: Option<u32>,
    last_height: Option<u32>,
    first_time: Option<u32>,
    last_time: Option<u32>,
    flags: Vec<&'static str>,
}

impl Report {
    pub(crate) fn new(date: Option<String>, outcome: &Outcome) -> Self {
        let (e, stats): (_, &RunStats) = (&outcome.estimate, &outcome.stats);
        let mut flags = Vec::new();
        if e.confidence < LOW_CONFIDENCE {
            flags.push("low_confidence");
        }
        if !(PLAUSIBLE.0..=PLAUSIBLE.1).contains(&e.price) {
            flags.push("outside_plausible_range");
        }
        Self {
            date,
            price: e.price,
            rough: e.rough,
            confidence: e.confidence,
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
        }
    }

    /// `price: $42,951` (`2024-01-01 price: $42,951` for a date): the
    /// integer part with thousands separators, as the reference prints it.
    pub(crate) fn line(&self) -> String {
        let price = format!("price: ${}", thousands(self.price as u64));
        match &self.date {
            Some(date) => format!("{date} {price}"),
            None => price,
        }
    }

    /// Counts and warnings, for stderr.
    pub(crate) fn summary(&self) -> String {
        let heights = match (self.first_height, self.last_height) {
            (Some(a), Some(b)) => format!("heights {a}..{b}, "),
            _ => String::new(),
        };
        let mut s = format!(
            "{heights}{} block(s), {} transactions, {} outputs, {} price points ({} within 5%), \
             rough ${}, confidence {:.2}",
            self.blocks,
            thousands(self.txs),
            thousands(self.outputs as u64),
            thousands(self.points as u64),
            thousands(self.points_in_range as u64),
            thousands(u64::from(self.rough)),
            self.confidence,
        );
        if self.flags.contains(&"low_confidence") {
            s.push_str(
                "\nwarning: low confidence: too few transactions or no round-fiat structure",
            );
        }
        if self.flags.contains(&"outside_plausible_range") {
            s.push_str(
                "\nwarning: price outside $10,000..$500,000, the range the stencils are tuned for",
            );
        }
        s
    }

    fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    const CSV_HEADER: &'static str =
        "date,first_height,last_height,blocks,txs,outputs,points,points_in_range,rough,price,confidence,flags";

    fn csv(&self) -> String {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            self.date.as_deref().unwrap_or_default(),
            opt(self.first_height),
            opt(self.last_height),
            self.blocks,
            self.txs,
            self.outputs,
            self.points,
            self.points_in_range,
            self.rough,
            self.price,
            self.confidence,
            self.flags.join(" "),
        )
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Text,
    Json,
    Csv,
}

impl Format {
    pub(crate) fn of(json: bool, csv: bool) -> Self {
        match (json, csv) {
            (true, _) => Self::Json,
            (_, true) => Self::Csv,
            _ => Self::Text,
        }
    }

    /// Prints every report: a line (and a summary on stderr), a JSON object
    /// per line, or a CSV header and rows.
    pub(crate) fn print_all(self, reports: &[Report]) {
        if let Self::Csv = self {
            println!("{}", Report::CSV_HEADER);
        }
        for r in reports {
            match self {
                Self::Text => {
                    println!("{}", r.line());
                    eprintln!("{}", r.summary());
                }
                Self::Json => println!("{}", r.json()),
                Self::Csv => println!("{}", r.csv()),
            }
        }
    }
}

pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(42951), "42,951");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
