//! The exchange price from a mempool.space-compatible server, to set
//! beside the on-chain one: `/api/v1/prices` for now and
//! `/api/v1/historical-price` for a past moment.
//!
//! Answers are checked before they are believed: a price must be a finite
//! positive number of dollars with a time, else the answer is malformed.
//! Nothing here decides whether a price is too old to compare; the caller
//! knows how old it may be.

use std::time::Duration;

use serde::Deserialize;

use crate::SourceError;

/// What went wrong asking the exchange-price feed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExchangeError {
    /// An HTTP status other than 200 (transient for 429 and 5xx).
    Http {
        /// The URL asked, credentials redacted.
        url: String,
        /// The status.
        status: i32,
    },
    /// An answer that is not the feed's JSON.
    Malformed {
        /// The URL asked, credentials redacted.
        url: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The feed holds no price for the moment asked.
    NoPrice {
        /// The URL asked, credentials redacted.
        url: String,
    },
    /// A price that is not a positive number.
    BadPrice {
        /// The URL asked, credentials redacted.
        url: String,
    },
    /// A price without a time.
    NoTime {
        /// The URL asked, credentials redacted.
        url: String,
    },
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http { url, status } => write!(f, "{url} answered HTTP {status}"),
            Self::Malformed { url, .. } => write!(f, "{url} sent malformed JSON"),
            Self::NoPrice { url } => write!(f, "{url} has no price for that time"),
            Self::BadPrice { url } => write!(f, "{url} gave no usable USD price"),
            Self::NoTime { url } => write!(f, "{url} gave no time for its price"),
        }
    }
}

impl std::error::Error for ExchangeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Malformed { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ExchangeError> for SourceError {
    fn from(e: ExchangeError) -> Self {
        match e {
            ExchangeError::Http { status, .. } if status == 429 || status >= 500 => {
                Self::transient(e)
            }
            _ => Self::persistent(e),
        }
    }
}

/// A BTC/USD price from an exchange feed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExchangePrice {
    /// Dollars per bitcoin.
    pub usd: f64,
    /// When the feed says the price held, Unix seconds.
    pub time: u32,
}

/// A client for a mempool.space-compatible price feed.
#[derive(Debug, Clone)]
pub struct ExchangeClient {
    /// The API base, ending in `/api`.
    api: String,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Quote {
    time: Option<u64>,
    #[serde(rename = "USD")]
    usd: Option<f64>,
}

#[derive(Deserialize)]
struct History {
    prices: Vec<Quote>,
}

impl ExchangeClient {
    /// Creates a client for `url`: a server (`https://mempool.space`) or
    /// its API base (`https://mempool.space/api`). Requests are abandoned
    /// after `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Self {
        let url = url.trim_end_matches('/');
        let api = if url.ends_with("/api") {
            url.to_string()
        } else {
            format!("{url}/api")
        };
        Self { api, timeout }
    }

    /// The endpoint asked for the current price, for messages.
    pub fn latest_url(&self) -> String {
        format!("{}/v1/prices", self.api)
    }

    /// Returns the current price.
    ///
    /// # Errors
    /// Returns a transient error when the server cannot be reached, times
    /// out, or answers HTTP 429 or 5xx, and a persistent one for any other
    /// status or a malformed answer.
    pub fn latest(&self) -> Result<ExchangePrice, SourceError> {
        let url = self.latest_url();
        let quote: Quote = self.get(&url)?;
        check(&crate::redact::redacted(&url), &quote)
    }

    /// Returns the price the feed holds for the moment `timestamp` (Unix
    /// seconds); mempool.space answers with the nearest point it has.
    ///
    /// # Errors
    /// As [`ExchangeClient::latest`]; also persistent when the feed has no
    /// price for that moment.
    pub fn historical(&self, timestamp: u32) -> Result<ExchangePrice, SourceError> {
        let url = format!(
            "{}/v1/historical-price?currency=USD&timestamp={timestamp}",
            self.api
        );
        let history: History = self.get(&url)?;
        let quote = history
            .prices
            .first()
            .ok_or_else(|| ExchangeError::NoPrice {
                url: crate::redact::redacted(&url).into_owned(),
            })?;
        check(&crate::redact::redacted(&url), quote)
    }

    fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, SourceError> {
        let shown = crate::redact::redacted(url).into_owned();
        let response = bitreq::get(url)
            .with_timeout(self.timeout)
            .send()
            .map_err(|e| crate::tls::unreachable(shown.clone(), e))?;
        let status = response.status_code;
        if status != 200 {
            return Err(ExchangeError::Http { url: shown, status }.into());
        }
        serde_json::from_slice(response.as_bytes())
            .map_err(|source| ExchangeError::Malformed { url: shown, source }.into())
    }
}

/// Believes a quote only with a positive finite price and a time.
fn check(url: &str, quote: &Quote) -> Result<ExchangePrice, SourceError> {
    let usd = quote
        .usd
        .filter(|p| p.is_finite() && *p > 0.0)
        .ok_or_else(|| ExchangeError::BadPrice {
            url: url.to_owned(),
        })?;
    let time = quote
        .time
        .and_then(|t| u32::try_from(t).ok())
        .filter(|&t| t > 0)
        .ok_or_else(|| ExchangeError::NoTime {
            url: url.to_owned(),
        })?;
    Ok(ExchangePrice { usd, time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_is_found_from_either_form() {
        let t = Duration::from_secs(1);
        for url in [
            "https://mempool.space",
            "https://mempool.space/",
            "https://mempool.space/api",
            "https://mempool.space/api/",
        ] {
            assert_eq!(
                ExchangeClient::new(url, t).latest_url(),
                "https://mempool.space/api/v1/prices"
            );
        }
    }

    #[test]
    fn only_positive_finite_prices_with_a_time_are_believed() {
        let q = |time, usd| Quote { time, usd };
        assert_eq!(
            check("u", &q(Some(1_700_000_000), Some(43_000.5))).unwrap(),
            ExchangePrice {
                usd: 43_000.5,
                time: 1_700_000_000
            }
        );
        for bad in [
            q(Some(1), None),
            q(Some(1), Some(0.0)),
            q(Some(1), Some(-5.0)),
            q(Some(1), Some(f64::NAN)),
            q(None, Some(40_000.0)),
            q(Some(0), Some(40_000.0)),
            q(Some(u64::MAX), Some(40_000.0)),
        ] {
            let e = check("u", &bad).unwrap_err();
            assert!(!e.is_transient(), "{e}");
        }
    }
}
