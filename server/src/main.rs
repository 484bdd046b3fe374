//! `fiatline`: the on-chain BTC/USD price from Bitcoin blocks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod blockfile;
mod chart;
mod compare;
mod consensus;
mod price;
mod progress;
mod report;
mod serve;
mod source;

/// The BTC/USD price from Bitcoin transactions alone.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Computes the consensus price of a day, of recent blocks, of a height
    /// range, or of block files.
    Price(PriceArgs),
    /// Serves the live price: a page, JSON, Prometheus metrics and a WebSocket.
    Serve(ServeArgs),
    /// Records a live source's transactions as JSON lines, for replay.
    Record(RecordArgs),
}

/// Arguments of `fiatline serve`. Every flag can also be set by the
/// environment variable named beside it.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) live: LiveArgs,
    /// Address to listen on (HTTP and WebSocket on one port).
    #[arg(long, env = "FIATLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: String,
    /// Window span in seconds: transactions leave this long after first seen.
    #[arg(long, env = "FIATLINE_WINDOW", default_value_t = fiatline_core::DEFAULT_SPAN,
          value_parser = clap::value_parser!(u32).range(60..=7 * 86_400))]
    pub(crate) window: u32,
    /// Most transactions the window holds (about 100 bytes each).
    #[arg(long, env = "FIATLINE_CAPACITY", default_value_t = 300_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1_000..=50_000_000))]
    pub(crate) capacity: usize,
    /// Most WebSocket clients at once; more get HTTP 503.
    #[arg(long, env = "FIATLINE_MAX_CLIENTS", default_value_t = 2_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub(crate) max_clients: usize,
    /// Do not fill the window from the blocks of the last span at start
    /// (zmq through RPC, esplora, electrum).
    #[arg(long, env = "FIATLINE_NO_FILL")]
    pub(crate) no_fill: bool,
    #[command(flatten)]
    pub(crate) exchange: ExchangeArgs,
}

/// The exchange price shown beside the on-chain one. Nothing is fetched
/// without `--exchange-url`.
#[derive(Debug, Clone, Args)]
// The field names are the flags' names.
#[allow(clippy::struct_field_names)]
pub(crate) struct ExchangeArgs {
    /// A mempool.space-compatible server to compare with, e.g.
    /// https://mempool.space (its /api/v1/prices).
    #[arg(long, env = "FIATLINE_EXCHANGE_URL", value_name = "URL")]
    pub(crate) exchange_url: Option<String>,
    /// Seconds between exchange price fetches.
    #[arg(long, env = "FIATLINE_EXCHANGE_INTERVAL", default_value_t = 60,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) exchange_interval: u64,
    /// Oldest an exchange price may be, in seconds, and still be compared.
    #[arg(long, env = "FIATLINE_EXCHANGE_MAX_AGE", default_value_t = 1800,
          value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) exchange_max_age: u32,
    /// Difference in percent past which the page warns.
    #[arg(long, env = "FIATLINE_EXCHANGE_THRESHOLD", default_value_t = compare::DEFAULT_THRESHOLD,
          value_name = "PERCENT")]
    pub(crate) exchange_threshold: f64,
}

/// Arguments of `fiatline record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    #[command(flatten)]
    pub(crate) live: LiveArgs,
    /// The recording to write: JSON lines, gzip-compressed if it ends in .gz.
    #[arg(long, env = "FIATLINE_OUT", value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Stop after this many seconds (else at Ctrl-C or the source's end).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<u64>,
    /// Stop after this many transactions.
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
}

/// Where live events come from.
#[derive(Debug, Clone, Args)]
pub(crate) struct LiveArgs {
    /// The live source.
    #[arg(long = "source", env = "FIATLINE_SOURCE", value_enum, default_value_t = LiveKind::Zmq)]
    pub(crate) source: LiveKind,
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
    /// Esplora / mempool.space API base for --source esplora, e.g.
    /// https://mempool.space/api or http://127.0.0.1:3002.
    #[arg(long, env = "FIATLINE_ESPLORA_URL", value_name = "URL")]
    pub(crate) esplora_url: Option<String>,
    /// Seconds between polls of the Esplora mempool and tip.
    #[arg(long, env = "FIATLINE_POLL", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) poll: u64,
    /// Most Esplora requests per second (public servers rate-limit).
    #[arg(long, env = "FIATLINE_ESPLORA_RATE", default_value_t = 20, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) esplora_rate: u32,
    /// Electrum servers for --source electrum, tcp://host:port or
    /// ssl://host:port, comma-separated or repeated: the next is used when
    /// one fails. (`--electrum-url`, as for `price`, works too.)
    #[arg(
        long,
        alias = "electrum-url",
        env = "FIATLINE_ELECTRUM",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub(crate) electrum: Vec<String>,
    /// Accept an ssl:// Electrum server's certificate even if it is not
    /// valid for the host (self-signed, as self-hosted servers often are).
    #[arg(long, env = "FIATLINE_ELECTRUM_ACCEPT_INVALID_CERTS")]
    pub(crate) electrum_accept_invalid_certs: bool,
    #[command(flatten)]
    pub(crate) rpc: RpcArgs,
}

