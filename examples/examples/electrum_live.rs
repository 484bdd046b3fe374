//! The live price from Electrum servers: each new block as it is
//! announced (the protocol lists no mempool), failing over between the
//! servers given.
//!
//! `cargo run -p fiatline-examples --example electrum_live -- tcp://127.0.0.1:50001,ssl://electrum.example:50002`

use fiatline_adapters::electrum::ElectrumOptions;
use fiatline_adapters::electrum_live::ElectrumLive;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls = fiatline_examples::arg("tcp://127.0.0.1:50001");
    let urls: Vec<String> = urls.split(',').map(str::to_string).collect();
    let mut source = ElectrumLive::new(urls, ElectrumOptions::default())?;
    fiatline_examples::follow(
        &mut source,
        fiatline_core::DEFAULT_SPAN,
        None,
        std::time::Duration::from_secs(30),
    )?;
    Ok(())
}
