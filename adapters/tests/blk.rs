//! Block files as a real node leaves them: obfuscated records followed by a
//! preallocated tail of zeros on disk, the genesis block and coinbases that
//! predate BIP 34, coinbases wider than the scan's first read, other
//! networks' magic, and stale branches.

use fiatline_adapters::blk::BlkSource;
use fiatline_adapters::{BlockSource, Network};
use fiatline_testkit::blk::{write_blocks, MAINNET_MAGIC, REGTEST_MAGIC, TESTNET4_MAGIC};
use fiatline_testkit::{Chain, TempDirPath, PRE_BIP34_PUSH};

const KEY: [u8; 8] = [0x5a, 0x11, 0xe3, 0x07, 0x99, 0x2c, 0x40, 0xbe];
const START: u32 = 1_700_000_000;

fn all(chain: &Chain) -> Vec<usize> {
    (0..chain.blocks.len()).collect()
}

#[test]
fn an_obfuscated_file_ends_at_its_zero_tail() {
    let chain = Chain::generate_light(900_000, (0..7).map(|i| START + i * 600).collect(), 20);
    let dir = TempDirPath::new("blk-tail");
    write_blocks(&dir, MAINNET_MAGIC, &chain, &all(&chain), 3, Some(KEY));
    // The tail is there, zeros on disk (not the key).
    let file = std::fs::read(dir.join("blk00000.dat")).unwrap();
    assert_eq!(file.len() % (64 * 1024), 0);
    assert!(file.ends_with(&[0; 64]));
    let s = BlkSource::open(&dir).unwrap();
    assert_eq!(s.tip_height().unwrap(), 900_006);
    for b in &chain.blocks {
        let r = s.block_ref(b.height).unwrap();
        assert_eq!(r.hash.0, b.hash);
        assert_eq!(s.raw_block(&r).unwrap(), b.bytes);
    }
}

#[test]
fn heights_follow_the_links_from_the_genesis_block() {
    // Regtest: BIP 34 from height 1; the genesis coinbase says nothing of it.
    let chain = Chain::from_genesis(8, START, 600, 10, 1);
    let dir = TempDirPath::new("blk-regtest");
    write_blocks(&dir, REGTEST_MAGIC, &chain, &all(&chain), 3, Some(KEY));
    let s = BlkSource::open_network(&dir, Network::Regtest).unwrap();
    assert_eq!(s.tip_height().unwrap(), 7);
    assert_eq!(s.block_ref(0).unwrap().hash.0, chain.blocks[0].hash);
    assert_eq!(s.block_ref(7).unwrap().hash.0, chain.blocks[7].hash);

    // Mainnet's early history: coinbases before the activation height read
    // as 0x1dffff, far above the tip; the links give the heights.
    let old = Chain::from_genesis(12, START, 600, 10, 9);
    let dir = TempDirPath::new("blk-pre-bip34");
    write_blocks(&dir, MAINNET_MAGIC, &old, &all(&old), 4, None);
    let s = BlkSource::open(&dir).unwrap();
    const { assert!(PRE_BIP34_PUSH > 11) };
    assert_eq!(s.tip_height().unwrap(), 11);
    for h in [0, 3, 8, 9, 11] {
        assert_eq!(
            s.block_ref(h).unwrap().hash.0,
            old.blocks[h as usize].hash,
            "{h}"
        );
    }
}

#[test]
fn without_the_genesis_block_agreeing_bip34_heights_anchor_the_chain() {
    // A pruned node keeps only recent files: heights 900,000.. with real
    // BIP 34 heights; the oldest blocks kept still get their heights by link.
    let chain = Chain::generate_light(900_000, (0..9).map(|i| START + i * 600).collect(), 10);
    let dir = TempDirPath::new("blk-pruned");
    write_blocks(
        &dir,
        MAINNET_MAGIC,
        &chain,
        &[2, 3, 4, 5, 6, 7, 8],
        3,
        Some(KEY),
    );
    let s = BlkSource::open(&dir).unwrap();
    assert_eq!(s.tip_height().unwrap(), 900_008);
    assert_eq!(s.block_ref(900_002).unwrap().hash.0, chain.blocks[2].hash);
    assert!(s.block_ref(900_001).is_err(), "pruned away");
}

