//! Electrum servers (electrs, Fulcrum…) as a live source of blocks.
//!
//! The protocol lists no mempool, so this source passes on blocks only:
//! it subscribes to headers (`blockchain.headers.subscribe`) and, for each
//! new tip, brings every block since the last one it passed on, the way
//! [`ElectrumSource`] fetches blocks. Its status says `mempool: false`.
//!
//! Several servers may be given: when one fails or vanishes, the next is
//! tried, round-robin, waiting longer after each full round (up to
//! [`MAX_BACKOFF`]). After a reconnect the blocks missed meanwhile are
//! caught up (at most [`MAX_CATCH_UP`]), and a reorganisation is followed
//! back to the fork. The subscription is renewed every
//! [`RESUBSCRIBE`] as well, so a connection the client re-made by itself
//! cannot leave the source deaf.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::electrum::{Conn, ElectrumError, ElectrumOptions, ElectrumSource, Request};
use crate::follower::{ChainChange, ChainFollower};
use crate::live::{unix_now, LiveEvent, LiveSource, LiveStatus};
use crate::{BlockHash, BlockSource, SourceError};

/// Most blocks fetched when the tip moves; a source that fell further
/// behind skips to the last ones.
pub const MAX_CATCH_UP: u32 = 24;
/// Longest wait between rounds of connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the header subscription is renewed.
pub const RESUBSCRIBE: Duration = Duration::from_secs(30);
/// How often the connection is pinged, which also reads notifications.
const PING: Duration = Duration::from_secs(1);
/// Recent blocks remembered to find a fork.
const KEEP_BLOCKS: usize = 12;

/// Counts of what the source did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ElectrumLiveStats {
    /// Blocks passed on.
    pub blocks: u64,
    /// Connections made (the first included).
    pub connections: u64,
    /// Connections lost or refused.
    pub failures: u64,
    /// Blocks reorganised away.
    pub reorganised: u64,
}

/// A live source over one or more Electrum servers.
pub struct ElectrumLive {
    urls: Vec<String>,
    options: ElectrumOptions,
    /// Index in `urls` of the server in use or to try next.
    current: usize,
    server: Option<ElectrumSource>,
    /// The blocks passed on (or the tip at the first connection).
    follower: ChainFollower,
    queue: VecDeque<LiveEvent>,
    next_attempt: Instant,
    /// Failed attempts in a row.
    failed: u32,
    last_ping: Instant,
    last_subscribe: Instant,
    stats: ElectrumLiveStats,
}

