//! A self-signed certificate for `localhost` and `127.0.0.1`, as a
//! self-hosted node, Electrum or mempool server often has: the servers take
//! its TLS configuration, and tests hand its PEM to the client to trust.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate and the server configuration that presents it.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The servers' TLS configuration (rustls on ring).
    pub config: Arc<rustls::ServerConfig>,
    /// The certificate, PEM.
    pub cert_pem: String,
}

impl SelfSigned {
    /// A fresh certificate for `localhost` and `127.0.0.1`.
    pub fn localhost() -> Self {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("a self-signed certificate");
        let cert = key.cert.der().clone();
        let private = rustls::pki_types::PrivateKeyDer::try_from(key.signing_key.serialize_der())
            .expect("a private key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .expect("a TLS config");
        Self {
            config: Arc::new(config),
            cert_pem: key.cert.pem(),
        }
    }

    /// Writes the certificate as `cert.pem` in `dir`, for `--tls-ca`.
    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let path = dir.join("cert.pem");
        std::fs::write(&path, &self.cert_pem).expect("write the certificate");
        path
    }
}
