//! Every backend against a loopback server that speaks its real protocol,
//! serving a chain generated from real block 702861: the same blocks, the
//! same bytes, the same price; and the failures a user meets.

use std::time::Duration;

use fiatline_adapters::blk::{BlkError, BlkSource};
use fiatline_adapters::electrum::ElectrumSource;
use fiatline_adapters::esplora::EsploraSource;
use fiatline_adapters::rpc::{Auth, RpcConfig, RpcError, RpcSource};
use fiatline_adapters::{
    fetch_in_order, select, BlockRef, BlockSource, Retry, Selection, SourceError, UtcDate,
};
use fiatline_core::{txid_slots_for, PricePoint, RawOutput, Refinement, Run, Txid};
use fiatline_testkit::blk::write_blocks_dir;
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::rpc::RpcServer;
use fiatline_testkit::Chain;

const FAST: Retry = Retry {
    attempts: 4,
    first_delay: Duration::from_millis(20),
    max_delay: Duration::from_millis(80),
};

/// 2024-01-01 20:00 UTC, one block an hour.
const START: u32 = 1_704_139_200;

fn chain() -> Chain {
    Chain::generate(840_000, 12, START, 3600)
}

fn rpc(server: &RpcServer, password: &str) -> RpcSource {
    RpcSource::new(RpcConfig::new(
        server.url(),
        Auth::UserPass("user".into(), password.into()),
    ))
}

/// The price of the chain's blocks at `heights`, by the core alone.
fn direct(chain: &Chain, heights: std::ops::RangeInclusive<u32>) -> (f64, u32) {
    let blocks: Vec<Vec<u8>> = heights
        .map(|h| chain.at(h).unwrap().bytes.clone())
        .collect();
    estimate(&blocks)
}

fn estimate(blocks: &[Vec<u8>]) -> (f64, u32) {
    let txs = 2500 * blocks.len();
    let mut run = Run::new(
        vec![Txid::default(); txid_slots_for(txs)],
        vec![RawOutput::default(); 2 * txs],
    );
    for b in blocks {
        run.add_block_bytes(b, 0).expect("block");
    }
    let mut points = vec![PricePoint::default(); 4 * run.outputs().len()];
    let mut scratch = vec![0.0; points.len()];
    let e = run
        .estimate(Refinement::Reference, &mut points, &mut scratch)
        .expect("estimate");
    (e.price, e.rough)
}

/// Selects, fetches in order and prices: (block refs, raw blocks, price, rough).
fn price(
    source: &dyn BlockSource,
    selection: Selection,
) -> (Vec<BlockRef>, Vec<Vec<u8>>, f64, u32) {
    let refs = select(source, selection, FAST).expect("selection");
    let mut blocks = Vec::new();
    fetch_in_order::<SourceError>(source, &refs, 3, FAST, |_, b| {
        blocks.push(b.to_vec());
        Ok(())
    })
    .expect("fetch");
    let (price, rough) = estimate(&blocks);
    (refs, blocks, price, rough)
}

#[test]
fn four_sources_give_the_same_blocks_and_price() {
    let chain = chain();
    let rpc_server = RpcServer::start(chain.clone(), "user", "pass");
    let esplora_server = EsploraServer::start(chain.clone());
    let electrum_server = ElectrumServer::start(chain.clone());
    let dir = tempdir("four");
    // Out of download order across three files, obfuscated as Core 28 does.
    write_blocks_dir(
        &dir,
        &chain,
        &[0, 2, 1, 3, 5, 4, 6, 7, 9, 8, 10, 11],
        4,
        Some([7, 1, 2, 3, 4, 5, 6, 9]),
    );

    let sources: Vec<Box<dyn BlockSource>> = vec![
        Box::new(rpc(&rpc_server, "pass")),
        Box::new(BlkSource::open(&dir).unwrap()),
        Box::new(EsploraSource::new(&esplora_server.url(), Duration::ZERO).unwrap()),
        Box::new(ElectrumSource::connect(&electrum_server.url()).unwrap()),
    ];
    let results: Vec<_> = sources
        .iter()
        .map(|s| price(s.as_ref(), Selection::Recent(8)))
        .collect();
    let (refs, blocks, price0, rough0) = &results[0];
    assert_eq!(
        refs.iter().map(|r| r.height).collect::<Vec<_>>(),
        (840_003..840_011).collect::<Vec<_>>()
    );
    for (i, r) in refs.iter().enumerate() {
        let b = chain.at(r.height).unwrap();
        assert_eq!((r.hash.0, r.time), (b.hash, b.time));
        assert_eq!(blocks[i], b.bytes);
    }
    assert_eq!((*price0, *rough0), direct(&chain, 840_003..=840_010));
    for (source, (r, b, p, rough)) in sources.iter().zip(&results) {
        assert_eq!(r, refs, "{}", source.name());
        assert!(b == blocks, "{} serves other bytes", source.name());
        assert_eq!((p, rough), (price0, rough0), "{}", source.name());
    }
}

