//! A Bitcoin Core data directory read as `bitcoin-cli` reads it: which
//! network (`chain=`, `regtest=1`, `testnet=1`, `testnet4=1`, `signet=1`, or
//! the caller's `--chain`), that network's settings from `bitcoin.conf`
//! (its `[section]` and `network.key=` lines over the top level; `rpcport`
//! at the top level is mainnet's only, as in Core), and where its cookie
//! and blocks are (`<datadir>/<subfolder>/`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::network::{Network, UnknownNetwork};
use crate::rpc::{Auth, RpcConfig};
use crate::SourceError;

/// What went wrong reading `bitcoin.conf` (always bad input).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfError {
    /// The file exists but cannot be read.
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `chain=` names no network.
    Chain {
        /// The file (or the data directory).
        path: PathBuf,
        /// The value.
        source: UnknownNetwork,
    },
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read { path, .. } => write!(f, "cannot read {}", path.display()),
            Self::Chain { path, .. } => write!(f, "{}: chain=", path.display()),
        }
    }
}

impl std::error::Error for ConfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Chain { source, .. } => Some(source),
        }
    }
}

impl From<ConfError> for SourceError {
    fn from(e: ConfError) -> Self {
        Self::bad_input(e)
    }
}

/// Options that, outside a section, apply to mainnet only (Core's rule).
const MAINNET_ONLY_AT_TOP: [&str; 7] = [
    "rpcport", "rpcbind", "port", "bind", "connect", "addnode", "wallet",
];

/// A node's data directory and the settings that apply to its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConf {
    /// The data directory (`~/.bitcoin`).
    pub datadir: PathBuf,
    /// The network: the caller's choice, else `bitcoin.conf`'s, else mainnet.
    pub network: Network,
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    settings: HashMap<String, String>,
}

impl NodeConf {
    /// Reads `<datadir>/bitcoin.conf` (or `bitcoin_rw.conf`, as the
    /// reference does); a directory without one has Core's defaults.
    /// `chain`, when given, overrides the file's choice of network.
    ///
    /// # Errors
    /// Returns a persistent error when the file exists but cannot be read,
    /// or names an unknown network.
    pub fn read(datadir: &Path, chain: Option<Network>) -> Result<Self, SourceError> {
        let file = ["bitcoin.conf", "bitcoin_rw.conf"]
            .iter()
            .map(|name| datadir.join(name))
            .find(|p| p.is_file());
        let text = match &file {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfError::Read {
                path: path.clone(),
                source,
            })?,
            None => String::new(),
        };
        let lines = parse(&text);
        let network = match chain {
            Some(n) => n,
            None => chosen_network(&lines).map_err(|source| ConfError::Chain {
                path: file.clone().unwrap_or_else(|| datadir.to_path_buf()),
                source,
            })?,
        };
        let mut settings = HashMap::new();
        // The top level first, then the network's own lines over it.
        for (section, key, value) in &lines {
            let applies = network.is_mainnet() || !MAINNET_ONLY_AT_TOP.contains(&key.as_str());
            if section.is_none() && applies {
                settings.insert(key.clone(), value.clone());
            }
        }
        for (section, key, value) in &lines {
            if section.as_deref().and_then(section_network) == Some(network) {
                settings.insert(key.clone(), value.clone());
            }
        }
        Ok(Self {
            datadir: datadir.to_path_buf(),
            network,
            file,
            settings,
        })
    }

    /// A setting as it applies to the network.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }

    /// The network's own folder: the data directory for mainnet, else its
    /// subfolder (`regtest/`, `testnet3/`, `testnet4/`, `signet/`).
    pub fn network_dir(&self) -> PathBuf {
        match self.network.subfolder() {
            Some(sub) => self.datadir.join(sub),
            None => self.datadir.clone(),
        }
    }

    /// Where the network's `blk*.dat` files are (`blocksdir=` honoured).
    pub fn blocks_dir(&self) -> PathBuf {
        let base = self
            .get("blocksdir")
            .map_or_else(|| self.datadir.clone(), PathBuf::from);
        match self.network.subfolder() {
            Some(sub) => base.join(sub).join("blocks"),
            None => base.join("blocks"),
        }
    }

    /// The cookie file: `rpccookiefile=` (relative to the network's
    /// folder), else `.cookie` there.
    pub fn cookie_file(&self) -> PathBuf {
        match self.get("rpccookiefile") {
            Some(f) => self.network_dir().join(f),
            None => self.network_dir().join(".cookie"),
        }
    }

    /// How to reach the node's RPC: `rpcconnect` and `rpcport` (the
    /// network's default port), `rpcuser`/`rpcpassword` else the cookie.
    pub fn rpc(&self) -> RpcConfig {
        let host = self.get("rpcconnect").unwrap_or("127.0.0.1");
        let port = self
            .get("rpcport")
            .map_or_else(|| self.network.rpc_port().to_string(), str::to_owned);
        let auth = match (self.get("rpcuser"), self.get("rpcpassword")) {
            (Some(user), Some(password)) => Auth::UserPass(user.to_owned(), password.to_owned()),
            _ => Auth::CookieFile(self.cookie_file()),
        };
        RpcConfig {
            url: format!("http://{host}:{port}"),
            auth,
            network: self.network,
        }
    }
}

