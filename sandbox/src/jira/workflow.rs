//! Workflows: each project's statuses (with their status category) and transitions (with
//! their screens), `GET|POST /issue/{idOrKey}/transitions`, and the analyst's transition the
//! sandbox control performs.
//!
//! What Jira refuses, as `sync-apis.md` §2.3 records it: a transition id that is unknown or
//! not available from the issue's status (400 "Transition id 'N' is not valid for this
//! issue."), a field not on the transition's screen (400 `errors.<field>` "Field 'x' cannot be
//! set. It is not on the appropriate screen, or unknown."), a required screen field missing
//! (400 "Field Resolution is required." / "Field Comment is required."), a resolution that is
//! not one of the screen's allowed values, and a plain-string comment on v3. A comment sent in
//! `update.comment` on a transition whose screen has no Comment field is silently dropped
//! (204), as Jira does. Listing the transitions does not show the Comment field (Jira's
//! `expand=transitions.fields` under-reports it), so a screen that requires a comment is
//! learned from the 400.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::adf::validate_adf;
use super::auth::Auth;
use super::errors::{ADF_MESSAGE, error_messages, field_errors, issue_not_found};
use super::state::{JiraComment, JiraHistory, JiraIdName, JiraIssue, JiraState};
use super::{ACCOUNT_ID, JiraHost, base_url, is_v2};
use crate::util::{self, Query, Scheme};

/// A status of a workflow.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraStatus {
    /// Site-wide status id, e.g. `10001`.
    pub id: String,
    /// Name, e.g. `Done`.
    pub name: String,
    /// Status category key: `new`, `indeterminate` or `done`.
    pub category: String,
}

/// A field on a transition's screen.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraScreenField {
    /// Field id: `resolution` or `comment`.
    pub id: String,
    /// Whether the transition is refused without it.
    #[serde(default)]
    pub required: bool,
}

/// A transition of a workflow.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraTransition {
    /// Transition id, e.g. `31`.
    pub id: String,
    /// Name, e.g. `Done`.
    pub name: String,
    /// Status ids it is available from; empty: every status (a global transition).
    #[serde(default)]
    pub from: Vec<String>,
    /// Target status id.
    pub to: String,
    /// The fields of its screen; empty: no screen.
    #[serde(default)]
    pub screen: Vec<JiraScreenField>,
    /// A "clear resolution" post-function (without one, a reopen keeps the resolution unless
    /// the screen has Resolution and the request sends `"resolution": null`).
    #[serde(default)]
    pub clears_resolution: bool,
}

/// A project's workflow.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraWorkflow {
    /// Statuses; the first is where a new issue starts.
    pub statuses: Vec<JiraStatus>,
    /// Transitions.
    pub transitions: Vec<JiraTransition>,
}

/// The site's resolutions (Jira's defaults plus "Not a bug"), the allowed values of every
/// Resolution field on a screen.
pub const RESOLUTIONS: [(&str, &str); 5] = [
    ("10000", "Done"),
    ("10001", "Won't Do"),
    ("10002", "Duplicate"),
    ("10003", "Cannot Reproduce"),
    ("10004", "Not a bug"),
];

fn status(id: &str, name: &str, category: &str) -> JiraStatus {
    JiraStatus {
        id: id.into(),
        name: name.into(),
        category: category.into(),
    }
}

fn field(id: &str, required: bool) -> JiraScreenField {
    JiraScreenField {
        id: id.into(),
        required,
    }
}

fn transition(
    id: &str,
    name: &str,
    from: &[&str],
    to: &str,
    screen: Vec<JiraScreenField>,
    clears_resolution: bool,
) -> JiraTransition {
    JiraTransition {
        id: id.into(),
        name: name.into(),
        from: from.iter().map(|s| s.to_string()).collect(),
        to: to.into(),
        screen,
        clears_resolution,
    }
}

