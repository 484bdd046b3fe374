//! The price history, end to end with the release binary: `fiatline
//! backfill` over JSON-RPC from a loopback node (days per second), then
//! `serve --db` answering `/api/v1/history` for a year of days (latency
//! percentiles).
//!
//! Two chains, built in memory by the testkit from block 702861: full days
//! (144 blocks of 2,500 transactions, as mainnet has) for the backfill
//! rate, and a year of light days (one 1,000-transaction block a day) for
//! the query, so the year fits in memory and builds in seconds.
//!
//! `cargo build --release -p fiatline-server && cargo bench -p fiatline-benches --bench history`
//! (`-- --test`, as CI runs it: one full day, 30 light days, 20 queries.)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use fiatline_testkit::process::{get, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

/// 2024-01-01 00:00 UTC.
const JAN_1: u32 = 1_704_067_200;

fn backfill(bin: &Path, node: &RpcServer, db: &Path, to: &str, jobs: &str) -> f64 {
    let start = Instant::now();
    let out = Command::new(bin)
        .args([
            "backfill",
            "--db",
            db.to_str().expect("UTF-8"),
            "--from",
            "2024-01-01",
            "--to",
            to,
        ])
        .args([
            "--jobs",
            jobs,
            "--rpc-url",
            &node.url(),
            "--rpc-user",
            "u",
            "--rpc-password",
            "p",
        ])
        .output()
        .expect("fiatline runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed().as_secs_f64()
}

fn date(t: u32) -> String {
    fiatline_adapters::UtcDate::of_unix(i64::from(t)).to_string()
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--test");
    let (full_days, light_days, queries) = if smoke { (1, 30, 20) } else { (3, 365, 200) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/fiatline");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p fiatline-server"
    );
    let dir = fiatline_testkit::tempdir("bench-history");

    // Full days: 144 blocks each, ten minutes apart, and 7 more to bury the last.
    let blocks = full_days * 144 + 7;
    let built = Instant::now();
    let node = RpcServer::start(Chain::generate(840_000, blocks, JAN_1, 600), "u", "p");
    eprintln!(
        "built {blocks} full blocks in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let last = date(JAN_1 + (full_days - 1) * 86_400);
    for jobs in ["1", "2"] {
        let db = dir.path().join(format!("full-{jobs}.sqlite"));
        let secs = backfill(&bin, &node, &db, &last, jobs);
        println!(
            "history: backfill over JSON-RPC (loopback), {full_days} full day(s) of 144 blocks, --jobs {jobs}: \
             {secs:.2} s, {:.2} days/s ({:.0} blocks/s)",
            f64::from(full_days) / secs,
            f64::from(full_days * 144) / secs
        );
    }
    drop(node);

    // A year of light days, then the query.
    let times: Vec<u32> = (0..light_days + 7)
        .map(|i| JAN_1 + i * 86_400 + 43_200)
        .collect();
    let node = RpcServer::start(Chain::generate_with(850_000, times, |_| 1_000), "u", "p");
    let db = dir.path().join("year.sqlite");
    let secs = backfill(
        &bin,
        &node,
        &db,
        &date(JAN_1 + (light_days - 1) * 86_400),
        "2",
    );
    println!("history: backfill of {light_days} light days (one 1,000-tx block each), --jobs 2: {secs:.1} s");
    let replay = root.join("samples/replay-702861.jsonl.gz");
    let server = Serve::start(
        &bin,
        &[
            "--source",
            "replay",
            "--replay",
            replay.to_str().expect("UTF-8"),
            "--db",
            db.to_str().expect("UTF-8"),
        ],
    );
    let mut ms = Vec::new();
    let mut bytes = 0;
    for _ in 0..queries {
        let start = Instant::now();
        let body = get(&server.addr, "/api/v1/history").expect("an answer");
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        bytes = body.len();
        assert!(body.contains("\"days\""), "{body}");
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    println!(
        "history: GET /api/v1/history, {light_days} days ({bytes} bytes), {queries} queries on a new connection each: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5),
        pct(0.99),
        ms[ms.len() - 1]
    );
}
