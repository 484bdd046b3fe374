//! Replaying recordings: JSON lines `{"timestamp": <unix seconds>,
//! "raw_hex": "<tx hex>"}`, optionally gzip-compressed (detected by its
//! magic bytes), at any speed multiple or as fast as possible. A line that
//! does not parse (bad JSON, bad hex, a malformed transaction) is skipped,
//! counted and logged; the replay goes on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::live::{Clock, LiveEvent, LiveSource, LiveStatus};
use crate::SourceError;

/// What went wrong reading a recording.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecordingError {
    /// The file cannot be opened (bad input).
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading stopped part way: a truncated or damaged file.
    Read {
        /// The recording's name.
        name: String,
        /// Lines read before.
        after_line: u64,
        /// Why.
        source: std::io::Error,
    },
}

impl std::fmt::Display for RecordingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open { path, .. } => {
                write!(f, "cannot open the recording {}", path.display())
            }
            Self::Read {
                name, after_line, ..
            } => write!(
                f,
                "cannot read the recording {name} after line {after_line} (truncated or damaged)"
            ),
        }
    }
}

impl std::error::Error for RecordingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open { source, .. } | Self::Read { source, .. } => Some(source),
        }
    }
}

impl From<RecordingError> for SourceError {
    fn from(e: RecordingError) -> Self {
        match e {
            RecordingError::Open { .. } => Self::bad_input(e),
            RecordingError::Read { .. } => Self::persistent(e),
        }
    }
}

pub use crate::config::ReplaySpeed as Speed;

#[derive(Deserialize)]
struct Line {
    timestamp: u64,
    raw_hex: String,
}

/// Counts of a replay so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayStats {
    /// Lines read.
    pub lines: u64,
    /// Transactions delivered.
    pub delivered: u64,
    /// Lines skipped as malformed.
    pub skipped: u64,
}

/// A recording being replayed.
pub struct ReplaySource {
    lines: Box<dyn BufRead + Send>,
    name: String,
    speed: Speed,
    /// Recorded time of the first line and the instant it was played.
    origin: Option<(u64, Instant)>,
    pending: Option<(u64, Vec<u8>)>,
    stats: ReplayStats,
    done: bool,
    /// The recording could not be read to its end.
    failed: bool,
}

/// Longest line read; longer ones are skipped.
const MAX_LINE: u64 = 16 * 1024 * 1024;

impl std::fmt::Debug for ReplaySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaySource")
            .field("name", &self.name)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ReplaySource {
    /// Opens a recording file, gzip or plain.
    ///
    /// # Errors
    /// Returns a persistent error when the file cannot be opened.
    pub fn open(path: &Path, speed: Speed) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|source| RecordingError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = BufReader::new(file);
        let gzip = reader
            .fill_buf()
            .is_ok_and(|b| b.starts_with(&[0x1f, 0x8b]));
        let lines: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader)))
        } else {
            Box::new(reader)
        };
        Ok(Self::from_reader(lines, &path.display().to_string(), speed))
    }

    /// Replays lines from any reader (plain JSON lines).
    pub fn from_reader(lines: Box<dyn BufRead + Send>, name: &str, speed: Speed) -> Self {
        Self {
            lines,
            name: name.to_string(),
            speed,
            origin: None,
            pending: None,
            stats: ReplayStats::default(),
            done: false,
            failed: false,
        }
    }

    /// Returns the counts so far.
    pub fn stats(&self) -> ReplayStats {
        self.stats
    }

    /// Reads lines until one holds a well-formed transaction; `None` at the
    /// end. A line that is not UTF-8, not JSON, or over [`MAX_LINE`] is
    /// skipped, counted and logged; only a failure to read stops.
    fn read_next(&mut self) -> Result<Option<(u64, Vec<u8>)>, SourceError> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut self.lines)
                .take(MAX_LINE)
                .read_until(b'\n', &mut buf)
                .map_err(|source| RecordingError::Read {
                    name: self.name.clone(),
                    after_line: self.stats.lines,
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.stats.lines += 1;
            if n as u64 == MAX_LINE && buf.last() != Some(&b'\n') {
                // The rest of an overlong line, up to its end, goes too.
                let mut rest = Vec::new();
                let _ = self.lines.read_until(b'\n', &mut rest);
                self.skip(&LineError::TooLong);
                continue;
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(text) => text,
                Err(e) => {
                    self.skip(&LineError::NotUtf8(e));
                    continue;
                }
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            match parse_line(text) {
                Ok(tx) => return Ok(Some(tx)),
                Err(why) => self.skip(&why),
            }
        }
    }

    fn skip(&mut self, why: &LineError) {
        self.stats.skipped += 1;
        let cause = std::error::Error::source(why).map_or_else(String::new, |c| format!(": {c}"));
        tracing::warn!(recording = %self.name, line = self.stats.lines, "skipped: {why}{cause}");
    }

    /// When the line recorded at `t` is due.
    fn due(&self, t: u64) -> Option<Instant> {
        let Speed::Times(factor) = self.speed else {
            return None;
        };
        let (t0, start) = self.origin?;
        let secs = t.saturating_sub(t0) as f64 / factor.max(f64::MIN_POSITIVE);
        Some(start + Duration::from_secs_f64(secs.min(1e9)))
    }
}