impl JiraWorkflow {
    /// Jira's simplified company-managed workflow (`SEC` and seeded projects): To Do (10000),
    /// In Progress (3), Done (10001). "Done" (31) has a screen requiring a Resolution;
    /// "Reopen" (41, Done → To Do) has Resolution on its screen, optional, and no "clear
    /// resolution" post-function.
    pub fn simple() -> JiraWorkflow {
        JiraWorkflow {
            statuses: vec![
                status("10000", "To Do", "new"),
                status("3", "In Progress", "indeterminate"),
                status("10001", "Done", "done"),
            ],
            transitions: vec![
                transition("11", "To Do", &["3"], "10000", vec![], false),
                transition("21", "In Progress", &["10000"], "3", vec![], false),
                transition(
                    "31",
                    "Done",
                    &["10000", "3"],
                    "10001",
                    vec![field("resolution", true)],
                    false,
                ),
                transition(
                    "41",
                    "Reopen",
                    &["10001"],
                    "10000",
                    vec![field("resolution", false)],
                    false,
                ),
            ],
        }
    }

    /// A team-managed project's workflow (`OPS`): global transitions without screens, so
    /// Done sets no resolution, a resolution sent is refused and a comment sent is dropped.
    pub fn team_managed() -> JiraWorkflow {
        JiraWorkflow {
            statuses: vec![
                status("10100", "To Do", "new"),
                status("10101", "In Progress", "indeterminate"),
                status("10102", "Done", "done"),
            ],
            transitions: vec![
                transition("11", "To Do", &[], "10100", vec![], false),
                transition("21", "In Progress", &[], "10101", vec![], false),
                transition("31", "Done", &[], "10102", vec![], false),
            ],
        }
    }

    /// The incident workflow (`IR`): Open (10200) → Investigating (10201) → Resolved (10202,
    /// screen: Resolution and Comment both required) → Closed (10203, no screen); "Reopen"
    /// (from Resolved or Closed to Investigating) clears the resolution.
    pub fn incident() -> JiraWorkflow {
        JiraWorkflow {
            statuses: vec![
                status("10200", "Open", "new"),
                status("10201", "Investigating", "indeterminate"),
                status("10202", "Resolved", "done"),
                status("10203", "Closed", "done"),
            ],
            transitions: vec![
                transition("11", "Investigate", &["10200"], "10201", vec![], false),
                transition(
                    "21",
                    "Resolve",
                    &["10200", "10201"],
                    "10202",
                    vec![field("resolution", true), field("comment", true)],
                    false,
                ),
                transition("31", "Close", &["10202"], "10203", vec![], false),
                transition("41", "Reopen", &["10202", "10203"], "10201", vec![], true),
            ],
        }
    }

    pub(crate) fn initial(&self) -> &JiraStatus {
        &self.statuses[0]
    }

    pub(crate) fn status(&self, id: &str) -> Option<&JiraStatus> {
        self.statuses.iter().find(|s| s.id == id)
    }

    pub(crate) fn available_from<'a>(
        &'a self,
        status_id: &'a str,
    ) -> impl Iterator<Item = &'a JiraTransition> + 'a {
        self.transitions
            .iter()
            .filter(move |t| t.from.is_empty() || t.from.iter().any(|f| f == status_id))
    }
}

/// `{"id","key","colorName","name"}` of a status category.
pub(crate) fn category_json(base: &str, key: &str) -> Value {
    let (id, color, name) = match key {
        "new" => (2, "blue-gray", "To Do"),
        "indeterminate" => (4, "yellow", "In Progress"),
        "done" => (3, "green", "Done"),
        _ => (1, "medium-gray", "No Category"),
    };
    json!({"self": format!("{base}/rest/api/3/statuscategory/{id}"), "id": id, "key": key,
           "colorName": color, "name": name})
}

pub(crate) fn status_json(base: &str, s: &JiraStatus) -> Value {
    json!({"self": format!("{base}/rest/api/3/status/{}", s.id), "description": "",
           "iconUrl": format!("{base}/images/icons/statuses/generic.png"),
           "name": s.name, "id": s.id, "statusCategory": category_json(base, &s.category)})
}

pub(crate) fn resolution_json(base: &str, r: &JiraIdName) -> Value {
    json!({"self": format!("{base}/rest/api/3/resolution/{}", r.id), "id": r.id,
           "description": "", "name": r.name})
}

fn resolutions() -> Vec<JiraIdName> {
    RESOLUTIONS
        .iter()
        .map(|(id, name)| JiraIdName {
            id: id.to_string(),
            name: name.to_string(),
        })
        .collect()
}

