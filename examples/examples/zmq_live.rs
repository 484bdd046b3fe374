//! The live price from Bitcoin Core's ZMQ notifications (`zmqpubrawtx`,
//! `zmqpubsequence`, `zmqpubrawblock`), with RPC from the data directory to
//! resync after a gap.
//!
//! `cargo run -p fiatline-examples --example zmq_live -- tcp://127.0.0.1:28332`

use fiatline_adapters::rpc::{RpcConfig, RpcSource};
use fiatline_adapters::zmq::ZmqSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = fiatline_examples::arg("tcp://127.0.0.1:28332");
    let home = std::env::var_os("HOME").unwrap_or_default();
    let rpc = RpcConfig::from_datadir(&std::path::Path::new(&home).join(".bitcoin"))
        .ok()
        .map(RpcSource::new);
    let mut source = ZmqSource::connect(&[endpoint], rpc)?;
    fiatline_examples::follow(
        &mut source,
        fiatline_core::DEFAULT_SPAN,
        None,
        std::time::Duration::from_secs(10),
    )?;
    Ok(())
}
