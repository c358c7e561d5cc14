//! The TLS client configuration (RFC 3261 §26.3.1 and RFC 5922 for what a SIP client checks):
//! which CAs are trusted, whether a client certificate is offered, and the `insecure` escape
//! hatch for lab servers with self-signed certificates. Built once, shared by every connection.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::TransportError;

/// A TLS client configuration for `tls:` and `wss://` destinations.
#[derive(Debug, Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Trust the system store plus `ca_file` (PEM, may hold several certificates); with
    /// `insecure`, accept any server certificate (signatures in the handshake are still
    /// checked). `cert` and `key` (PEM) go together and present a client certificate.
    ///
    /// Errors are [`TransportError::TlsConfig`]: unreadable or empty files, a lone cert or key.
    pub fn new(
        ca_file: Option<&Path>,
        insecure: bool,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<ClientTls, TransportError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::TlsConfig(format!("TLS setup failed: {e}")))?;
        let builder = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        } else {
            builder.with_root_certificates(roots(ca_file)?)
        };
        let config = match (cert, key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert, "client certificate")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    TransportError::TlsConfig(format!(
                        "cannot read a private key from {}: {e}",
                        key.display()
                    ))
                })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    TransportError::TlsConfig(format!("client certificate and key do not fit: {e}"))
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => {
                return Err(TransportError::TlsConfig(
                    "a client certificate needs its private key too".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(TransportError::TlsConfig(
                    "a private key needs its client certificate too".into(),
                ));
            }
        };
        Ok(ClientTls {
            config: Arc::new(config),
        })
    }

    /// The TLS connector for one connection.
    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }
}

/// The name checked in the server certificate and sent as SNI (none for an IP address).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned())
        .map_err(|e| format!("`{host}` cannot be checked against a certificate: {e}"))
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, TransportError> {
    let mut roots = RootCertStore::empty();
    // A broken system store is not fatal: a CA file or --insecure may still make TLS work,
    // and an untrusted server then fails with a clear "unknown issuer".
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs = read_certs(path, "CA certificate")?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                TransportError::TlsConfig(format!(
                    "unusable CA certificate in {}: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(roots)
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
        TransportError::TlsConfig(format!("cannot read {what} file {}: {e}", path.display()))
    })?;
    let certs = iter.collect::<Result<Vec<_>, _>>().map_err(|e| {
        TransportError::TlsConfig(format!("bad PEM in {what} file {}: {e}", path.display()))
    })?;
    if certs.is_empty() {
        return Err(TransportError::TlsConfig(format!(
            "no certificate (-----BEGIN CERTIFICATE-----) in {what} file {}",
            path.display()
        )));
    }
    Ok(certs)
}

/// `--insecure`: any certificate is accepted, but the handshake signatures are still verified
/// so the session keys belong to whoever holds the presented certificate.
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
