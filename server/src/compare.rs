//! The on-chain price beside an exchange's: the difference in percent, a
//! warning past a threshold, and, when there is nothing to compare, the
//! reason. An exchange price that is missing, too far in time from the
//! on-chain one, or unusable never yields a number.

use fiatline_adapters::exchange::ExchangePrice;
use serde::Serialize;

/// Difference, in percent, past which the two prices are flagged.
pub(crate) const DEFAULT_THRESHOLD: f64 = 2.0;

/// Both prices, or why they cannot be compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Comparison {
    /// The exchange price, when it is usable.
    pub(crate) exchange: Option<f64>,
    /// When the exchange price held, Unix seconds.
    pub(crate) exchange_time: Option<u32>,
    /// (on-chain − exchange) / exchange, in percent.
    pub(crate) difference_percent: Option<f64>,
    /// Whether the difference is past the threshold.
    pub(crate) warning: bool,
    /// Why there is no comparison.
    pub(crate) reason: Option<String>,
}

impl Comparison {
    /// No comparison, for `reason`.
    pub(crate) fn none(reason: impl Into<String>) -> Self {
        Self {
            exchange: None,
            exchange_time: None,
            difference_percent: None,
            warning: false,
            reason: Some(reason.into()),
        }
    }
}

/// Compares `onchain` with `exchange` (or the reason it failed), believing
/// the exchange price only within `max_distance` seconds of `at`.
pub(crate) fn compare(
    onchain: Option<f64>,
    exchange: Result<ExchangePrice, &str>,
    at: u32,
    max_distance: u32,
    threshold: f64,
) -> Comparison {
    let x = match exchange {
        Ok(x) => x,
        Err(why) => return Comparison::none(why),
    };
    let distance = x.time.abs_diff(at);
    if distance > max_distance {
        let mut c = Comparison::none(format!(
            "the exchange price is {} {} than the on-chain one (at most {} allowed)",
            span(distance),
            if x.time < at { "older" } else { "newer" },
            span(max_distance)
        ));
        c.exchange_time = Some(x.time);
        return c;
    }
    let Some(onchain) = onchain.filter(|p| p.is_finite() && *p > 0.0) else {
        return Comparison {
            exchange: Some(x.usd),
            exchange_time: Some(x.time),
            ..Comparison::none("no on-chain price yet")
        };
    };
    let difference = (onchain - x.usd) / x.usd * 100.0;
    Comparison {
        exchange: Some(x.usd),
        exchange_time: Some(x.time),
        difference_percent: Some(difference),
        warning: difference.abs() > threshold,
        reason: None,
    }
}

/// `90 s`, `25 min`, `3.0 h`, `2.0 days`.
fn span(secs: u32) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs / 60),
        7_200..172_800 => format!("{:.1} h", f64::from(secs) / 3600.0),
        _ => format!("{:.1} days", f64::from(secs) / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: u32 = 1_700_000_000;

    fn x(usd: f64, time: u32) -> ExchangePrice {
        ExchangePrice { usd, time }
    }

    #[test]
    fn the_difference_is_relative_to_the_exchange_and_flagged_past_the_threshold() {
        let c = compare(Some(43_860.0), Ok(x(43_000.0, AT - 60)), AT, 1800, 2.0);
        assert_eq!(c.reason, None);
        assert!((c.difference_percent.unwrap() - 2.0).abs() < 1e-12);
        assert!(!c.warning, "exactly at the threshold is not past it");
        let c = compare(Some(42_000.0), Ok(x(43_000.0, AT)), AT, 1800, 2.0);
        assert!((c.difference_percent.unwrap() + 2.325_581_395).abs() < 1e-6);
        assert!(c.warning);
    }

    #[test]
    fn missing_stale_or_failed_exchange_data_gives_no_number_and_a_reason() {
        let cases = [
            compare(Some(43_000.0), Err("cannot reach x"), AT, 1800, 2.0),
            compare(Some(43_000.0), Ok(x(43_000.0, AT - 2000)), AT, 1800, 2.0),
            compare(Some(43_000.0), Ok(x(43_000.0, AT + 7200)), AT, 1800, 2.0),
            compare(None, Ok(x(43_000.0, AT)), AT, 1800, 2.0),
            compare(Some(f64::NAN), Ok(x(43_000.0, AT)), AT, 1800, 2.0),
        ];
        for c in &cases {
            assert_eq!(c.difference_percent, None, "{c:?}");
            assert!(!c.warning);
            assert!(c.reason.is_some());
        }
        assert_eq!(cases[0].reason.as_deref(), Some("cannot reach x"));
        assert_eq!(
            cases[1].reason.as_deref(),
            Some(
                "the exchange price is 33 min older than the on-chain one (at most 30 min allowed)"
            )
        );
        assert_eq!(cases[3].reason.as_deref(), Some("no on-chain price yet"));
    }
}
