//! `blk*.dat` files as Bitcoin Core writes them.

use std::path::Path;

use crate::Chain;

/// Mainnet's network magic.
pub const MAINNET_MAGIC: [u8; 4] = [0xf9, 0xbe, 0xb4, 0xd9];
/// Regtest's network magic.
pub const REGTEST_MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];
/// Testnet4's network magic.
pub const TESTNET4_MAGIC: [u8; 4] = [0x1c, 0x16, 0x3f, 0x28];

/// Core grows block files in chunks of 16 MiB; the tests' files grow in
/// chunks of 64 KiB, enough to leave a zero tail after the last record.
const CHUNK: usize = 64 * 1024;

/// Writes `chain` into `dir` as mainnet files: see [`write_blocks`].
pub fn write_blocks_dir(
    dir: &Path,
    chain: &Chain,
    order: &[usize],
    per_file: usize,
    key: Option<[u8; 8]>,
) {
    write_blocks(dir, MAINNET_MAGIC, chain, order, per_file, key);
}

/// Writes `chain` into `dir` as `blk00000.dat`, `blk00001.dat`… with
/// `per_file` blocks each (in the order given by `order`, indices into the
/// chain, to mimic out-of-order download), each record headed by `magic`.
/// As Core does: the records are obfuscated with `key` (also written to
/// `xor.dat`) when given, and each file is preallocated in chunks, its
/// unused tail zeros on disk (never obfuscated).
pub fn write_blocks(
    dir: &Path,
    magic: [u8; 4],
    chain: &Chain,
    order: &[usize],
    per_file: usize,
    key: Option<[u8; 8]>,
) {
    std::fs::create_dir_all(dir).expect("blocks dir");
    for (n, indices) in order.chunks(per_file).enumerate() {
        let mut file = Vec::new();
        for &i in indices {
            let block = &chain.blocks[i].bytes;
            file.extend_from_slice(&magic);
            file.extend_from_slice(
                &u32::try_from(block.len())
                    .expect("a block under 4 GB")
                    .to_le_bytes(),
            );
            file.extend_from_slice(block);
        }
        if let Some(key) = key {
            for (i, b) in file.iter_mut().enumerate() {
                *b ^= key[i % 8];
            }
        }
        file.resize(file.len().div_ceil(CHUNK) * CHUNK, 0);
        std::fs::write(dir.join(format!("blk{n:05}.dat")), file).expect("write blk file");
    }
    if let Some(key) = key {
        std::fs::write(dir.join("xor.dat"), key).expect("write xor.dat");
    }
}
