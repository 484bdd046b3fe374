//! The source flags every subcommand shares (with an environment variable
//! each), and the backend choices of `price` and of `serve`/`record`. They
//! become an adapters [`SourceConfig`], which opens the backend.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use fiatline_adapters::config::{
    BlockBackend, ConfigError, LiveBackend, ReplaySpeed, SourceConfig,
};
use fiatline_adapters::{Network, SourceError};

/// Backends of confirmed blocks (`price`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// Bitcoin Core's JSON-RPC.
    Rpc,
    /// Core's blk*.dat files, read directly.
    Blk,
    /// An Esplora / mempool.space server.
    Esplora,
    /// An Electrum server.
    Electrum,
}

impl BlockKind {
    pub(crate) fn backend(self) -> BlockBackend {
        match self {
            Self::Rpc => BlockBackend::Rpc,
            Self::Blk => BlockBackend::Blk,
            Self::Esplora => BlockBackend::Esplora,
            Self::Electrum => BlockBackend::Electrum,
        }
    }
}

/// Live sources (`serve`, `record`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum LiveKind {
    /// Bitcoin Core's ZMQ notifications (mempool and blocks), RPC for
    /// resyncs and the window's first fill.
    Zmq,
    /// An Esplora / mempool.space server, polled (mempool and blocks).
    Esplora,
    /// Electrum servers (blocks only: the protocol lists no mempool).
    Electrum,
    /// A recording.
    Replay,
}

impl LiveKind {
    /// The confirmed-block backend of the same server, if it has one (a
    /// recording has none).
    pub(crate) fn blocks(self) -> Option<BlockKind> {
        match self {
            Self::Zmq => Some(BlockKind::Rpc),
            Self::Esplora => Some(BlockKind::Esplora),
            Self::Electrum => Some(BlockKind::Electrum),
            Self::Replay => None,
        }
    }

    pub(crate) fn backend(self) -> LiveBackend {
        match self {
            Self::Zmq => LiveBackend::Zmq,
            Self::Esplora => LiveBackend::Esplora,
            Self::Electrum => LiveBackend::Electrum,
            Self::Replay => LiveBackend::Replay,
        }
    }
}

