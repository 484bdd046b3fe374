//! What `fiatline price` prints: one line of text or one JSON object.

use fiatline_core::{Estimate, RunStats};
use serde::Serialize;

/// Below this confidence an estimate is flagged.
const LOW_CONFIDENCE: f64 = 0.3;
/// Outside this range, in USD, an estimate is flagged.
const PLAUSIBLE: (f64, f64) = (10_000.0, 500_000.0);

/// The result of a run, in the shape both outputs share.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
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
    first_height: Option<u64>,
    last_height: Option<u64>,
    flags: Vec<&'static str>,
}

impl Report {
    pub(crate) fn new(e: &Estimate, stats: &RunStats, heights: Option<(u64, u64)>) -> Self {
        let mut flags = Vec::new();
        if e.confidence < LOW_CONFIDENCE {
            flags.push("low_confidence");
        }
        if !(PLAUSIBLE.0..=PLAUSIBLE.1).contains(&e.price) {
            flags.push("outside_plausible_range");
        }
        Self {
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
            first_height: heights.map(|h| h.0),
            last_height: heights.map(|h| h.1),
            flags,
        }
    }

    /// `price: $42,951`: the integer part with thousands separators, as the
    /// reference prints it.
    pub(crate) fn line(&self) -> String {
        format!("price: ${}", thousands(self.price as u64))
    }

    /// Counts and warnings, for stderr.
    pub(crate) fn summary(&self) -> String {
        let mut s = format!(
            "{} block(s), {} transactions, {} outputs, {} price points ({} within 5%), \
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

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

fn thousands(n: u64) -> String {
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
