//! An Electrum server (electrs, Fulcrum…) through `electrum-client`: headers
//! by height, then each block's transactions by position
//! (`blockchain.transaction.id_from_pos`) and their raw bytes, batched.

use std::fmt;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bitcoin::consensus::Encodable;
use electrum_client::raw_client::RawClient;
use electrum_client::{Batch, ElectrumApi, Param, RawHeaderNotification};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use crate::{tls, BlockHash, BlockRef, BlockSource, SourceError};

/// Requests per batch.
const BATCH: usize = 100;

/// A request to an Electrum server, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// The tip's header (`blockchain.headers.subscribe`).
    Tip,
    /// The same, by a live source.
    Subscription,
    /// Notified headers, popped from the connection.
    Notifications,
    /// `server.ping`.
    Ping,
    /// A batch of headers by height.
    Headers,
    /// One block's header.
    Header(u32),
    /// The txid at a position of a block.
    Txid {
        /// The position.
        pos: usize,
        /// The block's height.
        height: u32,
    },
    /// A block's txids.
    Txids(u32),
    /// A block's transactions.
    Transactions(u32),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tip => f.write_str("the tip"),
            Self::Subscription => f.write_str("a header subscription"),
            Self::Notifications => f.write_str("header notifications"),
            Self::Ping => f.write_str("a ping"),
            Self::Headers => f.write_str("headers"),
            Self::Header(h) => write!(f, "header {h}"),
            Self::Txid { pos, height } => write!(f, "txid {pos} of block {height}"),
            Self::Txids(h) => write!(f, "the txids of block {h}"),
            Self::Transactions(h) => write!(f, "the transactions of block {h}"),
        }
    }
}

/// What went wrong with an Electrum server.
#[derive(Debug)]
#[non_exhaustive]
pub enum ElectrumError {
    /// No server URL was given (bad input).
    NoServer,
    /// A URL whose scheme is neither `tcp` nor `ssl`.
    UnknownScheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// A URL without `host:port`.
    BadAddress {
        /// The URL.
        url: String,
    },
    /// No connection could be made (transient).
    Connect {
        /// The URL.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// The host is not a name TLS can check a certificate against.
    BadHostName {
        /// The URL.
        url: String,
        /// The host.
        host: String,
        /// rustls' refusal.
        source: rustls::pki_types::InvalidDnsNameError,
    },
    /// rustls could not start a session.
    StartTls {
        /// The URL.
        url: String,
        /// Why.
        source: rustls::Error,
    },
    /// The server's certificate is not trusted.
    Untrusted {
        /// The URL.
        url: String,
        /// The handshake's failure.
        source: io::Error,
    },
    /// The TLS handshake failed otherwise (transient).
    Handshake {
        /// The URL.
        url: String,
        /// Why.
        source: io::Error,
    },
    /// The connection was lost during a request (transient).
    Lost {
        /// The URL.
        url: String,
        /// What was asked.
        request: Request,
        /// The client's error.
        source: electrum_client::Error,
    },
    /// The server answered a request with an error.
    Failed {
        /// The URL.
        url: String,
        /// What was asked.
        request: Request,
        /// The client's error.
        source: electrum_client::Error,
    },
    /// A txid that does not parse.
    BadTxid {
        /// The URL.
        url: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A tip height past `u32::MAX`.
    TipOutOfRange {
        /// The URL.
        url: String,
        /// The height announced.
        height: usize,
    },
    /// A height past `u32::MAX` announced to a live source.
    HeightOutOfRange {
        /// The height announced.
        height: usize,
    },
    /// A call for one block's header came back with none.
    EmptyAnswer,
    /// A header that is not 80 bytes.
    BadHeader {
        /// The URL.
        url: String,
        /// Its height.
        height: u32,
    },
    /// The block at a height changed between two requests: a reorganisation
    /// (transient).
    Changed {
        /// The height.
        height: u32,
    },
    /// The block's transaction count could not be written.
    Encode {
        /// The block's height.
        height: u32,
        /// Why.
        source: bitcoin::io::Error,
    },
}

impl fmt::Display for ElectrumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoServer => f.write_str("no Electrum server given"),
            Self::UnknownScheme { url, scheme } => {
                write!(f, "{url}: unknown scheme {scheme:?} (use tcp:// or ssl://)")
            }
            Self::BadAddress { url } => {
                write!(f, "{url}: expected host:port, e.g. tcp://127.0.0.1:50001")
            }
            Self::Connect { url, .. } => {
                write!(f, "cannot connect to the Electrum server at {url}")
            }
            Self::BadHostName { url, host, .. } => write!(f, "{url}: {host:?} is not a host name"),
            Self::StartTls { url, .. } => write!(f, "{url}: cannot start TLS"),
            Self::Untrusted { url, .. } => write!(
                f,
                "the Electrum server at {url} presented a certificate that is not trusted \
                 (for a self-signed one: --tls-ca FILE with its certificate, or \
                 --electrum-accept-invalid-certs)"
            ),
            Self::Handshake { url, .. } => {
                write!(f, "TLS with the Electrum server at {url} failed")
            }
            Self::Lost { url, request, .. } => write!(
                f,
                "lost the Electrum server at {url} while asking {request}"
            ),
            Self::Failed { url, request, .. } => {
                write!(f, "the Electrum server at {url} failed {request}")
            }
            Self::BadTxid { url, .. } => write!(f, "bad txid from {url}"),
            Self::TipOutOfRange { url, height } => {
                write!(f, "{url}: tip height {height} out of range")
            }
            Self::HeightOutOfRange { height } => {
                write!(f, "the server announced height {height}")
            }
            Self::EmptyAnswer => f.write_str("empty answer"),
            Self::BadHeader { url, height } => write!(f, "bad header {height} from {url}"),
            Self::Changed { height } => {
                write!(f, "block {height} changed under us (a reorg?); try again")
            }
            Self::Encode { height, source } => write!(f, "block {height}: {source}"),
        }
    }
}

