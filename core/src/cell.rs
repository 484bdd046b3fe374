//! The latest estimate, published by one writer and read by many readers
//! without locks and without torn values: a sequence lock over atomic words.
//!
//! The writer makes the sequence odd, stores the words, and makes it even
//! again; a reader keeps a value only if the sequence was even and the same
//! before and after it loaded the words. Every word is an atomic, so no
//! access is a data race; the fences order the words against the sequence.
//! [`SeqCell::try_read`] never waits, so an interrupt handler can read (a
//! handler that interrupted the writer sees `None` rather than spinning
//! forever); [`SeqCell::read`] retries until a write is not in progress.
//! Model-checked with `loom` (`core/tests/loom.rs`).

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};

#[cfg(not(loom))]
use core::sync::atomic::{fence, AtomicBool, AtomicU32, Ordering};

/// A value that travels as `N` 32-bit words (32-bit atomics exist on every
/// target with atomics, so firmware can use the cell too).
pub trait Words<const N: usize>: Copy {
    /// Encodes the value.
    fn to_words(&self) -> [u32; N];
    /// Decodes a value encoded by [`Words::to_words`].
    fn from_words(words: [u32; N]) -> Self;
}

/// A sequence-locked cell of `N` words.
#[derive(Debug)]
pub struct SeqCell<const N: usize> {
    seq: AtomicU32,
    words: [AtomicU32; N],
    // Read only by `writer`, which needs compare-and-swap.
    #[cfg_attr(not(any(loom, target_has_atomic = "8")), allow(dead_code))]
    writer_taken: AtomicBool,
}

/// The one handle that may publish into a [`SeqCell`].
#[derive(Debug)]
pub struct Writer<'c, const N: usize> {
    cell: &'c SeqCell<N>,
}

impl<const N: usize> Default for SeqCell<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SeqCell<N> {
    /// Creates an empty cell: nothing to read until the first publish.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            seq: AtomicU32::new(0),
            words: [const { AtomicU32::new(0) }; N],
            writer_taken: AtomicBool::new(false),
        }
    }

    /// Creates an empty cell (loom's atomics are not `const`).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            seq: AtomicU32::new(0),
            words: core::array::from_fn(|_| AtomicU32::new(0)),
            writer_taken: AtomicBool::new(false),
        }
    }

    /// Returns the cell's writer, once: a second call gets `None`, so two
    /// writers can never interleave.
    ///
    /// Handing out exactly one writer takes an atomic swap, so this exists
    /// only on targets with compare-and-swap (not on Cortex-M0's
    /// `thumbv6m` or `riscv32imc`); reading works everywhere.
    #[cfg(any(loom, target_has_atomic = "8"))]
    pub fn writer(&self) -> Option<Writer<'_, N>> {
        (!self.writer_taken.swap(true, Ordering::AcqRel)).then_some(Writer { cell: self })
    }

    /// Reads the latest value, or `None` if nothing was published yet or a
    /// write is in progress right now. Never waits.
    pub fn try_read<T: Words<N>>(&self) -> Option<T> {
        let before = self.seq.load(Ordering::Acquire);
        if before == 0 || before % 2 == 1 {
            return None;
        }
        let mut words = [0u32; N];
        for (w, a) in words.iter_mut().zip(&self.words) {
            *w = a.load(Ordering::Relaxed);
        }
        fence(Ordering::Acquire);
        let after = self.seq.load(Ordering::Relaxed);
        (before == after).then(|| T::from_words(words))
    }

    /// Reads the latest value, retrying while a write is in progress;
    /// `None` only if nothing was published yet.
    pub fn read<T: Words<N>>(&self) -> Option<T> {
        loop {
            if self.seq.load(Ordering::Acquire) == 0 {
                return None;
            }
            if let Some(v) = self.try_read() {
                return Some(v);
            }
            #[cfg(loom)]
            loom::thread::yield_now();
            #[cfg(not(loom))]
            core::hint::spin_loop();
        }
    }
}

impl<const N: usize> Writer<'_, N> {
    /// Publishes a value; readers see it whole or not at all.
    pub fn publish<T: Words<N>>(&mut self, value: &T) {
        let cell = self.cell;
        let seq = cell.seq.load(Ordering::Relaxed);
        // Odd: a write is in progress. Skip 0 on wrap-around: 0 means "empty".
        cell.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        for (a, w) in cell.words.iter().zip(value.to_words()) {
            a.store(w, Ordering::Relaxed);
        }
        let next = match seq.wrapping_add(2) {
            0 => 2,
            n => n,
        };
        cell.seq.store(next, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A price and a time, as three words.
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Priced(f64, u32);

    impl Words<3> for Priced {
        fn to_words(&self) -> [u32; 3] {
            let [a, b, c, d, e, f, g, h] = self.0.to_bits().to_le_bytes();
            [
                u32::from_le_bytes([a, b, c, d]),
                u32::from_le_bytes([e, f, g, h]),
                self.1,
            ]
        }
        fn from_words([lo, hi, t]: [u32; 3]) -> Self {
            Self(f64::from_bits(u64::from(lo) | (u64::from(hi) << 32)), t)
        }
    }

    #[test]
    fn publish_and_read() {
        static CELL: SeqCell<3> = SeqCell::new();
        assert_eq!(CELL.try_read::<Priced>(), None);
        let mut w = CELL.writer().unwrap();
        assert!(CELL.writer().is_none(), "one writer only");
        let v = Priced(42951.636, 7);
        w.publish(&v);
        assert_eq!(CELL.read::<Priced>(), Some(v));
        assert_eq!(CELL.try_read::<Priced>(), Some(v));
        w.publish(&Priced(1.5, 8));
        assert_eq!(CELL.read::<Priced>(), Some(Priced(1.5, 8)));
    }
}
