//! Bitcoin Core's block files (`blocks/blk*.dat`) read directly: the fastest
//! way to a day of blocks on the node's own machine.
//!
//! A file is a sequence of records: network magic (4 bytes), block size
//! (4 bytes, little-endian), block. Core 28 and later obfuscate the files
//! with the 8-byte key in `blocks/xor.dat` (byte `i` of a file XOR
//! `key[i % 8]`); an absent or all-zero key means plain files. Core
//! preallocates files in 16 MiB chunks: the unused tail is zeros on disk,
//! not obfuscated, and ends the records.
//!
//! Heights come from the chain of previous-block links: from the genesis
//! block (height 0) when the files hold it, else from the coinbases' BIP 34
//! heights, trusted only at or above the network's activation height and
//! when a neighbouring block agrees (before BIP 34 a coinbase's first push
//! is anything: the genesis block's reads as 486,604,799). The best chain is
//! the highest tip (the first seen of equal ones, as Core keeps the first),
//! followed down by previous-block hashes, so a stale branch left by a
//! reorganisation is skipped. Files are scanned from the newest backwards,
//! only as far as the heights asked for need.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fiatline_core::{Header, Transaction, HEADER_LEN};

use crate::network::Network;
use crate::{BlockHash, BlockRef, BlockSource, SourceError};

/// How much of a block the scan reads first: the header and a coinbase of
/// ordinary size.
const HEAD_LEN: u32 = 4096;

/// Mainnet's network magic.
pub const MAINNET_MAGIC: [u8; 4] = Network::Main.magic();

/// Where a block's bytes are, and what the index needs of it.
#[derive(Debug, Clone, Copy)]
struct Location {
    file: usize,
    offset: u64,
    len: u32,
    prev: BlockHash,
    /// What the coinbase's first push says, if it is a number.
    claim: Option<u32>,
    time: u32,
    /// Order of discovery (newest file first, then file order).
    seen: u64,
}

#[derive(Debug, Default)]
struct Index {
    /// Files scanned so far, counted from the newest.
    scanned: usize,
    blocks: HashMap<BlockHash, Location>,
    /// The best tip's height, once known.
    tip: Option<u32>,
    /// The best chain from the tip down, as far as it is known: `chain[0]` is the tip.
    chain: Vec<BlockHash>,
}

/// What went wrong reading a `blocks` directory.
#[derive(Debug)]
#[non_exhaustive]
pub enum BlkError {
    /// The directory cannot be listed (bad input).
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The directory holds no `blk*.dat` file (bad input).
    NoFiles {
        /// The directory.
        dir: PathBuf,
    },
    /// `xor.dat` is not 8 bytes long (bad input).
    BadKey {
        /// The key file.
        path: PathBuf,
    },
    /// `xor.dat` exists but cannot be read (bad input).
    ReadKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A blk file cannot be read.
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The files are another network's (bad input).
    OtherNetwork {
        /// The directory.
        dir: PathBuf,
        /// The network the files are of.
        found: Network,
        /// The network asked for.
        expected: Network,
    },
    /// A record starts with no network's magic (bad input).
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Where in it.
        at: u64,
        /// The four bytes found.
        magic: [u8; 4],
        /// The network asked for.
        expected: Network,
    },
    /// No block's height can be known: no genesis block, no BIP 34 height
    /// (bad input).
    NoHeight {
        /// The directory.
        dir: PathBuf,
    },
    /// The height asked for is above the files' tip.
    PastTip {
        /// The height asked for.
        height: u32,
        /// The tip's height.
        tip: u32,
    },
    /// The files do not reach down to the height asked for.
    NotInFiles {
        /// The height asked for.
        height: u32,
        /// The lowest height of the chain found.
        lowest: u32,
    },
    /// A block that the scan did not find.
    UnknownBlock {
        /// The block.
        hash: BlockHash,
    },
    /// A block's bytes cannot be read.
    ReadBlock {
        /// The block.
        hash: BlockHash,
        /// Its file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReadDir { dir, .. } => {
                write!(f, "cannot read the blocks directory {}", dir.display())
            }
            Self::NoFiles { dir } => write!(
                f,
                "no blk*.dat files in {} (pass the node's blocks directory with --blocks-dir)",
                dir.display()
            ),
            Self::BadKey { path } => write!(f, "{} is not an 8-byte key", path.display()),
            Self::ReadKey { path, .. } | Self::ReadFile { path, .. } => {
                write!(f, "cannot read {}", path.display())
            }
            Self::OtherNetwork {
                dir,
                found,
                expected,
            } => write!(
                f,
                "{} holds {found} blocks, not {expected}: pass --chain {found} (or the \
                 {expected} node's blocks directory)",
                dir.display()
            ),
            Self::BadMagic {
                path,
                at,
                magic,
                expected,
            } => write!(
                f,
                "{} has magic {} at byte {at}, which is no network's ({expected} expects {}): \
                 not a blocks directory, or a damaged file",
                path.display(),
                hex::encode(magic),
                hex::encode(expected.magic())
            ),
            Self::NoHeight { dir } => write!(
                f,
                "the blk files in {} hold no block whose height can be known (no genesis \
                 block, no BIP 34 height)",
                dir.display()
            ),
            Self::PastTip { height, tip } => {
                write!(f, "no block at height {height}: the blk files end at {tip}")
            }
            Self::NotInFiles { height, lowest } => write!(
                f,
                "block at height {height} is not in the blk files (the chain found ends at \
                 height {lowest})"
            ),
            Self::UnknownBlock { hash } => {
                write!(f, "block {hash} is not in the scanned blk files")
            }
            Self::ReadBlock { hash, path, .. } => {
                write!(f, "cannot read block {hash} from {}", path.display())
            }
        }
    }
}

