//! A loopback Electrum server over a [`Chain`]: line-delimited JSON-RPC on
//! TCP with `server.version`, `server.ping`, `blockchain.headers.subscribe`
//! (with notifications when the tip moves), `blockchain.block.header`,
//! `blockchain.transaction.id_from_pos` and `blockchain.transaction.get`.
//! Tests move the tip with [`ElectrumServer::announce`] and take the
//! server away and back with [`ElectrumServer::stop`] and
//! [`ElectrumServer::restart`]. [`ElectrumServer::start_tls`] serves the
//! same over TLS with a self-signed certificate, as self-hosted servers
//! often do (request and answer only: no notifications).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{display_hex, Chain};

/// An open connection: where its notifications go, whether it subscribed
/// to headers, and its socket (to close it).
#[derive(Debug)]
struct Connection {
    notes: mpsc::Sender<String>,
    subscribed: Arc<AtomicBool>,
    socket: TcpStream,
}

/// TLS settings for a server started with [`ElectrumServer::start_tls`].
type Tls = Option<Arc<rustls::ServerConfig>>;

#[derive(Debug)]
struct State {
    chain: Chain,
    txs: HashMap<[u8; 32], Vec<u8>>,
    /// The highest block the server admits to.
    tip: AtomicU32,
    connections: Mutex<Vec<Connection>>,
    served: Arc<AtomicU32>,
    tls: Tls,
}

/// A running Electrum server; stops when dropped.
#[derive(Debug)]
pub struct ElectrumServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Mutex<Arc<AtomicBool>>,
    /// Requests answered so far.
    pub served: Arc<AtomicU32>,
}

impl ElectrumServer {
    /// Serves `chain`, every block visible.
    pub fn start(chain: Chain) -> Self {
        Self::start_with(chain, None)
    }

    /// Serves `chain` over TLS with a self-signed certificate for
    /// `localhost` and `127.0.0.1`; [`Self::url`] says `ssl://`.
    pub fn start_tls(chain: Chain) -> Self {
        Self::start_tls_with(chain, &crate::tls::SelfSigned::localhost())
    }

    /// As [`Self::start_tls`], presenting `cert`.
    pub fn start_tls_with(chain: Chain, cert: &crate::tls::SelfSigned) -> Self {
        Self::start_with(chain, Some(cert.config.clone()))
    }

    fn start_with(chain: Chain, tls: Tls) -> Self {
        let served = Arc::new(AtomicU32::new(0));
        let state = Arc::new(State {
            txs: chain
                .blocks
                .iter()
                .flat_map(|b| b.txs.iter().cloned())
                .collect(),
            tip: AtomicU32::new(chain.tip()),
            chain,
            connections: Mutex::new(Vec::new()),
            served: served.clone(),
            tls,
        });
        let (addr, stop) = listen("127.0.0.1:0", &state);
        Self {
            addr,
            state,
            stop: Mutex::new(stop),
            served,
        }
    }

    /// `tcp://127.0.0.1:port`, or `ssl://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.state.tls.is_some() {
            "ssl"
        } else {
            "tcp"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Shows blocks up to `height` only, without telling subscribers.
    pub fn set_tip(&self, height: u32) {
        self.state
            .tip
            .store(height.min(self.state.chain.tip()), Ordering::SeqCst);
    }

    /// How many open connections subscribed to headers: a test announces a
    /// block once its client listens.
    pub fn subscribers(&self) -> usize {
        lock(&self.state.connections)
            .iter()
            .filter(|c| c.subscribed.load(Ordering::SeqCst))
            .count()
    }

    /// Moves the tip to `height` and notifies every subscribed connection,
    /// as a server does when a block arrives.
    pub fn announce(&self, height: u32) {
        self.set_tip(height);
        let tip = self.state.tip.load(Ordering::SeqCst);
        let note = json!({
            "jsonrpc": "2.0",
            "method": "blockchain.headers.subscribe",
            "params": [{"height": tip, "hex": header(&self.state.chain, tip)}],
        });
        let line = format!("{note}\n");
        for c in lock(&self.state.connections).iter() {
            if c.subscribed.load(Ordering::SeqCst) {
                let _ = c.notes.send(line.clone());
            }
        }
    }

    /// Closes every connection and stops listening: clients see the server
    /// vanish, and connections are refused until [`Self::restart`].
    pub fn stop(&self) {
        lock(&self.stop).store(true, Ordering::SeqCst);
        for c in lock(&self.state.connections).drain(..) {
            let _ = c.socket.shutdown(Shutdown::Both);
        }
        // Let the accept loop see the flag and release the port.
        std::thread::sleep(Duration::from_millis(20));
    }

    /// Listens again on the same port, with the same chain and tip.
    pub fn restart(&self) {
        let mut stop = lock(&self.stop);
        if stop.load(Ordering::SeqCst) {
            *stop = listen(&self.addr.to_string(), &self.state).1;
        }
    }
}

