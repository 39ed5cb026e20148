//! Jira workflows from the client side (`sync-apis.md` §2.3–2.4): list an issue's available
//! transitions with their screen fields, perform the one that leads to a status category
//! (preferring a configured transition name), read an issue's status back.
//!
//! What Jira does that this code works around:
//! - transition ids and names are per workflow: they are discovered, never configured;
//! - a field not on the transition's screen is a 400 "cannot be set": Resolution is sent only
//!   when the screen lists it and allows the configured value, and a 400 "cannot be set" is
//!   retried once without it (`expand=transitions.fields` under-reports);
//! - a required screen field riskflow does not fill is a 400 "Field X is required.": that
//!   becomes [`TransitionError::RequiredFields`] naming them (fill them in settings);
//! - a comment sent inside a transition whose screen has no Comment field is silently dropped:
//!   the comment is always its own call (`POST /issue/{key}/comment`) after the transition.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Instant;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::adf::Doc;
use super::client::JiraClient;
use super::model::{CommentRef, IdName};
use crate::connectors::ConnectorError;
use crate::http::{self, HttpError};

/// A status with its category key (`new`, `indeterminate`, `done`; status names and ids are
/// per site, category keys are stable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JiraStatus {
    pub id: String,
    pub name: String,
    /// `statusCategory.key`.
    pub category: String,
}

/// A field on a transition's screen (`expand=transitions.fields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenField {
    pub name: String,
    pub required: bool,
    /// Allowed values (`{"id","name"}`), e.g. the resolutions.
    pub allowed_values: Vec<IdName>,
}

/// An available transition of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: JiraStatus,
    pub has_screen: bool,
    /// Screen fields by field id (`resolution`, `customfield_…`); Jira may leave some out.
    pub fields: BTreeMap<String, ScreenField>,
}

/// Which transition to perform and what to send with it.
#[derive(Debug, Clone, Default)]
pub struct TransitionRequest {
    /// Target status category key: `done` to close, `new` or `indeterminate` to reopen.
    pub category: String,
    /// Preferred transition name or target status name (case-insensitive), e.g. `Reopen`;
    /// when none matches, the first transition to the category is taken.
    pub name: Option<String>,
    /// Resolution name to set (e.g. `Done`); sent only when the screen lists Resolution and
    /// allows this value.
    pub resolution: Option<String>,
    /// Send `"resolution": null` when the screen lists an optional Resolution (a reopen
    /// without a "clear resolution" post-function keeps the old one otherwise).
    pub clear_resolution: bool,
    /// Further screen fields from settings (`customfield_10070` → value), sent as given.
    pub fields: Map<String, Value>,
    /// A comment, posted as its own call after the transition (never inside it).
    pub comment: Option<Doc>,
}

/// What a performed transition did.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionOutcome {
    pub transition: Transition,
    /// The resolution sent with the transition, if any.
    pub resolution: Option<String>,
    /// Jira refused the resolution as "cannot be set" and the transition was made without it.
    pub resolution_refused: bool,
    /// The comment posted after the transition.
    pub comment: Option<CommentRef>,
}

/// An issue's workflow state (`GET /issue/{key}?fields=status,resolution,...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueState {
    pub key: String,
    pub status: JiraStatus,
    /// Resolution name; `None` when unresolved.
    pub resolution: Option<String>,
    /// Jira time of the last change (`updated`).
    pub updated: String,
    /// When the status category last changed.
    pub status_category_changed: Option<String>,
}

impl IssueState {
    /// Jira's closed signal: the status category is `done` (a done issue may have no
    /// resolution).
    pub fn is_done(&self) -> bool {
        self.status.category == "done"
    }
}

/// Why a transition was not made.
#[derive(Debug)]
pub enum TransitionError {
    /// No available transition leads to the category.
    NoTransition {
        key: String,
        category: String,
        /// The available transitions, `name → status (category)`.
        available: Vec<String>,
    },
    /// The transition's screen requires fields riskflow does not fill (or a Resolution whose
    /// configured value the screen does not allow).
    RequiredFields {
        key: String,
        transition: String,
        fields: Vec<String>,
    },
    /// Jira refused or failed otherwise.
    Connector(ConnectorError),
}

impl TransitionError {
    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, TransitionError::Connector(e) if e.is_transient())
    }
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::NoTransition {
                key,
                category,
                available,
            } => write!(
                f,
                "jira: no available transition of {key} leads to a status in category '{category}' (available: {})",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            ),
            TransitionError::RequiredFields {
                key,
                transition,
                fields,
            } => write!(
                f,
                "jira: the transition '{transition}' of {key} requires {} which riskflow does not fill; set them in the connection's transition fields",
                fields.join(", ")
            ),
            TransitionError::Connector(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TransitionError {}

impl From<ConnectorError> for TransitionError {
    fn from(e: ConnectorError) -> Self {
        TransitionError::Connector(e)
    }
}

#[derive(Deserialize)]
struct StatusWire {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default, rename = "statusCategory")]
    category: Option<CategoryWire>,
}

#[derive(Deserialize)]
struct CategoryWire {
    #[serde(default)]
    key: String,
}

