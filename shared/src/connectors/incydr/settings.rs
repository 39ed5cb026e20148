//! An Incydr connection: its form fields and defaults, written once, and the typed settings a
//! run reads them into.

use super::alerts::IncydrAdapter;
use super::client::IncydrClient;
use crate::connectors::form::{self, Field, FieldType::*, VendorSettings};
use crate::http::{ClientOptions, Http};
use crate::ports::ConnectorError;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

/// The API gateways the SDK documents (developer.code42.com/sdk). The console's API-client
/// screen lists more regions, so the form suggests these and accepts any https host.
pub const API_HOSTS: &[&str] = &[
    "https://api.us.code42.com",
    "https://api.us2.code42.com",
    "https://api.ie.code42.com",
    "https://api.gov.code42.com",
];

pub const FIELDS: &[Field] = &[
    Field::new(
        "url",
        "API URL",
        Url,
        false,
        true,
        "Your tenant's API gateway, as the console shows it under Administration → Integrations → API clients (console.us… → https://api.us…). Any https host is accepted; the form suggests the four the SDK documents (api.us, api.us2, api.ie, api.gov).",
    )
    .suggestions(API_HOSTS),
    Field::new(
        "client_id",
        "API client ID (service account username)",
        Text,
        false,
        true,
        "Administration → Integrations → API clients → Create new API client: its ID (give it the alert and watchlist permissions the flows use).",
    ),
    Field::new(
        "client_secret",
        "API client secret (service account password)",
        Text,
        true,
        true,
        "The API client's secret, shown once when the client was created.",
    ),
    Field::new(
        "console_url",
        "Console URL",
        Url,
        false,
        false,
        "For links to sessions in tickets. Empty: the API URL with api. → console. (https://api.us.code42.com → https://console.us.code42.com).",
    ),
    Field::new(
        "sink",
        "Open tickets in",
        Choice,
        false,
        false,
        "Where alert-tickets opens a ticket for each alert.",
    )
    .choices(&["jira", "servicenow", "both"])
    .default("jira"),
    Field::new(
        "min_severity",
        "Minimum severity",
        Integer,
        false,
        false,
        "0 no risk, 1 low, 2 moderate, 3 high, 4 critical.",
    )
    .default("1"),
    Field::new(
        "states",
        "States to forward",
        List,
        false,
        false,
        "Comma-separated session states (e.g. OPEN,OPEN_NEW_DATA); empty forwards all.",
    ),
    Field::new(
        "rule_ids",
        "Rule IDs to forward",
        List,
        false,
        false,
        "Comma-separated alert rule IDs; empty forwards all.",
    ),
    Field::new(
        "lookback_days",
        "Lookback (days)",
        Integer,
        false,
        false,
        "How far back each run scans sessions.",
    )
    .default("7"),
    Field::new(
        "write_back_note",
        "Write ticket link back as a note",
        Boolean,
        false,
        false,
        "Add a note with the ticket link to the Incydr session.",
    )
    .default("false"),
    Field::new(
        "cleanup_after_days",
        "Remove departed people after (days)",
        Integer,
        false,
        false,
        "Take people riskflow added off the Departing watchlist this many days after they left; empty keeps them. Days without a successful run are caught up later (see HR departures: clean-up).",
    ),
    Field::new(
        "concurrency",
        "Sessions handled at once",
        Integer,
        false,
        false,
        "How many sessions a run acts on in parallel.",
    )
    .default("8"),
];

/// Where alert-tickets opens tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketSystems {
    Jira,
    Servicenow,
    Both,
}

impl TicketSystems {
    pub fn jira(self) -> bool {
        matches!(self, TicketSystems::Jira | TicketSystems::Both)
    }
    pub fn servicenow(self) -> bool {
        matches!(self, TicketSystems::Servicenow | TicketSystems::Both)
    }
}

/// A connected Incydr tenant and what the flows do with it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub url: Url,
    pub client_id: String,
    pub client_secret: SecretString,
    #[serde(default, deserialize_with = "form::optional_url")]
    pub console_url: Option<Url>,
    pub sink: TicketSystems,
    pub min_severity: u64,
    pub states: Vec<String>,
    pub rule_ids: Vec<String>,
    pub lookback_days: u64,
    pub write_back_note: bool,
    pub cleanup_after_days: Option<u32>,
    pub concurrency: u64,
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<IncydrAdapter>;

    /// The client and the roles it plays (alert source, watchlists).
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<IncydrAdapter>, ConnectorError> {
        let client = IncydrClient::new(
            self.url.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
            Http::guarded(opts)?,
        );
        Ok(Arc::new(IncydrAdapter {
            client: Arc::new(client),
            console_url: self
                .console_url
                .clone()
                .or_else(|| super::alerts::console_of(&self.url)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_defaults_deserialise() {
        let s: Settings = form::defaults();
        assert_eq!(s.sink, TicketSystems::Jira);
        assert_eq!((s.min_severity, s.lookback_days, s.concurrency), (1, 7, 8));
        assert!(!s.write_back_note && s.states.is_empty() && s.rule_ids.is_empty());
        assert_eq!((s.console_url, s.cleanup_after_days), (None, None));
    }
}
