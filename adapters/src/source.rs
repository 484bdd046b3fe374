//! The interface every block source implements.

use std::fmt;
use std::str::FromStr;

use crate::SourceError;

/// A block hash in internal byte order; shown reversed, as nodes print it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct BlockHash(pub [u8; 32]);

impl BlockHash {
    /// Hashes an 80-byte header.
    pub fn of_header(header: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Self(Sha256::digest(Sha256::digest(header)).into())
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut reversed = self.0;
        reversed.reverse();
        f.write_str(&hex::encode(reversed))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

impl FromStr for BlockHash {
    type Err = SourceError;

    fn from_str(s: &str) -> Result<Self, SourceError> {
        display_hex(s, "block hash").map(Self)
    }
}

/// Reads a txid as nodes and explorers print it (hex, reversed).
///
/// # Errors
/// Returns a persistent error when `s` is not 64 hex digits.
pub fn parse_txid(s: &str) -> Result<fiatline_core::Txid, SourceError> {
    display_hex(s, "txid").map(fiatline_core::Txid)
}

/// A block hash or txid that is not 64 hex digits.
#[derive(Debug)]
pub struct HashHexError {
    /// "block hash" or "txid".
    pub what: &'static str,
    /// The text given.
    pub text: String,
    source: hex::FromHexError,
}

impl fmt::Display for HashHexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad {} {:?}", self.what, self.text)
    }
}

impl std::error::Error for HashHexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A 32-byte hash printed as nodes print them (hex, reversed), in internal
/// byte order; `what` names it in the error.
fn display_hex(s: &str, what: &'static str) -> Result<[u8; 32], SourceError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut bytes).map_err(|source| {
        SourceError::persistent(HashHexError {
            what,
            text: s.to_owned(),
            source,
        })
    })?;
    bytes.reverse();
    Ok(bytes)
}

/// Where a block sits: its height, hash and header time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Height in the best chain.
    pub height: u32,
    /// The block's hash.
    pub hash: BlockHash,
    /// The header's time (Unix seconds).
    pub time: u32,
}

/// A source of confirmed blocks: a node, an index server, files on disk.
///
/// Implementations block the calling thread; they are `Send + Sync` so a run
/// can fetch several blocks at once from worker threads.
pub trait BlockSource: Send + Sync {
    /// A short name for messages: "rpc", "blk", "esplora", "electrum".
    fn name(&self) -> &'static str;

    /// Returns the height of the best chain's tip.
    ///
    /// # Errors
    /// Returns a [`SourceError`] when the source cannot be reached or answers badly.
    fn tip_height(&self) -> Result<u32, SourceError>;

    /// Returns the hash and header time of the block at `height`.
    ///
    /// # Errors
    /// Returns a [`SourceError`]; persistent when there is no such block.
    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError>;

    /// Returns the blocks at `heights`, in order. Sources that can batch
    /// requests override this; the default asks one height at a time.
    ///
    /// # Errors
    /// Returns the first [`SourceError`] met.
    fn block_refs(&self, heights: &[u32]) -> Result<Vec<BlockRef>, SourceError> {
        heights.iter().map(|&h| self.block_ref(h)).collect()
    }

    /// Returns the serialised block (as `getblock <hash> 0` gives it).
    ///
    /// # Errors
    /// Returns a [`SourceError`] when the block cannot be had.
    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError>;

    /// Reads the serialised block into `buf`, replacing what it held. A
    /// source that reads into memory it is given (the blk files) reuses
    /// `buf`'s allocation: a run of many blocks then fills the same few
    /// buffers, where a new megabyte for each block costs the kernel a page
    /// fault and a zeroed page every 4 KiB. The default swaps in the block
    /// [`BlockSource::raw_block`] returns.
    ///
    /// # Errors
    /// As [`BlockSource::raw_block`]; `buf`'s contents are unspecified then.
    fn raw_block_into(&self, block: &BlockRef, buf: &mut Vec<u8>) -> Result<(), SourceError> {
        *buf = self.raw_block(block)?;
        Ok(())
    }
}

impl<S: BlockSource + ?Sized> BlockSource for Box<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn tip_height(&self) -> Result<u32, SourceError> {
        (**self).tip_height()
    }
    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        (**self).block_ref(height)
    }
    fn block_refs(&self, heights: &[u32]) -> Result<Vec<BlockRef>, SourceError> {
        (**self).block_refs(heights)
    }
    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        (**self).raw_block(block)
    }
    fn raw_block_into(&self, block: &BlockRef, buf: &mut Vec<u8>) -> Result<(), SourceError> {
        (**self).raw_block_into(block, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_hash_round_trips_through_its_display() {
        let s = "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae";
        let h: BlockHash = s.parse().unwrap();
        assert_eq!(h.0[31], 0);
        assert_eq!(h.to_string(), s);
        assert!("zz".parse::<BlockHash>().is_err());
    }
}
