//! The price of the last 144 blocks read straight from Core's blk files.
//!
//! `cargo run -p fiatline-examples --example blk -- ~/.bitcoin/blocks`

use fiatline_adapters::blk::BlkSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = fiatline_examples::arg(&format!("{}/.bitcoin/blocks", std::env::var("HOME")?));
    // Handles Core 28's xor.dat obfuscation; heights come from the coinbases.
    let source = BlkSource::open(dir.as_ref())?;
    let estimate = fiatline_examples::price_recent(&source, 144)?;
    println!(
        "price: ${:.0} (confidence {:.2})",
        estimate.price, estimate.confidence
    );
    Ok(())
}
