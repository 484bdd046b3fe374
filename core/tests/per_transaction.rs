//! Feeding a run one transaction at a time, as firmware receives them:
//! equal to the whole-block path, and a bad transaction changes nothing.

use fiatline_core::{
    txid_slots_for, Block, CapacityError, ParseErrorKind, PricePoint, RawOutput, Refinement, Run,
    RunError, Txid,
};
use proptest::prelude::*;

const HEIGHT: u32 = 702_861;

fn block() -> Block<'static> {
    Block::parse(bitcoin_test_data::blocks::mainnet_702861()).unwrap()
}

type VecRun = Run<Vec<Txid>, Vec<RawOutput>>;

fn empty(txs: usize) -> VecRun {
    Run::new(
        vec![Txid::default(); txid_slots_for(txs)],
        vec![RawOutput::default(); 2 * txs],
    )
}

/// Everything a run holds that an estimate reads, and its counts.
fn state(run: &VecRun) -> (fiatline_core::Histogram, Vec<RawOutput>, u64, u64, u64) {
    let s = run.stats();
    (
        run.histogram().clone(),
        run.outputs().to_vec(),
        s.txs,
        s.used_txs,
        s.outputs,
    )
}

fn estimate(run: &VecRun) -> fiatline_core::Estimate {
    let mut points = vec![PricePoint::default(); 8192];
    let mut scratch = vec![0.0; 8192];
    run.estimate(Refinement::Reference, &mut points, &mut scratch)
        .unwrap()
}

#[test]
fn one_transaction_at_a_time_equals_the_whole_block() {
    let block = block();
    let time = block.header().time();
    let mut whole = empty(2500);
    whole.add_block(&block, HEIGHT).unwrap();
    let mut each = empty(2500);
    for tx in block.transactions() {
        each.add_transaction_bytes(tx.as_bytes(), HEIGHT, time)
            .unwrap();
    }
    assert_eq!(state(&each), state(&whole));
    assert_eq!((each.stats().blocks, whole.stats().blocks), (0, 1));
    let e = estimate(&each);
    assert_eq!(e, estimate(&whole));
    // The regression vector, bit for bit.
    assert_eq!(e.rough, 42880);
    assert_eq!(e.price.to_bits(), 42951.63645734903f64.to_bits());
}

#[test]
fn a_bad_transaction_changes_nothing() {
    let block = block();
    let time = block.header().time();
    let txs: Vec<&[u8]> = block.transactions().map(|t| t.as_bytes()).collect();
    let mut run = empty(2500);
    for tx in &txs[..100] {
        run.add_transaction_bytes(tx, HEIGHT, time).unwrap();
    }
    let before = state(&run);
    let next = txs[100];
    // Truncated, with a byte too many, and empty.
    let mut long = next.to_vec();
    long.push(0);
    let cases: [(&[u8], ParseErrorKind); 3] = [
        (&next[..next.len() - 1], ParseErrorKind::UnexpectedEnd),
        (&long, ParseErrorKind::TrailingBytes),
        (&[], ParseErrorKind::UnexpectedEnd),
    ];
    for (bytes, kind) in cases {
        match run.add_transaction_bytes(bytes, HEIGHT, time) {
            Err(RunError::Parse(e)) => assert_eq!(e.kind(), kind),
            other => panic!("{other:?}"),
        }
        assert_eq!(state(&run), before);
    }
    // The rest still goes in and gives the block's price.
    for tx in &txs[100..] {
        run.add_transaction_bytes(tx, HEIGHT, time).unwrap();
    }
    let mut whole = empty(2500);
    whole.add_block(&block, HEIGHT).unwrap();
    assert_eq!(state(&run), state(&whole));
}

#[test]
fn full_storage_is_an_error_and_changes_nothing() {
    let block = block();
    let time = block.header().time();
    let txs: Vec<&[u8]> = block.transactions().map(|t| t.as_bytes()).collect();
    // Room for three outputs: the second used transaction finds no room for two.
    let mut run = Run::new(
        vec![Txid::default(); txid_slots_for(100)],
        vec![RawOutput::default(); 3],
    );
    let mut refused = None;
    for (i, tx) in txs.iter().enumerate() {
        let before = state(&run);
        match run.add_transaction_bytes(tx, HEIGHT, time) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e, RunError::Capacity(CapacityError::Outputs));
                assert_eq!(state(&run), before);
                refused = Some(i);
                break;
            }
        }
    }
    assert!(refused.is_some());
    assert!(run.outputs().len() <= 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A transaction with bytes changed, cut or added: taken whole (exactly
    /// as the parsed transaction would be) or refused with nothing changed.
    #[test]
    fn a_mutated_transaction_is_taken_whole_or_not_at_all(
        index in 1usize..2500,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let block = block();
        let time = block.header().time();
        let tx = block.transactions().nth(index).unwrap();
        let mut bytes = tx.as_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Some(at) = cut {
            bytes.truncate(at.index(bytes.len()));
        }
        let mut run = empty(10);
        let before = state(&run);
        match run.add_transaction_bytes(&bytes, HEIGHT, time) {
            Ok(()) => {
                // rust-bitcoin agrees the bytes are one transaction, and every
                // output taken is one of its outputs, in order.
                let theirs: bitcoin::Transaction =
                    bitcoin::consensus::deserialize(&bytes).expect("rust-bitcoin accepts it too");
                let values: Vec<u64> = theirs.output.iter().map(|o| o.value.to_sat()).collect();
                let taken: Vec<u64> = run.outputs().iter().map(|o| o.sats).collect();
                prop_assert!(taken.iter().all(|v| values.contains(v)), "{taken:?} {values:?}");
                prop_assert_eq!(run.stats().txs, 1);
                prop_assert!(run.outputs().iter().all(|o| o.height == HEIGHT && o.time == time));
            }
            Err(RunError::Parse(_)) => prop_assert_eq!(state(&run), before),
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }
}
