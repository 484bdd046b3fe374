//! What `fiatline price` prints: text lines, JSON lines or CSV.

use std::fmt::Write as _;

use fiatline_core::RunStats;
use serde::Serialize;

use crate::compare::Comparison;
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
    /// With `--compare`: the exchange price, or why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    compare: Option<Comparison>,
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
            compare: None,
        }
    }

    /// The moment the run stands for: noon of its date, else the middle
    /// of its blocks' times.
    pub(crate) fn moment(&self) -> Option<u32> {
        let noon = self.date.as_deref().and_then(|d| {
            let date = fiatline_adapters::parse_dates(d).ok()?.into_iter().next()?;
            u32::try_from(date.midnight() + 43_200).ok()
        });
        noon.or_else(|| {
            let (a, b) = (self.first_time?, self.last_time?);
            Some(a / 2 + b / 2)
        })
    }

    /// The on-chain price of the run.
    pub(crate) fn price(&self) -> f64 {
        self.price
    }

    /// Sets the comparison with an exchange.
    pub(crate) fn set_compare(&mut self, c: Comparison) {
        self.compare = Some(c);
    }

    /// `price: $42,951` (`2024-01-01 price: $42,951` for a date): the
    /// integer part with thousands separators, as the reference prints it.
    pub(crate) fn line(&self) -> String {
        let price = format!("price: ${}", thousands(self.price as u64));
        let line = match &self.date {
            Some(date) => format!("{date} {price}"),
            None => price,
        };
        match &self.compare {
            None => line,
            Some(Comparison {
                exchange: Some(x),
                difference_percent: Some(d),
                ..
            }) => format!("{line} (exchange ${}, {d:+.2}%)", thousands(*x as u64)),
            Some(c) => format!(
                "{line} (no exchange comparison: {})",
                c.reason.as_deref().unwrap_or("unknown")
            ),
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
        if let Some(Comparison {
            warning: true,
            difference_percent: Some(d),
            ..
        }) = &self.compare
        {
            let _ = write!(
                s,
                "\nwarning: the on-chain and exchange prices differ by {d:+.2}%"
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

    const CSV_COMPARE: &'static str = ",exchange_usd,difference_percent,compare_note";

    fn csv(&self) -> String {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        let compare = self.compare.as_ref().map_or_else(String::new, |c| {
            let f = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            // The note is free text: quote it, doubling quotes, as CSV does.
            let note = c.reason.as_deref().unwrap_or_default().replace('"', "\"\"");
            format!(",{},{},\"{note}\"", f(c.exchange), f(c.difference_percent))
        });
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}{compare}",
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
            let compare = reports.iter().any(|r| r.compare.is_some());
            println!(
                "{}{}",
                Report::CSV_HEADER,
                if compare { Report::CSV_COMPARE } else { "" }
            );
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
