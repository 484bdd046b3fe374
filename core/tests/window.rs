//! The rolling window: the same price as a consensus run over the same
//! blocks, expiry and removal that leave exactly what they should, and
//! invariants under random sequences of operations.

use std::collections::HashMap;

use fiatline_core::{
    txid_slots_for, window_amount_slots_for, window_index_slots_for, Added, Block, Estimate,
    EstimateError, Histogram, PricePoint, RawOutput, Refinement, Run, Transaction, Txid, Window,
    WindowEntry, WindowError,
};
use fiatline_testkit::Chain;
use proptest::prelude::*;

fn window(entries: usize, span: u32) -> Window<Vec<WindowEntry>, Vec<u32>> {
    Window::new(
        vec![WindowEntry::default(); entries],
        vec![0; window_index_slots_for(entries)],
        span,
    )
    .unwrap()
}

#[test]
fn a_window_of_blocks_prices_like_a_consensus_run() {
    let chain = Chain::generate(840_000, 6, 1_704_139_200, 600);
    let txs = 6 * 2500;
    let mut run = Run::new(
        vec![Txid::default(); txid_slots_for(txs)],
        vec![RawOutput::default(); 2 * txs],
    );
    let mut w = window(txs, 86_400);
    for b in &chain.blocks {
        let block = Block::parse(&b.bytes).unwrap();
        run.add_block(&block, b.height).unwrap();
        w.add_block(&block, b.height).unwrap();
    }
    let (mut p1, mut s1) = (vec![PricePoint::default(); 40_000], vec![0.0; 40_000]);
    let (mut p2, mut s2) = (p1.clone(), s1.clone());
    let from_run = run
        .estimate(Refinement::Reference, &mut p1, &mut s1)
        .unwrap();
    let from_window = w.estimate(Refinement::Reference, &mut p2, &mut s2).unwrap();
    assert_eq!(from_window, from_run);
    assert_eq!(p1[..from_run.points], p2[..from_window.points]);
    assert_eq!(w.histogram(), run.histogram());
    assert_eq!(w.len(), txs);
    assert_eq!(w.stats().received, txs as u64);
    assert_eq!(w.stats().filtered, (txs as u64) - run.stats().used_txs);
}

type SortedWindow = Window<Vec<WindowEntry>, Vec<u32>, Vec<u64>>;

fn sorted_window(entries: usize, span: u32) -> SortedWindow {
    Window::with_amounts(
        vec![WindowEntry::default(); entries],
        vec![0; window_index_slots_for(entries)],
        vec![0; window_amount_slots_for(entries)],
        span,
    )
    .unwrap()
}

/// The full pass over the window's outputs, and the sorted estimate: the
/// same result, to the bit, errors included.
fn both_estimates(w: &mut SortedWindow, refinement: Refinement) -> Result<Estimate, EstimateError> {
    // A point per band an output lies in: at most three (see points.rs).
    let n = 6 * w.len() + 1;
    let (mut points, mut scratch) = (vec![PricePoint::default(); n], vec![0.0; n]);
    let full = w.estimate(refinement, &mut points, &mut scratch);
    let sorted = w.estimate_sorted(refinement, &mut scratch);
    assert_eq!(sorted, full, "{refinement:?}");
    full
}

#[test]
fn a_sliding_window_prices_from_sorted_amounts_as_from_every_output() {
    // Ten blocks through a window of four blocks' span: each block adds
    // 2,500 transactions, and the blocks older than the span expire.
    let chain = Chain::generate(840_000, 10, 1_704_139_200, 600);
    let mut w = sorted_window(4 * 2500, 4 * 600);
    let mut priced = 0;
    for (i, b) in chain.blocks.iter().enumerate() {
        let block = Block::parse(&b.bytes).unwrap();
        w.expire(block.header().time());
        w.add_block(&block, b.height).unwrap();
        // Removed early, as a replaced transaction: every 50th of the block.
        for tx in block.transactions().step_by(50) {
            w.remove(&tx.txid());
        }
        for refinement in [Refinement::Reference, Refinement::Recentre] {
            let e = both_estimates(&mut w, refinement).unwrap();
            assert!(e.points_in_range > 100, "block {i}: {e:?}");
        }
        priced += 1;
    }
    assert_eq!(priced, 10);
    // An empty window: the same error both ways.
    w.expire(u32::MAX);
    assert_eq!(
        both_estimates(&mut w, Refinement::Reference),
        Err(EstimateError::NoOutputs)
    );
    // A window without amount storage says so.
    let mut plain = window(10, 10);
    assert_eq!(
        plain.estimate_sorted(Refinement::Reference, &mut [0.0; 4]),
        Err(EstimateError::Unsorted)
    );
}

