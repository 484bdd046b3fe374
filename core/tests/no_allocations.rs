//! A full parse and estimate of block 702861 makes no heap allocation.
//!
//! Runs without the test harness (`harness = false`) so no other thread
//! allocates while the count is taken.

// A global allocator cannot be written without `unsafe`; the core itself
// forbids it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fiatline_core::{
    txid_slots_for, Block, PricePoint, RawOutput, Refinement, Run, Transaction, Txid,
};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let bytes = bitcoin_test_data::blocks::mainnet_702861();
    // Storage is lent by the caller: allocate it before counting.
    let mut slots = vec![Txid::default(); txid_slots_for(2500)];
    let mut outputs = vec![RawOutput::default(); 5000];
    let mut points = vec![PricePoint::default(); 20_000];
    let mut scratch = vec![0.0; 20_000];

    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let block = Block::parse(bytes).expect("block parses");
    let mut txids = 0u8;
    for tx in block.transactions() {
        let tx = Transaction::parse(tx.as_bytes()).expect("tx parses");
        txids ^= tx.txid().as_bytes()[0];
    }
    let mut run = Run::new(&mut slots, &mut outputs);
    run.add_block(&block, 702_861).expect("room");
    let estimate = run
        .estimate(Refinement::Reference, &mut points, &mut scratch)
        .expect("estimate");
    let after = ALLOCATIONS.load(Ordering::SeqCst);

    assert_eq!(estimate.rough, 42880);
    std::hint::black_box(txids);
    assert_eq!(
        after - before,
        0,
        "the core allocated {} times",
        after - before
    );
    // A counted allocation is seen, so the zero above is not vacuous.
    let probe = std::hint::black_box(vec![1u8; 8]);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - after, 1);
    drop(probe);
    println!("no_allocations: 0 allocations across parse and estimate of block 702861");
    println!("1 passed, 0 failed");
}
