//! An exchange's BTC/USD price from a mempool.space-compatible server, now
//! and, given a Unix time, then: what fiatline sets beside its own.
//!
//! `cargo run -p fiatline-examples --example exchange -- https://mempool.space 1704110400`

use fiatline_adapters::exchange::ExchangeClient;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = fiatline_examples::arg("https://mempool.space");
    let client = ExchangeClient::new(&url, std::time::Duration::from_secs(10));
    let now = client.latest()?;
    println!("now: ${:.0} (as of {})", now.usd, now.time);
    if let Some(at) = std::env::args().nth(2) {
        let then = client.historical(at.parse()?)?;
        println!("at {at}: ${:.0} (as of {})", then.usd, then.time);
    }
    Ok(())
}
