//! The run's ordered list of raw outputs, kept in storage lent by the caller.

use crate::CapacityError;

/// An output that entered the histogram, with its block's height and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawOutput {
    /// The amount in satoshis.
    pub sats: u64,
    /// Height of the output's block.
    pub height: u32,
    /// Time of the output's block (Unix seconds).
    pub time: u32,
}

impl RawOutput {
    /// Returns the amount in BTC, computed as the reference does (`sats / 1e8`).
    pub fn btc(&self) -> f64 {
        self.sats as f64 / 1e8
    }
}

/// An append-only list of outputs in a caller's slice.
#[derive(Debug)]
pub struct OutputLog<'s> {
    buf: &'s mut [RawOutput],
    len: usize,
}

impl<'s> OutputLog<'s> {
    /// Creates an empty log that can hold `storage.len()` outputs.
    pub fn new(storage: &'s mut [RawOutput]) -> Self {
        Self {
            buf: storage,
            len: 0,
        }
    }

    /// Appends an output.
    ///
    /// # Errors
    /// Returns [`CapacityError::Outputs`] when the storage is full.
    pub fn push(&mut self, output: RawOutput) -> Result<(), CapacityError> {
        let slot = self.buf.get_mut(self.len).ok_or(CapacityError::Outputs)?;
        *slot = output;
        self.len += 1;
        Ok(())
    }

    /// Returns the outputs in the order they were appended.
    pub fn as_slice(&self) -> &[RawOutput] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Returns how many more outputs fit.
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }
}
