//! `fiatline serve` as a node runner uses it: the replayed live price
//! matches the consensus price of the same transactions; the WebSocket
//! fans out to many clients, one of which never reads; misbehaving clients
//! are closed; the connection cap holds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fiatline_testkit::process::{get, Serve};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name)
}

/// `fiatline serve` replaying the bundled recording.
fn serve(extra: &[&str]) -> Serve {
    let replay = sample("replay-702861.jsonl.gz");
    let mut args = vec!["--source", "replay", "--replay", replay.to_str().unwrap()];
    args.extend_from_slice(extra);
    Serve::start(Path::new(env!("CARGO_BIN_EXE_fiatline")), &args)
}

fn json(addr: &str, path: &str) -> serde_json::Value {
    serde_json::from_str(&get(addr, path).expect("an answer")).expect("JSON")
}

#[test]
fn a_replay_ends_at_the_consensus_price_of_its_transactions() {
    let server = serve(&["--speed", "max"]);
    let start = Instant::now();
    loop {
        let health = json(&server.addr, "/health");
        let price = json(&server.addr, "/api/v1/price");
        if health["finished"] == true
            && price["stats"]["received"] == 2499
            && price["price"].is_number()
        {
            let consensus = Command::new(env!("CARGO_BIN_EXE_fiatline"))
                .args([
                    "price",
                    "--json",
                    "--block-file",
                    sample("block-702861.bin").to_str().unwrap(),
                ])
                .output()
                .unwrap();
            let consensus: serde_json::Value = serde_json::from_slice(&consensus.stdout).unwrap();
            assert_eq!(price["price"], consensus["price"]);
            assert_eq!(price["rough"], consensus["rough"]);
            assert_eq!(price["stats"]["active"], 2499);
            assert_eq!(price["window"]["span"], 10_800);
            assert_eq!(health["source"], "replay");
            let metrics = get(&server.addr, "/metrics").unwrap();
            assert!(
                metrics.contains("fiatline_price_usd 42951.63645734903"),
                "{metrics}"
            );
            assert!(metrics.contains("# TYPE fiatline_window_transactions gauge"));
            // The README lists every metric the server gives (the exchange's
            // two appear only with --exchange-url, listed there too).
            let readme = include_str!("../../README.md");
            for name in metrics
                .lines()
                .filter_map(|l| l.strip_prefix("# TYPE fiatline_"))
                .filter_map(|l| l.split_whitespace().next())
            {
                assert!(
                    readme.contains(&format!("`{name}`")),
                    "{name} not in README"
                );
            }
            let page = get(&server.addr, "/").unwrap();
            assert!(
                page.contains("<canvas") && !page.contains("http://") && !page.contains("https://")
            );
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no final estimate: {price}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_and_one_that_never_reads() {
    // Three recorded hours in 18 s: a delta every 500 ms with new points.
    // Every client is on loopback: one address, past the default 32.
    let server = serve(&["--speed", "600", "--max-clients-per-ip", "100"]);
    let url = format!("ws://{}/ws", server.addr);
    // Connected, and never read from again.
    let (_stuck, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut readers = Vec::new();
    for _ in 0..50 {
        let url = url.clone();
        readers.push(tokio::spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            let first = ws.next().await.unwrap().unwrap();
            let first: serde_json::Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
            assert_eq!(first["type"], "snapshot");
            let start = Instant::now();
            let (mut deltas, mut points, mut worst_gap) = (0, 0, Duration::ZERO);
            let mut last = Instant::now();
            while start.elapsed() < Duration::from_secs(4) {
                let Ok(Some(Ok(msg))) =
                    tokio::time::timeout(Duration::from_secs(2), ws.next()).await
                else {
                    break;
                };
                let v: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
                // A whole snapshot comes again when the rough price moves over 2%.
                assert!(v["type"] == "delta" || v["type"] == "snapshot", "{v}");
                points += v["points"].as_array().unwrap().len();
                worst_gap = worst_gap.max(last.elapsed());
                last = Instant::now();
                deltas += 1;
            }
            (deltas, points, worst_gap)
        }));
    }
    for r in readers {
        let (deltas, points, worst_gap) = r.await.unwrap();
        // Deltas every 500 ms: about 8 in 4 s, none held up by the stuck client.
        assert!(deltas >= 6, "{deltas} deltas");
        assert!(points > 0);
        assert!(worst_gap < Duration::from_millis(1200), "{worst_gap:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_send_are_closed_and_the_cap_holds() {
    let server = serve(&["--speed", "60", "--max-clients", "3"]);
    let url = format!("ws://{}/ws", server.addr);
    // A text frame: this socket only sends, so the server closes it.
    let (mut chatty, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    chatty.send(Message::text("hello")).await.unwrap();
    let mut closed = false;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(3), chatty.next()).await {
        if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "a client that sends text stays open");
    // An oversized frame closes that client too.
    let (mut big, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let _ = big.send(Message::binary(vec![0u8; 64 * 1024])).await;
    let mut closed = false;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(3), big.next()).await {
        if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "an oversized frame did not close the client");
    // Both closed clients gave their places back before the cap is tried.
    let start = Instant::now();
    while json(&server.addr, "/health")["clients"] != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "closed clients still counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Three at once are allowed, the fourth is refused.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio_tungstenite::connect_async(&url).await.unwrap());
    }
    let refused = tokio_tungstenite::connect_async(&url).await;
    assert!(refused.is_err(), "the fourth client got in");
    let health = json(&server.addr, "/health");
    assert_eq!(health["clients"], 3);
}

/// Flags, environment, and what the error must say.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_configuration_is_refused_at_start() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fiatline"));
        cmd.arg("serve").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let replay = sample("replay-702861.jsonl.gz");
    let r = replay.to_str().unwrap();
    let cases: [Case<'_>; 5] = [
        (&["--source", "replay"], &[], "needs --replay"),
        (
            &["--source", "replay", "--replay", "/no/such.jsonl"],
            &[],
            "cannot open the recording",
        ),
        (
            &["--source", "replay", "--replay", r, "--speed", "0"],
            &[],
            "--speed \"0\": expected a positive multiple",
        ),
        (
            &["--source", "replay", "--replay", r, "--listen", "nowhere"],
            &[],
            "--listen",
        ),
        (
            &["--source", "replay", "--replay", r],
            &[("FIATLINE_WINDOW", "5")],
            "5",
        ),
    ];
    for (args, env, message) in cases {
        let out = run(args, env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moving_rough_price_sends_every_client_a_new_snapshot() {
    // Early in the replay the rough price sits near $21k and then moves to
    // about $43k: points computed for the old price no longer apply.
    let server = serve(&["--speed", "300"]);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr))
        .await
        .unwrap();
    let mut roughs = Vec::new();
    let mut base = None;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await
        else {
            break;
        };
        let v: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        let rough = v["estimate"]["rough"].as_u64();
        // The server compares with the rough price of its first estimate,
        // which the first message that has one carries.
        if base.is_none() {
            base = rough;
            continue;
        }
        if v["type"] == "snapshot" {
            roughs.push(rough.expect("a new snapshot comes with an estimate"));
            break;
        }
    }
    let base = base.expect("an estimate came") as f64;
    let moved = *roughs.first().expect("a second snapshot came") as f64;
    assert!((moved - base).abs() > 0.02 * base, "{base} then {roughs:?}");
}
