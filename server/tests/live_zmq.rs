//! `fiatline serve --source zmq` and `fiatline record` against a real ZMQ
//! PUB socket that sends frames as Bitcoin Core does, with RPC on loopback
//! for resyncs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fiatline_core::Block;
use fiatline_testkit::process::{get_json, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::zmq::ZmqPublisher;
use fiatline_testkit::Chain;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn txs() -> Vec<([u8; 32], Vec<u8>)> {
    let block = Block::parse(fiatline_testkit::block_702861()).unwrap();
    block
        .transactions()
        .skip(1)
        .take(300)
        .map(|t| (t.txid().0, t.as_bytes().to_vec()))
        .collect()
}

fn api(addr: &str) -> Option<serde_json::Value> {
    get_json(addr, "/api/v1/price")
}

/// Polls `/api/v1/price` until `done` holds or 15 s pass.
fn wait_for(addr: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let start = Instant::now();
    loop {
        if let Some(v) = api(addr) {
            if done(&v) || start.elapsed() > Duration::from_secs(15) {
                return v;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn drops_garbage_and_a_restart_leave_exactly_the_right_window() {
    let txs = txs();
    let node = RpcServer::start(Chain::generate_light(1, vec![1], 1), "u", "p");
    let mut publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let endpoint = publisher.endpoint().to_string();
    let server = Serve::start(
        Path::new(env!("CARGO_BIN_EXE_fiatline")),
        &[
            "--source",
            "zmq",
            "--zmq",
            &endpoint,
            "--no-fill",
            "--rpc-url",
            &node.url(),
            "--rpc-user",
            "u",
            "--rpc-password",
            "p",
        ],
    );
    let addr = server.addr.clone();
    // Until the subscriber is in, PUB drops messages: send the first
    // transaction until the window holds it.
    let v = {
        let start = Instant::now();
        loop {
            publisher.send("rawtx", &txs[0].1);
            if let Some(v) = api(&addr) {
                if v["stats"]["active"] == 1 || start.elapsed() > Duration::from_secs(15) {
                    break v;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(v["stats"]["active"], 1, "{v}");

    // 1..100 in order, with garbage between.
    for (i, (_, raw)) in txs[1..100].iter().enumerate() {
        publisher.send("rawtx", raw);
        if i % 20 == 0 {
            publisher.send_frames(&[b"rawtx", b"garbage"]);
            publisher.send("rawtx", b"\x01\x00\x00\x00\xff");
        }
    }
    // 100..150 are lost on the wire but in the node's mempool.
    node.mempool.lock().unwrap().extend(
        txs[100..150]
            .iter()
            .map(|(t, r)| (*t, r.clone(), 1_700_000_000)),
    );
    for _ in 100..150 {
        publisher.drop_next("rawtx");
    }
    publisher.send("rawtx", &txs[150].1);
    let v = wait_for(&addr, |v| v["stats"]["active"] == 151);
    assert_eq!(v["stats"]["active"], 151, "the gap was not repaired: {v}");
    // Two leave the mempool without confirming (and so leave the node's too).
    node.mempool
        .lock()
        .unwrap()
        .retain(|(t, _, _)| *t != txs[120].0);
    publisher.send_sequence(&txs[3].0, b'R');
    publisher.send_sequence(&txs[120].0, b'R');
    let v = wait_for(&addr, |v| v["stats"]["active"] == 149);
    assert_eq!(v["stats"]["active"], 149, "{v}");

    // The publisher restarts and counts from zero; 151..200 arrive after.
    drop(publisher);
    std::thread::sleep(Duration::from_millis(300));
    let mut publisher = ZmqPublisher::bind(&endpoint);
    let start = Instant::now();
    let v = loop {
        for (_, raw) in &txs[151..200] {
            publisher.send("rawtx", raw);
        }
        let v = api(&addr).unwrap();
        if v["stats"]["active"] == 198 || start.elapsed() > Duration::from_secs(15) {
            break v;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // 200 sent or resynced, 2 removed; duplicates and garbage change nothing.
    assert_eq!(v["stats"]["active"], 198, "{v}");
    assert_eq!(v["stats"]["removed"], 2, "{v}");
    // Five rounds of garbage, two bad messages each: a message with too few
    // frames (the source skips it) and a truncated transaction (the engine
    // skips it). Both are counted, duplicates are not.
    assert_eq!(v["stats"]["skipped"], 10, "{v}");
}

#[test]
fn record_writes_a_replayable_recording() {
    let txs = txs();
    let mut publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let dir = fiatline_testkit::TempDirPath::new("record");
    let out = dir.join("recording.jsonl.gz");
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_fiatline"))
            .args([
                "record",
                "--source",
                "zmq",
                "--zmq",
                publisher.endpoint(),
                "--count",
                "25",
            ])
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let mut i = 0;
    while child.0.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "record did not stop at --count"
        );
        publisher.send("rawtx", &txs[i % txs.len()].1);
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(child.0.wait().unwrap().success());
    let lines: Vec<String> = BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&out).unwrap(),
    ))
    .lines()
    .map(Result::unwrap)
    .collect();
    assert_eq!(lines.len(), 25);
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["timestamp"].as_u64().unwrap() > 1_700_000_000);
        // Each line holds, byte for byte, a transaction that was sent.
        let raw = hex::decode(v["raw_hex"].as_str().unwrap()).unwrap();
        assert!(txs.iter().any(|(_, sent)| *sent == raw));
    }
}

#[test]
fn the_window_is_filled_from_recent_blocks_at_start() {
    // Three blocks from the last hour; no ZMQ message ever arrives.
    let chain = Chain::last_hour(900_000);
    let node = RpcServer::start(chain.clone(), "u", "p");
    let publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let server = Serve::start(
        Path::new(env!("CARGO_BIN_EXE_fiatline")),
        &[
            "--source",
            "zmq",
            "--zmq",
            publisher.endpoint(),
            "--window",
            "7200",
            "--rpc-url",
            &node.url(),
            "--rpc-user",
            "u",
            "--rpc-password",
            "p",
        ],
    );
    let addr = server.addr.clone();
    let v = wait_for(&addr, |v| {
        v["stats"]["active"] == 3 * 2500 && v["price"].is_number()
    });
    assert_eq!(v["stats"]["active"], 3 * 2500, "{v}");
    assert!(
        v["price"]
            .as_f64()
            .is_some_and(|p| p > 40_000.0 && p < 46_000.0),
        "{v}"
    );
    assert_eq!(v["window"]["oldest"], chain.blocks[0].time);
}
