//! Bitcoin Core's block files (`blocks/blk*.dat`) read directly: the fastest
//! way to a day of blocks on the node's own machine.
//!
//! A file is a sequence of records: network magic (4 bytes), block size
//! (4 bytes, little-endian), block. Core 28 and later obfuscate the files
//! with the 8-byte key in `blocks/xor.dat` (byte `i` of a file XOR
//! `key[i % 8]`); an absent or all-zero key means plain files.
//!
//! Heights come from the coinbase (BIP 34, every block since 227,931), and
//! the best chain is followed from the highest block through previous-block
//! hashes, so stale blocks are skipped. Files are scanned from the newest
//! backwards, only as far as the heights asked for need.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fiatline_core::{Header, Transaction, HEADER_LEN};

use crate::{BlockHash, BlockRef, BlockSource, SourceError};

/// Mainnet's network magic.
pub const MAINNET_MAGIC: [u8; 4] = [0xf9, 0xbe, 0xb4, 0xd9];

/// Where a block's bytes are.
#[derive(Debug, Clone, Copy)]
struct Location {
    file: usize,
    offset: u64,
    len: u32,
    prev: BlockHash,
    height: Option<u32>,
    time: u32,
}

#[derive(Debug, Default)]
struct Index {
    /// Files scanned so far, counted from the newest.
    scanned: usize,
    blocks: HashMap<BlockHash, Location>,
    /// The highest block seen, by coinbase height.
    tip: Option<(u32, BlockHash)>,
    /// The best chain from the tip down, as far as it is known: `chain[0]` is the tip.
    chain: Vec<BlockHash>,
}

/// Blocks read from a `blocks` directory.
#[derive(Debug)]
pub struct BlkSource {
    files: Vec<PathBuf>,
    key: [u8; 8],
    magic: [u8; 4],
    index: Mutex<Index>,
}

impl BlkSource {
    /// Opens a `blocks` directory of mainnet files.
    ///
    /// # Errors
    /// Returns a persistent error when the directory holds no `blk*.dat`
    /// file or `xor.dat` cannot be read.
    pub fn open(dir: &Path) -> Result<Self, SourceError> {
        Self::open_with_magic(dir, MAINNET_MAGIC)
    }