impl From<StatusWire> for JiraStatus {
    fn from(s: StatusWire) -> Self {
        JiraStatus {
            id: s.id,
            name: s.name,
            category: s.category.map(|c| c.key).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct FieldWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    required: bool,
    #[serde(default, rename = "allowedValues")]
    allowed_values: Vec<Value>,
}

#[derive(Deserialize)]
struct TransitionWire {
    id: String,
    #[serde(default)]
    name: String,
    to: StatusWire,
    #[serde(default, rename = "hasScreen")]
    has_screen: bool,
    #[serde(default, rename = "isAvailable")]
    is_available: Option<bool>,
    #[serde(default)]
    fields: BTreeMap<String, FieldWire>,
}

#[derive(Deserialize)]
struct TransitionsPage {
    #[serde(default)]
    transitions: Vec<TransitionWire>,
}

fn id_name(v: &Value) -> Option<IdName> {
    let id = v.get("id").and_then(|x| {
        x.as_str()
            .map(str::to_string)
            .or_else(|| x.as_i64().map(|n| n.to_string()))
    })?;
    let name = v
        .get("name")
        .or_else(|| v.get("value"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some(IdName { id, name })
}

/// The available transition that leads to `category`: the one whose transition name or
/// target status name is `name` (case-insensitive) if any, else the first.
pub fn choose_transition<'a>(
    list: &'a [Transition],
    category: &str,
    name: Option<&str>,
) -> Option<&'a Transition> {
    let to_category: Vec<&Transition> = list.iter().filter(|t| t.to.category == category).collect();
    name.and_then(|n| {
        to_category
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(n) || t.to.name.eq_ignore_ascii_case(n))
            .copied()
    })
    .or_else(|| to_category.first().copied())
}

/// The field names in Jira's "Field X is required." messages.
fn required_fields(message: &str) -> Vec<String> {
    message
        .split(';')
        .filter_map(|part| {
            let part = part.trim();
            let rest = part.strip_prefix("Field ").or_else(|| {
                // `errors.<field>: X is required.`
                part.split_once(": ").map(|(_, m)| m)
            })?;
            rest.strip_suffix(" is required.").map(str::to_string)
        })
        .collect()
}

fn status_message(e: &ConnectorError) -> Option<(u16, String)> {
    match e {
        ConnectorError::Http(HttpError::Status {
            status, message, ..
        }) => Some((*status, message.clone().unwrap_or_default())),
        _ => None,
    }
}

impl JiraClient {
    /// `GET /rest/api/3/issue/{key}/transitions?expand=transitions.fields`: the transitions
    /// available to the caller from the issue's status (empty when the caller may not
    /// transition it).
    pub async fn transitions(
        &self,
        issue_key: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<Transition>, ConnectorError> {
        let path = format!(
            "/rest/api/3/issue/{}/transitions?expand=transitions.fields",
            http::path_segment(issue_key)
        );
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let page: TransitionsPage = http::read_json(&call, resp).await?;
        Ok(page
            .transitions
            .into_iter()
            .filter(|t| t.is_available != Some(false))
            .map(|t| Transition {
                id: t.id,
                name: t.name,
                to: t.to.into(),
                has_screen: t.has_screen,
                fields: t
                    .fields
                    .into_iter()
                    .map(|(k, f)| {
                        (
                            k,
                            ScreenField {
                                name: f.name,
                                required: f.required,
                                allowed_values: f
                                    .allowed_values
                                    .iter()
                                    .filter_map(id_name)
                                    .collect(),
                            },
                        )
                    })
                    .collect(),
            })
            .collect())
    }

    /// `GET /rest/api/3/issue/{key}?fields=status,resolution,updated,statuscategorychangedate`.
    pub async fn issue_state(
        &self,
        issue_key: &str,
        deadline: Option<Instant>,
    ) -> Result<IssueState, ConnectorError> {
        #[derive(Deserialize)]
        struct Wire {
            key: String,
            fields: Fields,
        }
        #[derive(Deserialize)]
        struct Fields {
            status: StatusWire,
            #[serde(default)]
            resolution: Option<Value>,
            #[serde(default)]
            updated: Option<String>,
            #[serde(default)]
            statuscategorychangedate: Option<String>,
        }
        let path = format!(
            "/rest/api/3/issue/{}?fields=status,resolution,updated,statuscategorychangedate",
            http::path_segment(issue_key)
        );
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let w: Wire = http::read_json(&call, resp).await?;
        Ok(IssueState {
            key: w.key,
            status: w.fields.status.into(),
            resolution: w
                .fields
                .resolution
                .as_ref()
                .and_then(|r| r.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            updated: w.fields.updated.unwrap_or_default(),
            status_category_changed: w.fields.statuscategorychangedate,
        })
    }

    async fn post_transition(
        &self,
        issue_key: &str,
        body: &Value,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let path = format!(
            "/rest/api/3/issue/{}/transitions",
            http::path_segment(issue_key)
        );
        let bytes = Self::encode(body)?;
        let (call, resp) = self
            .send(Method::POST, &path, Some(bytes), false, deadline)
            .await?;
        http::read_body(&call, resp).await?;
        Ok(())
    }

    /// Move an issue to a status of `req.category` through one of its available transitions
    /// (see the module docs for what is sent and retried), then post `req.comment` as its own
    /// call. Not repeated after it may have reached Jira: a caller that lost the answer reads
    /// the issue back ([`JiraClient::issue_state`]).
    pub async fn transition_to(
        &self,
        issue_key: &str,
        req: &TransitionRequest,
        deadline: Option<Instant>,
    ) -> Result<TransitionOutcome, TransitionError> {
        let list = self.transitions(issue_key, deadline).await?;
        let Some(t) = choose_transition(&list, &req.category, req.name.as_deref()).cloned() else {
            return Err(TransitionError::NoTransition {
                key: issue_key.to_string(),
                category: req.category.clone(),
                available: list
                    .iter()
                    .map(|t| format!("{} → {} ({})", t.name, t.to.name, t.to.category))
                    .collect(),
            });
        };
        let mut fields = req.fields.clone();
        let mut resolution = None;
        if let Some(screen) = t.fields.get("resolution") {
            let allowed = req.resolution.as_ref().and_then(|want| {
                screen
                    .allowed_values
                    .iter()
                    .find(|v| v.name.eq_ignore_ascii_case(want))
            });
            match allowed {
                Some(v) => {
                    fields.insert("resolution".into(), json!({"name": v.name}));
                    resolution = Some(v.name.clone());
                }
                None if screen.required => {
                    let allowed: Vec<&str> = screen
                        .allowed_values
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect();
                    return Err(TransitionError::RequiredFields {
                        key: issue_key.to_string(),
                        transition: t.name.clone(),
                        fields: vec![format!("{} (one of: {})", screen.name, allowed.join(", "))],
                    });
                }
                None if req.clear_resolution => {
                    fields.insert("resolution".into(), Value::Null);
                }
                None => {}
            }
        }
        let body = |fields: &Map<String, Value>| {
            let mut b = json!({"transition": {"id": t.id}});
            if !fields.is_empty() {
                b["fields"] = Value::Object(fields.clone());
            }
            b
        };
        let mut resolution_refused = false;
        let first = self
            .post_transition(issue_key, &body(&fields), deadline)
            .await;
        if let Err(e) = first {
            let (status, message) = status_message(&e).unwrap_or_default();
            let refused = status == 400
                && message.contains("resolution:")
                && message.contains("cannot be set");
            if refused {
                fields.remove("resolution");
                resolution = None;
                resolution_refused = true;
                if let Err(e) = self
                    .post_transition(issue_key, &body(&fields), deadline)
                    .await
                {
                    return Err(self.refusal(issue_key, &t, e));
                }
            } else {
                return Err(self.refusal(issue_key, &t, e));
            }
        }
        let comment = match &req.comment {
            Some(doc) => Some(self.add_comment(issue_key, doc, deadline).await?),
            None => None,
        };
        Ok(TransitionOutcome {
            transition: t,
            resolution,
            resolution_refused,
            comment,
        })
    }

    /// A 400 naming required fields becomes [`TransitionError::RequiredFields`].
    fn refusal(&self, issue_key: &str, t: &Transition, e: ConnectorError) -> TransitionError {
        if let Some((400, message)) = status_message(&e) {
            let fields = required_fields(&message);
            if !fields.is_empty() {
                return TransitionError::RequiredFields {
                    key: issue_key.to_string(),
                    transition: t.name.clone(),
                    fields,
                };
            }
        }
        TransitionError::Connector(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, name: &str, to: &str, cat: &str) -> Transition {
        Transition {
            id: id.into(),
            name: name.into(),
            to: JiraStatus {
                id: id.into(),
                name: to.into(),
                category: cat.into(),
            },
            has_screen: false,
            fields: BTreeMap::new(),
        }
    }

    #[test]
    fn a_transition_is_chosen_by_category_then_by_name() {
        let list = vec![
            t("11", "Investigate", "Investigating", "indeterminate"),
            t("21", "Resolve", "Resolved", "done"),
            t("31", "Close", "Closed", "done"),
        ];
        assert_eq!(choose_transition(&list, "done", None).unwrap().id, "21");
        assert_eq!(
            choose_transition(&list, "done", Some("close")).unwrap().id,
            "31"
        );
        assert_eq!(
            choose_transition(&list, "done", Some("Closed")).unwrap().id,
            "31"
        );
        assert_eq!(
            choose_transition(&list, "done", Some("Nope")).unwrap().id,
            "21"
        );
        assert!(choose_transition(&list, "new", None).is_none());
    }

    #[test]
    fn required_field_names_are_read_from_jiras_messages() {
        assert_eq!(
            required_fields("Field Resolution is required.; Field Comment is required."),
            vec!["Resolution", "Comment"]
        );
        assert_eq!(
            required_fields("customfield_10070: Root cause is required."),
            vec!["Root cause"]
        );
        assert!(required_fields("Transition id '41' is not valid for this issue.").is_empty());
    }
}
