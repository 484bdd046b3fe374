//! Bitcoin Core's ZMQ notifications (`zmqpubrawtx`, `zmqpubsequence`,
//! `zmqpubrawblock`) as a live source.
//!
//! Every message is three frames, as Core sends them: topic, body, and a
//! 4-byte little-endian sequence number counted per topic. A number that
//! does not follow the last one means messages were lost (or the node
//! restarted and counts from zero again): the source then says
//! [`LiveEvent::Resync`] and replays the node's mempool from RPC
//! (`getrawmempool true` for first-seen times, `getrawtransaction`), so the
//! window gets back what it missed. `sequence` messages with `R` become
//! removals. libzmq reconnects by itself (every 100 ms, backing off to
//! 2 s); a socket monitor reports the connection state, and a reconnect is
//! followed by a resync too. Frames that are not well-formed are counted,
//! logged and skipped.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::live::{LiveEvent, LiveSource, LiveStatus};
use crate::rpc::RpcSource;
use crate::zmq_message::decode;
use crate::SourceError;

const TOPICS: [&str; 3] = ["rawtx", "sequence", "rawblock"];
const MONITOR: &str = "inproc://fiatline-zmq-monitor";

/// Counts of what the source received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZmqStats {
    /// Well-formed messages.
    pub messages: u64,
    /// Messages skipped as malformed.
    pub malformed: u64,
    /// Gaps in sequence numbers.
    pub gaps: u64,
    /// Mempool resynchronisations done.
    pub resyncs: u64,
}

/// A ZMQ subscriber to one or more Core endpoints.
pub struct ZmqSource {
    socket: zmq::Socket,
    monitor: zmq::Socket,
    rpc: Option<RpcSource>,
    last_seq: HashMap<String, u32>,
    queue: VecDeque<LiveEvent>,
    connected: bool,
    ever_connected: bool,
    stats: ZmqStats,
    _context: zmq::Context,
}

