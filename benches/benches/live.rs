//! The polling and subscribing live sources against loopback servers:
//! how fast the Esplora source takes in a listed mempool (one request per
//! transaction, unpaced), and how long the Electrum source takes to bring
//! one full block (txids by position in batches, then raw transactions).
//! The loopback servers are single-threaded test servers, so these are
//! floors for the client's own cost, not a real server's speed.
//!
//! `cargo bench -p fiatline-benches --bench live`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fiatline_adapters::electrum::ElectrumSource;
use fiatline_adapters::esplora_live::{EsploraLive, EsploraLiveConfig};
use fiatline_adapters::{BlockSource, LiveEvent, LiveSource};
use fiatline_testkit::electrum::ElectrumServer;
use fiatline_testkit::esplora::EsploraServer;
use fiatline_testkit::Chain;

fn sources(c: &mut Criterion) {
    let chain = Chain::generate(900_000, 2, 1_700_000_000, 600);
    let mempool = chain.blocks[1].txs[1..].to_vec();
    let n = mempool.len();
    let esplora = EsploraServer::start(chain.clone());
    esplora.set_tip(900_000);
    esplora.set_mempool(mempool);

    let mut g = c.benchmark_group("live");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("esplora mempool intake (2,499 tx)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let config = EsploraLiveConfig {
                    poll: Duration::from_secs(3600),
                    interval: Duration::ZERO,
                    ..EsploraLiveConfig::default()
                };
                let mut source = EsploraLive::new(&esplora.url(), config).unwrap();
                let start = Instant::now();
                let mut txs = 0;
                while txs < n {
                    if let Some(LiveEvent::Tx { .. }) =
                        source.next_event(Duration::from_millis(100)).unwrap()
                    {
                        txs += 1;
                    }
                }
                total += start.elapsed();
            }
            total
        });
    });

    let electrum = ElectrumServer::start(chain.clone());
    let source = ElectrumSource::connect(&electrum.url()).unwrap();
    let block = source.block_ref(900_001).unwrap();
    g.bench_function("electrum block (2,500 tx)", |b| {
        b.iter(|| source.raw_block(&block).unwrap());
    });
    g.finish();
}

criterion_group!(benches, sources);
criterion_main!(benches);
