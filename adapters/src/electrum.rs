//! An Electrum server (electrs, Fulcrum…) through `electrum-client`: headers
//! by height, then each block's transactions by position
//! (`blockchain.transaction.id_from_pos`) and their raw bytes, batched.

use std::sync::Mutex;
use std::time::Duration;

use electrum_client::{Batch, Client, ConfigBuilder, ElectrumApi, Param};

use crate::{BlockHash, BlockRef, BlockSource, SourceError};

/// Requests per batch.
const BATCH: usize = 100;

/// How to talk to an Electrum server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectrumOptions {
    /// Longest a request may take.
    pub timeout: Duration,
    /// Times the client reconnects and repeats a failed request by itself
    /// (it waits 2, 4, 8… seconds in between) before reporting the error.
    pub retries: u8,
    /// For `ssl://`: whether the certificate must be valid for the host. A
    /// self-hosted server often has a self-signed one.
    pub verify_tls: bool,
}

impl Default for ElectrumOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            retries: 2,
            verify_tls: true,
        }
    }
}

/// An Electrum server.
pub struct ElectrumSource {
    client: Mutex<Client>,
    url: String,
}

impl std::fmt::Debug for ElectrumSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectrumSource")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ElectrumSource {
    /// Connects to `url`: `tcp://host:port` or `ssl://host:port`.
    ///
    /// # Errors
    /// Returns a transient error when the server cannot be reached.
    pub fn connect(url: &str) -> Result<Self, SourceError> {
        Self::connect_with(url, &ElectrumOptions::default())
    }

    /// As [`ElectrumSource::connect`], with `options`.
    ///
    /// # Errors
    /// Returns a transient error when the server cannot be reached.
    pub fn connect_with(url: &str, options: &ElectrumOptions) -> Result<Self, SourceError> {
        let config = ConfigBuilder::new()
            .timeout(Some(options.timeout))
            .retry(options.retries)
            .validate_domain(options.verify_tls)
            .build();
        let client = Client::from_config(url, config).map_err(|e| {
            SourceError::transient(format!("cannot connect to the Electrum server at {url}"))
                .with_source(e)
        })?;
        Ok(Self {
            client: Mutex::new(client),
            url: url.to_string(),
        })
    }

    pub(crate) fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn error(&self, what: &str, e: electrum_client::Error) -> SourceError {
        use electrum_client::Error as E;
        match e {
            E::IOError(_)
            | E::SharedIOError(_)
            | E::AllAttemptsErrored(_)
            | E::CouldntLockReader
            | E::Mpsc => SourceError::transient(format!(
                "lost the Electrum server at {} while asking {what}",
                self.url
            ))
            .with_source(e),
            _ => SourceError::persistent(format!(
                "the Electrum server at {} failed {what}",
                self.url
            ))
            .with_source(e),
        }
    }

    /// Returns the txids of the block at `height`, in block order. The
    /// protocol gives no transaction count, so positions are asked in
    /// batches until the server refuses one; the end is then found by
    /// bisecting that batch (about seven single requests).
    fn txids(&self, client: &Client, height: u32) -> Result<Vec<bitcoin::Txid>, SourceError> {
        let mut txids = Vec::new();
        loop {
            let start = txids.len();
            let mut batch = Batch::default();
            for pos in start..start + BATCH {
                batch.raw(
                    "blockchain.transaction.id_from_pos".into(),
                    vec![Param::Usize(height as usize), Param::Usize(pos)],
                );
            }
            match client.batch_call(&batch) {
                Ok(values) => {
                    for v in values {
                        let txid = serde_json::from_value::<bitcoin::Txid>(v).map_err(|e| {
                            SourceError::persistent(format!("bad txid from {}", self.url))
                                .with_source(e)
                        })?;
                        txids.push(txid);
                    }
                }
                Err(electrum_client::Error::Protocol(_)) => {
                    for pos in start..start + BATCH {
                        match client.txid_from_pos(height as usize, pos) {
                            Ok(txid) => txids.push(txid),
                            Err(electrum_client::Error::Protocol(_)) => return Ok(txids),
                            Err(e) => {
                                return Err(self.error(&format!("txid {pos} of block {height}"), e))
                            }
                        }
                    }
                }
                Err(e) => return Err(self.error(&format!("the txids of block {height}"), e)),
            }
        }
    }
}

impl BlockSource for ElectrumSource {
    fn name(&self) -> &'static str {
        "electrum"
    }

    fn tip_height(&self) -> Result<u32, SourceError> {
        let tip = self
            .client()
            .block_headers_subscribe_raw()
            .map_err(|e| self.error("the tip", e))?;
        Ok(tip.height as u32)
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        self.block_refs(&[height])?
            .pop()
            .ok_or_else(|| SourceError::persistent("empty answer"))
    }

    fn block_refs(&self, heights: &[u32]) -> Result<Vec<BlockRef>, SourceError> {
        let client = self.client();
        let mut out = Vec::with_capacity(heights.len());
        for chunk in heights.chunks(BATCH) {
            let mut batch = Batch::default();
            for &h in chunk {
                batch.raw(
                    "blockchain.block.header".into(),
                    vec![Param::Usize(h as usize)],
                );
            }
            let values = client
                .batch_call(&batch)
                .map_err(|e| self.error("headers", e))?;
            for (&height, v) in chunk.iter().zip(values) {
                let header = v
                    .as_str()
                    .and_then(|s| hex::decode(s).ok())
                    .filter(|h| h.len() == 80)
                    .ok_or_else(|| {
                        SourceError::persistent(format!("bad header {height} from {}", self.url))
                    })?;
                out.push(BlockRef {
                    height,
                    hash: BlockHash::of_header(&header),
                    time: u32::from_le_bytes(header[68..72].try_into().unwrap_or_default()),
                });
            }
        }
        Ok(out)
    }

    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        let client = self.client();
        let header = client
            .block_header_raw(block.height as usize)
            .map_err(|e| self.error(&format!("header {}", block.height), e))?;
        if BlockHash::of_header(&header) != block.hash {
            return Err(SourceError::transient(format!(
                "block {} changed under us (a reorg?); try again",
                block.height
            )));
        }
        let txids = self.txids(&client, block.height)?;
        let mut bytes = header;
        push_compact_size(&mut bytes, txids.len() as u64);
        for chunk in txids.chunks(BATCH) {
            let txs = client.batch_transaction_get_raw(chunk).map_err(|e| {
                self.error(&format!("the transactions of block {}", block.height), e)
            })?;
            for tx in txs {
                bytes.extend_from_slice(&tx);
            }
        }
        Ok(bytes)
    }
}

fn push_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}
