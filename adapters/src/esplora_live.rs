//! An Esplora or mempool.space server as a live source, by polling.
//!
//! Every poll asks for the mempool's txids (`/mempool/txids`) and the tip
//! (`/blocks/tip/hash`). New txids are fetched one by one
//! (`/tx/:txid/raw`), [`PARALLEL`] at a time and each paced, a bounded
//! number of batches per call so the caller keeps its rhythm; the first poll lists the whole mempool, which then arrives
//! over the following calls, with progress in the log. A new tip brings the
//! blocks since the last one (a reorganisation is followed back to the fork,
//! at most [`MAX_CATCH_UP`] blocks). A txid that leaves the mempool without
//! appearing in a recent block was replaced or evicted: it becomes a
//! [`LiveEvent::Gone`].
//!
//! A fetched transaction waits until every parent of it that is listed but
//! not yet fetched has been passed on: the window's same-day rule needs
//! parents first, as in a block or from ZMQ, while Esplora lists the
//! mempool in no particular order.
//!
//! HTTP 429 and 5xx are retried by the client a few times; if the server
//! still refuses, the source waits before polling again, doubling the wait
//! up to [`MAX_BACKOFF`], and reports itself disconnected meanwhile.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use fiatline_core::Block;

use crate::esplora::{EsploraError, EsploraSource, Request};
use crate::follower::{ChainChange, ChainFollower};
use crate::live::{unix_now, LiveEvent, LiveSource, LiveStatus};
use crate::{BlockHash, BlockSource, SourceError};

/// Most blocks fetched when the tip moves; a source that fell further
/// behind skips to the last ones.
pub const MAX_CATCH_UP: u32 = 24;
/// Longest wait between polls after the server refused or failed.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Transaction requests in flight at once; the pace still applies to each.
pub const PARALLEL: usize = 8;
/// Recent blocks whose txids are remembered, so a transaction that leaves
/// the mempool by confirming is not taken for a replaced one.
const KEEP_BLOCKS: usize = 12;

/// How the source polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsploraLiveConfig {
    /// Time between polls of the mempool and the tip.
    pub poll: Duration,
    /// Spacing between requests (20 per second by default).
    pub interval: Duration,
    /// Longest a request may take.
    pub timeout: Duration,
}

impl Default for EsploraLiveConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(10),
            interval: EsploraSource::DEFAULT_INTERVAL,
            timeout: Duration::from_secs(15),
        }
    }
}

/// Counts of what the source did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EsploraLiveStats {
    /// Polls that succeeded.
    pub polls: u64,
    /// Transactions fetched.
    pub fetched: u64,
    /// Transactions that left the mempool unconfirmed after being passed on.
    pub gone: u64,
    /// Listed transactions that vanished before they could be fetched.
    pub vanished: u64,
    /// Blocks passed on.
    pub blocks: u64,
    /// Requests that failed after the client's retries.
    pub errors: u64,
    /// Of those, refusals for rate (HTTP 429).
    pub rate_limited: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Listed, not fetched yet.
    Pending,
    /// Fetched, waiting for a parent.
    Held,
    /// Passed on.
    Sent,
}

#[derive(Debug)]
struct Listed {
    /// When a poll first listed it, Unix seconds.
    time: u32,
    stage: Stage,
}

#[derive(Debug)]
struct Held {
    txid: [u8; 32],
    raw: Vec<u8>,
    parents: Vec<[u8; 32]>,
}

/// A polling live source over an Esplora server.
#[derive(Debug)]
pub struct EsploraLive {
    source: EsploraSource,
    config: EsploraLiveConfig,
    mempool: HashMap<[u8; 32], Listed>,
    pending: VecDeque<[u8; 32]>,
    held: Vec<Held>,
    /// The blocks passed on.
    follower: ChainFollower,
    /// The txids of the last blocks passed on, oldest first: a txid that
    /// leaves the mempool into one of them confirmed, else it was removed.
    confirmed: VecDeque<(BlockHash, HashSet<[u8; 32]>)>,
    queue: VecDeque<LiveEvent>,
    next_poll: Instant,
    backoff: Option<Duration>,
    connected: bool,
    stats: EsploraLiveStats,
    last_progress: Instant,
}

impl EsploraLive {
    /// Creates a source for `url` (e.g. `https://mempool.space/api`); the
    /// first poll happens at the first [`LiveSource::next_event`].
    ///
    /// # Errors
    /// Returns a persistent error for a URL the client rejects.
    pub fn new(url: &str, config: EsploraLiveConfig) -> Result<Self, SourceError> {
        Ok(Self {
            source: EsploraSource::with_timeout(url, config.interval, config.timeout)?,
            config,
            mempool: HashMap::new(),
            pending: VecDeque::new(),
            held: Vec::new(),
            follower: ChainFollower::new(KEEP_BLOCKS, MAX_CATCH_UP),
            confirmed: VecDeque::new(),
            queue: VecDeque::new(),
            next_poll: Instant::now(),
            backoff: None,
            connected: false,
            stats: EsploraLiveStats::default(),
            last_progress: Instant::now(),
        })
    }