    /// Opens a `blocks` directory of another network's files.
    ///
    /// # Errors
    /// As [`BlkSource::open`].
    pub fn open_with_magic(dir: &Path, magic: [u8; 4]) -> Result<Self, SourceError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            SourceError::persistent(format!(
                "cannot read the blocks directory {}",
                dir.display()
            ))
            .with_source(e)
        })?;
        let mut files: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let n = name
                    .strip_prefix("blk")?
                    .strip_suffix(".dat")?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        if files.is_empty() {
            return Err(SourceError::persistent(format!(
                "no blk*.dat files in {} (pass the node's blocks directory with --blocks-dir)",
                dir.display()
            )));
        }
        files.sort();
        let key = match std::fs::read(dir.join("xor.dat")) {
            Ok(bytes) => bytes.try_into().map_err(|_| {
                SourceError::persistent(format!(
                    "{} is not an 8-byte key",
                    dir.join("xor.dat").display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => [0; 8],
            Err(e) => return Err(SourceError::persistent("cannot read xor.dat").with_source(e)),
        };
        Ok(Self {
            files: files.into_iter().map(|(_, p)| p).collect(),
            key,
            magic,
            index: Mutex::new(Index::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Scans the next older file into the index; false when none is left.
    fn scan_next(&self, index: &mut Index) -> Result<bool, SourceError> {
        let Some(file) = self.files.len().checked_sub(index.scanned + 1) else {
            return Ok(false);
        };
        let path = &self.files[file];
        let mut bytes = std::fs::read(path).map_err(|e| {
            SourceError::persistent(format!("cannot read {}", path.display())).with_source(e)
        })?;
        self.unxor(&mut bytes, 0);
        let mut at = 0usize;
        while let Some(record) = bytes.get(at..at + 8) {
            let magic = &record[..4];
            // Core preallocates files; the unused tail is zeros.
            if magic == [0; 4] {
                break;
            }
            if magic != self.magic {
                return Err(SourceError::persistent(format!(
                    "{} has network magic {} at byte {at}, expected {} (wrong network, or a damaged file)",
                    path.display(),
                    hex::encode(magic),
                    hex::encode(self.magic)
                )));
            }
            let len = u32::from_le_bytes(record[4..8].try_into().unwrap_or_default());
            let start = at + 8;
            let Some(block) = bytes.get(start..start + len as usize) else {
                // A record cut short: the node was writing it. Keep what came before.
                break;
            };
            if let Some(loc) = locate(block, file, start as u64, len) {
                let hash = BlockHash::of_header(&block[..HEADER_LEN]);
                if let Some(h) = loc.height {
                    if index.tip.is_none_or(|(t, _)| h > t) {
                        index.tip = Some((h, hash));
                    }
                }
                index.blocks.insert(hash, loc);
            }
            at = start + len as usize;
        }
        index.scanned += 1;
        Ok(true)
    }

    fn unxor(&self, bytes: &mut [u8], offset: u64) {
        if self.key == [0; 8] {
            return;
        }
        for (i, b) in bytes.iter_mut().enumerate() {
            *b ^= self.key[((offset + i as u64) % 8) as usize];
        }
    }

    /// Makes the known best chain reach down to `height`, scanning older
    /// files as needed, and returns the hash there.
    fn hash_at(&self, height: u32) -> Result<BlockHash, SourceError> {
        let mut index = self.lock();
        loop {
            if index.tip.is_none() {
                if !self.scan_next(&mut index)? {
                    return Err(SourceError::persistent(
                        "the blk files hold no block with a BIP 34 height",
                    ));
                }
                continue;
            }
            extend_chain(&mut index);
            let (tip, _) = index.tip.unwrap_or_default();
            if height > tip {
                return Err(SourceError::persistent(format!(
                    "no block at height {height}: the blk files end at {tip}"
                )));
            }
            let depth = (tip - height) as usize;
            if let Some(&hash) = index.chain.get(depth) {
                return Ok(hash);
            }
            if !self.scan_next(&mut index)? {
                return Err(SourceError::persistent(format!(
                    "block at height {height} is not in the blk files (the chain found ends at height {})",
                    tip + 1 - index.chain.len() as u32
                )));
            }
        }
    }
}

/// Reads what the index needs from one block record, or `None` for bytes
/// that are not a block.
fn locate(block: &[u8], file: usize, offset: u64, len: u32) -> Option<Location> {
    let header = Header::new(block.get(..HEADER_LEN)?.try_into().ok()?);
    let rest = block.get(HEADER_LEN..)?;
    // Skip the transaction count (a compact size) to reach the coinbase.
    let skip = match rest.first()? {
        0xfd => 3,
        0xfe => 5,
        0xff => 9,
        _ => 1,
    };
    let height = Transaction::parse_prefix(rest.get(skip..)?)
        .ok()
        .and_then(|(tx, _)| tx.bip34_height())
        .and_then(|h| u32::try_from(h).ok());
    Some(Location {
        file,
        offset,
        len,
        prev: BlockHash(*header.prev_blockhash()),
        height,
        time: header.time(),
    })
}

/// Follows previous-block hashes from the end of the known chain as far as
/// the scanned blocks allow.
fn extend_chain(index: &mut Index) {
    if index.chain.is_empty() {
        if let Some((_, tip)) = index.tip {
            index.chain.push(tip);
        }
    }
    while let Some(prev) = index
        .chain
        .last()
        .and_then(|h| index.blocks.get(h))
        .map(|loc| loc.prev)
        .filter(|p| index.blocks.contains_key(p))
    {
        index.chain.push(prev);
    }
}

impl BlockSource for BlkSource {
    fn name(&self) -> &'static str {
        "blk"
    }

    fn tip_height(&self) -> Result<u32, SourceError> {
        let mut index = self.lock();
        while index.tip.is_none() {
            if !self.scan_next(&mut index)? {
                return Err(SourceError::persistent(
                    "the blk files hold no block with a BIP 34 height",
                ));
            }
        }
        Ok(index.tip.map_or(0, |(h, _)| h))
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        let hash = self.hash_at(height)?;
        let time = self.lock().blocks.get(&hash).map_or(0, |l| l.time);
        Ok(BlockRef { height, hash, time })
    }

    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        let loc = self
            .lock()
            .blocks
            .get(&block.hash)
            .copied()
            .ok_or_else(|| {
                SourceError::persistent(format!(
                    "block {} is not in the scanned blk files",
                    block.hash
                ))
            })?;
        let path = &self.files[loc.file];
        let read = || -> std::io::Result<Vec<u8>> {
            let mut f = File::open(path)?;
            f.seek(SeekFrom::Start(loc.offset))?;
            let mut bytes = vec![0; loc.len as usize];
            f.read_exact(&mut bytes)?;
            Ok(bytes)
        };
        let mut bytes = read().map_err(|e| {
            SourceError::persistent(format!(
                "cannot read block {} from {}",
                block.hash,
                path.display()
            ))
            .with_source(e)
        })?;
        self.unxor(&mut bytes, loc.offset);
        Ok(bytes)
    }
}
