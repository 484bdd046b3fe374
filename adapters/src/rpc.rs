//! Bitcoin Core over JSON-RPC (HTTP): `getblockcount`, `getblockhash`,
//! `getblockheader`, `getblock <hash> 0`, with header look-ups batched.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonrpc::bitreq_http::{self, BitreqHttpTransport};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::network::Network;
use crate::node_conf::NodeConf;
use fiatline_core::Txid;

use crate::{parse_txid, BlockRef, BlockSource, SourceError};

/// Requests per batch: enough to hide round trips, small enough for Core's
/// default work queue.
const BATCH: usize = 100;

/// What went wrong asking the node.
#[derive(Debug)]
#[non_exhaustive]
pub enum RpcError {
    /// No cookie file where the node writes it: not started yet (transient).
    NoCookie {
        /// The cookie file's path.
        path: PathBuf,
        /// The node's network.
        network: Network,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// No folder where the cookie should be: a wrong `--datadir` or
    /// `--chain` (bad input).
    NoCookieFolder {
        /// The folder.
        folder: PathBuf,
        /// The network asked for.
        network: Network,
        /// Why the cookie could not be read.
        source: std::io::Error,
    },
    /// The cookie file is not `user:password`.
    BadCookie {
        /// The cookie file's path.
        path: PathBuf,
    },
    /// HTTP 401: wrong credentials.
    Credentials {
        /// The node's URL, credentials redacted.
        url: String,
    },
    /// HTTP 403: `rpcallowip` leaves this client out.
    Forbidden {
        /// The node's URL, credentials redacted.
        url: String,
    },
    /// Another HTTP status (transient from 500 up).
    Http {
        /// The node's URL, credentials redacted.
        url: String,
        /// The status.
        status: i32,
    },
    /// Error -28: the node is loading (transient).
    Starting {
        /// The node's URL, credentials redacted.
        url: String,
        /// The node's words.
        message: String,
    },
    /// Any other JSON-RPC error.
    Rpc {
        /// The node's URL, credentials redacted.
        url: String,
        /// The error code.
        code: i32,
        /// The node's words.
        message: String,
    },
    /// An answer that is not what the call gives.
    Unexpected {
        /// The node's URL, credentials redacted.
        url: String,
        /// What the client found.
        source: jsonrpc::Error,
    },
    /// A batch came back without an answer to one of its requests (transient).
    Unanswered,
    /// A call for one block came back with none.
    EmptyAnswer,
    /// `getblock` gave a block that is not hex.
    NotHex {
        /// The block.
        hash: crate::BlockHash,
        /// Where the hex broke.
        source: hex::FromHexError,
    },
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCookie { path, network, .. } => write!(
                f,
                "no RPC cookie at {}: is bitcoind running on {network}? (a node writes it \
                 when it starts; a node set up with rpcuser/rpcpassword needs --rpc-user and \
                 --rpc-password instead)",
                path.display()
            ),
            Self::NoCookieFolder {
                folder, network, ..
            } => write!(
                f,
                "no folder {} for the RPC cookie: is --datadir the node's data directory, \
                 and --chain its network ({network})?",
                folder.display()
            ),
            Self::BadCookie { path } => write!(f, "malformed cookie file {}", path.display()),
            Self::Credentials { url } => write!(
                f,
                "the node at {url} refused the RPC credentials (check \
                 --rpc-user/--rpc-password or the cookie file)"
            ),
            Self::Forbidden { url } => {
                write!(f, "the node at {url} forbids this client (rpcallowip)")
            }
            Self::Http { url, status } => write!(f, "the node at {url} answered HTTP {status}"),
            Self::Starting { url, message } => {
                write!(f, "the node at {url} is starting: {message}")
            }
            Self::Rpc { url, code, message } => {
                write!(f, "the node at {url} answered error {code}: {message}")
            }
            Self::Unexpected { url, .. } => write!(f, "unexpected answer from the node at {url}"),
            Self::Unanswered => f.write_str("the node left a batched request unanswered"),
            Self::EmptyAnswer => f.write_str("empty answer"),
            Self::NotHex { hash, .. } => write!(f, "block {hash} from the node is not hex"),
        }
    }
}

impl std::error::Error for RpcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NoCookie { source, .. } | Self::NoCookieFolder { source, .. } => Some(source),
            Self::Unexpected { source, .. } => Some(source),
            Self::NotHex { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<RpcError> for SourceError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::NoCookie { .. } | RpcError::Starting { .. } | RpcError::Unanswered => {
                Self::transient(e)
            }
            RpcError::Http { status, .. } if status >= 500 => Self::transient(e),
            RpcError::NoCookieFolder { .. } => Self::bad_input(e),
            _ => Self::persistent(e),
        }
    }
}

/// How to authenticate to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `rpcuser` / `rpcpassword`.
    UserPass(String, String),
    /// The `.cookie` file Core writes at start (read at every connection, so
    /// a restarted node's new cookie is picked up).
    CookieFile(PathBuf),
}