#[test]
fn blk_files_with_and_without_a_key_and_with_a_stale_block() {
    let chain = chain();
    let plain = tempdir("plain");
    write_blocks_dir(&plain, &chain, &(0..12).collect::<Vec<_>>(), 5, None);
    let s = BlkSource::open(&plain).unwrap();
    assert_eq!(s.tip_height().unwrap(), 840_011);
    let r = s.block_ref(840_000).unwrap();
    assert_eq!(s.raw_block(&r).unwrap(), chain.blocks[0].bytes);

    // A stale block at 840005 (same height, other parent hash) in the newest file.
    let mut with_stale = chain.clone();
    let mut stale = chain.blocks[5].clone();
    stale.bytes[4] ^= 1;
    stale.hash = fiatline_testkit::sha256d(&stale.bytes[..80]);
    with_stale.blocks.push(stale);
    let dir = tempdir("stale");
    write_blocks_dir(
        &dir,
        &with_stale,
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 11],
        13,
        Some([1; 8]),
    );
    let s = BlkSource::open(&dir).unwrap();
    assert_eq!(s.block_ref(840_005).unwrap().hash.0, chain.blocks[5].hash);
}

#[test]
fn blk_files_of_another_network_are_refused_clearly() {
    let dir = tempdir("magic");
    write_blocks_dir(&dir, &chain(), &[0, 1], 2, None);
    let s = BlkSource::open_network(&dir, fiatline_adapters::Network::Regtest).unwrap();
    let e = s.tip_height().unwrap_err();
    assert!(e.is_bad_input(), "{e}");
    assert!(
        e.to_string()
            .contains("holds main blocks, not regtest: pass --chain main"),
        "{e}"
    );
    // The typed error behind the message.
    assert!(
        matches!(
            e.downcast_ref::<BlkError>(),
            Some(BlkError::OtherNetwork {
                found: fiatline_adapters::Network::Main,
                expected: fiatline_adapters::Network::Regtest,
                ..
            })
        ),
        "{e:?}"
    );
    let empty = tempdir("empty");
    let e = BlkSource::open(&empty).unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("no blk*.dat"),
        "{e}"
    );
    assert!(
        matches!(e.downcast_ref(), Some(BlkError::NoFiles { dir }) if *dir == *empty),
        "{e:?}"
    );
}

