//! One description of where blocks and live events come from, and the one
//! place that opens a backend from it: the command line, the examples and
//! the history store never import a backend themselves.

use std::path::PathBuf;
use std::time::Duration;

use crate::network::Network;
use crate::{BlockSource, LiveSource, SourceError};

/// A source the flags do not say enough to open (always bad input).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `--source esplora` without `--esplora-url`.
    NoEsploraUrl,
    /// `--source electrum` without `--electrum`.
    NoElectrumUrl,
    /// `--live zmq` without `--zmq`.
    NoZmqEndpoint,
    /// `--live replay` without `--replay`.
    NoReplayFile,
    /// A backend this build was made without.
    NotBuilt {
        /// The backend, as the flag names it.
        backend: String,
    },
    /// `--speed` that is neither a positive multiple nor `max`.
    BadSpeed {
        /// The value given.
        value: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoEsploraUrl => f.write_str(
                "the esplora source needs --esplora-url URL (or FIATLINE_ESPLORA_URL), \
                 e.g. https://mempool.space/api",
            ),
            Self::NoElectrumUrl => f.write_str(
                "the electrum source needs --electrum URL[,URL…] (or FIATLINE_ELECTRUM), \
                 e.g. tcp://127.0.0.1:50001",
            ),
            Self::NoZmqEndpoint => {
                f.write_str("the zmq source needs --zmq ENDPOINT (or FIATLINE_ZMQ)")
            }
            Self::NoReplayFile => {
                f.write_str("the replay source needs --replay FILE (or FIATLINE_REPLAY)")
            }
            Self::NotBuilt { backend } => write!(
                f,
                "this build has no {backend} backend (enable its feature)"
            ),
            Self::BadSpeed { value } => write!(
                f,
                "--speed {value:?}: expected a positive multiple (1 is real time) or \"max\""
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for SourceError {
    fn from(e: ConfigError) -> Self {
        Self::bad_input(e)
    }
}

/// The backends of confirmed blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BlockBackend {
    /// Bitcoin Core's JSON-RPC.
    #[default]
    Rpc,
    /// Core's `blk*.dat` files, read directly.
    Blk,
    /// An Esplora / mempool.space REST server.
    Esplora,
    /// An Electrum server.
    Electrum,
}

/// The backends of live events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LiveBackend {
    /// Core's ZMQ notifications, with its RPC for resyncs and blocks.
    #[default]
    Zmq,
    /// An Esplora server, polled.
    Esplora,
    /// Electrum servers (blocks only).
    Electrum,
    /// A recording.
    Replay,
}

/// How fast a recording is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplaySpeed {
    /// Recorded time divided by this factor (1.0 is real time).
    Times(f64),
    /// No waiting at all.
    Fastest,
}

/// Everything any backend may need; each reads its own part.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    /// The network (`--chain`); `None`: `bitcoin.conf`'s choice, else mainnet.
    pub network: Option<Network>,
    /// Core's data directory; `None`: `~/.bitcoin`.
    pub datadir: Option<PathBuf>,
    /// Core's RPC address; `None`: from `bitcoin.conf`, else the network's default.
    pub rpc_url: Option<String>,
    /// RPC user and password; `None`: `bitcoin.conf`'s, else the cookie.
    pub rpc_user_password: Option<(String, String)>,
    /// The cookie file; `None`: the network's folder's `.cookie`.
    pub rpc_cookie: Option<PathBuf>,
    /// Core's blocks folder; `None`: the network's `blocks/`.
    pub blocks_dir: Option<PathBuf>,
    /// An Esplora server's API base.
    pub esplora_url: Option<String>,
    /// Most Esplora requests a second.
    pub esplora_rate: u32,
    /// Time between Esplora polls (live).
    pub poll: Duration,
    /// Electrum servers, tried in order.
    pub electrum: Vec<String>,
    /// Accept any certificate from `ssl://` Electrum servers.
    pub electrum_accept_invalid_certs: bool,
    /// Core's ZMQ endpoints.
    pub zmq: Vec<String>,
    /// A recording to replay.
    pub replay: Option<PathBuf>,
    /// The replay's speed.
    pub speed: ReplaySpeed,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            network: None,
            datadir: None,
            rpc_url: None,
            rpc_user_password: None,
            rpc_cookie: None,
            blocks_dir: None,
            esplora_url: None,
            esplora_rate: 20,
            poll: Duration::from_secs(10),
            electrum: Vec::new(),
            electrum_accept_invalid_certs: false,
            zmq: vec!["tcp://127.0.0.1:28332".into()],
            replay: None,
            speed: ReplaySpeed::Times(1.0),
        }
    }
}

/// `~/.bitcoin`, Core's default data directory.
pub fn default_datadir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".bitcoin"),
        |h| PathBuf::from(h).join(".bitcoin"),
    )
}

impl SourceConfig {
    #[cfg(any(feature = "rpc", feature = "blk"))]
    fn datadir(&self) -> PathBuf {
        self.datadir.clone().unwrap_or_else(default_datadir)
    }

    /// The node's data directory as `bitcoin-cli` reads it, for the network.
    ///
    /// # Errors
    /// Returns a bad-input error for an unreadable `bitcoin.conf`.
    #[cfg(feature = "rpc")]
    pub fn node(&self) -> Result<crate::node_conf::NodeConf, SourceError> {
        crate::node_conf::NodeConf::read(&self.datadir(), self.network)
    }

