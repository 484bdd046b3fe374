//! The Electrum live source against loopback Electrum servers that
//! announce new headers: blocks in order, missed ones caught up, a server
//! that vanishes (failover to the next, then back), and a reorganisation.

use std::time::{Duration, Instant};

use fiatline_adapters::electrum::ElectrumOptions;
use fiatline_adapters::electrum_live::ElectrumLive;
use fiatline_adapters::{BlockHash, LiveEvent, LiveSource};
use fiatline_core::Block;
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::Chain;

const FIRST: u32 = 900_000;

fn chain(times: &[u32]) -> Chain {
    Chain::generate_light(FIRST, times.to_vec(), 40)
}

fn times() -> Vec<u32> {
    (0..8).map(|i| 1_700_000_000 + i * 600).collect()
}

fn options() -> ElectrumOptions {
    ElectrumOptions {
        timeout: Duration::from_secs(2),
        ..ElectrumOptions::default()
    }
}

/// (height, block hash) of each block passed on until `count` in all.
fn blocks_until(source: &mut ElectrumLive, count: u64) -> Vec<(u32, [u8; 32])> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while source.stats().blocks < count {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out at {:?}",
            source.stats()
        );
        if let Ok(Some(LiveEvent::Block { raw, .. })) = source.next_event(Duration::from_millis(20))
        {
            let b = Block::parse(&raw).unwrap();
            seen.push((
                u32::try_from(b.bip34_height().unwrap()).unwrap(),
                b.header().block_hash(),
            ));
        }
    }
    while let Ok(Some(LiveEvent::Block { raw, .. })) = source.next_event(Duration::ZERO) {
        let b = Block::parse(&raw).unwrap();
        seen.push((
            u32::try_from(b.bip34_height().unwrap()).unwrap(),
            b.header().block_hash(),
        ));
    }
    seen
}

fn wait_connected(source: &mut ElectrumLive) {
    let start = Instant::now();
    while !source.status().connected {
        assert!(start.elapsed() < Duration::from_secs(10), "never connected");
        let _ = source.next_event(Duration::from_millis(20));
    }
}

#[test]
fn announced_blocks_arrive_in_order_and_missed_ones_are_caught_up() {
    let chain = chain(&times());
    let server = ElectrumServer::start(chain.clone());
    server.set_tip(FIRST + 1);
    let mut source = ElectrumLive::new(vec![server.url()], options()).unwrap();
    wait_connected(&mut source);
    assert!(!source.status().mempool, "Electrum has no mempool listing");

    server.announce(FIRST + 2);
    let seen = blocks_until(&mut source, 1);
    assert_eq!(seen, [(FIRST + 2, chain.blocks[2].hash)]);
    // Two blocks, one announcement: both come, in order, byte-identical.
    server.announce(FIRST + 4);
    let start = Instant::now();
    let mut raws = Vec::new();
    while raws.len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(10));
        if let Ok(Some(LiveEvent::Block { raw, .. })) = source.next_event(Duration::from_millis(20))
        {
            raws.push(raw);
        }
    }
    assert_eq!(raws[0], chain.blocks[3].bytes);
    assert_eq!(raws[1], chain.blocks[4].bytes);
}

#[test]
fn a_vanished_server_fails_over_and_blocks_missed_meanwhile_come_after() {
    let chain = chain(&times());
    let (a, b) = (
        ElectrumServer::start(chain.clone()),
        ElectrumServer::start(chain.clone()),
    );
    a.set_tip(FIRST + 1);
    b.set_tip(FIRST + 1);
    let mut source = ElectrumLive::new(vec![a.url(), b.url()], options()).unwrap();
    wait_connected(&mut source);
    assert_eq!(source.server_url(), Some(a.url().as_str()));

    // A vanishes; B has moved on by two blocks meanwhile.
    a.stop();
    b.set_tip(FIRST + 3);
    let seen = blocks_until(&mut source, 2);
    assert_eq!(
        seen,
        [
            (FIRST + 2, chain.blocks[2].hash),
            (FIRST + 3, chain.blocks[3].hash)
        ]
    );
    assert_eq!(source.server_url(), Some(b.url().as_str()));
    assert!(source.stats().failures >= 1);

    // B vanishes too; A comes back with one more block.
    a.restart();
    a.set_tip(FIRST + 4);
    b.stop();
    let seen = blocks_until(&mut source, 3);
    assert_eq!(seen, [(FIRST + 4, chain.blocks[4].hash)]);
    assert_eq!(source.server_url(), Some(a.url().as_str()));
}

