//! The polling Esplora source against a loopback Esplora server whose
//! mempool churns between polls: transactions arrive children first,
//! some are replaced, a block confirms others, and the server refuses
//! (HTTP 429), stalls and vanishes for a while. The window the events
//! build must equal one built directly from what truly stayed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fiatline_adapters::esplora_live::{EsploraLive, EsploraLiveConfig};
use fiatline_adapters::{BlockHash, LiveEvent, LiveSource};
use fiatline_core::{
    window_index_slots_for, Block, PricePoint, Refinement, Transaction, Txid, Window, WindowEntry,
};
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::{Chain, ChainBlock};

type Win = Window<Vec<WindowEntry>, Vec<u32>>;

const FIRST: u32 = 900_000;
const SPAN: u32 = 7 * 86_400;

fn window() -> Win {
    Window::new(
        vec![WindowEntry::default(); 20_000],
        vec![0; window_index_slots_for(20_000)],
        SPAN,
    )
    .unwrap()
}

fn config() -> EsploraLiveConfig {
    EsploraLiveConfig {
        poll: Duration::from_millis(40),
        interval: Duration::from_micros(200),
        timeout: Duration::from_secs(1),
    }
}

/// Applies events to `window` as the server's engine does, until `done`.
fn drive(
    source: &mut EsploraLive,
    window: &mut Win,
    what: &str,
    mut done: impl FnMut(&EsploraLive) -> bool,
) {
    let start = Instant::now();
    while !done(source) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        match source.next_event(Duration::from_millis(20)) {
            Ok(Some(LiveEvent::Tx { raw, time })) => {
                window.add_bytes(&raw, time, 0).unwrap();
            }
            Ok(Some(LiveEvent::Gone { txid })) => {
                assert!(window.remove(&txid), "a removal of an unknown tx");
            }
            Ok(Some(LiveEvent::Block { raw, .. })) => {
                let block = Block::parse(&raw).unwrap();
                let height = u32::try_from(block.bip34_height().unwrap()).unwrap();
                window.add_block(&block, height).unwrap();
            }
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) => {}
            Err(e) => assert!(e.is_transient(), "{e}"),
        }
    }
}

/// Waits for `polls` more complete polls, with nothing left to fetch.
fn settle(source: &mut EsploraLive, window: &mut Win, what: &str, polls: u64) {
    let target = source.stats().polls + polls;
    drive(source, window, what, |s| {
        s.stats().polls >= target && s.backlog() == 0
    });
}

fn txs(block: &ChainBlock, range: std::ops::Range<usize>) -> Vec<([u8; 32], Vec<u8>)> {
    block.txs[range].to_vec()
}

/// The window's estimate, or why there is none, as text.
fn estimate(window: &Win) -> String {
    let mut points = vec![PricePoint::default(); 20_000];
    let mut scratch = vec![0.0; 20_000];
    format!(
        "{:?}",
        window.estimate(Refinement::Reference, &mut points, &mut scratch)
    )
}

/// Whether any transaction of `set` spends another of `set`.
fn has_in_set_spend(set: &[([u8; 32], Vec<u8>)]) -> bool {
    let ids: HashSet<[u8; 32]> = set.iter().map(|(t, _)| *t).collect();
    set.iter().any(|(_, raw)| {
        Transaction::parse(raw)
            .unwrap()
            .inputs()
            .any(|i| ids.contains(i.prev_txid))
    })
}

