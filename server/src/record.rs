//! `fiatline record`: a live source's transactions written as a replayable
//! recording (JSON lines `{"timestamp", "raw_hex"}`, gzip for `.gz`). What
//! was recorded is always written out whole: on Ctrl-C, at the end, and
//! when the source fails (the gzip stream is finished and its trailer's
//! failure reported).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fiatline_adapters::LiveEvent;
use flate2::write::GzEncoder;

use crate::serve::{LiveError, Task};
use crate::RecordArgs;

/// The recording being written.
enum Recording {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Recording {
    fn create(path: &Path) -> std::io::Result<Self> {
        let file = BufWriter::new(File::create(path)?);
        Ok(if path.extension().is_some_and(|e| e == "gz") {
            Self::Gzip(GzEncoder::new(file, flate2::Compression::default()))
        } else {
            Self::Plain(file)
        })
    }

    fn line(&mut self, time: u32, raw: &[u8]) -> std::io::Result<()> {
        let line = serde_json::json!({"timestamp": time, "raw_hex": hex::encode(raw)});
        let out: &mut dyn Write = match self {
            Self::Plain(w) => w,
            Self::Gzip(w) => w,
        };
        writeln!(out, "{line}")
    }

    /// Writes everything out; for gzip, the stream's end and trailer.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Self::Plain(mut w) => w.flush(),
            Self::Gzip(w) => w.finish()?.flush(),
        }
    }
}

/// Ctrl-C sets the flag.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            flag.store(true, Ordering::Relaxed);
        }
    });
    stop
}

pub(crate) fn record(args: &RecordArgs) -> Result<(), LiveError> {
    let path = &args.out;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(LiveError::NoFolder {
            out: path.clone(),
            folder: folder.to_path_buf(),
        });
    }
    let mut source = args.sources.config()?.open_live(args.source.backend())?;
    let write_err = |source| LiveError::Io {
        what: Task::Write(path.clone()),
        source,
    };
    let mut out = Recording::create(path).map_err(Task::Create(path.clone()).failed())?;
    let stop = stop_on_ctrl_c();
    let started = Instant::now();
    let mut written = 0u64;
    let mut last_note = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed)
        && args
            .duration
            .is_none_or(|d| started.elapsed() < Duration::from_secs(d))
        && args.count.is_none_or(|n| written < n)
    {
        match source.next_event(Duration::from_millis(200)) {
            Ok(Some(LiveEvent::Tx { raw, time })) => {
                if let Err(e) = out.line(time, &raw) {
                    failure = Some(write_err(e));
                    break;
                }
                written += 1;
            }
            // A blocks-only source (Electrum): its transactions, seen on arrival.
            Ok(Some(LiveEvent::Block { raw, time })) => match fiatline_core::Block::parse(&raw) {
                Ok(block) => {
                    for tx in block.transactions() {
                        if let Err(e) = out.line(time, tx.as_bytes()) {
                            failure = Some(write_err(e));
                            break;
                        }
                        written += 1;
                    }
                }
                Err(e) => tracing::warn!("skipped a malformed block: {e}"),
            },
            Ok(Some(LiveEvent::End)) => break,
            Ok(_) => {}
            Err(e) if e.is_transient() => tracing::warn!("{e}; retrying"),
            Err(e) => {
                failure = Some(e.into());
                break;
            }
        }
        if failure.is_some() {
            break;
        }
        if last_note.elapsed() >= Duration::from_secs(5) {
            last_note = Instant::now();
            tracing::info!("recorded {written} transactions");
        }
    }
    // What was recorded is kept, whatever stopped the recording.
    out.finish().map_err(write_err)?;
    println!("recorded {written} transactions to {}", path.display());
    failure.map_or(Ok(()), Err)
}
