//! What the engine publishes and the HTTP and WebSocket handlers read.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::latest::LatestCell;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, watch};

use super::admission::Origins;
use super::exchange::Exchange;
use super::per_address::PerAddress;
use crate::history::readers::Readers;

/// Who may hold a WebSocket.
#[derive(Debug, Clone)]
pub(crate) struct ClientLimits {
    /// Most sockets at once.
    pub(crate) max_clients: usize,
    /// Most sockets from one address.
    pub(crate) max_per_address: usize,
    /// Which pages may open them.
    pub(crate) origins: Origins,
}

/// Messages a slow WebSocket client may fall behind before it is dropped.
pub(crate) const CLIENT_QUEUE: usize = 32;

/// Counters the engine keeps, read without locks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) filtered: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) removed: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) blocks: AtomicU64,
    /// Transactions offered again (seen in the mempool, then in a block).
    pub(crate) duplicates: AtomicU64,
    /// Blocks disconnected by reorganisations.
    pub(crate) disconnected: AtomicU64,
    /// The source's lost-message events (ZMQ sequence gaps, reconnects).
    pub(crate) gaps: AtomicU64,
    /// The source's completed resynchronisations.
    pub(crate) resyncs: AtomicU64,
    /// The source's failed attempts, tried again.
    pub(crate) source_retries: AtomicU64,
    /// Inputs the source skipped as malformed (replay lines, ZMQ messages).
    pub(crate) source_skipped: AtomicU64,
    /// The source stopped for good on an error.
    pub(crate) failed: AtomicBool,
    pub(crate) clients: AtomicUsize,
    pub(crate) dropped_clients: AtomicU64,
    /// Sockets refused (origin, caps).
    pub(crate) refused_clients: AtomicU64,
    /// Connections refused at the connection caps.
    pub(crate) refused: AtomicU64,
    /// Connections closed, silent, to make way for a newcomer.
    pub(crate) evicted: AtomicU64,
    /// Connections holding a place now.
    pub(crate) open: AtomicUsize,
    /// Accepts that failed (out of file descriptors, …).
    pub(crate) accept_errors: AtomicU64,
    pub(crate) connected: AtomicBool,
    pub(crate) finished: AtomicBool,
    /// Transactions the source knows of but has not passed on yet.
    pub(crate) backlog: AtomicU64,
    pub(crate) last_update: AtomicU32,
    pub(crate) oldest: AtomicU32,
    pub(crate) newest: AtomicU32,
}

/// Shared by the engine thread and the server's tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The latest estimate: one writer (the engine), many readers, no locks.
    pub(crate) latest: LatestCell,
    /// The snapshot a new WebSocket client gets first (JSON): every point
    /// of the window, newest first, in messages of at most
    /// `SNAPSHOT_POINTS` points (a "snapshot", then "older" ones).
    /// `Utf8Bytes` is reference-counted: every client sends the same buffers.
    pub(crate) snapshot: watch::Sender<Arc<[Utf8Bytes]>>,
    /// Deltas for every client (JSON), a bounded queue each.
    pub(crate) deltas: broadcast::Sender<Utf8Bytes>,
    pub(crate) counters: Counters,
    pub(crate) started: Instant,
    pub(crate) source: &'static str,
    pub(crate) mempool: bool,
    pub(crate) span: u32,
    pub(crate) max_clients: usize,
    /// Most sockets from one address.
    pub(crate) max_per_address: usize,
    /// Which pages may open sockets.
    pub(crate) origins: Origins,
    /// Open sockets per address.
    pub(crate) per_address: PerAddress,
    /// Why there is no estimate, when there is none.
    pub(crate) no_estimate: std::sync::Mutex<Option<String>>,
    /// The source's last persistent error, for `/health`.
    pub(crate) source_error: std::sync::Mutex<Option<String>>,
    /// The exchange price feed, with `--exchange-url`.
    pub(crate) exchange: Option<Arc<Exchange>>,
    /// The history database's read connections, with `--db`.
    pub(crate) history: Option<Arc<Readers>>,
}

impl Shared {
    pub(crate) fn new(
        source: &'static str,
        mempool: bool,
        span: u32,
        limits: ClientLimits,
        exchange: Option<Arc<Exchange>>,
        history: Option<&std::path::Path>,
    ) -> Arc<Self> {
        let (snapshot, _) = watch::channel(Arc::from([Utf8Bytes::from_static(
            r#"{"type":"snapshot","estimate":null,"points":[]}"#,
        )]));
        let (deltas, _) = broadcast::channel(CLIENT_QUEUE);
        Arc::new(Self {
            latest: LatestCell::new(),
            snapshot,
            deltas,
            counters: Counters::default(),
            started: Instant::now(),
            source,
            mempool,
            span,
            max_clients: limits.max_clients,
            max_per_address: limits.max_per_address,
            origins: limits.origins,
            per_address: PerAddress::default(),
            no_estimate: std::sync::Mutex::new(Some("no transactions yet".into())),
            source_error: std::sync::Mutex::new(None),
            exchange,
            history: history.map(|path| Arc::new(Readers::new(path))),
        })
    }

    /// Sends every connected client one message (JSON text).
    pub(crate) fn broadcast(&self, json: String) {
        // No client connected is not an error.
        let _ = self.deltas.send(Utf8Bytes::from(json));
    }

    /// Makes `parts` (JSON texts) the snapshot a client gets on connecting,
    /// and with `to_everyone` sends them to every connected client first.
    /// The engine hands over text; the frames are made here, once, and
    /// shared by every client.
    pub(crate) fn publish_snapshot(&self, parts: Vec<String>, to_everyone: bool) {
        let frames: Arc<[Utf8Bytes]> = parts.into_iter().map(Utf8Bytes::from).collect();
        if to_everyone {
            for frame in frames.iter() {
                let _ = self.deltas.send(frame.clone());
            }
        }
        self.snapshot.send_replace(frames);
    }
}

/// Reads a counter.
pub(crate) fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
