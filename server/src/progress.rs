//! A progress bar on stderr while blocks are fetched; silent when stderr is
//! not a terminal, so scripts and logs stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts fetched blocks across every run of a command.
pub(crate) struct Progress(ProgressBar);

impl Progress {
    pub(crate) fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:>12} [{bar:30}] {pos}/{len} blocks, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message("fetching");
        Self(bar)
    }

    /// A bar that is never drawn (work in a server's background).
    pub(crate) fn hidden() -> Self {
        Self(ProgressBar::hidden())
    }

    /// Adds `n` blocks to fetch.
    pub(crate) fn expect(&self, n: usize) {
        self.0.inc_length(n as u64);
    }

    /// Counts one block fetched.
    pub(crate) fn tick(&self) {
        self.0.inc(1);
    }

    /// Shows `message` before the bar (e.g. how many days are done).
    pub(crate) fn note(&self, message: &str) {
        self.0.set_message(message.to_owned());
    }

    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}
