//! Loading a node's mempool through its RPC, on a thread of its own so the
//! caller (the engine, ticking every 500 ms) never waits on it: the listing
//! (`getrawmempool true`) is tried again, with backoff, while the node is
//! still starting ("Loading wallet…"), then the transactions come in
//! batches, parents first, and the caller takes what has arrived.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::live::LiveEvent;
use crate::rpc::RpcSource;

/// Transactions asked for per batch.
const BATCH: usize = 500;
/// First wait after a failed listing; it doubles up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Counts of the loader's work.
#[derive(Debug, Default)]
pub(crate) struct LoadCounters {
    /// Listings completed.
    pub(crate) listings: AtomicU64,
    /// Listings or batches that failed (and were tried again).
    pub(crate) failures: AtomicU64,
    /// Transactions passed on.
    pub(crate) loaded: AtomicU64,
    /// Listed transactions not fetched yet.
    pub(crate) backlog: AtomicU64,
}

/// A handle on the loading thread; the thread ends with it.
#[derive(Debug)]
pub(crate) struct MempoolLoader {
    requests: Sender<()>,
    results: Receiver<LiveEvent>,
    pub(crate) counters: Arc<LoadCounters>,
}

impl MempoolLoader {
    /// Starts the thread; nothing is loaded until [`MempoolLoader::request`].
    pub(crate) fn start(rpc: RpcSource) -> Self {
        let (requests, wanted) = mpsc::channel();
        let (sender, results) = mpsc::channel();
        let counters = Arc::new(LoadCounters::default());
        let c = counters.clone();
        let spawned = std::thread::Builder::new()
            .name("mempool".into())
            .spawn(move || run(&rpc, &wanted, &sender, &c));
        if let Err(e) = spawned {
            tracing::error!("cannot start the mempool loader: {e}");
        }
        Self {
            requests,
            results,
            counters,
        }
    }

    /// Asks for the whole mempool (again); requests made while one is under
    /// way make one more load after it.
    pub(crate) fn request(&self) {
        let _ = self.requests.send(());
    }

    /// Moves what has arrived into `out`: a `Resync` marker when a listing
    /// succeeds, then its transactions.
    pub(crate) fn drain(&self, out: &mut VecDeque<LiveEvent>, most: usize) {
        for event in self.results.try_iter().take(most) {
            out.push_back(event);
        }
    }

    /// Listed transactions not passed on yet.
    pub(crate) fn backlog(&self) -> u64 {
        self.counters.backlog.load(Ordering::Relaxed)
    }
}

fn run(rpc: &RpcSource, wanted: &Receiver<()>, out: &Sender<LiveEvent>, c: &LoadCounters) {
    // Ends when the handle (the request sender) is gone.
    while wanted.recv().is_ok() {
        while wanted.try_recv().is_ok() {}
        let Some(entries) = list(rpc, wanted, c) else {
            return;
        };
        c.listings.fetch_add(1, Ordering::Relaxed);
        c.backlog.store(entries.len() as u64, Ordering::Relaxed);
        tracing::info!("mempool: {} transactions listed, loading", entries.len());
        if out.send(LiveEvent::Resync).is_err() {
            return;
        }
        for chunk in entries.chunks(BATCH) {
            let txids: Vec<fiatline_core::Txid> = chunk.iter().map(|e| e.txid).collect();
            let mut wait = FIRST_WAIT;
            let raws = loop {
                match rpc.raw_transactions(&txids) {
                    Ok(raws) => break raws,
                    Err(e) => {
                        c.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "mempool: a batch failed ({e}); again in {} s",
                            wait.as_secs()
                        );
                        if pause(wanted, wait).is_none() {
                            return;
                        }
                        wait = (wait * 2).min(MAX_WAIT);
                    }
                }
            };
            for (entry, raw) in chunk.iter().zip(raws) {
                // Gone meanwhile (confirmed, replaced): its block or removal says the rest.
                if let Some(raw) = raw {
                    c.loaded.fetch_add(1, Ordering::Relaxed);
                    if out
                        .send(LiveEvent::Tx {
                            raw,
                            time: entry.time,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
            c.backlog.fetch_sub(chunk.len() as u64, Ordering::Relaxed);
        }
        tracing::info!("mempool: loaded");
    }
}

/// The listing, tried until it comes (a node still starting answers -28);
/// `None` when the handle is gone.
fn list(
    rpc: &RpcSource,
    wanted: &Receiver<()>,
    c: &LoadCounters,
) -> Option<Vec<crate::rpc::MempoolEntry>> {
    let mut wait = FIRST_WAIT;
    loop {
        match rpc.mempool() {
            Ok(entries) => return Some(entries),
            Err(e) => {
                c.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "mempool: cannot list it yet ({e}); again in {} s",
                    wait.as_secs()
                );
                pause(wanted, wait)?;
                wait = (wait * 2).min(MAX_WAIT);
            }
        }
    }
}

/// Waits `wait`; `None` when the handle is gone meanwhile.
fn pause(wanted: &Receiver<()>, wait: Duration) -> Option<()> {
    match wanted.recv_timeout(wait) {
        Err(RecvTimeoutError::Disconnected) => None,
        // A new request while waiting changes nothing: this load is it.
        Ok(()) | Err(RecvTimeoutError::Timeout) => Some(()),
    }
}
