//! The live price from an Esplora / mempool.space server: its mempool,
//! polled, and new blocks, in a rolling 24-hour window.
//!
//! `cargo run -p fiatline-examples --example esplora_live -- http://127.0.0.1:3002`
//!
//! A public server's whole mempool takes a while to fetch at 20 requests a
//! second; `fiatline serve --source esplora` also fills the window from
//! the day's blocks first.

use fiatline_adapters::esplora_live::{EsploraLive, EsploraLiveConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = fiatline_examples::arg("https://mempool.space/api");
    let mut source = EsploraLive::new(&url, EsploraLiveConfig::default())?;
    fiatline_examples::follow(
        &mut source,
        fiatline_core::DEFAULT_SPAN,
        None,
        std::time::Duration::from_secs(10),
    )?;
    Ok(())
}