    /// Returns the counts so far.
    pub fn stats(&self) -> EsploraLiveStats {
        self.stats
    }

    /// Transactions and blocks known but not passed on yet.
    pub fn backlog(&self) -> usize {
        self.pending.len() + self.held.len() + self.queue.len()
    }

    /// Maps a client error, counting it and noting a refusal for rate.
    fn failed(&mut self, what: Request, e: esplora_client::Error) -> SourceError {
        self.stats.errors += 1;
        if matches!(e, esplora_client::Error::HttpResponse { status: 429, .. }) {
            self.stats.rate_limited += 1;
        }
        self.source.error(what, e)
    }

    /// Lists the mempool and follows the tip.
    fn poll(&mut self) -> Result<(), SourceError> {
        self.source.pace();
        let listed = match self.source.client().get_mempool_txids() {
            Ok(ids) => ids,
            Err(e) => return Err(self.failed(Request::MempoolTxids, e)),
        };
        self.follow_tip()?;
        let time = unix_now();
        let current: HashSet<[u8; 32]> = listed.iter().map(|t| t.to_byte_array()).collect();
        let left: Vec<[u8; 32]> = self
            .mempool
            .keys()
            .filter(|t| !current.contains(*t))
            .copied()
            .collect();
        for txid in left {
            let Some(entry) = self.mempool.remove(&txid) else {
                continue;
            };
            let confirmed = self
                .confirmed
                .iter()
                .any(|(_, txids)| txids.contains(&txid));
            match entry.stage {
                _ if confirmed => {}
                Stage::Sent => {
                    self.stats.gone += 1;
                    self.queue.push_back(LiveEvent::Gone {
                        txid: fiatline_core::Txid(txid),
                    });
                }
                Stage::Pending | Stage::Held => self.stats.vanished += 1,
            }
        }
        self.held.retain(|h| self.mempool.contains_key(&h.txid));
        for txid in listed.iter().map(|t| t.to_byte_array()) {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.mempool.entry(txid) {
                slot.insert(Listed {
                    time,
                    stage: Stage::Pending,
                });
                self.pending.push_back(txid);
            }
        }
        // A parent that vanished no longer holds its children back.
        self.release();
        self.stats.polls += 1;
        Ok(())
    }

    /// Passes on blocks since the last tip, following a reorganisation
    /// back to the fork.
    fn follow_tip(&mut self) -> Result<(), SourceError> {
        self.source.pace();
        let tip = match self.source.client().get_tip_hash() {
            Ok(h) => h.to_byte_array(),
            Err(e) => return Err(self.failed(Request::Tip, e)),
        };
        if self.follower.tip().is_some_and(|(_, hash)| hash.0 == tip) {
            return Ok(());
        }
        self.source.pace();
        let height = match self.source.client().get_height() {
            Ok(h) => h,
            Err(e) => return Err(self.failed(Request::TipHeight, e)),
        };
        // Not started (no fill): blocks before now are the caller's to fill.
        let changes = self
            .follower
            .sync_to(&self.source, height)
            .inspect_err(|_| {
                self.stats.errors += 1;
            })?;
        for change in changes {
            match change {
                ChainChange::Connected { height, hash, raw } => {
                    let txids: HashSet<[u8; 32]> = match Block::parse(&raw) {
                        Ok(b) => b.transactions().map(|tx| tx.txid().0).collect(),
                        Err(source) => {
                            return Err(EsploraError::Malformed {
                                url: self.source.url().to_owned(),
                                height,
                                source,
                            }
                            .into())
                        }
                    };
                    self.confirmed.push_back((hash, txids));
                    if self.confirmed.len() > KEEP_BLOCKS {
                        self.confirmed.pop_front();
                    }
                    self.stats.blocks += 1;
                    self.queue.push_back(LiveEvent::Block {
                        raw,
                        time: unix_now(),
                    });
                }
                ChainChange::Disconnected { height, hash } => {
                    tracing::warn!(height, "esplora: block reorganised away");
                    self.confirmed.retain(|(h, _)| *h != hash);
                    self.queue.push_back(LiveEvent::Disconnected { hash });
                }
            }
        }
        Ok(())
    }

