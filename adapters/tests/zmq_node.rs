//! The ZMQ source as a node runner meets it: the node's mempool loaded at
//! start (listed in no order, parents put first), a node still warming up,
//! blocks published while the subscriber was away, and a disconnected
//! block (`sequence` label `D`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fiatline_adapters::rpc::{Auth, RpcConfig, RpcSource};
use fiatline_adapters::zmq::ZmqSource;
use fiatline_adapters::{BlockHash, LiveEvent, LiveSource};
use fiatline_core::{Block, Transaction};
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::zmq::ZmqPublisher;
use fiatline_testkit::Chain;

const START: u32 = 1_700_000_000;

fn rpc(node: &RpcServer) -> RpcSource {
    RpcSource::new(RpcConfig::new(
        node.url(),
        Auth::UserPass("u".into(), "p".into()),
    ))
}

/// Events until `done` says so or 20 s pass.
fn collect(source: &mut ZmqSource, mut done: impl FnMut(&[LiveEvent]) -> bool) -> Vec<LiveEvent> {
    let start = Instant::now();
    let mut events = Vec::new();
    while !done(&events) && start.elapsed() < Duration::from_secs(20) {
        if let Some(e) = source.next_event(Duration::from_millis(50)).unwrap() {
            events.push(e);
        }
    }
    events
}

fn txs_of(events: &[LiveEvent]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Tx { raw, .. } => Some(raw.clone()),
            _ => None,
        })
        .collect()
}

fn blocks_of(events: &[LiveEvent]) -> Vec<[u8; 32]> {
    events
        .iter()
        .filter_map(|e| match e {
            LiveEvent::Block { raw, .. } => Some(Block::parse(raw).unwrap().header().block_hash()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_mempool_is_loaded_at_start_parents_first_once_the_node_answers() {
    // Block 702861's first 300 transactions after the coinbase: in-block
    // spends among them make parents and children in the pool.
    let block = Block::parse(fiatline_testkit::block_702861()).unwrap();
    let pool: Vec<([u8; 32], Vec<u8>, u32)> = block
        .transactions()
        .skip(1)
        .take(300)
        .enumerate()
        .map(|(i, t)| {
            (
                t.txid().0,
                t.as_bytes().to_vec(),
                START + u32::try_from(i / 10).unwrap(),
            )
        })
        .collect();
    let node = RpcServer::start(Chain::generate_light(1, vec![1], 1), "u", "p");
    node.mempool.lock().unwrap().extend(pool.iter().cloned());
    // The node is still loading: its first answers are error -28.
    node.faults
        .warming_up
        .store(3, std::sync::atomic::Ordering::SeqCst);
    let publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let mut source =
        ZmqSource::connect(&[publisher.endpoint().to_string()], Some(rpc(&node))).unwrap();

    let events = collect(&mut source, |e| txs_of(e).len() == 300);
    let txs = txs_of(&events);
    assert_eq!(txs.len(), 300, "the whole mempool, once");
    assert_eq!(events.first(), Some(&LiveEvent::Resync));
    // Parents come before children, whatever order the node lists in.
    let at: HashMap<[u8; 32], usize> = txs
        .iter()
        .enumerate()
        .map(|(i, raw)| (Transaction::parse(raw).unwrap().txid().0, i))
        .collect();
    let mut spends = 0;
    for (i, raw) in txs.iter().enumerate() {
        for input in Transaction::parse(raw).unwrap().inputs() {
            if let Some(&p) = at.get(input.prev_txid) {
                spends += 1;
                assert!(p < i, "a child before its parent");
            }
        }
    }
    assert!(spends > 0, "the pool holds parents and children");
    // First-seen times are the node's.
    assert!(events
        .iter()
        .any(|e| matches!(e, LiveEvent::Tx { time, .. } if *time == START)));
    let status = source.status();
    assert!(status.retries >= 1, "{status:?}");
    assert_eq!((status.resyncs, status.backlog), (1, 0), "{status:?}");
}

#[test]
fn blocks_published_while_away_and_a_disconnected_block_are_caught_up() {
    let times: Vec<u32> = (0..8).map(|i| START + i * 600).collect();
    let chain = Chain::generate_light(900_000, times, 20);
    let mut first = chain.clone();
    first.blocks.truncate(5);
    let node = RpcServer::start(first.clone(), "u", "p");
    let publisher = ZmqPublisher::bind("tcp://127.0.0.1:0");
    let endpoint = publisher.endpoint().to_string();
    let mut source = ZmqSource::connect(std::slice::from_ref(&endpoint), Some(rpc(&node))).unwrap();
    // The window was filled up to 900,004.
    source.follow_from(900_004, BlockHash(first.blocks[4].hash));
    let start = Instant::now();
    while !source.status().connected && start.elapsed() < Duration::from_secs(5) {
        source.next_event(Duration::from_millis(20)).unwrap();
    }
    // The topics fiatline subscribes to.
    publisher.wait_subscribed(&["rawtx", "sequence", "rawblock"]);
    // The initial mempool load (empty) comes and goes.
    collect(&mut source, |e| e.contains(&LiveEvent::Resync));

    // The subscriber is away while the node finds three blocks.
    drop(publisher);
    std::thread::sleep(Duration::from_millis(300));
    node.set_chain(chain.clone());
    let mut publisher = ZmqPublisher::bind(&endpoint);
    let want: Vec<[u8; 32]> = chain.blocks[5..8].iter().map(|b| b.hash).collect();
    let events = collect(&mut source, |e| blocks_of(e) == want);
    assert_eq!(
        blocks_of(&events),
        want,
        "the blocks missed while away, in order"
    );

    // Core reorganises: 900,007 disconnected (label D), a two-block branch wins.
    let branch = chain.fork(900_007, 2, START + 7 * 600 + 1, 600, 20);
    let mut reorg = chain.clone();
    reorg.blocks.truncate(7);
    reorg.blocks.extend(branch.blocks.iter().cloned());
    node.set_chain(reorg.clone());
    publisher.send_sequence(&chain.blocks[7].hash, b'D');
    let want: Vec<[u8; 32]> = reorg.blocks[7..9].iter().map(|b| b.hash).collect();
    let events = collect(&mut source, |e| blocks_of(e) == want);
    assert!(
        events.contains(&LiveEvent::Disconnected {
            hash: BlockHash(chain.blocks[7].hash)
        }),
        "{events:?}"
    );
    assert_eq!(blocks_of(&events), want);
}
