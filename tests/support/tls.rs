//! Test certificates made at test time with rcgen: a CA, a server certificate for `sip.test`
//! and 127.0.0.1 signed by it, and a client certificate, written as PEM files for the code
//! under test and turned into rustls configurations for the loopback peers.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The name in the server certificate.
pub const SERVER_NAME: &str = "sip.test";

/// A CA with a server and a client certificate, as PEM files in a temporary directory.
pub struct TestPki {
    _dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca_file: PathBuf,
    /// The client certificate and key (PEM), signed by the CA.
    pub client_cert: PathBuf,
    /// The client key.
    pub client_key: PathBuf,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_pem: String,
}

impl TestPki {
    /// Make fresh keys and certificates.
    pub fn new() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

        let server_key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &ca)
            .expect("server certificate");

        let client_key = KeyPair::generate().expect("client key");
        let client = CertificateParams::new(vec!["client.test".to_owned()])
            .expect("client params")
            .signed_by(&client_key, &ca)
            .expect("client certificate");

        let dir = tempfile::tempdir().expect("temporary directory");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).expect("writing the CA file");
        let client_cert = dir.path().join("client.pem");
        std::fs::write(&client_cert, client.pem()).expect("writing the client certificate");
        let client_key_file = dir.path().join("client.key");
        std::fs::write(&client_key_file, client_key.serialize_pem()).expect("writing the key");
        TestPki {
            ca_der: ca.der().clone(),
            server_chain: vec![server.der().clone()],
            server_key_pem: server_key.serialize_pem(),
            _dir: dir,
            ca_file,
            client_cert,
            client_key: client_key_file,
        }
    }

    /// A TLS acceptor for the loopback server; with `client_auth`, it requires a client
    /// certificate signed by the CA.
    pub fn acceptor(&self, client_auth: bool) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).expect("CA as a root");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).expect("key");
        let config = builder
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server certificate and key");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}