/// Where and how to reach a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcConfig {
    /// `http://host:port`.
    pub url: String,
    /// Credentials.
    pub auth: Auth,
    /// The node's network, for messages (a cookie looked for in the wrong
    /// network's folder is the usual mistake).
    pub network: Network,
}

impl RpcConfig {
    /// A mainnet node at `url` with `auth`.
    pub fn new(url: impl Into<String>, auth: Auth) -> Self {
        Self {
            url: url.into(),
            auth,
            network: Network::Main,
        }
    }

    /// Reads a data directory as `bitcoin-cli` does (see [`NodeConf`]):
    /// `bitcoin.conf` (or `bitcoin_rw.conf`, as the reference reads it) for
    /// the network and its `rpcuser`, `rpcpassword`, `rpccookiefile`,
    /// `rpcconnect` and `rpcport`; without a user and password, the cookie
    /// in the network's folder.
    ///
    /// # Errors
    /// Returns a persistent error when the configuration cannot be read.
    pub fn from_datadir(datadir: &Path) -> Result<Self, SourceError> {
        Ok(NodeConf::read(datadir, None)?.rpc())
    }
}

/// A transaction of the node's mempool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolEntry {
    /// Its txid.
    pub txid: Txid,
    /// When the node first saw it, Unix seconds.
    pub time: u32,
    /// Its parents still in the mempool.
    pub depends: Vec<Txid>,
}

/// Reorders `entries` so every parent comes before its children, keeping
/// the given order otherwise.
fn parents_first(entries: Vec<MempoolEntry>) -> Vec<MempoolEntry> {
    use std::collections::HashMap;
    let at: HashMap<Txid, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.txid, i))
        .collect();
    let mut done = vec![false; entries.len()];
    let mut order = Vec::with_capacity(entries.len());
    for start in 0..entries.len() {
        // Depth first over unvisited parents, without recursion.
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if done[i] {
                continue;
            }
            if expanded {
                done[i] = true;
                order.push(i);
                continue;
            }
            stack.push((i, true));
            for p in &entries[i].depends {
                if let Some(&j) = at.get(p) {
                    if !done[j] {
                        stack.push((j, false));
                    }
                }
            }
        }
    }
    let mut slots: Vec<Option<MempoolEntry>> = entries.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// A Bitcoin Core node reached over JSON-RPC.
#[derive(Debug, Clone)]
pub struct RpcSource {
    config: RpcConfig,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Header {
    time: u32,
}

impl RpcSource {
    /// Creates a source; nothing is sent until the first request.
    pub fn new(config: RpcConfig) -> Self {
        Self {
            config,
            timeout: Duration::from_secs(60),
        }
    }

    fn client(&self) -> Result<jsonrpc::Client, SourceError> {
        let (user, password) = match &self.config.auth {
            Auth::UserPass(u, p) => (u.clone(), p.clone()),
            Auth::CookieFile(path) => {
                let network = self.config.network;
                let cookie = std::fs::read_to_string(path).map_err(|source| {
                    let folder = path.parent().unwrap_or(path);
                    if folder.is_dir() {
                        // The node writes its cookie when its RPC server
                        // starts: not there yet is worth a retry.
                        RpcError::NoCookie {
                            path: path.clone(),
                            network,
                            source,
                        }
                    } else {
                        RpcError::NoCookieFolder {
                            folder: folder.to_path_buf(),
                            network,
                            source,
                        }
                    }
                })?;
                let (u, p) = cookie
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| RpcError::BadCookie { path: path.clone() })?;
                (u.to_string(), p.to_string())
            }
        };
        let transport = BitreqHttpTransport::builder()
            .url(&self.config.url)
            .map_err(|e| self.error(e))?
            .timeout(self.timeout)
            .basic_auth(user, Some(password))
            .build();
        Ok(jsonrpc::Client::with_transport(transport))
    }

    fn call<T: for<'de> Deserialize<'de>>(
        &self,
        method: &str,
        params: &str,
    ) -> Result<T, SourceError> {
        let params = RawValue::from_string(params.to_string()).map_err(|e| self.error(e))?;
        let client = self.client()?;
        let response = client
            .send_request(client.build_request(method, Some(&params)))
            .map_err(|e| self.error(e))?;
        response.result::<T>().map_err(|e| self.error(e))
    }

