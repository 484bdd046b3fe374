//! The parser's error: a small `Copy` value that says what was wrong and where.

use core::fmt;

/// What made a byte string fail to parse as a transaction or a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The bytes ended before the structure did, or a count announced more
    /// items than the remaining bytes could hold.
    UnexpectedEnd,
    /// A compact-size integer was not in its shortest encoding.
    NonMinimalCompactSize,
    /// A transaction had zero inputs followed by a segwit flag other than 1.
    UnsupportedSegwitFlag(u8),
    /// The segwit flag was set, but every input's witness was empty.
    SegwitFlagWithoutWitness,
    /// A witness announced more than 4,000,000 items or bytes, the limit
    /// rust-bitcoin enforces.
    OversizedWitness,
    /// Bytes were left over after a complete transaction or block.
    TrailingBytes,
}

/// A parse failure: its kind and the byte offset at which it was found.
///
/// Eight bytes, `Copy`, so returning it costs nothing on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: u32,
}

impl ParseError {
    /// Creates an error of `kind` found at byte `offset` (saturated to `u32::MAX`).
    pub const fn new(kind: ParseErrorKind, offset: usize) -> Self {
        // Checked against u32::MAX first; a const fn cannot use `try_from`.
        #[allow(clippy::cast_possible_truncation)]
        let offset = if offset > u32::MAX as usize {
            u32::MAX
        } else {
            offset as u32
        };
        Self { kind, offset }
    }

    /// Returns what was wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// Returns the offset, from the start of the parsed bytes, where parsing stopped.
    pub const fn offset(&self) -> usize {
        self.offset as usize
    }

    /// Returns the same error with its offset moved by `base` bytes, for a
    /// structure parsed from inside a larger one.
    pub(crate) const fn shifted(self, base: usize) -> Self {
        Self::new(self.kind, base.saturating_add(self.offset as usize))
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("unexpected end of data"),
            Self::NonMinimalCompactSize => f.write_str("non-minimal compact-size integer"),
            Self::UnsupportedSegwitFlag(flag) => write!(f, "unsupported segwit flag {flag:#04x}"),
            Self::SegwitFlagWithoutWitness => f.write_str("segwit flag set but no witness present"),
            Self::OversizedWitness => f.write_str("witness larger than 4,000,000 items or bytes"),
            Self::TrailingBytes => f.write_str("trailing bytes after the end"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

impl core::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_small() {
        assert_eq!(core::mem::size_of::<ParseError>(), 8);
    }

    #[test]
    fn offset_saturates() {
        let e = ParseError::new(ParseErrorKind::UnexpectedEnd, usize::MAX);
        assert_eq!(e.offset(), u32::MAX as usize);
        assert_eq!(e.shifted(10).offset(), u32::MAX as usize);
    }
}