#[test]
fn a_churning_mempool_ends_with_exactly_the_right_window() {
    let chain = Chain::generate(FIRST, 3, 1_700_000_000, 600);
    let (b, c) = (&chain.blocks[1], &chain.blocks[2]);
    let server = EsploraServer::start(chain.clone());
    server.set_tip(FIRST);

    // C's transactions that no other of C's spends may be replaced away
    // without their descendants, as RBF does.
    let spent: HashSet<[u8; 32]> = c
        .txs
        .iter()
        .flat_map(|(_, raw)| {
            Transaction::parse(raw)
                .unwrap()
                .inputs()
                .map(|i| *i.prev_txid)
                .collect::<Vec<_>>()
        })
        .collect();
    let replaced: Vec<[u8; 32]> = c.txs[1..60]
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !spent.contains(t))
        .take(20)
        .collect();
    assert_eq!(replaced.len(), 20);

    // Listed children first: the source must pass parents on first.
    let mut first: Vec<_> = [txs(b, 1..400), txs(c, 1..60)].concat();
    assert!(
        has_in_set_spend(&first),
        "the test needs parents and children"
    );
    first.reverse();
    server.set_mempool(first);

    let mut source = EsploraLive::new(&server.url(), config()).unwrap();
    let mut win = window();
    settle(&mut source, &mut win, "the first listing", 1);
    assert_eq!(win.len(), 399 + 59);

    // Replacements leave; more arrive.
    let second: Vec<_> = [txs(b, 1..400), txs(c, 1..120)]
        .concat()
        .into_iter()
        .filter(|(t, _)| !replaced.contains(t))
        .collect();
    server.set_mempool(second);
    settle(&mut source, &mut win, "replacements", 2);
    assert_eq!(source.stats().gone, 20);

    // Block B confirms its transactions (those listed and the rest); they
    // leave the mempool without being taken for replaced ones.
    server.set_tip(FIRST + 1);
    let third: Vec<_> = txs(c, 1..180)
        .into_iter()
        .filter(|(t, _)| !replaced.contains(t))
        .collect();
    server.set_mempool(third);
    settle(&mut source, &mut win, "a block", 2);
    assert_eq!(source.stats().gone, 20);
    assert_eq!(source.stats().blocks, 1);

    // The window a consensus run would hold: block B, then what stayed of C.
    let mut expected = window();
    expected
        .add_block(&Block::parse(&b.bytes).unwrap(), FIRST + 1)
        .unwrap();
    for (txid, raw) in &c.txs[1..180] {
        if !replaced.contains(txid) {
            expected.add_bytes(raw, 1, 0).unwrap();
        }
    }
    assert_eq!(win.len(), expected.len());
    assert!(win.histogram() == expected.histogram(), "histograms differ");
    assert_eq!(estimate(&win), estimate(&expected));
    assert!(estimate(&win).starts_with("Ok("), "{}", estimate(&win));
    for (txid, _) in b.txs.iter().chain(&c.txs[1..180]) {
        assert_eq!(
            win.contains(&Txid(*txid)),
            !replaced.contains(txid),
            "{}",
            hex::encode(txid)
        );
    }
    // Each transaction was fetched once.
    assert_eq!(source.stats().fetched, 399 + 179);
}

#[test]
fn rate_limits_stalls_and_outages_delay_but_lose_nothing() {
    let chain = Chain::generate(FIRST, 2, 1_700_000_000, 600);
    let block = &chain.blocks[1];
    let server = EsploraServer::start(chain.clone());
    server.set_tip(FIRST);
    server.set_mempool(txs(block, 1..50));
    let mut source = EsploraLive::new(&server.url(), config()).unwrap();
    let mut win = window();
    settle(&mut source, &mut win, "the first listing", 1);
    assert!(source.status().connected);

    // HTTP 429 beyond the client's retries: the source backs off.
    server
        .faults
        .too_many
        .store(40, std::sync::atomic::Ordering::SeqCst);
    server.set_mempool(txs(block, 1..100));
    drive(&mut source, &mut win, "a refusal", |s| {
        s.stats().rate_limited > 0
    });
    assert!(!source.status().connected);
    let polls_before = server
        .counts
        .mempool
        .load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    let _ = source.next_event(Duration::from_millis(1));
    assert_eq!(
        server
            .counts
            .mempool
            .load(std::sync::atomic::Ordering::SeqCst),
        polls_before,
        "no poll during the back-off"
    );
    server
        .faults
        .too_many
        .store(0, std::sync::atomic::Ordering::SeqCst);
    settle(&mut source, &mut win, "after the refusals", 1);
    assert!(source.status().connected);

    // A stalled server: requests time out, then it answers again.
    server
        .faults
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let errors = source.stats().errors;
    drive(&mut source, &mut win, "a stall", |s| {
        s.stats().errors > errors
    });
    server
        .faults
        .delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);

    // The server vanishes while the mempool changes, and comes back.
    server.stop();
    server.set_mempool(txs(block, 1..150));
    let errors = source.stats().errors;
    drive(&mut source, &mut win, "an outage", |s| {
        s.stats().errors > errors
    });
    assert!(!source.status().connected);
    server.restart();
    settle(&mut source, &mut win, "after the outage", 1);

    let mut expected = window();
    for (_, raw) in &block.txs[1..150] {
        expected.add_bytes(raw, 1, 0).unwrap();
    }
    assert_eq!(win.len(), 149);
    assert!(win.histogram() == expected.histogram(), "histograms differ");
    assert_eq!(source.stats().fetched, 149, "each transaction fetched once");
}