impl std::error::Error for ElectrumError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect { source, .. }
            | Self::Untrusted { source, .. }
            | Self::Handshake { source, .. } => Some(source),
            Self::BadHostName { source, .. } => Some(source),
            Self::StartTls { source, .. } => Some(source),
            Self::Lost { source, .. } | Self::Failed { source, .. } => Some(source),
            Self::BadTxid { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ElectrumError> for SourceError {
    fn from(e: ElectrumError) -> Self {
        match e {
            ElectrumError::NoServer => Self::bad_input(e),
            ElectrumError::Connect { .. }
            | ElectrumError::Handshake { .. }
            | ElectrumError::Lost { .. }
            | ElectrumError::Changed { .. } => Self::transient(e),
            _ => Self::persistent(e),
        }
    }
}

/// How to talk to an Electrum server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectrumOptions {
    /// Longest a connection attempt or a request may take.
    pub timeout: Duration,
    /// For `ssl://`: whether the certificate must be valid for the host. A
    /// self-hosted server often has a self-signed one.
    pub verify_tls: bool,
}

impl Default for ElectrumOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            verify_tls: true,
        }
    }
}

/// A connection to one server, plain or over TLS (rustls, see [`tls`]).
pub(crate) enum Conn {
    Tcp(RawClient<TcpStream>),
    Tls(RawClient<StreamOwned<ClientConnection, TcpStream>>),
}

/// Calls the same method whatever the stream.
macro_rules! on {
    ($conn:expr, $c:ident => $call:expr) => {
        match $conn {
            Conn::Tcp($c) => $call,
            Conn::Tls($c) => $call,
        }
    };
}

type Answer<T> = Result<T, electrum_client::Error>;

impl Conn {
    pub(crate) fn batch_call(&self, batch: &Batch) -> Answer<Vec<serde_json::Value>> {
        on!(self, c => c.batch_call(batch))
    }
    pub(crate) fn block_headers_subscribe_raw(&self) -> Answer<RawHeaderNotification> {
        on!(self, c => c.block_headers_subscribe_raw())
    }
    pub(crate) fn block_headers_pop_raw(&self) -> Answer<Option<RawHeaderNotification>> {
        on!(self, c => c.block_headers_pop_raw())
    }
    pub(crate) fn ping(&self) -> Answer<()> {
        on!(self, c => c.ping())
    }
    fn block_header_raw(&self, height: usize) -> Answer<Vec<u8>> {
        on!(self, c => c.block_header_raw(height))
    }
    fn txid_from_pos(&self, height: usize, pos: usize) -> Answer<bitcoin::Txid> {
        on!(self, c => c.txid_from_pos(height, pos))
    }
    fn batch_transaction_get_raw(&self, txids: &[bitcoin::Txid]) -> Answer<Vec<Vec<u8>>> {
        on!(self, c => c.batch_transaction_get_raw(txids))
    }
}

