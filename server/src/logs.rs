//! Logs of the long-running subcommands (`serve`, `record`): text for a
//! terminal or the journal, JSON lines for log shippers.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum LogFormat {
    /// One line of text per event; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields.message`
    /// and the event's other fields), for Loki, Vector, journald
    /// forwarders and the like.
    Json,
}

/// Installs the global subscriber: level from `RUST_LOG` (default
/// `info`), lines to standard error in `format`.
pub(crate) fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second call (tests running the server in-process) keeps the first.
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        // Escape codes in a journal or a file are noise: colour only when
        // a person is watching.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
