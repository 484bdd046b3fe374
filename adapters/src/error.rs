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

/// An error from a block source.
#[derive(Debug)]
pub struct SourceError {
    kind: ErrorKind,
    /// The user's input is at fault (a flag, a file, a folder), not the source.
    input: bool,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl SourceError {
    /// An error worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transient, message)
    }

    /// An error not worth retrying.
    pub fn persistent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Persistent, message)
    }

    /// An error in what the user gave (a flag, a file, a folder of the
    /// wrong network): persistent, and reported as bad input (exit 2).
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            input: true,
            ..Self::new(ErrorKind::Persistent, message)
        }
    }

    /// Returns true for an error in the user's input rather than the source.
    pub fn is_bad_input(&self) -> bool {
        self.input
    }

    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            input: false,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Returns whether retrying may help.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns true when retrying may help.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Returns the message without the underlying error.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
