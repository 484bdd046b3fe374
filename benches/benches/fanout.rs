//! WebSocket fan-out: `fiatline serve` (replay at 600x) with 1,000 clients
//! on loopback plus one that never reads; reports the p50/p99 delivery
//! latency of deltas (from their `sent_ms` stamp) and the server's peak RSS.
//!
//! `cargo build --release -p fiatline-server && cargo bench -p fiatline-benches --bench fanout`
//! (`-- --test`, as CI runs it, takes 20 clients for 2 seconds.)

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fiatline_benches::verdict;
use fiatline_testkit::process::Serve;
use futures_util::StreamExt;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Starts `fiatline serve` replaying the bundled recording at 600x.
fn start_server(root: &Path) -> Serve {
    let bin = root.join("target/release/fiatline");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p fiatline-server"
    );
    let replay = root.join("samples/replay-702861.jsonl.gz");
    Serve::start(
        &bin,
        &[
            "--source",
            "replay",
            "--speed",
            "600",
            "--max-clients",
            "5000",
            "--max-clients-per-ip",
            "5000",
            "--max-connections",
            "6000",
            "--max-connections-per-ip",
            "6000",
            "--replay",
            replay.to_str().unwrap(),
        ],
    )
}

/// Delivery latencies (ms) of every delta one client gets in `seconds`.
async fn listen(url: String, seconds: u64) -> Vec<u64> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut lat = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(end.into(), ws.next()).await {
        let Ok(text) = msg.to_text() else { continue };
        let sent = text
            .split("\"sent_ms\":")
            .nth(1)
            .and_then(|r| r.split(',').next());
        if let Some(Ok(sent)) = sent.map(str::parse::<u128>) {
            lat.push(u64::try_from(now_ms().saturating_sub(sent)).unwrap_or(u64::MAX));
        }
    }
    lat
}

/// Connects `clients` readers and one that never reads; returns every
/// delta's delivery latency in milliseconds.
fn measure(addr: &str, clients: usize, seconds: u64) -> Vec<u64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("ws://{addr}/ws");
        let (_never_reads, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let tasks: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(listen(url.clone(), seconds)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    })
}

fn main() {
    let smoke = fiatline_benches::smoke();
    let (clients, seconds) = if smoke { (20, 2) } else { (1000, 10) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let server = start_server(&root);
    let mut latencies = measure(&server.addr, clients, seconds);
    let rss = peak_rss_kib(server.pid());
    drop(server);
    latencies.sort_unstable();
    let pct = |per_cent: usize| {
        let i = (latencies.len() * per_cent / 100).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or(0)
    };
    let rss_mb = rss as f64 * 1024.0 / 1e6;
    println!(
        "fanout: {clients} clients (+1 never reading), {seconds} s: {} deltas delivered, \
         latency p50 {} ms, p99 {} ms ({}), max {} ms; server peak RSS {:.1} MiB ({})",
        latencies.len(),
        pct(50),
        pct(99),
        verdict(pct(99) as f64, 50.0, "ms"),
        latencies.last().copied().unwrap_or(0),
        rss as f64 / 1024.0,
        verdict(rss_mb, 64.0, "MB"),
    );
    assert!(!latencies.is_empty(), "no delta delivered");
}
