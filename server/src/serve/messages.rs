//! The WebSocket messages the engine sends, as serde types: a snapshot of
//! the window's points in parts (`snapshot`, then `older`) for a client
//! that connects, and a `delta` of the new points each tick. Each point is
//! `[time, price, sats]`, its price rounded to the cent to keep messages
//! small.

use fiatline_core::{Estimate, PricePoint};
use serde::ser::{Serialize, Serializer};
use serde_json::Value;

/// The window an estimate was made from.
#[derive(Debug, serde::Serialize)]
pub(crate) struct WindowJson {
    pub(crate) oldest: u32,
    pub(crate) newest: u32,
    pub(crate) span: u32,
    pub(crate) transactions: usize,
}

/// The estimate as the page reads it: the price and its figures, or,
/// without one, a `null` price and the reason; each with when it was made
/// and from what window.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub(crate) enum EstimateJson<'a> {
    /// An estimate was made.
    Priced {
        price: f64,
        rough: u32,
        confidence: f64,
        points: usize,
        points_in_range: usize,
        at: u32,
        window: WindowJson,
    },
    /// None could be made.
    Unpriced {
        /// Always `null`.
        price: (),
        reason: Option<&'a str>,
        at: u32,
        window: WindowJson,
    },
}

impl<'a> EstimateJson<'a> {
    /// The estimate `e` made at `now` from `window`, or, without one, why.
    pub(crate) fn new(
        e: Option<&Estimate>,
        reason: Option<&'a str>,
        now: u32,
        window: WindowJson,
    ) -> Self {
        match e {
            Some(e) => Self::Priced {
                price: e.price,
                rough: e.rough,
                confidence: e.confidence,
                points: e.points,
                points_in_range: e.points_in_range,
                at: now,
                window,
            },
            None => Self::Unpriced {
                price: (),
                reason,
                at: now,
                window,
            },
        }
    }
}

/// Points as a JSON array of `[time, price, sats]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Points<'a>(pub(crate) &'a [&'a PricePoint]);

impl Serialize for Points<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .iter()
                .map(|p| (p.time, (p.price * 100.0).round() / 100.0, p.sats)),
        )
    }
}

/// One WebSocket message.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Message<'a> {
    /// The first part of a snapshot: the estimate and the newest points;
    /// `parts` says how many messages the snapshot takes.
    Snapshot {
        sent_ms: u128,
        estimate: &'a EstimateJson<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        compare: Option<&'a Value>,
        parts: usize,
        points: Points<'a>,
    },
    /// A later part of a snapshot, older points than the part before.
    Older { points: Points<'a> },
    /// A tick: the estimate and the points not sent yet.
    Delta {
        sent_ms: u128,
        estimate: &'a EstimateJson<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        compare: Option<&'a Value>,
        points: Points<'a>,
    },
}

impl Message<'_> {
    /// The message as JSON text.
    pub(crate) fn to_json(&self) -> String {
        // Numbers, strings and JSON values always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> WindowJson {
        WindowJson {
            oldest: 10,
            newest: 20,
            span: 10_800,
            transactions: 3,
        }
    }

    #[test]
    fn without_an_estimate_the_price_is_null_and_the_reason_is_given() {
        let e = EstimateJson::new(None, Some("no transactions yet"), 30, window());
        let m = Message::Delta {
            sent_ms: 5,
            estimate: &e,
            compare: None,
            points: Points(&[]),
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":"delta","sent_ms":5,"estimate":{"price":null,"reason":"no transactions yet","at":30,"window":{"oldest":10,"newest":20,"span":10800,"transactions":3}},"points":[]}"#
        );
        let e = EstimateJson::new(None, None, 30, window());
        let json: Value = serde_json::from_str(
            &Message::Older {
                points: Points(&[]),
            }
            .to_json(),
        )
        .unwrap_or_default();
        assert_eq!(json, serde_json::json!({"type": "older", "points": []}));
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert!(json["reason"].is_null() && json.get("reason").is_some());
    }

    #[test]
    fn a_snapshot_carries_the_estimate_and_points_rounded_to_the_cent() {
        let estimate = Estimate {
            price: 42_951.5,
            rough: 43_000,
            confidence: 0.75,
            points: 2,
            points_in_range: 1,
            deviation: 0.0,
            outputs: 9,
            fit: fiatline_core::rough::Rough {
                price: 43_000,
                slide: 0,
                best_score: 0.0,
                neighbour_score: 0.0,
                mean_score: 0.0,
            },
        };
        let e = EstimateJson::new(Some(&estimate), Some("ignored"), 30, window());
        let point = PricePoint {
            price: 42_000.126,
            height: 1,
            time: 15,
            sats: 2_381,
        };
        let compare = serde_json::json!({"enabled": false});
        let m = Message::Snapshot {
            sent_ms: 5,
            estimate: &e,
            compare: Some(&compare),
            parts: 1,
            points: Points(&[&point]),
        };
        assert_eq!(
            m.to_json(),
            r#"{"type":"snapshot","sent_ms":5,"estimate":{"price":42951.5,"rough":43000,"confidence":0.75,"points":2,"points_in_range":1,"at":30,"window":{"oldest":10,"newest":20,"span":10800,"transactions":3}},"compare":{"enabled":false},"parts":1,"points":[[15,42000.13,2381]]}"#
        );
    }
}
