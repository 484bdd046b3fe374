//! The exchange price beside the on-chain one, against a loopback
//! mempool.space-compatible prices endpoint: `serve --exchange-url` with
//! `/api/v1/compare`, and `price --date … --compare`. Exchange data that is
//! missing, malformed, refused, stale or gone gives no number and says why.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::process::{get, get_json, unix_now as now, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;
use serde_json::Value;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_fiatline"))
}

/// Polls `/api/v1/compare` until `done` holds; fails after 20 s.
fn compare_until(addr: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(v) = get_json(addr, "/api/v1/compare") {
            if done(&v) {
                return v;
            }
            last = Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}: last {last:?}");
}

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or_default()
}

/// An on-chain price from three recent blocks, through Esplora.
fn onchain() -> EsploraServer {
    EsploraServer::start(Chain::last_hour(900_000))
}

#[test]
fn serve_compares_only_usable_exchange_prices_and_says_why_not() {
    let chain = onchain();
    let prices = EsploraServer::start(Chain::generate_light(1, vec![1], 1));
    let serve = Serve::start(
        bin(),
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
            "1",
            "--exchange-max-age",
            "600",
        ],
    );
    let addr = &serve.addr;
    let unusable = |v: &Value| v["difference_percent"].is_null() && v["warning"] == false;

    // Nothing served yet: 404.
    let v = compare_until(addr, "a 404", |v| reason(v).contains("HTTP 404"));
    assert!(unusable(&v), "{v}");
    assert_eq!(v["enabled"], true);

    // Malformed JSON.
    prices.set_prices(200, r#"{"time": 17, "USD": 43"#);
    let v = compare_until(addr, "malformed JSON", |v| reason(v).contains("malformed"));
    assert!(unusable(&v), "{v}");

    // A usable price, close to ours: a difference, no warning.
    prices.set_prices(200, format!(r#"{{"time":{},"USD":43000}}"#, now()));
    let v = compare_until(addr, "a comparison", |v| {
        v["difference_percent"].is_number()
    });
    let onchain = v["onchain"].as_f64().unwrap();
    assert!((onchain - 42_951.6).abs() < 1.0, "{v}");
    let diff = v["difference_percent"].as_f64().unwrap();
    assert!((diff - (onchain - 43_000.0) / 43_000.0 * 100.0).abs() < 1e-9);
    assert_eq!(v["warning"], false);
    assert_eq!(v["exchange"], 43000.0);
    assert_eq!(v["threshold_percent"], 2.0);
    let metrics = get(addr, "/metrics").unwrap();
    assert!(
        metrics.contains("fiatline_exchange_price_usd 43000"),
        "{metrics}"
    );

    // Far from ours: a warning.
    prices.set_prices(200, format!(r#"{{"time":{},"USD":40000}}"#, now()));
    let v = compare_until(addr, "a warning", |v| v["warning"] == true);
    assert!(v["difference_percent"].as_f64().unwrap() > 7.0, "{v}");

    // The feed fails: the last good price serves while it is fresh, and
    // the failure shows.
    prices.set_prices(429, "Too Many Requests");
    let v = compare_until(addr, "a refusal", |v| {
        v["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 429"))
    });
    assert_eq!(v["exchange"], 40000.0, "{v}");
    prices.stop();
    let v = compare_until(addr, "an outage", |v| {
        v["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach"))
    });
    assert_eq!(v["exchange"], 40000.0, "{v}");
    prices.restart();

    // A price older than --exchange-max-age is not compared.
    prices.set_prices(200, format!(r#"{{"time":{},"USD":43000}}"#, now() - 3600));
    let v = compare_until(addr, "a stale price", |v| reason(v).contains("older"));
    assert!(unusable(&v), "{v}");
    assert!(reason(&v).contains("at most 10 min allowed"), "{v}");
    let metrics = get(addr, "/metrics").unwrap();
    assert!(
        !metrics.contains("fiatline_exchange_price_usd"),
        "{metrics}"
    );

    let health = get_json(addr, "/health").unwrap();
    assert_eq!(health["exchange"], true);
}

#[test]
fn without_an_exchange_url_nothing_is_fetched() {
    let chain = onchain();
    let serve = Serve::start(
        bin(),
        &[
            "--source",
            "esplora",
            "--esplora-url",
            &chain.url(),
            "--window",
            "7200",
        ],
    );
    let start = Instant::now();
    while get_json(&serve.addr, "/api/v1/price").is_none_or(|v| v["price"].is_null()) {
        assert!(start.elapsed() < Duration::from_secs(20), "no price");
        std::thread::sleep(Duration::from_millis(100));
    }
    let v = get_json(&serve.addr, "/api/v1/compare").unwrap();
    assert_eq!(v["enabled"], false, "{v}");
    assert!(reason(&v).contains("--exchange-url"), "{v}");
    assert_eq!(chain.counts.prices.load(Ordering::SeqCst), 0);
}

#[test]
fn price_compare_adds_each_dates_exchange_price_or_the_reason() {
    // 2024-01-01 20:00 UTC, one block an hour, through Jan 3.
    let chain = Chain::generate(840_000, 40, 1_704_139_200, 3600);
    let node = RpcServer::start(chain, "u", "p");
    let prices = EsploraServer::start(Chain::generate_light(1, vec![1], 1));
    // mempool.space's answer for Jan 1 (its daily point at midnight).
    prices.set_historical(
        200,
        r#"{"prices":[{"time":1704067200,"USD":42000}],"exchangeRates":{"USDEUR":0.92}}"#,
    );
    let run = |extra: &[&str]| {
        let out = Command::new(bin())
            .args(["price", "--date", "2024-01-01..2024-01-02", "--compare"])
            .args(["--exchange-url", &prices.url(), "--rpc-url", &node.url()])
            .args(["--rpc-user", "u", "--rpc-password", "p"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (json, _) = run(&["--json"]);
    let v: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let price = v[0]["price"].as_f64().unwrap();
    let c = &v[0]["compare"];
    assert_eq!(c["exchange"], 42000.0, "{c}");
    assert_eq!(c["exchange_time"], 1_704_067_200);
    let diff = c["difference_percent"].as_f64().unwrap();
    assert!((diff - (price - 42_000.0) / 420.0).abs() < 1e-9, "{c}");
    assert_eq!(c["warning"], diff.abs() > 2.0);
    // The same answer for Jan 2 is a day and a half from its noon: no number.
    let c = &v[1]["compare"];
    assert!(c["difference_percent"].is_null(), "{c}");
    assert!(c["reason"].as_str().unwrap().contains("older"), "{c}");

    let (text, _) = run(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("2024-01-01 price: $") && lines[0].contains("(exchange $42,000, "),
        "{text}"
    );
    assert!(lines[1].contains("(no exchange comparison: "), "{text}");

    let (csv, _) = run(&["--csv"]);
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",exchange_usd,difference_percent,compare_note"),
        "{csv}"
    );

    // A malformed answer: the prices still print, the reason beside them.
    prices.set_historical(200, "<html>");
    let (json, _) = run(&["--json"]);
    for line in json.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["price"].is_number());
        assert!(
            v["compare"]["reason"]
                .as_str()
                .unwrap()
                .contains("malformed JSON"),
            "{v}"
        );
    }
}
