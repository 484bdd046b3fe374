//! `serve --exchange-url`: a thread that asks a mempool.space-compatible
//! server for the exchange price every interval and keeps the last good
//! one; and the comparison the page, the WebSocket and `/api/v1/compare`
//! show beside the on-chain price. Without the flag none of this exists
//! and nothing is fetched.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fiatline_adapters::exchange::{ExchangeClient, ExchangePrice};
use serde_json::{json, Value};

use super::engine::wall_clock;
use crate::compare::{compare, Comparison};

/// How the exchange price is fetched and judged.
#[derive(Debug, Clone)]
pub(crate) struct ExchangeConfig {
    pub(crate) url: String,
    pub(crate) interval: Duration,
    /// Oldest an exchange price may be and still be compared, seconds.
    pub(crate) max_age: u32,
    /// Difference, in percent, past which the page warns.
    pub(crate) threshold: f64,
}

#[derive(Debug, Default)]
struct Feed {
    /// The last usable price.
    price: Option<ExchangePrice>,
    /// Why the last fetch failed, if it did.
    error: Option<String>,
    fetches: u64,
    failures: u64,
}

/// The exchange feed and its settings.
#[derive(Debug)]
pub(crate) struct Exchange {
    config: ExchangeConfig,
    feed: Mutex<Feed>,
}

impl Exchange {
    /// The difference, in percent, past which the page warns.
    pub(crate) fn threshold(&self) -> f64 {
        self.config.threshold
    }

    /// Starts fetching in a thread of its own.
    pub(crate) fn start(config: ExchangeConfig) -> std::io::Result<Arc<Self>> {
        let exchange = Arc::new(Self {
            config,
            feed: Mutex::new(Feed::default()),
        });
        let e = exchange.clone();
        std::thread::Builder::new()
            .name("exchange".into())
            .spawn(move || e.run())?;
        Ok(exchange)
    }

    fn feed(&self) -> std::sync::MutexGuard<'_, Feed> {
        self.feed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn run(&self) {
        let client = ExchangeClient::new(&self.config.url, Duration::from_secs(10));
        tracing::info!(
            "exchange price from {} every {} s",
            fiatline_adapters::redact::redacted(&client.latest_url()),
            self.config.interval.as_secs()
        );
        loop {
            let result = client.latest();
            {
                let mut feed = self.feed();
                feed.fetches += 1;
                match result {
                    Ok(price) => {
                        if feed.error.is_some() {
                            tracing::info!("exchange price available again");
                        }
                        feed.price = Some(price);
                        feed.error = None;
                    }
                    Err(e) => {
                        feed.failures += 1;
                        let message = e.to_string();
                        if feed.error.as_deref() != Some(message.as_str()) {
                            tracing::warn!("exchange price: {message}");
                        }
                        feed.error = Some(message);
                    }
                }
            }
            std::thread::sleep(self.config.interval);
        }
    }

    /// The comparison with the on-chain price estimated at `now`.
    pub(crate) fn comparison(&self, onchain: Option<f64>, now: u32) -> Comparison {
        let feed = self.feed();
        let mut c = match (&feed.price, &feed.error) {
            (Some(p), _) => compare(
                onchain,
                Ok(*p),
                now,
                self.config.max_age,
                self.config.threshold,
            ),
            (None, Some(e)) => Comparison::none(format!("no exchange price: {e}")),
            (None, None) => Comparison::none("no exchange price yet"),
        };
        // A stale price because fetching fails: say both.
        if let (Some(reason), Some(_), Some(e)) = (&mut c.reason, &feed.price, &feed.error) {
            reason.push_str("; the last fetch failed: ");
            reason.push_str(e);
        }
        c
    }

    /// `/api/v1/compare` and the WebSocket's `compare` object.
    pub(crate) fn json(&self, onchain: Option<f64>, now: u32) -> Value {
        let c = self.comparison(onchain, now);
        let (fetches, failures, last_error) = {
            let feed = self.feed();
            (feed.fetches, feed.failures, feed.error.clone())
        };
        json!({
            "enabled": true,
            "source": fiatline_adapters::redact::redacted(&self.config.url),
            "onchain": onchain,
            "exchange": c.exchange,
            "exchange_time": c.exchange_time,
            "age": c.exchange_time.map(|t| wall_clock().saturating_sub(t)),
            "difference_percent": c.difference_percent,
            "threshold_percent": self.config.threshold,
            "warning": c.warning,
            "reason": c.reason,
            "last_error": last_error,
            "fetches": fetches,
            "failures": failures,
        })
    }
}

/// The comparison of the on-chain price estimated at `at` (the wall clock
/// for a live source, the recording's for a replay), or that there is none
/// to make.
pub(crate) fn compare_json(exchange: Option<&Exchange>, onchain: Option<f64>, at: u32) -> Value {
    match exchange {
        Some(x) => x.json(onchain, at),
        None => json!({
            "enabled": false,
            "reason": "no exchange to compare with: start serve with --exchange-url",
        }),
    }
}
