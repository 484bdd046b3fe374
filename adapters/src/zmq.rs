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
use std::time::{Duration, Instant};

use crate::follower::{ChainChange, ChainFollower};
use crate::live::{unix_now, LiveEvent, LiveSource, LiveStatus};
use crate::mempool_load::{LoadCounters, MempoolLoader};
use crate::rpc::RpcSource;
use crate::zmq_message::{decode, MessageError};
use crate::{BlockHash, BlockSource, SourceError};

const TOPICS: [&str; 3] = ["rawtx", "sequence", "rawblock"];
const MONITOR: &str = "inproc://fiatline-zmq-monitor";
/// Recent blocks remembered to find a fork.
const KEEP_BLOCKS: usize = 12;
/// Most blocks caught up at once.
const MAX_CATCH_UP: u32 = 24;

/// Counts of what the source received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZmqStats {
    /// Well-formed messages.
    pub messages: u64,
    /// Messages skipped as malformed.
    pub malformed: u64,
    /// Gaps in sequence numbers.
    pub gaps: u64,
    /// Resynchronisations asked for (gaps and reconnects).
    pub resyncs: u64,
    /// Block catch-ups that failed and were tried again.
    pub retries: u64,
}

/// A ZMQ subscriber to one or more Core endpoints.
pub struct ZmqSource {
    socket: zmq::Socket,
    monitor: zmq::Socket,
    rpc: Option<RpcSource>,
    /// Loads the mempool at start and after every gap, off this thread.
    loader: Option<MempoolLoader>,
    /// The blocks passed on, to catch up those published while disconnected.
    follower: ChainFollower,
    /// A catch-up of blocks is due (at or after this instant).
    catch_up: Option<Instant>,
    /// Wait before the next catch-up after a failed one.
    catch_up_wait: Duration,
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

/// A step of setting up the subscription, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setup {
    /// Creating the SUB socket.
    Socket,
    /// Setting its reconnect interval.
    ReconnectInterval,
    /// Setting its receive queue.
    ReceiveQueue,
    /// Asking for its events.
    Monitor,
    /// Creating the socket the events come to.
    MonitorSocket,
    /// Connecting that socket.
    ConnectMonitor,
    /// Subscribing to the topics.
    Subscribe,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Socket => "create a socket",
            Self::ReconnectInterval => "set the reconnect interval",
            Self::ReceiveQueue => "set the receive queue",
            Self::Monitor => "monitor the socket",
            Self::MonitorSocket => "create a monitor socket",
            Self::ConnectMonitor => "connect the monitor",
            Self::Subscribe => "subscribe",
        })
    }
}

/// What went wrong with the ZMQ subscription.
#[derive(Debug)]
#[non_exhaustive]
pub enum ZmqError {
    /// A step of the setup failed.
    Setup {
        /// The step.
        step: Setup,
        /// libzmq's error.
        source: zmq::Error,
    },
    /// An endpoint libzmq does not accept.
    BadEndpoint {
        /// The endpoint.
        endpoint: String,
        /// libzmq's error.
        source: zmq::Error,
    },
    /// Waiting for messages failed (transient).
    Poll(zmq::Error),
}

impl std::fmt::Display for ZmqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Setup { step, .. } => write!(f, "ZMQ: cannot {step}"),
            Self::BadEndpoint { endpoint, .. } => write!(f, "ZMQ: bad endpoint {endpoint}"),
            Self::Poll(_) => f.write_str("ZMQ poll failed"),
        }
    }
}

impl std::error::Error for ZmqError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Setup { source, .. } | Self::BadEndpoint { source, .. } | Self::Poll(source) => {
                Some(source)
            }
        }
    }
}

impl From<ZmqError> for SourceError {
    fn from(e: ZmqError) -> Self {
        match e {
            ZmqError::Poll(_) => Self::transient(e),
            _ => Self::persistent(e),
        }
    }
}

