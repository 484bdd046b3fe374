//! Test data and loopback servers for fiatline's tests.
//!
//! [`Chain`] builds a chain of blocks from real mainnet block 702861: each
//! block is a copy with its own header (linked by previous-block hash, with a
//! chosen time), its coinbase height rewritten (BIP 34) and its transactions'
//! lock times changed so every txid is new. The servers speak the real
//! protocols over loopback: [`rpc::RpcServer`] (Bitcoin Core JSON-RPC over
//! HTTP), [`esplora::EsploraServer`] (REST), [`electrum::ElectrumServer`]
//! (line-delimited JSON-RPC over TCP), and [`blk::write_blocks_dir`] lays out
//! `blk*.dat` files as Core does.

// Test support: it panics on setup failures by design.
#![allow(clippy::missing_panics_doc)]

pub mod blk;
pub mod electrum;
pub mod esplora;
mod http;
pub mod process;
pub mod refined;
pub mod rpc;
pub mod tls;
pub mod zmq;

use fiatline_core::{Block, Transaction};
use sha2::{Digest, Sha256};

/// Binds a loopback listener. A restarted server asks for its old port,
/// which its previous accept thread may hold a little longer (it finishes
/// the request in hand first): keep trying for a few seconds.
pub(crate) fn bind(addr: &str) -> std::net::TcpListener {
    let start = std::time::Instant::now();
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(l) => return l,
            Err(_) if start.elapsed() < std::time::Duration::from_secs(10) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

/// Double SHA-256.
pub fn sha256d(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(bytes)).into()
}

/// Hex of a hash in display order (reversed).
pub fn display_hex(hash: &[u8; 32]) -> String {
    let mut h = *hash;
    h.reverse();
    hex::encode(h)
}

/// Real mainnet block 702861.
pub fn block_702861() -> &'static [u8] {
    bitcoin_test_data::blocks::mainnet_702861()
}

fn push_compact_size(out: &mut Vec<u8>, n: usize) {
    // Little-endian, cut to the width the prefix announces.
    let le = (n as u64).to_le_bytes();
    match n {
        0..=0xfc => out.extend_from_slice(&le[..1]),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&le[..2]);
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&le[..4]);
        }
    }
}

/// What a pre-BIP 34 coinbase of [`Chain::from_genesis`] seems to say.
pub const PRE_BIP34_PUSH: u32 = 0x1d_ffff;

/// A block of a generated chain.
#[derive(Debug, Clone)]
pub struct ChainBlock {
    /// Height in the chain.
    pub height: u32,
    /// Serialised block.
    pub bytes: Vec<u8>,
    /// Block hash, internal byte order.
    pub hash: [u8; 32],
    /// Header time.
    pub time: u32,
    /// Each transaction: (txid in internal order, raw bytes).
    pub txs: Vec<([u8; 32], Vec<u8>)>,
}

/// A chain of blocks, heights `first..first + len`.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The blocks, lowest height first.
    pub blocks: Vec<ChainBlock>,
}

impl Chain {
    /// Builds `count` blocks from height `first`, the first at `start_time`
    /// and each next `spacing` seconds later.
    pub fn generate(first: u32, count: u32, start_time: u32, spacing: u32) -> Self {
        Self::generate_with_times(
            first,
            (0..count).map(|i| start_time + i * spacing).collect(),
        )
    }

    /// Builds one block per time given, from height `first`.
    pub fn generate_with_times(first: u32, times: Vec<u32>) -> Self {
        Self::build(first, times, |_| usize::MAX)
    }

    /// Three full blocks from `first`, found 3,000, 2,000 and 1,000 seconds
    /// ago: a live window's first fill.
    pub fn last_hour(first: u32) -> Self {
        let now = process::unix_now();
        Self::generate_with_times(first, vec![now - 3000, now - 2000, now - 1000])
    }

    /// As [`Chain::generate_with_times`], with only the first `txs`
    /// transactions of block 702861 in each block: light blocks for tests
    /// that need many of them and no price.
    pub fn generate_light(first: u32, times: Vec<u32>, txs: usize) -> Self {
        Self::build(first, times, |_| txs)
    }

    /// As [`Chain::generate_with_times`], with `txs(i)` transactions in the
    /// `i`th block (all of them for `usize::MAX`).
    pub fn generate_with(first: u32, times: Vec<u32>, txs: impl Fn(usize) -> usize) -> Self {
        Self::build(first, times, txs)
    }

