//! The price of the last 144 blocks from Bitcoin Core's JSON-RPC.
//!
//! `cargo run -p fiatline-examples --example rpc -- ~/.bitcoin`

use fiatline_adapters::rpc::{RpcConfig, RpcSource};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let datadir = fiatline_examples::arg(&format!("{}/.bitcoin", std::env::var("HOME")?));
    // bitcoin.conf (or bitcoin_rw.conf) and the cookie, as the reference finds them.
    let source = RpcSource::new(RpcConfig::from_datadir(datadir.as_ref())?);
    let estimate = fiatline_examples::price_recent(&source, 144)?;
    println!(
        "price: ${:.0} (confidence {:.2})",
        estimate.price, estimate.confidence
    );
    Ok(())
}
