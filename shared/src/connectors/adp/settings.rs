//! An ADP connection: its form fields and defaults, written once, and the typed settings a run
//! reads them into.

use super::client::{AdpClient, AdpCredentials};
use super::directory::AdpSource;
use crate::connectors::form::{self, Field, FieldType::*, VendorSettings};
use crate::http::ClientOptions;
use crate::ports::ConnectorError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

pub const FIELDS: &[Field] = &[
    Field::new(
        "api_url",
        "API URL",
        Url,
        false,
        false,
        "ADP's API gateway; keep the default unless ADP gave your project another.",
    )
    .default("https://api.adp.com"),
    Field::new(
        "token_url",
        "Token URL",
        Url,
        false,
        false,
        "ADP's token endpoint; keep the default unless ADP gave your project another.",
    )
    .default("https://accounts.adp.com/auth/oauth/v2/token"),
    Field::new(
        "client_id",
        "Client ID",
        Text,
        false,
        true,
        "Your project's client ID: ADP API Central (Workforce Now → API Central → your project → Credentials), or what ADP issued for your Marketplace app.",
    ),
    Field::new(
        "client_secret",
        "Client secret",
        Text,
        true,
        true,
        "Shown beside the client ID in the same project's credentials.",
    ),
    Field::new(
        "certificate_pem",
        "Client certificate (PEM)",
        Multiline,
        true,
        true,
        "The certificate ADP signed from your CSR (the project's certificate page); ADP requires mutual TLS with it.",
    ),
    Field::new(
        "private_key_pem",
        "Client certificate key (PEM)",
        Multiline,
        true,
        true,
        "The private key the CSR was made with.",
    ),
];

/// A connected ADP Marketplace project.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub api_url: Url,
    #[serde(deserialize_with = "form::url")]
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    pub certificate_pem: SecretString,
    pub private_key_pem: SecretString,
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<AdpSource>;

    /// The client (mutual TLS), as the HR queue and directory.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<AdpSource>, ConnectorError> {
        let creds = AdpCredentials {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            cert_pem: self.certificate_pem.expose_secret().to_string(),
            key_pem: self.private_key_pem.clone(),
        };
        let client = AdpClient::new(
            self.api_url.clone(),
            self.token_url.clone(),
            creds,
            opts.clone(),
        )?;
        Ok(Arc::new(AdpSource {
            client: Arc::new(client),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_defaults_deserialise() {
        let s: Settings = form::defaults();
        assert_eq!(s.api_url.as_str(), "https://api.adp.com/");
        assert_eq!(
            s.token_url.as_str(),
            "https://accounts.adp.com/auth/oauth/v2/token"
        );
    }
}
