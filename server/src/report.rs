//! What `fiatline price` prints: text lines, JSON lines or CSV.

use std::fmt::Write as _;

use fiatline_adapters::consensus::Outcome;
use fiatline_adapters::report::Report as RunReport;
use fiatline_adapters::Network;
use serde::Serialize;

use crate::compare::Comparison;

/// One run's result with, under `--compare`, the exchange price beside it.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    #[serde(flatten)]
    run: RunReport,
    /// With `--compare`: the exchange price, or why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    compare: Option<Comparison>,
}

impl std::ops::Deref for Report {
    type Target = RunReport;

    fn deref(&self) -> &RunReport {
        &self.run
    }
}

impl Report {
    pub(crate) fn new(date: Option<String>, outcome: &Outcome, network: Network) -> Self {
        Self {
            run: RunReport::new(date, outcome).on_network(network),
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

    /// The on-chain price of the run: the refined one when asked for.
    pub(crate) fn price(&self) -> f64 {
        self.run.headline()
    }

    /// Sets the comparison with an exchange.
    pub(crate) fn set_compare(&mut self, c: Comparison) {
        self.compare = Some(c);
    }

    /// `price: $42,951` (`2024-01-01 price: $42,951` for a date): the
    /// integer part with thousands separators, as the reference prints it.
    /// With the hourly refinement, the refined price, its grade and the
    /// reference's: `price: $44,009 (hourly, grade D; reference $44,806)`.
    pub(crate) fn line(&self) -> String {
        let price = match &self.hourly {
            None => format!("price: ${}", dollars(self.price)),
            Some(h) => format!(
                "price: ${} (hourly, grade {}; reference ${})",
                dollars(h.refined),
                h.grade,
                dollars(self.price)
            ),
        };
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
            }) => format!("{line} (exchange ${}, {d:+.2}%)", dollars(*x)),
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
            self.reference_confidence.unwrap_or(self.confidence),
        );
        if let Some(h) = &self.hourly {
            let _ = write!(
                s,
                "\nhourly: {} hour(s) with 30+ points: open ${}, high ${}, low ${}, close ${}; \
                 confidence {:.2} (grade {}: the chance of being within 0.5% of the \
                 exchanges' (high+low)/2)",
                h.hours,
                dollars(h.open),
                dollars(h.high),
                dollars(h.low),
                dollars(h.close),
                self.confidence,
                h.grade,
            );
        }
        if self.flags.contains(&"few_hours") {
            s.push_str(
                "\nwarning: fewer than 12 hours had 30 price points: the confidence was \
                 calibrated on whole days, and says little here",
            );
        }
        if self.flags.contains(&"not_a_utc_day") {
            s.push_str(
                "\nnote: hours are counted from the first block's time; the confidence was \
                 calibrated on UTC dates only",
            );
        }
        if self.flags.contains(&"no_hourly_path") {
            s.push_str(
                "\nwarning: no hour had 30 price points: the refined price is the reference's",
            );
        } else if self.flags.contains(&"low_confidence") {
            s.push_str(if self.hourly.is_some() {
                "\nwarning: low confidence (grade D): the price moved or was sparse within the day"
            } else {
                "\nwarning: low confidence: too few transactions or no round-fiat structure"
            });
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
        if self.flags.contains(&"not_mainnet") {
            s.push_str(
                "\nnote: not mainnet: amounts on a test network are made up, so this price \
                 means nothing (it shows the method works)",
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

    const CSV_HOURLY: &'static str =
        ",reference_confidence,refined,grade,open,high,low,close,hours";

    fn csv(&self) -> String {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        let compare = self.compare.as_ref().map_or_else(String::new, |c| {
            let f = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            // The note is free text: quote it, doubling quotes, as CSV does.
            let note = c.reason.as_deref().unwrap_or_default().replace('"', "\"\"");
            format!(",{},{},\"{note}\"", f(c.exchange), f(c.difference_percent))
        });
        let hourly = self.hourly.as_ref().map_or_else(String::new, |h| {
            format!(
                ",{},{},{},{},{},{},{},{}",
                self.reference_confidence.unwrap_or_default(),
                h.refined,
                h.grade,
                h.open,
                h.high,
                h.low,
                h.close,
                h.hours
            )
        });
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}{hourly}{compare}",
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
            let hourly = reports.iter().any(|r| r.hourly.is_some());
            println!(
                "{}{}{}",
                Report::CSV_HEADER,
                if hourly { Report::CSV_HOURLY } else { "" },
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

/// A price in whole dollars with thousands separators: cut toward zero,
/// as the reference prints `int(price)` (a negative or NaN price, which no
/// estimate gives, shows as 0).
pub(crate) fn dollars(usd: f64) -> String {
    // Rust's float-to-integer cast saturates (NaN to 0): the cut is the intent.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = usd as u64;
    thousands(whole)
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
