//! The price history, end to end with the release binary: `fiatline
//! backfill` over JSON-RPC from a loopback node (days per second, then
//! per-block window prices per second with `--blocks`), then `serve --db`
//! answering `/api/v1/history` for a year of days and for a year of blocks
//! (latency percentiles).
//!
//! Two chains, built in memory by the testkit from block 702861: full days
//! (144 blocks of 2,500 transactions, as mainnet has, after a day that
//! warms the first block's window up) for the backfill rates, and a year
//! of light days (one 1,000-transaction block a day) for the day query, so
//! the year fits in memory and builds in seconds. The year of blocks
//! (52,560 rows) is written into the file with SQLite directly: what is
//! measured there is the query, not how the rows were made.
//!
//! `cargo build --release -p fiatline-server && cargo bench -p fiatline-benches --bench history`
//! (`-- --test`, as CI runs it: one full day, 30 light days, 20 queries.)

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use fiatline_benches::verdict;
use fiatline_testkit::process::{get, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

/// 2024-01-01 00:00 UTC.
const JAN_1: u32 = 1_704_067_200;

fn backfill(bin: &Path, node: &RpcServer, db: &Path, to: &str, jobs: &str) -> f64 {
    backfill_with(bin, node, db, to, jobs, &[])
}

fn backfill_with(
    bin: &Path,
    node: &RpcServer,
    db: &Path,
    to: &str,
    jobs: &str,
    more: &[&str],
) -> f64 {
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
        .args(more)
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

/// Runs `bin` with `args`, returns the wall time in seconds and stderr.
fn timed(bin: &Path, args: &[&str]) -> (f64, String) {
    let start = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("fiatline runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (start.elapsed().as_secs_f64(), stderr)
}

/// From blk files as Core writes them (xor'd, 90 blocks a file): 12 blocks
/// of 2023-12-30, the full days 2023-12-31 (the first per-block window's
/// blocks), 2024-01-01 and 2024-01-02, and 7 blocks to bury them, `txs`
/// transactions a block (all of block 702861's for a real-size day), each
/// block's amounts scaled by 0.96 to 1.04 (up over a day, down over the
/// next): no two blocks hold the same amounts, as on the real chain, so a
/// sliding window changes what it holds at every block and its price
/// moves. (Blocks of identical amounts would hide that cost: a block in
/// and a block out would cancel.) Times `price --date`, `backfill` of a
/// day and of both days on one and two jobs (best of `tries`), then
/// `backfill --blocks` of both days' 288 blocks on one process and on two
/// at once (best of `tries`), as each reports what a row cost once its
/// window was warm.
fn from_blk_files(bin: &Path, dir: &Path, txs: usize, tries: usize) {
    let jan_2 = JAN_1 + 86_400;
    let times = (0..451)
        .map(|i| JAN_1 - 86_400 - 7_200 + i * 600 + 60)
        .collect();
    let built = Instant::now();
    let chain = Chain::generate_scaled(840_000, times, |_| txs, drift);
    let blocks_dir = dir.join("blk");
    let order: Vec<usize> = (0..chain.blocks.len()).collect();
    fiatline_testkit::blk::write_blocks_dir(
        &blocks_dir,
        &chain,
        &order,
        90,
        Some([0x5a, 1, 2, 3, 4, 5, 6, 7]),
    );
    let size: usize = chain.blocks.iter().map(|b| b.bytes.len()).sum();
    let day_txs: usize = chain.blocks[300..444].iter().map(|b| b.txs.len()).sum();
    eprintln!(
        "wrote {} blocks ({} MB) as blk files in {:.1} s",
        chain.blocks.len(),
        size / 1_000_000,
        built.elapsed().as_secs_f64()
    );
    drop(chain);
    let blk = [
        "--source",
        "blk",
        "--blocks-dir",
        blocks_dir.to_str().expect("UTF-8"),
    ];
    let day = date(jan_2);
    let (secs, _) = timed(
        bin,
        &[&["price", "--date", &day, "--json"][..], &blk].concat(),
    );
    println!("history: price --date {day} from blk files (144 blocks, {day_txs} txs): {secs:.2} s");
    let db = dir.join("blk.sqlite");
    let db = db.to_str().expect("UTF-8");
    let range = ["--db", db, "--from", &day, "--to", &day];
    let (secs, _) = timed(bin, &[&["backfill"][..], &range, &blk].concat());
    println!(
        "history: backfill of {day} from blk files (hourly refinement and write included): {secs:.2} s"
    );
    // Both full days, on one job and on two: what a year's run gains from
    // the second core. Best of `tries` fresh files, as for the rows below:
    // one run of half a second is at the mercy of the machine's moment
    // (every time is printed).
    let first = date(JAN_1);
    for jobs in ["1", "2"] {
        let mut all = Vec::new();
        for k in 0..tries {
            let db_j = dir.join(format!("days-{jobs}-{k}.sqlite"));
            let db_j = db_j.to_str().expect("UTF-8");
            let range = ["--db", db_j, "--from", &first, "--to", &day, "--jobs", jobs];
            let (secs, said) = timed(bin, &[&["backfill"][..], &range, &blk].concat());
            assert!(said.contains("stored 2 day(s)"), "{said}");
            all.push(secs);
        }
        let secs = all.iter().copied().fold(f64::INFINITY, f64::min);
        let year = 365.0 * secs / 2.0;
        let all: Vec<String> = all.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "history: backfill of {first} and {day} from blk files, --jobs {jobs}: {secs:.2} s \
             (best of {} s); a year at that rate: {year:.0} s ({})",
            all.join(", "),
            if jobs == "2" {
                verdict(year, 120.0, "s")
            } else {
                "one job".into()
            }
        );
    }
    // Per-block rows of both days (288), each run reading the 143 blocks
    // before its first row first; `backfill` reports what a row cost once
    // its window was warm (a year splits into one piece per job, each
    // warmed up once). On one process, then on two at once: what two jobs
    // on two cores do, sharing the caches and memory. Best of `tries`.
    let both = dir.join("days-1-0.sqlite");
    let mut per_row = [f64::INFINITY; 2];
    for (at_once, best) in [1, 2].into_iter().zip(&mut per_row) {
        for _ in 0..tries {
            let rows = blocks_at_once(bin, dir, &both, &blk, (&first, &day), at_once);
            let mean = rows.iter().sum::<f64>() / rows.len() as f64;
            *best = best.min(mean);
        }
        println!(
            "history: per-block window prices from blk files, 288 rows (143 blocks more read \
             first), {at_once} process(es) at once: {:.2} ms a row once warm",
            *best * 1e3
        );
    }
    let year = 52_560.0 * per_row[1] / 2.0;
    println!(
        "history: per-block window prices: {:.2} ms a row on one process, {:.2} ms each with two \
         at once; a year of 52,560 rows on two jobs ≈ {year:.0} s ({})",
        per_row[0] * 1e3,
        per_row[1] * 1e3,
        verdict(year, 120.0, "s")
    );
}

/// Runs `at_once` `backfill --blocks` processes together, each on its own
/// copy of the history file `days`, over the dates `(from, to)` (288
/// rows); returns the time each says a row took once its window was warm,
/// in seconds.
fn blocks_at_once(
    bin: &Path,
    dir: &Path,
    days: &Path,
    blk: &[&str],
    (from, to): (&str, &str),
    at_once: usize,
) -> Vec<f64> {
    let dbs: Vec<String> = (0..at_once)
        .map(|k| {
            let db = dir.join(format!("blocks-{k}.sqlite"));
            std::fs::copy(days, &db).expect("copy the history file");
            db.to_str().expect("UTF-8").to_owned()
        })
        .collect();
    let children: Vec<_> = dbs
        .iter()
        .map(|db| {
            let range = [
                "--db", db, "--from", from, "--to", to, "--blocks", "--jobs", "1",
            ];
            Command::new(bin)
                .args([&["backfill"][..], &range, blk].concat())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("fiatline runs")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("fiatline runs");
            let said = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{said}");
            assert!(said.contains("stored 288 block row(s)"), "{said}");
            // "...; 4.52 ms a row once the window was warm"
            let ms: f64 = said
                .lines()
                .find_map(|line| line.strip_suffix(" ms a row once the window was warm"))
                .and_then(|line| line.rsplit("; ").next())
                .and_then(|ms| ms.trim().parse().ok())
                .unwrap_or_else(|| panic!("no time a row in: {said}"));
            ms / 1e3
        })
        .collect()
}

/// The scale of block `i`'s amounts, in parts per million: from 0.96 up
/// to 1.04 over 144 blocks, and back.
fn drift(i: usize) -> u64 {
    let k = (i % 288) as u64;
    let up = if k < 144 { k } else { 288 - k };
    960_000 + up * 80_000 / 144
}

fn date(t: u32) -> String {
    fiatline_adapters::UtcDate::of_unix(i64::from(t)).to_string()
}

fn main() {
    let smoke = fiatline_benches::smoke();
    let (full_days, light_days, queries) = if smoke { (1, 30, 20) } else { (3, 365, 100) };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/fiatline");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p fiatline-server"
    );
    let dir = fiatline_testkit::tempdir("bench-history");
    let (txs, tries) = if smoke { (200, 1) } else { (usize::MAX, 3) };
    from_blk_files(&bin, dir.path(), txs, tries);

    // Full days: a day before (the first window's blocks), 144 blocks a
    // day, ten minutes apart, and 7 more to bury the last.
    let blocks = (full_days + 1) * 144 + 7;
    let built = Instant::now();
    let node = RpcServer::start(
        Chain::generate(840_000, blocks, JAN_1 - 86_400, 600),
        "u",
        "p",
    );
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
        // The days are stored: this run prices only the blocks' windows.
        let secs = backfill_with(&bin, &node, &db, &last, jobs, &["--blocks"]);
        println!(
            "history: per-block window prices over JSON-RPC (loopback), {} blocks of 2,500 txs \
             (and 143 before them), --jobs {jobs}: {secs:.2} s, {:.0} blocks/s",
            full_days * 144,
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
    let served = Served {
        bin: &bin,
        replay: &root.join("samples/replay-702861.jsonl.gz"),
        db: &db,
        queries,
    };
    served.time("/api/v1/history", "\"days\"", &format!("{light_days} days"));
    // A year of blocks: 52,560 rows, asked for as one range.
    let rows = if smoke { 5_000 } else { 52_560 };
    write_block_rows(&db, rows);
    served.time(
        "/api/v1/history?resolution=block&from=2024-01-01&to=2024-12-31",
        "\"blocks\"",
        &format!("{rows} blocks"),
    );
    served.time(
        "/api/v1/history?resolution=block&from=2024-01-01&to=2024-12-31&format=csv",
        "height,hash,",
        &format!("{rows} blocks as CSV"),
    );
}

/// `serve --db` over a history file, asked the same path again and again.
struct Served<'a> {
    bin: &'a Path,
    replay: &'a Path,
    db: &'a Path,
    queries: u32,
}

impl Served<'_> {
    /// Times `queries` answers to `path` from a server started for them,
    /// each on a new connection, each holding `holds`; `what` names the
    /// rows in the report. The first answer reads the file, the others
    /// find its pages in the server's cache, as a dashboard asking again
    /// does; the report gives the first apart.
    fn time(&self, path: &str, holds: &str, what: &str) {
        let server = Serve::start(
            self.bin,
            &[
                "--source",
                "replay",
                "--replay",
                self.replay.to_str().expect("UTF-8"),
                "--db",
                self.db.to_str().expect("UTF-8"),
            ],
        );
        let mut ms = Vec::new();
        let mut bytes = 0;
        for _ in 0..self.queries {
            let start = Instant::now();
            let body = get(&server.addr, path).expect("an answer");
            ms.push(start.elapsed().as_secs_f64() * 1e3);
            bytes = body.len();
            assert!(body.contains(holds), "{body}");
        }
        report(
            &format!("GET {path}, {what} ({bytes} bytes)"),
            ms,
            self.queries,
        );
    }
}

