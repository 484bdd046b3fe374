//! `fiatline`: the on-chain BTC/USD price from Bitcoin blocks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use flags::{BlockKind, LiveKind, RunFlags, SourceFlags};

mod blockfile;
mod chart;
mod compare;
mod flags;
mod history;
mod logs;
mod price;
mod progress;
mod record;
mod refine;
mod report;
mod serve;

/// The BTC/USD price from Bitcoin transactions alone.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Also trust the PEM certificate(s) in FILE for https:// and ssl://
    /// servers (a self-hosted node, Electrum or mempool server with a
    /// self-signed certificate). Mozilla's roots and the system's are
    /// always trusted.
    #[arg(long, global = true, env = "FIATLINE_TLS_CA", value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// How `serve` and `record` write their logs to standard error: text
    /// (coloured only on a terminal) or JSON lines for log shippers.
    #[arg(long, global = true, env = "FIATLINE_LOG_FORMAT", value_enum, default_value_t = logs::LogFormat::Text)]
    log_format: logs::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Computes the consensus price of a day, of recent blocks, of a height
    /// range, or of block files.
    Price(PriceArgs),
    /// Re-prices a day from a file of its price points with the hourly
    /// refinement (the reference's published points, or fiatline's).
    Refine(RefineArgs),
    /// Serves the live price: a page, JSON, Prometheus metrics and a WebSocket.
    Serve(ServeArgs),
    /// Records a live source's transactions as JSON lines, for replay.
    Record(RecordArgs),
    /// Prices every UTC day of a range from a block source and stores it
    /// in a history database; days already stored are skipped.
    Backfill(BackfillArgs),
    /// Prints the days stored in a history database.
    History(HistoryArgs),
}

/// Arguments of `fiatline backfill`.
#[derive(Debug, Args)]
pub(crate) struct BackfillArgs {
    /// The history database (SQLite; created if missing).
    #[arg(long, env = "FIATLINE_DB", value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// The first day, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    pub(crate) from: String,
    /// The last day (default: yesterday, the last day that is over).
    #[arg(long, value_name = "DATE")]
    pub(crate) to: Option<String>,
    /// The block source.
    #[arg(long, value_enum, default_value_t = BlockKind::Rpc)]
    pub(crate) source: BlockKind,
    #[command(flatten)]
    pub(crate) sources: SourceFlags,
    #[command(flatten)]
    pub(crate) runs: RunFlags,
    /// A mempool.space-compatible server whose price of each day (at noon
    /// UTC) is stored beside the on-chain one, e.g. https://mempool.space.
    #[arg(
        long,
        env = "FIATLINE_EXCHANGE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) exchange_url: Option<String>,
    /// Also store a row per block of the stored days: the price of the 144
    /// blocks ending at it (what `price --heights H-143..H` prints).
    #[arg(long)]
    pub(crate) blocks: bool,
}

/// Arguments of `fiatline history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The history database.
    #[arg(long, env = "FIATLINE_DB", value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// The first day, YYYY-MM-DD (default: the first stored).
    #[arg(long, value_name = "DATE")]
    pub(crate) from: Option<String>,
    /// The last day (default: the last stored).
    #[arg(long, value_name = "DATE")]
    pub(crate) to: Option<String>,
    /// One JSON object per day: the report `price --date D --json` prints
    /// (with --blocks, one per block).
    #[arg(long, conflicts_with = "csv")]
    pub(crate) json: bool,
    /// CSV: date,time,price,refined,confidence,exchange (with --blocks:
    /// height,hash,time,price,rough,confidence,outputs).
    #[arg(long)]
    pub(crate) csv: bool,
    /// The per-block rows of the days (stored by `backfill --blocks` or
    /// `serve --db`) instead of the days.
    #[arg(long)]
    pub(crate) blocks: bool,
    /// Draws the series instead of printing it: .svg, .png, or .html (a
    /// page holding the SVG).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["json", "csv"])]
    pub(crate) chart: Option<PathBuf>,
}

/// Arguments of `fiatline serve`. Every flag can also be set by the
/// environment variable named beside it.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The live source.
    #[arg(long = "source", env = "FIATLINE_SOURCE", value_enum, default_value_t = LiveKind::Zmq)]
    pub(crate) source: LiveKind,
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
    #[arg(long, env = "FIATLINE_MAX_CLIENTS", default_value_t = 900,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub(crate) max_clients: usize,
    /// Most WebSocket clients from one address; more get HTTP 429.
    #[arg(long, env = "FIATLINE_MAX_CLIENTS_PER_IP", default_value_t = 32,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub(crate) max_clients_per_ip: usize,
    /// Most connections at once (HTTP and WebSocket), lowered to fit the
    /// open-files limit (ulimit -n); more are closed at once.
    #[arg(long, env = "FIATLINE_MAX_CONNECTIONS", default_value_t = 1_000,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub(crate) max_connections: usize,
    /// Most connections at once from one address (HTTP and WebSocket), so
    /// one client cannot take them all; more are closed at once.
    #[arg(long, env = "FIATLINE_MAX_CONNECTIONS_PER_IP", default_value_t = 64,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub(crate) max_connections_per_ip: usize,
    /// Seconds a client may take to send a request's headers, and a
    /// keep-alive connection may stay quiet; slower ones are closed.
    #[arg(long, env = "FIATLINE_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) header_timeout: u64,
    /// Pages (origins, e.g. https://dashboard.lan) allowed to open the
    /// WebSocket besides this server's own; '*' for any. Repeat or
    /// comma-separate. Clients that are not browsers send no origin.
    #[arg(
        long,
        env = "FIATLINE_ALLOWED_ORIGIN",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub(crate) allowed_origin: Vec<String>,
    /// Do not fill the window from the blocks of the last span at start
    /// (zmq through RPC, esplora, electrum).
    #[arg(long, env = "FIATLINE_NO_FILL")]
    pub(crate) no_fill: bool,
    /// A history database (filled by `fiatline backfill`) to serve at
    /// /api/v1/history, /api/v1/historical-price and /api/v1/prices.
    #[arg(long, env = "FIATLINE_DB", value_name = "FILE")]
    pub(crate) db: Option<PathBuf>,
    /// With --db: seconds between stored live estimates (and checks for
    /// days that ended, priced from the source's node).
    #[arg(long, env = "FIATLINE_HISTORY_EVERY", default_value_t = 600, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) history_every: u64,
    // Last, so the flags above stay under "Options" in --help.
    #[command(flatten)]
    pub(crate) sources: SourceFlags,
    #[command(flatten)]
    pub(crate) exchange: ExchangeArgs,
}