/// Why a line is not a recording line.
#[derive(Debug)]
#[non_exhaustive]
pub enum LineError {
    /// Longer than the 16 MiB a line may have.
    TooLong,
    /// Not UTF-8.
    NotUtf8(std::str::Utf8Error),
    /// Not a JSON object with `timestamp` and `raw_hex`.
    Json(serde_json::Error),
    /// `raw_hex` is not hex.
    Hex(hex::FromHexError),
    /// `raw_hex` is not one transaction.
    Transaction(fiatline_core::ParseError),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong => f.write_str("a line over 16 MiB"),
            Self::NotUtf8(_) => f.write_str("a line that is not UTF-8"),
            Self::Json(_) => f.write_str("not a recording line"),
            Self::Hex(_) => f.write_str("raw_hex is not hex"),
            Self::Transaction(_) => f.write_str("raw_hex is not a transaction"),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::TooLong => None,
            Self::NotUtf8(e) => Some(e),
            Self::Json(e) => Some(e),
            Self::Hex(e) => Some(e),
            Self::Transaction(e) => Some(e),
        }
    }
}

/// Reads one recording line: its timestamp and transaction bytes.
///
/// # Errors
/// Returns a [`LineError`]: bad JSON or missing fields, non-hex, or bytes
/// that are not one transaction.
pub fn parse_line(text: &str) -> Result<(u64, Vec<u8>), LineError> {
    let line: Line = serde_json::from_str(text).map_err(LineError::Json)?;
    let raw = hex::decode(line.raw_hex.trim()).map_err(LineError::Hex)?;
    fiatline_core::Transaction::parse(&raw).map_err(LineError::Transaction)?;
    Ok((line.timestamp, raw))
}

impl LiveSource for ReplaySource {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn clock(&self) -> Clock {
        Clock::Recorded
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Option<LiveEvent>, SourceError> {
        if self.done {
            std::thread::sleep(timeout);
            return Ok(None);
        }
        if self.pending.is_none() {
            self.pending = match self.read_next() {
                Ok(p) => p,
                Err(e) => {
                    // What was read stands; the recording ends here, failed.
                    self.done = true;
                    self.failed = true;
                    tracing::error!("{e}");
                    return Err(e);
                }
            };
            if self.pending.is_none() {
                self.done = true;
                return Ok(Some(LiveEvent::End));
            }
        }
        let Some((t, _)) = self.pending else {
            return Ok(None);
        };
        let now = Instant::now();
        self.origin.get_or_insert((t, now));
        if let Some(due) = self.due(t) {
            if due > now {
                let wait = due - now;
                std::thread::sleep(wait.min(timeout));
                if wait > timeout {
                    return Ok(None);
                }
            }
        }
        let Some((t, raw)) = self.pending.take() else {
            return Ok(None);
        };
        self.stats.delivered += 1;
        Ok(Some(LiveEvent::Tx {
            raw,
            time: u32::try_from(t).unwrap_or(u32::MAX),
        }))
    }

