//! An Okta connection: its form fields and defaults, written once, and the typed settings a
//! run reads them into.

use super::client::OktaClient;
use super::idp::OktaIdp;
use super::oauth::ServiceApp;
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
        "auth",
        "Authentication",
        Choice,
        false,
        false,
        "ssws: an API token (Okta calls it an API key, deprecated). oauth: an API Services app \
         with public/private key authentication and the scopes okta.users.read and \
         okta.groups.manage (recommended by Okta).",
    )
    .choices(&["ssws", "oauth"])
    .default("ssws"),
    Field::new(
        "api_token",
        "API token",
        Text,
        true,
        false,
        "ssws: an SSWS API token of an admin allowed to manage the group.",
    ),
    Field::new(
        "client_id",
        "Client ID",
        Text,
        false,
        false,
        "oauth: the service app's client ID (0oa…).",
    ),
    Field::new(
        "private_key",
        "Private key",
        Multiline,
        true,
        false,
        "oauth: the app's RSA private key in PEM (-----BEGIN PRIVATE KEY-----).",
    ),
    Field::new(
        "key_id",
        "Key ID",
        Text,
        false,
        false,
        "oauth: the kid of the app's public key in Okta, when it has several.",
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
        "contain_for_days",
        "Undo a group add after (days)",
        Integer,
        false,
        false,
        "Optional, 1 to 365: remove a person riskflow added to the group this many days later. \
         Empty: until the departure is cancelled or someone runs riskflow undo.",
    ),
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

/// How riskflow authenticates to Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthChoice {
    /// `Authorization: SSWS <API token>`.
    Ssws,
    /// An OAuth 2.0 service app (`private_key_jwt`, DPoP when required).
    Oauth,
}

/// A connected Okta org and how containment may use it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub url: Url,
    pub auth: AuthChoice,
    #[serde(default)]
    pub api_token: Option<SecretString>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub private_key: Option<SecretString>,
    #[serde(default)]
    pub key_id: Option<String>,
    pub group_id: String,
    pub cap_per_run: u64,
    pub cap_per_day: u64,
    pub protected_users: Vec<String>,
    pub protected_groups: Vec<String>,
    #[serde(default)]
    pub contain_for_days: Option<u32>,
}

/// The longest `contain_for_days` accepted.
pub const MAX_CONTAIN_FOR_DAYS: u32 = 365;

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<OktaIdp>;

    /// The client, as the identity provider containment acts on.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<OktaIdp>, ConnectorError> {
        let missing = |what: &str| {
            ConnectorError::invalid(
                super::SYSTEM,
                format!(
                    "the {what} is required with {} authentication",
                    match self.auth {
                        AuthChoice::Ssws => "ssws",
                        AuthChoice::Oauth => "oauth",
                    }
                ),
            )
        };
        if let Some(days) = self.contain_for_days
            && !(1..=MAX_CONTAIN_FOR_DAYS).contains(&days)
        {
            return Err(ConnectorError::invalid(
                super::SYSTEM,
                format!("contain_for_days must be from 1 to {MAX_CONTAIN_FOR_DAYS} (got {days})"),
            ));
        }
        let http = Http::guarded(opts)?.with_families(super::limits::endpoint_family);
        let client = match self.auth {
            AuthChoice::Ssws => {
                let token = self.api_token.clone().ok_or_else(|| missing("API token"))?;
                OktaClient::new(self.url.clone(), token, http)
            }
            AuthChoice::Oauth => {
                let id = self
                    .client_id
                    .as_deref()
                    .ok_or_else(|| missing("client ID"))?;
                let key = self
                    .private_key
                    .as_ref()
                    .ok_or_else(|| missing("private key"))?;
                let app = ServiceApp::new(id, key, self.key_id.clone())?;
                OktaClient::with_service_app(self.url.clone(), app, http)
            }
        };
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
        assert_eq!(s.auth, AuthChoice::Ssws);
    }

    #[test]
    fn each_authentication_needs_its_own_credentials() {
        let mut s: Settings = form::defaults();
        let opts = ClientOptions::new(true);
        let err = s.connect(&opts).unwrap_err().to_string();
        assert!(err.contains("API token is required with ssws"), "{err}");
        s.auth = AuthChoice::Oauth;
        s.api_token = Some(SecretString::from("unused"));
        let err = s.connect(&opts).unwrap_err().to_string();
        assert!(err.contains("client ID is required with oauth"), "{err}");
    }

    #[test]
    fn contain_for_days_is_optional_and_bounded() {
        let mut s: Settings = form::defaults();
        assert_eq!(s.contain_for_days, None);
        s.api_token = Some(SecretString::from("t"));
        let opts = ClientOptions::new(true);
        for bad in [0, 366] {
            s.contain_for_days = Some(bad);
            let err = s.connect(&opts).unwrap_err().to_string();
            assert!(
                err.contains("contain_for_days must be from 1 to 365"),
                "{err}"
            );
        }
        s.contain_for_days = Some(30);
        assert!(s.connect(&opts).is_ok());
    }
}