    /// The network the sources are on: `--chain`, else `bitcoin.conf`'s
    /// choice (when it can be read), else mainnet.
    pub fn network(&self) -> Network {
        #[cfg(feature = "rpc")]
        if self.network.is_none() {
            if let Ok(node) = self.node() {
                return node.network;
            }
        }
        self.network.unwrap_or_default()
    }

    /// How to reach Core's RPC: the flags first, `bitcoin.conf` for the rest.
    ///
    /// # Errors
    /// As [`SourceConfig::node`].
    #[cfg(feature = "rpc")]
    pub fn rpc(&self) -> Result<crate::rpc::RpcConfig, SourceError> {
        use crate::rpc::Auth;
        let mut rpc = self.node()?.rpc();
        if let Some(url) = &self.rpc_url {
            rpc.url.clone_from(url);
        }
        if let Some((user, password)) = &self.rpc_user_password {
            rpc.auth = Auth::UserPass(user.clone(), password.clone());
        } else if let Some(cookie) = &self.rpc_cookie {
            rpc.auth = Auth::CookieFile(cookie.clone());
        }
        Ok(rpc)
    }

    #[cfg(feature = "esplora")]
    fn esplora_interval(&self) -> Duration {
        Duration::from_secs(1) / self.esplora_rate.max(1)
    }

    #[cfg(feature = "esplora")]
    fn esplora_url(&self) -> Result<&str, SourceError> {
        self.esplora_url
            .as_deref()
            .ok_or_else(|| ConfigError::NoEsploraUrl.into())
    }

    #[cfg(feature = "electrum")]
    fn electrum_urls(&self) -> Result<&[String], SourceError> {
        if self.electrum.is_empty() {
            return Err(ConfigError::NoElectrumUrl.into());
        }
        Ok(&self.electrum)
    }

    #[cfg(feature = "electrum")]
    fn electrum_options(&self) -> crate::electrum::ElectrumOptions {
        crate::electrum::ElectrumOptions {
            verify_tls: !self.electrum_accept_invalid_certs,
            ..crate::electrum::ElectrumOptions::default()
        }
    }

    /// Opens the block source `backend` names.
    ///
    /// # Errors
    /// Returns a bad-input error for missing or wrong settings (a missing
    /// URL, a blocks folder of another network) and the backend's error
    /// when it cannot be reached.
    pub fn open_blocks(&self, backend: BlockBackend) -> Result<Box<dyn BlockSource>, SourceError> {
        match backend {
            #[cfg(feature = "rpc")]
            BlockBackend::Rpc => Ok(Box::new(crate::rpc::RpcSource::new(self.rpc()?))),
            #[cfg(feature = "blk")]
            BlockBackend::Blk => {
                let network = self.network();
                let dir = match &self.blocks_dir {
                    Some(d) => d.clone(),
                    #[cfg(feature = "rpc")]
                    None => self.node()?.blocks_dir(),
                    #[cfg(not(feature = "rpc"))]
                    None => self.datadir().join("blocks"),
                };
                Ok(Box::new(crate::blk::BlkSource::open_network(
                    &dir, network,
                )?))
            }
            #[cfg(feature = "esplora")]
            BlockBackend::Esplora => Ok(Box::new(crate::esplora::EsploraSource::new(
                self.esplora_url()?,
                self.esplora_interval(),
            )?)),
            #[cfg(feature = "electrum")]
            BlockBackend::Electrum => {
                // The first server that answers.
                let mut last = None;
                for url in self.electrum_urls()? {
                    match crate::electrum::ElectrumSource::connect_with(
                        url,
                        &self.electrum_options(),
                    ) {
                        Ok(s) => return Ok(Box::new(s)),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| ConfigError::NoElectrumUrl.into()))
            }
            #[allow(unreachable_patterns)]
            other => Err(ConfigError::NotBuilt {
                backend: format!("{other:?}"),
            }
            .into()),
        }
    }

    /// Opens the live source `backend` names. Its own block access (see
    /// [`LiveSource::block_source`]) fills a window at start.
    ///
    /// # Errors
    /// As [`SourceConfig::open_blocks`].
    pub fn open_live(&self, backend: LiveBackend) -> Result<Box<dyn LiveSource>, SourceError> {
        match backend {
            #[cfg(feature = "zmq")]
            LiveBackend::Zmq => {
                if self.zmq.is_empty() {
                    return Err(ConfigError::NoZmqEndpoint.into());
                }
                let rpc = crate::rpc::RpcSource::new(self.rpc()?);
                Ok(Box::new(crate::zmq::ZmqSource::connect(
                    &self.zmq,
                    Some(rpc),
                )?))
            }
            #[cfg(feature = "esplora")]
            LiveBackend::Esplora => {
                let config = crate::esplora_live::EsploraLiveConfig {
                    poll: self.poll,
                    interval: self.esplora_interval(),
                    ..crate::esplora_live::EsploraLiveConfig::default()
                };
                Ok(Box::new(crate::esplora_live::EsploraLive::new(
                    self.esplora_url()?,
                    config,
                )?))
            }
            #[cfg(feature = "electrum")]
            LiveBackend::Electrum => Ok(Box::new(crate::electrum_live::ElectrumLive::new(
                self.electrum_urls()?.to_vec(),
                self.electrum_options(),
            )?)),
            #[cfg(feature = "replay")]
            LiveBackend::Replay => {
                let path = self.replay.as_ref().ok_or(ConfigError::NoReplayFile)?;
                Ok(Box::new(crate::replay::ReplaySource::open(
                    path, self.speed,
                )?))
            }
            #[allow(unreachable_patterns)]
            other => Err(ConfigError::NotBuilt {
                backend: format!("{other:?}"),
            }
            .into()),
        }
    }
}
