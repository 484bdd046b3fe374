//! The checks behind each fuzz target, shared with the stable corpus replay.
//!
//! Each check panics (and so fails the fuzzer or the test) when an
//! invariant breaks; none may panic otherwise.

use bitcoin::consensus::deserialize_partial;
use bitcoin::hashes::Hash;
use fiatline_core::{
    estimate, txid_slots_for, Block, Histogram, PricePoint, RawOutput, Refinement, Run,
    Transaction, Txid,
};

/// Transaction parser: consumed + remaining equals the input, and accept,
/// reject and every field agree with rust-bitcoin.
pub fn check_tx(data: &[u8]) {
    let ours = Transaction::parse_prefix(data);
    let theirs = deserialize_partial::<bitcoin::Transaction>(data);
    match (ours, theirs) {
        (Ok((tx, rest)), Ok((btx, consumed))) => {
            assert_eq!(tx.len() + rest.len(), data.len());
            assert_eq!(tx.len(), consumed);
            same_tx(&tx, &btx);
        }
        (Err(e), Err(_)) => assert!(e.offset() <= data.len()),
        (ours, theirs) => panic!("disagree: ours {ours:?}, theirs {:?}", theirs.err()),
    }
}

/// Block parser: the same, over whole blocks, plus a run over the block
/// that must never panic and must leave the run unchanged on error.
pub fn check_block(data: &[u8]) {
    let ours = Block::parse_prefix(data);
    let theirs = deserialize_partial::<bitcoin::Block>(data);
    match (&ours, &theirs) {
        (Ok((b, rest)), Ok((bb, consumed))) => {
            assert_eq!(data.len() - rest.len(), *consumed);
            assert_eq!(b.tx_count(), bb.txdata.len());
            assert_eq!(b.header().time(), bb.header.time);
            for (tx, btx) in b.transactions().zip(&bb.txdata) {
                same_tx(&tx, btx);
            }
        }
        (Err(_), Err(_)) => {}
        _ => panic!("disagree on a block: ours {ours:?}"),
    }
    let mut slots = [Txid::default(); 64];
    let mut outputs = [RawOutput::default(); 64];
    let mut run = Run::new(&mut slots, &mut outputs);
    let before = run.stats();
    if run.add_block_bytes(data, 1).is_err() {
        assert_eq!(run.stats(), before);
        assert_eq!(run.seen().len(), 0);
    }
    let mut points = [PricePoint::default(); 256];
    let mut scratch = [0.0; 256];
    if let Ok(e) = run.estimate(Refinement::Reference, &mut points, &mut scratch) {
        assert!(e.price.is_finite() && (0.0..=1.0).contains(&e.confidence));
    }
}

/// Estimator: arbitrary amounts (8 bytes each) give a finite price or a
/// typed error, never a panic.
pub fn check_estimate(data: &[u8]) {
    let mut histogram = Histogram::new();
    let outputs: Vec<RawOutput> = data
        .chunks_exact(8)
        .map(|c| RawOutput {
            sats: u64::from_le_bytes(c.try_into().unwrap_or_default()) % 2_100_000_000_000_000,
            height: 0,
            time: 0,
        })
        .filter(|o| histogram.add(o.btc()).is_some())
        .collect();
    let n = outputs.len() * 14 + 1;
    let (mut points, mut scratch) = (vec![PricePoint::default(); n], vec![0.0; n]);
    for refinement in [Refinement::Reference, Refinement::Recentre] {
        if let Ok(e) = estimate(&histogram, &outputs, refinement, &mut points, &mut scratch) {
            assert!(e.price.is_finite() && e.price > 0.0);
            assert!((0.0..=1.0).contains(&e.confidence));
            assert!(e.points_in_range <= e.points);
        }
    }
    let _ = txid_slots_for(outputs.len());
}

fn same_tx(tx: &Transaction<'_>, btx: &bitcoin::Transaction) {
    assert_eq!(tx.version(), btx.version.0);
    assert_eq!(tx.lock_time(), btx.lock_time.to_consensus_u32());
    assert_eq!(tx.inputs().count(), btx.input.len());
    assert_eq!(tx.outputs().count(), btx.output.len());
    for (a, b) in tx.inputs().zip(&btx.input) {
        assert_eq!(a.prev_txid, b.previous_output.txid.as_byte_array());
        assert_eq!(a.prev_vout, b.previous_output.vout);
        assert_eq!(a.script_sig, b.script_sig.as_bytes());
        assert_eq!(a.sequence, b.sequence.0);
    }
    for (a, b) in tx.outputs().zip(&btx.output) {
        assert_eq!(a.value, b.value.to_sat());
        assert_eq!(a.script_pubkey, b.script_pubkey.as_bytes());
    }
    if tx.is_segwit() {
        for (a, b) in tx.witnesses().zip(&btx.input) {
            assert!(a.eq(b.witness.iter()));
        }
    }
    assert_eq!(tx.txid().as_bytes(), btx.compute_txid().as_byte_array());
}