fn screen_field_json(base: &str, f: &JiraScreenField) -> Option<Value> {
    match f.id.as_str() {
        "resolution" => Some(json!({
            "required": f.required, "name": "Resolution", "key": "resolution",
            "schema": {"type": "resolution", "system": "resolution"},
            "hasDefaultValue": false, "operations": ["set"],
            "allowedValues": resolutions().iter().map(|r| resolution_json(base, r)).collect::<Vec<_>>(),
        })),
        // Jira's `expand=transitions.fields` does not list Comment.
        _ => None,
    }
}

fn transition_json(
    base: &str,
    wf: &JiraWorkflow,
    t: &JiraTransition,
    available: bool,
    with_fields: bool,
) -> Value {
    let to = wf
        .status(&t.to)
        .map(|s| status_json(base, s))
        .unwrap_or(Value::Null);
    let mut v = json!({
        "id": t.id, "name": t.name, "to": to, "hasScreen": !t.screen.is_empty(),
        "isGlobal": t.from.is_empty(), "isInitial": false, "isAvailable": available,
        "isConditional": false, "isLooped": false,
    });
    if with_fields {
        let fields: Map<String, Value> = t
            .screen
            .iter()
            .filter_map(|f| screen_field_json(base, f).map(|j| (f.id.clone(), j)))
            .collect();
        v["fields"] = Value::Object(fields);
    }
    v
}