fn zmq_error(step: Setup, source: zmq::Error) -> ZmqError {
    ZmqError::Setup { step, source }
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
            .map_err(|e| zmq_error(Setup::Socket, e))?;
        socket
            .set_reconnect_ivl(100)
            .map_err(|e| zmq_error(Setup::ReconnectInterval, e))?;
        socket
            .set_reconnect_ivl_max(2000)
            .map_err(|e| zmq_error(Setup::ReconnectInterval, e))?;
        socket
            .set_rcvhwm(100_000)
            .map_err(|e| zmq_error(Setup::ReceiveQueue, e))?;
        socket
            .monitor(
                MONITOR,
                (zmq::SocketEvent::CONNECTED as i32) | (zmq::SocketEvent::DISCONNECTED as i32),
            )
            .map_err(|e| zmq_error(Setup::Monitor, e))?;
        let monitor = context
            .socket(zmq::PAIR)
            .map_err(|e| zmq_error(Setup::MonitorSocket, e))?;
        monitor
            .connect(MONITOR)
            .map_err(|e| zmq_error(Setup::ConnectMonitor, e))?;
        for topic in TOPICS {
            socket
                .set_subscribe(topic.as_bytes())
                .map_err(|e| zmq_error(Setup::Subscribe, e))?;
        }
        let mut unique: Vec<&String> = endpoints.iter().collect();
        unique.sort();
        unique.dedup();
        for endpoint in unique {
            socket
                .connect(endpoint)
                .map_err(|source| ZmqError::BadEndpoint {
                    endpoint: endpoint.clone(),
                    source,
                })?;
        }
        // The node's mempool at start: tens of thousands of transactions
        // on mainnet that would otherwise wait to confirm.
        let loader = rpc.clone().map(MempoolLoader::start);
        if let Some(l) = &loader {
            l.request();
        }
        Ok(Self {
            socket,
            monitor,
            rpc,
            loader,
            follower: ChainFollower::new(KEEP_BLOCKS, MAX_CATCH_UP),
            catch_up: None,
            catch_up_wait: Duration::from_secs(1),
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

    /// After a gap or a reconnect: the whole mempool again (on the loader's
    /// thread) and the blocks published meanwhile.
    fn resync(&mut self) {
        self.stats.resyncs += 1;
        let Some(loader) = &self.loader else {
            tracing::warn!(
                "ZMQ gap or reconnect, and no RPC to resync from: missed transactions stay missing"
            );
            self.queue.push_back(LiveEvent::Resync);
            return;
        };
        loader.request();
        self.catch_up.get_or_insert_with(Instant::now);
    }

    /// Brings the blocks the node has and this source has not passed on
    /// (published while disconnected, or a reorganisation's).
    fn catch_up_blocks(&mut self) {
        let (Some(due), Some(rpc)) = (self.catch_up, &self.rpc) else {
            return;
        };
        if Instant::now() < due {
            return;
        }
        match self.follower.sync(rpc) {
            Ok(changes) => {
                self.catch_up = None;
                self.catch_up_wait = Duration::from_secs(1);
                for change in changes {
                    self.queue.push_back(match change {
                        ChainChange::Connected { raw, .. } => LiveEvent::Block {
                            raw,
                            time: unix_now(),
                        },
                        ChainChange::Disconnected { hash, .. } => LiveEvent::Disconnected { hash },
                    });
                }
            }
            Err(e) => {
                self.stats.retries += 1;
                tracing::warn!(
                    "ZMQ: cannot catch up blocks yet ({e}); again in {} s",
                    self.catch_up_wait.as_secs()
                );
                self.catch_up = Some(Instant::now() + self.catch_up_wait);
                self.catch_up_wait = (self.catch_up_wait * 2).min(Duration::from_secs(30));
            }
        }
    }

    /// Turns one multipart message into events, or counts it as malformed.
    fn handle(&mut self, frames: &[Vec<u8>]) {
        match decode(frames, unix_now()) {
            Err(why) => self.malformed(&why),
            Ok(d) => {
                self.track(d.topic, d.seq);
                match d.event {
                    // The follower reports disconnections, with the blocks
                    // that replace them: a catch-up does both.
                    Some(LiveEvent::Disconnected { .. }) => {
                        self.stats.messages += 1;
                        self.catch_up.get_or_insert_with(Instant::now);
                    }
                    Some(LiveEvent::Block { raw, time }) => {
                        self.stats.messages += 1;
                        self.note_block(&raw);
                        self.queue.push_back(LiveEvent::Block { raw, time });
                    }
                    Some(event) => {
                        self.stats.messages += 1;
                        self.queue.push_back(event);
                    }
                    None => {}
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

    /// A block that does not extend the blocks passed on means a
    /// reorganisation or a missed block: a catch-up sorts it out.
    fn note_block(&mut self, raw: &[u8]) {
        let (Some(header), true) = (raw.get(..80), self.follower.tip().is_some()) else {
            return;
        };
        let prev = header
            .get(4..36)
            .and_then(|p| <[u8; 32]>::try_from(p).ok())
            .map_or_else(BlockHash::default, BlockHash);
        if self
            .follower
            .note(prev, BlockHash::of_header(header))
            .is_none()
        {
            self.catch_up.get_or_insert_with(Instant::now);
        }
    }

    fn malformed(&mut self, why: &MessageError) {
        self.stats.malformed += 1;
        // The parser's offset and reason, where the body was at fault.
        let cause = std::error::Error::source(why).map_or_else(String::new, |c| format!(": {c}"));
        tracing::warn!("skipped a ZMQ message: {why}{cause}");
    }
}

impl LiveSource for ZmqSource {
    fn block_source(&mut self) -> Result<Option<&dyn BlockSource>, SourceError> {
        Ok(self.rpc.as_ref().map(|r| r as &dyn BlockSource))
    }

    fn name(&self) -> &'static str {
        "zmq"
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<LiveEvent>, SourceError> {
        if let Some(loader) = &self.loader {
            loader.drain(&mut self.queue, 2_000);
        }
        self.catch_up_blocks();
        if let Some(e) = self.queue.pop_front() {
            return Ok(Some(e));
        }
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let mut items = [
            self.socket.as_poll_item(zmq::POLLIN),
            self.monitor.as_poll_item(zmq::POLLIN),
        ];
        zmq::poll(&mut items, ms).map_err(ZmqError::Poll)?;
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
        let load = self.loader.as_ref().map(|l| &l.counters);
        let read = |f: fn(&LoadCounters) -> &std::sync::atomic::AtomicU64| {
            load.map_or(0, |c| f(c).load(std::sync::atomic::Ordering::Relaxed))
        };
        LiveStatus {
            connected: self.connected,
            mempool: true,
            backlog: self.loader.as_ref().map_or(0, MempoolLoader::backlog),
            gaps: self.stats.gaps,
            skipped: self.stats.malformed,
            resyncs: read(|c| &c.listings),
            retries: self.stats.retries + read(|c| &c.failures),
            ..LiveStatus::default()
        }
    }

    fn follow_from(&mut self, height: u32, hash: BlockHash) {
        self.follower.start_at(height, hash);
    }
}
