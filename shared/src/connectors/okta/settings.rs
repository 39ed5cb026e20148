//! An Okta connection: its form fields and defaults, written once, and the typed settings a
//! run reads them into.

use super::client::OktaClient;
use super::idp::OktaIdp;
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
        "Org URL",
        Url,
        false,
        true,
        "e.g. https://your-org.okta.com",
    ),
    Field::new(
        "api_token",
        "API token",
        Text,
        true,
        true,
        "An SSWS API token of an admin allowed to manage the group.",
    ),
    Field::new(
        "group_id",
        "Low-permission group ID",
        Text,
        false,
        true,
        "The OKTA_GROUP (00g…) departing employees are added to when an alert fires.",
    ),
    Field::new(
        "cap_per_run",
        "Most group adds per run",
        Integer,
        false,
        false,
        "Past it the flow stops adding and raises an alarm.",
    )
    .default("10"),
    Field::new(
        "cap_per_day",
        "Most group adds per day",
        Integer,
        false,
        false,
        "Past it the flow stops adding and raises an alarm.",
    )
    .default("25"),
    Field::new(
        "protected_users",
        "Protected users",
        List,
        false,
        false,
        "Comma-separated logins never added to any group.",
    ),
    Field::new(
        "protected_groups",
        "Protected groups",
        List,
        false,
        false,
        "Comma-separated group IDs never changed.",
    ),
];

/// A connected Okta org and how containment may use it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub url: Url,
    pub api_token: SecretString,
    pub group_id: String,
    pub cap_per_run: u64,
    pub cap_per_day: u64,
    pub protected_users: Vec<String>,
    pub protected_groups: Vec<String>,
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<OktaIdp>;

    /// The client, as the identity provider containment acts on.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<OktaIdp>, ConnectorError> {
        let client = OktaClient::new(
            self.url.clone(),
            self.api_token.clone(),
            Http::new(crate::http::build_client(opts)?)
                .with_families(super::limits::endpoint_family),
        );
        Ok(Arc::new(OktaIdp {
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
        assert_eq!((s.cap_per_run, s.cap_per_day), (10, 25));
        assert!(s.protected_users.is_empty() && s.protected_groups.is_empty());
    }
}