#[test]
fn sorted_amounts_grow_with_the_window_and_size_is_checked() {
    let txs = real_txs();
    let mut w = sorted_window(100, 86_400);
    for raw in &txs[..100] {
        w.add_bytes(raw, 5, 0).unwrap();
    }
    let before = both_estimates(&mut w, Refinement::Reference);
    // The ring cannot outgrow the amounts: grow them first.
    let Err((w, WindowError::AmountsTooSmall)) = w.grow_into(
        vec![WindowEntry::default(); 3000],
        vec![0; window_index_slots_for(3000)],
    ) else {
        panic!("a ring larger than the amounts allow must be refused");
    };
    let Err((w, WindowError::AmountsTooSmall)) = w.grow_amounts_into(vec![0u64; 200]) else {
        panic!("fewer amount slots than two per ring entry must be refused");
    };
    let w = w
        .grow_amounts_into(vec![0u64; window_amount_slots_for(3000)])
        .unwrap();
    let mut w = w
        .grow_into(
            vec![WindowEntry::default(); 3000],
            vec![0; window_index_slots_for(3000)],
        )
        .unwrap();
    assert_eq!(both_estimates(&mut w, Refinement::Reference), before);
    for raw in &txs[100..] {
        w.add_bytes(raw, 6, 0).unwrap();
    }
    assert_eq!(
        both_estimates(&mut w, Refinement::Reference).map(|e| e.outputs),
        Ok(w.outputs().count())
    );
    assert_eq!(
        Window::with_amounts(
            vec![WindowEntry::default(); 100],
            vec![0u32; window_index_slots_for(100)],
            vec![0u64; 150],
            1
        )
        .err(),
        Some(WindowError::AmountsTooSmall)
    );
}

fn real_txs() -> Vec<Vec<u8>> {
    let block = Block::parse(bitcoin_test_data::blocks::mainnet_702861()).unwrap();
    block
        .transactions()
        .map(|t| t.as_bytes().to_vec())
        .collect()
}

#[test]
fn expiry_and_removal_leave_exactly_the_rest() {
    let txs = real_txs();
    let mut w = window(3000, 100);
    for (i, raw) in txs.iter().enumerate() {
        w.add_bytes(raw, 1000 + u32::try_from(i / 10).unwrap(), 0)
            .unwrap();
    }
    assert_eq!(w.len(), 2500);
    // Removed early: every third transaction.
    let removed: Vec<Txid> = txs
        .iter()
        .step_by(3)
        .map(|t| Transaction::parse(t).unwrap().txid())
        .collect();
    for id in &removed {
        assert!(w.remove(id));
        assert!(!w.remove(id), "a second removal finds nothing");
    }
    // Expired: first seen before 1000 + 150 at now = 1250 with a span of 100.
    let gone = w.expire(1250);
    let expected_live: Vec<Txid> = txs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0 && 1000 + u32::try_from(*i / 10).unwrap() + 100 > 1250)
        .map(|(_, t)| Transaction::parse(t).unwrap().txid())
        .collect();
    assert_eq!(w.len(), expected_live.len());
    assert_eq!(gone + removed.len() + expected_live.len(), 2500);
    for id in &expected_live {
        assert!(w.contains(id));
    }
    // The histogram holds exactly the outputs still listed.
    let mut h = Histogram::new();
    for o in w.outputs() {
        h.add(o.btc());
    }
    assert_eq!(&h, w.histogram());
    assert_eq!(w.bounds().map(|b| b.0), Some(1151));
    // Everything expires.
    w.expire(u32::MAX);
    assert!(w.is_empty());
    assert_eq!(w.histogram(), &Histogram::new());
}

