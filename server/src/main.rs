//! `fiatline`: the on-chain BTC/USD price from Bitcoin blocks.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod blockfile;
mod price;
mod report;

/// The BTC/USD price from Bitcoin transactions alone.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Computes the consensus price of a run of blocks.
    Price(PriceArgs),
}

/// Arguments of `fiatline price`.
#[derive(Debug, clap::Args)]
pub(crate) struct PriceArgs {
    /// Raw block files, binary or hex (as `bitcoin-cli getblock <hash> 0` prints),
    /// priced together as one run in the order given.
    #[arg(long = "block-file", value_name = "FILE", num_args = 1.., required = true)]
    pub(crate) block_files: Vec<PathBuf>,
    /// Prints one JSON object instead of a line of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// How the final price is refined: as UTXOracle v9.1 prints it, or re-centred
    /// until it repeats (what the reference's comments describe).
    #[arg(long, value_enum, default_value_t = RefinementArg::Reference)]
    pub(crate) refinement: RefinementArg,
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
