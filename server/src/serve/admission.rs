//! Who may open a WebSocket: a page from an allowed origin (by default the
//! server's own host, so a page on another site cannot open sockets from a
//! visitor's browser), within the total cap and the cap per address.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};

use super::per_address::AddressSlot;
use super::state::Shared;

/// Which pages may open sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origins {
    /// Pages served by this host (the `Origin`'s host equals `Host`).
    SameHost,
    /// These origins (`https://node.lan:8080`), besides the same host.
    Listed(Vec<String>),
    /// Any page (`--allowed-origin '*'`).
    Any,
}

impl Origins {
    /// From `--allowed-origin` values: none means the same host only.
    pub(crate) fn from_flags(values: &[String]) -> Self {
        if values.iter().any(|v| v == "*") {
            Self::Any
        } else if values.is_empty() {
            Self::SameHost
        } else {
            Self::Listed(
                values
                    .iter()
                    .map(|v| v.trim_end_matches('/').to_ascii_lowercase())
                    .collect(),
            )
        }
    }

    /// Whether a request with these headers may connect. Clients that are
    /// not browsers send no `Origin`, and may.
    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
        else {
            return true;
        };
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        let origin_host = origin.split_once("://").map(|(_, rest)| rest);
        let same_host = origin_host.is_some() && origin_host == host.as_deref();
        match self {
            Self::Any => true,
            Self::SameHost => same_host,
            Self::Listed(list) => same_host || list.contains(&origin),
        }
    }
}

/// Why a socket was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Origin,
    TooMany,
    TooManyFromAddress,
}

impl Refusal {
    pub(crate) fn status(self) -> (StatusCode, &'static str) {
        match self {
            Self::Origin => (
                StatusCode::FORBIDDEN,
                "origin not allowed (see --allowed-origin)",
            ),
            Self::TooMany => (StatusCode::SERVICE_UNAVAILABLE, "too many clients"),
            Self::TooManyFromAddress => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many sockets from this address (see --max-clients-per-ip)",
            ),
        }
    }
}

/// A client's place, given back when it drops.
#[derive(Debug)]
pub(crate) struct Slot {
    shared: Arc<Shared>,
    _address: AddressSlot,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.counters.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Admits a socket from `ip` with `headers`, or says why not.
pub(crate) fn admit(
    shared: &Arc<Shared>,
    ip: IpAddr,
    headers: &HeaderMap,
) -> Result<Slot, Refusal> {
    if !shared.origins.allows(headers) {
        return Err(Refusal::Origin);
    }
    let address = shared
        .per_address
        .take(ip, shared.max_per_address)
        .ok_or(Refusal::TooManyFromAddress)?;
    let clients = &shared.counters.clients;
    if clients.fetch_add(1, Ordering::AcqRel) >= shared.max_clients {
        clients.fetch_sub(1, Ordering::AcqRel);
        return Err(Refusal::TooMany);
    }
    Ok(Slot {
        shared: shared.clone(),
        _address: address,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        let same = Origins::from_flags(&[]);
        assert!(same.allows(&headers(None, "node.lan:8080")));
        assert!(same.allows(&headers(Some("http://node.lan:8080"), "node.lan:8080")));
        assert!(same.allows(&headers(Some("HTTP://Node.lan:8080/"), "node.lan:8080")));
        assert!(!same.allows(&headers(Some("https://evil.example"), "node.lan:8080")));
        assert!(!same.allows(&headers(Some("null"), "node.lan:8080")));
        let listed = Origins::from_flags(&["https://dash.lan".into()]);
        assert!(listed.allows(&headers(Some("https://dash.lan"), "node.lan:8080")));
        assert!(!listed.allows(&headers(Some("https://evil.example"), "node.lan:8080")));
        let any = Origins::from_flags(&["*".into()]);
        assert!(any.allows(&headers(Some("https://evil.example"), "node.lan:8080")));
    }
}
