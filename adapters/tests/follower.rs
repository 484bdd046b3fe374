//! The chain follower against a loopback node whose chain grows and
//! reorganises: connected blocks in order, disconnected ones tip first.

use fiatline_adapters::follower::{ChainChange, ChainFollower};
use fiatline_adapters::rpc::{Auth, RpcConfig, RpcSource};
use fiatline_adapters::BlockHash;
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

const START: u32 = 1_700_000_000;

fn chain(count: u32) -> Chain {
    Chain::generate_light(900_000, (0..count).map(|i| START + i * 600).collect(), 5)
}

fn node(chain: Chain) -> (RpcServer, RpcSource) {
    let server = RpcServer::start(chain, "u", "p");
    let rpc = RpcSource::new(RpcConfig::new(
        server.url(),
        Auth::UserPass("u".into(), "p".into()),
    ));
    (server, rpc)
}

/// What the changes say, as (connected?, height, hash).
fn summary(changes: &[ChainChange]) -> Vec<(bool, u32, [u8; 32])> {
    changes
        .iter()
        .map(|c| match c {
            ChainChange::Connected { height, hash, .. } => (true, *height, hash.0),
            ChainChange::Disconnected { height, hash } => (false, *height, hash.0),
        })
        .collect()
}

#[test]
fn it_connects_new_blocks_and_walks_back_a_reorganisation() {
    let a = chain(10);
    let (server, rpc) = node(a.clone());
    let mut f = ChainFollower::new(12, 24);

    // Not started: it starts at the tip and reports nothing.
    assert!(f.sync(&rpc).unwrap().is_empty());
    assert_eq!(f.tip(), Some((900_009, BlockHash(a.blocks[9].hash))));

    f.start_at(900_005, BlockHash(a.blocks[5].hash));
    let changes = f.sync(&rpc).unwrap();
    let want: Vec<_> = (6..10)
        .map(|i| (true, 900_000 + i, a.blocks[i as usize].hash))
        .collect();
    assert_eq!(summary(&changes), want);
    // The bytes are the blocks'.
    assert!(matches!(&changes[0], ChainChange::Connected { raw, .. } if *raw == a.blocks[6].bytes));

    // A reorganisation: 900,008 and 900,009 replaced by a longer branch.
    let branch = a.fork(900_008, 3, START + 8 * 600 + 1, 600, 5);
    let mut b = a.clone();
    b.blocks.truncate(8);
    b.blocks.extend(branch.blocks.iter().cloned());
    server.set_chain(b.clone());
    let changes = f.sync(&rpc).unwrap();
    assert_eq!(
        summary(&changes),
        vec![
            (false, 900_009, a.blocks[9].hash),
            (false, 900_008, a.blocks[8].hash),
            (true, 900_008, b.blocks[8].hash),
            (true, 900_009, b.blocks[9].hash),
            (true, 900_010, b.blocks[10].hash),
        ]
    );
    // Nothing new: nothing reported.
    assert!(f.sync(&rpc).unwrap().is_empty());
}

#[test]
fn it_skips_to_the_last_blocks_and_survives_a_reorganisation_deeper_than_it_remembers() {
    let a = chain(40);
    let (server, rpc) = node(a.clone());
    let mut f = ChainFollower::new(3, 5);
    f.start_at(900_000, BlockHash(a.blocks[0].hash));
    let changes = f.sync(&rpc).unwrap();
    let heights: Vec<u32> = summary(&changes).iter().map(|c| c.1).collect();
    assert_eq!(heights, [900_035, 900_036, 900_037, 900_038, 900_039]);

    // A branch from 900,030: deeper than the 3 blocks remembered.
    let branch = a.fork(900_030, 12, START + 30 * 600 + 1, 600, 5);
    let mut b = a.clone();
    b.blocks.truncate(30);
    b.blocks.extend(branch.blocks.iter().cloned());
    server.set_chain(b.clone());
    let changes = f.sync(&rpc).unwrap();
    let s = summary(&changes);
    // The remembered three go, tip first; then the branch's last five come.
    assert_eq!(
        s[..3].iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(),
        [(false, 900_039), (false, 900_038), (false, 900_037)]
    );
    assert_eq!(
        s[3..].iter().map(|c| c.2).collect::<Vec<_>>(),
        b.blocks[37..42].iter().map(|b| b.hash).collect::<Vec<_>>()
    );
    assert_eq!(f.tip(), Some((900_041, BlockHash(b.blocks[41].hash))));
}
