//! `fiatline serve` and `fiatline record`: the live price.

mod engine;
mod exchange;
mod http;
mod state;

use std::fmt;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fiatline_adapters::electrum::{ElectrumOptions, ElectrumSource};
use fiatline_adapters::electrum_live::ElectrumLive;
use fiatline_adapters::esplora::EsploraSource;
use fiatline_adapters::esplora_live::{EsploraLive, EsploraLiveConfig};
use fiatline_adapters::replay::{ReplaySource, Speed};
use fiatline_adapters::rpc::RpcSource;
use fiatline_adapters::zmq::ZmqSource;
use fiatline_adapters::{BlockSource, LiveEvent, LiveSource, Retry, SourceError};

use crate::{source, ExchangeArgs, LiveArgs, LiveKind, RecordArgs, ServeArgs};
use engine::{wall_clock, Engine};
use exchange::{Exchange, ExchangeConfig};
use state::Shared;

/// Why `serve` or `record` could not start or go on.
#[derive(Debug)]
pub(crate) enum LiveError {
    Config(String),
    Source(SourceError),
    Io(String, std::io::Error),
}

impl LiveError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Source(_) | Self::Io(..) => 3,
        }
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => f.write_str(m),
            Self::Source(e) => e.fmt(f),
            Self::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for LiveError {}

impl From<SourceError> for LiveError {
    fn from(e: SourceError) -> Self {
        Self::Source(e)
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn parse_speed(s: &str) -> Result<Speed, LiveError> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Speed::Fastest);
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(Speed::Times(x)),
        _ => Err(LiveError::Config(format!(
            "--speed {s:?}: expected a positive multiple (1 is real time) or \"max\""
        ))),
    }
}

/// Opens the live source the flags name; `true` when it keeps recorded time.
fn open_live(args: &LiveArgs) -> Result<(Box<dyn LiveSource>, bool), LiveError> {
    match args.source {
        LiveKind::Replay => {
            let path = args.replay.as_ref().ok_or_else(|| {
                LiveError::Config("--source replay needs --replay FILE (or FIATLINE_REPLAY)".into())
            })?;
            Ok((
                Box::new(ReplaySource::open(path, parse_speed(&args.speed)?)?),
                true,
            ))
        }
        LiveKind::Zmq => {
            if args.zmq.is_empty() {
                return Err(LiveError::Config(
                    "--source zmq needs --zmq ENDPOINT (or FIATLINE_ZMQ)".into(),
                ));
            }
            let rpc = RpcSource::new(source::rpc_config(&args.rpc));
            Ok((Box::new(ZmqSource::connect(&args.zmq, Some(rpc))?), false))
        }
        LiveKind::Esplora => {
            let config = EsploraLiveConfig {
                poll: Duration::from_secs(args.poll),
                interval: esplora_interval(args),
                ..EsploraLiveConfig::default()
            };
            Ok((
                Box::new(EsploraLive::new(esplora_url(args)?, config)?),
                false,
            ))
        }
        LiveKind::Electrum => Ok((
            Box::new(ElectrumLive::new(
                electrum_urls(args)?.to_vec(),
                electrum_options(args),
            )?),
            false,
        )),
    }
}

/// Spacing between Esplora requests, from `--esplora-rate`.
fn esplora_interval(args: &LiveArgs) -> Duration {
    Duration::from_secs(1) / args.esplora_rate
}

fn esplora_url(args: &LiveArgs) -> Result<&str, LiveError> {
    args.esplora_url.as_deref().ok_or_else(|| {
        LiveError::Config(
            "--source esplora needs --esplora-url URL (or FIATLINE_ESPLORA_URL), \
             e.g. https://mempool.space/api"
                .into(),
        )
    })
}

fn electrum_urls(args: &LiveArgs) -> Result<&[String], LiveError> {
    if args.electrum.is_empty() {
        return Err(LiveError::Config(
            "--source electrum needs --electrum URL[,URL…] (or FIATLINE_ELECTRUM), \
             e.g. tcp://127.0.0.1:50001"
                .into(),
        ));
    }
    Ok(&args.electrum)
}

fn electrum_options(args: &LiveArgs) -> ElectrumOptions {
    ElectrumOptions {
        verify_tls: !args.electrum_accept_invalid_certs,
        ..ElectrumOptions::default()
    }
}

/// Where the window's first fill comes from: the live source's own server,
/// or Core's RPC beside ZMQ. None for a replay.
fn fill_source(args: &LiveArgs) -> Result<Option<Box<dyn BlockSource>>, SourceError> {
    Ok(match args.source {
        LiveKind::Replay => None,
        LiveKind::Zmq => Some(Box::new(RpcSource::new(source::rpc_config(&args.rpc)))),
        LiveKind::Esplora => match &args.esplora_url {
            Some(url) => Some(Box::new(EsploraSource::new(url, esplora_interval(args))?)),
            None => None,
        },
        LiveKind::Electrum => {
            // The first server that answers, as the live source fails over.
            let mut last = None;
            for url in &args.electrum {
                match ElectrumSource::connect_with(url, &electrum_options(args)) {
                    Ok(s) => return Ok(Some(Box::new(s))),
                    Err(e) => last = Some(e),
                }
            }
            return last.map_or(Ok(None), Err);
        }
    })
}

