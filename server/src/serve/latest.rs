//! The latest estimate as the engine publishes it to the HTTP handlers:
//! a fixed record of 32-bit words in core's lock-free [`SeqCell`].

use fiatline_core::cell::{SeqCell, Words};

/// The part of an estimate the server publishes for its readers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Latest {
    /// Final price, USD.
    pub(crate) price: f64,
    /// Rough price, USD.
    pub(crate) rough: u32,
    /// Confidence in [0, 1].
    pub(crate) confidence: f64,
    /// Price points found.
    pub(crate) points: u32,
    /// Price points within 5% of the price.
    pub(crate) points_in_range: u32,
    /// Outputs considered.
    pub(crate) outputs: u32,
    /// First-seen time of the window's oldest transaction.
    pub(crate) oldest: u32,
    /// First-seen time of the window's newest transaction.
    pub(crate) newest: u32,
    /// When the estimate was made (Unix seconds).
    pub(crate) at: u32,
}

/// Words in a [`Latest`].
pub(crate) const LATEST_WORDS: usize = 11;

/// A double as its low and high words.
fn split(x: f64) -> [u32; 2] {
    let [a, b, c, d, e, f, g, h] = x.to_bits().to_le_bytes();
    [
        u32::from_le_bytes([a, b, c, d]),
        u32::from_le_bytes([e, f, g, h]),
    ]
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
pub(crate) type LatestCell = SeqCell<LATEST_WORDS>;