impl std::error::Error for BlkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ReadDir { source, .. }
            | Self::ReadKey { source, .. }
            | Self::ReadFile { source, .. }
            | Self::ReadBlock { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<BlkError> for SourceError {
    fn from(e: BlkError) -> Self {
        match e {
            BlkError::ReadDir { .. }
            | BlkError::NoFiles { .. }
            | BlkError::BadKey { .. }
            | BlkError::ReadKey { .. }
            | BlkError::OtherNetwork { .. }
            | BlkError::BadMagic { .. }
            | BlkError::NoHeight { .. } => Self::bad_input(e),
            _ => Self::persistent(e),
        }
    }
}

/// Blocks read from a `blocks` directory.
#[derive(Debug)]
pub struct BlkSource {
    dir: PathBuf,
    files: Vec<PathBuf>,
    key: [u8; 8],
    network: Network,
    index: Mutex<Index>,
}

impl BlkSource {
    /// Opens a `blocks` directory of mainnet files.
    ///
    /// # Errors
    /// Returns a bad-input error when the directory holds no `blk*.dat`
    /// file or `xor.dat` cannot be read.
    pub fn open(dir: &Path) -> Result<Self, SourceError> {
        Self::open_network(dir, Network::Main)
    }

    /// Opens a `blocks` directory of `network`'s files.
    ///
    /// # Errors
    /// As [`BlkSource::open`].
    pub fn open_network(dir: &Path, network: Network) -> Result<Self, SourceError> {
        let entries = std::fs::read_dir(dir).map_err(|source| BlkError::ReadDir {
            dir: dir.to_path_buf(),
            source,
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
            return Err(BlkError::NoFiles {
                dir: dir.to_path_buf(),
            }
            .into());
        }
        files.sort();
        let xor = dir.join("xor.dat");
        let key = match std::fs::read(&xor) {
            Ok(bytes) => bytes
                .try_into()
                .map_err(|_| BlkError::BadKey { path: xor.clone() })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => [0; 8],
            Err(source) => return Err(BlkError::ReadKey { path: xor, source }.into()),
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            files: files.into_iter().map(|(_, p)| p).collect(),
            key,
            network,
            index: Mutex::new(Index::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Scans the next older file into the index; false when none is left.
    /// Only each record's head is read: its length, the block header and
    /// the coinbase (for the BIP 34 height), not the whole file.
    fn scan_next(&self, index: &mut Index) -> Result<bool, SourceError> {
        let Some(file) = self.files.len().checked_sub(index.scanned + 1) else {
            return Ok(false);
        };
        let path = &self.files[file];
        let cannot_read = |source| BlkError::ReadFile {
            path: path.clone(),
            source,
        };
        let mut f = File::open(path).map_err(cannot_read)?;
        let size = f.metadata().map_err(cannot_read)?.len();
        let mut read_at = |at: u64, buf: &mut [u8]| -> std::io::Result<()> {
            f.seek(SeekFrom::Start(at))?;
            f.read_exact(buf)
        };
        let mut at = 0u64;
        let mut head = Vec::new();
        while at + 8 <= size {
            let mut record = [0u8; 8];
            read_at(at, &mut record).map_err(cannot_read)?;
            // The preallocated tail: zeros on disk, never obfuscated.
            if record == [0; 8] {
                break;
            }
            self.unxor(&mut record, at);
            let magic: [u8; 4] = record[..4].try_into().unwrap_or_default();
            if magic != self.network.magic() {
                return Err(self.wrong_magic(path, at, magic));
            }
            let len = u32::from_le_bytes(record[4..].try_into().unwrap_or_default());
            let start = at + 8;
            if start + u64::from(len) > size {
                // A record cut short: the node was writing it. Keep what came before.
                break;
            }
            // The head first; the whole block only when its coinbase runs
            // past the head (a coinbase paying thousands of outputs).
            let mut located = None;
            for wanted in [HEAD_LEN.min(len), len] {
                head.resize(usize::try_from(wanted).unwrap_or(usize::MAX), 0);
                read_at(start, &mut head).map_err(cannot_read)?;
                self.unxor(&mut head, start);
                let seen = index.blocks.len() as u64;
                located = locate(&head, file, start, len, seen);
                if located.is_some_and(|l| l.claim.is_some()) || wanted == len {
                    break;
                }
            }
            if let (Some(loc), Some(header)) = (located, head.get(..HEADER_LEN)) {
                index.blocks.insert(BlockHash::of_header(header), loc);
            }
            at = start + u64::from(len);
        }
        index.scanned += 1;
        Ok(true)
    }

    fn wrong_magic(&self, path: &Path, at: u64, magic: [u8; 4]) -> SourceError {
        let expected = self.network;
        match Network::of_magic(magic) {
            Some(found) => BlkError::OtherNetwork {
                dir: self.dir.clone(),
                found,
                expected,
            },
            None => BlkError::BadMagic {
                path: path.to_path_buf(),
                at,
                magic,
                expected,
            },
        }
        .into()
    }

    fn unxor(&self, bytes: &mut [u8], offset: u64) {
        unxor(self.key, bytes, offset);
    }

    /// Finds the best tip and its height, scanning files until one is known.
    fn ensure_tip(&self, index: &mut Index) -> Result<u32, SourceError> {
        loop {
            if let Some(tip) = index.tip {
                return Ok(tip);
            }
            // A lone BIP 34 height is believed only when no file is left to
            // confirm or refute it.
            let last_resort = index.scanned == self.files.len();
            if let Some((height, hash)) = best_tip(&index.blocks, self.network, last_resort) {
                index.tip = Some(height);
                index.chain = vec![hash];
                return Ok(height);
            }
            if !self.scan_next(index)? {
                return Err(BlkError::NoHeight {
                    dir: self.dir.clone(),
                }
                .into());
            }
        }
    }

    /// Makes the known best chain reach down to `height`, scanning older
    /// files as needed, and returns the hash there.
    fn hash_at(&self, height: u32) -> Result<BlockHash, SourceError> {
        let mut index = self.lock();
        let tip = self.ensure_tip(&mut index)?;
        if height > tip {
            return Err(BlkError::PastTip { height, tip }.into());
        }
        let depth = (tip - height) as usize;
        loop {
            extend_chain(&mut index);
            if let Some(&hash) = index.chain.get(depth) {
                return Ok(hash);
            }
            if !self.scan_next(&mut index)? {
                let lowest =
                    (tip + 1).saturating_sub(u32::try_from(index.chain.len()).unwrap_or(u32::MAX));
                return Err(BlkError::NotInFiles { height, lowest }.into());
            }
        }
    }
}

/// Undoes Core's obfuscation of `bytes`, which start at byte `offset` of
/// their file: byte `i` of a file is XOR'd with `key[i % 8]`.
fn unxor(key: [u8; 8], bytes: &mut [u8], offset: u64) {
    if key == [0; 8] {
        return;
    }
    // The key lined up with `bytes`, then eight bytes at a time: a loop
    // byte by byte with its index arithmetic was a third of a day's
    // backfill from blk files.
    let mut key = key;
    key.rotate_left(usize::from(offset.to_le_bytes()[0] % 8));
    let word = u64::from_ne_bytes(key);
    let mut words = bytes.chunks_exact_mut(8);
    for chunk in &mut words {
        if let Ok(w) = <&mut [u8; 8]>::try_from(chunk) {
            *w = (u64::from_ne_bytes(*w) ^ word).to_ne_bytes();
        }
    }
    for (b, k) in words.into_remainder().iter_mut().zip(key) {
        *b ^= k;
    }
}

/// Reads what the index needs from one block record, or `None` for bytes
/// that are not a block.
fn locate(block: &[u8], file: usize, offset: u64, len: u32, seen: u64) -> Option<Location> {
    let header = Header::new(block.get(..HEADER_LEN)?.try_into().ok()?);
    let rest = block.get(HEADER_LEN..)?;
    // Skip the transaction count (a compact size) to reach the coinbase.
    let skip = match rest.first()? {
        0xfd => 3,
        0xfe => 5,
        0xff => 9,
        _ => 1,
    };
    let claim = Transaction::parse_prefix(rest.get(skip..)?)
        .ok()
        .and_then(|(tx, _)| tx.bip34_height())
        .and_then(|h| u32::try_from(h).ok());
    Some(Location {
        file,
        offset,
        len,
        prev: BlockHash(*header.prev_blockhash()),
        claim,
        time: header.time(),
        seen,
    })
}

/// The best tip among the blocks known, with its height, when a height can
/// be known: heights flow from anchors to children along previous-block
/// links. Anchors are the genesis block (height 0, it has no parent), else
/// BIP 34 heights at or above the activation that a parent or child agrees
/// with (plus one), else, with `lone`, any BIP 34 height at or above the
/// activation.
fn best_tip(
    blocks: &HashMap<BlockHash, Location>,
    network: Network,
    lone: bool,
) -> Option<(u32, BlockHash)> {
    let mut children: HashMap<BlockHash, Vec<BlockHash>> = HashMap::new();
    for (hash, loc) in blocks {
        children.entry(loc.prev).or_default().push(*hash);
    }
    let valid = |loc: &Location| loc.claim.filter(|&c| c >= network.bip34_height());
    let genesis: Vec<(BlockHash, u32)> = blocks
        .iter()
        .filter(|(_, l)| l.prev == BlockHash::default())
        .map(|(h, _)| (*h, 0))
        .collect();
    let agreed: Vec<(BlockHash, u32)> = blocks
        .iter()
        .filter_map(|(hash, loc)| {
            let c = valid(loc)?;
            let parent_agrees = blocks.get(&loc.prev).and_then(valid) == c.checked_sub(1);
            let child_agrees = children.get(hash).is_some_and(|kids| {
                kids.iter()
                    .any(|k| blocks.get(k).and_then(valid) == Some(c + 1))
            });
            (parent_agrees || child_agrees).then_some((*hash, c))
        })
        .collect();
    let lone: Vec<(BlockHash, u32)> = blocks
        .iter()
        .filter(|_| lone)
        .filter_map(|(h, l)| Some((*h, valid(l)?)))
        .collect();
    let anchors = [genesis, agreed, lone]
        .into_iter()
        .find(|a| !a.is_empty())?;

    let mut heights: HashMap<BlockHash, u32> = HashMap::new();
    let mut queue: VecDeque<(BlockHash, u32)> = anchors.into_iter().collect();
    while let Some((hash, height)) = queue.pop_front() {
        if heights.contains_key(&hash) {
            continue;
        }
        heights.insert(hash, height);
        for kid in children.get(&hash).into_iter().flatten() {
            queue.push_back((*kid, height + 1));
        }
    }
    heights
        .into_iter()
        .max_by(|(a, ha), (b, hb)| {
            ha.cmp(hb)
                // Of equal heights, the first seen (a lower `seen`) is best.
                .then_with(|| {
                    let seen = |h: &BlockHash| blocks.get(h).map_or(u64::MAX, |l| l.seen);
                    seen(b).cmp(&seen(a))
                })
        })
        .map(|(hash, height)| (height, hash))
}

/// Follows previous-block hashes from the end of the known chain as far as
/// the scanned blocks allow.
fn extend_chain(index: &mut Index) {
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
        self.ensure_tip(&mut index)
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        let hash = self.hash_at(height)?;
        let time = self.lock().blocks.get(&hash).map_or(0, |l| l.time);
        Ok(BlockRef { height, hash, time })
    }

    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        let mut bytes = Vec::new();
        self.raw_block_into(block, &mut bytes)?;
        Ok(bytes)
    }

    fn raw_block_into(&self, block: &BlockRef, buf: &mut Vec<u8>) -> Result<(), SourceError> {
        let loc = self
            .lock()
            .blocks
            .get(&block.hash)
            .copied()
            .ok_or(BlkError::UnknownBlock { hash: block.hash })?;
        let path = &self.files[loc.file];
        let mut read = || -> std::io::Result<()> {
            let mut f = File::open(path)?;
            f.seek(SeekFrom::Start(loc.offset))?;
            // Read into spare capacity: zeroing a megabyte first, for
            // every block, was a few percent of a per-block backfill.
            let len = u64::from(loc.len);
            buf.clear();
            buf.reserve(loc.len as usize);
            f.take(len).read_to_end(buf)?;
            if buf.len() as u64 != len {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            Ok(())
        };
        read().map_err(|source| BlkError::ReadBlock {
            hash: block.hash,
            path: path.clone(),
            source,
        })?;
        self.unxor(buf, loc.offset);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::unxor;

    #[test]
    fn unxor_lines_the_key_up_with_the_file_at_every_offset() {
        let key = [0x5a, 1, 2, 3, 4, 5, 6, 0xff];
        let file: Vec<u8> = (0..100u8).map(|b| b.wrapping_mul(37)).collect();
        for start in 0..16 {
            for end in start..file.len() {
                let mut bytes = file[start..end].to_vec();
                unxor(key, &mut bytes, start as u64);
                let expected: Vec<u8> = (start..end).map(|i| file[i] ^ key[i % 8]).collect();
                assert_eq!(bytes, expected, "bytes {start}..{end}");
            }
        }
    }
}
