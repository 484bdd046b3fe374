//! `fiatline serve` and `fiatline record`: the live price.

mod admission;
mod blocks_answer;
mod engine;
mod exchange;
mod history_api;
mod http;
mod latest;
mod listen;
mod messages;
mod per_address;
mod state;
mod waiting;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fiatline_adapters::{BlockSource, Retry, SourceError};

use crate::history::keeper::Keeper;
use crate::history::store::{Estimate, Store, StoreError};
use crate::{ExchangeArgs, ServeArgs};
use admission::Origins;
use engine::{wall_clock, Engine};
use exchange::{Exchange, ExchangeConfig};
use latest::Latest;
use state::{ClientLimits, Shared};

/// Why `serve` or `record` could not start or go on.
#[derive(Debug)]
pub(crate) enum LiveError {
    /// `--exchange-threshold` is not a positive percentage.
    Threshold(f64),
    /// `--listen` names no address.
    Listen(String),
    /// `--out`'s folder does not exist.
    NoFolder {
        out: std::path::PathBuf,
        folder: std::path::PathBuf,
    },
    /// The history file cannot be opened for this network.
    Store(StoreError),
    /// `--capacity` is more than the window can index.
    Capacity {
        capacity: usize,
        source: fiatline_core::WindowError,
    },
    /// The source failed.
    Source(SourceError),
    /// A thread, the runtime, the listener or the recording failed.
    Io { what: Task, source: std::io::Error },
}

/// What a [`LiveError::Io`] was doing.
#[derive(Debug)]
pub(crate) enum Task {
    StartHistory,
    StartExchange,
    StartRuntime,
    StartEngine,
    Listen(SocketAddr),
    Create(std::path::PathBuf),
    Write(std::path::PathBuf),
}

impl Task {
    /// The error of this task failing with `source`.
    pub(crate) fn failed(self) -> impl FnOnce(std::io::Error) -> LiveError {
        move |source| LiveError::Io { what: self, source }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StartHistory => f.write_str("cannot start the history thread"),
            Self::StartExchange => f.write_str("cannot start the exchange thread"),
            Self::StartRuntime => f.write_str("cannot start the runtime"),
            Self::StartEngine => f.write_str("cannot start the engine"),
            Self::Listen(addr) => write!(f, "cannot listen on {addr}"),
            Self::Create(path) => write!(f, "cannot create {}", path.display()),
            Self::Write(path) => write!(f, "cannot write {}", path.display()),
        }
    }
}

impl LiveError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Threshold(_)
            | Self::Listen(_)
            | Self::NoFolder { .. }
            | Self::Store(_)
            | Self::Capacity { .. } => 2,
            Self::Source(e) if e.is_bad_input() => 2,
            Self::Source(_) | Self::Io { .. } => 3,
        }
    }
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Threshold(t) => {
                write!(
                    f,
                    "--exchange-threshold {t}: expected a positive percentage"
                )
            }
            Self::Listen(listen) => write!(
                f,
                "--listen '{listen}': expected an address such as 127.0.0.1:8080 or \
                 localhost:8080"
            ),
            Self::NoFolder { out, folder } => {
                write!(f, "--out {}: no folder {}", out.display(), folder.display())
            }
            Self::Store(e) => e.fmt(f),
            Self::Capacity { capacity, source } => write!(f, "--capacity {capacity}: {source}"),
            Self::Source(e) => e.fmt(f),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for LiveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            Self::Capacity { source, .. } => Some(source),
            Self::Source(e) => e.source(),
            Self::Io { source, .. } => Some(source),
            Self::Threshold(_) | Self::Listen(_) | Self::NoFolder { .. } => None,
        }
    }
}

impl From<SourceError> for LiveError {
    fn from(e: SourceError) -> Self {
        Self::Source(e)
    }
}