#[test]
fn a_full_window_refuses_and_changes_nothing() {
    let txs = real_txs();
    let mut w = window(10, 100);
    for raw in &txs[..10] {
        w.add_bytes(raw, 5, 0).unwrap();
    }
    let before = w.histogram().clone();
    assert_eq!(w.add_bytes(&txs[10], 5, 0), Err(WindowError::Full));
    assert_eq!(w.histogram(), &before);
    assert_eq!(w.len(), 10);
    // Room comes back when a transaction leaves.
    assert!(w.remove(&Transaction::parse(&txs[0]).unwrap().txid()));
    // Taken as a new transaction (not a duplicate of one still held).
    assert!(matches!(
        w.add_bytes(&txs[10], 5, 0),
        Ok(Added::Used | Added::Filtered | Added::SpendsWindow)
    ));
    assert!(matches!(
        w.add_bytes(&[1, 2, 3], 5, 0),
        Err(WindowError::Parse(_))
    ));
    assert_eq!(
        Window::new(vec![WindowEntry::default(); 70], vec![0u32; 70], 1).err(),
        Some(WindowError::IndexTooSmall)
    );
}

/// A transaction left out for spending one the window holds says so, and
/// counts in a window without its parent; one a filter left out is
/// left out whatever the window holds.
#[test]
fn a_spend_of_the_window_is_told_from_a_filtered_transaction() {
    let txs = real_txs();
    let mut w = window(txs.len(), 100);
    let added: Vec<Added> = txs
        .iter()
        .map(|raw| w.add_bytes(raw, 10, 0).unwrap())
        .collect();
    let of = |wanted: Added| {
        txs.iter()
            .zip(&added)
            .filter(move |(_, &a)| a == wanted)
            .map(|(raw, _)| raw)
    };
    assert!(of(Added::SpendsWindow).count() > 10);
    assert!(of(Added::Filtered).count() > 100);
    for raw in of(Added::SpendsWindow) {
        let tx = Transaction::parse(raw).unwrap();
        assert!(tx.inputs().any(|i| w.contains(&Txid(*i.prev_txid))));
        assert_eq!(window(10, 100).add_bytes(raw, 10, 0), Ok(Added::Used));
    }
    for raw in of(Added::Filtered) {
        assert_eq!(window(10, 100).add_bytes(raw, 10, 0), Ok(Added::Filtered));
    }
}

#[test]
fn a_confirmation_does_not_remove_and_duplicates_change_nothing() {
    let txs = real_txs();
    // A transaction whose outputs count, so there are outputs to look at.
    let used = txs
        .iter()
        .find(|raw| window(10, 100).add_bytes(raw, 10, 0) == Ok(Added::Used))
        .expect("block 702861 has used transactions");
    let mut w = window(100, 100);
    assert_eq!(w.add_bytes(used, 10, 0), Ok(Added::Used));
    assert_eq!(w.add_bytes(used, 20, 702_861), Ok(Added::Duplicate));
    assert_eq!(w.len(), 1);
    // The confirmation gave the outputs a height; their first-seen time stays.
    let seen: Vec<(u32, u32)> = w.outputs().map(|o| (o.height, o.time)).collect();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|&s| s == (702_861, 10)), "{seen:?}");
}

