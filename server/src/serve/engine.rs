//! The engine: one thread that owns the live source and the rolling window,
//! applies events as they come, and every 500 ms expires, estimates and
//! publishes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fiatline_adapters::{Clock, LiveEvent, LiveSource};
use fiatline_core::cell::Writer;

use super::latest::{Latest, LATEST_WORDS};
use fiatline_core::{
    window_index_slots_for, Block, Estimate, EstimateError, PricePoint, Refinement, Transaction,
    Window, WindowEntry, WindowError,
};

use super::messages::{EstimateJson, Message, Points, WindowJson};
use super::state::Shared;
use crate::report::{dollars, thousands};

/// How often the estimate is refreshed and deltas go out.
pub(crate) const TICK: Duration = Duration::from_millis(500);
/// First wait before a failed first fill is tried again; it doubles up
/// to [`MAX_REFILL`].
const FIRST_REFILL: Duration = Duration::from_secs(5);
const MAX_REFILL: Duration = Duration::from_secs(300);
/// Points in one message of a snapshot (at most about 720 KB of JSON, under a
/// client's write cap); a snapshot holds every point of the window, in as
/// many messages as it takes.
pub(crate) const SNAPSHOT_POINTS: usize = 20_000;
/// A rough price this far (as a fraction) from the last snapshot's sends a
/// new snapshot to every client.
const RESNAPSHOT: f64 = 0.02;

/// The wall clock in Unix seconds (the adapters' one clock).
pub(crate) use fiatline_adapters::unix_now as wall_clock;

pub(crate) struct Engine {
    window: Window<Vec<WindowEntry>, Vec<u32>>,
    source: Box<dyn LiveSource>,
    shared: Arc<Shared>,
    /// Replays keep the recording's clock; live sources the wall clock.
    clock: Clock,
    data_now: u32,
    /// Points already sent: all with time below `sent_time`, and this many at it.
    sent_time: u32,
    sent_at_time: usize,
    /// The rough price when clients last got a whole snapshot.
    snapshot_rough: Option<u32>,
    points: Vec<PricePoint>,
    scratch: Vec<f64>,
    last_line: Option<Instant>,
    /// A first fill that failed (the node down at start): when to try
    /// again, the wait after that, and the span to fill.
    refill: Option<(Instant, Duration, u32)>,
}

impl Engine {
    /// An engine over a window of `capacity` transactions.
    ///
    /// # Errors
    /// Returns the window's error for a capacity it cannot index.
    pub(crate) fn new(
        source: Box<dyn LiveSource>,
        shared: Arc<Shared>,
        capacity: usize,
    ) -> Result<Self, WindowError> {
        let window = Window::new(
            vec![WindowEntry::default(); capacity],
            vec![0; window_index_slots_for(capacity)],
            shared.span,
        )?;
        Ok(Self {
            window,
            clock: source.clock(),
            source,
            shared,
            data_now: 0,
            sent_time: 0,
            sent_at_time: 0,
            snapshot_rough: None,
            points: Vec::new(),
            scratch: Vec::new(),
            last_line: None,
            refill: None,
        })
    }

