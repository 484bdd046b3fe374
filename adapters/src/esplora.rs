//! An Esplora or mempool.space REST server through `esplora-client`:
//! `/blocks/tip/height`, `/block-height/:h`, `/block/:hash/header`,
//! `/block/:hash/raw`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use esplora_client::{BlockingClient, Builder};

use crate::{BlockHash, BlockRef, BlockSource, SourceError};

/// An Esplora server, asked no faster than one request per `interval`.
#[derive(Debug)]
pub struct EsploraSource {
    client: BlockingClient,
    url: String,
    interval: Duration,
    next: Mutex<Instant>,
}

impl EsploraSource {
    /// Default spacing between requests: 20 per second, polite to public servers.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(50);

    /// Creates a source for `url` (e.g. `https://mempool.space/api` or a
    /// self-hosted `http://127.0.0.1:3002`). HTTP 429 and 5xx answers are
    /// retried by the client with exponential backoff, then reported as
    /// transient.
    ///
    /// # Errors
    /// Returns a persistent error for a URL the client rejects.
    pub fn new(url: &str, interval: Duration) -> Result<Self, SourceError> {
        Self::with_timeout(url, interval, Duration::from_secs(60))
    }

    /// As [`EsploraSource::new`], with requests abandoned after `timeout`
    /// (a live source wants to notice a stalled server sooner).
    ///
    /// # Errors
    /// Returns a persistent error for a URL the client rejects.
    pub fn with_timeout(
        url: &str,
        interval: Duration,
        timeout: Duration,
    ) -> Result<Self, SourceError> {
        let client = Builder::new(url.trim_end_matches('/'))
            .timeout(timeout)
            .max_retries(4)
            .build_blocking();
        Ok(Self {
            client,
            // Shown in messages: never with credentials.
            url: crate::redact::redacted(url).into_owned(),
            interval,
            next: Mutex::new(Instant::now()),
        })
    }

    /// The client, for the live source's requests.
    pub(crate) fn client(&self) -> &BlockingClient {
        &self.client
    }

    /// The server's address, for messages.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Waits for this request's turn.
    pub(crate) fn pace(&self) {
        let wait = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    pub(crate) fn error(&self, what: &str, e: esplora_client::Error) -> SourceError {
        use esplora_client::Error as E;
        let url = &self.url;
        match &e {
            E::HttpResponse { status, .. } if *status == 429 || *status >= 500 => {
                SourceError::transient(format!("{url} answered HTTP {status} to {what}"))
            }
            E::HttpResponse { status, .. } => {
                SourceError::persistent(format!("{url} answered HTTP {status} to {what}"))
                    .with_source(e)
            }
            E::BitReq(_) => crate::tls::unreachable(&format!("the Esplora server at {url}"), e),
            _ => SourceError::persistent(format!("unexpected answer from {url} to {what}"))
                .with_source(e),
        }
    }
}

impl BlockSource for EsploraSource {
    fn name(&self) -> &'static str {
        "esplora"
    }

    fn tip_height(&self) -> Result<u32, SourceError> {
        self.pace();
        self.client
            .get_height()
            .map_err(|e| self.error("the tip height", e))
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        self.pace();
        let hash = self
            .client
            .get_block_hash(height)
            .map_err(|e| self.error(&format!("the hash at height {height}"), e))?;
        self.pace();
        let header = self
            .client
            .get_header_by_hash(&hash)
            .map_err(|e| self.error(&format!("the header of {hash}"), e))?;
        Ok(BlockRef {
            height,
            hash: BlockHash(hash.to_byte_array()),
            time: header.time,
        })
    }

    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        self.pace();
        let hash = bitcoin::BlockHash::from_byte_array(block.hash.0);
        let decoded = self
            .client
            .get_block_by_hash(&hash)
            .map_err(|e| self.error(&format!("block {hash}"), e))?
            .ok_or_else(|| SourceError::persistent(format!("{} has no block {hash}", self.url)))?;
        // The client decodes the raw block; encoding gives back the same bytes.
        Ok(bitcoin::consensus::serialize(&decoded))
    }
}
