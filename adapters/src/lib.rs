//! Block sources for fiatline: one interface, one module per backend, each
//! behind a cargo feature named after it.
//!
//! | feature | source | talks to |
//! |---|---|---|
//! | `rpc` | [`rpc::RpcSource`] | Bitcoin Core JSON-RPC over HTTP |
//! | `blk` | [`blk::BlkSource`] | Core's `blocks/blk*.dat` files |
//! | `esplora` | [`esplora::EsploraSource`], [`esplora_live::EsploraLive`] (live) | an Esplora / mempool.space REST server |
//! | `electrum` | [`electrum::ElectrumSource`], [`electrum_live::ElectrumLive`] (live, blocks only) | Electrum servers, TCP or TLS |
//! | `zmq` | [`zmq::ZmqSource`] (live) | Bitcoin Core's ZMQ notifications, RPC for resync |
//! | `replay` | [`replay::ReplaySource`] (live) | a recording of transactions |
//! | `exchange` | [`exchange::ExchangeClient`] | a mempool.space-compatible price feed, for comparison only |
//!
//! Every source implements [`BlockSource`]: the tip, the hash and header
//! time at a height, the raw block for a hash. Errors say whether they are
//! transient (retried by [`Retry`] with bounded backoff) or persistent
//! (reported at once). [`select()`] turns a date, a height range or "the last
//! 144 blocks" into block references, and [`fetch_in_order`] brings the raw
//! blocks from several threads, in order.
//!
//! This crate depends on `fiatline-core`, never the reverse.

pub mod config;
#[cfg(feature = "consensus")]
pub mod consensus;
mod date;
mod error;
mod fetch;
pub mod follower;
#[cfg(feature = "consensus")]
pub mod hourly;
mod live;
pub mod network;
#[cfg(feature = "rpc")]
pub mod node_conf;
pub mod redact;
mod retry;
mod select;
mod source;

#[cfg(feature = "blk")]
pub mod blk;
#[cfg(feature = "electrum")]
pub mod electrum;
#[cfg(feature = "electrum")]
pub mod electrum_live;
#[cfg(feature = "esplora")]
pub mod esplora;
#[cfg(feature = "esplora")]
pub mod esplora_live;
#[cfg(feature = "exchange")]
pub mod exchange;
#[cfg(feature = "zmq")]
mod mempool_load;
#[cfg(feature = "replay")]
pub mod replay;
#[cfg(feature = "consensus")]
pub mod report;
#[cfg(feature = "rpc")]
pub mod rpc;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "zmq")]
pub mod zmq;
#[cfg(feature = "fiatline-core")]
pub mod zmq_message;

pub use date::{parse_dates, parse_dates_between, DateError, UtcDate};
pub use error::{ErrorKind, SourceError};
pub use fetch::fetch_in_order;
pub use live::{unix_now, Clock, LiveEvent, LiveSource, LiveStatus};
pub use network::Network;
pub use retry::Retry;
pub use select::{select, SelectError, Selection, CONFIRMATIONS};
pub use source::{parse_txid, BlockHash, BlockRef, BlockSource, HashHexError};