/// The blocks of the last `span` seconds, oldest first. Each request is
/// tried once: the engine tries the whole fill again, with backoff.
pub(crate) fn recent_blocks(
    source: &dyn BlockSource,
    span: u32,
) -> Result<Vec<(Vec<u8>, u32)>, SourceError> {
    let retry = Retry::NONE;
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
        tracing::info!(
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
        return Err(LiveError::Threshold(args.exchange_threshold));
    }
    Ok(Some(ExchangeConfig {
        url: url.clone(),
        interval: Duration::from_secs(args.exchange_interval),
        max_age: args.exchange_max_age,
        threshold: args.exchange_threshold,
    }))
}

/// Opens the history at `db` (another network's file, or one that cannot
/// be written, is an error at start) and starts the thread that keeps it
/// current.
fn keep_history(
    db: &std::path::Path,
    args: &ServeArgs,
    shared: &Arc<Shared>,
) -> Result<(), LiveError> {
    let config = args.sources.config()?;
    let store = Store::open(db, config.network()).map_err(LiveError::Store)?;
    let blocks = match args.source.blocks() {
        Some(kind) => Some(config.open_blocks(kind.backend())?),
        None => None,
    };
    let reader = shared.clone();
    Keeper {
        store,
        latest: Box::new(move || {
            reader.latest.read::<Latest>().map(|l| Estimate {
                time: i64::from(l.at),
                price: l.price,
                confidence: l.confidence,
                outputs: i64::from(l.outputs),
            })
        }),
        blocks,
        following: crate::history::keeper::Following::default(),
        network: config.network(),
        every: Duration::from_secs(args.history_every),
    }
    .start()
    .map_err(Task::StartHistory.failed())
}

pub(crate) fn serve(args: &ServeArgs) -> Result<(), LiveError> {
    // A host name (localhost:8080) resolves; its first address is used.
    let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&args.listen)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| LiveError::Listen(args.listen.clone()))?;
    let exchange = exchange_config(&args.exchange)?;
    let source = args.sources.config()?.open_live(args.source.backend())?;
    let fill = !args.no_fill;
    let exchange = exchange
        .map(Exchange::start)
        .transpose()
        .map_err(Task::StartExchange.failed())?;
    let limit = listen::open_files_limit();
    let cap = listen::connection_cap(args.max_connections, limit);
    if cap < args.max_connections {
        tracing::warn!(
            "--max-connections {} lowered to {cap}: the open-files limit is {} (raise it with ulimit -n or LimitNOFILE=)",
            args.max_connections,
            limit.unwrap_or_default()
        );
    }
    if args.max_clients > cap {
        tracing::warn!(
            "--max-clients {} exceeds the {cap} connections allowed: sockets past that are refused",
            args.max_clients
        );
    }
    if args.max_clients_per_ip > args.max_connections_per_ip {
        tracing::warn!(
            "--max-clients-per-ip {} exceeds --max-connections-per-ip {}: sockets past that are refused",
            args.max_clients_per_ip,
            args.max_connections_per_ip
        );
    }
    let shared = Shared::new(
        source.name(),
        source.status().mempool,
        args.window,
        ClientLimits {
            max_clients: args.max_clients,
            max_per_address: args.max_clients_per_ip,
            origins: Origins::from_flags(&args.allowed_origin),
        },
        exchange,
        args.db.as_deref(),
    );
    if let Some(db) = &args.db {
        keep_history(db, args, &shared)?;
    }
    let mut engine = Engine::new(source, shared.clone(), args.capacity).map_err(|source| {
        LiveError::Capacity {
            capacity: args.capacity,
            source,
        }
    })?;
    let span = args.window;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Task::StartRuntime.failed())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(Task::Listen(addr).failed())?;
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                if fill {
                    engine.fill(span);
                }
                engine.run();
            })
            .map_err(Task::StartEngine.failed())?;
        tracing::info!(
            "fiatline: serving http://{addr}/ (source: {}, window {} s)",
            shared.source,
            span
        );
        let app = http::router(shared.clone());
        let limits = listen::Limits {
            connections: cap,
            per_address: args.max_connections_per_ip,
            header_timeout: Duration::from_secs(args.header_timeout),
        };
        listen::serve(listener, app, shared, limits, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
        Ok(())
    })
}
