//! The parser accepts and rejects the same byte strings as rust-bitcoin's
//! consensus decoding, and extracts the same fields.

use bitcoin::consensus::{deserialize, deserialize_partial};
use bitcoin::hashes::Hash;
use fiatline_core::{Block, Transaction};
use proptest::prelude::*;

fn block_702861() -> &'static [u8] {
    bitcoin_test_data::blocks::mainnet_702861()
}

/// Asserts every field of our view equals rust-bitcoin's decoded value.
fn assert_same_tx(ours: &Transaction<'_>, theirs: &bitcoin::Transaction) {
    assert_eq!(ours.version(), theirs.version.0);
    assert_eq!(ours.lock_time(), theirs.lock_time.to_consensus_u32());
    assert_eq!(ours.input_count(), theirs.input.len());
    assert_eq!(ours.output_count(), theirs.output.len());
    // `is_segwit` describes the serialisation; rust-bitcoin only keeps
    // witnesses. They differ for a flagged transaction with no inputs alone
    // (with inputs, all-empty witnesses are rejected by both).
    let has_witness = theirs.input.iter().any(|i| !i.witness.is_empty());
    assert!(ours.is_segwit() == has_witness || (ours.is_segwit() && theirs.input.is_empty()));
    for (a, b) in ours.inputs().zip(&theirs.input) {
        assert_eq!(a.prev_txid, b.previous_output.txid.as_byte_array());
        assert_eq!(a.prev_vout, b.previous_output.vout);
        assert_eq!(a.script_sig, b.script_sig.as_bytes());
        assert_eq!(a.sequence, b.sequence.0);
        assert_eq!(a.is_coinbase(), b.previous_output.is_null());
    }
    assert_eq!(ours.inputs().count(), theirs.input.len());
    for (a, b) in ours.outputs().zip(&theirs.output) {
        assert_eq!(a.value, b.value.to_sat());
        assert_eq!(a.script_pubkey, b.script_pubkey.as_bytes());
        assert_eq!(
            a.is_op_return(),
            b.script_pubkey.as_bytes().first() == Some(&0x6a)
        );
    }
    assert_eq!(ours.outputs().count(), theirs.output.len());
    if ours.is_segwit() {
        assert_eq!(ours.witnesses().count(), theirs.input.len());
        for (a, b) in ours.witnesses().zip(&theirs.input) {
            assert!(a.eq(b.witness.iter()));
        }
    } else {
        assert_eq!(ours.witnesses().count(), 0);
    }
    assert_eq!(
        ours.txid().as_bytes(),
        theirs.compute_txid().as_byte_array()
    );
}

/// Parses `bytes` as a transaction both ways; they must agree on
/// acceptance, on the bytes consumed and on every field.
fn differential_tx(bytes: &[u8]) {
    let ours = Transaction::parse_prefix(bytes);
    let theirs = deserialize_partial::<bitcoin::Transaction>(bytes);
    match (&ours, &theirs) {
        (Ok((tx, rest)), Ok((btx, consumed))) => {
            assert_eq!(bytes.len() - rest.len(), *consumed);
            assert_same_tx(tx, btx);
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "disagree on {}: ours {ours:?}, theirs {theirs:?}",
            hex(bytes)
        ),
    }
    // Whole-input parsing, as `deserialize` does it, also agrees.
    assert_eq!(
        Transaction::parse(bytes).is_ok(),
        deserialize::<bitcoin::Transaction>(bytes).is_ok(),
        "{}",
        hex(bytes)
    );
}

