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
