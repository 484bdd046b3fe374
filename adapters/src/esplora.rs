//! An Esplora or mempool.space REST server through `esplora-client`:
//! `/blocks/tip/height`, `/block-height/:h`, `/block/:hash/header`,
//! `/block/:hash/raw`.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use esplora_client::{BlockingClient, Builder};

use crate::{BlockHash, BlockRef, BlockSource, SourceError};

/// A request to an Esplora server, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `/blocks/tip/height`.
    TipHeight,
    /// `/blocks/tip/hash`.
    Tip,
    /// `/block-height/:height`.
    HashAt(u32),
    /// `/block/:hash/header`.
    Header(bitcoin::BlockHash),
    /// `/block/:hash/raw`.
    Block(bitcoin::BlockHash),
    /// `/mempool/txids`.
    MempoolTxids,
    /// `/tx/:txid/raw`.
    Transaction(bitcoin::Txid),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TipHeight => f.write_str("the tip height"),
            Self::Tip => f.write_str("the tip"),
            Self::HashAt(h) => write!(f, "the hash at height {h}"),
            Self::Header(hash) => write!(f, "the header of {hash}"),
            Self::Block(hash) => write!(f, "block {hash}"),
            Self::MempoolTxids => f.write_str("the mempool's txids"),
            Self::Transaction(txid) => write!(f, "transaction {txid}"),
        }
    }
}

/// What went wrong with an Esplora server.
#[derive(Debug)]
#[non_exhaustive]
pub enum EsploraError {
    /// An HTTP status other than 200 (transient for 429 and 5xx).
    Http {
        /// The server's URL.
        url: String,
        /// The status.
        status: u16,
        /// What was asked.
        request: Request,
        /// The client's error.
        source: esplora_client::Error,
    },
    /// An answer the client could not use.
    Unexpected {
        /// The server's URL.
        url: String,
        /// What was asked.
        request: Request,
        /// The client's error.
        source: esplora_client::Error,
    },
    /// The server has no block of that hash.
    NoBlock {
        /// The server's URL.
        url: String,
        /// The block.
        hash: bitcoin::BlockHash,
    },
    /// A block whose bytes the core could not parse.
    Malformed {
        /// The server's URL.
        url: String,
        /// The block's height.
        height: u32,
        /// Where it broke.
        source: fiatline_core::ParseError,
    },
}

impl fmt::Display for EsploraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http {
                url,
                status,
                request,
                ..
            } => write!(f, "{url} answered HTTP {status} to {request}"),
            Self::Unexpected { url, request, .. } => {
                write!(f, "unexpected answer from {url} to {request}")
            }
            Self::NoBlock { url, hash } => write!(f, "{url} has no block {hash}"),
            Self::Malformed { url, height, .. } => {
                write!(f, "{url} sent a malformed block {height}")
            }
        }
    }
}

impl std::error::Error for EsploraError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Http { source, .. } | Self::Unexpected { source, .. } => Some(source),
            Self::Malformed { source, .. } => Some(source),
            Self::NoBlock { .. } => None,
        }
    }
}

impl From<EsploraError> for SourceError {
    fn from(e: EsploraError) -> Self {
        match e {
            EsploraError::Http { status, .. } if status == 429 || status >= 500 => {
                Self::transient(e)
            }
            _ => Self::persistent(e),
        }
    }
}

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

    pub(crate) fn error(&self, request: Request, source: esplora_client::Error) -> SourceError {
        use esplora_client::Error as E;
        let url = self.url.clone();
        match source {
            E::HttpResponse { status, .. } => EsploraError::Http {
                url,
                status,
                request,
                source,
            },
            E::BitReq(_) => {
                return crate::tls::unreachable(format!("the Esplora server at {url}"), source)
            }
            _ => EsploraError::Unexpected {
                url,
                request,
                source,
            },
        }
        .into()
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
            .map_err(|e| self.error(Request::TipHeight, e))
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        self.pace();
        let hash = self
            .client
            .get_block_hash(height)
            .map_err(|e| self.error(Request::HashAt(height), e))?;
        self.pace();
        let header = self
            .client
            .get_header_by_hash(&hash)
            .map_err(|e| self.error(Request::Header(hash), e))?;
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
            .map_err(|e| self.error(Request::Block(hash), e))?
            .ok_or_else(|| EsploraError::NoBlock {
                url: self.url.clone(),
                hash,
            })?;
        // The client decodes the raw block; encoding gives back the same bytes.
        Ok(bitcoin::consensus::serialize(&decoded))
    }
}