#[test]
fn rpc_wrong_password_is_persistent_and_says_so() {
    let server = RpcServer::start(chain(), "user", "pass");
    let e = rpc(&server, "wrong").tip_height().unwrap_err();
    assert!(!e.is_transient());
    assert!(e.to_string().contains("refused the RPC credentials"), "{e}");
    assert!(
        matches!(e.downcast_ref(), Some(RpcError::Credentials { .. })),
        "{e:?}"
    );
    // Not retried: one request only.
    assert_eq!(
        server
            .faults
            .served
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn rpc_node_down_is_transient_and_bounded() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let source = RpcSource::new(RpcConfig::new(
        format!("http://127.0.0.1:{port}"),
        Auth::UserPass("u".into(), "p".into()),
    ));
    let e = FAST.run(|| source.tip_height()).unwrap_err();
    assert!(e.is_transient());
    assert!(e.to_string().contains("cannot reach the node"), "{e}");
}

#[test]
fn rpc_500_then_success_recovers() {
    let server = RpcServer::start(chain(), "user", "pass");
    server
        .faults
        .fail_next
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let (refs, _, p, rough) = price(&rpc(&server, "pass"), Selection::Heights(840_000, 840_002));
    assert_eq!(refs.len(), 3);
    assert_eq!((p, rough), direct(&chain(), 840_000..=840_002));
}

#[test]
fn rpc_cookie_found_through_the_data_directory() {
    let server = RpcServer::start(chain(), "__cookie__", "abc123");
    let dir = tempdir("datadir");
    let port = server.addr().port();
    std::fs::write(
        dir.join("bitcoin.conf"),
        format!("server=1\nrpcport={port}\n"),
    )
    .unwrap();
    std::fs::write(dir.join(".cookie"), "__cookie__:abc123").unwrap();
    let config = RpcConfig::from_datadir(&dir).unwrap();
    assert_eq!(config.url, format!("http://127.0.0.1:{port}"));
    assert_eq!(RpcSource::new(config).tip_height().unwrap(), 840_011);
    // No bitcoin.conf: Core's defaults, as bitcoin-cli reads them.
    let bare = tempdir("nodatadir");
    let config = RpcConfig::from_datadir(&bare).unwrap();
    assert_eq!(config.url, "http://127.0.0.1:8332");
    assert_eq!(config.auth, Auth::CookieFile(bare.join(".cookie")));

    // regtest=1: the cookie is in regtest/, and rpcport in [regtest].
    let regtest = tempdir("regtest-datadir");
    std::fs::write(
        regtest.join("bitcoin.conf"),
        format!(
            "regtest=1
server=1
rpcport=1
[regtest]
rpcport={port}
"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(regtest.join("regtest")).unwrap();
    std::fs::write(regtest.join("regtest/.cookie"), "__cookie__:abc123").unwrap();
    let config = RpcConfig::from_datadir(&regtest).unwrap();
    assert_eq!(config.network, fiatline_adapters::Network::Regtest);
    assert_eq!(RpcSource::new(config).tip_height().unwrap(), 840_011);

    // A network folder that does not exist: the data directory or the
    // network is wrong, which no retry mends.
    let e = RpcSource::new(
        fiatline_adapters::node_conf::NodeConf::read(
            &bare,
            Some(fiatline_adapters::Network::Signet),
        )
        .unwrap()
        .rpc(),
    )
    .tip_height()
    .unwrap_err();
    assert!(e.is_bad_input(), "{e}");
    assert!(
        e.to_string().contains("--chain its network (signet)"),
        "{e}"
    );
}

#[test]
fn esplora_429_is_retried() {
    let server = EsploraServer::start(chain());
    server
        .faults
        .too_many
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let source = EsploraSource::new(&server.url(), Duration::ZERO).unwrap();
    assert_eq!(source.tip_height().unwrap(), 840_011);
}

#[test]
fn a_truncated_block_from_a_source_is_a_parse_error_not_a_panic() {
    let mut chain = chain();
    let b = &mut chain.blocks[11];
    b.bytes.truncate(b.bytes.len() / 2);
    let server = RpcServer::start(chain, "user", "pass");
    let source = rpc(&server, "pass");
    let r = source.block_ref(840_011).unwrap();
    let bytes = source.raw_block(&r).unwrap();
    assert!(fiatline_core::Block::parse(&bytes).is_err());
}

#[test]
fn date_mode_takes_the_day_from_its_first_block() {
    // From 2023-12-31 00:00 UTC, a block every 10 minutes for 3.5 days
    // (light blocks: this test needs headers, not prices).
    let midnight_jan1 = 1_704_067_200u32;
    let mut times: Vec<u32> = (0..504)
        .map(|i| midnight_jan1 - 86_400 + i * 600 + 30)
        .collect();
    // A straggler on Jan 1: height 800,204 (10:00) claims Jan 2, 00:00:10.
    times[204] = midnight_jan1 + 86_400 + 10;
    let chain = Chain::generate_light(800_000, times, 20);
    let server = RpcServer::start(chain, "user", "pass");
    let source = rpc(&server, "pass");
    let day = UtcDate::new(2024, 1, 2).unwrap();
    let refs = select(&source, Selection::Date(day), FAST).unwrap();
    // The first block at or after Jan 2 00:00 is at height 800,288; the day
    // runs while the date holds, through 800,431 (Jan 2 23:50).
    assert_eq!(refs[0].height, 800_288);
    assert_eq!(refs.last().unwrap().height, 800_431);
    assert_eq!(refs.len(), 144);
    assert!(refs.windows(2).all(|w| w[1].height == w[0].height + 1));
    // As in the reference, the walk ends at the first block of another
    // date: Jan 1's run stops before the straggler at 800,204.
    let jan1 = select(
        &source,
        Selection::Date(UtcDate::new(2024, 1, 1).unwrap()),
        FAST,
    )
    .unwrap();
    assert_eq!((jan1[0].height, jan1.len()), (800_144, 60));
    // The block 6 below the tip is on Jan 3 (11:00): Jan 3 itself is refused.
    let e = select(&source, Selection::Date(day.succ()), FAST).unwrap_err();
    assert!(e.to_string().contains("too recent"), "{e}");
    assert!(
        e.to_string()
            .contains("latest date available now is 2024-01-02"),
        "{e}"
    );
}

fn tempdir(name: &str) -> fiatline_testkit::TempDirPath {
    fiatline_testkit::TempDirPath::new(&format!("adapters-{name}"))
}
