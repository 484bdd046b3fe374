//! fiatline-core on real block 702861 (2,500 transactions), with
//! rust-bitcoin and bitcoin_slices parsing the same bytes in the same run.
//!
//! `cargo bench -p fiatline-benches --bench core`

use std::hint::black_box;
use std::ops::ControlFlow;

use bitcoin_slices::{bsl, Parse as _, Visit as _};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use fiatline_core::{Block, PricePoint, RawOutput, Refinement, Run, Txid, TxidSet};

const TXS: u64 = 2500;

fn block() -> &'static [u8] {
    bitcoin_test_data::blocks::mainnet_702861()
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(TXS));
    g
}

/// The hot path of a consensus run: parse, txid, filter, histogram.
fn run_block(c: &mut Criterion) {
    let bytes = block();
    let mut slots = vec![Txid::default(); TxidSet::slots_for(TXS as usize)];
    let mut outputs = vec![RawOutput::default(); 2 * TXS as usize];
    let mut g = group(c, "parse+txid+filter+histogram");
    g.bench_function("fiatline", |b| {
        b.iter(|| {
            let mut run = Run::new(&mut slots, &mut outputs);
            run.add_block_bytes(black_box(bytes), 702_861).unwrap();
            black_box(run.stats())
        });
    });
    g.finish();
}

struct SlicesTxids(u8);

impl bitcoin_slices::Visitor for SlicesTxids {
    fn visit_transaction(&mut self, tx: &bsl::Transaction) -> ControlFlow<()> {
        self.0 ^= tx.txid_sha2()[0];
        ControlFlow::Continue(())
    }
}

/// Parsing and txids alone: the part the peers also do.
fn parse_and_txid(c: &mut Criterion) {
    let bytes = block();
    let mut g = group(c, "parse+txid");
    g.bench_function("fiatline", |b| {
        b.iter(|| {
            let block = Block::parse(black_box(bytes)).unwrap();
            block
                .transactions()
                .fold(0u8, |acc, tx| acc ^ tx.txid().as_bytes()[0])
        });
    });
    g.bench_function("bitcoin_slices", |b| {
        b.iter(|| {
            let mut v = SlicesTxids(0);
            bsl::Block::visit(black_box(bytes), &mut v).unwrap();
            v.0
        });
    });
    g.bench_function("rust-bitcoin", |b| {
        b.iter(|| {
            let block: bitcoin::Block = bitcoin::consensus::deserialize(black_box(bytes)).unwrap();
            block.txdata.iter().fold(0u8, |acc, tx| {
                acc ^ bitcoin::hashes::Hash::as_byte_array(&tx.compute_txid())[0]
            })
        });
    });
    g.finish();
}

/// Parsing alone (validation of every length).
fn parse(c: &mut Criterion) {
    let bytes = block();
    let mut g = group(c, "parse");
    g.bench_function("fiatline", |b| {
        b.iter(|| Block::parse(black_box(bytes)).unwrap().tx_count());
    });
    g.bench_function("bitcoin_slices", |b| {
        b.iter(|| {
            bsl::Block::parse(black_box(bytes))
                .unwrap()
                .parsed()
                .total_transactions()
        });
    });
    g.bench_function("rust-bitcoin", |b| {
        b.iter(|| {
            let block: bitcoin::Block = bitcoin::consensus::deserialize(black_box(bytes)).unwrap();
            block.txdata.len()
        });
    });
    g.finish();
}

/// Steps 7 to 11 on the block's histogram and outputs.
fn estimate(c: &mut Criterion) {
    let mut slots = vec![Txid::default(); TxidSet::slots_for(TXS as usize)];
    let mut outputs = vec![RawOutput::default(); 2 * TXS as usize];
    let mut run = Run::new(&mut slots, &mut outputs);
    run.add_block_bytes(block(), 702_861).unwrap();
    let mut points = vec![PricePoint::default(); 4 * run.outputs().len()];
    let mut scratch = vec![0.0; points.len()];
    c.bench_function("estimate/block_702861", |b| {
        b.iter(|| {
            run.estimate(Refinement::Reference, &mut points, &mut scratch)
                .unwrap()
                .price
        });
    });
}

criterion_group!(benches, run_block, parse_and_txid, parse, estimate);
criterion_main!(benches);
