//! The incident life cycle from the client side (`sync-apis.md` §3): read the instance's
//! resolution codes from `sys_choice`, resolve (state `6` with `close_code` and `close_notes`
//! in one PATCH, the returned state checked), reopen (Resolved → In Progress `2`), and tell a
//! Closed incident (`7`, or Canceled `8`), which cannot be reopened, from one that can.
//!
//! What the instance does that this code works around:
//! - resolution codes differ per instance, and a choice field stores any value without
//!   complaint: a code is checked against the instance's list before it is sent;
//! - Resolved and Closed need `close_code` and `close_notes` (a 403 "Data Policy Exception"
//!   otherwise): all three go in the same request;
//! - business rules may rewrite or abort an update: the state the PATCH answers is compared
//!   with the state sent;
//! - a Closed incident is read-only for the integration user (a 403) and cannot be reopened:
//!   [`SnowWorkflowError::Closed`] says so, so the caller opens a new, linked incident.

use std::fmt;
use std::time::Instant;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::client::{SYSTEM, ServiceNowClient, TABLE, clean_text};
use super::model::{Envelope, snow_value};
use crate::connectors::ConnectorError;
use crate::http;

/// `state` New.
pub const STATE_NEW: &str = "1";
/// `state` In Progress (what a reopen sets).
pub const STATE_IN_PROGRESS: &str = "2";
/// `state` On Hold.
pub const STATE_ON_HOLD: &str = "3";
/// `state` Resolved.
pub const STATE_RESOLVED: &str = "6";
/// `state` Closed (read-only for non-admins; cannot be reopened).
pub const STATE_CLOSED: &str = "7";
/// `state` Canceled.
pub const STATE_CANCELED: &str = "8";

/// One resolution code of the instance (`sys_choice` of `incident.close_code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseCode {
    /// What is stored and sent, e.g. `Solution provided`.
    pub value: String,
    /// What people see.
    pub label: String,
}

/// An incident's life-cycle fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentState {
    #[serde(default, deserialize_with = "snow_value")]
    pub sys_id: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub number: Option<String>,
    /// `"1"`, `"2"`, `"3"`, `"6"`, `"7"`, `"8"`.
    #[serde(default, deserialize_with = "snow_value")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub close_code: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub close_notes: Option<String>,
    /// UTC `YYYY-MM-DD hh:mm:ss`.
    #[serde(default, deserialize_with = "snow_value")]
    pub sys_updated_on: Option<String>,
    /// User name of the last writer (echo suppression: riskflow's integration user).
    #[serde(default, deserialize_with = "snow_value")]
    pub sys_updated_by: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub sys_mod_count: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub reopen_count: Option<String>,
    /// riskflow's dedup key of the incident (read by state-sync).
    #[serde(default, deserialize_with = "snow_value")]
    pub correlation_id: Option<String>,
}

impl IncidentState {
    fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("")
    }

    /// Resolved (`6`) or Closed (`7`): the analyst is done with it.
    pub fn is_resolved(&self) -> bool {
        matches!(self.state(), STATE_RESOLVED | STATE_CLOSED)
    }

    /// Closed (`7`) or Canceled (`8`): inactive, cannot be reopened.
    pub fn is_closed(&self) -> bool {
        matches!(self.state(), STATE_CLOSED | STATE_CANCELED)
    }
}

/// Why a life-cycle change was not made.
#[derive(Debug)]
pub enum SnowWorkflowError {
    /// The incident is Closed or Canceled: it cannot be reopened or changed (open a new,
    /// linked incident instead).
    Closed { number: String, state: String },
    /// The code is not one of the instance's resolution codes.
    UnknownCloseCode { code: String, valid: Vec<String> },
    /// The instance answered another state than the one sent (a business rule rewrote it).
    NotApplied {
        number: String,
        sent: String,
        got: String,
    },
    /// The instance refused or failed otherwise.
    Connector(ConnectorError),
}

impl SnowWorkflowError {
    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, SnowWorkflowError::Connector(e) if e.is_transient())
    }
}

