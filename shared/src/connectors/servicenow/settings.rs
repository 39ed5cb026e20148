//! A ServiceNow connection: its form fields, written once, and the typed settings a run reads
//! them into.

use super::client::ServiceNowClient;
use super::sink::ServiceNowSink;
use crate::connectors::form::{self, Field, FieldType::*, VendorSettings};
use crate::domain::StateMapping;
use crate::http::{ClientOptions, Http};
use crate::ports::ConnectorError;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

pub const FIELDS: &[Field] = &[
    Field::new(
        "url",
        "Instance URL",
        Url,
        false,
        true,
        "Your instance, e.g. https://your-instance.service-now.com.",
    ),
    Field::new(
        "username",
        "Username",
        Text,
        false,
        true,
        "A user (All → User Administration → Users) with the itil role and 'Web service access only' ticked.",
    ),
    Field::new(
        "password",
        "Password",
        Text,
        true,
        true,
        "That user's password (Set Password on the user record).",
    ),
    Field::new(
        "assignment_group",
        "Assignment group sys_id",
        Text,
        false,
        false,
        "The group incidents are assigned to: User Administration → Groups → the group → right-click the header → Copy sys_id. Empty: none.",
    ),
    Field::new(
        "caller_id",
        "Caller sys_id",
        Text,
        false,
        false,
        "The user set as caller: User Administration → Users → the user → right-click the header → Copy sys_id. Empty: none.",
    ),
    Field::new(
        "session_states",
        "Session state per resolution code",
        List,
        false,
        false,
        "How state-sync closes the Incydr session of a resolved incident: comma-separated close_code=STATE pairs (the instance's resolution codes), STATE one of CLOSED, CLOSED_TP, CLOSED_TP_BENIGN, CLOSED_FP, e.g. Solution provided=CLOSED_TP. Unmapped: CLOSED.",
    ),
];

/// A connected ServiceNow instance and how incidents are filed in it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub url: Url,
    pub username: String,
    pub password: SecretString,
    pub assignment_group: Option<String>,
    pub caller_id: Option<String>,
    /// `close_code=STATE` entries for state-sync ([`StateMapping::parse`]).
    pub session_states: Vec<String>,
}

impl Settings {
    /// How a resolved incident closes its session (state-sync).
    pub fn session_states(&self) -> Result<StateMapping, ConnectorError> {
        StateMapping::parse(&self.session_states)
            .map_err(|m| ConnectorError::invalid(super::SYSTEM, m))
    }
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<ServiceNowSink>;

    /// The client, as the ticket sink.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<ServiceNowSink>, ConnectorError> {
        self.session_states()?;
        let client = ServiceNowClient::new(
            self.url.clone(),
            self.username.clone(),
            self.password.clone(),
            Http::guarded(opts)?,
        );
        Ok(Arc::new(ServiceNowSink {
            client: Arc::new(client),
            assignment_group: self.assignment_group.clone(),
            caller_id: self.caller_id.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_defaults_deserialise() {
        let s: Settings = form::defaults();
        assert_eq!((s.assignment_group, s.caller_id), (None, None));
    }
}
