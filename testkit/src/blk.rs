//! `blk*.dat` files as Bitcoin Core writes them.

use std::path::Path;

use crate::Chain;

/// Mainnet's network magic.
pub const MAINNET_MAGIC: [u8; 4] = [0xf9, 0xbe, 0xb4, 0xd9];

/// Writes `chain` into `dir` as `blk00000.dat`, `blk00001.dat`… with
/// `per_file` blocks each (in the order given by `order`, indices into the
/// chain, to mimic out-of-order download), each file padded with zeros as
/// Core preallocates, and obfuscated with `key` (also written to `xor.dat`)
/// when given.
pub fn write_blocks_dir(
    dir: &Path,
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
            file.extend_from_slice(&MAINNET_MAGIC);
            file.extend_from_slice(&(block.len() as u32).to_le_bytes());
            file.extend_from_slice(block);
        }
        file.resize(file.len() + 4096, 0);
        if let Some(key) = key {
            for (i, b) in file.iter_mut().enumerate() {
                *b ^= key[i % 8];
            }
        }
        std::fs::write(dir.join(format!("blk{n:05}.dat")), file).expect("write blk file");
    }
    if let Some(key) = key {
        std::fs::write(dir.join("xor.dat"), key).expect("write xor.dat");
    }
}