impl fmt::Display for SnowWorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnowWorkflowError::Closed { number, state } => write!(
                f,
                "servicenow: incident {number} is {} and cannot be reopened or changed",
                if state == STATE_CANCELED {
                    "Canceled"
                } else {
                    "Closed"
                }
            ),
            SnowWorkflowError::UnknownCloseCode { code, valid } => write!(
                f,
                "servicenow: '{code}' is not a resolution code of this instance (valid: {})",
                valid.join(", ")
            ),
            SnowWorkflowError::NotApplied { number, sent, got } => write!(
                f,
                "servicenow: incident {number} was set to state {sent} but the instance answered state {got}"
            ),
            SnowWorkflowError::Connector(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SnowWorkflowError {}

impl From<ConnectorError> for SnowWorkflowError {
    fn from(e: ConnectorError) -> Self {
        SnowWorkflowError::Connector(e)
    }
}

/// What a resolve sends.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// One of the instance's [`CloseCode`] values.
    pub close_code: String,
    /// Resolution notes (not empty).
    pub close_notes: String,
    /// A work note sent in the same PATCH (optional).
    pub work_note: Option<String>,
}

const STATE_FIELDS: &str = "sys_id,number,state,close_code,close_notes,sys_updated_on,sys_updated_by,sys_mod_count,reopen_count";

#[derive(Deserialize)]
struct ChoiceRecord {
    #[serde(default, deserialize_with = "snow_value")]
    name: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    element: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    value: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    label: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    language: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    inactive: Option<String>,
}

/// Check a code against the instance's list (exact value, as stored).
pub fn check_close_code(code: &str, codes: &[CloseCode]) -> Result<(), SnowWorkflowError> {
    if codes.iter().any(|c| c.value == code) {
        return Ok(());
    }
    Err(SnowWorkflowError::UnknownCloseCode {
        code: code.to_string(),
        valid: codes.iter().map(|c| c.value.clone()).collect(),
    })
}

