//! A loopback Electrum server over a [`Chain`]: line-delimited JSON-RPC on
//! TCP with `server.version`, `server.ping`, `blockchain.headers.subscribe`,
//! `blockchain.block.header`, `blockchain.transaction.id_from_pos` and
//! `blockchain.transaction.get`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::{display_hex, Chain};

/// A running Electrum server; stops when dropped.
#[derive(Debug)]
pub struct ElectrumServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Requests answered so far.
    pub served: Arc<AtomicU32>,
}

impl ElectrumServer {
    /// Serves `chain`.
    pub fn start(chain: Chain) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU32::new(0));
        let txs: Arc<HashMap<[u8; 32], Vec<u8>>> = Arc::new(
            chain
                .blocks
                .iter()
                .flat_map(|b| b.txs.iter().cloned())
                .collect(),
        );
        let chain = Arc::new(chain);
        let (stopping, count) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let (chain, txs, count) = (chain.clone(), txs.clone(), count.clone());
                std::thread::spawn(move || {
                    stream.set_nonblocking(false).ok();
                    // Small replies must not wait for delayed ACKs (Nagle).
                    stream.set_nodelay(true).ok();
                    let mut writer = stream.try_clone().expect("clone");
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        let Ok(req) = serde_json::from_str::<Value>(&line) else {
                            break;
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        let mut answer = call(&chain, &txs, &req).to_string();
                        answer.push('\n');
                        if writer.write_all(answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { addr, stop, served }
    }

    /// `tcp://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

impl Drop for ElectrumServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn call(chain: &Chain, txs: &HashMap<[u8; 32], Vec<u8>>, req: &Value) -> Value {
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let p = req.get("params").cloned().unwrap_or(json!([]));
    let header = |h: u64| match chain.at(h as u32) {
        Some(b) => Some(hex::encode(&b.bytes[..80])),
        // Header-only history: a header carrying the time.
        None => chain.header(h as u32).map(|(_, time)| {
            let mut header = [0u8; 80];
            header[0..4].copy_from_slice(&(h as u32).to_le_bytes());
            header[68..72].copy_from_slice(&time.to_le_bytes());
            hex::encode(header)
        }),
    };
    let result = match req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "server.version" => Ok(json!(["fiatline-testkit", "1.4"])),
        "server.ping" => Ok(Value::Null),
        "blockchain.headers.subscribe" => {
            Ok(json!({"height": chain.tip(), "hex": header(u64::from(chain.tip()))}))
        }
        "blockchain.block.header" => p[0]
            .as_u64()
            .and_then(header)
            .map(Value::from)
            .ok_or("height out of range"),
        "blockchain.transaction.id_from_pos" => p[0]
            .as_u64()
            .and_then(|h| chain.at(h as u32))
            .and_then(|b| b.txs.get(p[1].as_u64()? as usize))
            .map(|(txid, _)| json!(display_hex(txid)))
            .ok_or("No tx in position"),
        "blockchain.transaction.get" => p[0]
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|mut b| {
                b.reverse();
                txs.get(&<[u8; 32]>::try_from(b).ok()?)
            })
            .map(|raw| json!(hex::encode(raw)))
            .ok_or("No such transaction"),
        _ => Err("unknown method"),
    };
    match result {
        Ok(v) => json!({"jsonrpc": "2.0", "result": v, "id": id}),
        Err(message) => {
            json!({"jsonrpc": "2.0", "error": {"code": 1, "message": message}, "id": id})
        }
    }
}
