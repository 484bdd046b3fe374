//! An Electrum server (electrs, Fulcrum…) through `electrum-client`: headers
//! by height, then each block's transactions by position
//! (`blockchain.transaction.id_from_pos`) and their raw bytes, batched.

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
            return Err(SourceError::persistent(format!(
                "{url}: unknown scheme {scheme:?} (use tcp:// or ssl://)"
            )))
        }
        None => (false, url),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse().ok()?)))
        .ok_or_else(|| {
            SourceError::persistent(format!(
                "{url}: expected host:port, e.g. tcp://127.0.0.1:50001"
            ))
        })?;
    Ok((tls, host, port))
}

/// Opens a connection: TCP within the timeout, then for `ssl://` the TLS
/// handshake, so a certificate problem is reported here, plainly.
fn open(url: &str, options: &ElectrumOptions) -> Result<Conn, SourceError> {
    let (use_tls, host, port) = parse_url(url)?;
    let unreachable = |e: io::Error| {
        SourceError::transient(format!("cannot connect to the Electrum server at {url}"))
            .with_source(e)
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
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        SourceError::persistent(format!("{url}: {host:?} is not a host name")).with_source(e)
    })?;
    let mut tls = ClientConnection::new(tls::client_config(options.verify_tls)?, name)
        .map_err(|e| SourceError::persistent(format!("{url}: cannot start TLS")).with_source(e))?;
    while tls.is_handshaking() {
        if let Err(e) = tls.complete_io(&mut tcp) {
            return Err(handshake_error(url, e));
        }
    }
    Ok(Conn::Tls(RawClient::from(StreamOwned::new(tls, tcp))))
}

/// A failed handshake: a certificate refused is persistent and says what
/// to do; anything else may pass.
fn handshake_error(url: &str, e: io::Error) -> SourceError {
    if tls::refused_certificate(&e) {
        SourceError::persistent(format!(
            "the Electrum server at {url} presented a certificate that is not trusted \
             (for a self-signed one: --tls-ca FILE with its certificate, or \
             --electrum-accept-invalid-certs)"
        ))
        .with_source(e)
    } else {
        SourceError::transient(format!("TLS with the Electrum server at {url} failed"))
            .with_source(e)
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
        what: &str,
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
        let tip = self.with("the tip", Conn::block_headers_subscribe_raw)?;
        u32::try_from(tip.height).map_err(|_| {
            SourceError::persistent(format!(
                "{}: tip height {} out of range",
                self.url, tip.height
            ))
        })
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        self.block_refs(&[height])?
            .pop()
            .ok_or_else(|| SourceError::persistent("empty answer"))
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
            let values = self.with("headers", |c| c.batch_call(&batch))?;
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
        self.with_conn(|c| self.block_from(c, block))
    }
}

impl ElectrumSource {
    /// The block's header, then its transactions by position, over one
    /// connection.
    fn block_from(&self, client: &Conn, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        let header = client
            .block_header_raw(block.height as usize)
            .map_err(|e| self.error(&format!("header {}", block.height), e))?;
        if BlockHash::of_header(&header) != block.hash {
            return Err(SourceError::transient(format!(
                "block {} changed under us (a reorg?); try again",
                block.height
            )));
        }
        let txids = self.txids(client, block.height)?;
        let mut bytes = header;
        // The transaction count, as a block serialises it.
        bitcoin::consensus::encode::VarInt::from(txids.len())
            .consensus_encode(&mut bytes)
            .map_err(|e| SourceError::persistent(format!("block {}: {e}", block.height)))?;
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
