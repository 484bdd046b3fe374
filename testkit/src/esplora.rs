//! A loopback Esplora / mempool.space REST server over a [`Chain`]:
//! `/blocks/tip/height`, `/blocks/tip/hash`, `/block-height/:h`,
//! `/block/:hash/header`, `/block/:hash/raw`, `/mempool/txids`,
//! `/tx/:txid/raw`, and mempool.space's `/api/v1/prices` and
//! `/api/v1/historical-price`. Tests move the tip, change the mempool
//! between polls, set the price answers (well-formed or not), and inject
//! HTTP 429, slow answers and outages.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::http::{Response, Server};
use crate::{display_hex, Chain};

/// Faults the server injects.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next this many requests get HTTP 429.
    pub too_many: AtomicU32,
    /// Requests answered so far.
    pub served: AtomicU32,
    /// Milliseconds to wait before answering each request.
    pub delay_ms: AtomicU32,
}

/// Requests counted by kind, to check politeness.
#[derive(Debug, Default)]
pub struct Counts {
    /// `/mempool/txids`.
    pub mempool: AtomicU32,
    /// `/tx/:txid/raw`.
    pub raw_tx: AtomicU32,
    /// `/api/v1/prices` and `/api/v1/historical-price`.
    pub prices: AtomicU32,
}

#[derive(Debug)]
struct State {
    chain: RwLock<Chain>,
    /// The highest block the server admits to.
    tip: AtomicU32,
    mempool: Mutex<Vec<([u8; 32], Vec<u8>)>>,
    prices: Mutex<(u16, String)>,
    historical: Mutex<(u16, String)>,
    faults: Arc<Faults>,
    counts: Arc<Counts>,
    /// HTTPS with this configuration, else plain HTTP.
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// A running Esplora server; stops when dropped.
#[derive(Debug)]
pub struct EsploraServer {
    server: Mutex<Option<Server>>,
    addr: SocketAddr,
    state: Arc<State>,
    /// Faults to inject.
    pub faults: Arc<Faults>,
    /// Requests served, by kind.
    pub counts: Arc<Counts>,
}

impl EsploraServer {
    /// Serves `chain`, every block visible and an empty mempool. The price
    /// endpoints answer 404 until set.
    pub fn start(chain: Chain) -> Self {
        Self::start_with(chain, None)
    }

    /// Serves `chain` over HTTPS with `cert` (a self-signed certificate, as
    /// a self-hosted mempool behind its own proxy has); [`Self::url`] says `https://`.
    pub fn start_tls(chain: Chain, cert: &crate::tls::SelfSigned) -> Self {
        Self::start_with(chain, Some(cert.config.clone()))
    }

    fn start_with(chain: Chain, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let faults = Arc::new(Faults::default());
        let counts = Arc::new(Counts::default());
        let state = Arc::new(State {
            tip: AtomicU32::new(chain.tip()),
            chain: RwLock::new(chain),
            mempool: Mutex::new(Vec::new()),
            prices: Mutex::new((404, "Not Found".into())),
            historical: Mutex::new((404, "Not Found".into())),
            faults: faults.clone(),
            counts: counts.clone(),
            tls,
        });
        let server = Self::listen("127.0.0.1:0", &state);
        Self {
            addr: server.addr,
            server: Mutex::new(Some(server)),
            state,
            faults,
            counts,
        }
    }

    fn listen(addr: &str, state: &Arc<State>) -> Server {
        let s = state.clone();
        Server::start_on(addr, state.tls.clone(), move |req| {
            let f = &s.faults;
            f.served.fetch_add(1, Ordering::SeqCst);
            let delay = f.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                std::thread::sleep(Duration::from_millis(u64::from(delay)));
            }
            if f.too_many.load(Ordering::SeqCst) > 0 {
                f.too_many.fetch_sub(1, Ordering::SeqCst);
                return Response::new(429, "text/plain", "Too Many Requests");
            }
            if req.method != "GET" {
                return Response::new(405, "text/plain", "");
            }
            route(&s, &req.path)
        })
    }