/// `tcp://host:port` or `ssl://host:port` (no scheme: TCP), split.
fn parse_url(url: &str) -> Result<(bool, &str, u16), SourceError> {
    let (tls, rest) = match url.split_once("://") {
        Some(("ssl", rest)) => (true, rest),
        Some(("tcp", rest)) => (false, rest),
        Some((scheme, _)) => {
            return Err(ElectrumError::UnknownScheme {
                url: url.to_owned(),
                scheme: scheme.to_owned(),
            }
            .into())
        }
        None => (false, url),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse().ok()?)))
        .ok_or_else(|| ElectrumError::BadAddress {
            url: url.to_owned(),
        })?;
    Ok((tls, host, port))
}

/// Opens a connection: TCP within the timeout, then for `ssl://` the TLS
/// handshake, so a certificate problem is reported here, plainly.
fn open(url: &str, options: &ElectrumOptions) -> Result<Conn, SourceError> {
    let (use_tls, host, port) = parse_url(url)?;
    let unreachable = |source: io::Error| ElectrumError::Connect {
        url: url.to_owned(),
        source,
    };
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(unreachable)?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, options.timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut tcp = tcp.ok_or_else(|| unreachable(last))?;
    tcp.set_read_timeout(Some(options.timeout))
        .map_err(unreachable)?;
    tcp.set_write_timeout(Some(options.timeout))
        .map_err(unreachable)?;
    let _ = tcp.set_nodelay(true);
    if !use_tls {
        return Ok(Conn::Tcp(RawClient::from(tcp)));
    }
    let name =
        ServerName::try_from(host.to_owned()).map_err(|source| ElectrumError::BadHostName {
            url: url.to_owned(),
            host: host.to_owned(),
            source,
        })?;
    let mut tls =
        ClientConnection::new(tls::client_config(options.verify_tls)?, name).map_err(|source| {
            ElectrumError::StartTls {
                url: url.to_owned(),
                source,
            }
        })?;
    while tls.is_handshaking() {
        if let Err(e) = tls.complete_io(&mut tcp) {
            return Err(handshake_error(url, e));
        }
    }
    Ok(Conn::Tls(RawClient::from(StreamOwned::new(tls, tcp))))
}

/// A failed handshake: a certificate refused is persistent and says what
/// to do; anything else may pass.
fn handshake_error(url: &str, source: io::Error) -> SourceError {
    let url = url.to_owned();
    if tls::refused_certificate(&source) {
        ElectrumError::Untrusted { url, source }.into()
    } else {
        ElectrumError::Handshake { url, source }.into()
    }
}

/// An Electrum server. The connection is made again, on the next request,
/// after one is lost.
pub struct ElectrumSource {
    conn: Mutex<Option<Conn>>,
    url: String,
    options: ElectrumOptions,
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
    /// Returns a transient error when the server cannot be reached, and a
    /// persistent one for a malformed URL or a refused certificate.
    pub fn connect(url: &str) -> Result<Self, SourceError> {
        Self::connect_with(url, &ElectrumOptions::default())
    }

    /// As [`ElectrumSource::connect`], with `options`.
    ///
    /// # Errors
    /// As [`ElectrumSource::connect`].
    pub fn connect_with(url: &str, options: &ElectrumOptions) -> Result<Self, SourceError> {
        let conn = open(url, options)?;
        Ok(Self {
            conn: Mutex::new(Some(conn)),
            url: url.to_string(),
            options: *options,
        })
    }

    /// Runs `request` on the connection (made again first if it was lost);
    /// a connection that fails is dropped, for the next call to replace.
    pub(crate) fn with<T>(
        &self,
        what: Request,
        request: impl FnOnce(&Conn) -> Answer<T>,
    ) -> Result<T, SourceError> {
        self.with_conn(|c| request(c).map_err(|e| self.error(what, e)))
    }