/// `GET /issue/{idOrKey}/transitions` (`expand=transitions.fields`,
/// `includeUnavailableTransitions=true`, `transitionId`).
pub(super) async fn list_transitions<H: JiraHost>(
    State(h): State<H>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if auth == Auth::Anonymous {
        return issue_not_found();
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let with_fields = q
        .all_split("expand")
        .iter()
        .any(|e| e == "transitions.fields");
    let unavailable = q
        .get("includeUnavailableTransitions")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let only = q.get("transitionId").map(str::to_string);
    h.with_jira(|s| {
        let Some(i) = s.jira.issue(&key) else {
            return issue_not_found();
        };
        let wf = s.jira.workflow_of(&i.project_key);
        let list: Vec<Value> = wf
            .transitions
            .iter()
            .filter(|t| only.as_ref().is_none_or(|o| *o == t.id))
            .filter_map(|t| {
                let available = wf.available_from(&i.status_id).any(|a| a.id == t.id);
                (available || unavailable)
                    .then(|| transition_json(&base, &wf, t, available, with_fields))
            })
            .collect();
        util::json_utf8(
            StatusCode::OK,
            &json!({"expand": "transitions", "transitions": list}),
        )
    })
}

/// What a transition request asks for, once read.
pub(crate) struct TransitionRequest {
    pub transition_id: String,
    pub fields: Map<String, Value>,
    pub comments: Vec<Value>,
}

fn field_name(id: &str) -> &str {
    match id {
        "resolution" => "Resolution",
        "comment" => "Comment",
        other => other,
    }
}

/// Why a transition was refused: `errorMessages` or `errors`.
pub(crate) enum Refusal {
    Messages(Vec<String>),
    Fields(Map<String, Value>),
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::Messages(m) => {
                let refs: Vec<&str> = m.iter().map(String::as_str).collect();
                error_messages(StatusCode::BAD_REQUEST, &refs)
            }
            Refusal::Fields(f) => field_errors(&f),
        }
    }

    /// One line, for the control API.
    pub(crate) fn text(&self) -> String {
        match self {
            Refusal::Messages(m) => m.join("; "),
            Refusal::Fields(f) => f
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// Check a transition against the issue's workflow and perform it as `author` (display
/// name): status, resolution, `updated`, `statuscategorychangedate`, the changelog and any
/// comment the screen takes.
pub(crate) fn perform(
    st: &mut JiraState,
    key: &str,
    req: TransitionRequest,
    author: &str,
    now: Timestamp,
) -> Result<(), Refusal> {
    let Some(issue) = st.issue(key) else {
        return Err(Refusal::Messages(vec![
            "Issue does not exist or you do not have permission to see it.".into(),
        ]));
    };
    let wf = st.workflow_of(&issue.project_key);
    let Some(t) = wf
        .available_from(&issue.status_id)
        .find(|t| t.id == req.transition_id)
        .cloned()
    else {
        return Err(Refusal::Messages(vec![format!(
            "Transition id '{}' is not valid for this issue.",
            req.transition_id
        )]));
    };
    let on_screen = |id: &str| t.screen.iter().any(|f| f.id == id);
    let mut errors = Map::new();
    let mut resolution: Option<Option<JiraIdName>> = None;
    for (k, v) in &req.fields {
        if !on_screen(k) || k == "comment" {
            errors.insert(
                k.clone(),
                json!(format!(
                    "Field '{k}' cannot be set. It is not on the appropriate screen, or unknown."
                )),
            );
            continue;
        }
        if k == "resolution" {
            if v.is_null() {
                resolution = Some(None);
                continue;
            }
            let id = v.get("id").and_then(|x| {
                x.as_str()
                    .map(str::to_string)
                    .or_else(|| x.as_i64().map(|n| n.to_string()))
            });
            let name = v.get("name").and_then(Value::as_str);
            match resolutions().into_iter().find(|r| {
                id.as_deref() == Some(r.id.as_str())
                    || name.is_some_and(|n| n.eq_ignore_ascii_case(&r.name))
            }) {
                Some(r) => resolution = Some(Some(r)),
                None => {
                    errors.insert(
                        "resolution".into(),
                        json!("Could not find valid 'id' or 'name' in resolution object."),
                    );
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Refusal::Fields(errors));
    }
    let comment_on_screen = on_screen("comment");
    let missing: Vec<String> = t
        .screen
        .iter()
        .filter(|f| f.required)
        .filter(|f| match f.id.as_str() {
            "resolution" => !matches!(resolution, Some(Some(_))),
            "comment" => req.comments.is_empty(),
            _ => !req.fields.contains_key(&f.id),
        })
        .map(|f| format!("Field {} is required.", field_name(&f.id)))
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::Messages(missing));
    }
    let target = wf
        .status(&t.to)
        .cloned()
        .unwrap_or_else(|| wf.initial().clone());
    let comment_id = st.next_comment_id;
    let Some(issue) = st.issue_mut(key) else {
        return Err(Refusal::Messages(vec!["Issue does not exist".into()]));
    };
    let before_status = wf.status(&issue.status_id).cloned();
    let before_resolution = issue.resolution.clone();
    issue.status_id = target.id.clone();
    match resolution {
        Some(r) => issue.resolution = r,
        None if t.clears_resolution => issue.resolution = None,
        None => {}
    }
    if issue.resolution != before_resolution {
        issue.resolution_date = issue.resolution.as_ref().map(|_| now);
    }
    if before_status.as_ref().map(|s| s.category.as_str()) != Some(target.category.as_str()) {
        issue.status_category_changed = now;
    }
    issue.updated = now;
    let mut items = vec![json!({
        "field": "status", "fieldtype": "jira", "fieldId": "status",
        "from": before_status.as_ref().map(|s| s.id.clone()),
        "fromString": before_status.as_ref().map(|s| s.name.clone()),
        "to": target.id, "toString": target.name,
    })];
    if issue.resolution != before_resolution {
        items.push(json!({
            "field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
            "from": before_resolution.as_ref().map(|r| r.id.clone()),
            "fromString": before_resolution.as_ref().map(|r| r.name.clone()),
            "to": issue.resolution.as_ref().map(|r| r.id.clone()),
            "toString": issue.resolution.as_ref().map(|r| r.name.clone()),
        }));
    }
    issue.history.push(JiraHistory {
        author: author.to_string(),
        created: now,
        items,
    });
    let mut added = 0;
    if comment_on_screen {
        for body in req.comments {
            issue.comments.push(JiraComment {
                id: comment_id + added,
                body,
                created: now,
            });
            added += 1;
        }
    }
    st.next_comment_id += added;
    Ok(())
}

/// Read `{"transition":{"id"},"fields":{...},"update":{"comment":[{"add":{"body"}}]}}`.
fn read_request(v: &Value, v2: bool) -> Result<TransitionRequest, Response> {
    let transition_id = v.get("transition").and_then(|t| {
        t.get("id").and_then(|x| {
            x.as_str()
                .map(str::to_string)
                .or_else(|| x.as_i64().map(|n| n.to_string()))
        })
    });
    let Some(transition_id) = transition_id else {
        return Err(error_messages(
            StatusCode::BAD_REQUEST,
            &["Missing 'transition' identifier"],
        ));
    };
    let fields = match v.get("fields") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(error_messages(
                StatusCode::BAD_REQUEST,
                &["'fields' must be an object"],
            ));
        }
    };
    let mut comments = Vec::new();
    let mut bad = Map::new();
    if let Some(update) = v.get("update").and_then(Value::as_object) {
        for (k, ops) in update {
            if k != "comment" {
                bad.insert(
                    k.clone(),
                    json!(format!(
                        "Field '{k}' cannot be set. It is not on the appropriate screen, or unknown."
                    )),
                );
                continue;
            }
            for op in ops.as_array().into_iter().flatten() {
                let Some(body) = op.get("add").and_then(|a| a.get("body")) else {
                    continue;
                };
                let ok = if v2 {
                    body.as_str().is_some_and(|t| !t.trim().is_empty())
                } else {
                    validate_adf(body).is_ok()
                };
                if ok {
                    comments.push(body.clone());
                } else {
                    bad.insert("comment".into(), json!(ADF_MESSAGE));
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(field_errors(&bad));
    }
    Ok(TransitionRequest {
        transition_id,
        fields,
        comments,
    })
}

/// `POST /issue/{idOrKey}/transitions` → 204.
pub(super) async fn do_transition<H: JiraHost>(
    State(h): State<H>,
    Extension(auth): Extension<Auth>,
    OriginalUri(uri): OriginalUri,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    if auth == Auth::Anonymous {
        return issue_not_found();
    }
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    let req = match read_request(&v, is_v2(&uri)) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    h.with_jira(|s| {
        if s.jira.issue(&key).is_none() {
            return issue_not_found();
        }
        match perform(s.jira, &key, req, ACCOUNT_ID, Timestamp::now()) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(r) => r.response(),
        }
    })
}

/// What an analyst does in the UI (`SandboxHandle::jira_analyst_transition`): move issue
/// `key` to the status named `to_status` through an available transition, with a resolution
/// where the screen takes one, as `author`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraAnalystTransition {
    /// Target status name, e.g. `Done`.
    pub to_status: String,
    /// Resolution name, e.g. `Not a bug`; `null` clears it on a screen with Resolution.
    #[serde(default)]
    pub resolution: Option<String>,
    /// A comment (plain text), given on the screen when it has Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Who does it (the changelog author's account id); default `analyst-1`.
    #[serde(default = "default_analyst")]
    pub author: String,
}

fn default_analyst() -> String {
    "analyst-1".into()
}

/// Perform an analyst's transition; the error says why Jira would refuse it.
pub(crate) fn analyst_transition(
    st: &mut JiraState,
    key: &str,
    a: &JiraAnalystTransition,
) -> Result<(), String> {
    let Some(issue) = st.issue(key) else {
        return Err(format!("no Jira issue {key}"));
    };
    let wf = st.workflow_of(&issue.project_key);
    let Some(t) = wf.available_from(&issue.status_id).find(|t| {
        wf.status(&t.to)
            .is_some_and(|s| s.name.eq_ignore_ascii_case(&a.to_status))
    }) else {
        return Err(format!(
            "no transition from the status of {key} to '{}'",
            a.to_status
        ));
    };
    let mut fields = Map::new();
    if t.screen.iter().any(|f| f.id == "resolution") {
        fields.insert(
            "resolution".into(),
            a.resolution
                .as_ref()
                .map_or(Value::Null, |r| json!({"name": r})),
        );
    } else if a.resolution.is_some() {
        fields.insert("resolution".into(), json!({"name": a.resolution}));
    }
    let comments = a
        .comment
        .iter()
        .map(|c| json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": c}]}]}))
        .collect();
    let req = TransitionRequest {
        transition_id: t.id.clone(),
        fields,
        comments,
    };
    perform(st, key, req, &a.author, Timestamp::now()).map_err(|r| r.text())
}

/// The issue's status in its project's workflow.
pub(crate) fn status_of(st: &JiraState, i: &JiraIssue) -> JiraStatus {
    let wf = st.workflow_of(&i.project_key);
    wf.status(&i.status_id)
        .cloned()
        .unwrap_or_else(|| wf.initial().clone())
}
