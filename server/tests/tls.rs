//! Every client over TLS against loopback servers with a self-signed
//! certificate, as self-hosted nodes, Electrum and mempool servers have:
//! refused by default with a clear certificate error (exit 3), accepted
//! once `--tls-ca` trusts the certificate; never a panic.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::process::{get_json, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::tls::SelfSigned;
use fiatline_testkit::{Chain, TempDirPath};

fn bin() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_fiatline").into()
}

fn fiatline(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn chain() -> Chain {
    Chain::generate(840_000, 4, 1_704_139_200, 3600)
}

/// Refused without the certificate (exit 3, a message naming it), the same
/// price as over plain HTTP with `--tls-ca`.
fn refused_then_trusted(args: &[&str], plain: &[&str], cert: &std::path::Path) {
    let out = fiatline(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let mut trusted = args.to_vec();
    let ca = cert.to_str().unwrap();
    trusted.extend(["--tls-ca", ca]);
    let out = fiatline(&trusted);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = fiatline(plain);
    assert!(expected.status.success());
    assert_eq!(out.stdout, expected.stdout);
}

#[test]
fn rpc_over_https() {
    let cert = SelfSigned::localhost();
    let dir = TempDirPath::new("tls-rpc");
    let pem = cert.write_pem(&dir);
    let node = RpcServer::start_tls(chain(), "u", "p", &cert);
    let plain = RpcServer::start(chain(), "u", "p");
    let (https, http) = (node.url(), plain.url());
    assert!(https.starts_with("https://"));
    let run = |url: &str| -> Vec<String> {
        [
            "price",
            "--recent",
            "2",
            "--json",
            "--retries",
            "1",
            "--rpc-url",
            url,
        ]
        .iter()
        .map(ToString::to_string)
        .chain(["--rpc-user", "u", "--rpc-password", "p"].map(String::from))
        .collect()
    };
    let (a, b) = (run(&https), run(&http));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    refused_then_trusted(&a, &b, &pem);
}

#[test]
fn esplora_over_https() {
    let cert = SelfSigned::localhost();
    let dir = TempDirPath::new("tls-esplora");
    let pem = cert.write_pem(&dir);
    let server = EsploraServer::start_tls(chain(), &cert);
    let plain = EsploraServer::start(chain());
    let (https, http) = (server.url(), plain.url());
    let args = [
        "price",
        "--recent",
        "2",
        "--json",
        "--retries",
        "1",
        "--source",
        "esplora",
    ];
    let mut a = args.to_vec();
    a.extend(["--esplora-url", &https]);
    let mut b = args.to_vec();
    b.extend(["--esplora-url", &http]);
    refused_then_trusted(&a, &b, &pem);
}

#[test]
fn electrum_over_tls() {
    let cert = SelfSigned::localhost();
    let dir = TempDirPath::new("tls-electrum");
    let pem = cert.write_pem(&dir);
    let server = ElectrumServer::start_tls_with(chain(), &cert);
    let plain = ElectrumServer::start(chain());
    let (ssl, tcp) = (server.url(), plain.url());
    assert!(ssl.starts_with("ssl://"));
    let args = [
        "price",
        "--recent",
        "2",
        "--json",
        "--retries",
        "1",
        "--source",
        "electrum",
    ];
    let mut a = args.to_vec();
    a.extend(["--electrum-url", &ssl]);
    let mut b = args.to_vec();
    b.extend(["--electrum-url", &tcp]);
    refused_then_trusted(&a, &b, &pem);
}

#[test]
fn exchange_over_https_in_price_and_serve() {
    let cert = SelfSigned::localhost();
    let dir = TempDirPath::new("tls-exchange");
    let pem = cert.write_pem(&dir);
    let prices = EsploraServer::start_tls(Chain::generate_light(1, vec![1], 1), &cert);
    prices.set_historical(
        200,
        r#"{"prices":[{"time":1633046400,"USD":43000}],"exchangeRates":{}}"#,
    );
    let now = fiatline_testkit::process::unix_now();
    prices.set_prices(200, format!(r#"{{"time":{now},"USD":43000}}"#));
    let url = prices.url();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/block-702861.bin");
    let args = [
        "price",
        "--block-file",
        sample,
        "--json",
        "--compare",
        "--retries",
        "1",
        "--exchange-url",
        &url,
    ];

    // The on-chain price prints; the comparison says why there is none.
    let out = fiatline(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = v["compare"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(reason.contains("certificate"), "{v}");
    let mut trusted = args.to_vec();
    trusted.extend(["--tls-ca", pem.to_str().unwrap()]);
    let out = fiatline(&trusted);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["compare"]["exchange"], 43000.0, "{v}");

    // serve: the exchange thread reports the refusal and lives on; with the
    // certificate trusted, the comparison holds.
    let replay = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/replay-702861.jsonl.gz"
    );
    let base = [
        "--source",
        "replay",
        "--replay",
        replay,
        "--speed",
        "max",
        "--exchange-url",
        &url,
        "--exchange-interval",
        "1",
    ];
    let serve = Serve::start(&bin(), &base);
    let start = Instant::now();
    let last_error = loop {
        let c = get_json(&serve.addr, "/api/v1/compare").unwrap_or_default();
        if let Some(e) = c["last_error"].as_str() {
            break e.to_lowercase();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{c}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(last_error.contains("certificate"), "{last_error}");
    // The refusal does not take the server down: its health is the
    // source's (which may still be starting under load: waited for).
    loop {
        let h = get_json(&serve.addr, "/health").unwrap_or_default();
        if h["status"] == "ok" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(serve);
    let mut with_ca = base.to_vec();
    with_ca.extend(["--tls-ca", pem.to_str().unwrap()]);
    let serve = Serve::start(&bin(), &with_ca);
    let start = Instant::now();
    loop {
        let c = get_json(&serve.addr, "/api/v1/compare").unwrap_or_default();
        if c["exchange"] == 43000.0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{c}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_missing_or_empty_ca_file_is_bad_input() {
    let dir = TempDirPath::new("tls-bad-ca");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    for file in [dir.join("missing.pem"), empty] {
        let out = fiatline(&["price", "--recent", "--tls-ca", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: --tls-ca: "));
    }
}