fn differential_block(bytes: &[u8]) {
    let ours = Block::parse(bytes);
    let theirs = deserialize::<bitcoin::Block>(bytes);
    match (&ours, &theirs) {
        (Ok(b), Ok(bb)) => {
            let h = b.header();
            assert_eq!(h.version(), bb.header.version.to_consensus());
            assert_eq!(h.prev_blockhash(), bb.header.prev_blockhash.as_byte_array());
            assert_eq!(h.merkle_root(), bb.header.merkle_root.as_byte_array());
            assert_eq!(h.time(), bb.header.time);
            assert_eq!(h.bits(), bb.header.bits.to_consensus());
            assert_eq!(h.nonce(), bb.header.nonce);
            assert_eq!(&h.block_hash(), bb.block_hash().as_byte_array());
            assert_eq!(b.tx_count(), bb.txdata.len());
            for (a, t) in b.transactions().zip(&bb.txdata) {
                assert_same_tx(&a, t);
            }
            assert_eq!(b.transactions().count(), bb.txdata.len());
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "disagree on a block: ours {ours:?}, theirs {:?}",
            theirs.as_ref().err()
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bitcoin::hex::DisplayHex::to_lower_hex_string(bytes)
}

/// Every transaction of block 702861, by its serialisation.
fn real_txs() -> Vec<Vec<u8>> {
    let block: bitcoin::Block = deserialize(block_702861()).unwrap();
    block
        .txdata
        .iter()
        .map(bitcoin::consensus::serialize)
        .collect()
}

#[test]
fn every_transaction_of_block_702861() {
    let txs = real_txs();
    assert_eq!(txs.len(), 2500);
    let mut segwit = 0;
    for bytes in &txs {
        let tx = Transaction::parse(bytes).unwrap();
        segwit += usize::from(tx.is_segwit());
        differential_tx(bytes);
    }
    // Both kinds are exercised.
    assert!(segwit > 100 && segwit < 2500, "{segwit}");
}

#[test]
fn block_702861_whole() {
    differential_block(block_702861());
    let block = Block::parse(block_702861()).unwrap();
    assert_eq!(block.bip34_height(), Some(702_861));
    // 2021-09-30 11:50 UTC.
    assert_eq!(block.header().time() / 60, 1_633_002_600 / 60);
}

#[test]
fn every_truncation_of_a_segwit_and_a_legacy_transaction() {
    let txs = real_txs();
    let segwit = txs
        .iter()
        .find(|t| Transaction::parse(t).unwrap().is_segwit())
        .unwrap();
    let legacy = txs
        .iter()
        .skip(1)
        .find(|t| !Transaction::parse(t).unwrap().is_segwit())
        .unwrap();
    for tx in [segwit, legacy] {
        for len in 0..=tx.len() {
            differential_tx(&tx[..len]);
        }
        let mut longer = tx.clone();
        longer.push(0);
        differential_tx(&longer);
    }
}

#[test]
fn hand_made_malformed_transactions() {
    let cases: &[&str] = &[
        "",
        "01000000",
        // zero inputs, then an unsupported segwit flag
        "010000000002",
        // segwit flag, no inputs, no outputs: valid for rust-bitcoin
        "010000000001000000000000",
        // segwit flag, one input, every witness empty
        "0100000000010100000000000000000000000000000000000000000000000000000000000000000000000000ffffffff0100000000000000000000000000",
        // non-minimal input count (0xfd 0x0100)
        "01000000fd0100",
        // a count that claims far more inputs than bytes remain
        "01000000ffffffffffffffffff",
        "01000000feffffffff",
        // one input whose script length runs past the end
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4f",
        // a legacy transaction with one input and no outputs
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff00ffffffff0000000000",
        // a witness item count beyond the remaining bytes
        "0100000000010100000000000000000000000000000000000000000000000000000000000000000000000000ffffffff0100000000000000000005",
        // a witness with a non-minimal item length
        "0100000000010100000000000000000000000000000000000000000000000000000000000000000000000000ffffffff010000000000000000000001fd010000000000",
    ];
    for case in cases {
        let bytes = <Vec<u8> as bitcoin::hex::FromHex>::from_hex(case).unwrap();
        differential_tx(&bytes);
    }
}

#[test]
fn truncated_and_padded_blocks() {
    let block = block_702861();
    for len in [0, 79, 80, 81, 82, 83, 500, 100_000, block.len() - 1] {
        differential_block(&block[..len]);
    }
    let mut padded = block.to_vec();
    padded.push(0);
    differential_block(&padded);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Real transactions with bytes overwritten, inserted or cut.
    #[test]
    fn mutated_real_transactions(
        index in 0usize..2500,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let txs = real_txs_cached();
        let mut bytes = txs[index].clone();
        for (at, byte, op) in edits {
            let at = at.index(bytes.len().max(1));
            match op {
                0 if !bytes.is_empty() => bytes[at] = byte,
                1 => bytes.insert(at.min(bytes.len()), byte),
                _ => bytes.truncate(at),
            }
        }
        differential_tx(&bytes);
    }

    /// Arbitrary bytes behind a plausible start, so parsing gets past the version.
    #[test]
    fn arbitrary_bytes(tail in prop::collection::vec(any::<u8>(), 0..300), segwit in any::<bool>()) {
        let mut bytes = vec![2, 0, 0, 0];
        if segwit {
            bytes.extend([0, 1]);
        }
        bytes.extend(tail);
        differential_tx(&bytes);
    }
}

fn real_txs_cached() -> &'static Vec<Vec<u8>> {
    static TXS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    TXS.get_or_init(real_txs)
}
