//! Reading raw blocks from files: binary, or hex text as `getblock <hash> 0`
//! returns it.

use std::fmt;
use std::path::{Path, PathBuf};

/// A block file that could not be used, and why.
#[derive(Debug)]
pub(crate) struct BlockFileError {
    pub(crate) path: PathBuf,
    pub(crate) reason: Reason,
}

#[derive(Debug)]
pub(crate) enum Reason {
    Io(std::io::Error),
    Hex(hex::FromHexError),
    Empty,
    Parse(fiatline_core::ParseError),
}

impl fmt::Display for BlockFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.reason {
            Reason::Io(e) => write!(f, "cannot read block file {path}: {e}"),
            Reason::Hex(e) => write!(f, "block file {path} looks like hex but is not: {e}"),
            Reason::Empty => write!(f, "block file {path} is empty"),
            Reason::Parse(e) => write!(
                f,
                "block file {path} does not hold one valid block: {e} \
                 (expected a raw block, binary or hex as `getblock <hash> 0` prints it)"
            ),
        }
    }
}

impl std::error::Error for BlockFileError {}

/// Reads `path` and returns the block's bytes, decoding hex text when the
/// file holds only hex digits and whitespace.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, BlockFileError> {
    let fail = |reason| BlockFileError {
        path: path.to_owned(),
        reason,
    };
    let raw = std::fs::read(path).map_err(|e| fail(Reason::Io(e)))?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(fail(Reason::Empty));
    }
    if !raw
        .iter()
        .all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace())
    {
        return Ok(raw);
    }
    let text: Vec<u8> = raw
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    hex::decode(text).map_err(|e| fail(Reason::Hex(e)))
}

/// Reads and checks every file before any work starts, so a bad file late
/// in the list fails fast.
pub(crate) fn read_all(paths: &[PathBuf]) -> Result<Vec<Vec<u8>>, BlockFileError> {
    paths
        .iter()
        .map(|path| {
            let bytes = read(path)?;
            fiatline_core::Block::parse(&bytes).map_err(|e| BlockFileError {
                path: path.clone(),
                reason: Reason::Parse(e),
            })?;
            Ok(bytes)
        })
        .collect()
}
