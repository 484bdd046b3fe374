//! Source errors that say whether trying again can help.

use std::error::Error as StdError;
use std::fmt;

/// Whether an error may go away if the same request is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying: the node is starting, busy, rate-limiting, or the
    /// connection dropped.
    Transient,
    /// Not worth retrying: wrong credentials, a block that does not exist,
    /// malformed data, a misconfiguration.
    Persistent,
}

/// An error from a block source: the backend's own typed error (each
/// module has its own: [`crate::rpc::RpcError`], [`crate::blk::BlkError`],
/// [`crate::electrum::ElectrumError`], …), and whether trying again can
/// help, as lightning-block-sync's `BlockSourceError` carries it across the
/// one interface every source implements.
///
/// Displayed as the backend's error followed by its cause; [`source`]
/// gives that cause, and [`SourceError::get_ref`] the typed error itself.
///
/// [`source`]: StdError::source
#[derive(Debug)]
pub struct SourceError {
    kind: ErrorKind,
    /// The user's input is at fault (a flag, a file, a folder), not the source.
    input: bool,
    error: Box<dyn StdError + Send + Sync>,
}

impl SourceError {
    /// A typed error worth retrying.
    pub fn transient(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::new(ErrorKind::Transient, error)
    }

    /// A typed error not worth retrying.
    pub fn persistent(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::new(ErrorKind::Persistent, error)
    }

    /// An error in what the user gave (a flag, a file, a folder of the
    /// wrong network): persistent, and reported as bad input (exit 2).
    pub fn bad_input(error: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            input: true,
            ..Self::new(ErrorKind::Persistent, error)
        }
    }

    /// A typed error of the given kind.
    pub fn new(kind: ErrorKind, error: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            kind,
            input: false,
            error: Box::new(error),
        }
    }

    /// The same error, marked worth retrying (a live source that fails
    /// over to another server, say).
    #[must_use]
    pub fn into_transient(self) -> Self {
        Self {
            kind: ErrorKind::Transient,
            ..self
        }
    }

    /// Returns true for an error in the user's input rather than the source.
    pub fn is_bad_input(&self) -> bool {
        self.input
    }

    /// Returns whether retrying may help.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns true when retrying may help.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Returns the backend's typed error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.error
    }

    /// Returns the backend's error as `T`, if it is one.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.error.downcast_ref()
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)?;
        if let Some(cause) = self.error.source() {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}
