//! The price of a recording of transactions, replayed as fast as it reads.
//!
//! `cargo run -p fiatline-examples --example replay -- samples/replay-702861.jsonl.gz`

use fiatline_adapters::replay::{ReplaySource, Speed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = fiatline_examples::arg("samples/replay-702861.jsonl.gz");
    let mut source = ReplaySource::open(std::path::Path::new(&path), Speed::Fastest)?;
    fiatline_examples::follow(
        &mut source,
        fiatline_core::DEFAULT_SPAN,
        None,
        std::time::Duration::from_secs(1),
    )?;
    Ok(())
}