    /// Fills the window from the source's own blocks of the last `span`
    /// seconds (see [`Engine::prefill`]); a failure is logged, and the
    /// window fills from live events instead.
    pub(crate) fn fill(&mut self, span: u32) {
        let blocks = match self.source.block_source() {
            Ok(Some(blocks)) => super::recent_blocks(blocks, span),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        match blocks {
            Ok(blocks) => {
                self.refill = None;
                self.prefill(blocks);
            }
            Err(e) => {
                // Tried again until it works: a window filled from live
                // events alone stays thin for hours.
                let wait = self
                    .refill
                    .map_or(FIRST_REFILL, |(_, w, _)| (w * 2).min(MAX_REFILL));
                tracing::warn!(
                    "could not fill the window from recent blocks ({e}); again in {} s",
                    wait.as_secs()
                );
                self.set_error(Some(format!(
                    "could not fill the window from recent blocks: {e}"
                )));
                self.refill = Some((Instant::now() + wait, wait, span));
            }
        }
    }

    /// Fills the window before the live events start (the blocks of the
    /// last span), so a price exists at once; the source then follows the
    /// chain from the last of them, so no block falls in between.
    pub(crate) fn prefill(&mut self, blocks: impl IntoIterator<Item = (Vec<u8>, u32)>) {
        let mut last = None;
        for (raw, height) in blocks {
            if let Ok(block) = Block::parse(&raw) {
                let time = block.header().time();
                self.data_now = self.data_now.max(time);
                for tx in block.transactions() {
                    self.add(&tx, time, height);
                }
                last = Some((height, block.header().block_hash()));
            }
        }
        if let Some((height, hash)) = last {
            self.source
                .follow_from(height, fiatline_adapters::BlockHash(hash));
        }
    }

    /// Runs until the process ends; the engine is the estimate cell's only writer.
    pub(crate) fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        let Some(mut writer) = shared.latest.writer() else {
            tracing::error!("the estimate cell already has a writer");
            return;
        };
        self.publish(&mut writer);
        let mut next_tick = Instant::now() + TICK;
        loop {
            let timeout = next_tick.saturating_duration_since(Instant::now());
            match self.source.next_event(timeout) {
                Ok(Some(event)) => self.apply(event),
                Ok(None) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!("{} source: {e}; retrying", self.source.name());
                    // Shown while the source is down: /health and the page say why.
                    self.set_error(Some(e.to_string()));
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    self.set_error(Some(e.to_string()));
                    tracing::error!(
                        "{} source failed: {e}; serving the last estimate, retrying in 5 s",
                        self.source.name()
                    );
                    // What was taken in before the failure is published
                    // first, then the failure: /health never says failed
                    // over stale figures.
                    self.publish(&mut writer);
                    next_tick = Instant::now() + TICK;
                    self.record_status();
                    std::thread::sleep(Duration::from_secs(5));
                }
            }
            self.record_status();
            if let Some((at, _, span)) = self.refill {
                if Instant::now() >= at {
                    self.fill(span);
                }
            }
            if Instant::now() >= next_tick {
                self.publish(&mut writer);
                next_tick = Instant::now() + TICK;
            }
        }
    }

    /// Sets (or clears) the reason the source is down, which `/health`
    /// and the page show.
    fn set_error(&self, error: Option<String>) {
        if let Ok(mut slot) = self.shared.source_error.lock() {
            *slot = error;
        }
    }

    /// Copies the source's status into the counters `/health` reads.
    fn record_status(&self) {
        let status = self.source.status();
        // Connected again (and not failed for good, nor waiting to fill
        // the window): the last error no longer says anything.
        if status.connected && !status.failed && self.refill.is_none() {
            self.set_error(None);
        }
        let c = &self.shared.counters;
        c.connected.store(status.connected, Ordering::Relaxed);
        c.backlog.store(status.backlog, Ordering::Relaxed);
        c.gaps.store(status.gaps, Ordering::Relaxed);
        c.resyncs.store(status.resyncs, Ordering::Relaxed);
        c.source_retries.store(status.retries, Ordering::Relaxed);
        c.source_skipped.store(status.skipped, Ordering::Relaxed);
        c.failed.store(status.failed, Ordering::Relaxed);
    }

    fn apply(&mut self, event: LiveEvent) {
        match event {
            LiveEvent::Tx { raw, time } => match Transaction::parse(&raw) {
                Ok(tx) => {
                    self.data_now = self.data_now.max(time);
                    self.add(&tx, time, 0);
                }
                Err(e) => {
                    self.shared.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("skipped a malformed transaction: {e}");
                }
            },
            LiveEvent::Gone { txid } => {
                if self.window.remove(&txid) {
                    self.shared.counters.removed.fetch_add(1, Ordering::Relaxed);
                }
            }
            LiveEvent::Block { raw, time } => match Block::parse(&raw) {
                Ok(block) => {
                    let height = block
                        .bip34_height()
                        .and_then(|h| u32::try_from(h).ok())
                        .unwrap_or(0);
                    self.data_now = self.data_now.max(time);
                    for tx in block.transactions() {
                        self.add(&tx, time, height);
                    }
                    self.shared.counters.blocks.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.shared.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("skipped a malformed block: {e}");
                }
            },
            LiveEvent::Disconnected { hash } => {
                // Its transactions stay: still real payments, most of them
                // back in the mempool (the window never dropped confirmed ones).
                self.shared
                    .counters
                    .disconnected
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "block {hash} disconnected (a reorganisation); its transactions stay in the window"
                );
            }
            LiveEvent::Resync => tracing::info!("resynchronising the mempool"),
            LiveEvent::End => {
                self.shared.counters.finished.store(true, Ordering::Relaxed);
                tracing::info!(
                    "{} finished: the window keeps its transactions until they expire",
                    self.source.name()
                );
            }
            other => tracing::debug!("ignored a live event: {other:?}"),
        }
    }

    fn add(&mut self, tx: &Transaction<'_>, time: u32, height: u32) {
        let c = &self.shared.counters;
        match self.window.add(tx, time, height) {
            Ok(_) => {}
            Err(WindowError::Full) => {
                // Make room by expiring as if time had moved on; count the drop.
                c.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "window full ({} transactions): raise --capacity",
                    self.window.len()
                );
            }
            Err(e) => {
                c.skipped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("skipped a transaction: {e}");
            }
        }
    }

    fn now(&self) -> u32 {
        if self.clock == Clock::Recorded {
            self.data_now
        } else {
            wall_clock()
        }
    }

    /// Expires, estimates and publishes.
    fn publish(&mut self, writer: &mut Writer<'_, LATEST_WORDS>) {
        let now = self.now();
        self.window.expire(now);
        // Estimate first, then publish counters and price together, so a
        // reader never sees a new window beside an old price.
        let estimate = self.estimate();
        let stats = self.window.stats();
        let c = &self.shared.counters;
        // A transaction seen in the mempool, then in its block, then in a
        // resync is one transaction: duplicates are counted apart.
        c.received
            .store(stats.received - stats.duplicates, Ordering::Relaxed);
        c.duplicates.store(stats.duplicates, Ordering::Relaxed);
        c.filtered.store(stats.filtered, Ordering::Relaxed);
        c.expired.store(stats.expired, Ordering::Relaxed);
        c.active.store(self.window.len() as u64, Ordering::Relaxed);
        let (oldest, newest) = self.window.bounds().unwrap_or((0, 0));
        c.oldest.store(oldest, Ordering::Relaxed);
        c.newest.store(newest, Ordering::Relaxed);
        c.last_update.store(wall_clock(), Ordering::Relaxed);

        match estimate {
            Ok(e) => {
                writer.publish(&Latest {
                    price: e.price,
                    rough: e.rough,
                    confidence: e.confidence,
                    points: u32::try_from(e.points).unwrap_or(u32::MAX),
                    points_in_range: u32::try_from(e.points_in_range).unwrap_or(u32::MAX),
                    outputs: u32::try_from(e.outputs).unwrap_or(u32::MAX),
                    oldest,
                    newest,
                    at: now,
                });
                if let Ok(mut why) = self.shared.no_estimate.lock() {
                    *why = None;
                }
                self.send(Some(&e), oldest, newest, now);
                if self
                    .last_line
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
                {
                    self.last_line = Some(Instant::now());
                    // A log line (with fields for log shippers), so a
                    // service's output is all in one format.
                    tracing::info!(
                        price = e.price,
                        confidence = e.confidence,
                        transactions = self.window.len(),
                        "price: ${} (confidence {:.2}, {} transactions in the window)",
                        dollars(e.price),
                        e.confidence,
                        thousands(self.window.len() as u64)
                    );
                }
            }
            Err(why) => {
                if let Ok(mut slot) = self.shared.no_estimate.lock() {
                    // An empty window says more than the estimate's words.
                    *slot = Some(if self.window.is_empty() {
                        "no transactions yet".to_owned()
                    } else {
                        why.to_string()
                    });
                }
                self.points.clear();
                self.send(None, oldest, newest, now);
            }
        }
    }

    fn estimate(&mut self) -> Result<Estimate, EstimateError> {
        let mut room = self.points.len().max(1024);
        loop {
            self.points.resize(room, PricePoint::default());
            self.scratch.resize(room, 0.0);
            match self
                .window
                .estimate(Refinement::Reference, &mut self.points, &mut self.scratch)
            {
                Err(EstimateError::PointStorageFull(n) | EstimateError::ScratchFull(n))
                    if n > room =>
                {
                    room = n;
                }
                Ok(e) => {
                    self.points.truncate(e.points);
                    return Ok(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Builds the snapshot (for clients that connect) and sends every client
    /// the delta: the points not sent yet. When the rough price has moved
    /// more than 2% since the last snapshot, earlier points were computed
    /// for another price and no longer apply: every client gets the whole
    /// snapshot instead. With an exchange feed, each message carries the
    /// comparison too.
    fn send(&mut self, e: Option<&Estimate>, oldest: u32, newest: u32, now: u32) {
        // Without an estimate, the page says why.
        let reason = match e {
            Some(_) => None,
            None => self.shared.no_estimate.lock().ok().and_then(|w| w.clone()),
        };
        let window = WindowJson {
            oldest,
            newest,
            span: self.shared.span,
            transactions: self.window.len(),
        };
        let estimate = EstimateJson::new(e, reason.as_deref(), now, window);
        // The comparison travels with the estimate it compares.
        let compare = self
            .shared
            .exchange
            .as_deref()
            .map(|x| super::exchange::compare_json(Some(x), e.map(|e| e.price), now));
        // When the message left, in Unix milliseconds: clients can measure delivery.
        let sent_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let newest_first: Vec<&PricePoint> = self.points.iter().rev().collect();
        let mut parts = newest_first.chunks(SNAPSHOT_POINTS);
        let first = parts.next().unwrap_or_default();
        let mut snapshot = vec![Message::Snapshot {
            sent_ms,
            estimate: &estimate,
            compare: compare.as_ref(),
            parts: newest_first.len().div_ceil(SNAPSHOT_POINTS).max(1),
            points: Points(first),
        }
        .to_json()];
        // The older points follow, each message older than the one before.
        snapshot.extend(parts.map(|part| {
            Message::Older {
                points: Points(part),
            }
            .to_json()
        }));
        let rough = e.map(|e| e.rough);
        let moved = match (self.snapshot_rough, rough) {
            (Some(before), Some(now)) => {
                f64::from(before.abs_diff(now)) > RESNAPSHOT * f64::from(before)
            }
            _ => false,
        };
        if self.snapshot_rough.is_none() {
            self.snapshot_rough = rough;
        }
        // Points arrive in time order: the new ones are a suffix of the list.
        let mut at_time = 0;
        let fresh: Vec<&PricePoint> = self
            .points
            .iter()
            .filter(|p| match p.time.cmp(&self.sent_time) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => {
                    at_time += 1;
                    at_time > self.sent_at_time
                }
                std::cmp::Ordering::Less => false,
            })
            .collect();
        if let Some(last) = fresh.last() {
            let t = last.time;
            self.sent_at_time = self.points.iter().filter(|p| p.time == t).count();
            self.sent_time = t;
        }
        if moved {
            // Every client gets the whole snapshot instead of a delta.
            self.snapshot_rough = rough;
        } else {
            self.shared.broadcast(
                Message::Delta {
                    sent_ms,
                    estimate: &estimate,
                    compare: compare.as_ref(),
                    points: Points(&fresh),
                }
                .to_json(),
            );
        }
        self.shared.publish_snapshot(snapshot, moved);
    }
}
