//! The block source the flags describe.

use std::path::PathBuf;

use fiatline_adapters::blk::BlkSource;
use fiatline_adapters::electrum::ElectrumSource;
use fiatline_adapters::esplora::EsploraSource;
use fiatline_adapters::rpc::{Auth, RpcConfig, RpcSource};
use fiatline_adapters::{BlockSource, SourceError};

use crate::{RpcArgs, SourceArgs, SourceKind};

fn default_datadir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(
        || PathBuf::from(".bitcoin"),
        |h| PathBuf::from(h).join(".bitcoin"),
    )
}

/// Opens the source the flags name.
pub(crate) fn open(args: &SourceArgs) -> Result<Box<dyn BlockSource>, SourceError> {
    let datadir = args.rpc.datadir.clone().unwrap_or_else(default_datadir);
    match args.source {
        SourceKind::Rpc => Ok(Box::new(RpcSource::new(rpc_config(&args.rpc)))),
        SourceKind::Blk => {
            let dir = args
                .blocks_dir
                .clone()
                .unwrap_or_else(|| datadir.join("blocks"));
            Ok(Box::new(BlkSource::open(&dir)?))
        }
        SourceKind::Esplora => {
            let url = args
                .esplora_url
                .as_deref()
                .ok_or_else(|| SourceError::persistent("--source esplora needs --esplora-url"))?;
            Ok(Box::new(EsploraSource::new(
                url,
                EsploraSource::DEFAULT_INTERVAL,
            )?))
        }
        SourceKind::Electrum => {
            let url = args
                .electrum_url
                .as_deref()
                .ok_or_else(|| SourceError::persistent("--source electrum needs --electrum-url"))?;
            Ok(Box::new(ElectrumSource::connect(url)?))
        }
    }
}

/// Flags first; the data directory's configuration for what they leave out.
pub(crate) fn rpc_config(args: &RpcArgs) -> RpcConfig {
    let datadir = &args.datadir.clone().unwrap_or_else(default_datadir);
    let explicit_auth = match (&args.rpc_user, &args.rpc_password, &args.rpc_cookie) {
        (Some(u), Some(p), _) => Some(Auth::UserPass(u.clone(), p.clone())),
        (_, _, Some(cookie)) => Some(Auth::CookieFile(cookie.clone())),
        _ => None,
    };
    let from_conf = if args.datadir.is_some() || explicit_auth.is_none() || args.rpc_url.is_none() {
        RpcConfig::from_datadir(datadir).ok()
    } else {
        None
    };
    let url = args
        .rpc_url
        .clone()
        .or_else(|| from_conf.as_ref().map(|c| c.url.clone()))
        .unwrap_or_else(|| "http://127.0.0.1:8332".into());
    let auth = explicit_auth
        .or_else(|| from_conf.map(|c| c.auth))
        .unwrap_or_else(|| Auth::CookieFile(datadir.join(".cookie")));
    RpcConfig { url, auth }
}