impl ServiceNowClient {
    /// The instance's active resolution codes (English labels):
    /// `GET …/sys_choice?sysparm_query=name=incident^element=close_code^inactive=false`, each
    /// row checked for what was asked (the instance ignores query parts it does not know).
    pub async fn close_codes(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Vec<CloseCode>, ConnectorError> {
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair(
                "sysparm_query",
                "name=incident^element=close_code^inactive=false^ORDERBYsequence",
            );
            q.append_pair(
                "sysparm_fields",
                "name,element,value,label,sequence,language,inactive",
            );
            q.append_pair("sysparm_limit", "500");
            q.finish()
        };
        let path = format!("{TABLE}/sys_choice?{query}");
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let env: Envelope<Vec<ChoiceRecord>> = http::read_json(&call, resp).await?;
        let mut codes: Vec<CloseCode> = Vec::new();
        for r in env.result {
            let wanted = r.name.as_deref() == Some("incident")
                && r.element.as_deref() == Some("close_code")
                && r.inactive.as_deref() != Some("true")
                && r.language.as_deref().is_none_or(|l| l == "en");
            let Some(value) = r.value.filter(|v| !v.is_empty() && wanted) else {
                continue;
            };
            if !codes.iter().any(|c| c.value == value) {
                codes.push(CloseCode {
                    label: r.label.unwrap_or_else(|| value.clone()),
                    value,
                });
            }
        }
        if codes.is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the instance lists no active resolution codes (sys_choice incident.close_code); check that the integration user may read sys_choice",
            ));
        }
        Ok(codes)
    }

    /// `GET …/incident/{sys_id}` with the life-cycle fields.
    pub async fn incident_state(
        &self,
        sys_id: &str,
        deadline: Option<Instant>,
    ) -> Result<IncidentState, ConnectorError> {
        let path = format!(
            "{TABLE}/incident/{}?sysparm_fields={STATE_FIELDS}&sysparm_exclude_reference_link=true",
            http::path_segment(sys_id)
        );
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let env: Envelope<IncidentState> = http::read_json(&call, resp).await?;
        Ok(env.result)
    }

    async fn patch_state(
        &self,
        sys_id: &str,
        body: &Map<String, Value>,
        deadline: Option<Instant>,
    ) -> Result<IncidentState, ConnectorError> {
        let path = format!(
            "{TABLE}/incident/{}?sysparm_fields={STATE_FIELDS}&sysparm_exclude_reference_link=true",
            http::path_segment(sys_id)
        );
        let bytes = Self::encode(body)?;
        let (call, resp) = self
            .send(Method::PATCH, &path, Some(bytes), false, deadline)
            .await?;
        let env: Envelope<IncidentState> = http::read_json(&call, resp).await?;
        Ok(env.result)
    }

    /// Send a state change; a 403 on an incident that turns out Closed is
    /// [`SnowWorkflowError::Closed`]; the answered state must be the one sent.
    async fn change_state(
        &self,
        sys_id: &str,
        body: Map<String, Value>,
        deadline: Option<Instant>,
    ) -> Result<IncidentState, SnowWorkflowError> {
        let sent = body
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let after = match self.patch_state(sys_id, &body, deadline).await {
            Ok(a) => a,
            Err(e) if e.status() == Some(403) => {
                // Closed in the meantime (e.g. by the auto-close job)?
                let now = self.incident_state(sys_id, deadline).await?;
                if now.is_closed() {
                    return Err(closed(&now));
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        if after.state() != sent {
            return Err(SnowWorkflowError::NotApplied {
                number: after.number.clone().unwrap_or_default(),
                sent,
                got: after.state().to_string(),
            });
        }
        Ok(after)
    }

    /// Resolve: one `PATCH …/incident/{sys_id}` with `state` 6, `close_code`, `close_notes`
    /// (and the work note). The code is checked against `codes` (from
    /// [`Self::close_codes`]) before anything is sent. An incident already Resolved or Closed
    /// is left as it is (the analyst's resolution stands) and answered as read; a Canceled
    /// one is [`SnowWorkflowError::Closed`]. Never repeated after it may have arrived.
    pub async fn resolve_incident(
        &self,
        sys_id: &str,
        r: &Resolution,
        codes: &[CloseCode],
        deadline: Option<Instant>,
    ) -> Result<IncidentState, SnowWorkflowError> {
        check_close_code(&r.close_code, codes)?;
        let notes = clean_text(&r.close_notes);
        if notes.trim().is_empty() {
            return Err(ConnectorError::invalid(SYSTEM, "the resolution notes are empty").into());
        }
        let now = self.incident_state(sys_id, deadline).await?;
        if now.is_resolved() {
            return Ok(now);
        }
        if now.is_closed() {
            return Err(closed(&now));
        }
        let mut body = Map::new();
        body.insert("state".into(), json!(STATE_RESOLVED));
        body.insert("close_code".into(), json!(r.close_code));
        body.insert("close_notes".into(), json!(notes));
        if let Some(n) = r
            .work_note
            .as_deref()
            .map(clean_text)
            .filter(|n| !n.trim().is_empty())
        {
            body.insert("work_notes".into(), json!(n));
        }
        self.change_state(sys_id, body, deadline).await
    }

    /// Reopen a Resolved incident: `PATCH` `state` 2 (and the work note). An incident that
    /// is already open is answered as read; a Closed or Canceled one is
    /// [`SnowWorkflowError::Closed`] (open a new, linked incident instead).
    pub async fn reopen_incident(
        &self,
        sys_id: &str,
        work_note: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<IncidentState, SnowWorkflowError> {
        let now = self.incident_state(sys_id, deadline).await?;
        if now.is_closed() {
            return Err(closed(&now));
        }
        if !now.is_resolved() {
            return Ok(now);
        }
        let mut body = Map::new();
        body.insert("state".into(), json!(STATE_IN_PROGRESS));
        if let Some(n) = work_note.map(clean_text).filter(|n| !n.trim().is_empty()) {
            body.insert("work_notes".into(), json!(n));
        }
        self.change_state(sys_id, body, deadline).await
    }
}

fn closed(s: &IncidentState) -> SnowWorkflowError {
    SnowWorkflowError::Closed {
        number: s.number.clone().unwrap_or_default(),
        state: s.state().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_must_be_one_of_the_instances_exactly() {
        let codes = vec![CloseCode {
            value: "Solution provided".into(),
            label: "Solution provided".into(),
        }];
        assert!(check_close_code("Solution provided", &codes).is_ok());
        let e = check_close_code("Solved (Permanently)", &codes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "servicenow: 'Solved (Permanently)' is not a resolution code of this instance (valid: Solution provided)"
        );
        assert!(check_close_code("solution provided", &codes).is_err());
    }
}
