//! Connections that have not yet sent a whole request, oldest first. When
//! every place is taken, the oldest of them that has had a fair chance
//! gives its place to the newcomer: a client that is ready takes the place
//! of one that trickles its headers, so slow connections from many
//! addresses (each within its own cap) cannot keep everyone else out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

/// A connection no older than this keeps its place: a client on a slow
/// link needs a moment to send its first request.
pub(crate) const FAIR_CHANCE: Duration = Duration::from_secs(1);

/// Accepted connections, oldest first, until each sends a request or ends.
#[derive(Debug, Default)]
pub(crate) struct Waiting {
    queue: VecDeque<Entry>,
}

#[derive(Debug)]
struct Entry {
    since: Instant,
    /// Set by the connection when its first request's headers are in.
    asked: Arc<AtomicBool>,
    task: AbortHandle,
}

impl Entry {
    fn waiting(&self) -> bool {
        !self.asked.load(Ordering::Relaxed) && !self.task.is_finished()
    }
}

impl Waiting {
    /// Adds a connection accepted now, served by `task`, which sets
    /// `asked` on its first request.
    pub(crate) fn push(&mut self, asked: Arc<AtomicBool>, task: AbortHandle) {
        // Those at the front that asked or ended are gone for good; the
        // rest wait at most the header timeout, so the queue stays short.
        while self.queue.front().is_some_and(|e| !e.waiting()) {
            self.queue.pop_front();
        }
        self.queue.push_back(Entry {
            since: Instant::now(),
            asked,
            task,
        });
    }

    /// Closes the oldest connection that has waited at least `fair` without
    /// a request; whether there was one.
    pub(crate) fn evict_oldest(&mut self, fair: Duration) -> bool {
        while let Some(front) = self.queue.front() {
            if !front.waiting() {
                self.queue.pop_front();
            } else if front.since.elapsed() < fair {
                return false;
            } else {
                if let Some(e) = self.queue.pop_front() {
                    e.task.abort();
                }
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_silent_connection_goes_first_and_the_asking_stay() {
        let mut waiting = Waiting::default();
        let mut flags = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let asked = Arc::new(AtomicBool::new(false));
            let task = tokio::spawn(std::future::pending::<()>());
            waiting.push(asked.clone(), task.abort_handle());
            flags.push(asked);
            tasks.push(task);
        }
        // The first asked: it keeps its place; the second is the oldest silent one.
        flags[0].store(true, Ordering::Relaxed);
        assert!(!waiting.evict_oldest(Duration::from_secs(60)), "too young");
        assert!(waiting.evict_oldest(Duration::ZERO));
        let second = tasks.remove(1);
        assert!(second.await.is_err_and(|e| e.is_cancelled()));
        assert!(!tasks[0].is_finished());
        assert!(waiting.evict_oldest(Duration::ZERO));
        assert!(!waiting.evict_oldest(Duration::ZERO), "none left waiting");
        assert!(!tasks[0].is_finished(), "the one that asked stays");
    }
}
