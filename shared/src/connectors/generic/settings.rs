//! A signed-webhook connection: its form fields, written once, and the typed settings.

use crate::connectors::form::{Field, FieldType::*, VendorSettings};
use secrecy::SecretString;
use serde::Deserialize;

pub const FIELDS: &[Field] = &[
    Field::new(
        "signing_secret",
        "Signing secret",
        Text,
        true,
        true,
        "The Standard Webhooks secret (whsec_…) your HR system or integration platform signs deliveries with (its webhook or HTTP-request settings).",
    ),
    Field::new(
        "previous_signing_secret",
        "Previous signing secret",
        Text,
        true,
        false,
        "The old secret, also accepted while you rotate it.",
    ),
];

/// The secret fields that sign a delivery: the current secret, then the previous one.
pub const SIGNING_KEYS: &[&str] = &["signing_secret", "previous_signing_secret"];

/// A connected signed webhook.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub signing_secret: SecretString,
    pub previous_signing_secret: Option<SecretString>,
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    /// Nothing to call: a signed webhook is only received.
    type Built = ();

    fn connect(
        &self,
        _opts: &crate::http::ClientOptions,
    ) -> Result<(), crate::ports::ConnectorError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::form;

    #[test]
    fn the_form_defaults_deserialise() {
        let s: Settings = form::defaults();
        assert!(s.previous_signing_secret.is_none());
        assert!(
            SIGNING_KEYS
                .iter()
                .all(|k| FIELDS.iter().any(|f| f.name == *k && f.secret))
        );
    }
}