/// The exchange price shown beside the on-chain one. Nothing is fetched
/// without `--exchange-url`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Exchange comparison")]
// The field names are the flags' names.
#[allow(clippy::struct_field_names)]
pub(crate) struct ExchangeArgs {
    /// A mempool.space-compatible server to compare with, e.g.
    /// https://mempool.space (its /api/v1/prices).
    #[arg(
        long,
        env = "FIATLINE_EXCHANGE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
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

/// Arguments of `fiatline refine`.
#[derive(Debug, Args)]
pub(crate) struct RefineArgs {
    /// The day's price points: CSV `height,timestamp,price` (the
    /// reference's published chart points) or `time,price`, plain or gzip.
    #[arg(long, value_name = "FILE")]
    pub(crate) points: PathBuf,
    /// The day's central price in USD (the reference's price of the day).
    #[arg(long, value_name = "PRICE")]
    pub(crate) central: f64,
    /// The UTC date of the points, YYYY-MM-DD: hours count from its 00:00.
    #[arg(long, value_name = "DATE")]
    pub(crate) date: String,
    /// Prints one JSON object (the fields of `price --refinement hourly`).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `fiatline record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The live source.
    #[arg(long = "source", env = "FIATLINE_SOURCE", value_enum, default_value_t = LiveKind::Zmq)]
    pub(crate) source: LiveKind,
    #[command(flatten)]
    pub(crate) sources: SourceFlags,
    /// The recording to write: JSON lines, gzip-compressed if it ends in .gz.
    #[arg(long, env = "FIATLINE_OUT", value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Stop after this many seconds (else at Ctrl-C or the source's end).
    #[arg(long, env = "FIATLINE_DURATION", value_name = "SECONDS")]
    pub(crate) duration: Option<u64>,
    /// Stop after this many transactions.
    #[arg(long, env = "FIATLINE_COUNT", value_name = "N")]
    pub(crate) count: Option<u64>,
}

/// Arguments of `fiatline price`.
#[derive(Debug, Args)]
pub(crate) struct PriceArgs {
    #[command(flatten)]
    pub(crate) what: What,
    /// The block source.
    #[arg(long, value_enum, default_value_t = BlockKind::Rpc)]
    pub(crate) source: BlockKind,
    #[command(flatten)]
    pub(crate) sources: SourceFlags,
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
    /// How the final price is made: `reference`, as UTXOracle v9.1 prints
    /// it (the default); `recentre`, re-centred until it repeats (what the
    /// reference's comments describe); `hourly`, the reference's price
    /// refined hour by hour, with an on-chain open/high/low/close and a
    /// calibrated confidence (then `confidence` is that probability).
    #[arg(long, value_enum, default_value_t = RefinementArg::Reference)]
    pub(crate) refinement: RefinementArg,
    #[command(flatten)]
    pub(crate) runs: RunFlags,
    /// Adds each date's exchange price (mempool.space's historical price at
    /// noon UTC) and the difference in percent.
    #[arg(long, requires = "exchange_url")]
    pub(crate) compare: bool,
    /// The mempool.space-compatible server --compare asks.
    #[arg(
        long,
        env = "FIATLINE_EXCHANGE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) exchange_url: Option<String>,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RefinementArg {
    Reference,
    Recentre,
    Hourly,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A thread that panics takes the process down, loudly: a server whose
    // engine or exchange thread died must not go on looking healthy.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("error: fiatline stopped: a thread failed (a bug; please report it)");
        std::process::exit(70);
    }));
    // One TLS stack (rustls) with one crypto provider (ring) for every client.
    fiatline_adapters::tls::install_provider();
    if let Some(path) = &cli.tls_ca {
        if let Err(e) = fiatline_adapters::tls::trust_ca_file(path) {
            eprintln!("error: --tls-ca: {e}");
            return ExitCode::from(2);
        }
    }
    // The long-running subcommands log; their final error is a log line
    // too, so a log shipper sees why the service stopped.
    let logging = matches!(cli.command, Command::Serve(_) | Command::Record(_));
    if logging {
        logs::init(cli.log_format);
    }
    let result = match cli.command {
        Command::Price(args) => price::run(&args).map_err(|e| (e.exit_code(), e.to_string())),
        Command::Refine(args) => refine::run(&args).map_err(|e| (e.exit_code(), e.to_string())),
        Command::Backfill(args) => {
            history::backfill::run(&args).map_err(|e| (e.exit_code(), e.to_string()))
        }
        Command::History(args) => {
            history::query::run(&args).map_err(|e| (e.exit_code(), e.to_string()))
        }
        Command::Serve(args) => serve::serve(&args).map_err(|e| (e.exit_code(), e.to_string())),
        Command::Record(args) => record::record(&args).map_err(|e| (e.exit_code(), e.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) if logging && cli.log_format == logs::LogFormat::Json => {
            tracing::error!(exit_code = code, "{message}");
            ExitCode::from(code)
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
