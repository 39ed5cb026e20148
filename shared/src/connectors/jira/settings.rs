//! A Jira connection: its form fields and defaults, written once, and the typed settings a run
//! reads them into.

use super::client::JiraClient;
use super::createmeta::{CreateFacts, PriorityMapping};
use super::route::{ApiRoute, GATEWAY, TokenKind};
use super::sink::JiraSink;
use crate::connectors::form::{self, Field, FieldType::*, VendorSettings};
use crate::domain::StateMapping;
use crate::http::{ClientOptions, Http};
use crate::ports::ConnectorError;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::OnceCell;
use url::Url;

pub const FIELDS: &[Field] = &[
    Field::new(
        "url",
        "Site URL",
        Url,
        false,
        true,
        "e.g. https://your-site.atlassian.net",
    ),
    Field::new(
        "email",
        "Account email",
        Text,
        false,
        true,
        "The Atlassian account the API token belongs to.",
    ),
    Field::new(
        "api_token",
        "API token",
        Text,
        true,
        true,
        "Created at id.atlassian.com → Security → API tokens (a classic token, or one with scopes); a service account's token is created in admin.atlassian.com. Atlassian tokens expire after at most a year.",
    ),
    Field::new(
        "token_kind",
        "Token kind",
        Choice,
        false,
        false,
        "auto: verification tries the site and, when the site refuses the token, Atlassian's API gateway (a token with scopes), and remembers which worked. classic: always the site. scoped: always the gateway (service-account tokens are always scoped).",
    )
    .choices(&["auto", "classic", "scoped"])
    .default("auto"),
    Field::new(
        "project_key",
        "Project key",
        Text,
        false,
        true,
        "The project tickets are opened in, e.g. SEC.",
    ),
    Field::new(
        "issue_type",
        "Issue type",
        Text,
        false,
        false,
        "The issue type of new tickets, as the project names it; verification reads its id and checks that the project's create screen needs nothing riskflow does not fill.",
    )
    .default("Task"),
    Field::new(
        "priority_map",
        "Priority by severity",
        List,
        false,
        false,
        "Incydr severity to Jira priority, e.g. critical=P1, high=P2, moderate=P3, low=P4. Empty: critical Highest, high High, moderate Medium, low Low, no risk Lowest where the project has those; a severity not listed sends no priority. Verification checks each name against the project's priorities.",
    ),
    Field::new(
        "gateway_url",
        "API gateway URL",
        Url,
        false,
        false,
        "Atlassian's API gateway, which a token with scopes is used through (as {gateway}/ex/jira/{cloud id}); change it only for a proxy in between.",
    )
    .default(GATEWAY),
    Field::new(
        "search_lag_minutes",
        "Search lag (minutes)",
        Integer,
        false,
        false,
        "How long Jira's search may take to show a new issue (its index is eventually consistent). When a create's answer is lost, riskflow waits this long, searching for the issue, before it creates it again; only that sink's ticket waits. 1 to 1440.",
    )
    .default("10"),
    Field::new(
        "session_states",
        "Session state per resolution",
        List,
        false,
        false,
        "How state-sync closes the Incydr session of a done issue: comma-separated resolution=STATE pairs (the resolution's name, else the status's), STATE one of CLOSED, CLOSED_TP, CLOSED_TP_BENIGN, CLOSED_FP, e.g. Not a bug=CLOSED_FP, Done=CLOSED_TP. Unmapped: CLOSED.",
    ),
];

/// The most a lost create may wait for Jira's search (a day).
const MAX_SEARCH_LAG_MINUTES: u64 = 1440;

/// A connected Jira site and where tickets go in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub url: Url,
    pub email: String,
    pub api_token: SecretString,
    pub project_key: String,
    pub issue_type: String,
    /// `severity=priority` entries ([`PriorityMapping::parse`]).
    pub priority_map: Vec<String>,
    /// A classic token, one with scopes, or found out at verification.
    pub token_kind: TokenKind,
    /// Atlassian's API gateway (a token with scopes is used through it).
    #[serde(deserialize_with = "form::url")]
    pub gateway_url: Url,
    /// How long Jira's search may lag behind a create.
    pub search_lag_minutes: u64,
    /// `resolution=STATE` entries for state-sync ([`StateMapping::parse`]).
    pub session_states: Vec<String>,
    /// What the last verification read from the project (not a form field).
    #[serde(skip)]
    pub facts: Option<CreateFacts>,
    /// Where the last verification found the token works (not a form field).
    #[serde(skip)]
    pub route: Option<ApiRoute>,
}

impl Settings {
    /// How a done issue closes its session (state-sync).
    pub fn session_states(&self) -> Result<StateMapping, ConnectorError> {
        StateMapping::parse(&self.session_states)
            .map_err(|m| ConnectorError::invalid(super::SYSTEM, m))
    }
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<JiraSink>;

    /// The create facts and the API route the last verification stored, when they fit these
    /// settings.
    fn with_facts(mut self, facts: &Map<String, Value>) -> Self {
        self.facts = CreateFacts::from_facts(
            facts,
            &self.project_key,
            &self.issue_type,
            &self.priority_map,
        );
        self.route = ApiRoute::from_facts(facts, &self.url, &self.gateway_url, self.token_kind);
        self
    }

    /// The client, as the ticket sink.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<JiraSink>, ConnectorError> {
        let priorities = PriorityMapping::parse(&self.priority_map)
            .map_err(|m| ConnectorError::invalid(super::SYSTEM, m))?;
        self.session_states()?;
        if !(1..=MAX_SEARCH_LAG_MINUTES).contains(&self.search_lag_minutes) {
            return Err(ConnectorError::invalid(
                super::SYSTEM,
                format!(
                    "search_lag_minutes must be from 1 to {MAX_SEARCH_LAG_MINUTES} (got {})",
                    self.search_lag_minutes
                ),
            ));
        }
        let client = JiraClient::new(
            self.url.clone(),
            self.email.clone(),
            self.api_token.clone(),
            Http::guarded(opts)?,
        )
        .with_token_kind(self.token_kind, self.gateway_url.clone())
        .with_route(self.route.clone());
        Ok(Arc::new(JiraSink {
            client: Arc::new(client),
            site: self.url.clone(),
            project_key: self.project_key.clone(),
            issue_type: self.issue_type.clone(),
            priorities,
            facts: OnceCell::new_with(self.facts.clone()),
            search_horizon_ms: (self.search_lag_minutes * 60_000) as i64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_defaults_deserialise() {
        let s = form::defaults::<Settings>();
        assert_eq!(s.issue_type, "Task");
        assert!(s.priority_map.is_empty());
        assert_eq!(s.token_kind, TokenKind::Auto);
        assert_eq!(s.gateway_url.as_str(), "https://api.atlassian.com/");
        assert_eq!(s.search_lag_minutes, 10);
    }

    #[test]
    fn a_search_lag_outside_one_minute_to_a_day_is_refused_by_name() {
        for bad in [0, 1441] {
            let mut s = form::defaults::<Settings>();
            s.search_lag_minutes = bad;
            let e = s
                .connect(&ClientOptions::new(false))
                .err()
                .expect("refused");
            assert!(e.to_string().contains("search_lag_minutes"), "{e}");
        }
        let mut s = form::defaults::<Settings>();
        s.search_lag_minutes = 1;
        let sink = s.connect(&ClientOptions::new(false)).unwrap();
        assert_eq!(crate::ports::TicketSink::search_horizon_ms(&*sink), 60_000);
    }
}
