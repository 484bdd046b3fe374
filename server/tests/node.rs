//! `fiatline` against node setups as node runners have them, each command
//! as the README's "Running against your node" gives it: Bitcoin Core with
//! its cookie and ZMQ (mainnet layout), regtest and testnet4 data
//! directories (cookie, blocks and magic per network), and an Electrum
//! server with a self-signed certificate.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use fiatline_testkit::blk::{write_blocks, REGTEST_MAGIC, TESTNET4_MAGIC};
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::process::{get_json, Serve};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::tls::SelfSigned;
use fiatline_testkit::zmq::ZmqPublisher;
use fiatline_testkit::{Chain, TempDirPath};

const KEY: [u8; 8] = [7, 1, 9, 3, 5, 2, 8, 4];

fn bin() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_fiatline").into()
}

fn fiatline(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// A data directory: `bitcoin.conf`, and the cookie in `cookie_dir`.
fn datadir(label: &str, conf: &str, cookie_dir: Option<&str>) -> TempDirPath {
    let dir = TempDirPath::new(label);
    std::fs::write(dir.join("bitcoin.conf"), conf).unwrap();
    let folder = cookie_dir.map_or_else(|| dir.to_path_buf(), |d| dir.join(d));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(".cookie"), "__cookie__:c00k1e").unwrap();
    dir
}

