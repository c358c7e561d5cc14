//! A server certificate for the listener tests, made at test time with rcgen: a CA, and a
//! certificate for 127.0.0.1, ::1 and `sip.test` signed by it, written as PEM files (the form
//! `sipkit listen --tls-cert/--tls-key` reads).

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// PEM files in a temporary directory, removed when dropped.
pub struct ServerPki {
    _dir: tempfile::TempDir,
    /// The CA certificate, for the client's trust.
    pub ca_file: PathBuf,
    /// The server certificate.
    pub cert_file: PathBuf,
    /// The server's private key.
    pub key_file: PathBuf,
}

impl ServerPki {
    /// Fresh keys and certificates.
    pub fn new() -> ServerPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let names = ["127.0.0.1", "::1", "sip.test"].map(str::to_owned).to_vec();
        let cert = CertificateParams::new(names)
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("server certificate");
        let dir = tempfile::tempdir().expect("temporary directory");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("writing a PEM file");
            path
        };
        ServerPki {
            ca_file: write("ca.pem", ca.pem()),
            cert_file: write("server.pem", cert.pem()),
            key_file: write("server.key", key.serialize_pem()),
            _dir: dir,
        }
    }
}
