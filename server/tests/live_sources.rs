//! `fiatline serve` over every live source that follows a node's chain:
//! ZMQ (with Core's RPC for the first fill), Esplora and Electrum, each
//! against a loopback server speaking its protocol, all serving the same
//! blocks. Three blocks fill the window at start and three more arrive
//! live; every source must end with the same window and the same price,
//! the price a consensus run over those six blocks gives.

use std::path::Path;
use std::time::{Duration, Instant};

use fiatline_core::{txid_slots_for, Estimate, PricePoint, RawOutput, Refinement, Run, Txid};
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::process::{get_json as get, unix_now as now, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::zmq::ZmqPublisher;
use fiatline_testkit::Chain;
use serde_json::Value;

const FIRST: u32 = 900_000;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_fiatline"))
}

/// Six blocks from the last two hours.
fn chain() -> Chain {
    let now = now();
    Chain::generate_with_times(FIRST, (0..6).map(|i| now - 6000 + i * 900).collect())
}

/// Polls `path` until `done` holds; fails after 30 s.
fn wait_for(addr: &str, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < Duration::from_secs(30) {
        if let Some(v) = get(addr, path) {
            if done(&v) {
                return v;
            }
            last = Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}: last {path}: {last:?}");
}

/// The consensus estimate of `chain`'s blocks, by the core alone.
fn consensus(chain: &Chain) -> Estimate {
    let txs = chain.blocks.iter().map(|b| b.txs.len()).sum::<usize>();
    let mut run = Run::new(
        vec![Txid::default(); txid_slots_for(txs)],
        vec![RawOutput::default(); 2 * txs],
    );
    for b in &chain.blocks {
        run.add_block_bytes(&b.bytes, b.height).unwrap();
    }
    let mut points = vec![PricePoint::default(); 4 * run.outputs().len()];
    let mut scratch = vec![0.0; points.len()];
    run.estimate(Refinement::Reference, &mut points, &mut scratch)
        .unwrap()
}

/// Waits until the window holds all six blocks and the estimate counts all
/// their `outputs` (the counts are live, the estimate is made after them),
/// and returns what matters of the price and the window.
fn settled(addr: &str, total: usize, outputs: usize) -> Value {
    let v = wait_for(addr, "/api/v1/price", "six blocks in the window", |v| {
        v["stats"]["active"] == total && v["price"].is_number() && v["outputs"] == outputs
    });
    serde_json::json!({
        "price": v["price"],
        "rough": v["rough"],
        "confidence": v["confidence"],
        "points": v["points"],
        "active": v["stats"]["active"],
        "filtered": v["stats"]["filtered"],
        "oldest": v["window"]["oldest"],
    })
}

#[test]
fn zmq_esplora_and_electrum_give_the_same_window_and_price() {
    let chain = chain();
    let total: usize = chain.blocks.iter().map(|b| b.txs.len()).sum();
    let first_three = Chain {
        blocks: chain.blocks[..3].to_vec(),
    };
    let window = ["--window", "10800"];

    // ZMQ: RPC has the first three blocks; ZMQ brings the rest.
    let node = RpcServer::start(first_three.clone(), "u", "p");
    let mut publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let endpoint = publisher.endpoint().to_string();
    let zmq = Serve::start(
        bin(),
        &[
            &[
                "--source",
                "zmq",
                "--zmq",
                &endpoint,
                "--rpc-url",
                &node.url(),
            ],
            &["--rpc-user", "u", "--rpc-password", "p"][..],
            &window,
        ]
        .concat(),
    );
    // Esplora: the tip at the third block, then at the sixth.
    let esplora_server = EsploraServer::start(chain.clone());
    esplora_server.set_tip(FIRST + 2);
    let esplora = Serve::start(
        bin(),
        &[
            &[
                "--source",
                "esplora",
                "--esplora-url",
                &esplora_server.url(),
            ],
            &["--poll", "1"][..],
            &window,
        ]
        .concat(),
    );
    // Electrum: two servers, the first of which is down; the tip moves by
    // announcement.
    let down = ElectrumServer::start(first_three.clone());
    let down_url = down.url();
    down.stop();
    let electrum_server = ElectrumServer::start(chain.clone());
    electrum_server.set_tip(FIRST + 2);
    let electrum_urls = format!("{down_url},{}", electrum_server.url());
    let electrum = Serve::start(
        bin(),
        &[
            &["--source", "electrum", "--electrum", &electrum_urls][..],
            &window,
        ]
        .concat(),
    );

    // Each fills its window with the first three blocks.
    let first: usize = first_three.blocks.iter().map(|b| b.txs.len()).sum();
    for s in [&zmq, &esplora, &electrum] {
        wait_for(&s.addr, "/api/v1/price", "the first fill", |v| {
            v["stats"]["active"] == first
        });
    }
    // Three blocks arrive live.
    // The topics fiatline subscribes to.
    publisher.wait_subscribed(&["rawtx", "sequence", "rawblock"]);
    for b in &chain.blocks[3..] {
        publisher.send("rawblock", &b.bytes);
    }
    esplora_server.set_tip(FIRST + 5);
    electrum_server.announce(FIRST + 5);

    let expected = consensus(&chain);
    let results: Vec<Value> = [&zmq, &esplora, &electrum]
        .iter()
        .map(|s| settled(&s.addr, total, expected.outputs))
        .collect();
    assert_eq!(results[0], results[1], "zmq vs esplora");
    assert_eq!(results[0], results[2], "zmq vs electrum");
    assert_eq!(results[0]["price"].as_f64(), Some(expected.price));

    // Electrum says it sees blocks only; the others the mempool too.
    let health = get(&electrum.addr, "/health").unwrap();
    assert_eq!(health["mempool"], false, "{health}");
    assert_eq!(health["updates"], "blocks only");
    assert_eq!(health["source"], "electrum");
    let health = get(&esplora.addr, "/health").unwrap();
    assert_eq!(health["updates"], "mempool and blocks");
    assert_eq!(health["connected"], true);
}

#[test]
fn esplora_mempool_transactions_come_and_go_through_serve() {
    let chain = chain();
    let server = EsploraServer::start(chain.clone());
    server.set_tip(FIRST);
    let mempool: Vec<_> = chain.blocks[1].txs[1..301].to_vec();
    server.set_mempool(mempool.clone());
    let serve = Serve::start(
        bin(),
        &[
            "--source",
            "esplora",
            "--esplora-url",
            &server.url(),
            "--poll",
            "1",
            "--window",
            "10800",
            "--no-fill",
        ],
    );
    wait_for(&serve.addr, "/api/v1/price", "the mempool", |v| {
        v["stats"]["active"] == 300
    });
    // 100 are replaced away.
    server.set_mempool(mempool[100..].to_vec());
    let v = wait_for(&serve.addr, "/api/v1/price", "the removals", |v| {
        v["stats"]["active"] == 200
    });
    assert_eq!(v["stats"]["removed"], 100, "{v}");
    let health = get(&serve.addr, "/health").unwrap();
    assert_eq!(health["backlog"], 0, "{health}");
}

#[test]
fn record_writes_an_electrum_blocks_transactions_as_they_arrive() {
    let chain = Chain::generate_light(FIRST, vec![now() - 600, now()], 50);
    let server = ElectrumServer::start(chain.clone());
    server.set_tip(FIRST);
    let dir = fiatline_testkit::TempDirPath::new("record");
    let out = dir.join("recording.jsonl");
    let mut child = std::process::Command::new(bin())
        .args([
            "record",
            "--source",
            "electrum",
            "--electrum",
            &server.url(),
        ])
        .args(["--count", "50", "--duration", "30", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Announced once `record` listens for headers.
    let start = std::time::Instant::now();
    while server.subscribers() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "record never subscribed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.announce(FIRST + 1);
    let status = child.wait().unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let recorded: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["raw_hex"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = chain.blocks[1]
        .txs
        .iter()
        .map(|(_, raw)| hex::encode(raw))
        .collect();
    assert_eq!(recorded, expected);
}
