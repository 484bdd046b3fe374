//! The rolling window: add and remove throughput, and the estimate's
//! latency on a window holding about 100,000 price points.
//!
//! `cargo bench -p fiatline-benches --bench window`

use std::hint::black_box;

use criterion::{criterion_group, Criterion, Throughput};
use fiatline_benches::{criterion_mean, verdict, verdict_at_least};
use fiatline_core::{
    window_amount_slots_for, window_index_slots_for, Block, PricePoint, Refinement, Transaction,
    Txid, Window, WindowEntry,
};
use fiatline_testkit::Chain;

fn window(entries: usize) -> Window<Vec<WindowEntry>, Vec<u32>> {
    Window::new(
        vec![WindowEntry::default(); entries],
        vec![0; window_index_slots_for(entries)],
        3 * 3600,
    )
    .unwrap()
}

/// Adds block 702861's 2,500 transactions, then removes them all: 5,000 operations.
fn add_remove(c: &mut Criterion) {
    let block = Block::parse(bitcoin_test_data::blocks::mainnet_702861()).unwrap();
    let txs: Vec<Transaction<'_>> = block.transactions().collect();
    let ids: Vec<Txid> = txs.iter().map(Transaction::txid).collect();
    let mut w = window(4096);
    let mut g = c.benchmark_group("window");
    g.throughput(Throughput::Elements(2 * txs.len() as u64));
    g.bench_function("add+remove", |b| {
        b.iter(|| {
            for tx in &txs {
                let _ = w.add(black_box(tx), 1, 0);
            }
            for id in &ids {
                w.remove(black_box(id));
            }
        });
    });
    g.finish();
    // Removal alone, without the txid hashing and parsing an add includes.
    let mut g = c.benchmark_group("window");
    g.throughput(Throughput::Elements(txs.len() as u64));
    g.bench_function("expire", |b| {
        b.iter_batched_ref(
            || {
                let mut w = window(4096);
                for (i, tx) in txs.iter().enumerate() {
                    let _ = w.add(tx, u32::try_from(i).unwrap_or(u32::MAX), 0);
                }
                w
            },
            |w| w.expire(u32::MAX),
            criterion::BatchSize::LargeInput,
        );
    });
    g.finish();
}

/// The estimate of a window of 30 blocks (75,000 transactions, about
/// 100,000 price points).
fn estimate_100k(c: &mut Criterion) {
    let chain = Chain::generate(840_000, 30, 1_704_139_200, 240);
    let mut w = window(80_000);
    for b in &chain.blocks {
        w.add_block(&Block::parse(&b.bytes).unwrap(), b.height)
            .unwrap();
    }
    let mut points = vec![PricePoint::default(); 200_000];
    let mut scratch = vec![0.0; 200_000];
    let e = w
        .estimate(Refinement::Reference, &mut points, &mut scratch)
        .unwrap();
    eprintln!(
        "window: {} transactions, {} outputs, {} price points ({} in range)",
        w.len(),
        e.outputs,
        e.points,
        e.points_in_range
    );
    c.bench_function("window/estimate_100k_points", |b| {
        b.iter(|| {
            w.estimate(Refinement::Reference, &mut points, &mut scratch)
                .unwrap()
                .price
        });
    });
    // The same window keeping its amounts sorted: the estimate the
    // per-block history uses, equal to the one above to the bit. After
    // the first, the window keeps the points of its range, so this times
    // an estimate with nothing changed since the last: the rough price
    // and the central value of the points kept (a block's changes cost
    // more: the per-block figures of the history bench include them).
    let mut sorted = Window::with_amounts(
        vec![WindowEntry::default(); 80_000],
        vec![0; window_index_slots_for(80_000)],
        vec![0; window_amount_slots_for(80_000)],
        3 * 3600,
    )
    .unwrap();
    for b in &chain.blocks {
        sorted
            .add_block(&Block::parse(&b.bytes).unwrap(), b.height)
            .unwrap();
    }
    assert_eq!(
        sorted.estimate_sorted(Refinement::Reference, &mut scratch),
        Ok(e)
    );
    c.bench_function("window/estimate_sorted_100k_points", |b| {
        b.iter(|| {
            sorted
                .estimate_sorted(Refinement::Reference, &mut scratch)
                .unwrap()
                .price
        });
    });
}

criterion_group!(benches, add_remove, estimate_100k);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Each target, judged on this run's means.
    if let Some(secs) = criterion_mean("window/add+remove", started) {
        let rate = 5_000.0 / secs;
        println!(
            "window: add + remove {:.2} M ops/s ({})",
            rate / 1e6,
            verdict_at_least(rate / 1e6, 1.0, "M ops/s")
        );
    }
    if let Some(secs) = criterion_mean("window_estimate_100k_points", started) {
        println!(
            "window: estimate of 75,000 transactions {:.2} ms ({})",
            secs * 1e3,
            verdict(secs * 1e3, 2.0, "ms")
        );
    }
    if let Some(secs) = criterion_mean("window_estimate_sorted_100k_points", started) {
        println!(
            "window: estimate of the same from sorted amounts {:.3} ms",
            secs * 1e3
        );
    }
}
