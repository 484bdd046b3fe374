//! Zero-copy views of blocks and block headers.

use crate::error::{ParseError, ParseErrorKind};
use crate::reader::Reader;
use crate::tx::Transaction;
use crate::txid::sha256d;
use crate::visitor::{NoopVisitor, Visitor};

/// Length of a serialised block header.
pub const HEADER_LEN: usize = 80;
/// Smallest serialised transaction: version, two counts, lock time.
const MIN_TX_LEN: usize = 10;

/// An 80-byte block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a>(&'a [u8; HEADER_LEN]);

impl<'a> Header<'a> {
    /// Wraps 80 header bytes.
    pub const fn new(bytes: &'a [u8; HEADER_LEN]) -> Self {
        Self(bytes)
    }

    /// Returns the header's bytes.
    pub const fn as_bytes(self) -> &'a [u8; HEADER_LEN] {
        self.0
    }

    /// Returns the version field.
    pub fn version(self) -> i32 {
        i32::from_le_bytes(self.word(0))
    }

    /// Returns the previous block's hash (internal byte order).
    pub fn prev_blockhash(self) -> &'a [u8; 32] {
        self.hash_at(4)
    }

    /// Returns the merkle root (internal byte order).
    pub fn merkle_root(self) -> &'a [u8; 32] {
        self.hash_at(36)
    }

    /// Returns the block time (Unix seconds, as the miner set it).
    pub fn time(self) -> u32 {
        u32::from_le_bytes(self.word(68))
    }

    /// Returns the compact difficulty target.
    pub fn bits(self) -> u32 {
        u32::from_le_bytes(self.word(72))
    }

    /// Returns the nonce.
    pub fn nonce(self) -> u32 {
        u32::from_le_bytes(self.word(76))
    }

    /// Computes the block hash (internal byte order).
    pub fn block_hash(self) -> [u8; 32] {
        sha256d(&[self.0])
    }

    fn hash_at(self, at: usize) -> &'a [u8; 32] {
        self.0
            .get(at..at + 32)
            .and_then(|h| h.try_into().ok())
            .unwrap_or(&[0; 32])
    }

    fn word(self, at: usize) -> [u8; 4] {
        self.0
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .unwrap_or_default()
    }
}

/// A parsed block: its header and its validated transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    header: Header<'a>,
    tx_count: usize,
    /// The transactions' bytes, after the count.
    txdata: &'a [u8],
}

impl<'a> Block<'a> {
    /// Parses a block that fills `bytes` exactly.
    ///
    /// # Errors
    /// Returns a [`ParseError`] if the bytes are not one well-formed block,
    /// including [`ParseErrorKind::TrailingBytes`] if bytes remain.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse_visiting(bytes, &mut NoopVisitor)
    }

    /// Parses a block that fills `bytes` exactly, reporting its header and
    /// every part of every transaction to `visitor` as [`Block::visit`]
    /// does: one walk that both checks the block and, say, lists its
    /// transactions.
    ///
    /// # Errors
    /// As [`Block::parse`]; the visitor may have seen some transactions
    /// by then.
    pub fn parse_visiting<V: Visitor<'a> + ?Sized>(
        bytes: &'a [u8],
        visitor: &mut V,
    ) -> Result<Self, ParseError> {
        let (block, rest) = Self::visit(bytes, visitor)?;
        if rest.is_empty() {
            Ok(block)
        } else {
            Err(ParseError::new(
                ParseErrorKind::TrailingBytes,
                bytes.len() - rest.len(),
            ))
        }
    }

    /// Parses one block from the start of `bytes` and returns it with the
    /// bytes that follow it.
    ///
    /// # Errors
    /// Returns a [`ParseError`] if the bytes do not start with a well-formed block.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), ParseError> {
        Self::visit(bytes, &mut NoopVisitor)
    }

    /// Parses one block from the start of `bytes`, reporting its header and
    /// every part of every transaction to `visitor`.
    ///
    /// # Errors
    /// Returns a [`ParseError`] if the bytes do not start with a well-formed
    /// block; the visitor may have seen its first transactions by then.
    pub fn visit<V: Visitor<'a> + ?Sized>(
        bytes: &'a [u8],
        visitor: &mut V,
    ) -> Result<(Self, &'a [u8]), ParseError> {
        let mut r = Reader::new(bytes);
        let header = Header(r.array::<HEADER_LEN>()?);
        visitor.visit_header(&header);
        let tx_count = r.count(MIN_TX_LEN)?;
        visitor.visit_tx_count(tx_count);
        let txdata_at = r.pos();
        let mut rest = bytes.get(txdata_at..).unwrap_or_default();
        for _ in 0..tx_count {
            let at = bytes.len() - rest.len();
            let (_, after) = Transaction::visit(rest, visitor).map_err(|e| e.shifted(at))?;
            rest = after;
        }
        let end = bytes.len() - rest.len();
        let txdata = bytes.get(txdata_at..end).unwrap_or_default();
        Ok((
            Self {
                header,
                tx_count,
                txdata,
            },
            rest,
        ))
    }

    /// Returns the header.
    pub const fn header(&self) -> Header<'a> {
        self.header
    }

    /// Returns the number of transactions.
    pub const fn tx_count(&self) -> usize {
        self.tx_count
    }

    /// Returns the transactions in block order.
    pub fn transactions(&self) -> Transactions<'a> {
        Transactions {
            rest: self.txdata,
            left: self.tx_count,
        }
    }

    /// Walks the already validated transactions again, reporting every part
    /// to `visitor` (but not the header). This cannot fail: the bytes were
    /// checked by the parse that made this block.
    pub fn visit_transactions<V: Visitor<'a> + ?Sized>(&self, visitor: &mut V) {
        let mut rest = self.txdata;
        for _ in 0..self.tx_count {
            match Transaction::visit(rest, visitor) {
                Ok((_, after)) => rest = after,
                Err(_) => return,
            }
        }
    }

    /// Returns the height the coinbase commits to (BIP 34), if it does.
    pub fn bip34_height(&self) -> Option<u64> {
        self.transactions().next()?.bip34_height()
    }
}

/// The transactions of a [`Block`], in order.
#[derive(Debug, Clone)]
pub struct Transactions<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Transactions<'a> {
    type Item = Transaction<'a>;

    fn next(&mut self) -> Option<Transaction<'a>> {
        self.left = self.left.checked_sub(1)?;
        let (tx, rest) = Transaction::parse_prefix(self.rest).ok()?;
        self.rest = rest;
        Some(tx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Transactions<'_> {}