impl std::fmt::Debug for ElectrumLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumLive")
            .field("urls", &self.urls)
            .field("current", &self.current)
            .field("connected", &self.server.is_some())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ElectrumLive {
    /// Creates a source over `urls` (`tcp://host:port` or
    /// `ssl://host:port`), tried in order; it connects at the first
    /// [`LiveSource::next_event`]. A failing server is not retried in place:
    /// the source fails over instead.
    ///
    /// # Errors
    /// Returns a persistent error when `urls` is empty.
    pub fn new(urls: Vec<String>, options: ElectrumOptions) -> Result<Self, SourceError> {
        if urls.is_empty() {
            return Err(ElectrumError::NoServer.into());
        }
        let now = Instant::now();
        Ok(Self {
            urls,
            options,
            current: 0,
            server: None,
            follower: ChainFollower::new(KEEP_BLOCKS, MAX_CATCH_UP),
            queue: VecDeque::new(),
            next_attempt: now,
            failed: 0,
            last_ping: now,
            last_subscribe: now,
            stats: ElectrumLiveStats::default(),
        })
    }

    /// Returns the counts so far.
    pub fn stats(&self) -> ElectrumLiveStats {
        self.stats
    }

    /// The server in use, if connected.
    pub fn server_url(&self) -> Option<&str> {
        self.server
            .as_ref()
            .map(|_| self.urls[self.current].as_str())
    }

    /// Connects to the current server, subscribes, and catches up.
    fn connect(&mut self) -> Result<(), SourceError> {
        let url = &self.urls[self.current];
        let server = ElectrumSource::connect_with(url, &self.options)?;
        let tip = server.with(Request::Subscription, Conn::block_headers_subscribe_raw)?;
        tracing::info!(
            height = tip.height,
            "electrum: subscribed to headers at {url}"
        );
        self.stats.connections += 1;
        self.failed = 0;
        let now = Instant::now();
        self.last_ping = now;
        self.last_subscribe = now;
        self.server = Some(server);
        self.catch_up(height_of(tip.height)?)
    }

    /// Passes on the blocks after the last one, up to `tip`, and those a
    /// reorganisation took back.
    fn catch_up(&mut self, tip: u32) -> Result<(), SourceError> {
        let Some(server) = &self.server else {
            return Ok(());
        };
        // Not started (no fill): blocks before now are the caller's to fill.
        for change in self.follower.sync_to(server, tip)? {
            match change {
                ChainChange::Connected { height, raw, .. } => {
                    tracing::info!(height, "electrum: new block");
                    self.stats.blocks += 1;
                    self.queue.push_back(LiveEvent::Block {
                        raw,
                        time: unix_now(),
                    });
                }
                ChainChange::Disconnected { height, hash } => {
                    tracing::warn!(height, "electrum: block reorganised away");
                    self.stats.reorganised += 1;
                    self.queue.push_back(LiveEvent::Disconnected { hash });
                }
            }
        }
        Ok(())
    }

    /// Pings (which reads pending notifications), renews the subscription
    /// now and then, and catches up to the newest tip announced.
    fn listen(&mut self) -> Result<(), SourceError> {
        let Some(server) = &self.server else {
            return Ok(());
        };
        let mut tip = None;
        if self.last_subscribe.elapsed() >= RESUBSCRIBE {
            self.last_subscribe = Instant::now();
            let t = server.with(Request::Subscription, Conn::block_headers_subscribe_raw)?;
            tip = Some(height_of(t.height)?);
        } else {
            server.with(Request::Ping, Conn::ping)?;
        }
        self.last_ping = Instant::now();
        loop {
            let popped = server.with(Request::Notifications, Conn::block_headers_pop_raw)?;
            let Some(note) = popped else { break };
            tip = tip.max(Some(height_of(note.height)?));
        }
        // The same height may still be another block: the follower checks.
        match tip {
            Some(t) => self.catch_up(t),
            None => Ok(()),
        }
    }

    /// Drops the connection and moves to the next server; after a whole
    /// round of failures, waits before trying again.
    fn fail_over(&mut self, e: &SourceError) {
        self.stats.failures += 1;
        self.failed += 1;
        let url = &self.urls[self.current];
        tracing::warn!("electrum: {url}: {e}");
        self.server = None;
        self.current = (self.current + 1) % self.urls.len();
        let servers = u32::try_from(self.urls.len()).unwrap_or(u32::MAX).max(1);
        let rounds = self.failed / servers;
        let wait = if self.failed % servers == 0 {
            Duration::from_secs(1 << rounds.min(6)).min(MAX_BACKOFF)
        } else {
            Duration::ZERO
        };
        if self.urls.len() > 1 {
            tracing::info!(
                "electrum: trying {} next{}",
                self.urls[self.current],
                if wait.is_zero() {
                    String::new()
                } else {
                    format!(" in {} s", wait.as_secs())
                }
            );
        }
        self.next_attempt = Instant::now() + wait;
    }
}

impl LiveSource for ElectrumLive {
    fn name(&self) -> &'static str {
        "electrum"
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<LiveEvent>, SourceError> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(Some(e));
        }
        let result = if self.server.is_none() {
            let wait = self.next_attempt.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                self.connect()
            } else {
                std::thread::sleep(wait.min(timeout));
                Ok(())
            }
        } else {
            let wait = PING.saturating_sub(self.last_ping.elapsed());
            if wait.is_zero() {
                self.listen()
            } else {
                std::thread::sleep(wait.min(timeout));
                Ok(())
            }
        };
        match result {
            Ok(()) => Ok(self.queue.pop_front()),
            Err(e) => {
                // Blocks fetched before the failure are still passed on.
                self.fail_over(&e);
                if self.queue.is_empty() {
                    Err(e.into_transient())
                } else {
                    Ok(self.queue.pop_front())
                }
            }
        }
    }

    fn status(&self) -> LiveStatus {
        LiveStatus {
            connected: self.server.is_some(),
            mempool: false,
            backlog: 0,
            ..LiveStatus::default()
        }
    }

    fn follow_from(&mut self, height: u32, hash: BlockHash) {
        // Nothing passed on yet: the filled block is where the chain goes on
        // (the tip marked at connecting, if any, is older or the same).
        if self.stats.blocks == 0 {
            self.follower.start_at(height, hash);
        }
    }

    fn block_source(&mut self) -> Result<Option<&dyn BlockSource>, SourceError> {
        // Connects (and subscribes) now if need be, trying each server once.
        let mut last = None;
        for _ in 0..self.urls.len() {
            if self.server.is_some() {
                break;
            }
            if let Err(e) = self.connect() {
                self.fail_over(&e);
                last = Some(e);
            }
        }
        match (&self.server, last) {
            (Some(server), _) => Ok(Some(server)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }
}

/// A height a server announced, as a block height: a server that sends one
/// past `u32::MAX` is answering badly, not announcing a block.
fn height_of(height: usize) -> Result<u32, SourceError> {
    u32::try_from(height).map_err(|_| ElectrumError::HeightOutOfRange { height }.into())
}
