//! `/api/v1/price` while a slowloris attack holds connections: `fiatline
//! serve` under `ulimit -n 1024` (systemd's default) with its default
//! limits, 1,100 attacking connections that each send one header byte a
//! second and reconnect when closed, and a client asking the price every
//! 50 ms on a new connection. Reports that client's latency percentiles
//! and failures, and what the server refused.
//!
//! Two attacks: from one address (one machine on the LAN), and spread over
//! 20 addresses (127.0.0.2–21), enough to fill the total cap.
//!
//! `cargo build --release -p fiatline-server && cargo bench -p fiatline-benches --bench slowloris`
//! (`-- --test`, as CI runs it, attacks with 100 connections for 2 seconds.)

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fiatline_testkit::process::{get, get_json, Serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One attacking connection, reopened whenever the server closes it,
/// until `end`. Counts itself in `held` while open.
async fn slow_client(from: SocketAddr, to: SocketAddr, held: Arc<AtomicUsize>, end: Instant) {
    while Instant::now() < end {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        if socket.bind(from).is_err() {
            return;
        }
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(2), socket.connect(to)).await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        held.fetch_add(1, Ordering::Relaxed);
        // "GET / HTTP/1.1\r\n" and then header bytes, one a second.
        let request = b"GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut buf = [0u8; 256];
        for byte in request.iter().cycle() {
            if Instant::now() >= end || stream.write_all(&[*byte]).await.is_err() {
                break;
            }
            // A second's wait, cut short when the server closes (or
            // answers: a 408 is followed by the close).
            let closed = tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => false,
                r = stream.read(&mut buf) => !matches!(r, Ok(n) if n > 0),
            };
            if closed {
                break;
            }
        }
        held.fetch_sub(1, Ordering::Relaxed);
        // As slowloris tools do: dropped sockets are reopened on the
        // next round, a second later.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Price latencies (ms) and failures of one request every 50 ms for `seconds`.
fn probe(addr: &str, seconds: u64) -> (Vec<f64>, usize) {
    let (mut ok, mut failed) = (Vec::new(), 0);
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        let start = Instant::now();
        match get_json(addr, "/api/v1/price") {
            Some(v) if v["price"].is_number() => ok.push(start.elapsed().as_secs_f64() * 1e3),
            _ => failed += 1,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (ok, failed)
}

/// A counter from the server's `/metrics`.
fn metric(addr: &str, name: &str) -> String {
    get(addr, "/metrics")
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into())
}

fn attack(bin: &Path, replay: &str, connections: usize, addresses: u8, seconds: u64) {
    let server = Serve::start_with_open_files(
        bin,
        &["--source", "replay", "--replay", replay, "--speed", "max"],
        1024,
    );
    // The replay is played at once; wait for its price.
    let start = Instant::now();
    while get_json(&server.addr, "/api/v1/price").is_none_or(|v| !v["price"].is_number()) {
        assert!(start.elapsed() < Duration::from_secs(20), "no price");
        std::thread::sleep(Duration::from_millis(100));
    }
    let to: SocketAddr = server.addr.parse().expect("address");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let held = Arc::new(AtomicUsize::new(0));
    // The attack runs 2 s before the probe and until it ends.
    let end = Instant::now() + Duration::from_secs(seconds + 3);
    for i in 0..connections {
        let from = SocketAddr::from((
            [
                127,
                0,
                0,
                2 + u8::try_from(i % usize::from(addresses)).unwrap_or(0),
            ],
            0,
        ));
        rt.spawn(slow_client(from, to, held.clone(), end));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (mut ok, failed) = probe(&server.addr, seconds);
    let held_now = held.load(Ordering::Relaxed);
    let refused = metric(&server.addr, "fiatline_connections_refused_total");
    let evicted = metric(&server.addr, "fiatline_connections_evicted_total");
    drop(rt);
    drop(server);
    ok.sort_by(f64::total_cmp);
    let pct = |per_cent: usize| {
        let i = (ok.len() * per_cent / 100).min(ok.len().saturating_sub(1));
        ok.get(i).copied().unwrap_or(f64::NAN)
    };
    println!(
        "slowloris: {connections} connections from {addresses} address(es), ulimit -n 1024, {seconds} s: \
         /api/v1/price {} answered, {failed} failed; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
         attackers holding {held_now} connections at the end; \
         the server refused {refused} and evicted {evicted} (target: every request answered: {})",
        ok.len(),
        pct(50),
        pct(99),
        ok.last().copied().unwrap_or(f64::NAN),
        if failed == 0 { "met" } else { "NOT met" },
    );
}

fn main() {
    let smoke = fiatline_benches::smoke();
    let (connections, seconds) = if smoke { (100, 2) } else { (1100, 20) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/fiatline");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p fiatline-server"
    );
    let replay = root.join("samples/replay-702861.jsonl.gz");
    let replay = replay.to_str().expect("a UTF-8 path");
    attack(&bin, replay, connections, 1, seconds);
    attack(&bin, replay, connections, 20, seconds);
}
