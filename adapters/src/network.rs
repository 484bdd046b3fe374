//! The networks Bitcoin Core runs, with what fiatline needs of each: the
//! magic at the head of every `blk*.dat` record, the data directory's
//! subfolder (where the cookie and the blocks are), the default RPC port,
//! and the height from which coinbases carry their height (BIP 34).

use std::fmt;
use std::str::FromStr;

/// A Bitcoin network, named as Core's `-chain=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Network {
    /// Mainnet (`main`).
    #[default]
    Main,
    /// Testnet3 (`test`).
    Test,
    /// Testnet4 (`testnet4`).
    Testnet4,
    /// The default signet (`signet`).
    Signet,
    /// Regression test (`regtest`).
    Regtest,
}

impl Network {
    /// Every network.
    pub const ALL: [Self; 5] = [
        Self::Main,
        Self::Test,
        Self::Testnet4,
        Self::Signet,
        Self::Regtest,
    ];

    /// Core's name: `main`, `test`, `testnet4`, `signet`, `regtest` (also
    /// the `[section]` of `bitcoin.conf` for its settings).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Test => "test",
            Self::Testnet4 => "testnet4",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
        }
    }

    /// The 4 bytes that start every record of the network's block files.
    pub const fn magic(self) -> [u8; 4] {
        match self {
            Self::Main => [0xf9, 0xbe, 0xb4, 0xd9],
            Self::Test => [0x0b, 0x11, 0x09, 0x07],
            Self::Testnet4 => [0x1c, 0x16, 0x3f, 0x28],
            Self::Signet => [0x0a, 0x03, 0xcf, 0x40],
            Self::Regtest => [0xfa, 0xbf, 0xb5, 0xda],
        }
    }

    /// The network whose block files start with `magic`.
    pub fn of_magic(magic: [u8; 4]) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.magic() == magic)
    }

    /// The data directory's subfolder for the network (`None`: the data
    /// directory itself, for mainnet).
    pub const fn subfolder(self) -> Option<&'static str> {
        match self {
            Self::Main => None,
            Self::Test => Some("testnet3"),
            Self::Testnet4 => Some("testnet4"),
            Self::Signet => Some("signet"),
            Self::Regtest => Some("regtest"),
        }
    }

    /// Core's default RPC port on the network.
    pub const fn rpc_port(self) -> u16 {
        match self {
            Self::Main => 8332,
            Self::Test => 18332,
            Self::Testnet4 => 48332,
            Self::Signet => 38332,
            Self::Regtest => 18443,
        }
    }

    /// The first height whose coinbase states its height (BIP 34); below
    /// it, what a coinbase seems to say is not a height.
    pub const fn bip34_height(self) -> u32 {
        match self {
            Self::Main => 227_931,
            Self::Test => 21_111,
            Self::Testnet4 | Self::Signet | Self::Regtest => 1,
        }
    }

    /// Whether this is mainnet, where the price has a meaning (the other
    /// networks' coins are worth nothing, and their amounts are made up).
    pub const fn is_mainnet(self) -> bool {
        matches!(self, Self::Main)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownNetwork(pub String);

impl fmt::Display for UnknownNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a network: expected main, test, testnet4, signet or regtest",
            self.0
        )
    }
}

impl std::error::Error for UnknownNetwork {}

impl FromStr for Network {
    type Err = UnknownNetwork;

    /// Core's names (`main`, `test`, `testnet4`, `signet`, `regtest`), and
    /// `mainnet`, `bitcoin`, `testnet`, `testnet3` as aliases.
    fn from_str(s: &str) -> Result<Self, UnknownNetwork> {
        match s.trim().to_ascii_lowercase().as_str() {
            "main" | "mainnet" | "bitcoin" => Ok(Self::Main),
            "test" | "testnet" | "testnet3" => Ok(Self::Test),
            "testnet4" => Ok(Self::Testnet4),
            "signet" => Ok(Self::Signet),
            "regtest" => Ok(Self::Regtest),
            _ => Err(UnknownNetwork(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_magics_differ() {
        for n in Network::ALL {
            assert_eq!(n.name().parse::<Network>(), Ok(n));
            assert_eq!(Network::of_magic(n.magic()), Some(n));
        }
        assert_eq!("testnet".parse::<Network>(), Ok(Network::Test));
        assert!("moon".parse::<Network>().is_err());
    }
}
