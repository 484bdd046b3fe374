//! The accept loop, hardened for a LAN: each connection must send its
//! request headers within a deadline (slow or idle clients are closed, as
//! are keep-alive connections that go quiet), the number of connections is
//! capped below the process's file limit and per peer address (so one
//! client cannot take every place), and accept errors are logged. When
//! every place is taken, the oldest connection that has not sent a request
//! yet makes way for a newcomer (see `waiting`). Each request carries its
//! peer's address for the `/ws` caps.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::per_address::PerAddress;
use super::state::Shared;
use super::waiting::{Waiting, FAIR_CHANCE};

/// How long a newcomer waits for an evicted connection's place.
const EVICTION_WAIT: Duration = Duration::from_millis(50);

/// File descriptors kept back from connections: the engine, the source,
/// logs and the listener need some.
const RESERVED_FDS: u64 = 64;

/// The soft limit on open files (`ulimit -n`), from `/proc/self/limits`;
/// `None` where that cannot be read.
pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The connection cap: `wanted`, lowered to fit under the file limit.
pub(crate) fn connection_cap(wanted: usize, limit: Option<u64>) -> usize {
    match limit {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
            wanted.min(room.max(1))
        }
        None => wanted,
    }
}

/// Counts a connection in the open gauge while it holds a place. Dropped
/// with its task's future, so a connection aborted to make way is counted
/// out too.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: Arc<Shared>) -> Self {
        shared.counters.open.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections at once, from everyone.
    pub(crate) connections: usize,
    /// Connections at once from one address.
    pub(crate) per_address: usize,
    /// Time for a request's headers to arrive (the wait for a keep-alive
    /// connection's next request included).
    pub(crate) header_timeout: Duration,
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes.
/// Connections past the cap per address are closed at once; past the total
/// cap, the oldest connection still waiting for its first request (if it
/// has had [`FAIR_CHANCE`]) is closed for the newcomer, else the newcomer
/// is. Each is counted.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let cap = limits.connections;
    let permits = Arc::new(Semaphore::new(cap));
    let per_address = PerAddress::default();
    let mut waiting = Waiting::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    // When a refusal was last logged: one line per 10 s at most.
    let mut refused_logged: Option<std::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                shared
                    .counters
                    .accept_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!("accepting a connection failed: {e}");
                // Out of file descriptors: give the others a moment to close.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(address_slot) = per_address.take(peer.ip(), limits.per_address) else {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                refused_logged = Some(std::time::Instant::now());
                tracing::warn!(
                    "{} connections open from {}: refusing more from it (see --max-connections-per-ip)",
                    limits.per_address,
                    peer.ip()
                );
            }
            drop(stream);
            continue;
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            // Full: the oldest connection still silent gives its place.
            Err(_) if waiting.evict_oldest(FAIR_CHANCE) => {
                shared.counters.evicted.fetch_add(1, Ordering::Relaxed);
                // Its task lets go of the place when next polled.
                tokio::time::timeout(EVICTION_WAIT, permits.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(permit) = permit else {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                refused_logged = Some(std::time::Instant::now());
                tracing::warn!("{cap} connections open: refusing more (from {peer})");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let open = Open::new(shared.clone());
        let (app, http) = (app.clone(), http.clone());
        let asked = Arc::new(AtomicBool::new(false));
        let asking = asked.clone();
        let task = tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    asking.store(true, Ordering::Relaxed);
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    app.clone().oneshot(request)
                });
            let _ = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            drop((permit, address_slot, open));
        });
        waiting.push(asked, task.abort_handle());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_under_the_file_limit() {
        assert_eq!(connection_cap(2000, Some(1024)), 960);
        assert_eq!(connection_cap(100, Some(1024)), 100);
        assert_eq!(connection_cap(2000, None), 2000);
        assert_eq!(connection_cap(10, Some(10)), 1);
        // This machine's limit reads as a number.
        assert!(open_files_limit().is_some_and(|l| l > 0));
    }
}
