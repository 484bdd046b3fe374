//! The live examples' shared path: a recording, and an Esplora mempool
//! and Electrum blocks on loopback, each ending at the consensus price of
//! what it passed on.

use std::path::Path;
use std::time::Duration;

use fiatline_adapters::electrum::ElectrumOptions;
use fiatline_adapters::electrum_live::ElectrumLive;
use fiatline_adapters::esplora_live::{EsploraLive, EsploraLiveConfig};
use fiatline_adapters::replay::{ReplaySource, Speed};
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::Chain;

const SPAN: u32 = 7 * 86_400;

#[test]
fn a_recording_ends_at_the_consensus_price() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/replay-702861.jsonl.gz");
    let mut source = ReplaySource::open(&sample, Speed::Fastest).unwrap();
    let e = fiatline_examples::follow(&mut source, SPAN, None, Duration::from_secs(30))
        .unwrap()
        .unwrap();
    assert_eq!(e.price, 42951.63645734903);
}

#[test]
fn an_esplora_mempool_and_electrum_blocks_give_the_same_price() {
    let chain = Chain::generate_light(900_000, vec![1_700_000_000, 1_700_000_600], 600);
    let block = &chain.blocks[1];

    let esplora = EsploraServer::start(chain.clone());
    esplora.set_tip(900_000);
    esplora.set_mempool(block.txs[1..].to_vec());
    let config = EsploraLiveConfig {
        poll: Duration::from_millis(200),
        interval: Duration::ZERO,
        ..EsploraLiveConfig::default()
    };
    let mut source = EsploraLive::new(&esplora.url(), config).unwrap();
    let a = fiatline_examples::follow(
        &mut source,
        SPAN,
        Some(Duration::from_secs(4)),
        Duration::from_secs(30),
    )
    .unwrap()
    .unwrap();

    let electrum = ElectrumServer::start(chain.clone());
    electrum.set_tip(900_000);
    let mut source = ElectrumLive::new(vec![electrum.url()], ElectrumOptions::default()).unwrap();
    let announce = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        electrum.announce(900_001);
        std::thread::sleep(Duration::from_secs(4));
    });
    let b = fiatline_examples::follow(
        &mut source,
        SPAN,
        Some(Duration::from_secs(4)),
        Duration::from_secs(30),
    )
    .unwrap()
    .unwrap();
    announce.join().unwrap();
    assert_eq!(a, b);
    assert!(a.price > 40_000.0 && a.price < 46_000.0, "{a:?}");
}
