//! TLS for every client of the crate: rustls with the `ring` provider, the
//! binary's one TLS stack and one crypto provider.
//!
//! Certificates are checked against Mozilla's roots (`webpki-roots`) and the
//! system's store (`rustls-native-certs`, which reads `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` too): a self-hosted server with a self-signed certificate
//! is trusted by adding that certificate, as [`trust_ca_file`] does for the
//! process. Only where a flag says so (Electrum's
//! `--electrum-accept-invalid-certs`) is any certificate accepted.
//!
//! The HTTP clients (`bitreq`, under `jsonrpc`, `esplora-client` and the
//! exchange client) build their own rustls configuration from the same
//! stores with the same provider: [`install_provider`] makes `ring` the
//! process default before any of them runs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::SourceError;

/// What went wrong setting up TLS or reaching a server through it.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The `--tls-ca` file cannot be read.
    ReadCa {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `--tls-ca` file holds no PEM certificate.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The server's certificate is not trusted (persistent: trying again
    /// cannot help).
    Untrusted {
        /// The server, as messages name it ("the node at …").
        server: String,
        /// rustls' refusal, or the error that carries it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The request did not get through (transient).
    Unreachable {
        /// The server, as messages name it.
        server: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The provider offers no protocol version (it always does).
    NoVersion(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReadCa { path, .. } => {
                write!(f, "cannot read the certificate file {}", path.display())
            }
            Self::NoCertificate { path } => write!(
                f,
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ),
            Self::Untrusted { server, .. } => write!(
                f,
                "{server} presented a certificate that is not trusted (for a self-signed \
                 one: --tls-ca FILE with its certificate)"
            ),
            Self::Unreachable { server, .. } => write!(f, "cannot reach {server}"),
            Self::NoVersion(_) => f.write_str("no TLS version to offer"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::ReadCa { source, .. } => Some(source),
            Self::Untrusted { source, .. } | Self::Unreachable { source, .. } => {
                Some(source.as_ref())
            }
            Self::NoVersion(e) => Some(e),
            Self::NoCertificate { .. } => None,
        }
    }
}

impl From<TlsError> for SourceError {
    fn from(e: TlsError) -> Self {
        match e {
            TlsError::Unreachable { .. } => Self::transient(e),
            _ => Self::persistent(e),
        }
    }
}

/// Makes `ring` the process's crypto provider (once; later calls do nothing).
pub fn install_provider() {
    let _ = ring::default_provider().install_default();
}

/// Trusts the PEM certificates in `path` for every TLS connection the
/// process makes from now on (`--tls-ca`): it must be called before the
/// first one, while the process has one thread.
///
/// # Errors
/// Returns a persistent error when the file is missing or holds no
/// certificate.
pub fn trust_ca_file(path: &Path) -> Result<(), SourceError> {
    let text = std::fs::read(path).map_err(|source| TlsError::ReadCa {
        path: path.to_path_buf(),
        source,
    })?;
    if !text
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        }
        .into());
    }
    // rustls-native-certs, under every client, reads this variable.
    std::env::set_var("SSL_CERT_FILE", path);
    Ok(())
}

/// The error of a request that did not get through: persistent, with what
/// to do, when the server's certificate was refused (trying again cannot
/// help); transient otherwise. `server` names it ("the node at …").
pub fn unreachable(
    server: String,
    e: impl std::error::Error + Send + Sync + 'static,
) -> SourceError {
    let source = Box::new(e);
    if refused_certificate(source.as_ref()) {
        TlsError::Untrusted { server, source }.into()
    } else {
        TlsError::Unreachable { server, source }.into()
    }
}

/// Whether `e`, or an error under it, is rustls refusing a certificate.
pub fn refused_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(rustls::Error::InvalidCertificate(_)) = err.downcast_ref::<rustls::Error>() {
            return true;
        }
        // Some clients keep only the message of the error under them.
        if err.to_string().contains("invalid peer certificate") {
            return true;
        }
        next = err.source();
    }
    false
}

/// The roots every client trusts: Mozilla's and the system's.
fn roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    roots
}

/// A client configuration: certificates verified against [`roots`] unless
/// `verify` is false, where any certificate is accepted (its signatures on
/// the handshake are still checked).
///
/// # Errors
/// Returns a persistent error if the provider supports no protocol version
/// (it always does).
pub fn client_config(verify: bool) -> Result<Arc<ClientConfig>, SourceError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::NoVersion)?;
    let config = if verify {
        builder
            .with_root_certificates(roots())
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate, for servers the user said to trust as they are.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