impl Drop for ElectrumServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn listen(addr: &str, state: &Arc<State>) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = crate::bind(addr);
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let (stopping, state) = (stop.clone(), state.clone());
    std::thread::spawn(move || {
        while !stopping.load(Ordering::SeqCst) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            };
            let state = state.clone();
            std::thread::spawn(move || {
                stream.set_nonblocking(false).ok();
                // Small replies must not wait for delayed ACKs (Nagle).
                stream.set_nodelay(true).ok();
                let Ok(socket) = stream.try_clone() else {
                    return;
                };
                match &state.tls {
                    Some(config) => {
                        if let Ok(tls) = rustls::ServerConnection::new(config.clone()) {
                            connection(&state, &socket, rustls::StreamOwned::new(tls, stream));
                        }
                    }
                    None => connection(&state, &socket, stream),
                }
            });
        }
    });
    (addr, stop)
}

/// One client: requests (a line each, or a batch) answered in turn, and
/// header notifications written between them, over TCP or TLS alike.
fn connection(state: &State, socket: &TcpStream, stream: impl Read + Write) {
    // Short reads let notifications out while the client is quiet.
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .ok();
    let (notes, outbox) = mpsc::channel::<String>();
    let subscribed = Arc::new(AtomicBool::new(false));
    let Ok(handle) = socket.try_clone() else {
        return;
    };
    lock(&state.connections).push(Connection {
        notes,
        subscribed: subscribed.clone(),
        socket: handle,
    });
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    'serve: loop {
        for note in outbox.try_iter() {
            let out = reader.get_mut();
            if out
                .write_all(note.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                break 'serve;
            }
        }
        match reader.read_line(&mut line) {
            // Closed (a client that refuses the certificate closes here).
            Ok(0) => break,
            Ok(_) if line.ends_with('\n') => {}
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        }
        let Ok(req) = serde_json::from_str::<Value>(&line) else {
            break;
        };
        line.clear();
        // A batch is an array of calls, answered by an array.
        let answer = match &req {
            Value::Array(calls) => {
                Value::Array(calls.iter().map(|c| call(state, c, &subscribed)).collect())
            }
            single => call(state, single, &subscribed),
        };
        let mut answer = answer.to_string();
        answer.push('\n');
        let out = reader.get_mut();
        if out
            .write_all(answer.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
    lock(&state.connections).retain(|c| !Arc::ptr_eq(&c.subscribed, &subscribed));
}

fn header(chain: &Chain, h: u32) -> Option<String> {
    match chain.at(h) {
        Some(b) => Some(hex::encode(&b.bytes[..80])),
        // Header-only history: a header carrying the time.
        None => chain.header(h).map(|(_, time)| {
            let mut header = [0u8; 80];
            header[0..4].copy_from_slice(&h.to_le_bytes());
            header[68..72].copy_from_slice(&time.to_le_bytes());
            hex::encode(header)
        }),
    }
}

fn call(state: &State, req: &Value, subscribed: &AtomicBool) -> Value {
    state.served.fetch_add(1, Ordering::SeqCst);
    let chain = &state.chain;
    let tip = state.tip.load(Ordering::SeqCst);
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let p = req.get("params").cloned().unwrap_or(json!([]));
    let visible = |h: u64| u32::try_from(h).ok().filter(|&h| h <= tip);
    let result = match req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "server.version" => Ok(json!(["fiatline-testkit", "1.4"])),
        "server.ping" => Ok(Value::Null),
        "blockchain.headers.subscribe" => {
            subscribed.store(true, Ordering::SeqCst);
            Ok(json!({"height": tip, "hex": header(chain, tip)}))
        }
        "blockchain.block.header" => p[0]
            .as_u64()
            .and_then(visible)
            .and_then(|h| header(chain, h))
            .map(Value::from)
            .ok_or("height out of range"),
        "blockchain.transaction.id_from_pos" => p[0]
            .as_u64()
            .and_then(visible)
            .and_then(|h| chain.at(h))
            .and_then(|b| b.txs.get(usize::try_from(p[1].as_u64()?).ok()?))
            .map(|(txid, _)| json!(display_hex(txid)))
            .ok_or("No tx in position"),
        "blockchain.transaction.get" => p[0]
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|mut b| {
                b.reverse();
                state.txs.get(&<[u8; 32]>::try_from(b).ok()?)
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