    /// As [`Chain::generate_with`], with every output amount of the `i`th
    /// block (coinbase aside) scaled by `ppm(i)` parts per million (so
    /// 1,000,000 keeps it): blocks whose amounts
    /// differ as real blocks' do, so a window sliding over them changes
    /// what it holds, and its price moves as the scale drifts.
    pub fn generate_scaled(
        first: u32,
        times: Vec<u32>,
        txs: impl Fn(usize) -> usize,
        ppm: impl Fn(usize) -> u64,
    ) -> Self {
        let parsed = Block::parse(block_702861()).expect("block 702861 parses");
        let prev = *parsed.header().prev_blockhash();
        Self::build_from(first, times, txs, prev, |h| h, 0, &ppm)
    }

    /// A chain from its genesis block (height 0, no parent), `txs`
    /// transactions a block, as regtest or a node's whole history starts:
    /// below `bip34_height` the coinbases' first push is not the height but
    /// a large number (0x1dffff, as the nBits that early coinbases pushed).
    pub fn from_genesis(
        count: u32,
        start_time: u32,
        spacing: u32,
        txs: usize,
        bip34_height: u32,
    ) -> Self {
        let times = (0..count).map(|i| start_time + i * spacing).collect();
        Self::build_from(
            0,
            times,
            |_| txs,
            [0; 32],
            |h| {
                if h < bip34_height {
                    PRE_BIP34_PUSH
                } else {
                    h
                }
            },
            0,
            &|_| MILLION,
        )
    }

    /// A branch off this chain: `count` blocks from `height` (whose parent is
    /// this chain's block at `height - 1`), with other times so other
    /// hashes, `txs` transactions each: a stale branch, or the better one.
    #[must_use]
    pub fn fork(&self, height: u32, count: u32, start_time: u32, spacing: u32, txs: usize) -> Self {
        let parent = self.at(height - 1).expect("the fork's parent").hash;
        let times = (0..count).map(|i| start_time + i * spacing).collect();
        Self::build_from(height, times, |_| txs, parent, |h| h, 0, &|_| MILLION)
    }

    /// As [`Chain::generate`] with `txs/2` to `txs` transactions a block
    /// (varying from block to block), where every
    /// transaction after the first block spends, by its first input that
    /// spends nothing in its own block, a transaction 1 to `reach` blocks
    /// back (where the chain reaches that far): the spends across blocks a
    /// window's same-day rule must follow as the window slides.
    pub fn generate_spending_back(
        first: u32,
        count: u32,
        start_time: u32,
        spacing: u32,
        txs: usize,
        reach: u32,
    ) -> Self {
        let parsed = Block::parse(block_702861()).expect("block 702861 parses");
        let prev = *parsed.header().prev_blockhash();
        let times = (0..count).map(|i| start_time + i * spacing).collect();
        // Blocks of different sizes, so no two windows hold the same.
        let keep = move |i: usize| txs - (i * 37) % (txs / 2).max(1);
        Self::build_from(first, times, keep, prev, |h| h, reach, &|_| MILLION)
    }

    fn build(first: u32, times: Vec<u32>, keep: impl Fn(usize) -> usize) -> Self {
        let parsed = Block::parse(block_702861()).expect("block 702861 parses");
        let prev = *parsed.header().prev_blockhash();
        Self::build_from(first, times, keep, prev, |h| h, 0, &|_| MILLION)
    }

