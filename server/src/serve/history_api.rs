//! The stored history over HTTP (with `serve --db FILE`): fiatline's own
//! `/api/v1/history`, and mempool.space's `/api/v1/prices` and
//! `/api/v1/historical-price`, so clients written for a self-hosted mempool
//! read the on-chain price.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::blocks_answer::blocks_answer;
use super::http::json_response;
use super::latest::Latest;
use super::state::Shared;
use crate::compare::DEFAULT_THRESHOLD;
use crate::history::block_text::Format;
use crate::history::query::{csv, day_span};
use crate::history::readers::Readers;
use crate::history::store::{Day, Store, StoreError};

type Params = Query<HashMap<String, String>>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, json_response(&json!({ "error": message }))).into_response()
}

/// Runs `read` on one of the history file's read connections, off the
/// async workers (SQLite blocks).
async fn with_store<T: Send + 'static>(
    readers: Option<Arc<Readers>>,
    read: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    with_readers(readers, move |r| r.read(read)).await
}

/// Runs `read` with the history file's read connections, off the async
/// workers (SQLite blocks); its error is the answer's.
async fn with_readers<T: Send + 'static>(
    readers: Option<Arc<Readers>>,
    read: impl FnOnce(&Readers) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Response> {
    let Some(readers) = readers else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "no history here: start fiatline serve with --db FILE",
        ));
    };
    let answer = tokio::task::spawn_blocking(move || read(&readers)).await;
    match answer {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!("{e}");
            Err(error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))
        }
        Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "the query failed")),
    }
}

/// A price rounded to the dollar, as mempool.space gives its prices.
fn whole_usd(usd: f64) -> i64 {
    // A saturating cast of a rounded price: exact for any real price.
    #[allow(clippy::cast_possible_truncation)]
    let whole = usd.round() as i64;
    whole
}

/// The headline price of a stored day: the hourly refinement's where
/// there is one, else the reference's.
fn headline(d: &Day) -> f64 {
    d.refined.unwrap_or(d.price)
}

/// `GET /api/v1/history?from=DATE&to=DATE[&resolution=day|block|estimate][&format=csv]`:
/// the stored days as JSON (`{"days": [{"date", "time", "price", "refined",
/// "confidence", "exchange"}], "threshold_percent"}`), the per-block rows,
/// or the live estimates `serve --db` stored; CSV with `format=csv` or
/// `Accept: text/csv`.
pub(crate) async fn history(
    State(s): State<Arc<Shared>>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let from = q
        .get("from")
        .cloned()
        .unwrap_or_else(|| "0000-01-01".into());
    let to = q.get("to").cloned().unwrap_or_else(|| "9999-12-31".into());
    for (name, date) in [("from", &from), ("to", &to)] {
        if fiatline_adapters::parse_dates(date).is_err() {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("{name}={date}: expected a date YYYY-MM-DD"),
            );
        }
    }
    let wants_csv = q.get("format").is_some_and(|f| f == "csv")
        || headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/csv"));
    match q.get("resolution").map_or("day", String::as_str) {
        "day" => {}
        "estimate" => return estimates(s, &from, &to, wants_csv).await,
        "block" => return blocks(s, &from, &to, wants_csv).await,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("resolution={other}: day, block or estimate"),
            )
        }
    }
    let days = match with_store(s.history.clone(), move |st| st.days(&from, &to)).await {
        Ok(days) => days,
        Err(r) => return r,
    };
    if wants_csv {
        return (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            csv(&days),
        )
            .into_response();
    }
    let days: Vec<_> = days
        .iter()
        .map(|d| {
            json!({
                "date": d.date, "time": d.time, "price": d.price, "refined": d.refined,
                "confidence": d.report["confidence"], "exchange": d.exchange,
            })
        })
        .collect();
    // The page highlights days whose exchange price differs by more.
    let threshold = s
        .exchange
        .as_ref()
        .map_or(DEFAULT_THRESHOLD, |x| x.threshold());
    json_response(&json!({ "days": days, "threshold_percent": threshold }))
}

/// The live estimates stored from 00:00 UTC of `from` to the end of `to`:
/// `{"estimates": [{"time", "price", "confidence", "outputs"}]}`, or CSV.
async fn estimates(s: Arc<Shared>, from: &str, to: &str, wants_csv: bool) -> Response {
    let (start, end) = match day_span(from, to) {
        Ok(span) => span,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let rows = match with_store(s.history.clone(), move |st| st.estimates(start, end)).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    if wants_csv {
        let mut out = String::from("time,price,confidence,outputs\n");
        for e in &rows {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{},{},{},{}", e.time, e.price, e.confidence, e.outputs);
        }
        return ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response();
    }
    let rows: Vec<_> = rows
        .iter()
        .map(|e| json!({"time": e.time, "price": e.price, "confidence": e.confidence, "outputs": e.outputs}))
        .collect();
    json_response(&json!({ "estimates": rows }))
}

/// The block rows whose time lies from 00:00 UTC of `from` to the end of
/// `to`: `{"blocks": [{"height", "hash", "time", "price", "rough",
/// "confidence", "outputs"}]}`, or CSV.
async fn blocks(s: Arc<Shared>, from: &str, to: &str, wants_csv: bool) -> Response {
    let (start, end) = match day_span(from, to) {
        Ok(span) => span,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let (format, content_type) = if wants_csv {
        (Format::Csv, "text/csv; charset=utf-8")
    } else {
        (Format::Json, "application/json")
    };
    let body = with_readers(s.history.clone(), move |r| {
        blocks_answer(r, format, start, end)
    })
    .await;
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(r) => r,
    }
}

/// `GET /api/v1/prices`, as mempool.space answers it: `{"time", "USD"}`,
/// the live on-chain estimate.
pub(crate) async fn prices(State(s): State<Arc<Shared>>) -> Response {
    match s.latest.read::<Latest>() {
        Some(l) => json_response(&json!({ "time": l.at, "USD": whole_usd(l.price) })),
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no estimate yet"),
    }
}

/// `GET /api/v1/historical-price?currency=USD[&timestamp=T]`, as
/// mempool.space answers it: `{"prices": [{"time", "USD"}], "exchangeRates": {}}`,
/// every stored day, or with `timestamp` the last day at or before it.
pub(crate) async fn historical_price(State(s): State<Arc<Shared>>, Query(q): Params) -> Response {
    let currency = q.get("currency").map_or("USD", String::as_str);
    if currency != "USD" {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("currency={currency}: only USD is priced on-chain"),
        );
    }
    let timestamp = match q.get("timestamp").map(|t| t.parse::<i64>()) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "timestamp: expected Unix seconds"),
    };
    let days = with_store(s.history.clone(), move |st| match timestamp {
        Some(t) => Ok(st.day_at(t)?.into_iter().collect()),
        None => st.days("0000-01-01", "9999-12-31"),
    })
    .await;
    let days: Vec<Day> = match days {
        Ok(days) => days,
        Err(r) => return r,
    };
    let prices: Vec<_> = days
        .iter()
        .map(|d| json!({ "time": d.time, "USD": whole_usd(headline(d)) }))
        .collect();
    json_response(&json!({ "prices": prices, "exchangeRates": {} }))
}
