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
        btc_of(self.sats)
    }
}

/// An amount in BTC, computed as the reference does (`sats / 1e8`).
pub(crate) fn btc_of(sats: u64) -> f64 {
    sats as f64 / 1e8
}

/// An append-only list of outputs in storage of the caller's: a slice, an
/// array, or with `std` a `Vec` that [`OutputLog::grow_into`] can replace.
#[derive(Debug)]
pub struct OutputLog<S> {
    buf: S,
    len: usize,
}

impl<S: AsRef<[RawOutput]> + AsMut<[RawOutput]>> OutputLog<S> {
    /// Creates an empty log that can hold as many outputs as `storage` has slots.
    pub fn new(storage: S) -> Self {
        Self {
            buf: storage,
            len: 0,
        }
    }

    /// Moves the log into new storage, keeping its outputs.
    ///
    /// # Errors
    /// Returns [`CapacityError::Outputs`], with `self` unchanged, if the
    /// new storage is too small.
    pub fn grow_into<N: AsRef<[RawOutput]> + AsMut<[RawOutput]>>(
        self,
        storage: N,
    ) -> Result<OutputLog<N>, (Self, CapacityError)> {
        if storage.as_ref().len() < self.len {
            return Err((self, CapacityError::Outputs));
        }
        Ok(self.move_into(storage))
    }

    /// Copies into `storage`, at least as long as this log (checked by the caller).
    pub(crate) fn move_into<N: AsRef<[RawOutput]> + AsMut<[RawOutput]>>(
        self,
        mut storage: N,
    ) -> OutputLog<N> {
        let len = self.len.min(storage.as_ref().len());
        if let Some(dest) = storage.as_mut().get_mut(..len) {
            dest.copy_from_slice(self.as_slice().get(..len).unwrap_or_default());
        }
        OutputLog { buf: storage, len }
    }

    /// Appends an output.
    ///
    /// # Errors
    /// Returns [`CapacityError::Outputs`] when the storage is full.
    pub fn push(&mut self, output: RawOutput) -> Result<(), CapacityError> {
        let slot = self
            .buf
            .as_mut()
            .get_mut(self.len)
            .ok_or(CapacityError::Outputs)?;
        *slot = output;
        self.len += 1;
        Ok(())
    }

    /// Returns the outputs in the order they were appended.
    pub fn as_slice(&self) -> &[RawOutput] {
        self.buf.as_ref().get(..self.len).unwrap_or_default()
    }

    /// Returns how many more outputs fit.
    pub fn room(&self) -> usize {
        self.buf.as_ref().len() - self.len
    }
}