#[test]
fn core_with_its_cookie_and_zmq() {
    let now = fiatline_testkit::process::unix_now();
    let chain = Chain::generate(900_000, 4, now - 3600, 900);
    let node = RpcServer::start(chain, "__cookie__", "c00k1e");
    // The node's mempool at start.
    let mempool = fiatline_testkit::block_702861();
    let block = fiatline_core::Block::parse(mempool).unwrap();
    node.mempool.lock().unwrap().extend(
        block
            .transactions()
            .skip(1)
            .take(40)
            .map(|t| (t.txid().0, t.as_bytes().to_vec(), now - 60)),
    );
    let publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let port = node.addr().port();
    let conf = format!(
        "server=1\nrpcport={port}\nzmqpubrawtx={0}\nzmqpubrawblock={0}\nzmqpubsequence={0}\n",
        publisher.endpoint()
    );
    let dir = datadir("core", &conf, None);
    let d = dir.to_str().unwrap();

    // fiatline price --recent 3 --datadir ~/.bitcoin
    let v = json(&fiatline(&[
        "price",
        "--recent",
        "3",
        "--datadir",
        d,
        "--json",
    ]));
    assert_eq!(
        (v["first_height"].as_u64(), v["last_height"].as_u64()),
        (Some(900_000), Some(900_002))
    );
    assert!(!v["flags"].to_string().contains("not_mainnet"), "{v}");

    // fiatline serve --source zmq --datadir ~/.bitcoin --zmq tcp://127.0.0.1:28332
    let serve = Serve::start(
        &bin(),
        &[
            "--source",
            "zmq",
            "--datadir",
            d,
            "--zmq",
            publisher.endpoint(),
        ],
    );
    let start = Instant::now();
    loop {
        let p = get_json(&serve.addr, "/api/v1/price").unwrap_or_default();
        let h = get_json(&serve.addr, "/health").unwrap_or_default();
        // Four filled blocks of 2,500 transactions, and the 40 of the mempool.
        if p["stats"]["received"] == 4 * 2500 + 40 && h["backlog"] == 0 {
            assert!(p["price"].as_f64().is_some(), "{p}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{p} {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn regtest_and_testnet4_data_directories() {
    // bitcoin.conf: regtest=1, its port in [regtest]; the cookie in regtest/.
    let chain = Chain::from_genesis(6, 1_700_000_000, 600, usize::MAX, 1);
    let node = RpcServer::start(chain.clone(), "__cookie__", "c00k1e");
    let conf = format!(
        "regtest=1\nserver=1\n[regtest]\nrpcport={}\n",
        node.addr().port()
    );
    let dir = datadir("regtest", &conf, Some("regtest"));
    let order: Vec<usize> = (0..6).collect();
    write_blocks(
        &dir.join("regtest/blocks"),
        REGTEST_MAGIC,
        &chain,
        &order,
        4,
        Some(KEY),
    );
    let d = dir.to_str().unwrap();

    // fiatline price --recent 3 --datadir ~/.bitcoin
    let rpc = json(&fiatline(&[
        "price",
        "--recent",
        "3",
        "--datadir",
        d,
        "--json",
    ]));
    // fiatline price --recent 3 --source blk --datadir ~/.bitcoin
    let blk = json(&fiatline(&[
        "price",
        "--recent",
        "3",
        "--source",
        "blk",
        "--datadir",
        d,
        "--json",
    ]));
    for v in [&rpc, &blk] {
        assert_eq!(
            (v["first_height"].as_u64(), v["last_height"].as_u64()),
            (Some(2), Some(4)),
            "{v}"
        );
        assert!(v["flags"].to_string().contains("not_mainnet"), "{v}");
    }
    assert_eq!(rpc["price"], blk["price"]);
    let out = fiatline(&["price", "--recent", "3", "--datadir", d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("note: not mainnet"));

    // fiatline price --recent 2 --source blk --chain testnet4 --datadir ~/.bitcoin
    let t4 = TempDirPath::new("testnet4");
    write_blocks(
        &t4.join("testnet4/blocks"),
        TESTNET4_MAGIC,
        &chain,
        &order,
        6,
        None,
    );
    let t = t4.to_str().unwrap();
    let v = json(&fiatline(&[
        "price",
        "--recent",
        "2",
        "--source",
        "blk",
        "--chain",
        "testnet4",
        "--datadir",
        t,
        "--json",
    ]));
    assert_eq!(v["last_height"], 4);
    // The same folder as mainnet: its blocks folder is missing; as regtest:
    // the magic says testnet4. Both are bad input (exit 2), saying what to do.
    let out = fiatline(&["price", "--recent", "2", "--source", "blk", "--datadir", t]);
    assert_eq!(out.status.code(), Some(2));
    let out = fiatline(&[
        "price",
        "--recent",
        "2",
        "--source",
        "blk",
        "--blocks-dir",
        &format!("{t}/testnet4/blocks"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --chain testnet4"));
    // A cookie looked for in a network folder that does not exist.
    let out = fiatline(&[
        "price",
        "--recent",
        "2",
        "--chain",
        "signet",
        "--datadir",
        d,
        "--retries",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chain its network (signet)"));
}

#[test]
fn an_electrum_server_with_a_self_signed_certificate() {
    let chain = Chain::generate(900_000, 4, 1_700_000_000, 600);
    let cert = SelfSigned::localhost();
    let server = ElectrumServer::start_tls_with(chain, &cert);
    let dir = TempDirPath::new("electrum-ca");
    let pem = cert.write_pem(&dir);
    let url = server.url();
    // fiatline price --recent 3 --source electrum --electrum-url ssl://127.0.0.1:50002 --tls-ca fulcrum.pem
    let v = json(&fiatline(&[
        "price",
        "--recent",
        "3",
        "--source",
        "electrum",
        "--electrum-url",
        &url,
        "--tls-ca",
        pem.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["last_height"], 900_002);
}

#[test]
fn a_node_down_at_start_fills_the_window_once_it_is_up() {
    let now = fiatline_testkit::process::unix_now();
    let chain = Chain::generate(900_000, 3, now - 3000, 1000);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let serve = Serve::start(
        &bin(),
        &[
            "--source",
            "zmq",
            "--zmq",
            publisher.endpoint(),
            "--rpc-url",
            &url,
            "--rpc-user",
            "u",
            "--rpc-password",
            "p",
        ],
    );
    // Nothing answers yet: no estimate, and the fill is tried again.
    std::thread::sleep(Duration::from_millis(500));
    assert!(get_json(&serve.addr, "/api/v1/price").unwrap()["price"].is_null());
    let _node = RpcServer::start_on(&format!("127.0.0.1:{port}"), chain, "u", "p");
    let start = Instant::now();
    loop {
        let p = get_json(&serve.addr, "/api/v1/price").unwrap_or_default();
        if p["stats"]["received"] == 3 * 2500 {
            assert!(p["price"].as_f64().is_some(), "{p}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