    fn status(&self) -> LiveStatus {
        LiveStatus {
            connected: !self.done,
            mempool: true,
            backlog: 0,
            skipped: self.stats.skipped,
            failed: self.failed,
            ..LiveStatus::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real transaction of block 702861, as hex.
    fn tx_hex() -> String {
        let block = fiatline_core::Block::parse(fiatline_testkit::block_702861()).unwrap();
        hex::encode(block.transactions().nth(1).unwrap().as_bytes())
    }

    fn replay(text: &str) -> ReplaySource {
        ReplaySource::from_reader(
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            "test",
            Speed::Fastest,
        )
    }

    fn events(mut r: ReplaySource) -> (Vec<LiveEvent>, ReplayStats) {
        let mut out = Vec::new();
        loop {
            match r.next_event(Duration::from_millis(1)).unwrap() {
                Some(LiveEvent::End) => return (out, r.stats()),
                Some(e) => out.push(e),
                None => {}
            }
        }
    }

    #[test]
    fn malformed_lines_are_skipped_and_counted() {
        let tx = tx_hex();
        let text = format!(
            "{{\"timestamp\": 5, \"raw_hex\": \"{tx}\"}}\n\
             not json\n\
             {{\"timestamp\": 6, \"raw_hex\": \"zz\"}}\n\
             {{\"timestamp\": 7, \"raw_hex\": \"0100\"}}\n\
             {{\"timestamp\": 8}}\n\
             \n\
             {{\"timestamp\": 9, \"raw_hex\": \"{tx}\"}}\n\
             {{\"timestamp\": -1, \"raw_hex\": \"{tx}\"}}\n"
        );
        let (events, stats) = events(replay(&text));
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[1], LiveEvent::Tx { time: 9, .. }));
        assert_eq!(
            stats,
            ReplayStats {
                lines: 8,
                delivered: 2,
                skipped: 5
            }
        );
    }

    #[test]
    fn each_bad_line_says_why_with_its_cause() {
        let tx = tx_hex();
        let why = |line: &str| parse_line(line).unwrap_err();
        assert!(matches!(why("not json"), LineError::Json(_)));
        assert!(matches!(why(r#"{"timestamp": 8}"#), LineError::Json(_)));
        assert!(matches!(
            why(r#"{"timestamp": 6, "raw_hex": "zz"}"#),
            LineError::Hex(_)
        ));
        let short = why(r#"{"timestamp": 7, "raw_hex": "0100"}"#);
        assert!(matches!(short, LineError::Transaction(_)));
        assert!(std::error::Error::source(&short).is_some());
        assert_eq!(
            parse_line(&format!(r#"{{"timestamp": 9, "raw_hex": "{tx}"}}"#)).unwrap(),
            (9, hex::decode(&tx).unwrap())
        );
    }

    #[test]
    fn a_speed_multiple_paces_the_replay() {
        let tx = tx_hex();
        let text = format!("{{\"timestamp\": 100, \"raw_hex\": \"{tx}\"}}\n{{\"timestamp\": 102, \"raw_hex\": \"{tx}\"}}\n");
        let mut r = ReplaySource::from_reader(
            Box::new(std::io::Cursor::new(text.into_bytes())),
            "t",
            Speed::Times(20.0),
        );
        let start = Instant::now();
        let mut got = 0;
        while got < 2 && start.elapsed() < Duration::from_secs(5) {
            if let Some(LiveEvent::Tx { .. }) = r.next_event(Duration::from_millis(20)).unwrap() {
                got += 1;
            }
        }
        // Two recorded seconds at 20x: about 100 ms.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(95) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }
}