impl std::fmt::Debug for ZmqSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqSource")
            .field("connected", &self.connected)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn zmq_error(what: &str, e: zmq::Error) -> SourceError {
    SourceError::persistent(format!("ZMQ: cannot {what}")).with_source(e)
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

impl ZmqSource {
    /// Subscribes to `endpoints` (e.g. `tcp://127.0.0.1:28332`; Core may
    /// publish each topic on its own), with `rpc` for resyncs (without it, a
    /// gap is reported but not repaired).
    ///
    /// # Errors
    /// Returns a persistent error for an endpoint libzmq rejects.
    pub fn connect(endpoints: &[String], rpc: Option<RpcSource>) -> Result<Self, SourceError> {
        let context = zmq::Context::new();
        let socket = context
            .socket(zmq::SUB)
            .map_err(|e| zmq_error("create a socket", e))?;
        socket
            .set_reconnect_ivl(100)
            .map_err(|e| zmq_error("set the reconnect interval", e))?;
        socket
            .set_reconnect_ivl_max(2000)
            .map_err(|e| zmq_error("set the reconnect interval", e))?;
        socket
            .set_rcvhwm(100_000)
            .map_err(|e| zmq_error("set the receive queue", e))?;
        socket
            .monitor(
                MONITOR,
                (zmq::SocketEvent::CONNECTED as i32) | (zmq::SocketEvent::DISCONNECTED as i32),
            )
            .map_err(|e| zmq_error("monitor the socket", e))?;
        let monitor = context
            .socket(zmq::PAIR)
            .map_err(|e| zmq_error("create a monitor socket", e))?;
        monitor
            .connect(MONITOR)
            .map_err(|e| zmq_error("connect the monitor", e))?;
        for topic in TOPICS {
            socket
                .set_subscribe(topic.as_bytes())
                .map_err(|e| zmq_error("subscribe", e))?;
        }
        let mut unique: Vec<&String> = endpoints.iter().collect();
        unique.sort();
        unique.dedup();
        for endpoint in unique {
            socket.connect(endpoint).map_err(|e| {
                SourceError::persistent(format!("ZMQ: bad endpoint {endpoint}")).with_source(e)
            })?;
        }
        Ok(Self {
            socket,
            monitor,
            rpc,
            last_seq: HashMap::new(),
            queue: VecDeque::new(),
            connected: false,
            ever_connected: false,
            stats: ZmqStats::default(),
            _context: context,
        })
    }

    /// Returns the counts so far.
    pub fn stats(&self) -> ZmqStats {
        self.stats
    }

    /// Handles monitor events: connection state, and a resync after a reconnect.
    fn drain_monitor(&mut self) {
        while let Ok(frames) = self.monitor.recv_multipart(zmq::DONTWAIT) {
            let Some(event) = frames.first().filter(|f| f.len() >= 2) else {
                continue;
            };
            let code = u16::from_le_bytes([event[0], event[1]]);
            if code == zmq::SocketEvent::CONNECTED as u16 {
                if self.ever_connected {
                    tracing::info!("ZMQ reconnected: resyncing the mempool");
                    self.resync();
                }
                self.connected = true;
                self.ever_connected = true;
            } else if code == zmq::SocketEvent::DISCONNECTED as u16 {
                tracing::warn!("ZMQ publisher disconnected; libzmq keeps reconnecting");
                self.connected = false;
            }
        }
    }

    /// Queues a resync marker and, with RPC, the whole mempool.
    fn resync(&mut self) {
        self.stats.resyncs += 1;
        self.queue.push_back(LiveEvent::Resync);
        let Some(rpc) = &self.rpc else {
            tracing::warn!(
                "ZMQ gap or reconnect, and no RPC to resync from: missed transactions stay missing"
            );
            return;
        };
        let fetched = rpc.mempool().and_then(|entries| {
            let txids: Vec<[u8; 32]> = entries.iter().map(|(t, _)| *t).collect();
            Ok(entries
                .into_iter()
                .zip(rpc.raw_transactions(&txids)?)
                .collect::<Vec<_>>())
        });
        match fetched {
            Ok(entries) => {
                for ((_, time), raw) in entries {
                    if let Some(raw) = raw {
                        self.queue.push_back(LiveEvent::Tx { raw, time });
                    }
                }
            }
            Err(e) => tracing::warn!("mempool resync through RPC failed: {e}"),
        }
    }

    /// Turns one multipart message into events, or counts it as malformed.
    fn handle(&mut self, frames: &[Vec<u8>]) {
        match decode(frames, now()) {
            Err(why) => self.malformed(&why),
            Ok(d) => {
                self.track(d.topic, d.seq);
                if let Some(event) = d.event {
                    self.stats.messages += 1;
                    self.queue.push_back(event);
                }
            }
        }
    }

    /// Notes a topic's sequence number; a jump means lost messages.
    fn track(&mut self, topic: &str, seq: u32) {
        if let Some(last) = self.last_seq.insert(topic.to_string(), seq) {
            if seq != last.wrapping_add(1) {
                self.stats.gaps += 1;
                tracing::warn!(topic, last, seq, "ZMQ sequence gap: resyncing the mempool");
                self.resync();
            }
        }
    }

    fn malformed(&mut self, why: &str) {
        self.stats.malformed += 1;
        tracing::warn!("skipped a ZMQ message: {why}");
    }
}

impl LiveSource for ZmqSource {
    fn name(&self) -> &'static str {
        "zmq"
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<LiveEvent>, SourceError> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(Some(e));
        }
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let mut items = [
            self.socket.as_poll_item(zmq::POLLIN),
            self.monitor.as_poll_item(zmq::POLLIN),
        ];
        zmq::poll(&mut items, ms)
            .map_err(|e| SourceError::transient("ZMQ poll failed").with_source(e))?;
        if items[1].is_readable() {
            self.drain_monitor();
        }
        while let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) {
            self.handle(&frames);
            if self.queue.len() > 1000 {
                break;
            }
        }
        Ok(self.queue.pop_front())
    }

    fn status(&self) -> LiveStatus {
        LiveStatus {
            connected: self.connected,
            mempool: true,
            backlog: 0,
        }
    }
}