    /// Fetches pending transactions, [`PARALLEL`] requests at a time (each
    /// still paced), until `budget` runs out (one batch at least). What a
    /// batch fetched is kept even when some of its requests failed; those
    /// go back to the front of the queue.
    fn fetch(&mut self, budget: Duration) -> Result<(), SourceError> {
        let started = Instant::now();
        let mut failure = None;
        while failure.is_none() {
            let mut batch = Vec::with_capacity(PARALLEL);
            while batch.len() < PARALLEL {
                let Some(txid) = self.pending.pop_front() else {
                    break;
                };
                if self
                    .mempool
                    .get(&txid)
                    .is_some_and(|e| e.stage == Stage::Pending)
                {
                    batch.push(txid);
                }
            }
            if batch.is_empty() {
                break;
            }
            let source = &self.source;
            let answers: Vec<_> = std::thread::scope(|scope| {
                let requests: Vec<_> = batch
                    .iter()
                    .map(|&txid| {
                        scope.spawn(move || {
                            source.pace();
                            source
                                .client()
                                .get_tx(&bitcoin::Txid::from_byte_array(txid))
                        })
                    })
                    .collect();
                requests
                    .into_iter()
                    .map(|r| {
                        r.join()
                            .unwrap_or(Err(esplora_client::Error::InvalidResponse))
                    })
                    .collect()
            });
            let mut retry = Vec::new();
            for (txid, answer) in batch.into_iter().zip(answers) {
                match answer {
                    Ok(Some(tx)) => self.fetched(txid, &tx),
                    Ok(None) => {
                        self.stats.vanished += 1;
                        self.mempool.remove(&txid);
                    }
                    Err(e) => {
                        retry.push(txid);
                        let what = Request::Transaction(bitcoin::Txid::from_byte_array(txid));
                        let e = self.failed(what, e);
                        failure.get_or_insert(e);
                    }
                }
            }
            for txid in retry.into_iter().rev() {
                self.pending.push_front(txid);
            }
            if started.elapsed() >= budget {
                break;
            }
        }
        self.release();
        if !self.pending.is_empty() && self.last_progress.elapsed() >= Duration::from_secs(5) {
            self.last_progress = Instant::now();
            tracing::info!(
                "esplora: {} mempool transactions still to fetch ({} fetched so far)",
                self.pending.len(),
                self.stats.fetched
            );
        }
        failure.map_or(Ok(()), Err)
    }

    /// Holds a fetched transaction until its listed parents have gone before.
    fn fetched(&mut self, txid: [u8; 32], tx: &bitcoin::Transaction) {
        self.stats.fetched += 1;
        // The client hands the transaction decoded: its parents come from
        // that, and its bytes (for the window) from encoding it once.
        let raw = bitcoin::consensus::serialize(tx);
        let parents = tx
            .input
            .iter()
            .map(|i| i.previous_output.txid.to_byte_array())
            .collect();
        if let Some(e) = self.mempool.get_mut(&txid) {
            e.stage = Stage::Held;
        }
        self.held.push(Held { txid, raw, parents });
    }

    /// Passes on held transactions whose listed parents have all gone before.
    fn release(&mut self) {
        loop {
            let mempool = &self.mempool;
            let waiting = |p: &[u8; 32]| {
                mempool
                    .get(p)
                    .is_some_and(|e| matches!(e.stage, Stage::Pending | Stage::Held))
            };
            let Some(i) = self
                .held
                .iter()
                .position(|h| !h.parents.iter().any(|p| *p != h.txid && waiting(p)))
            else {
                return;
            };
            let h = self.held.remove(i);
            if let Some(e) = self.mempool.get_mut(&h.txid) {
                e.stage = Stage::Sent;
                self.queue.push_back(LiveEvent::Tx {
                    raw: h.raw,
                    time: e.time,
                });
            }
        }
    }

    /// Notes a failure: wait before the next poll, longer each time.
    fn back_off(&mut self, e: &SourceError) {
        self.connected = false;
        let wait = self
            .backoff
            .map_or(self.config.poll, |b| (b * 2).min(MAX_BACKOFF));
        self.backoff = Some(wait);
        self.next_poll = Instant::now() + wait;
        tracing::warn!("esplora: {e}; next poll in {} s", wait.as_secs());
    }
}

impl LiveSource for EsploraLive {
    fn name(&self) -> &'static str {
        "esplora"
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<LiveEvent>, SourceError> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(Some(e));
        }
        let result = if Instant::now() >= self.next_poll {
            self.next_poll = Instant::now() + self.config.poll;
            self.poll()
        } else if !self.pending.is_empty() {
            self.fetch(timeout)
        } else {
            let wait = self.next_poll.saturating_duration_since(Instant::now());
            std::thread::sleep(wait.min(timeout));
            Ok(())
        };
        match result {
            Ok(()) => {
                if !self.connected {
                    tracing::info!("esplora: polling {}", self.source.url());
                }
                self.connected = true;
                self.backoff = None;
            }
            Err(e) if e.is_transient() => {
                self.back_off(&e);
                return Err(e);
            }
            // A malformed answer: counted already; polling goes on at the usual pace.
            Err(e) => return Err(e),
        }
        Ok(self.queue.pop_front())
    }

    fn status(&self) -> LiveStatus {
        LiveStatus {
            connected: self.connected,
            mempool: true,
            backlog: self.backlog() as u64,
            ..LiveStatus::default()
        }
    }

    fn follow_from(&mut self, height: u32, hash: BlockHash) {
        if self.follower.tip().is_none() {
            self.follower.start_at(height, hash);
        }
    }

    fn block_source(&mut self) -> Result<Option<&dyn BlockSource>, SourceError> {
        Ok(Some(&self.source))
    }
}