    /// As [`ElectrumSource::with`], for work of several requests.
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&Conn) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let mut conn = self.lock();
        let c = match conn.take() {
            Some(c) => c,
            None => open(&self.url, &self.options)?,
        };
        let result = work(&c);
        if !result.as_ref().is_err_and(SourceError::is_transient) {
            *conn = Some(c);
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn error(&self, request: Request, source: electrum_client::Error) -> SourceError {
        use electrum_client::Error as E;
        let url = self.url.clone();
        match source {
            E::IOError(_)
            | E::SharedIOError(_)
            | E::AllAttemptsErrored(_)
            | E::CouldntLockReader
            | E::Mpsc => ElectrumError::Lost {
                url,
                request,
                source,
            },
            _ => ElectrumError::Failed {
                url,
                request,
                source,
            },
        }
        .into()
    }

    /// Returns the txids of the block at `height`, in block order. The
    /// protocol gives no transaction count, so positions are asked in
    /// batches until the server refuses one; the end is then found by
    /// bisecting that batch (about seven single requests).
    fn txids(&self, client: &Conn, height: u32) -> Result<Vec<bitcoin::Txid>, SourceError> {
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
                        let txid =
                            serde_json::from_value::<bitcoin::Txid>(v).map_err(|source| {
                                ElectrumError::BadTxid {
                                    url: self.url.clone(),
                                    source,
                                }
                            })?;
                        txids.push(txid);
                    }
                }
                Err(electrum_client::Error::Protocol(_)) => {
                    for pos in start..start + BATCH {
                        match client.txid_from_pos(height as usize, pos) {
                            Ok(txid) => txids.push(txid),
                            Err(electrum_client::Error::Protocol(_)) => return Ok(txids),
                            Err(e) => return Err(self.error(Request::Txid { pos, height }, e)),
                        }
                    }
                }
                Err(e) => return Err(self.error(Request::Txids(height), e)),
            }
        }
    }
}

impl BlockSource for ElectrumSource {
    fn name(&self) -> &'static str {
        "electrum"
    }

    fn tip_height(&self) -> Result<u32, SourceError> {
        let tip = self.with(Request::Tip, Conn::block_headers_subscribe_raw)?;
        u32::try_from(tip.height).map_err(|_| {
            ElectrumError::TipOutOfRange {
                url: self.url.clone(),
                height: tip.height,
            }
            .into()
        })
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        self.block_refs(&[height])?
            .pop()
            .ok_or_else(|| ElectrumError::EmptyAnswer.into())
    }

    fn block_refs(&self, heights: &[u32]) -> Result<Vec<BlockRef>, SourceError> {
        let mut out = Vec::with_capacity(heights.len());
        for chunk in heights.chunks(BATCH) {
            let mut batch = Batch::default();
            for &h in chunk {
                batch.raw(
                    "blockchain.block.header".into(),
                    vec![Param::Usize(h as usize)],
                );
            }
            let values = self.with(Request::Headers, |c| c.batch_call(&batch))?;
            for (&height, v) in chunk.iter().zip(values) {
                let header = v
                    .as_str()
                    .and_then(|s| hex::decode(s).ok())
                    .filter(|h| h.len() == 80)
                    .ok_or_else(|| ElectrumError::BadHeader {
                        url: self.url.clone(),
                        height,
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
        self.with_conn(|c| self.block_from(c, block))
    }
}

impl ElectrumSource {
    /// The block's header, then its transactions by position, over one
    /// connection.
    fn block_from(&self, client: &Conn, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        let header = client
            .block_header_raw(block.height as usize)
            .map_err(|e| self.error(Request::Header(block.height), e))?;
        if BlockHash::of_header(&header) != block.hash {
            return Err(ElectrumError::Changed {
                height: block.height,
            }
            .into());
        }
        let txids = self.txids(client, block.height)?;
        let mut bytes = header;
        // The transaction count, as a block serialises it.
        bitcoin::consensus::encode::VarInt::from(txids.len())
            .consensus_encode(&mut bytes)
            .map_err(|source| ElectrumError::Encode {
                height: block.height,
                source,
            })?;
        for chunk in txids.chunks(BATCH) {
            let txs = client
                .batch_transaction_get_raw(chunk)
                .map_err(|e| self.error(Request::Transactions(block.height), e))?;
            for tx in txs {
                bytes.extend_from_slice(&tx);
            }
        }
        Ok(bytes)
    }
}
