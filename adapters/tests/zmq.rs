//! The ZMQ source against a real ZMQ PUB socket on loopback that frames
//! messages exactly as Bitcoin Core does, with dropped messages, garbage
//! and a publisher restart; resyncs go through a loopback JSON-RPC node.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fiatline_adapters::rpc::{Auth, RpcConfig, RpcSource};
use fiatline_adapters::zmq::ZmqSource;
use fiatline_adapters::{LiveEvent, LiveSource};
use fiatline_core::{Block, Transaction, Txid};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::zmq::ZmqPublisher;
use fiatline_testkit::Chain;

fn txs() -> Vec<([u8; 32], Vec<u8>)> {
    let block = Block::parse(fiatline_testkit::block_702861()).unwrap();
    block
        .transactions()
        .skip(1)
        .take(80)
        .map(|t| (t.txid().0, t.as_bytes().to_vec()))
        .collect()
}

/// Collects events until `done` says so or 10 s pass.
fn collect(source: &mut ZmqSource, mut done: impl FnMut(&[LiveEvent]) -> bool) -> Vec<LiveEvent> {
    let start = Instant::now();
    let mut events = Vec::new();
    while !done(&events) && start.elapsed() < Duration::from_secs(10) {
        if let Some(e) = source.next_event(Duration::from_millis(50)).unwrap() {
            events.push(e);
        }
    }
    events
}

fn seen(events: &[LiveEvent]) -> HashSet<[u8; 32]> {
    events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Tx { raw, .. } => Some(Transaction::parse(raw).unwrap().txid().0),
            _ => None,
        })
        .collect()
}

#[test]
fn gaps_garbage_and_a_restart_lose_nothing() {
    let txs = txs();
    let node = RpcServer::start(Chain::generate_light(1, vec![1], 1), "u", "p");
    let rpc = RpcSource::new(RpcConfig::new(
        node.url(),
        Auth::UserPass("u".into(), "p".into()),
    ));
    let mut publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let endpoint = publisher.endpoint().to_string();
    let mut source = ZmqSource::connect(std::slice::from_ref(&endpoint), Some(rpc)).unwrap();
    // Wait for the monitor to report the connection, then for the
    // subscription to reach the publisher (PUB drops what it sends before).
    let start = Instant::now();
    while !source.status().connected && start.elapsed() < Duration::from_secs(5) {
        source.next_event(Duration::from_millis(20)).unwrap();
    }
    assert!(source.status().connected);
    // The topics fiatline subscribes to.
    publisher.wait_subscribed(&["rawtx", "sequence", "rawblock"]);

    // 1. Twenty transactions, in order.
    for (_, raw) in &txs[..20] {
        publisher.send("rawtx", raw);
    }
    let events = collect(&mut source, |e| seen(e).len() == 20);
    assert_eq!(seen(&events).len(), 20);

    // 2. Garbage of every kind, then more good messages: skipped, counted.
    publisher.send_frames(&[b"rawtx", b"\x01\x02"]);
    publisher.send_frames(&[b"rawtx", &txs[20].1, b"\x00\x00\x00"]);
    publisher.send("rawtx", b"not a transaction");
    publisher.send_frames(&[b"hashtx", &[0; 32], &[0; 4]]);
    publisher.send("sequence", b"short");
    for (_, raw) in &txs[20..30] {
        publisher.send("rawtx", raw);
    }
    let events = collect(&mut source, |e| seen(e).len() == 10);
    assert_eq!(seen(&events).len(), 10);
    assert!(source.stats().malformed >= 4, "{:?}", source.stats());

    // 3. Messages lost: the node's mempool holds them, the gap triggers a resync.
    {
        let mut pool = node.mempool.lock().unwrap();
        for (txid, raw) in &txs[30..40] {
            pool.push((*txid, raw.clone(), 1_700_000_000));
        }
    }
    for _ in 30..40 {
        publisher.drop_next("rawtx");
    }
    publisher.send("rawtx", &txs[40].1);
    let events = collect(&mut source, |e| seen(e).len() >= 11);
    let got = seen(&events);
    assert!(events.contains(&LiveEvent::Resync));
    for (txid, _) in &txs[30..41] {
        assert!(got.contains(txid), "a lost transaction was not recovered");
    }
    // Resynced transactions keep the node's first-seen time.
    assert!(events.iter().any(|e| matches!(
        e,
        LiveEvent::Tx {
            time: 1_700_000_000,
            ..
        }
    )));

    // 4. A removal.
    publisher.send_sequence(&txs[5].0, b'R');
    let events = collect(&mut source, |e| {
        e.iter().any(|e| matches!(e, LiveEvent::Gone { .. }))
    });
    assert!(events.contains(&LiveEvent::Gone {
        txid: Txid(txs[5].0)
    }));

    // 5. The publisher restarts on the same port and counts from zero again.
    drop(publisher);
    std::thread::sleep(Duration::from_millis(300));
    let mut publisher = ZmqPublisher::bind(&endpoint);
    let start = Instant::now();
    let mut got = HashSet::new();
    // Send until the subscriber is back (within 5 s, as promised).
    while !got.contains(&txs[50].0) && start.elapsed() < Duration::from_secs(5) {
        publisher.send("rawtx", &txs[50].1);
        let events = collect(&mut source, |e| !e.is_empty());
        got.extend(seen(&events));
    }
    assert!(got.contains(&txs[50].0), "no reconnect within 5 s");
    assert!(source.status().connected);
    assert!(source.stats().resyncs >= 2, "{:?}", source.stats());
}
