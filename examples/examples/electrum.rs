//! The price of the last 144 blocks from an Electrum server (electrs, Fulcrum).
//!
//! `cargo run -p fiatline-examples --example electrum -- tcp://127.0.0.1:50001`

use fiatline_adapters::electrum::ElectrumSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = fiatline_examples::arg("tcp://127.0.0.1:50001");
    // Blocks are rebuilt from headers and transactions fetched by position.
    let source = ElectrumSource::connect(&url)?;
    let estimate = fiatline_examples::price_recent(&source, 144)?;
    println!(
        "price: ${:.0} (confidence {:.2})",
        estimate.price, estimate.confidence
    );
    Ok(())
}
