//! The accept loop, hardened for a LAN: each connection must send its
//! request headers within a deadline (slow or idle clients are closed, as
//! are keep-alive connections that go quiet), the number of connections is
//! capped below the process's file limit, and accept errors are logged.
//! Each request carries its peer's address for the per-address caps.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::state::Shared;

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

/// Serves `app` on `listener`, at most `cap` connections at once, each
/// closed when a request's headers take longer than `header_timeout` to
/// arrive (the wait for a keep-alive connection's next request included),
/// until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    cap: usize,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(cap));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
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
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                refused_logged = Some(std::time::Instant::now());
                tracing::warn!("{cap} connections open: refusing more (from {peer})");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, http) = (app.clone(), http.clone());
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    app.clone().oneshot(request)
                });
            let _ = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            drop(permit);
        });
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
