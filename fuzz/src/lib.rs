//! The checks behind each fuzz target, shared with the stable corpus replay.
//!
//! Each check panics (and so fails the fuzzer or the test) when an
//! invariant breaks; none may panic otherwise.

use bitcoin::consensus::deserialize_partial;
use bitcoin::hashes::Hash;
use fiatline_adapters::replay::parse_line;
use fiatline_adapters::zmq_message::decode;
use fiatline_adapters::LiveEvent;
use fiatline_core::{
    estimate, txid_slots_for, Block, Histogram, PricePoint, RawOutput, Refinement, Run,
    Transaction, Txid,
};
use fiatline_core::{
    window_amount_slots_for, window_index_slots_for, Window, WindowEntry, WindowError,
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
            let (h, bh) = (b.header(), &bb.header);
            assert_eq!(h.version(), bh.version.to_consensus());
            assert_eq!(h.prev_blockhash(), bh.prev_blockhash.as_byte_array());
            assert_eq!(h.merkle_root(), bh.merkle_root.as_byte_array());
            assert_eq!(h.time(), bh.time);
            assert_eq!(h.bits(), bh.bits.to_consensus());
            assert_eq!(h.nonce(), bh.nonce);
            assert_eq!(h.block_hash(), *bh.block_hash().as_byte_array());
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
    // Enough slots for every txid, at the load the set is built for.
    assert!(txid_slots_for(outputs.len()) > outputs.len());
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

/// A few real transactions for the window to take in.
fn real_txs() -> &'static [(Txid, Vec<u8>)] {
    static TXS: std::sync::OnceLock<Vec<(Txid, Vec<u8>)>> = std::sync::OnceLock::new();
    TXS.get_or_init(|| {
        let block = Block::parse(bitcoin_test_data::blocks::mainnet_702861())
            .unwrap_or_else(|_| unreachable!());
        block
            .transactions()
            .take(64)
            .map(|t| (t.txid(), t.as_bytes().to_vec()))
            .collect()
    })
}

/// Window: arbitrary adds (in time order), removals and expiries, three
/// bytes each, on a ring of 16: counts never go wrong, the histogram is
/// always the sum of the listed outputs, and the estimate from the sorted
/// amounts is the full pass's. The input also goes in whole as a
/// transaction, which must fail cleanly or be taken.
pub fn check_window(data: &[u8]) {
    let txs = real_txs();
    let mut w = Window::with_amounts(
        vec![WindowEntry::default(); 16],
        vec![0; window_index_slots_for(16)],
        vec![0; window_amount_slots_for(16)],
        20,
    )
    .unwrap_or_else(|_| unreachable!());
    let mut now = 0u32;
    for op in data.chunks_exact(3) {
        let (kind, which, step) = (
            op[0] % 3,
            usize::from(op[1]) % txs.len(),
            u32::from(op[2] % 8),
        );
        let before = w.len();
        match kind {
            0 => {
                now += step;
                match w.add_bytes(&txs[which].1, now, 0) {
                    Ok(_) => assert!(w.len() <= before + 1),
                    Err(WindowError::Full) => assert_eq!(w.len(), 16),
                    Err(e) => panic!("a real transaction refused: {e}"),
                }
            }
            1 => {
                let had = w.contains(&txs[which].0);
                assert_eq!(w.remove(&txs[which].0), had);
                assert_eq!(w.len(), before - usize::from(had));
            }
            _ => {
                now += step;
                let gone = w.expire(now);
                assert_eq!(w.len(), before - gone);
            }
        }
        let mut h = Histogram::new();
        for o in w.outputs() {
            h.add(o.btc());
        }
        assert_eq!(&h, w.histogram());
    }
    let _ = w.add_bytes(data, now, 0);
    let mut points = vec![PricePoint::default(); 256];
    let mut scratch = vec![0.0; 256];
    let full = w.estimate(Refinement::Reference, &mut points, &mut scratch);
    if let Ok(e) = full {
        assert!(e.price.is_finite() && (0.0..=1.0).contains(&e.confidence));
    }
    assert_eq!(w.estimate_sorted(Refinement::Reference, &mut scratch), full);
}

/// Recording lines: any text either parses to a transaction or is refused.
pub fn check_replay_line(data: &[u8]) {
    if let Ok((_, raw)) = parse_line(&String::from_utf8_lossy(data)) {
        assert!(Transaction::parse(&raw).is_ok());
    }
}

/// ZMQ messages: the input is split into frames (a count byte, then each
/// frame as a 2-byte length and its bytes); decoding never panics, and
/// what it accepts is what Core would send.
pub fn check_zmq_message(data: &[u8]) {
    let Some((&count, mut rest)) = data.split_first() else {
        return;
    };
    let mut frames = Vec::new();
    for _ in 0..count % 5 {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        frames.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    if let Ok(d) = decode(&frames, 7) {
        assert_eq!(frames.len(), 3);
        match d.event {
            Some(LiveEvent::Tx { raw, time }) => {
                assert!(time == 7 && Transaction::parse(&raw).is_ok())
            }
            Some(LiveEvent::Block { raw, .. }) => assert!(Block::parse(&raw).is_ok()),
            Some(LiveEvent::Gone { .. } | LiveEvent::Disconnected { .. }) => {
                assert_eq!(d.topic, "sequence")
            }
            None => assert_eq!(d.topic, "sequence"),
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
}