    /// `http://127.0.0.1:port`, or `https://` over TLS.
    pub fn url(&self) -> String {
        let scheme = if self.state.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Shows blocks up to `height` only (at most the chain's tip).
    pub fn set_tip(&self, height: u32) {
        let tip = self
            .state
            .chain
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .tip();
        self.state.tip.store(height.min(tip), Ordering::SeqCst);
    }

    /// Serves another chain from now on (a reorganisation when it forks
    /// from the old one), every block visible.
    pub fn set_chain(&self, chain: Chain) {
        let mut old = self
            .state
            .chain
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.state.tip.store(chain.tip(), Ordering::SeqCst);
        *old = chain;
    }

    /// Replaces the mempool: (txid in internal order, raw transaction).
    pub fn set_mempool(&self, txs: Vec<([u8; 32], Vec<u8>)>) {
        *lock(&self.state.mempool) = txs;
    }

    /// Sets the answer to `/api/v1/prices`: an HTTP status and a body.
    pub fn set_prices(&self, status: u16, body: impl Into<String>) {
        *lock(&self.state.prices) = (status, body.into());
    }

    /// Sets the answer to `/api/v1/historical-price`, whatever the query.
    pub fn set_historical(&self, status: u16, body: impl Into<String>) {
        *lock(&self.state.historical) = (status, body.into());
    }

    /// Stops listening: connections are refused until [`Self::restart`].
    pub fn stop(&self) {
        lock(&self.server).take();
    }

    /// Listens again on the same port, with the same state.
    pub fn restart(&self) {
        let mut server = lock(&self.server);
        if server.is_none() {
            *server = Some(Self::listen(&self.addr.to_string(), &self.state));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A header for a header-only history hash: the time is what matters.
fn history_header(chain: &Chain, hash_hex: &str) -> Option<String> {
    let mut b = hex::decode(hash_hex).ok()?;
    b.reverse();
    let (_, time) = chain.header_by_hash(&b.try_into().ok()?)?;
    let mut header = [0u8; 80];
    header[68..72].copy_from_slice(&time.to_le_bytes());
    Some(hex::encode(header))
}

fn internal(hex_id: &str) -> Option<[u8; 32]> {
    let mut b = hex::decode(hex_id).ok()?;
    b.reverse();
    b.try_into().ok()
}

fn route(s: &State, path: &str) -> Response {
    let (path, _query) = path.split_once('?').unwrap_or((path, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let tip = s.tip.load(Ordering::SeqCst);
    let chain = &*s
        .chain
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let visible = |h: &str| chain.by_hash(&internal(h)?).filter(|b| b.height <= tip);
    let not_found = || Response::new(404, "text/plain", "Block not found");
    let text =
        |(status, body): &(u16, String)| Response::new(*status, "application/json", body.clone());
    match parts.as_slice() {
        ["blocks", "tip", "height"] => Response::new(200, "text/plain", tip.to_string()),
        ["blocks", "tip", "hash"] => chain.header(tip).map_or_else(not_found, |(hash, _)| {
            Response::new(200, "text/plain", display_hex(&hash))
        }),
        ["block-height", h] => h
            .parse()
            .ok()
            .filter(|&h| h <= tip)
            .and_then(|h| chain.header(h))
            .map_or_else(not_found, |(hash, _)| {
                Response::new(200, "text/plain", display_hex(&hash))
            }),
        ["block", h, "header"] => match visible(h) {
            Some(b) => Response::new(200, "text/plain", hex::encode(&b.bytes[..80])),
            None => history_header(chain, h)
                .map_or_else(not_found, |hdr| Response::new(200, "text/plain", hdr)),
        },
        ["block", h, "raw"] => visible(h).map_or_else(not_found, |b| {
            Response::new(200, "application/octet-stream", b.bytes.clone())
        }),
        ["mempool", "txids"] => {
            s.counts.mempool.fetch_add(1, Ordering::SeqCst);
            let ids: Vec<String> = lock(&s.mempool)
                .iter()
                .map(|(txid, _)| format!("\"{}\"", display_hex(txid)))
                .collect();
            Response::new(200, "application/json", format!("[{}]", ids.join(",")))
        }
        ["tx", id, "raw"] => {
            s.counts.raw_tx.fetch_add(1, Ordering::SeqCst);
            let Some(txid) = internal(id) else {
                return Response::new(400, "text/plain", "Invalid hex string");
            };
            let in_mempool = lock(&s.mempool)
                .iter()
                .find(|(t, _)| *t == txid)
                .map(|(_, raw)| raw.clone());
            let confirmed = || {
                chain
                    .blocks
                    .iter()
                    .filter(|b| b.height <= tip)
                    .flat_map(|b| &b.txs)
                    .find(|(t, _)| *t == txid)
                    .map(|(_, raw)| raw.clone())
            };
            in_mempool.or_else(confirmed).map_or_else(
                || Response::new(404, "text/plain", "Transaction not found"),
                |raw| Response::new(200, "application/octet-stream", raw),
            )
        }
        ["api", "v1", "prices"] => {
            s.counts.prices.fetch_add(1, Ordering::SeqCst);
            text(&lock(&s.prices))
        }
        ["api", "v1", "historical-price"] => {
            s.counts.prices.fetch_add(1, Ordering::SeqCst);
            text(&lock(&s.historical))
        }
        _ => not_found(),
    }
}