/// `(section, key, value)` for every setting line, in order. `a.b=c` is
/// `b=c` in section `a`, as Core reads it; comments run from `#`.
fn parse(text: &str) -> Vec<(Option<String>, String, String)> {
    let mut section = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_owned());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim().trim_matches('"').to_owned());
        match key.split_once('.') {
            Some((s, k)) => out.push((Some(s.to_owned()), k.to_owned(), value)),
            None => out.push((section.clone(), key.to_owned(), value)),
        }
    }
    out
}

/// The network a section name stands for (`main`, `test`, …).
fn section_network(name: &str) -> Option<Network> {
    name.parse().ok()
}

/// The network the file chooses: `chain=`, or `regtest=1` and the like at
/// the top level; mainnet when it says nothing.
fn chosen_network(
    lines: &[(Option<String>, String, String)],
) -> Result<Network, crate::network::UnknownNetwork> {
    let mut chosen = Network::Main;
    for (section, key, value) in lines {
        if section.is_some() {
            continue;
        }
        let on = value == "1" || value.is_empty();
        match key.as_str() {
            "chain" => {
                chosen = value.parse()?;
            }
            "regtest" if on => chosen = Network::Regtest,
            "testnet" if on => chosen = Network::Test,
            "testnet4" if on => chosen = Network::Testnet4,
            "signet" if on => chosen = Network::Signet,
            _ => {}
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str, chain: Option<Network>) -> NodeConf {
        let dir = std::env::temp_dir().join(format!(
            "fiatline-node-conf-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bitcoin.conf"), text).unwrap();
        let c = NodeConf::read(&dir, chain).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        c
    }

    #[test]
    fn an_unknown_chain_is_bad_input_naming_the_file_and_the_value() {
        let dir = fiatline_testkit::TempDirPath::new("node-conf-chain");
        std::fs::write(dir.join("bitcoin.conf"), "chain=moon\n").unwrap();
        let e = NodeConf::read(&dir, None).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("bitcoin.conf: chain=") && text.contains("\"moon\""),
            "{text}"
        );
        let source = std::error::Error::source(&e).unwrap();
        assert!(source.is::<crate::network::UnknownNetwork>());
    }

    #[test]
    fn sections_and_the_chain_choice_follow_core() {
        let text = "regtest=1\nrpcuser=alice # a comment\nrpcport=1111\n\
                    [regtest]\nrpcport=2222\n[main]\nrpcuser=bob\n";
        let c = conf(text, None);
        assert_eq!(c.network, Network::Regtest);
        assert_eq!(c.get("rpcuser"), Some("alice"));
        // Top-level rpcport is mainnet's; regtest's section gives its own.
        assert_eq!(c.get("rpcport"), Some("2222"));
        assert_eq!(c.network_dir(), c.datadir.join("regtest"));
        assert_eq!(c.cookie_file(), c.datadir.join("regtest/.cookie"));
        assert_eq!(c.blocks_dir(), c.datadir.join("regtest/blocks"));
        // The caller's chain wins; mainnet takes the top-level port and [main].
        let m = conf(text, Some(Network::Main));
        assert_eq!(
            (m.get("rpcport"), m.get("rpcuser")),
            (Some("1111"), Some("bob"))
        );
        assert_eq!(m.rpc().url, "http://127.0.0.1:1111");
        // Signet without a port anywhere: its default.
        let s = conf("chain=signet\nsignet.rpcuser=carol\nrpcpassword=pw\n", None);
        assert_eq!(s.network, Network::Signet);
        assert_eq!(s.rpc().url, "http://127.0.0.1:38332");
        assert_eq!(s.rpc().auth, Auth::UserPass("carol".into(), "pw".into()));
        // A top-level rpcport does not apply to testnet4.
        let t = conf("testnet4=1\nrpcport=9999\n", None);
        assert_eq!(t.rpc().url, "http://127.0.0.1:48332");
    }

    #[test]
    fn no_file_means_defaults_and_a_bad_chain_is_refused() {
        let dir =
            std::env::temp_dir().join(format!("fiatline-node-conf-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = NodeConf::read(&dir, Some(Network::Test)).unwrap();
        assert_eq!(c.rpc().url, "http://127.0.0.1:18332");
        assert_eq!(c.rpc().auth, Auth::CookieFile(dir.join("testnet3/.cookie")));
        std::fs::write(dir.join("bitcoin.conf"), "chain=moon\n").unwrap();
        assert!(NodeConf::read(&dir, None).unwrap_err().is_bad_input());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
