//! The price of the last 144 blocks from an Esplora / mempool.space server.
//!
//! `cargo run -p fiatline-examples --example esplora -- http://127.0.0.1:3002`

use fiatline_adapters::esplora::EsploraSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = fiatline_examples::arg("https://mempool.space/api");
    // At most 20 requests a second: polite to public servers.
    let source = EsploraSource::new(&url, EsploraSource::DEFAULT_INTERVAL)?;
    let estimate = fiatline_examples::price_recent(&source, 144)?;
    println!(
        "price: ${:.0} (confidence {:.2})",
        estimate.price, estimate.confidence
    );
    Ok(())
}