/// Where blocks and live events come from. Every flag can also be set by
/// the environment variable named beside it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Sources")]
pub(crate) struct SourceFlags {
    /// The network: main, test (testnet3), testnet4, signet or regtest
    /// (default: bitcoin.conf's chain=/regtest=1/…, else main).
    #[arg(long, env = "FIATLINE_CHAIN", value_name = "NETWORK")]
    pub(crate) chain: Option<Network>,
    /// Bitcoin Core's data directory (default ~/.bitcoin), read as
    /// bitcoin-cli does: bitcoin.conf, then the network's folder's .cookie.
    #[arg(long, env = "FIATLINE_DATADIR", value_name = "DIR")]
    pub(crate) datadir: Option<PathBuf>,
    /// Bitcoin Core's RPC address (default from bitcoin.conf, else
    /// http://127.0.0.1 at the network's port: 8332, 18332, 48332, 38332, 18443).
    #[arg(
        long,
        env = "FIATLINE_RPC_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) rpc_url: Option<String>,
    /// RPC user (with --rpc-password; else the cookie file is used).
    #[arg(
        long,
        env = "FIATLINE_RPC_USER",
        value_name = "USER",
        requires = "rpc_password"
    )]
    pub(crate) rpc_user: Option<String>,
    /// RPC password.
    #[arg(
        long,
        env = "FIATLINE_RPC_PASSWORD",
        value_name = "PASSWORD",
        requires = "rpc_user",
        hide_env_values = true
    )]
    pub(crate) rpc_password: Option<String>,
    /// RPC cookie file (default: the network's folder's .cookie).
    #[arg(long, env = "FIATLINE_RPC_COOKIE", value_name = "FILE")]
    pub(crate) rpc_cookie: Option<PathBuf>,
    /// Core's blocks directory for the blk source (default: the network's
    /// blocks folder in the data directory, or bitcoin.conf's blocksdir=).
    #[arg(long, env = "FIATLINE_BLOCKS_DIR", value_name = "DIR")]
    pub(crate) blocks_dir: Option<PathBuf>,
    /// Esplora / mempool.space API base, e.g. https://mempool.space/api or
    /// http://127.0.0.1:3002.
    #[arg(
        long,
        env = "FIATLINE_ESPLORA_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) esplora_url: Option<String>,
    /// Most Esplora requests per second (public servers rate-limit).
    #[arg(long, env = "FIATLINE_ESPLORA_RATE", default_value_t = 20, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) esplora_rate: u32,
    /// Seconds between polls of the Esplora mempool and tip (live).
    #[arg(long, env = "FIATLINE_POLL", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) poll: u64,
    /// Electrum servers, tcp://host:port or ssl://host:port, comma-separated
    /// or repeated: the next is used when one fails.
    #[arg(
        long,
        alias = "electrum-url",
        env = "FIATLINE_ELECTRUM",
        hide_env_values = true,
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub(crate) electrum: Vec<String>,
    /// Accept an ssl:// Electrum server's certificate even if it is not
    /// valid for the host (prefer --tls-ca with its certificate).
    #[arg(long, env = "FIATLINE_ELECTRUM_ACCEPT_INVALID_CERTS")]
    pub(crate) electrum_accept_invalid_certs: bool,
    /// Core's ZMQ endpoints (zmqpubrawtx, zmqpubsequence, zmqpubrawblock),
    /// comma-separated or repeated.
    #[arg(
        long,
        env = "FIATLINE_ZMQ",
        value_delimiter = ',',
        default_value = "tcp://127.0.0.1:28332"
    )]
    pub(crate) zmq: Vec<String>,
    /// A recording to replay: JSON lines {"timestamp", "raw_hex"}, optionally gzip.
    #[arg(long, env = "FIATLINE_REPLAY", value_name = "FILE")]
    pub(crate) replay: Option<PathBuf>,
    /// Replay speed: a multiple of recorded time (1 is real time), or "max".
    #[arg(long, env = "FIATLINE_SPEED", default_value = "1")]
    pub(crate) speed: String,
}

impl SourceFlags {
    /// The adapters' configuration of these flags.
    ///
    /// # Errors
    /// Returns a bad-input error for a speed that is not a positive number
    /// or "max".
    pub(crate) fn config(&self) -> Result<SourceConfig, SourceError> {
        Ok(SourceConfig {
            network: self.chain,
            datadir: self.datadir.clone(),
            rpc_url: self.rpc_url.clone(),
            rpc_user_password: self.rpc_user.clone().zip(self.rpc_password.clone()),
            rpc_cookie: self.rpc_cookie.clone(),
            blocks_dir: self.blocks_dir.clone(),
            esplora_url: self.esplora_url.clone(),
            esplora_rate: self.esplora_rate,
            poll: Duration::from_secs(self.poll),
            electrum: self.electrum.clone(),
            electrum_accept_invalid_certs: self.electrum_accept_invalid_certs,
            zmq: self.zmq.clone(),
            replay: self.replay.clone(),
            speed: parse_speed(&self.speed)?,
        })
    }
}

fn parse_speed(s: &str) -> Result<ReplaySpeed, SourceError> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(ReplaySpeed::Fastest);
    }
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(ReplaySpeed::Times(x)),
        _ => Err(ConfigError::BadSpeed {
            value: s.to_owned(),
        }
        .into()),
    }
}

/// How the runs of `price` and `backfill` are made: one set of flags for
/// both.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RunFlags {
    /// Runs (dates) priced at the same time.
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub(crate) jobs: usize,
    /// Blocks fetched at the same time for one run.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub(crate) fetchers: usize,
    /// Attempts per request when the source fails in a way that may pass
    /// (node starting or busy, connection lost, HTTP 429/5xx), with backoff
    /// from 0.5 s doubling to 4 s.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) retries: u32,
}

impl RunFlags {
    /// The runs these flags ask for.
    pub(crate) fn runs(self) -> crate::price::Runs {
        crate::price::Runs {
            jobs: self.jobs,
            fetchers: self.fetchers,
            retries: self.retries,
        }
    }
}
