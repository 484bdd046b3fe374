//! `fiatline`: the on-chain BTC/USD price from Bitcoin blocks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod blockfile;
mod chart;
mod consensus;
mod price;
mod progress;
mod report;
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
    /// Bitcoin Core's RPC address (default from the data directory's
    /// bitcoin.conf, else http://127.0.0.1:8332).
    #[arg(long, value_name = "URL")]
    pub(crate) rpc_url: Option<String>,
    /// RPC user (with --rpc-password; else the cookie file is used).
    #[arg(long, value_name = "USER", requires = "rpc_password")]
    pub(crate) rpc_user: Option<String>,
    /// RPC password.
    #[arg(long, value_name = "PASSWORD", requires = "rpc_user")]
    pub(crate) rpc_password: Option<String>,
    /// RPC cookie file (default <datadir>/.cookie).
    #[arg(long, value_name = "FILE")]
    pub(crate) rpc_cookie: Option<PathBuf>,
    /// Bitcoin Core's data directory (default ~/.bitcoin), read as the
    /// reference does: bitcoin.conf or bitcoin_rw.conf, then .cookie.
    #[arg(long, value_name = "DIR")]
    pub(crate) datadir: Option<PathBuf>,
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
        Command::Price(args) => price::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
