//! Fetching a run's blocks from several threads, delivered in order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard, PoisonError};

use crate::{BlockRef, BlockSource, Retry, SourceError};

/// Fetches the raw blocks of `refs` with `workers` threads and hands each to
/// `deliver` in the order of `refs`, as soon as it and all before it have
/// arrived. Transient errors are retried with `retry`; the first error that
/// remains stops the fetch.
///
/// A block's buffer goes back to the workers once `deliver` returns, so a
/// long run reads into the same few buffers (see
/// [`BlockSource::raw_block_into`]).
///
/// # Errors
/// Returns the first error from the source or from `deliver`.
pub fn fetch_in_order<E: From<SourceError>>(
    source: &dyn BlockSource,
    refs: &[BlockRef],
    workers: usize,
    retry: Retry,
    mut deliver: impl FnMut(&BlockRef, &[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    // Buffers delivered and free again; at most as many as were in flight.
    let free: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<Vec<u8>, SourceError>)>(workers * 2);
        for _ in 0..workers.clamp(1, refs.len().max(1)) {
            let tx = tx.clone();
            let (next, stop, free) = (&next, &stop, &free);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = refs.get(i) else { break };
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut buf = lock(free).pop().unwrap_or_default();
                let result = retry
                    .run(|| source.raw_block_into(r, &mut buf))
                    .map(|()| buf);
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut due = 0;
        let outcome = (|| {
            for (i, result) in &rx {
                pending.insert(i, result);
                while let Some(result) = pending.remove(&due) {
                    let bytes = result?;
                    deliver(&refs[due], &bytes)?;
                    lock(&free).push(bytes);
                    due += 1;
                }
            }
            Ok(())
        })();
        if outcome.is_err() {
            stop.store(true, Ordering::Relaxed);
            // Let the workers finish their current block and exit.
            for _ in rx {}
        }
        outcome
    })
}

/// The free buffers; a worker that panicked holding the lock left a list
/// that is still a list.
fn lock(free: &Mutex<Vec<Vec<u8>>>) -> MutexGuard<'_, Vec<Vec<u8>>> {
    free.lock().unwrap_or_else(PoisonError::into_inner)
}
