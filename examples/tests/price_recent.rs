//! The examples' shared path, against each loopback server.

use fiatline_adapters::electrum::ElectrumSource;
use fiatline_adapters::esplora::EsploraSource;
use fiatline_adapters::rpc::{RpcConfig, RpcSource};
use fiatline_testkit::{electrum::ElectrumServer, esplora::EsploraServer, rpc::RpcServer, Chain};

#[test]
fn every_example_source_prices_the_same() {
    let chain = Chain::generate(840_000, 6, 1_704_139_200, 3600);
    let (rpc, esplora, electrum) = (
        RpcServer::start(chain.clone(), "u", "p"),
        EsploraServer::start(chain.clone()),
        ElectrumServer::start(chain),
    );
    let dir = fiatline_testkit::TempDirPath::new("example");
    std::fs::write(
        dir.join("bitcoin.conf"),
        format!("rpcuser=u\nrpcpassword=p\nrpcport={}\n", rpc.addr().port()),
    )
    .unwrap();

    let a =
        fiatline_examples::price_recent(&RpcSource::new(RpcConfig::from_datadir(&dir).unwrap()), 5)
            .unwrap();
    let b = fiatline_examples::price_recent(
        &EsploraSource::new(&esplora.url(), std::time::Duration::ZERO).unwrap(),
        5,
    )
    .unwrap();
    let c = fiatline_examples::price_recent(&ElectrumSource::connect(&electrum.url()).unwrap(), 5)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert!(a.price > 40_000.0 && a.price < 46_000.0, "{a:?}");
}