fn report(what: &str, mut ms: Vec<f64>, queries: u32) {
    let first = ms[0];
    ms.sort_by(f64::total_cmp);
    let pct = |per_cent: usize| ms[(ms.len() * per_cent / 100).min(ms.len() - 1)];
    println!(
        "history: {what}, {queries} queries on a new connection each: \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, the first {first:.2} ms (p50 {})",
        pct(50),
        pct(99),
        ms[ms.len() - 1],
        verdict(pct(50), 50.0, "ms")
    );
}

/// Rows of `rows` blocks from 2024-01-01, ten minutes apart, written into
/// the file `backfill` created (its schema), in one transaction.
fn write_block_rows(db: &Path, rows: u32) {
    let mut conn = rusqlite::Connection::open(db).expect("the history file opens");
    let tx = conn.transaction().expect("a transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT OR REPLACE INTO blocks (height, hash, time, price, rough, confidence, outputs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .expect("the blocks table");
        for i in 0..rows {
            let price = 42_000.0 + f64::from(i % 1_000);
            insert
                .execute(rusqlite::params![
                    823_000 + i,
                    format!("{:064x}", i),
                    JAN_1 + i * 600,
                    price,
                    42_000 + i % 1_000,
                    0.5,
                    300_000
                ])
                .expect("a row");
        }
    }
    tx.commit().expect("commit");
}
