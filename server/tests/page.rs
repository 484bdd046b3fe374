//! The live page in a real browser: Debian's `chromium`, driven by
//! `tools/browser/check-page.mjs` (playwright-core, no downloaded browser).
//! The price appears, points are drawn, the connection shows as live, a
//! hover shows the tooltip, and a screenshot is kept in
//! `target/artifacts/page.png`.
//!
//! CI (`CI` set) requires the browser tools (`.ci/run` installs them);
//! elsewhere the test says it skipped when they are missing.

use std::path::Path;
use std::process::Command;

use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::process::Serve;
use fiatline_testkit::Chain;

fn tools_present(root: &Path) -> Result<(), String> {
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("no /usr/bin/chromium (apt-get install chromium)".into());
    }
    if !root
        .join("tools/browser/node_modules/playwright-core")
        .exists()
    {
        return Err("no playwright-core (npm ci --prefix tools/browser)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no node".into());
    }
    Ok(())
}

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether the browser test can run here; in CI it must.
fn can_run() -> bool {
    if let Err(missing) = tools_present(&root()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: {missing}"
        );
        eprintln!("SKIPPED: {missing}");
        return false;
    }
    true
}

/// Opens the page served at `addr` in chromium; what it saw, and the
/// screenshot's path.
fn browse(addr: &str, name: &str, extra: &[&str]) -> (serde_json::Value, std::path::PathBuf) {
    browse_with("check-page.mjs", addr, name, extra)
}

/// As [`browse`], with another script of `tools/browser`.
fn browse_with(
    script: &str,
    addr: &str,
    name: &str,
    extra: &[&str],
) -> (serde_json::Value, std::path::PathBuf) {
    let root = root();
    let artifacts = root.join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join(name);
    let out = Command::new("node")
        .arg(root.join("tools/browser").join(script))
        // `addr` may carry a path and query: `127.0.0.1:8080/?renderer=canvas`.
        .arg(if addr.contains('/') {
            format!("http://{addr}")
        } else {
            format!("http://{addr}/")
        })
        .arg(&shot)
        .arg("30000")
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value =
        serde_json::from_str(text.trim()).unwrap_or_else(|_| panic!("browser said: {text}"));
    assert_eq!(seen["ok"], true, "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "the page threw");
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "no screenshot"
    );
    eprintln!("screenshot: {}", shot.display());
    (seen, shot)
}

#[test]
fn the_page_shows_the_price_and_draws_points() {
    if !can_run() {
        return;
    }
    let root = root();
    let replay = root.join("samples/replay-702861.jsonl.gz");
    let server = Serve::start(
        Path::new(env!("CARGO_BIN_EXE_fiatline")),
        &[
            "--source",
            "replay",
            "--speed",
            "600",
            "--replay",
            replay.to_str().unwrap(),
        ],
    );
    let (seen, _) = browse(&server.addr, "page.png", &[]);
    drop(server);
    let price = seen["price"].as_str().unwrap();
    assert!(
        price.starts_with('$') && price.contains(','),
        "price shown: {price:?}"
    );
    assert!(seen["drawn"].as_u64().unwrap() > 0, "{seen}");
    // At 600× the recording lasts about 18 s: the browser may look while
    // it plays or after it ended; either is the server's true state.
    let status = seen["status"].as_str().unwrap();
    assert!(
        status == "replay: connected" || status == "replay finished",
        "{status:?}"
    );
    let tooltip = seen["tooltip"].as_str().unwrap_or_default();
    assert!(
        tooltip.contains('$') && tooltip.contains("UTC") && tooltip.contains("BTC"),
        "tooltip: {tooltip:?}"
    );
    assert_eq!(
        seen["exchangeShown"], false,
        "no exchange without --exchange-url"
    );
}

/// Opens the page with `check-state.mjs` until it shows `state`; what it
/// saw at desktop and phone size.
fn browse_state(addr: &str, name: &str, state: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![state];
    args.extend_from_slice(extra);
    let (seen, shot) = browse_with("check-state.mjs", addr, name, &args);
    let phone = shot.with_file_name(name.replace(".png", "-phone.png"));
    assert!(
        std::fs::metadata(&phone).is_ok_and(|m| m.len() > 10_000),
        "no phone screenshot"
    );
    for size in ["desktop", "phone"] {
        let s = &seen[size];
        // The whole live view on one screen: the chart's time axis too,
        // with no scrollbar when there is no history below it.
        assert!(
            s["chartBottom"].as_u64() <= s["viewport"].as_u64(),
            "{size}: {s}"
        );
        assert_eq!(s["scrolls"], false, "{size}: {s}");
        assert_eq!(s["favicon"], true);
    }
    seen
}

