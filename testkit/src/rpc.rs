//! A loopback Bitcoin Core JSON-RPC server over a [`Chain`]: `getblockcount`,
//! `getblockhash`, `getblockheader`, `getblock <hash> 0`, single or batched,
//! with HTTP Basic auth, and faults to inject.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::http::{Response, Server};
use crate::{display_hex, Chain};

/// Faults the server injects, shared with the test that started it.
#[derive(Debug, Default)]
pub struct Faults {
    /// The next this many requests get HTTP 500.
    pub fail_next: AtomicU32,
    /// Requests answered so far.
    pub served: AtomicU32,
    /// The next this many calls get error -28, as a node still loading
    /// ("Loading block index…", "Loading wallet…") answers.
    pub warming_up: AtomicU32,
}

/// The node's mempool: (txid in internal order, raw transaction, first-seen time).
pub type Mempool = Arc<Mutex<Vec<([u8; 32], Vec<u8>, u32)>>>;

/// A running JSON-RPC server; stops when dropped.
#[derive(Debug)]
pub struct RpcServer {
    server: Server,
    /// Faults to inject.
    pub faults: Arc<Faults>,
    /// The mempool `getrawmempool` and `getrawtransaction` answer from.
    pub mempool: Mempool,
    https: bool,
    chain: Arc<std::sync::RwLock<Chain>>,
}

impl RpcServer {
    /// Serves `chain`, accepting `user:password`.
    pub fn start(chain: Chain, user: &str, password: &str) -> Self {
        Self::start_on("127.0.0.1:0", chain, user, password)
    }

    /// The same, on a chosen address (to restart a server on its old port).
    pub fn start_on(addr: &str, chain: Chain, user: &str, password: &str) -> Self {
        Self::start_with(addr, chain, user, password, None)
    }

    /// Serves `chain` over HTTPS with `cert`, as a node behind a TLS proxy
    /// is reached; [`Self::url`] says `https://`.
    pub fn start_tls(
        chain: Chain,
        user: &str,
        password: &str,
        cert: &crate::tls::SelfSigned,
    ) -> Self {
        Self::start_with(
            "127.0.0.1:0",
            chain,
            user,
            password,
            Some(cert.config.clone()),
        )
    }

    fn start_with(
        addr: &str,
        chain: Chain,
        user: &str,
        password: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let https = tls.is_some();
        let expected = format!("Basic {}", BASE64.encode(format!("{user}:{password}")));
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        let mempool: Mempool = Arc::default();
        let pool = mempool.clone();
        let chain = Arc::new(std::sync::RwLock::new(chain));
        let served_chain = chain.clone();
        let server = Server::start_on(addr, tls, move |req| {
            let chain = served_chain
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f.served.fetch_add(1, Ordering::SeqCst);
            if req.authorization.as_deref() != Some(expected.as_str()) {
                // Core answers a bad password with 401 and an empty body.
                return Response::new(401, "text/plain", "");
            }
            if f.fail_next.load(Ordering::SeqCst) > 0 {
                f.fail_next.fetch_sub(1, Ordering::SeqCst);
                return Response::new(500, "text/plain", "Internal Server Error");
            }
            let Ok(request) = serde_json::from_slice::<Value>(&req.body) else {
                return Response::new(
                    500,
                    "application/json",
                    r#"{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}"#,
                );
            };
            if f.warming_up.load(Ordering::SeqCst) > 0 {
                f.warming_up.fetch_sub(1, Ordering::SeqCst);
                let id = request.get("id").cloned().unwrap_or(Value::Null);
                let warming = json!({"result": null, "error": {"code": -28, "message": "Loading wallet…"}, "id": id});
                return Response::new(500, "application/json", warming.to_string());
            }
            let answer = match request {
                Value::Array(batch) => {
                    Value::Array(batch.iter().map(|r| call(&chain, &pool, r)).collect())
                }
                single => call(&chain, &pool, &single),
            };
            Response::new(200, "application/json", answer.to_string())
        });
        Self {
            server,
            faults,
            mempool,
            https,
            chain,
        }
    }

    /// Serves `chain` from now on: a node that found blocks, or reorganised.
    pub fn set_chain(&self, chain: Chain) {
        *self
            .chain
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = chain;
    }

    /// `http://127.0.0.1:port`, or `https://` over TLS.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.server.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
}

fn call(chain: &Chain, mempool: &Mempool, request: &Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let params = request.get("params").cloned().unwrap_or(json!([]));
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hash = |i: usize| -> Option<[u8; 32]> {
        let mut b = hex::decode(params[i].as_str()?).ok()?;
        b.reverse();
        b.try_into().ok()
    };
    let by_hash = |i: usize| chain.by_hash(&hash(i)?);
    let result = match method {
        "getblockcount" => Ok(json!(chain.tip())),
        "getblockhash" => params[0]
            .as_u64()
            .and_then(|h| u32::try_from(h).ok().and_then(|h| chain.header(h)))
            .map(|(h, _)| json!(display_hex(&h)))
            .ok_or((-8, "Block height out of range")),
        "getblockheader" => hash(0)
            .and_then(|h| Some((h, chain.header_by_hash(&h)?)))
            .map(|(h, (height, time))| json!({"hash": display_hex(&h), "height": height, "time": time}))
            .ok_or((-5, "Block not found")),
        "getblock" => by_hash(0)
            .map(|b| json!(hex::encode(&b.bytes)))
            .ok_or((-5, "Block not found")),
        "getrawmempool" => {
            // Core lists the pool as an object keyed by txid, in no useful
            // order; "depends" names the in-pool parents.
            let pool = mempool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let ids: std::collections::HashSet<[u8; 32]> = pool.iter().map(|(t, _, _)| *t).collect();
            let entries: serde_json::Map<String, Value> = pool
                .iter()
                .map(|(txid, raw, time)| {
                    let depends: Vec<String> = fiatline_core::Transaction::parse(raw)
                        .map(|tx| {
                            tx.inputs()
                                .filter(|i| ids.contains(i.prev_txid))
                                .map(|i| display_hex(i.prev_txid))
                                .collect()
                        })
                        .unwrap_or_default();
                    (display_hex(txid), json!({"time": time, "vsize": 100, "depends": depends}))
                })
                .collect();
            Ok(Value::Object(entries))
        }
        "getrawtransaction" => {
            let pool = mempool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            hash(0)
                .and_then(|t| pool.iter().find(|(txid, _, _)| *txid == t))
                .map(|(_, raw, _)| json!(hex::encode(raw)))
                .ok_or((-5, "No such mempool or blockchain transaction"))
        }
        _ => Err((-32601, "Method not found")),
    };
    match result {
        Ok(v) => json!({"result": v, "error": null, "id": id}),
        Err((code, message)) => {
            json!({"result": null, "error": {"code": code, "message": message}, "id": id})
        }
    }
}