    /// Sends one batch of calls of `method`, one per parameter list, and
    /// returns the results in order.
    fn batch<T: for<'de> Deserialize<'de>>(
        &self,
        method: &str,
        params: &[String],
    ) -> Result<Vec<T>, SourceError> {
        let client = self.client()?;
        let raw: Vec<Box<RawValue>> = params
            .iter()
            .map(|p| RawValue::from_string(p.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        let requests: Vec<_> = raw
            .iter()
            .map(|p| client.build_request(method, Some(p)))
            .collect();
        let responses = client.send_batch(&requests).map_err(|e| self.error(e))?;
        responses
            .into_iter()
            .map(|r| {
                r.ok_or(RpcError::Unanswered)?
                    .result::<T>()
                    .map_err(|e| self.error(e))
            })
            .collect()
    }

    /// Classifies an error so retry policy follows from its kind.
    fn error(&self, e: impl Into<jsonrpc::Error>) -> SourceError {
        let e = e.into();
        let url = crate::redact::redacted(&self.config.url).into_owned();
        let typed = match &e {
            jsonrpc::Error::Transport(inner) => match inner.downcast_ref::<bitreq_http::Error>() {
                Some(bitreq_http::Error::Http(http)) => match http.status_code {
                    401 => RpcError::Credentials { url },
                    403 => RpcError::Forbidden { url },
                    status => RpcError::Http { url, status },
                },
                _ => return crate::tls::unreachable(format!("the node at {url}"), e),
            },
            // -28: warming up (loading the block index); -1 covers shutting down.
            jsonrpc::Error::Rpc(rpc) if rpc.code == -28 => RpcError::Starting {
                url,
                message: rpc.message.clone(),
            },
            jsonrpc::Error::Rpc(rpc) => RpcError::Rpc {
                url,
                code: rpc.code,
                message: rpc.message.clone(),
            },
            _ => RpcError::Unexpected { url, source: e },
        };
        typed.into()
    }
}

impl RpcSource {
    /// Returns the mempool (`getrawmempool true`): each transaction's txid,
    /// first-seen time and in-mempool parents, parents before children
    /// (the node lists them in no useful order; the same-day rule needs
    /// parents first), and else by first-seen time.
    ///
    /// # Errors
    /// As any call to the node.
    pub fn mempool(&self) -> Result<Vec<MempoolEntry>, SourceError> {
        #[derive(Deserialize)]
        struct Entry {
            time: u64,
            #[serde(default)]
            depends: Vec<String>,
        }
        let entries: std::collections::HashMap<String, Entry> =
            self.call("getrawmempool", "[true]")?;
        let mut listed = entries
            .into_iter()
            .map(|(txid, e)| {
                Ok(MempoolEntry {
                    txid: parse_txid(&txid)?,
                    time: u32::try_from(e.time).unwrap_or(u32::MAX),
                    depends: e
                        .depends
                        .iter()
                        .map(|d| parse_txid(d))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, SourceError>>()?;
        listed.sort_by_key(|e| (e.time, e.txid));
        Ok(parents_first(listed))
    }

    /// Returns raw transactions by txid, batched;
    /// `None` for one that is gone (confirmed or evicted since).
    ///
    /// # Errors
    /// As any call to the node, but a missing transaction is not an error.
    pub fn raw_transactions(&self, txids: &[Txid]) -> Result<Vec<Option<Vec<u8>>>, SourceError> {
        let mut out = Vec::with_capacity(txids.len());
        let client = self.client()?;
        for chunk in txids.chunks(BATCH) {
            let params: Vec<Box<RawValue>> = chunk
                .iter()
                .map(|t| RawValue::from_string(format!("[\"{t}\"]")))
                .collect::<Result<_, _>>()
                .map_err(|e| self.error(e))?;
            let requests: Vec<_> = params
                .iter()
                .map(|p| client.build_request("getrawtransaction", Some(p)))
                .collect();
            for response in client.send_batch(&requests).map_err(|e| self.error(e))? {
                let hex = response.and_then(|r| r.result::<String>().ok());
                out.push(hex.and_then(|h| hex::decode(h).ok()));
            }
        }
        Ok(out)
    }
}

impl BlockSource for RpcSource {
    fn name(&self) -> &'static str {
        "rpc"
    }

    fn tip_height(&self) -> Result<u32, SourceError> {
        self.call("getblockcount", "[]")
    }

    fn block_ref(&self, height: u32) -> Result<BlockRef, SourceError> {
        self.block_refs(&[height])?
            .pop()
            .ok_or_else(|| RpcError::EmptyAnswer.into())
    }

    fn block_refs(&self, heights: &[u32]) -> Result<Vec<BlockRef>, SourceError> {
        let mut out = Vec::with_capacity(heights.len());
        for chunk in heights.chunks(BATCH) {
            let params: Vec<String> = chunk.iter().map(|h| format!("[{h}]")).collect();
            let hashes: Vec<String> = self.batch("getblockhash", &params)?;
            let params: Vec<String> = hashes.iter().map(|h| format!("[\"{h}\", true]")).collect();
            let headers: Vec<Header> = self.batch("getblockheader", &params)?;
            for ((&height, hash), header) in chunk.iter().zip(hashes).zip(headers) {
                out.push(BlockRef {
                    height,
                    hash: hash.parse()?,
                    time: header.time,
                });
            }
        }
        Ok(out)
    }

    fn raw_block(&self, block: &BlockRef) -> Result<Vec<u8>, SourceError> {
        let hex: String = self.call("getblock", &format!("[\"{}\", 0]", block.hash))?;
        hex::decode(hex.trim()).map_err(|source| {
            RpcError::NotHex {
                hash: block.hash,
                source,
            }
            .into()
        })
    }
}