#[derive(Debug, Clone)]
enum Op {
    Add(usize, u32),
    Remove(usize),
    Expire(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..300, 0u32..50).prop_map(|(i, dt)| Op::Add(i, dt)),
        2 => (0usize..300).prop_map(Op::Remove),
        1 => (0u32..60).prop_map(Op::Expire),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random adds (in time order), removals and expiries on a small ring:
    /// the window agrees with a model of what must be live, counts never
    /// underflow, the histogram always equals its listed outputs, and the
    /// sorted estimate equals the full pass.
    #[test]
    fn invariants_hold(ops in prop::collection::vec(op(), 1..200)) {
        let txs = real_txs();
        let ids: Vec<Txid> = txs.iter().map(|t| Transaction::parse(t).unwrap().txid()).collect();
        let mut w = sorted_window(64, 30);
        let mut model: HashMap<Txid, u32> = HashMap::new();
        let mut now = 0u32;
        for op in ops {
            match op {
                Op::Add(i, dt) => {
                    now += dt;
                    match w.add_bytes(&txs[i], now, 0) {
                        Ok(Added::Duplicate) => prop_assert!(model.contains_key(&ids[i])),
                        Ok(_) => { model.insert(ids[i], now); }
                        Err(WindowError::Full) => prop_assert!(!model.contains_key(&ids[i])),
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
                Op::Remove(i) => prop_assert_eq!(w.remove(&ids[i]), model.remove(&ids[i]).is_some()),
                Op::Expire(dt) => {
                    now += dt;
                    w.expire(now);
                    // Adds come in time order here, so expiry is exact.
                    model.retain(|_, t| *t + 30 > now);
                }
            }
            prop_assert_eq!(w.len(), model.len());
            for id in model.keys() {
                prop_assert!(w.contains(id));
            }
            let mut h = Histogram::new();
            for o in w.outputs() {
                h.add(o.btc());
            }
            prop_assert_eq!(&h, w.histogram());
        }
        // The sorted amounts followed every change (an estimate is slow
        // unoptimised: once a case, whose length is random).
        both_estimates(&mut w, Refinement::Reference).ok();
    }
}

#[test]
fn removed_transactions_free_their_room_at_once() {
    // Found by fuzzing: a removal in the middle of a full ring left the
    // window refusing adds with one place free.
    let txs = real_txs();
    let mut w = window(10, 100);
    for (i, raw) in txs[..10].iter().enumerate() {
        w.add_bytes(raw, u32::try_from(i).unwrap(), 0).unwrap();
    }
    for i in [3, 6] {
        assert!(w.remove(&Transaction::parse(&txs[i]).unwrap().txid()));
    }
    for (i, t) in [(10, 20), (11, 21)] {
        assert!(matches!(
            w.add_bytes(&txs[i], t, 0),
            Ok(Added::Used | Added::Filtered | Added::SpendsWindow)
        ));
    }
    assert_eq!(w.add_bytes(&txs[12], 22, 0), Err(WindowError::Full));
    // Arrival order survives the compaction: expiry takes the oldest first.
    assert_eq!(w.expire(100), 1);
    assert!(!w.contains(&Transaction::parse(&txs[0]).unwrap().txid()));
    assert!(w.contains(&Transaction::parse(&txs[1]).unwrap().txid()));
    let mut h = Histogram::new();
    for o in w.outputs() {
        h.add(o.btc());
    }
    assert_eq!(&h, w.histogram());
    let times: Vec<u32> = w.outputs().map(|o| o.time).collect();
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "{times:?}");
}

#[test]
fn a_grown_window_keeps_everything_and_prices_the_same() {
    let txs = real_txs();
    let mut small = window(txs.len(), 86_400);
    for (i, raw) in txs.iter().enumerate() {
        small
            .add_bytes(raw, 1_000 + u32::try_from(i).unwrap(), 7)
            .unwrap();
    }
    // A removal leaves a dead entry inside the ring; growing skips it.
    let gone = Transaction::parse(&txs[10]).unwrap().txid();
    assert!(small.remove(&gone));
    let full = txs.len();
    assert_eq!(
        small.add_bytes(&txs[10], 5_000, 0).map(|_| ()),
        Ok(()),
        "the removal made room for one"
    );
    let extra = Transaction::parse(&txs[11]).unwrap();
    let mut changed = extra.as_bytes().to_vec();
    let n = changed.len();
    changed[n - 1] ^= 1; // another lock time: another txid
    assert_eq!(small.add_bytes(&changed, 6_000, 0), Err(WindowError::Full));

    let (mut p1, mut s1) = (vec![PricePoint::default(); 20_000], vec![0.0; 20_000]);
    let (mut p2, mut s2) = (p1.clone(), s1.clone());
    let before = small.estimate(Refinement::Reference, &mut p1, &mut s1);
    let stats = small.stats();
    let histogram = small.histogram().clone();
    let outputs: Vec<RawOutput> = small.outputs().collect();

    let too_small = small.grow_into(
        vec![WindowEntry::default(); full - 1],
        vec![0; window_index_slots_for(full - 1)],
    );
    let Err((small, WindowError::Full)) = too_small else {
        panic!("a smaller ring must be refused");
    };
    let mut grown = small
        .grow_into(
            vec![WindowEntry::default(); 2 * full],
            vec![0; window_index_slots_for(2 * full)],
        )
        .unwrap();
    assert_eq!(grown.len(), full);
    assert_eq!(grown.stats(), stats);
    assert_eq!(grown.histogram(), &histogram);
    assert_eq!(grown.outputs().collect::<Vec<_>>(), outputs);
    assert_eq!(
        grown.estimate(Refinement::Reference, &mut p2, &mut s2),
        before
    );
    // The re-added transaction came last and unconfirmed; the rest at 7.
    assert_eq!(grown.height_of(&gone), Some(0));
    let first = Transaction::parse(&txs[0]).unwrap().txid();
    assert_eq!(grown.height_of(&first), Some(7));
    assert_eq!(
        grown.height_of(&Transaction::parse(&changed).unwrap().txid()),
        None
    );
    // And it has room again.
    grown.add_bytes(&changed, 6_000, 0).unwrap();
    assert_eq!(grown.len(), full + 1);
}
