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

/// The part of an estimate the server publishes for its readers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latest {
    /// Final price, USD.
    pub price: f64,
    /// Rough price, USD.
    pub rough: u32,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Price points found.
    pub points: u32,
    /// Price points within 5% of the price.
    pub points_in_range: u32,
    /// Outputs considered.
    pub outputs: u32,
    /// First-seen time of the window's oldest transaction.
    pub oldest: u32,
    /// First-seen time of the window's newest transaction.
    pub newest: u32,
    /// When the estimate was made (Unix seconds).
    pub at: u32,
}

/// Words in a [`Latest`].
pub const LATEST_WORDS: usize = 11;

fn split(x: f64) -> [u32; 2] {
    let b = x.to_bits();
    [b as u32, (b >> 32) as u32]
}

fn join(lo: u32, hi: u32) -> f64 {
    f64::from_bits(u64::from(lo) | (u64::from(hi) << 32))
}

impl Words<LATEST_WORDS> for Latest {
    fn to_words(&self) -> [u32; LATEST_WORDS] {
        let [p0, p1] = split(self.price);
        let [c0, c1] = split(self.confidence);
        [
            p0,
            p1,
            self.rough,
            c0,
            c1,
            self.points,
            self.points_in_range,
            self.outputs,
            self.oldest,
            self.newest,
            self.at,
        ]
    }

    fn from_words(w: [u32; LATEST_WORDS]) -> Self {
        let [p0, p1, rough, c0, c1, points, points_in_range, outputs, oldest, newest, at] = w;
        Self {
            price: join(p0, p1),
            rough,
            confidence: join(c0, c1),
            points,
            points_in_range,
            outputs,
            oldest,
            newest,
            at,
        }
    }
}

/// A cell holding the [`Latest`] estimate.
pub type LatestCell = SeqCell<LATEST_WORDS>;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn publish_and_read() {
        static CELL: LatestCell = LatestCell::new();
        assert_eq!(CELL.try_read::<Latest>(), None);
        let mut w = CELL.writer().unwrap();
        assert!(CELL.writer().is_none(), "one writer only");
        let v = Latest {
            price: 42951.636,
            rough: 42880,
            confidence: 0.72,
            at: 7,
            ..Latest::default()
        };
        w.publish(&v);
        assert_eq!(CELL.read::<Latest>(), Some(v));
        assert_eq!(CELL.try_read::<Latest>(), Some(v));
    }
}
