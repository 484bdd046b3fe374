//! Transaction ids: the double SHA-256 of the serialisation without witness.

use core::fmt;

use sha2::{Digest, Sha256};

/// A transaction id in internal byte order (as it appears in a previous
/// output reference); [`fmt::Display`] prints it reversed, as explorers do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Txid(pub [u8; 32]);

impl Txid {
    /// Returns the id's bytes in internal byte order.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Computes SHA-256(SHA-256(parts concatenated)) without copying the parts.
pub(crate) fn sha256d(parts: &[&[u8]]) -> [u8; 32] {
    let mut engine = Sha256::new();
    for part in parts {
        engine.update(part);
    }
    Sha256::digest(engine.finalize()).into()
}

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.iter().rev() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Txid({self})")
    }
}

/// The slot where a probe for `txid` starts in a table of `slots` slots:
/// the one hash of both open-addressing tables, the seen set and the
/// window's index. Multiply-shift maps the txid's first 8 bytes (already
/// uniform: they come from SHA-256) onto any slot count, not only powers
/// of two; 0 for an empty table.
pub(crate) fn home_slot(txid: &[u8; 32], slots: usize) -> usize {
    let [a, b, c, d, e, f, g, h, ..] = *txid;
    let key = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
    // Below `slots`, so it fits a usize.
    usize::try_from((u128::from(key) * slots as u128) >> 64).unwrap_or(0)
}