#[test]
fn a_reorganisation_is_followed_back_to_the_fork() {
    let times = times();
    let main = chain(&times);
    let mut forked = times.clone();
    forked[3] += 1;
    forked[4] += 1;
    let fork = chain(&forked[..5]);
    assert_eq!(fork.blocks[2].hash, main.blocks[2].hash);
    assert_ne!(fork.blocks[3].hash, main.blocks[3].hash);

    let a = ElectrumServer::start(main.clone());
    a.set_tip(FIRST + 2);
    let b = ElectrumServer::start(fork.clone());
    let mut source = ElectrumLive::new(vec![a.url(), b.url()], options()).unwrap();
    wait_connected(&mut source);
    a.announce(FIRST + 3);
    assert_eq!(
        blocks_until(&mut source, 1),
        [(FIRST + 3, main.blocks[3].hash)]
    );

    // A goes; B's chain replaced A's block at FIRST + 3 and has one more.
    a.stop();
    let seen = blocks_until(&mut source, 3);
    assert_eq!(
        seen,
        [
            (FIRST + 3, fork.blocks[3].hash),
            (FIRST + 4, fork.blocks[4].hash)
        ]
    );
    assert_eq!(source.stats().reorganised, 1);
}

#[test]
fn no_server_is_a_persistent_error_and_an_unreachable_one_a_transient_one() {
    assert!(!ElectrumLive::new(Vec::new(), options())
        .unwrap_err()
        .is_transient());
    let server = ElectrumServer::start(chain(&times()[..2]));
    let url = server.url();
    server.stop();
    let mut source = ElectrumLive::new(vec![url], options()).unwrap();
    let e = source.next_event(Duration::from_millis(10)).unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(!source.status().connected);
}

#[test]
fn blocks_found_between_the_first_fill_and_the_first_connection_are_passed_on() {
    let chain = chain(&times());
    let server = ElectrumServer::start(chain.clone());
    server.set_tip(FIRST + 3);
    let mut source = ElectrumLive::new(vec![server.url()], options()).unwrap();
    // The caller filled its window up to FIRST + 1.
    source.follow_from(FIRST + 1, BlockHash(chain.blocks[1].hash));
    assert_eq!(
        blocks_until(&mut source, 2),
        [
            (FIRST + 2, chain.blocks[2].hash),
            (FIRST + 3, chain.blocks[3].hash)
        ]
    );
}

#[test]
fn tls_works_and_a_self_signed_certificate_is_refused_unless_accepted() {
    let chain = chain(&times());
    let server = ElectrumServer::start_tls(chain.clone());
    server.set_tip(FIRST + 2);
    assert!(server.url().starts_with("ssl://"));

    // Verified by default: a self-signed certificate does not pass.
    let mut strict = ElectrumLive::new(vec![server.url()], options()).unwrap();
    let e = strict.next_event(Duration::from_millis(10)).unwrap_err();
    assert!(!strict.status().connected, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");

    let mut source = ElectrumLive::new(
        vec![server.url()],
        ElectrumOptions {
            verify_tls: false,
            ..options()
        },
    )
    .unwrap();
    source.follow_from(FIRST, BlockHash(chain.blocks[0].hash));
    let seen = blocks_until(&mut source, 2);
    assert_eq!(
        seen,
        [
            (FIRST + 1, chain.blocks[1].hash),
            (FIRST + 2, chain.blocks[2].hash)
        ]
    );
    assert!(source.status().connected);
    // A header announcement over TLS brings the next block (well before the
    // subscription is renewed, after RESUBSCRIBE: only the notification can).
    server.announce(FIRST + 3);
    let seen = blocks_until(&mut source, 3);
    assert_eq!(seen, [(FIRST + 3, chain.blocks[3].hash)]);
}
