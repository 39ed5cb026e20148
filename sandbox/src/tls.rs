//! Certificates for the ADP mutual-TLS listener, generated at start with `rcgen`: a demo CA,
//! a server certificate for `127.0.0.1`/`localhost` and a client certificate (CN `adp-demo`),
//! all signed by the CA. The rustls server config trusts only that CA for client certificates
//! and requires one.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::Serialize;

/// PEM material of the ADP mTLS listener.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TlsMaterial {
    /// The demo CA (trust it as the server's root; it also signed the client certificate).
    pub ca_cert_pem: String,
    /// The server certificate (SANs `127.0.0.1`, `localhost`).
    pub server_cert_pem: String,
    /// The server key.
    pub server_key_pem: String,
    /// The demo client certificate.
    pub client_cert_pem: String,
    /// The demo client key (PKCS#8).
    pub client_key_pem: String,
    #[serde(skip)]
    server_cert_der: Vec<u8>,
    #[serde(skip)]
    server_key_der: Vec<u8>,
    #[serde(skip)]
    ca_cert_der: Vec<u8>,
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl TlsMaterial {
    /// Generate a fresh CA, server and client certificate.
    pub fn generate() -> std::io::Result<TlsMaterial> {
        let ca_key = KeyPair::generate().map_err(io_err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io_err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "riskflow sandbox demo CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(io_err)?;

        let server_key = KeyPair::generate().map_err(io_err)?;
        let mut sp = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(io_err)?;
        sp.distinguished_name
            .push(DnType::CommonName, "riskflow sandbox ADP");
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = sp
            .signed_by(&server_key, &ca_cert, &ca_key)
            .map_err(io_err)?;

        let client_key = KeyPair::generate().map_err(io_err)?;
        let mut cp = CertificateParams::new(Vec::<String>::new()).map_err(io_err)?;
        cp.distinguished_name.push(DnType::CommonName, "adp-demo");
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = cp
            .signed_by(&client_key, &ca_cert, &ca_key)
            .map_err(io_err)?;

        Ok(TlsMaterial {
            ca_cert_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            server_cert_der: server_cert.der().to_vec(),
            server_key_der: server_key.serialize_der(),
            ca_cert_der: ca_cert.der().to_vec(),
        })
    }

    /// Client certificate followed by its key, the form `reqwest::Identity::from_pem` takes.
    pub fn client_identity_pem(&self) -> String {
        format!("{}{}", self.client_cert_pem, self.client_key_pem)
    }

    /// Write `ca.pem`, `server.pem`, `server-key.pem`, `client.pem`, `client-key.pem` and
    /// `client-identity.pem` into `dir` (created if missing).
    pub fn write_to_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, body) in [
            ("ca.pem", self.ca_cert_pem.clone()),
            ("server.pem", self.server_cert_pem.clone()),
            ("server-key.pem", self.server_key_pem.clone()),
            ("client.pem", self.client_cert_pem.clone()),
            ("client-key.pem", self.client_key_pem.clone()),
            ("client-identity.pem", self.client_identity_pem()),
        ] {
            std::fs::write(dir.join(name), body)?;
        }
        Ok(())
    }

    /// A rustls server config that requires a client certificate signed by the demo CA.
    pub(crate) fn server_config(&self) -> std::io::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_cert_der.clone()))
            .map_err(io_err)?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(io_err)?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io_err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(self.server_cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone())),
            )
            .map_err(io_err)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}
