//! A bounds-checked cursor over a byte slice: every read either succeeds or
//! returns [`ParseErrorKind::UnexpectedEnd`]; nothing here can panic.

use crate::error::{ParseError, ParseErrorKind};

/// Largest vector rust-bitcoin agrees to decode (its `MAX_VEC_SIZE`).
pub(crate) const MAX_VEC_SIZE: usize = 4_000_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub(crate) const fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) const fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError::new(kind, self.pos)
    }

    /// Returns the next `n` bytes and advances past them.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.bytes.get(self.pos..end)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(self.error(ParseErrorKind::UnexpectedEnd)),
        }
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], ParseError> {
        let slice = self.take(N)?;
        slice
            .try_into()
            .map_err(|_| self.error(ParseErrorKind::UnexpectedEnd))
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_le_bytes(*self.array::<4>()?))
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, ParseError> {
        Ok(u64::from_le_bytes(*self.array::<8>()?))
    }

    /// Reads a compact-size integer, rejecting non-minimal encodings as
    /// Bitcoin Core and rust-bitcoin do.
    #[inline]
    pub(crate) fn compact_size(&mut self) -> Result<u64, ParseError> {
        let start = self.pos;
        let non_minimal = ParseError::new(ParseErrorKind::NonMinimalCompactSize, start);
        match self.u8()? {
            0xfd => {
                let v = u16::from_le_bytes(*self.array::<2>()?);
                if v < 0xfd {
                    return Err(non_minimal);
                }
                Ok(u64::from(v))
            }
            0xfe => {
                let v = self.u32()?;
                if v < 0x1_0000 {
                    return Err(non_minimal);
                }
                Ok(u64::from(v))
            }
            0xff => {
                let v = self.u64()?;
                if v < 0x1_0000_0000 {
                    return Err(non_minimal);
                }
                Ok(v)
            }
            small => Ok(u64::from(small)),
        }
    }

    /// Reads a count of items that each take at least `min_item_len` bytes,
    /// refusing a count the remaining bytes cannot hold, so that no loop over
    /// it can run past the data.
    #[inline]
    pub(crate) fn count(&mut self, min_item_len: usize) -> Result<usize, ParseError> {
        let at = self.pos;
        let n = self.compact_size()?;
        let fits = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(min_item_len).map(|len| (n, len)))
            .filter(|&(_, len)| len <= self.remaining());
        match fits {
            Some((n, _)) => Ok(n),
            None => Err(ParseError::new(ParseErrorKind::UnexpectedEnd, at)),
        }
    }

    /// Reads a compact-size length and then that many bytes.
    #[inline]
    pub(crate) fn var_bytes(&mut self) -> Result<&'a [u8], ParseError> {
        let n = self.count(1)?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(bytes: &[u8]) -> Result<u64, ParseErrorKind> {
        Reader::new(bytes).compact_size().map_err(|e| e.kind())
    }

    #[test]
    fn compact_size_boundaries() {
        assert_eq!(cs(&[0xfc]), Ok(0xfc));
        assert_eq!(
            cs(&[0xfd, 0xfc, 0x00]),
            Err(ParseErrorKind::NonMinimalCompactSize)
        );
        assert_eq!(cs(&[0xfd, 0xfd, 0x00]), Ok(0xfd));
        assert_eq!(
            cs(&[0xfe, 0xff, 0xff, 0, 0]),
            Err(ParseErrorKind::NonMinimalCompactSize)
        );
        assert_eq!(cs(&[0xfe, 0, 0, 1, 0]), Ok(0x1_0000));
        assert_eq!(
            cs(&[0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
            Err(ParseErrorKind::NonMinimalCompactSize)
        );
        assert_eq!(cs(&[0xff, 0, 0, 0, 0, 1, 0, 0, 0]), Ok(0x1_0000_0000));
        assert_eq!(cs(&[0xfd, 0x00]), Err(ParseErrorKind::UnexpectedEnd));
        assert_eq!(cs(&[]), Err(ParseErrorKind::UnexpectedEnd));
    }

    #[test]
    fn count_never_exceeds_remaining_bytes() {
        let mut r = Reader::new(&[0x03, 1, 2, 3]);
        assert_eq!(r.count(1), Ok(3));
        let mut r = Reader::new(&[0x03, 1, 2]);
        assert_eq!(
            r.count(1).map_err(|e| e.kind()),
            Err(ParseErrorKind::UnexpectedEnd)
        );
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Reader::new(&huge).count(41).map_err(|e| e.offset()), Err(0));
    }
}