#[test]
fn a_stale_branch_is_skipped_as_the_node_skips_it() {
    let main = Chain::generate_light(900_000, (0..10).map(|i| START + i * 600).collect(), 10);
    // A two-block branch off 900,006 that lost: received first, then the
    // reorganisation's three blocks (which Core appends after it).
    let stale = main.fork(900_006, 2, START + 6 * 600 + 7, 600, 10);
    let mut both = main.clone();
    both.blocks.extend(stale.blocks.iter().cloned());
    let order = [0, 1, 2, 3, 4, 5, 10, 11, 6, 7, 8, 9];
    let dir = TempDirPath::new("blk-stale");
    write_blocks(&dir, MAINNET_MAGIC, &both, &order, 4, Some(KEY));
    let s = BlkSource::open(&dir).unwrap();
    assert_eq!(s.tip_height().unwrap(), 900_009);
    for h in 900_000..=900_009 {
        assert_eq!(
            s.block_ref(h).unwrap().hash.0,
            main.at(h).unwrap().hash,
            "{h}"
        );
    }

    // Two tips at the same height: the first seen stays best, as in Core.
    let rival = main.fork(900_009, 1, START + 9 * 600 + 5, 600, 10);
    let mut tied = main.clone();
    tied.blocks.push(rival.blocks[0].clone());
    let dir = TempDirPath::new("blk-tie");
    write_blocks(&dir, MAINNET_MAGIC, &tied, &all(&tied), 20, None);
    let s = BlkSource::open(&dir).unwrap();
    assert_eq!(s.block_ref(900_009).unwrap().hash.0, main.blocks[9].hash);
}

#[test]
fn each_network_reads_its_own_magic_and_names_the_others() {
    let chain = Chain::from_genesis(3, START, 600, 5, 1);
    let dir = TempDirPath::new("blk-testnet4");
    write_blocks(&dir, TESTNET4_MAGIC, &chain, &all(&chain), 3, None);
    let s = BlkSource::open_network(&dir, Network::Testnet4).unwrap();
    assert_eq!(s.tip_height().unwrap(), 2);
    let e = BlkSource::open(&dir).unwrap().tip_height().unwrap_err();
    assert!(e.is_bad_input());
    assert!(
        e.to_string()
            .contains("holds testnet4 blocks, not main: pass --chain testnet4"),
        "{e}"
    );
    // Bytes that are no network's magic: a damaged file.
    std::fs::write(dir.join("blk00001.dat"), [1u8; 100]).unwrap();
    let e = BlkSource::open_network(&dir, Network::Testnet4)
        .unwrap()
        .tip_height()
        .unwrap_err();
    assert!(e.to_string().contains("which is no network's"), "{e}");
}

/// A coinbase with the BIP 34 push of `height` paying `outputs` outputs of
/// 25-byte scripts: past 4 KiB from a few hundred, as some pools pay.
fn wide_coinbase(height: u32, outputs: u16) -> Vec<u8> {
    let mut tx = vec![1, 0, 0, 0, 1];
    tx.extend_from_slice(&[0; 32]);
    tx.extend_from_slice(&[0xff; 4]);
    tx.extend_from_slice(&[4, 3]);
    tx.extend_from_slice(&height.to_le_bytes()[..3]);
    tx.extend_from_slice(&[0xff; 4]);
    tx.push(0xfd);
    tx.extend_from_slice(&outputs.to_le_bytes());
    for _ in 0..outputs {
        tx.extend_from_slice(&1_000u64.to_le_bytes());
        tx.push(25);
        tx.extend_from_slice(&[0x76, 0xa9, 0x14]);
        tx.extend_from_slice(&[7; 20]);
        tx.extend_from_slice(&[0x88, 0xac]);
    }
    tx.extend_from_slice(&[0; 4]);
    tx
}

#[test]
fn a_coinbase_longer_than_the_head_read_still_gives_its_height() {
    // Two blocks, no genesis: their agreeing BIP 34 heights are the only
    // anchor, and each coinbase (300 outputs, ~10 KB) runs past the head
    // the scan reads first.
    let mut chain = Chain::generate_light(900_000, vec![START, START + 600], 1);
    for b in &mut chain.blocks {
        let coinbase = wide_coinbase(b.height, 300);
        assert!(coinbase.len() > 8_000);
        b.bytes.truncate(80);
        b.bytes.push(1);
        b.bytes.extend_from_slice(&coinbase);
    }
    let dir = TempDirPath::new("blk-wide-coinbase");
    write_blocks(&dir, MAINNET_MAGIC, &chain, &all(&chain), 90, Some(KEY));
    let s = BlkSource::open(&dir).unwrap();
    assert_eq!(s.tip_height().unwrap(), 900_001);
    let tip = s.block_ref(900_001).unwrap();
    assert_eq!(tip.hash.0, chain.blocks[1].hash);
    assert_eq!(s.raw_block(&tip).unwrap(), chain.blocks[1].bytes);
}
