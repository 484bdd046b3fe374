//! A loopback Esplora REST server over a [`Chain`]: `/blocks/tip/height`,
//! `/block-height/:h`, `/block/:hash/header`, `/block/:hash/raw`, with
//! rate limiting (HTTP 429) to inject.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::http::{Response, Server};
use crate::{display_hex, Chain};

/// Faults the server injects.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next this many requests get HTTP 429.
    pub too_many: AtomicU32,
    /// Requests answered so far.
    pub served: AtomicU32,
}

/// A running Esplora server; stops when dropped.
#[derive(Debug)]
pub struct EsploraServer {
    server: Server,
    /// Faults to inject.
    pub faults: Arc<Faults>,
}

impl EsploraServer {
    /// Serves `chain`.
    pub fn start(chain: Chain) -> Self {
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        let server = Server::start(move |req| {
            f.served.fetch_add(1, Ordering::SeqCst);
            if f.too_many.load(Ordering::SeqCst) > 0 {
                f.too_many.fetch_sub(1, Ordering::SeqCst);
                return Response::new(429, "text/plain", "Too Many Requests");
            }
            if req.method != "GET" {
                return Response::new(405, "text/plain", "");
            }
            route(&chain, &req.path)
        });
        Self { server, faults }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }
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

fn route(chain: &Chain, path: &str) -> Response {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let by_hash = |h: &str| {
        let mut b = hex::decode(h).ok()?;
        b.reverse();
        chain.by_hash(&b.try_into().ok()?)
    };
    let not_found = || Response::new(404, "text/plain", "Block not found");
    match parts.as_slice() {
        ["blocks", "tip", "height"] => Response::new(200, "text/plain", chain.tip().to_string()),
        ["block-height", h] => h
            .parse()
            .ok()
            .and_then(|h| chain.header(h))
            .map_or_else(not_found, |(hash, _)| {
                Response::new(200, "text/plain", display_hex(&hash))
            }),
        ["block", h, "header"] => match by_hash(h) {
            Some(b) => Response::new(200, "text/plain", hex::encode(&b.bytes[..80])),
            None => history_header(chain, h)
                .map_or_else(not_found, |hdr| Response::new(200, "text/plain", hdr)),
        },
        ["block", h, "raw"] => by_hash(h).map_or_else(not_found, |b| {
            Response::new(200, "application/octet-stream", b.bytes.clone())
        }),
        _ => not_found(),
    }
}
