//! A BambooHR connection: its form fields, written once, and the typed settings a run reads
//! them into.

use super::client::BambooClient;
use super::directory::BambooDirectory;
use crate::connectors::form::{self, Field, FieldType::*, VendorSettings};
use crate::http::{ClientOptions, Http};
use crate::ports::ConnectorError;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

pub const FIELDS: &[Field] = &[
    Field::new(
        "url",
        "API URL",
        Url,
        false,
        true,
        "https://api.bamboohr.com/api/gateway.php/<company>, where <company> is your BambooHR subdomain (<company>.bamboohr.com).",
    ),
    Field::new(
        "api_key",
        "API key",
        Text,
        true,
        true,
        "Your avatar (top right) → API Keys → Add New Key, as a user who can see employees' employment status; used to read the employee a webhook names.",
    ),
    Field::new(
        "webhook_key",
        "Webhook private key",
        Text,
        true,
        true,
        "Settings → Webhooks → your webhook: the private key shown once when it was created; it signs each delivery.",
    ),
    Field::new(
        "previous_webhook_key",
        "Previous webhook key",
        Text,
        true,
        false,
        "The old key, also accepted while you rotate it.",
    ),
];

/// The secret fields that sign a delivery: the current key, then the previous one.
pub const SIGNING_KEYS: &[&str] = &["webhook_key", "previous_webhook_key"];

/// A connected BambooHR company.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub url: Url,
    pub api_key: SecretString,
    pub webhook_key: SecretString,
    pub previous_webhook_key: Option<SecretString>,
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<BambooDirectory>;

    /// The client, as the HR directory a webhook's employee is read from.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<BambooDirectory>, ConnectorError> {
        let client =
            BambooClient::new(self.url.clone(), self.api_key.clone(), Http::guarded(opts)?);
        Ok(Arc::new(BambooDirectory {
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
        assert!(s.previous_webhook_key.is_none());
        assert!(
            SIGNING_KEYS
                .iter()
                .all(|k| FIELDS.iter().any(|f| f.name == *k && f.secret))
        );
    }
}