#[test]
fn the_page_shows_the_servers_state_not_just_its_connection() {
    if !can_run() {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_fiatline"));
    // A node that is not there: the state, the reason, no made-up chart.
    let down = Serve::start(
        bin,
        &[
            "--source",
            "zmq",
            "--zmq",
            "tcp://127.0.0.1:1",
            "--rpc-url",
            "http://127.0.0.1:1",
            "--rpc-user",
            "u",
            "--rpc-password",
            "p",
        ],
    );
    let seen = browse_state(&down.addr, "page-source-down.png", "disconnected", &[]);
    drop(down);
    for size in ["desktop", "phone"] {
        let s = &seen[size];
        let status = s["status"].as_str().unwrap();
        assert!(
            status.starts_with("zmq: disconnected: could not fill the window from recent blocks:")
                && status.contains("127.0.0.1:1"),
            "{status:?}"
        );
        assert_eq!(s["dot"], "bad");
        assert_eq!(s["price"], "no estimate");
        assert_eq!(s["asof"], "(no transactions yet)");
        assert_eq!(s["drawn"], 0);
        assert!(s["replay"].is_null(), "{s}");
    }

    // A replay that ended: its price, dated as the data is, and said to be
    // a replay, not today's price.
    let replay = root().join("samples/replay-702861.jsonl.gz");
    let ended = Serve::start(
        bin,
        &[
            "--source",
            "replay",
            "--speed",
            "max",
            "--replay",
            replay.to_str().unwrap(),
        ],
    );
    let seen = browse_state(
        &ended.addr,
        "page-replay-finished.png",
        "finished",
        &["estimate"],
    );
    // And without WebGL, the same page drawn with Canvas 2D.
    let canvas = browse_state(
        &format!("{}/?renderer=canvas", ended.addr),
        "page-canvas2d.png",
        "finished",
        &["estimate"],
    );
    let api = fiatline_testkit::process::get_json(&ended.addr, "/api/v1/price").unwrap();
    drop(ended);
    for size in ["desktop", "phone"] {
        assert_eq!(seen[size]["renderer"], "webgl", "{seen}");
        assert_eq!(canvas[size]["renderer"], "canvas2d", "{canvas}");
        // The same points in the price range, however drawn.
        assert_eq!(canvas[size]["drawn"], seen[size]["drawn"]);
    }
    // The recording's last transaction was seen at 2021-09-30 11:50 UTC.
    let at = api["at"].as_i64().unwrap();
    let date = fiatline_adapters::UtcDate::of_unix(at).to_string();
    assert_eq!(date, "2021-09-30");
    for size in ["desktop", "phone"] {
        let s = &seen[size];
        assert_eq!(s["status"], "replay finished");
        assert_eq!(s["dot"], "idle");
        assert_eq!(s["price"], "$42,951", "{s}");
        let minutes = at % 86_400 / 60;
        assert_eq!(
            s["asof"],
            format!("as of {date} {:02}:{:02} UTC", minutes / 60, minutes % 60)
        );
        assert_eq!(
            s["replay"],
            "Replay of recorded data of 2021-09-30: not the live price."
        );
        assert!(s["drawn"].as_u64().unwrap() > 1_000, "{s}");
    }
}

#[test]
fn the_page_warns_when_the_exchange_price_differs() {
    if !can_run() {
        return;
    }
    let now = fiatline_testkit::process::unix_now();
    let chain = EsploraServer::start(Chain::last_hour(900_000));
    // The on-chain price is about $42,952: this is 7% off.
    let prices = EsploraServer::start(Chain::generate_light(1, vec![1], 1));
    prices.set_prices(200, format!(r#"{{"time":{now},"USD":40000}}"#));
    let server = Serve::start(
        Path::new(env!("CARGO_BIN_EXE_fiatline")),
        &[
            "--source",
            "esplora",
            "--esplora-url",
            &chain.url(),
            "--window",
            "7200",
            "--exchange-url",
            &prices.url(),
            "--exchange-interval",
            "2",
        ],
    );
    let (seen, _) = browse(&server.addr, "page-exchange.png", &["exchange-warning"]);
    assert_eq!(seen["exchangeShown"], true, "{seen}");
    let exchange = seen["exchange"].as_str().unwrap();
    assert!(exchange.starts_with("$40,000 +7."), "{exchange:?}");
    let warning = seen["exchangeWarning"].as_str().unwrap_or_default();
    assert!(warning.contains("differ by +7."), "{warning:?}");

    // The feed's price is two hours old: no number, the reason shown.
    prices.set_prices(200, format!(r#"{{"time":{},"USD":43000}}"#, now - 7200));
    let start = std::time::Instant::now();
    loop {
        let (seen, _) = browse(&server.addr, "page-exchange-stale.png", &[]);
        if seen["exchange"] == "n/a" {
            let note = seen["exchangeNote"].as_str().unwrap();
            assert!(note.contains("older than the on-chain"), "{note:?}");
            assert!(seen["exchangeWarning"].is_null(), "{seen}");
            break;
        }
        assert!(start.elapsed().as_secs() < 120, "{seen}");
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

#[test]
fn the_history_view_draws_every_day_and_shades_those_that_differ() {
    if !can_run() {
        return;
    }
    let dir = fiatline_testkit::tempdir("page-history");
    let db = dir.path().join("history.sqlite");
    backfill_ten_days(&db);
    let bin = Path::new(env!("CARGO_BIN_EXE_fiatline"));
    let replay = root().join("samples/replay-702861.jsonl.gz");
    let server = Serve::start(
        bin,
        &[
            "--source",
            "replay",
            "--speed",
            "max",
            "--replay",
            replay.to_str().unwrap(),
        ],
    );
    // Without --db the view stays hidden.
    let no_history = browse(&server.addr, "page-no-history.png", &[]).0;
    assert_eq!(no_history["historyShown"], false, "{no_history}");
    drop(server);
    let server = Serve::start(
        bin,
        &[
            "--source",
            "replay",
            "--speed",
            "max",
            "--replay",
            replay.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ],
    );
    // What the page should shade, from the API: the headline (refined)
    // price more than 2% from the exchange's.
    let api = fiatline_testkit::process::get_json(&server.addr, "/api/v1/history").unwrap();
    let days = api["days"].as_array().unwrap();
    assert_eq!(days.len(), 10);
    let differ = days
        .iter()
        .filter(|d| {
            let on_chain = d["refined"]
                .as_f64()
                .unwrap_or(d["price"].as_f64().unwrap());
            let x = d["exchange"].as_f64().unwrap();
            ((on_chain - x) / x * 100.0).abs() > 2.0
        })
        .count();
    assert_eq!(differ, 5, "{api}");
    let (seen, _) = browse_with("check-history.mjs", &server.addr, "page-history.png", &[]);
    assert_eq!(seen["all"]["days"], 10, "{seen}");
    assert_eq!(seen["all"]["diverging"], differ, "{seen}");
    assert_eq!(seen["all"]["threshold"], "2");
    assert_eq!(seen["week"]["days"], 7, "{seen}");
    let tooltip = seen["tooltip"].as_str().unwrap_or_default();
    assert!(
        tooltip.contains("2024-01-")
            && tooltip.contains("refined $")
            && tooltip.contains("exchange $42,000"),
        "tooltip: {tooltip:?}"
    );
}

/// Backfills ten days from 2024-01-01 (four light blocks a day, seven more
/// after) into `db`, with an exchange price for each: $42,000 for the first
/// five (over 2% below the on-chain ~$43,049), $43,000 for the next five.
fn backfill_ten_days(db: &Path) {
    let jan_1 = 1_704_067_200;
    let times: Vec<u32> = (0..47).map(|i| jan_1 + i * 6 * 3600).collect();
    let node = fiatline_testkit::rpc::RpcServer::start(
        Chain::generate_with(850_000, times, |_| 1_000),
        "u",
        "p",
    );
    let prices = EsploraServer::start(Chain::generate_light(1, vec![1], 1));
    prices.set_historical(
        200,
        r#"{"prices":[{"time":1704067200,"USD":42000}],"exchangeRates":{}}"#,
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_fiatline"));
    let backfill = |to: &str| {
        let out = Command::new(bin)
            .args([
                "backfill",
                "--db",
                db.to_str().unwrap(),
                "--from",
                "2024-01-01",
                "--to",
                to,
            ])
            .args([
                "--rpc-url",
                &node.url(),
                "--rpc-user",
                "u",
                "--rpc-password",
                "p",
            ])
            .args(["--exchange-url", &prices.url()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    backfill("2024-01-05");
    prices.set_historical(
        200,
        r#"{"prices":[{"time":1704499200,"USD":43000}],"exchangeRates":{}}"#,
    );
    backfill("2024-01-10");
}
