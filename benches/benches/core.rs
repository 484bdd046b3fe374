//! fiatline-core on real block 702861 (2,500 transactions), with
//! rust-bitcoin and bitcoin_slices parsing the same bytes in the same run.
//!
//! `cargo bench -p fiatline-benches --bench core`

use std::hint::black_box;
use std::ops::ControlFlow;

use bitcoin_slices::{bsl, Parse as _, Visit as _};
use criterion::{criterion_group, BenchmarkGroup, Criterion, Throughput};
use fiatline_benches::{criterion_mean, verdict, verdict_at_least};
use fiatline_core::{txid_slots_for, Block, PricePoint, RawOutput, Refinement, Run, Txid};

const TXS: u64 = 2500;
/// The same, as a length.
const TXS_USIZE: usize = 2500;

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
    let mut slots = vec![Txid::default(); txid_slots_for(TXS_USIZE)];
    let mut outputs = vec![RawOutput::default(); 2 * TXS_USIZE];
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
    let mut slots = vec![Txid::default(); txid_slots_for(TXS_USIZE)];
    let mut outputs = vec![RawOutput::default(); 2 * TXS_USIZE];
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

/// A day-sized run: 144 copies of block 702861 (360,000 transactions), each
/// copy's lock times changed so every txid is new and the seen set grows as
/// on a real day. Spends between copies do not match, like a real day's
/// spends of earlier days' outputs.
fn day_of_blocks() -> Vec<Vec<u8>> {
    let original = block();
    let parsed = Block::parse(original).unwrap();
    let base = original.as_ptr() as usize;
    // Offset of each transaction's lock time in the block.
    let lock_times: Vec<usize> = parsed
        .transactions()
        .map(|tx| tx.as_bytes().as_ptr() as usize - base + tx.len() - 4)
        .collect();
    (0..144u32)
        .map(|copy| {
            let mut bytes = original.to_vec();
            for &at in &lock_times {
                let lock = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
                bytes[at..at + 4].copy_from_slice(&(lock ^ (copy << 24)).to_le_bytes());
            }
            bytes
        })
        .collect()
}

/// Bytes in memory to final price for a day: storage, 144 blocks, estimate.
fn day(c: &mut Criterion) {
    let blocks = day_of_blocks();
    let txs = 144 * TXS_USIZE;
    let mut g = c.benchmark_group("day");
    g.sample_size(10);
    g.throughput(Throughput::Elements(txs as u64));
    g.bench_function("144_blocks_to_price", |b| {
        b.iter(|| {
            let mut slots = vec![Txid::default(); txid_slots_for(txs)];
            let mut outputs = vec![RawOutput::default(); 2 * txs];
            let mut run = Run::new(&mut slots, &mut outputs);
            for (height, bytes) in (0..).zip(&blocks) {
                run.add_block_bytes(black_box(bytes), height).unwrap();
            }
            let n = 2 * run.outputs().len();
            let (mut points, mut scratch) = (vec![PricePoint::default(); n], vec![0.0; n]);
            run.estimate(Refinement::Reference, &mut points, &mut scratch)
                .unwrap()
                .price
        });
    });
    g.finish();
}

criterion_group!(benches, run_block, parse_and_txid, parse, estimate, day);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Each target, judged on this run's means.
    if let Some(secs) = criterion_mean("parse+txid+filter+histogram/fiatline", started) {
        let rate = TXS as f64 / secs;
        println!(
            "core: parse + txid + filter + histogram {:.2} M tx/s ({})",
            rate / 1e6,
            verdict_at_least(rate / 1e6, 2.0, "M tx/s")
        );
    }
    if let Some(secs) = criterion_mean("day/144_blocks_to_price", started) {
        println!(
            "core: a day of 144 blocks to its price {:.0} ms ({})",
            secs * 1e3,
            verdict(secs * 1e3, 300.0, "ms")
        );
    }
}