    fn build_from(
        first: u32,
        times: Vec<u32>,
        keep: impl Fn(usize) -> usize,
        parent: [u8; 32],
        coinbase_height: impl Fn(u32) -> u32,
        reach: u32,
        ppm: &dyn Fn(usize) -> u64,
    ) -> Self {
        let original = block_702861();
        let parsed = Block::parse(original).expect("block 702861 parses");
        let all: Vec<&[u8]> = parsed.transactions().map(|tx| tx.as_bytes()).collect();
        let mut prev = parent;
        let mut blocks = Vec::with_capacity(times.len());
        for (i, time) in times.into_iter().enumerate() {
            let height = first + u32::try_from(i).expect("fewer than 2^32 blocks");
            let kept = &all[..keep(i).min(all.len())];
            let mut bytes = original[..80].to_vec();
            bytes[4..36].copy_from_slice(&prev);
            bytes[68..72].copy_from_slice(&time.to_le_bytes());
            push_compact_size(&mut bytes, kept.len());
            let mut txs = Vec::with_capacity(kept.len());
            let mut renamed = std::collections::HashMap::new();
            for (n, tx) in kept.iter().enumerate() {
                let mut raw = tx.to_vec();
                if n == 0 {
                    // The coinbase script starts with a 3-byte push of the
                    // height (BIP 34); rewrite it in place.
                    let at = raw
                        .windows(4)
                        .position(|w| w == [0x03, 0x8d, 0xb9, 0x0a])
                        .expect("BIP 34 push");
                    raw[at + 1..at + 4]
                        .copy_from_slice(&coinbase_height(height).to_le_bytes()[..3]);
                } else {
                    // Spends of earlier transactions of the block follow
                    // them to their new txids, so parents stay parents.
                    let tx = Transaction::parse(&raw).expect("tx");
                    let at: Vec<(usize, [u8; 32])> = tx
                        .inputs()
                        .filter_map(|i| {
                            let new = renamed.get(i.prev_txid)?;
                            Some((i.prev_txid.as_ptr() as usize - raw.as_ptr() as usize, *new))
                        })
                        .collect();
                    let outside = tx
                        .inputs()
                        .map(|i| i.prev_txid.as_ptr() as usize - raw.as_ptr() as usize)
                        .find(|o| !at.iter().any(|(a, _)| a == o));
                    for &(offset, new) in &at {
                        raw[offset..offset + 32].copy_from_slice(&new);
                    }
                    // A spend of a transaction some blocks back, spread
                    // over distances 1..=reach by the transaction's index.
                    let back = 1 + u32::try_from(n).unwrap_or(0).wrapping_mul(7919) % reach.max(1);
                    let earlier = i
                        .checked_sub(back as usize)
                        .filter(|_| reach > 0)
                        .and_then(|j| blocks.get(j))
                        .map(|b: &ChainBlock| b.txs[n % b.txs.len()].0);
                    if let (Some(parent), Some(offset)) = (earlier, outside) {
                        raw[offset..offset + 32].copy_from_slice(&parent);
                    }
                    let ppm = ppm(i);
                    if ppm != MILLION {
                        scale_outputs(&mut raw, ppm);
                    }
                    // A new lock time per height makes every txid new.
                    let lock = raw.len() - 4;
                    let v = u32::from_le_bytes(raw[lock..].try_into().unwrap());
                    raw[lock..].copy_from_slice(&(v ^ (height << 8)).to_le_bytes());
                }
                let txid = Transaction::parse(&raw).expect("tx").txid().0;
                renamed.insert(Transaction::parse(tx).expect("tx").txid().0, txid);
                bytes.extend_from_slice(&raw);
                txs.push((txid, raw));
            }
            let hash = sha256d(&bytes[..80]);
            prev = hash;
            blocks.push(ChainBlock {
                height,
                bytes,
                hash,
                time,
                txs,
            });
        }
        Self { blocks }
    }

    /// The hash and time at `height`. Below the first block the chain acts
    /// as if it had history, as a real node does: headers only, ten minutes
    /// apart and ending a day before the first block (so no date run reaches
    /// into it), with hashes that name their height (see [`Chain::virtual_height`]).
    pub fn header(&self, height: u32) -> Option<([u8; 32], u32)> {
        if let Some(b) = self.at(height) {
            return Some((b.hash, b.time));
        }
        let first = self.blocks.first()?;
        let back = first.height.checked_sub(height)?;
        let mut hash = [0xee; 32];
        hash[..4].copy_from_slice(&height.to_le_bytes());
        Some((hash, first.time.saturating_sub(86_400 + back * 600)))
    }

    /// The height a header-only history hash names.
    pub fn virtual_height(hash: &[u8; 32]) -> Option<u32> {
        hash[4..]
            .iter()
            .all(|&b| b == 0xee)
            .then(|| u32::from_le_bytes(hash[..4].try_into().unwrap_or_default()))
    }

    /// The time of the header with this hash, history included.
    pub fn header_by_hash(&self, hash: &[u8; 32]) -> Option<(u32, u32)> {
        if let Some(b) = self.by_hash(hash) {
            return Some((b.height, b.time));
        }
        let height = Self::virtual_height(hash)?;
        self.header(height).map(|(_, time)| (height, time))
    }

