//! The price history: `fiatline backfill` against a loopback Bitcoin Core
//! (JSON-RPC) stores exactly what `fiatline price --date D --refinement
//! hourly --json` prints for each day, resumes where it stopped, refuses
//! another network's file; `fiatline history` and `serve --db` read it.

use std::path::Path;
use std::process::{Command, Output};

use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

/// 2024-01-01 20:00 UTC, one block every 4 hours: 1 block on Jan 1, 6 on
/// each of Jan 2, 3 and 4, 1 on Jan 5 (the block 6 below the tip is then
/// past Jan 3, as a day needs).
const START: u32 = 1_704_139_200;

fn chain() -> Chain {
    Chain::generate(840_000, 20, START, 4 * 3600)
}

fn fiatline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

struct Node {
    rpc: RpcServer,
}

impl Node {
    fn start() -> Self {
        Self {
            rpc: RpcServer::start(chain(), "alice", "pw"),
        }
    }

    /// `fiatline serve --db DB` on this node's RPC (no ZMQ, no window fill),
    /// keeping the history every second.
    fn serve_with_db(&self, db: &Path) -> fiatline_testkit::process::Serve {
        fiatline_testkit::process::Serve::start(
            Path::new(env!("CARGO_BIN_EXE_fiatline")),
            &[
                "--source",
                "zmq",
                "--zmq",
                "tcp://127.0.0.1:1",
                "--no-fill",
                "--rpc-url",
                &self.rpc.url(),
                "--rpc-user",
                "alice",
                "--rpc-password",
                "pw",
                "--db",
                db.to_str().unwrap(),
                "--history-every",
                "1",
            ],
        )
    }

    /// `fiatline SUBCOMMAND ARGS` with this node's RPC flags.
    fn run(&self, subcommand: &str, args: &[&str]) -> Output {
        let url = self.rpc.url();
        let mut all = vec![subcommand];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--rpc-url",
            &url,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "pw",
        ]);
        fiatline(&all)
    }
}

fn history(db: &Path) -> Vec<serde_json::Value> {
    json_lines(&ok(fiatline(&[
        "history",
        "--db",
        db.to_str().unwrap(),
        "--json",
    ])))
}