/// Live sources.
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

/// How to reach Bitcoin Core's RPC.
#[derive(Debug, Clone, Args)]
pub(crate) struct RpcArgs {
    /// Bitcoin Core's RPC address (default from the data directory's
    /// bitcoin.conf, else http://127.0.0.1:8332).
    #[arg(long, env = "FIATLINE_RPC_URL", value_name = "URL")]
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
        requires = "rpc_user"
    )]
    pub(crate) rpc_password: Option<String>,
    /// RPC cookie file (default <datadir>/.cookie).
    #[arg(long, env = "FIATLINE_RPC_COOKIE", value_name = "FILE")]
    pub(crate) rpc_cookie: Option<PathBuf>,
    /// Bitcoin Core's data directory (default ~/.bitcoin), read as the
    /// reference does: bitcoin.conf or bitcoin_rw.conf, then .cookie.
    #[arg(long, env = "FIATLINE_DATADIR", value_name = "DIR")]
    pub(crate) datadir: Option<PathBuf>,
}

/// Arguments of `fiatline price`.
#[derive(Debug, Args)]
pub(crate) struct PriceArgs {
    #[command(flatten)]
    pub(crate) what: What,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    /// Prints one JSON object per run instead of a line of text.
    #[arg(long, conflicts_with = "csv")]
    pub(crate) json: bool,
    /// Prints CSV, a header and one row per run.
    #[arg(long)]
    pub(crate) csv: bool,
    /// Writes a chart of the price points: .html (a self-contained page),
    /// .svg or .png. With several dates, the date is added to each file name.
    #[arg(long, value_name = "FILE")]
    pub(crate) chart: Option<PathBuf>,
    /// How the final price is refined: as UTXOracle v9.1 prints it, or
    /// re-centred until it repeats (what the reference's comments describe).
    #[arg(long, value_enum, default_value_t = RefinementArg::Reference)]
    pub(crate) refinement: RefinementArg,
    /// Dates priced at the same time.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub(crate) jobs: usize,
    /// Blocks fetched at the same time for one run.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) fetchers: usize,
    /// Adds each date's exchange price (mempool.space's historical price at
    /// noon UTC) and the difference in percent.
    #[arg(long, requires = "exchange_url")]
    pub(crate) compare: bool,
    /// The mempool.space-compatible server --compare asks.
    #[arg(long, env = "FIATLINE_EXCHANGE_URL", value_name = "URL")]
    pub(crate) exchange_url: Option<String>,
    /// Attempts per request when the source fails in a way that may pass
    /// (node starting or busy, connection lost, HTTP 429/5xx), with backoff
    /// from 0.5 s doubling to 4 s.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) retries: u32,
}

/// Which blocks to price: exactly one of these.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct What {
    /// UTC dates, YYYY-MM-DD, or ranges YYYY-MM-DD..YYYY-MM-DD; one result per day.
    #[arg(long, value_name = "DATE", num_args = 1..)]
    pub(crate) date: Vec<String>,
    /// The N blocks below the tip (tip-N ..= tip-1), 144 when N is left out.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "144")]
    pub(crate) recent: Option<u32>,
    /// A height range A..B, both included.
    #[arg(long, value_name = "A..B")]
    pub(crate) heights: Option<String>,
    /// Raw block files, binary or hex (as `getblock <hash> 0` prints it),
    /// priced together as one run in the order given; no node needed.
    #[arg(long = "block-file", value_name = "FILE", num_args = 1..)]
    pub(crate) block_files: Vec<PathBuf>,
}

/// Where blocks come from.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// The block source.
    #[arg(long, value_enum, default_value_t = SourceKind::Rpc)]
    pub(crate) source: SourceKind,
    #[command(flatten)]
    pub(crate) rpc: RpcArgs,
    /// Core's blocks directory for --source blk (default <datadir>/blocks).
    #[arg(long, value_name = "DIR")]
    pub(crate) blocks_dir: Option<PathBuf>,
    /// Esplora / mempool.space API base, e.g. https://mempool.space/api.
    #[arg(long, value_name = "URL")]
    pub(crate) esplora_url: Option<String>,
    /// Electrum server, tcp://host:port or ssl://host:port.
    #[arg(long, value_name = "URL")]
    pub(crate) electrum_url: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Rpc,
    Blk,
    Esplora,
    Electrum,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RefinementArg {
    Reference,
    Recentre,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Price(args) => price::run(&args).map_err(|e| (e.exit_code(), e.to_string())),
        Command::Serve(args) => serve::serve(&args).map_err(|e| (e.exit_code(), e.to_string())),
        Command::Record(args) => serve::record(&args).map_err(|e| (e.exit_code(), e.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
