//! One port: the page, `/health`, `/api/v1/price`, the history
//! (`history_api`), `/metrics` and the WebSocket at `/ws`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::latest::Latest;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::admission;
use super::history_api;
use super::state::{load, Shared};

/// Largest message a client may send (clients only need control frames).
const MAX_CLIENT_MESSAGE: usize = 1024;
/// Unsent bytes a client may pile up (a snapshot message is at most about
/// 720 KiB: `SNAPSHOT_POINTS` points of at most 36 bytes).
const CLIENT_WRITE_CAP: usize = 1024 * 1024;
/// A client that does not take a message within this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

const PAGE: &str = include_str!("page.html");

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/favicon.svg", get(favicon))
        .route("/health", get(health))
        .route("/api/v1/price", get(price))
        .route("/api/v1/compare", get(compare))
        .route("/api/v1/history", get(history_api::history))
        .route("/api/v1/prices", get(history_api::prices))
        .route(
            "/api/v1/historical-price",
            get(history_api::historical_price),
        )
        .route("/metrics", get(metrics))
        .route("/ws", get(ws))
        .with_state(shared)
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// The page's icon, embedded like the page.
async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_str!("favicon.svg"),
    )
        .into_response()
}

pub(crate) fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        // Only a map with non-string keys fails, and none is sent.
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The source's state in a word: `failed` (stopped for good, `error`
/// says why), `finished` (a recording played to its end), `catching up`
/// (a backlog to pass on), `connected`, or `disconnected`.
pub(crate) fn source_state(s: &Shared) -> (&'static str, Option<String>) {
    let c = &s.counters;
    let error = s.source_error.lock().ok().and_then(|e| e.clone());
    let state = if c.failed.load(Ordering::Relaxed) {
        "failed"
    } else if c.finished.load(Ordering::Relaxed) {
        "finished"
    } else if !c.connected.load(Ordering::Relaxed) {
        "disconnected"
    } else if load(&c.backlog) > 0 {
        "catching up"
    } else {
        "connected"
    };
    (state, error)
}

/// Skipped inputs: the window's (unplaceable transactions) and the
/// source's own (malformed lines and messages).
fn skipped(s: &Shared) -> u64 {
    load(&s.counters.skipped) + load(&s.counters.source_skipped)
}

async fn health(State(s): State<Arc<Shared>>) -> Response {
    let c = &s.counters;
    let connected = c.connected.load(Ordering::Relaxed);
    let finished = c.finished.load(Ordering::Relaxed);
    let (state, error) = source_state(&s);
    json_response(&json!({
        "status": match state {
            "failed" => "failed",
            "connected" | "catching up" | "finished" => "ok",
            _ => "degraded",
        },
        "state": state,
        "error": error,
        "source": s.source,
        "connected": connected,
        "mempool": s.mempool,
        "updates": if s.mempool { "mempool and blocks" } else { "blocks only" },
        "finished": finished,
        "backlog": load(&c.backlog),
        "exchange": s.exchange.is_some(),
        "window": load(&c.active),
        "last_update": c.last_update.load(Ordering::Relaxed),
        "clients": c.clients.load(Ordering::Relaxed),
    }))
}

async fn price(State(s): State<Arc<Shared>>) -> Response {
    let c = &s.counters;
    let latest = s.latest.read::<Latest>();
    let why = s.no_estimate.lock().ok().and_then(|w| w.clone());
    let estimate = match (latest, why) {
        (Some(l), None) => json!({
            "price": l.price, "rough": l.rough, "confidence": l.confidence,
            "points": l.points, "points_in_range": l.points_in_range, "outputs": l.outputs, "at": l.at,
            "low_confidence": l.confidence < 0.3,
        }),
        (_, why) => json!({"price": null, "reason": why}),
    };
    let mut body = estimate;
    body["window"] = json!({
        "oldest": c.oldest.load(Ordering::Relaxed),
        "newest": c.newest.load(Ordering::Relaxed),
        "span": s.span,
    });
    body["stats"] = json!({
        "received": load(&c.received),
        "filtered": load(&c.filtered),
        "skipped": skipped(&s),
        "removed": load(&c.removed),
        "expired": load(&c.expired),
        "active": load(&c.active),
        "uptime": s.started.elapsed().as_secs(),
    });
    json_response(&body)
}