#[test]
fn a_backfill_stores_what_price_gives_for_every_day_and_resumes() {
    let node = Node::start();
    let dir = fiatline_testkit::tempdir("history");
    let db = dir.path().join("history.sqlite");
    let db_arg = db.to_str().unwrap();

    // Two days first, then the range grows by one: only that one is priced.
    let first = ok(node.run(
        "backfill",
        &["--db", db_arg, "--from", "2024-01-01", "--to", "2024-01-02"],
    ));
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(
        err.contains("2 day(s) from 2024-01-01 to 2024-01-02, 0 already stored, 2 to price"),
        "{err}"
    );
    let again = ok(node.run(
        "backfill",
        &[
            "--db",
            db_arg,
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-03",
            "--jobs",
            "3",
        ],
    ));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("3 day(s) from 2024-01-01 to 2024-01-03, 2 already stored, 1 to price"),
        "{err}"
    );

    let stored = history(&db);
    assert_eq!(stored.len(), 3);
    // Each day has its hourly refinement (six hours a day here).
    let refined: Vec<bool> = stored.iter().map(|r| r["refined"].is_number()).collect();
    assert_eq!(refined, [true; 3]);
    for (row, date) in stored
        .iter()
        .zip(["2024-01-01", "2024-01-02", "2024-01-03"])
    {
        let priced = json_lines(&ok(node.run(
            "price",
            &["--date", date, "--refinement", "hourly", "--json"],
        )));
        assert_eq!(row, &priced[0], "{date}");
    }
    // The heights are the chain's days: 840,000 alone on Jan 1, then six a day.
    let heights: Vec<_> = stored
        .iter()
        .map(|r| {
            (
                r["first_height"].as_u64().unwrap(),
                r["last_height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        heights,
        [(840_000, 840_000), (840_001, 840_006), (840_007, 840_012)]
    );

    // Idempotent: nothing to do, nothing changed.
    let third = ok(node.run(
        "backfill",
        &["--db", db_arg, "--from", "2024-01-01", "--to", "2024-01-03"],
    ));
    assert!(String::from_utf8_lossy(&third.stderr).contains("3 already stored, 0 to price"));
    assert_eq!(history(&db), stored);

    stores_exchange_prices(&node, &db, &stored);

    // CSV and text read the same rows.
    let csv = ok(fiatline(&["history", "--db", db_arg, "--csv"]));
    let csv = String::from_utf8_lossy(&csv.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "date,time,price,refined,confidence,exchange");
    assert_eq!(lines.len(), 4);
    let price: f64 = lines[2].split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(price, stored[1]["price"].as_f64().unwrap());
    assert!(lines[2].starts_with("2024-01-02,1704153600,"));
    assert!(lines[2].ends_with(",42000"), "{}", lines[2]);

    // The file is mainnet's: another network is refused, with the reason.
    let other = node.run(
        "backfill",
        &["--db", db_arg, "--from", "2024-01-01", "--chain", "regtest"],
    );
    assert_eq!(other.status.code(), Some(2));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("holds main prices"), "{err}");

    serves_the_history(&db, &stored);
}

/// `backfill --exchange-url` stores an exchange's price of each day apart
/// from the on-chain rows: once, then not asked again.
fn stores_exchange_prices(node: &Node, db: &Path, stored: &[serde_json::Value]) {
    let db_arg = db.to_str().unwrap();
    let prices = EsploraServer::start(Chain::generate_light(1, vec![1], 1));
    prices.set_historical(
        200,
        r#"{"prices":[{"time":1704067200,"USD":42000}],"exchangeRates":{"USDEUR":0.92}}"#,
    );
    let range = ["--db", db_arg, "--from", "2024-01-01", "--to", "2024-01-03"];
    let with_exchange = |url: &str| {
        let mut args = range.to_vec();
        args.extend_from_slice(&["--exchange-url", url]);
        ok(node.run("backfill", &args))
    };
    let fetched = with_exchange(&prices.url());
    let err = String::from_utf8_lossy(&fetched.stderr);
    assert!(
        err.contains("exchange prices from http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains(": 3 stored, 0 failed"), "{err}");
    let again = with_exchange(&prices.url());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("exchange prices"));
    // The on-chain rows are untouched by it.
    assert_eq!(history(db), stored);
}

/// `serve --db` answers fiatline's and mempool.space's history endpoints
/// from the file `stored` was read from.
fn serves_the_history(db: &Path, stored: &[serde_json::Value]) {
    use fiatline_testkit::process::{get, get_json, Serve};
    let replay = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/replay-702861.jsonl.gz"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_fiatline"));
    let server = Serve::start(
        bin,
        &[
            "--source",
            "replay",
            "--replay",
            replay,
            "--speed",
            "max",
            "--db",
            db.to_str().unwrap(),
            "--history-every",
            "1",
        ],
    );
    let addr = &server.addr;
    // The headline of a day: the hourly refinement's price where there is one.
    let headline = |r: &serde_json::Value| {
        r["refined"]
            .as_f64()
            .unwrap_or(r["price"].as_f64().unwrap())
    };

    let h = get_json(addr, "/api/v1/history?from=2024-01-02").unwrap();
    let days = h["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{h}");
    assert_eq!(days[0]["date"], "2024-01-02");
    assert_eq!(days[0]["time"], 1_704_153_600);
    assert_eq!(days[0]["price"], stored[1]["price"]);
    assert_eq!(days[1]["refined"], stored[2]["refined"]);
    assert_eq!(days[1]["exchange"], 42_000.0);
    let csv = get(addr, "/api/v1/history?format=csv").unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let bad = get_json(addr, "/api/v1/history?from=yesterday").unwrap();
    assert!(bad["error"].as_str().unwrap().contains("from=yesterday"));

    // mempool.space's shape: every day, or the last at or before a moment.
    let all = get_json(addr, "/api/v1/historical-price?currency=USD").unwrap();
    assert_eq!(all["exchangeRates"], serde_json::json!({}));
    let prices = all["prices"].as_array().unwrap();
    assert_eq!(prices.len(), 3);
    assert_eq!(prices[0]["time"], 1_704_067_200);
    let noon_jan_2 = 1_704_153_600 + 43_200;
    let one = get_json(
        addr,
        &format!("/api/v1/historical-price?currency=USD&timestamp={noon_jan_2}"),
    )
    .unwrap();
    // The day's headline price in whole dollars, an integer as mempool.space sends.
    let whole = format!("{:.0}", headline(&stored[1]));
    assert_eq!(
        one["prices"],
        serde_json::json!([{"time": 1_704_153_600, "USD": whole.parse::<i64>().unwrap()}])
    );
    let before = get_json(
        addr,
        "/api/v1/historical-price?currency=USD&timestamp=1600000000",
    )
    .unwrap();
    assert_eq!(before["prices"], serde_json::json!([]));
    let eur = get_json(addr, "/api/v1/historical-price?currency=EUR").unwrap();
    assert!(eur["error"].as_str().unwrap().contains("only USD"), "{eur}");

    // The live estimate in mempool.space's /api/v1/prices shape, once the
    // replay has ended at its consensus price (42,951.636…, the bundled
    // block's price in the README).
    let start = std::time::Instant::now();
    let final_estimate = loop {
        let v = get_json(addr, "/api/v1/price").unwrap();
        if v["price"] == 42_951.636_457_349_03 || start.elapsed().as_secs() > 20 {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(final_estimate["price"], 42_951.636_457_349_03);
    let live = get_json(addr, "/api/v1/prices").unwrap();
    assert_eq!(live["USD"], 42_952, "{live}");
    assert_eq!(live["time"], final_estimate["at"]);

    // The live estimate is stored every --history-every seconds, once per
    // estimate: the replay's last one, at the recording's time.
    let start = std::time::Instant::now();
    let stored_estimates = loop {
        let v = get_json(addr, "/api/v1/history?resolution=estimate").unwrap();
        let rows = v["estimates"].as_array().unwrap();
        if rows.last().is_some_and(|r| r["time"] == live["time"]) || start.elapsed().as_secs() > 20
        {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // The keeper may have stored an earlier estimate of the replay
    // first; the last one stored is the final.
    let rows = stored_estimates["estimates"].as_array().unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last["time"], live["time"], "{stored_estimates}");
    assert_eq!(last["price"], 42_951.636_457_349_03);
    drop(server);

    // Without --db there is no history, and the answer says how to get one.
    let plain = Serve::start(
        bin,
        &["--source", "replay", "--replay", replay, "--speed", "max"],
    );
    let none = get_json(&plain.addr, "/api/v1/history").unwrap();
    assert!(none["error"].as_str().unwrap().contains("--db"), "{none}");
}

/// 00:00 UTC today, Unix seconds.
fn today_midnight() -> u32 {
    let now = fiatline_testkit::process::unix_now();
    now - now % 86_400
}

#[test]
fn serve_with_a_db_stores_the_days_that_ended_from_its_node() {
    // The day before yesterday and yesterday, a block every 4 hours; today
    // 7 blocks a minute apart bury yesterday under 6.
    let two_days_ago = today_midnight() - 2 * 86_400;
    let mut times: Vec<u32> = (0..12).map(|i| two_days_ago + i * 4 * 3600).collect();
    times.extend((0..7).map(|i| today_midnight() + i * 60));
    let node = Node {
        rpc: RpcServer::start(Chain::generate_with_times(900_000, times), "alice", "pw"),
    };
    let dir = fiatline_testkit::tempdir("history-serve");
    let db = dir.path().join("history.sqlite");
    // The day before yesterday is backfilled; serve adds the days since.
    let day_before = utc_date(two_days_ago);
    ok(node.run(
        "backfill",
        &[
            "--db",
            db.to_str().unwrap(),
            "--from",
            &day_before,
            "--to",
            &day_before,
        ],
    ));
    let server = node.serve_with_db(&db);
    let start = std::time::Instant::now();
    let days = loop {
        let v = fiatline_testkit::process::get_json(&server.addr, "/api/v1/history").unwrap();
        if v["days"].as_array().is_some_and(|d| d.len() >= 2) || start.elapsed().as_secs() > 30 {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    drop(server);
    let days = days["days"].as_array().unwrap();
    let dates: Vec<String> = days
        .iter()
        .map(|d| d["date"].as_str().unwrap().to_owned())
        .collect();
    // Today is not over: the backfilled day and yesterday, priced as
    // `price --date` prices them.
    let yesterday = utc_date(two_days_ago + 86_400);
    assert_eq!(dates, [day_before, yesterday]);
    let stored = history(&db);
    for (row, date) in stored.iter().zip(&dates) {
        let priced = json_lines(&ok(node.run(
            "price",
            &["--date", date, "--refinement", "hourly", "--json"],
        )));
        assert_eq!(row, &priced[0], "{date}");
    }
}

/// `YYYY-MM-DD` of a Unix time.
fn utc_date(t: u32) -> String {
    fiatline_adapters::UtcDate::of_unix(i64::from(t)).to_string()
}

/// Ten days from 2024-01-01, four light blocks a day, and seven more to
/// bury the last under 6.
fn ten_days() -> Chain {
    let jan_1 = 1_704_067_200;
    let times: Vec<u32> = (0..47).map(|i| jan_1 + i * 6 * 3600).collect();
    Chain::generate_with(850_000, times, |_| 1_000)
}

/// Every stored day of a backfill of `node`'s ten days into a new file.
fn fresh_backfill(node: &Node, dir: &Path) -> Vec<serde_json::Value> {
    let db = dir.join("fresh.sqlite");
    ok(node.run(
        "backfill",
        &[
            "--db",
            db.to_str().unwrap(),
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-10",
        ],
    ));
    history(&db)
}

#[test]
fn a_killed_backfill_started_again_ends_with_the_same_rows() {
    let node = Node {
        rpc: RpcServer::start(ten_days(), "alice", "pw"),
    };
    let dir = fiatline_testkit::tempdir("history-kill");
    let expected = fresh_backfill(&node, dir.path());
    assert_eq!(expected.len(), 10);

    let db = dir.path().join("killed.sqlite");
    let db_arg = db.to_str().unwrap();
    let url = node.rpc.url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fiatline"))
        .args([
            "backfill",
            "--db",
            db_arg,
            "--from",
            "2024-01-01",
            "--to",
            "2024-01-10",
        ])
        .args([
            "--jobs",
            "1",
            "--rpc-url",
            &url,
            "--rpc-user",
            "alice",
            "--rpc-password",
            "pw",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // SIGKILL as soon as a first day is in: mid-run, mid-write perhaps.
    let start = std::time::Instant::now();
    let at_kill = loop {
        let out = fiatline(&["history", "--db", db_arg, "--json"]);
        let n = if out.status.success() {
            json_lines(&out).len()
        } else {
            0
        };
        if n > 0 || start.elapsed().as_secs() > 30 {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        (1..10).contains(&at_kill),
        "killed with {at_kill} of 10 days stored"
    );
    let after_kill = history(&db);
    assert!(after_kill.len() < 10 && after_kill.len() >= at_kill);

    let again = ok(node.run(
        "backfill",
        &["--db", db_arg, "--from", "2024-01-01", "--to", "2024-01-10"],
    ));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains(&format!("{} already stored", after_kill.len())),
        "{err}"
    );
    assert_eq!(
        history(&db),
        expected,
        "no gap, no duplicate, the same rows"
    );
}

#[test]
fn a_full_disk_stops_the_backfill_with_a_clear_error_and_keeps_what_was_stored() {
    let node = Node {
        rpc: RpcServer::start(ten_days(), "alice", "pw"),
    };
    let dir = fiatline_testkit::tempdir("history-full");
    let expected = fresh_backfill(&node, dir.path());

    let db = dir.path().join("full.sqlite");
    let db_arg = db.to_str().unwrap();
    let url = node.rpc.url();
    // Files may not grow past 96 KiB (ulimit -f counts 512-byte blocks in
    // sh), as on a full disk: a write fails with EFBIG, not a signal.
    let script = format!(
        "trap '' XFSZ; ulimit -f 192; exec \"$0\" backfill --db {db_arg} --from 2024-01-01 --to 2024-01-10 \
         --jobs 1 --rpc-url {url} --rpc-user alice --rpc-password pw"
    );
    let out = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_fiatline")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: history database") && last.contains("full.sqlite"),
        "{err}"
    );
    let kept = history(&db);
    assert!(
        !kept.is_empty() && kept.len() < 10,
        "{} days kept",
        kept.len()
    );
    assert_eq!(kept[..], expected[..kept.len()], "what was stored is whole");

    // With room again, the run resumes and ends where a fresh one does.
    ok(node.run(
        "backfill",
        &["--db", db_arg, "--from", "2024-01-01", "--to", "2024-01-10"],
    ));
    assert_eq!(history(&db), expected);
}

/// 2023-12-31 00:00 UTC and 300 light blocks ten minutes apart: Dec 31,
/// Jan 1 (heights 840,144 to 840,287) and twelve blocks of Jan 2. Each
/// transaction spends one 1 to 150 blocks back, so blocks leaving a
/// 144-block window change what the blocks after them count.
fn spending_chain() -> Chain {
    Chain::generate_spending_back(840_000, 300, 1_703_980_800, 600, 100, 150)
}

/// What `fiatline price --heights FROM..TO --json` prints.
fn priced_heights(node: &Node, to: u32) -> serde_json::Value {
    let range = format!("{}..{to}", to - 143);
    let out = ok(node.run("price", &["--heights", &range, "--json"]));
    json_lines(&out).remove(0)
}

/// A block row against the fresh run over its 144 blocks.
fn assert_row_is_the_fresh_run(row: &serde_json::Value, fresh: &serde_json::Value) {
    let height = row["height"].as_u64().unwrap();
    assert_eq!(
        fresh["last_height"], height,
        "the run ends at the row's block"
    );
    for field in ["price", "rough", "outputs"] {
        assert_eq!(row[field], fresh[field], "{field} at {height}");
    }
    assert!(row["price"].as_f64().unwrap() > 1_000.0, "{row}");
}

/// A reader that stops reading (`| head`) ends a listing of `db` quietly,
/// in every form, of days or blocks.
fn lists_quietly_to_a_reader_that_stopped(db: &str) {
    for (blocks, form) in [
        (true, None),
        (true, Some("--json")),
        (true, Some("--csv")),
        (false, None),
    ] {
        let mut args = vec!["history", "--db", db];
        args.extend(blocks.then_some("--blocks"));
        args.extend(form);
        let mut child = Command::new(env!("CARGO_BIN_EXE_fiatline"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        // Closed before the listing is written: the write meets a broken pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("it ends");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.is_empty(),
            "{args:?}: {:?} {said}",
            out.status
        );
    }
}

#[test]
fn a_block_backfill_stores_each_blocks_window_as_fresh_runs_price_it() {
    let node = Node {
        rpc: RpcServer::start(spending_chain(), "alice", "pw"),
    };
    let dir = fiatline_testkit::tempdir("history-blocks");
    let db = dir.path().join("history.sqlite");
    let db = db.to_str().unwrap();
    let args = [
        "--db",
        db,
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-01",
        "--blocks",
        "--jobs",
        "2",
    ];
    let out = ok(node.run("backfill", &args));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("stored 144 block row(s)"), "{said}");
    let rows = json_lines(&ok(fiatline(&[
        "history", "--db", db, "--blocks", "--json",
    ])));
    let heights: Vec<u64> = rows.iter().map(|r| r["height"].as_u64().unwrap()).collect();
    assert_eq!(heights, (840_144..=840_287).collect::<Vec<u64>>());
    lists_quietly_to_a_reader_that_stopped(db);
    let chain = spending_chain();
    for row in &rows {
        let h = u32::try_from(row["height"].as_u64().unwrap()).unwrap();
        let block = chain.at(h).unwrap();
        assert_eq!(row["hash"], fiatline_testkit::display_hex(&block.hash));
        assert_eq!(row["time"], block.time);
    }
    // The first row, one where two pieces meet (jobs 2 split at a piece of
    // 1,152 blocks at least, so one piece here), and the last; and prices
    // that differ from row to row, or the comparison says little.
    for h in [840_144, 840_200, 840_287] {
        let row = &rows[(h - 840_144) as usize];
        assert_row_is_the_fresh_run(row, &priced_heights(&node, h));
    }
    let distinct: std::collections::BTreeSet<u64> = rows
        .iter()
        .map(|r| r["outputs"].as_u64().unwrap())
        .collect();
    assert!(distinct.len() > 10, "{distinct:?}");

    // Drawn: a line of 144 points, dated.
    let svg = dir.path().join("blocks.svg");
    let out = ok(fiatline(&[
        "history",
        "--db",
        db,
        "--blocks",
        "--chart",
        svg.to_str().unwrap(),
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!("wrote {} (144 blocks)", svg.display())
    );
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.starts_with("<svg") && drawn.contains("per block: 2024-01-01 to 2024-01-01"),
        "{drawn}"
    );
    let longest = drawn
        .split("<polyline")
        .skip(1)
        .map(|p| {
            p.split("points=\"").nth(1).map_or(0, |pts| {
                pts.split('"')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .count()
            })
        })
        .max();
    assert_eq!(longest, Some(144), "one point per block");
    let bad = fiatline(&["history", "--db", db, "--chart", "/tmp/chart.gif"]);
    assert_eq!(bad.status.code(), Some(2));

    // Run again: nothing to do, nothing changed.
    let out = ok(node.run("backfill", &args));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("144 already stored, 0 to price"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = json_lines(&ok(fiatline(&[
        "history", "--db", db, "--blocks", "--json",
    ])));
    assert_eq!(again, rows);
}

#[test]
fn serve_with_a_db_follows_blocks_and_replaces_the_rows_a_reorganisation_disconnects() {
    let chain = spending_chain();
    let node = Node {
        rpc: RpcServer::start(chain.clone(), "alice", "pw"),
    };
    let dir = fiatline_testkit::tempdir("history-reorg");
    let db = dir.path().join("history.sqlite");
    let server = node.serve_with_db(&db);
    let rows_until = |ok: &dyn Fn(&[serde_json::Value]) -> bool| {
        let start = std::time::Instant::now();
        loop {
            let v = fiatline_testkit::process::get_json(
                &server.addr,
                "/api/v1/history?resolution=block&from=2023-12-31&to=2024-01-02",
            )
            .unwrap();
            let rows = v["blocks"].as_array().cloned().unwrap_or_default();
            if ok(&rows) || start.elapsed().as_secs() > 60 {
                return rows;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    // On an empty file: the rows of the last day of blocks.
    let tip = chain.tip();
    let rows = rows_until(&|r| r.last().is_some_and(|l| l["height"] == tip));
    let heights: Vec<u64> = rows.iter().map(|r| r["height"].as_u64().unwrap()).collect();
    assert_eq!(
        heights,
        (u64::from(tip) - 143..=u64::from(tip)).collect::<Vec<_>>()
    );

    // A branch from 840,290 replaces the last ten blocks with twelve.
    let branch = chain.fork(840_290, 12, 1_703_980_800 + 290 * 600 + 7, 600, 100);
    let mut b = chain.clone();
    b.blocks.truncate(290);
    b.blocks.extend(branch.blocks.iter().cloned());
    node.rpc.set_chain(b.clone());
    let new_tip = b.tip();
    let rows = rows_until(&|r| r.last().is_some_and(|l| l["height"] == new_tip));
    drop(server);
    let by_height: std::collections::BTreeMap<u64, &serde_json::Value> = rows
        .iter()
        .map(|r| (r["height"].as_u64().unwrap(), r))
        .collect();
    assert_eq!(by_height.len(), rows.len(), "one row per height");
    assert_eq!(
        by_height.keys().copied().collect::<Vec<_>>(),
        (u64::from(tip) - 143..=u64::from(new_tip)).collect::<Vec<_>>()
    );
    for (h, row) in &by_height {
        let block = b.at(u32::try_from(*h).unwrap()).unwrap();
        assert_eq!(
            row["hash"],
            fiatline_testkit::display_hex(&block.hash),
            "{h}"
        );
    }
    // The rows of the new branch, priced as fresh runs over the new chain.
    for h in [840_290, new_tip] {
        assert_row_is_the_fresh_run(by_height[&u64::from(h)], &priced_heights(&node, h));
    }
}