/// The heights of the blocks passed on until `count` in all.
fn blocks_until(source: &mut EsploraLive, count: u64) -> Vec<u32> {
    let start = Instant::now();
    let mut heights = Vec::new();
    let mut take = |e: Option<LiveEvent>| {
        if let Some(LiveEvent::Block { raw, .. }) = e {
            heights
                .push(u32::try_from(Block::parse(&raw).unwrap().bip34_height().unwrap()).unwrap());
        }
    };
    while source.stats().blocks < count {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out");
        take(source.next_event(Duration::from_millis(10)).unwrap());
    }
    while let Ok(Some(e)) = source.next_event(Duration::ZERO) {
        take(Some(e));
    }
    heights
}

#[test]
fn missed_blocks_are_caught_up_and_a_reorganisation_followed() {
    let chain = Chain::generate_light(FIRST, (0..6).map(|i| 1_700_000_000 + i * 600).collect(), 30);
    let server = EsploraServer::start(chain.clone());
    server.set_tip(FIRST);
    let mut source = EsploraLive::new(&server.url(), config()).unwrap();
    // The first poll takes the tip as the starting point; three blocks
    // later, all three come, in order.
    let start = Instant::now();
    while source.stats().polls == 0 && start.elapsed() < Duration::from_secs(5) {
        let _ = source.next_event(Duration::from_millis(10));
    }
    server.set_tip(FIRST + 3);
    assert_eq!(
        blocks_until(&mut source, 3),
        [FIRST + 1, FIRST + 2, FIRST + 3]
    );

    // Another server whose chain forks below our tip: the source follows
    // it back to the fork and passes on the new branch.
    let mut times: Vec<u32> = chain.blocks.iter().map(|b| b.time).collect();
    times[3] += 1;
    times[4] += 1;
    let fork = Chain::generate_light(FIRST, times[..5].to_vec(), 30);
    assert_eq!(fork.blocks[2].hash, chain.blocks[2].hash);
    assert_ne!(fork.blocks[3].hash, chain.blocks[3].hash);
    server.set_chain(fork);
    // The new branch's blocks at FIRST + 3 and FIRST + 4.
    let hashes = blocks_until(&mut source, 5);
    assert_eq!(hashes, [FIRST + 3, FIRST + 4]);
}

#[test]
fn blocks_found_between_the_first_fill_and_the_first_poll_are_passed_on() {
    let chain = Chain::generate_light(FIRST, (0..4).map(|i| 1_700_000_000 + i * 600).collect(), 30);
    let server = EsploraServer::start(chain.clone());
    let mut source = EsploraLive::new(&server.url(), config()).unwrap();
    // The caller filled its window up to FIRST + 1; the tip is at FIRST + 3.
    source.follow_from(FIRST + 1, BlockHash(chain.blocks[1].hash));
    assert_eq!(blocks_until(&mut source, 2), [FIRST + 2, FIRST + 3]);
}