    /// The block at `height`, if the chain has it.
    pub fn at(&self, height: u32) -> Option<&ChainBlock> {
        let first = self.blocks.first()?.height;
        self.blocks.get(height.checked_sub(first)? as usize)
    }

    /// The block with this hash (internal byte order).
    pub fn by_hash(&self, hash: &[u8; 32]) -> Option<&ChainBlock> {
        self.blocks.iter().find(|b| &b.hash == hash)
    }

    /// The tip's height.
    pub fn tip(&self) -> u32 {
        self.blocks.last().map_or(0, |b| b.height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_chain_is_linked_and_parses() {
        let chain = Chain::generate(800_000, 3, 1_700_000_000, 600);
        for pair in chain.blocks.windows(2) {
            assert_eq!(&pair[1].bytes[4..36], &pair[0].hash);
        }
        for b in &chain.blocks {
            let block = Block::parse(&b.bytes).unwrap();
            assert_eq!(block.bip34_height(), Some(u64::from(b.height)));
            assert_eq!(block.header().time(), b.time);
        }
        assert_ne!(chain.blocks[0].txs[5].0, chain.blocks[1].txs[5].0);
        // In-block spends survive the renaming: as many as in 702861.
        let spends = |txs: Vec<([u8; 32], Vec<u8>)>| {
            let ids: std::collections::HashSet<[u8; 32]> = txs.iter().map(|t| t.0).collect();
            txs.iter()
                .flat_map(|(_, raw)| {
                    let tx = Transaction::parse(raw).unwrap();
                    tx.inputs().map(|i| *i.prev_txid).collect::<Vec<_>>()
                })
                .filter(|p| ids.contains(p))
                .count()
        };
        let original: Vec<([u8; 32], Vec<u8>)> = Block::parse(block_702861())
            .unwrap()
            .transactions()
            .map(|t| (t.txid().0, t.as_bytes().to_vec()))
            .collect();
        let in_block = spends(original);
        assert!(in_block > 10, "{in_block}");
        assert_eq!(spends(chain.blocks[1].txs.clone()), in_block);
        let light = Chain::generate_light(5, vec![1, 2], 40);
        let block = Block::parse(&light.blocks[1].bytes).unwrap();
        assert_eq!((block.tx_count(), block.bip34_height()), (40, Some(6)));
    }
}

/// A fresh folder for one test, `fiatline-<label>-…` in the temp dir,
/// removed when the guard drops (tests run in parallel: never a shared name).
pub fn tempdir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fiatline-{label}-"))
        .tempdir()
        .expect("a temp dir")
}

/// A [`tempdir`] that derefs to its path, so `dir.join(…)` works as on a
/// `PathBuf`; the folder goes when it drops.
#[derive(Debug)]
pub struct TempDirPath(tempfile::TempDir);

impl TempDirPath {
    /// A fresh folder labelled `label`.
    pub fn new(label: &str) -> Self {
        Self(tempdir(label))
    }
}

impl std::ops::Deref for TempDirPath {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl AsRef<std::path::Path> for TempDirPath {
    fn as_ref(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// Parts per million in one.
const MILLION: u64 = 1_000_000;

/// Scales every output amount of the raw transaction `raw` by `ppm`
/// parts per million, in place.
fn scale_outputs(raw: &mut [u8], ppm: u64) {
    let tx = Transaction::parse(raw).expect("tx");
    let at: Vec<(usize, u64)> = tx
        .outputs()
        .map(|o| {
            // The amount's 8 bytes, then the script's length, then the script.
            let script = o.script_pubkey.as_ptr() as usize - raw.as_ptr() as usize;
            let len_bytes = match o.script_pubkey.len() {
                0..=0xfc => 1,
                0xfd..=0xffff => 3,
                _ => 5,
            };
            (script - len_bytes - 8, o.value)
        })
        .collect();
    for (offset, value) in at {
        let scaled = u128::from(value) * u128::from(ppm) / u128::from(MILLION);
        let scaled = u64::try_from(scaled).expect("a scaled amount fits");
        raw[offset..offset + 8].copy_from_slice(&scaled.to_le_bytes());
    }
}
