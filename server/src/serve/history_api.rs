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

use super::http::json_response;
use super::latest::Latest;
use super::state::Shared;
use crate::compare::DEFAULT_THRESHOLD;
use crate::history::query::{blocks_csv, csv, day_span};
use crate::history::readers::Readers;
use crate::history::store::{BlockRow, Day, Store, StoreError};

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
    let Some(readers) = readers else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "no history here: start fiatline serve with --db FILE",
        ));
    };
    let answer = tokio::task::spawn_blocking(move || readers.read(read)).await;
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
    if wants_csv {
        let rows = match with_store(s.history.clone(), move |st| st.blocks(start, end)).await {
            Ok(rows) => rows,
            Err(r) => return r,
        };
        return (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            blocks_csv(&rows),
        )
            .into_response();
    }
    // Written row by row as the query walks them: a year is ~53,000 rows
    // and ~9 MB, and this answer is the one that must stay fast.
    let body = with_store(s.history.clone(), move |st| {
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(b"{\"blocks\":[");
        let mut first = true;
        st.each_block(start, end, |row| {
            if !first {
                out.push(b',');
            }
            first = false;
            write_block_row(&mut out, row);
        })?;
        out.extend_from_slice(b"]}");
        Ok(out)
    })
    .await;
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(r) => r,
    }
}

/// Appends `row` as JSON, byte for byte as `serde_json` writes a
/// `BlockRow` (test `a_block_row_is_written_as_serde_writes_it`), but the
/// fixed keys and a hexadecimal hash go in without the pass that looks
/// for characters to escape (a hash that is not hex is escaped as any
/// string): for a year of rows, that pass over ~6 MB of keys and hashes
/// was a good part of the answer's time.
fn write_block_row(out: &mut Vec<u8>, row: &BlockRow<&str>) {
    field(out, b"{\"height\":", &row.height);
    out.extend_from_slice(b",\"hash\":");
    if row.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        out.push(b'"');
        out.extend_from_slice(row.hash.as_bytes());
        out.push(b'"');
    } else {
        // A string always serialises, and a Vec takes it.
        let _ = serde_json::to_writer(&mut *out, row.hash);
    }
    field(out, b",\"time\":", &row.time);
    field(out, b",\"price\":", &row.price);
    field(out, b",\"rough\":", &row.rough);
    field(out, b",\"confidence\":", &row.confidence);
    field(out, b",\"outputs\":", &row.outputs);
    out.push(b'}');
}

/// Appends `key` (the JSON before a value) and the number `value`.
fn field<T: serde::Serialize>(out: &mut Vec<u8>, key: &[u8], value: &T) {
    out.extend_from_slice(key);
    // A number always serialises, and a Vec takes it.
    let _ = serde_json::to_writer(&mut *out, value);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_row_is_written_as_serde_writes_it() {
        let hex = "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";
        // A hash read from a damaged file, a number serde writes as null,
        // and the extremes of the integers.
        let odd = "a\"b\\c\u{1}\u{7f}é";
        for (hash, price, confidence, height, outputs) in [
            (
                hex,
                42_951.636_457_349_03,
                0.722_926_276_879_777_3,
                702_861,
                3_315,
            ),
            (odd, f64::NAN, 1e-300, u32::MAX, i64::MIN),
            ("", f64::INFINITY, -0.0, 0, i64::MAX),
        ] {
            let row = BlockRow {
                height,
                hash,
                time: -1,
                price,
                rough: 42_880,
                confidence,
                outputs,
            };
            let mut ours = Vec::new();
            write_block_row(&mut ours, &row);
            let theirs = serde_json::to_vec(&row).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }
}