async fn compare(State(s): State<Arc<Shared>>) -> Response {
    let latest = s.latest.read::<Latest>();
    let estimated = s.no_estimate.lock().ok().is_some_and(|w| w.is_none());
    let (onchain, at) = match latest {
        Some(l) if estimated => (Some(l.price), l.at),
        _ => (None, super::engine::wall_clock()),
    };
    json_response(&super::exchange::compare_json(
        s.exchange.as_deref(),
        onchain,
        at,
    ))
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let latest = s.latest.read::<Latest>().unwrap_or_default();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP fiatline_{name} {help}\n# TYPE fiatline_{name} {kind}\nfiatline_{name} {value}"
        );
    };
    let rows = window_metrics(&s, &latest)
        .into_iter()
        .chain(source_metrics(&s));
    for (name, kind, help, value) in rows {
        metric(name, kind, help, value);
    }
    if let Some(x) = &s.exchange {
        exchange_metrics(x, &latest, &mut metric);
    }
    metric(
        "uptime_seconds",
        "counter",
        "Seconds since start.",
        s.started.elapsed().as_secs_f64(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// A Prometheus metric: name, type, help, value.
type Row = (&'static str, &'static str, &'static str, f64);

/// The estimate's and the window's metrics.
fn window_metrics(s: &Shared, latest: &Latest) -> Vec<Row> {
    let c = &s.counters;
    let counted = |a: &std::sync::atomic::AtomicU64| load(a) as f64;
    vec![
        (
            "price_usd",
            "gauge",
            "Latest on-chain BTC/USD price (0 before the first estimate).",
            latest.price,
        ),
        (
            "confidence",
            "gauge",
            "Confidence of the latest estimate, 0 to 1.",
            latest.confidence,
        ),
        (
            "price_points",
            "gauge",
            "Price points behind the latest estimate.",
            f64::from(latest.points),
        ),
        (
            "window_transactions",
            "gauge",
            "Transactions in the rolling window.",
            counted(&c.active),
        ),
        (
            "received_total",
            "counter",
            "Distinct transactions offered to the window.",
            counted(&c.received),
        ),
        (
            "duplicates_total",
            "counter",
            "Transactions offered again (mempool, then block, then resync).",
            counted(&c.duplicates),
        ),
        (
            "blocks_total",
            "counter",
            "Blocks taken in.",
            counted(&c.blocks),
        ),
        (
            "disconnected_blocks_total",
            "counter",
            "Blocks disconnected by reorganisations (their transactions stay).",
            counted(&c.disconnected),
        ),
        (
            "source_gaps_total",
            "counter",
            "Times the source lost messages (ZMQ sequence gaps, reconnects).",
            counted(&c.gaps),
        ),
        (
            "source_resyncs_total",
            "counter",
            "Mempool resynchronisations the source completed.",
            counted(&c.resyncs),
        ),
    ]
}

/// The source's and the clients' metrics.
fn source_metrics(s: &Shared) -> Vec<Row> {
    let c = &s.counters;
    let counted = |a: &std::sync::atomic::AtomicU64| load(a) as f64;
    vec![
        (
            "source_retries_total",
            "counter",
            "Source requests that failed and were tried again (a node still starting).",
            counted(&c.source_retries),
        ),
        (
            "filtered_total",
            "counter",
            "Transactions whose outputs the filters left out.",
            counted(&c.filtered),
        ),
        (
            "skipped_total",
            "counter",
            "Malformed or unplaceable inputs skipped.",
            skipped(s) as f64,
        ),
        (
            "removed_total",
            "counter",
            "Transactions removed before expiry.",
            counted(&c.removed),
        ),
        (
            "expired_total",
            "counter",
            "Transactions that expired.",
            counted(&c.expired),
        ),
        (
            "ws_clients",
            "gauge",
            "Connected WebSocket clients.",
            c.clients.load(Ordering::Relaxed) as f64,
        ),
        (
            "ws_refused_total",
            "counter",
            "WebSocket clients refused (origin, total cap, cap per address).",
            counted(&c.refused_clients),
        ),
        (
            "connections_open",
            "gauge",
            "Connections holding a place under --max-connections.",
            c.open.load(Ordering::Relaxed) as f64,
        ),
        (
            "connections_refused_total",
            "counter",
            "Connections closed at once at the connection caps (total, per address).",
            counted(&c.refused),
        ),
        (
            "connections_evicted_total",
            "counter",
            "Connections closed before their first request to make way for a newcomer.",
            counted(&c.evicted),
        ),
        (
            "accept_errors_total",
            "counter",
            "Accepts that failed (out of file descriptors, ...).",
            counted(&c.accept_errors),
        ),
        (
            "ws_dropped_total",
            "counter",
            "WebSocket clients dropped as too slow or misbehaving.",
            counted(&c.dropped_clients),
        ),
        (
            "source_connected",
            "gauge",
            "1 while the source is connected.",
            f64::from(u8::from(c.connected.load(Ordering::Relaxed))),
        ),
        (
            "source_backlog",
            "gauge",
            "Transactions the source knows of but has not passed on yet.",
            counted(&c.backlog),
        ),
    ]
}

/// The exchange price and the difference, absent rather than zero when
/// there is nothing to compare.
fn exchange_metrics(
    x: &super::exchange::Exchange,
    latest: &Latest,
    metric: &mut impl FnMut(&str, &str, &str, f64),
) {
    let onchain = (latest.price > 0.0).then_some(latest.price);
    let c = x.comparison(onchain, latest.at);
    if let (Some(price), Some(diff)) = (c.exchange, c.difference_percent) {
        metric(
            "exchange_price_usd",
            "gauge",
            "Exchange BTC/USD price compared with (only while usable).",
            price,
        );
        metric(
            "exchange_difference_percent",
            "gauge",
            "(on-chain - exchange) / exchange, in percent.",
            diff,
        );
    }
}

async fn ws(
    upgrade: WebSocketUpgrade,
    State(s): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let slot = match admission::admit(&s, peer.ip(), &headers) {
        Ok(slot) => slot,
        Err(refusal) => {
            s.counters.refused_clients.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("refused a socket from {peer}: {refusal:?}");
            return refusal.status().into_response();
        }
    };
    upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        // Clients only listen: small read buffers; writes go out at once,
        // and a client whose unsent data passes the cap is dropped.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(CLIENT_WRITE_CAP)
        // A failed upgrade drops the slot with the closure.
        .on_upgrade(move |socket| client(socket, s, slot))
}

/// One client: the snapshot, then every delta; dropped when it falls
/// `CLIENT_QUEUE` messages behind, stops taking messages, or sends anything
/// but control frames.
async fn client(socket: WebSocket, s: Arc<Shared>, slot: admission::Slot) {
    let (mut tx, mut rx) = socket.split();
    let mut deltas = s.deltas.subscribe();
    let snapshot = s.snapshot.borrow().clone();
    let mut dropped = false;
    let mut sent = true;
    for part in snapshot.iter() {
        let done = tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Text(part.clone()))).await;
        if !matches!(done, Ok(Ok(()))) {
            sent = false;
            break;
        }
    }
    if sent {
        loop {
            tokio::select! {
                delta = deltas.recv() => match delta {
                    Ok(text) => {
                        let sent = tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Text(text))).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            dropped = true;
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        dropped = true;
                        let _ = close(&mut tx, 1008, "too slow").await;
                        break;
                    }
                    Err(RecvError::Closed) => break,
                },
                incoming = rx.next() => match incoming {
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Text(_) | Message::Binary(_))) => {
                        dropped = true;
                        let _ = close(&mut tx, 1008, "this socket only sends").await;
                        break;
                    }
                    // Closed, failed, or oversized (axum refuses those frames).
                    _ => break,
                },
            }
        }
    } else {
        dropped = true;
    }
    if dropped {
        s.counters.dropped_clients.fetch_add(1, Ordering::Relaxed);
    }
    drop(slot);
}

async fn close(
    tx: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    code: u16,
    reason: &'static str,
) -> Result<(), axum::Error> {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    tokio::time::timeout(Duration::from_secs(1), tx.send(Message::Close(Some(frame))))
        .await
        .unwrap_or(Ok(()))
}