/// The blocks of the last `span` seconds, oldest first.
fn recent_blocks(source: &dyn BlockSource, span: u32) -> Result<Vec<(Vec<u8>, u32)>, SourceError> {
    let retry = Retry::default();
    let tip = retry.run(|| source.tip_height())?;
    let since = wall_clock().saturating_sub(span);
    let mut blocks = Vec::new();
    let mut height = tip;
    loop {
        let r = retry.run(|| source.block_ref(height))?;
        if r.time < since || blocks.len() >= 200 {
            break;
        }
        blocks.push((retry.run(|| source.raw_block(&r))?, height));
        eprintln!(
            "filling the window from {}: block {height} ({} so far)",
            source.name(),
            blocks.len()
        );
        let Some(h) = height.checked_sub(1) else {
            break;
        };
        height = h;
    }
    blocks.reverse();
    Ok(blocks)
}

/// The exchange feed the flags ask for, checked before anything starts.
fn exchange_config(args: &ExchangeArgs) -> Result<Option<ExchangeConfig>, LiveError> {
    let Some(url) = &args.exchange_url else {
        return Ok(None);
    };
    if !(args.exchange_threshold.is_finite() && args.exchange_threshold > 0.0) {
        return Err(LiveError::Config(format!(
            "--exchange-threshold {}: expected a positive percentage",
            args.exchange_threshold
        )));
    }
    Ok(Some(ExchangeConfig {
        url: url.clone(),
        interval: Duration::from_secs(args.exchange_interval),
        max_age: args.exchange_max_age,
        threshold: args.exchange_threshold,
    }))
}

pub(crate) fn serve(args: &ServeArgs) -> Result<(), LiveError> {
    init_logs();
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        LiveError::Config(format!(
            "--listen {:?}: expected an address such as 127.0.0.1:8080",
            args.listen
        ))
    })?;
    let exchange = exchange_config(&args.exchange)?;
    let (source, data_clock) = open_live(&args.live)?;
    let fill = if args.no_fill {
        None
    } else {
        fill_source(&args.live).unwrap_or_else(|e| {
            tracing::warn!("cannot fill the window from recent blocks: {e}");
            None
        })
    };
    let exchange = exchange
        .map(Exchange::start)
        .transpose()
        .map_err(|e| LiveError::Io("cannot start the exchange thread".into(), e))?;
    let shared = Shared::new(
        source.name(),
        source.status().mempool,
        args.window,
        args.max_clients,
        exchange,
    );
    let mut engine = Engine::new(source, shared.clone(), args.capacity, data_clock);
    let span = args.window;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| LiveError::Io("cannot start the runtime".into(), e))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| LiveError::Io(format!("cannot listen on {addr}"), e))?;
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                if let Some(fill) = fill {
                    match recent_blocks(&*fill, span) {
                        Ok(blocks) => engine.prefill(blocks),
                        Err(e) => {
                            tracing::warn!("could not fill the window from recent blocks: {e}");
                        }
                    }
                }
                engine.run();
            })
            .map_err(|e| LiveError::Io("cannot start the engine".into(), e))?;
        println!(
            "fiatline: serving http://{addr}/ (source: {}, window {} s)",
            shared.source, span
        );
        axum::serve(listener, http::router(shared))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| LiveError::Io("the server stopped".into(), e))
    })
}

pub(crate) fn record(args: &RecordArgs) -> Result<(), LiveError> {
    init_logs();
    let (mut source, _) = open_live(&args.live)?;
    let file = std::fs::File::create(&args.out)
        .map_err(|e| LiveError::Io(format!("cannot create {}", args.out.display()), e))?;
    let gzip = args.out.extension().is_some_and(|e| e == "gz");
    let mut out: Box<dyn std::io::Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::default(),
        ))
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
                stop.store(true, Ordering::Relaxed);
            }
        });
    }
    let started = Instant::now();
    let mut written = 0u64;
    let mut last_note = Instant::now();
    let write_err = |e| LiveError::Io(format!("cannot write {}", args.out.display()), e);
    while !stop.load(Ordering::Relaxed)
        && args
            .duration
            .is_none_or(|d| started.elapsed() < Duration::from_secs(d))
        && args.count.is_none_or(|n| written < n)
    {
        match source.next_event(Duration::from_millis(200)) {
            Ok(Some(LiveEvent::Tx { raw, time })) => {
                writeln!(
                    out,
                    r#"{{"timestamp": {time}, "raw_hex": "{}"}}"#,
                    hex::encode(raw)
                )
                .map_err(write_err)?;
                written += 1;
            }
            // A blocks-only source (Electrum): its transactions, seen on arrival.
            Ok(Some(LiveEvent::Block { raw, time })) => match fiatline_core::Block::parse(&raw) {
                Ok(block) => {
                    for tx in block.transactions() {
                        writeln!(
                            out,
                            r#"{{"timestamp": {time}, "raw_hex": "{}"}}"#,
                            hex::encode(tx.as_bytes())
                        )
                        .map_err(write_err)?;
                        written += 1;
                    }
                }
                Err(e) => tracing::warn!("skipped a malformed block: {e}"),
            },
            Ok(Some(LiveEvent::End)) => break,
            Ok(_) => {}
            Err(e) if e.is_transient() => tracing::warn!("{e}; retrying"),
            Err(e) => return Err(e.into()),
        }
        if last_note.elapsed() >= Duration::from_secs(5) {
            last_note = Instant::now();
            eprintln!("recorded {written} transactions");
        }
    }
    out.flush().map_err(write_err)?;
    drop(out);
    println!("recorded {written} transactions to {}", args.out.display());
    Ok(())
}
