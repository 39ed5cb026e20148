//! Fake Jira Cloud REST API v3 (see `reference/saas-apis.md` §1 and §7).
//!
//! Served under `/jira`. Basic auth `demo@example.com:jira-demo-token`.
//!
//! - Wrong credentials → 401 `{"errorMessages":["..."],"errors":{}}`. A request with **no**
//!   usable `Authorization` header is treated as anonymous, as Jira does: `myself` → 401,
//!   `search/jql` → 200 with no issues (the "silent auth failure" of §1.2), `GET issue` → 404,
//!   `POST issue` → the misleading 400 "Field 'summary' cannot be set..." of §1.3.
//! - `GET /rest/api/3/myself`, `serverInfo` (`deploymentType: "Cloud"`), `field`, `priority`,
//!   `project/{key}`, `issue/createmeta/{project}/issuetypes`.
//! - `POST /rest/api/3/issue` → 201 `{"id","key","self"}`; validates project (seeded `SEC`),
//!   issue type (Task, Bug, Story, Epic), summary, **ADF description** (a string gets the exact
//!   400 body of §1.3; a doc with unknown nodes/marks or empty text nodes gets 400 with
//!   `errors.description` "We can't create this issue for you right now, it could be due to
//!   unsupported content..."), labels (no spaces), priority by name or id, and unknown fields
//!   ("Field 'x' cannot be set. It is not on the appropriate screen, or unknown.").
//! - `GET /rest/api/3/issue/{idOrKey}` (`fields=` honoured), comments (`POST` → 201, ADF body,
//!   a string body → 400 `errors.comment`, malformed ADF → 400 `INVALID_INPUT`), issue
//!   properties.
//! - `GET|POST /rest/api/3/search/jql`: `jql`, `nextPageToken`, `maxResults`, `fields`,
//!   `reconcileIssues`. No `fields` → issues carry only `id`. JQL: clauses on `project`,
//!   `labels`, `key`/`issuekey`, `id`, `issuetype`/`type`, `status`, `priority`, `summary ~`,
//!   `text ~` with `=`, `!=`, `~`, `!~`, `IN (...)`, `NOT IN (...)`, `IS [NOT] EMPTY`, joined by
//!   `AND`/`OR` (AND binds tighter, no parentheses), plus `ORDER BY f [ASC|DESC], ...`. JQL
//!   with no restriction → 400 (unbounded); unknown field or project → 400. Issues become
//!   visible to search only `jira_search_lag_ms` after creation, unless listed in
//!   `reconcileIssues`.
//! - The old `/rest/api/{2,3,latest}/search` → 410 Gone.
//! - API v2 routes (`/rest/api/2/issue...`) take plain-string descriptions and comments, as
//!   the `jira` Python library uses them.
//! - 429 (rate limiter / faults) carries `Retry-After`, `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining`, `X-RateLimit-Reset` (`yyyy-MM-ddTHH:mmZ`) and
//!   `RateLimit-Reason: jira-burst-based`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::creds;
use crate::faults::RateInfo;
use crate::faults::VendorFaults;
use crate::state::{Inner, JiraCommentView, JiraIssueView, SandboxHandle};
use crate::util::{self, Query, Scheme};

/// The account behind the demo token.
pub const ACCOUNT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";

const ISSUE_TYPES: [(&str, &str); 4] = [
    ("10001", "Task"),
    ("10002", "Bug"),
    ("10003", "Story"),
    ("10004", "Epic"),
];

const PRIORITIES: [(&str, &str); 5] = [
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];

const ADF_MESSAGE: &str =
    "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
const ADF_CONTENT_MESSAGE: &str = "We can't create this issue for you right now, it could be due to unsupported content you've entered into one or more of the issue fields. If this situation persists, contact your administrator as they'll be able to access more specific information in the log file.";

/// A Jira project.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraProject {
    /// Key, e.g. `SEC`.
    pub key: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Numeric id (generated when empty).
    #[serde(default)]
    pub id: String,
}

#[derive(Clone, Debug)]
pub(crate) struct JiraComment {
    id: u64,
    body: Value,
    created: Timestamp,
}

#[derive(Clone, Debug)]
pub(crate) struct JiraIssue {
    id: u64,
    key: String,
    project_key: String,
    issue_type: String,
    summary: String,
    description: Value,
    labels: Vec<String>,
    priority: String,
    status: String,
    created: Timestamp,
    created_at: Instant,
    updated: Timestamp,
    comments: Vec<JiraComment>,
    other: BTreeMap<String, Value>,
    properties: BTreeMap<String, Value>,
}

/// Jira state.
pub(crate) struct JiraState {
    pub projects: Vec<JiraProject>,
    issues: Vec<JiraIssue>,
    next_issue_id: u64,
    next_comment_id: u64,
    counters: BTreeMap<String, u64>,
}

impl JiraState {
    pub(crate) fn new() -> JiraState {
        JiraState {
            projects: vec![JiraProject {
                key: "SEC".to_string(),
                name: "Security".to_string(),
                id: "10000".to_string(),
            }],
            issues: Vec::new(),
            next_issue_id: 10001,
            next_comment_id: 10100,
            counters: BTreeMap::new(),
        }
    }

    fn project(&self, key_or_id: &str) -> Option<&JiraProject> {
        self.projects.iter().find(|p| {
            p.key.eq_ignore_ascii_case(key_or_id) || p.id == key_or_id || p.name == key_or_id
        })
    }

    fn issue_mut(&mut self, id_or_key: &str) -> Option<&mut JiraIssue> {
        self.issues
            .iter_mut()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key) || i.id.to_string() == id_or_key)
    }

    fn issue(&self, id_or_key: &str) -> Option<&JiraIssue> {
        self.issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key) || i.id.to_string() == id_or_key)
    }
}

pub(crate) fn seed_project(s: &mut Inner, mut p: JiraProject) {
    if p.id.is_empty() {
        p.id = (10000 + s.jira.projects.len()).to_string();
    }
    if p.name.is_empty() {
        p.name = p.key.clone();
    }
    s.jira.projects.retain(|x| x.key != p.key);
    s.jira.projects.push(p);
}

pub(crate) fn views(s: &Inner) -> Vec<JiraIssueView> {
    s.jira
        .issues
        .iter()
        .map(|i| JiraIssueView {
            id: i.id.to_string(),
            key: i.key.clone(),
            project: i.project_key.clone(),
            issue_type: i.issue_type.clone(),
            summary: i.summary.clone(),
            description: i.description.clone(),
            labels: i.labels.clone(),
            priority: i.priority.clone(),
            created: util::jira_time(i.created),
            comments: i
                .comments
                .iter()
                .map(|c| JiraCommentView {
                    id: c.id.to_string(),
                    body: c.body.clone(),
                    created: util::jira_time(c.created),
                })
                .collect(),
            other_fields: i.other.clone(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

/// `{"errorMessages":[...],"errors":{}}`.
pub(crate) fn error_messages(status: StatusCode, messages: &[&str]) -> Response {
    util::json_utf8(status, &json!({"errorMessages": messages, "errors": {}}))
}

/// Jira's answers to injected faults and its rate-limit headers.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "jira"
    }

    fn error(&self, status: StatusCode) -> Response {
        error_messages(status, &["Internal server error"])
    }

    fn rate_limited(&self, info: &RateInfo) -> Response {
        rate_limited(info)
    }

    fn decorate(&self, resp: &mut Response, info: &RateInfo) {
        if info.limited {
            util::set_header(resp, "x-ratelimit-limit", &info.limit.to_string());
            util::set_header(resp, "x-ratelimit-remaining", &info.remaining.to_string());
            if (info.remaining as f64) < (info.limit as f64) * 0.2 {
                util::set_header(resp, "x-ratelimit-nearlimit", "true");
            }
        }
    }

    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "POST" && (pattern == "/rest/api/3/issue" || pattern == "/rest/api/2/issue")
    }
}

fn field_errors(errors: &Map<String, Value>) -> Response {
    util::json_utf8(
        StatusCode::BAD_REQUEST,
        &json!({"errorMessages": [], "errors": errors}),
    )
}

/// The 429 answer.
pub(crate) fn rate_limited(info: &RateInfo) -> Response {
    let mut resp = error_messages(StatusCode::TOO_MANY_REQUESTS, &["Rate limit exceeded."]);
    // The header has minute precision: round the reset time up to the next full minute.
    let reset =
        Timestamp::from_second((info.reset_epoch + 59) / 60 * 60).unwrap_or(Timestamp::now());
    util::set_header(
        &mut resp,
        "x-ratelimit-reset",
        &util::jira_reset_time(reset),
    );
    util::set_header(&mut resp, "x-ratelimit-limit", &info.limit.to_string());
    util::set_header(&mut resp, "x-ratelimit-remaining", "0");
    util::set_header(&mut resp, "ratelimit-reason", "jira-burst-based");
    resp
}

fn unauthorized() -> Response {
    let mut resp = error_messages(
        StatusCode::UNAUTHORIZED,
        &["You are not authenticated. Authentication required to perform this operation."],
    );
    util::set_header(&mut resp, "x-seraph-loginreason", "AUTHENTICATED_FAILED");
    util::set_header(
        &mut resp,
        "www-authenticate",
        "Basic realm=\"protected-area\"",
    );
    resp
}

fn issue_not_found() -> Response {
    error_messages(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
    )
}

#[derive(PartialEq)]
enum Auth {
    Ok,
    Anonymous,
    Bad,
}

fn check_auth(headers: &HeaderMap) -> Auth {
    match util::basic_auth(headers) {
        None => Auth::Anonymous,
        Some((u, p)) => {
            if util::ct_eq(&u, creds::JIRA_EMAIL) && util::ct_eq(&p, creds::JIRA_API_TOKEN) {
                Auth::Ok
            } else {
                Auth::Bad
            }
        }
    }
}

fn base_url(headers: &HeaderMap, uri: &Uri, scheme: Option<&Scheme>) -> String {
    util::external_base(headers, uri, scheme, "jira")
}

fn is_v2(uri: &Uri) -> bool {
    uri.path().contains("/rest/api/2/")
}

// ---------------------------------------------------------------------------------------
// ADF
// ---------------------------------------------------------------------------------------

/// Why a value is not acceptable ADF.
#[derive(Debug, PartialEq)]
pub enum AdfError {
    /// Not a `{"type":"doc",...}` object at all (e.g. a plain string).
    NotADocument,
    /// A doc, but with invalid content.
    Invalid(String),
}

const BLOCK_NODES: [&str; 15] = [
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "table",
    "mediaSingle",
    "mediaGroup",
    "expand",
    "blockCard",
    "embedCard",
    "taskList",
];
const INLINE_NODES: [&str; 9] = [
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "date",
    "status",
    "mediaInline",
    "placeholder",
];
const MARKS: [&str; 10] = [
    "strong",
    "em",
    "code",
    "link",
    "strike",
    "underline",
    "textColor",
    "subsup",
    "backgroundColor",
    "annotation",
];

/// Validate an Atlassian Document Format value.
pub fn validate_adf(v: &Value) -> Result<(), AdfError> {
    let Some(obj) = v.as_object() else {
        return Err(AdfError::NotADocument);
    };
    if obj.get("type").and_then(Value::as_str) != Some("doc") {
        return Err(AdfError::NotADocument);
    }
    if obj.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(AdfError::Invalid("doc.version must be 1".into()));
    }
    let Some(content) = obj.get("content").and_then(Value::as_array) else {
        return Err(AdfError::Invalid("doc.content must be an array".into()));
    };
    for n in content {
        validate_node(n, &BLOCK_NODES, 1)?;
    }
    Ok(())
}

fn allowed_children(ty: &str) -> &'static [&'static str] {
    match ty {
        "paragraph" | "heading" => &INLINE_NODES,
        "bulletList" | "orderedList" => &["listItem"],
        "listItem" => &[
            "paragraph",
            "bulletList",
            "orderedList",
            "codeBlock",
            "mediaSingle",
            "heading",
        ],
        "taskList" => &["taskItem", "taskList"],
        "taskItem" => &INLINE_NODES,
        "codeBlock" => &["text"],
        "blockquote" => &[
            "paragraph",
            "bulletList",
            "orderedList",
            "codeBlock",
            "heading",
        ],
        "panel" => &[
            "paragraph",
            "heading",
            "bulletList",
            "orderedList",
            "blockCard",
            "codeBlock",
            "rule",
        ],
        "table" => &["tableRow"],
        "tableRow" => &["tableHeader", "tableCell"],
        "tableHeader" | "tableCell" | "expand" => &BLOCK_NODES,
        "mediaSingle" | "mediaGroup" => &["media"],
        _ => &[],
    }
}

fn validate_node(n: &Value, allowed: &[&str], depth: usize) -> Result<(), AdfError> {
    if depth > 40 {
        return Err(AdfError::Invalid("document nested too deeply".into()));
    }
    let Some(obj) = n.as_object() else {
        return Err(AdfError::Invalid("node must be an object".into()));
    };
    let Some(ty) = obj.get("type").and_then(Value::as_str) else {
        return Err(AdfError::Invalid("node without type".into()));
    };
    if !allowed.contains(&ty) {
        return Err(AdfError::Invalid(format!(
            "node type '{ty}' not allowed here"
        )));
    }
    match ty {
        "text" => {
            match obj.get("text").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => {}
                _ => {
                    return Err(AdfError::Invalid(
                        "text nodes must have non-empty text".into(),
                    ));
                }
            }
            if let Some(marks) = obj.get("marks") {
                let Some(marks) = marks.as_array() else {
                    return Err(AdfError::Invalid("marks must be an array".into()));
                };
                for m in marks {
                    let mt = m.get("type").and_then(Value::as_str).unwrap_or("");
                    if !MARKS.contains(&mt) {
                        return Err(AdfError::Invalid(format!("unknown mark '{mt}'")));
                    }
                    if mt == "link" && m.pointer("/attrs/href").and_then(Value::as_str).is_none() {
                        return Err(AdfError::Invalid("link mark needs attrs.href".into()));
                    }
                }
            }
            if obj.contains_key("content") {
                return Err(AdfError::Invalid("text nodes have no content".into()));
            }
        }
        "heading" => {
            let level = obj
                .get("attrs")
                .and_then(|a| a.get("level"))
                .and_then(Value::as_i64);
            if !matches!(level, Some(1..=6)) {
                return Err(AdfError::Invalid("heading needs attrs.level 1..6".into()));
            }
        }
        "bulletList" | "orderedList" | "table" | "tableRow" => {
            let empty = obj
                .get("content")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if empty {
                return Err(AdfError::Invalid(format!("{ty} must have content")));
            }
        }
        _ => {}
    }
    if let Some(content) = obj.get("content") {
        let Some(content) = content.as_array() else {
            return Err(AdfError::Invalid("content must be an array".into()));
        };
        let kids = allowed_children(ty);
        for c in content {
            validate_node(c, kids, depth + 1)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

pub(crate) fn router() -> Router<SandboxHandle> {
    let mut r = Router::new();
    for v in ["2", "3"] {
        r = r
            .route(&format!("/rest/api/{v}/myself"), get(myself))
            .route(&format!("/rest/api/{v}/serverInfo"), get(server_info))
            .route(&format!("/rest/api/{v}/field"), get(fields_list))
            .route(&format!("/rest/api/{v}/priority"), get(priorities))
            .route(&format!("/rest/api/{v}/project/{{key}}"), get(project))
            .route(
                &format!("/rest/api/{v}/issue/createmeta/{{project}}/issuetypes"),
                get(createmeta),
            )
            .route(&format!("/rest/api/{v}/issue"), post(create_issue))
            .route(&format!("/rest/api/{v}/issue/{{key}}"), get(get_issue))
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/comment"),
                get(list_comments).post(add_comment),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/properties"),
                get(list_properties),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/properties/{{prop}}"),
                get(get_property).put(put_property),
            )
            .route(
                &format!("/rest/api/{v}/search/jql"),
                get(search_get).post(search_post),
            )
            .route(&format!("/rest/api/{v}/search"), any(search_gone));
    }
    r.route("/rest/api/latest/search", any(search_gone))
        .fallback(fallback)
}

async fn fallback() -> Response {
    error_messages(StatusCode::NOT_FOUND, &["null for uri: not found"])
}

async fn search_gone() -> Response {
    error_messages(
        StatusCode::GONE,
        &[
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
        ],
    )
}

fn user_json(base: &str) -> Value {
    json!({
        "self": format!("{base}/rest/api/3/user?accountId={ACCOUNT_ID}"),
        "accountId": ACCOUNT_ID,
        "accountType": "atlassian",
        "emailAddress": creds::JIRA_EMAIL,
        "avatarUrls": {"48x48": "https://avatar.example/48.png", "24x24": "https://avatar.example/24.png",
                       "16x16": "https://avatar.example/16.png", "32x32": "https://avatar.example/32.png"},
        "displayName": "Riskflow Demo",
        "active": true,
        "timeZone": "Etc/UTC",
        "locale": "en_US",
    })
}

async fn myself(
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    if check_auth(&headers) != Auth::Ok {
        return unauthorized();
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    let mut u = user_json(&base);
    if let Some(o) = u.as_object_mut() {
        o.insert("groups".into(), json!({"size": 2, "items": []}));
        o.insert("applicationRoles".into(), json!({"size": 1, "items": []}));
        o.insert("expand".into(), json!("groups,applicationRoles"));
    }
    util::json_utf8(StatusCode::OK, &u)
}

async fn server_info(
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    if check_auth(&headers) == Auth::Bad {
        return unauthorized();
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    let now = util::jira_time(Timestamp::now());
    util::json_utf8(
        StatusCode::OK,
        &json!({
            "baseUrl": base,
            "displayUrl": base,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100289,
            "buildDate": "2026-01-01T00:00:00.000+0000",
            "serverTime": now,
            "scmInfo": "0000000000000000000000000000000000000000",
            "serverTitle": "Jira",
            "defaultLocale": {"locale": "en_US"},
            "serverTimeZone": "Etc/UTC"
        }),
    )
}

fn field_def(id: &str, name: &str, custom: bool, ty: &str, system: Option<&str>) -> Value {
    let mut schema = json!({"type": ty});
    if let Some(sys) = system {
        schema["system"] = json!(sys);
    } else {
        schema["custom"] = json!("com.atlassian.jira.plugin.system.customfieldtypes:textfield");
        schema["customId"] = json!(
            id.trim_start_matches("customfield_")
                .parse::<i64>()
                .unwrap_or(0)
        );
    }
    if ty == "array" {
        schema["items"] = json!("string");
    }
    let clause = if custom {
        vec![
            format!("cf[{}]", id.trim_start_matches("customfield_")),
            name.to_string(),
        ]
    } else {
        vec![id.to_string()]
    };
    json!({"id": id, "key": id, "name": name, "custom": custom, "orderable": true,
           "navigable": true, "searchable": true, "clauseNames": clause, "schema": schema})
}

/// Field ids clients may set on create.
const SETTABLE_FIELDS: [&str; 14] = [
    "project",
    "issuetype",
    "summary",
    "description",
    "labels",
    "priority",
    "assignee",
    "reporter",
    "environment",
    "duedate",
    "components",
    "parent",
    "customfield_10020",
    "customfield_10050",
];

fn all_fields() -> Vec<Value> {
    vec![
        field_def("summary", "Summary", false, "string", Some("summary")),
        field_def(
            "description",
            "Description",
            false,
            "string",
            Some("description"),
        ),
        field_def("labels", "Labels", false, "array", Some("labels")),
        field_def("priority", "Priority", false, "priority", Some("priority")),
        field_def(
            "issuetype",
            "Issue Type",
            false,
            "issuetype",
            Some("issuetype"),
        ),
        field_def("project", "Project", false, "project", Some("project")),
        field_def("status", "Status", false, "status", Some("status")),
        field_def("created", "Created", false, "datetime", Some("created")),
        field_def("updated", "Updated", false, "datetime", Some("updated")),
        field_def("reporter", "Reporter", false, "user", Some("reporter")),
        field_def("assignee", "Assignee", false, "user", Some("assignee")),
        field_def(
            "comment",
            "Comment",
            false,
            "comments-page",
            Some("comment"),
        ),
        field_def(
            "environment",
            "Environment",
            false,
            "string",
            Some("environment"),
        ),
        field_def("duedate", "Due date", false, "date", Some("duedate")),
        field_def(
            "components",
            "Components",
            false,
            "array",
            Some("components"),
        ),
        field_def("parent", "Parent", false, "issuelink", Some("parent")),
        field_def("issuekey", "Key", false, "string", None),
        field_def("customfield_10020", "Sprint", true, "array", None),
        field_def("customfield_10050", "Incydr Session", true, "string", None),
    ]
}

async fn fields_list(headers: HeaderMap) -> Response {
    if check_auth(&headers) == Auth::Bad {
        return unauthorized();
    }
    util::json_utf8(StatusCode::OK, &all_fields())
}

fn priority_json(base: &str, id: &str, name: &str) -> Value {
    json!({"self": format!("{base}/rest/api/3/priority/{id}"),
           "iconUrl": format!("{base}/images/icons/priorities/{}.svg", name.to_lowercase()),
           "name": name, "id": id})
}

async fn priorities(
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    if check_auth(&headers) == Auth::Bad {
        return unauthorized();
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    let list: Vec<Value> = PRIORITIES
        .iter()
        .map(|(id, n)| priority_json(&base, id, n))
        .collect();
    util::json_utf8(StatusCode::OK, &list)
}

fn issue_type_json(base: &str, id: &str, name: &str) -> Value {
    json!({"self": format!("{base}/rest/api/3/issuetype/{id}"), "id": id,
           "description": "", "name": name, "subtask": false, "hierarchyLevel": if name == "Epic" {1} else {0}})
}

fn project_json(base: &str, p: &JiraProject) -> Value {
    json!({"self": format!("{base}/rest/api/3/project/{}", p.id), "id": p.id, "key": p.key,
           "name": p.name, "projectTypeKey": "software", "simplified": false})
}

async fn project(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
) -> Response {
    if check_auth(&headers) != Auth::Ok {
        return if check_auth(&headers) == Auth::Bad {
            unauthorized()
        } else {
            error_messages(
                StatusCode::NOT_FOUND,
                &[&format!("No project could be found with key '{key}'.")],
            )
        };
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    h.with(|s| match s.jira.project(&key) {
        Some(p) => {
            let mut v = project_json(&base, p);
            v["issueTypes"] = json!(
                ISSUE_TYPES
                    .iter()
                    .map(|(id, n)| issue_type_json(&base, id, n))
                    .collect::<Vec<_>>()
            );
            util::json_utf8(StatusCode::OK, &v)
        }
        None => error_messages(
            StatusCode::NOT_FOUND,
            &[&format!("No project could be found with key '{key}'.")],
        ),
    })
}

async fn createmeta(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
) -> Response {
    if check_auth(&headers) != Auth::Ok {
        return unauthorized();
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    h.with(|s| match s.jira.project(&key) {
        Some(_) => {
            let types: Vec<Value> = ISSUE_TYPES
                .iter()
                .map(|(id, n)| issue_type_json(&base, id, n))
                .collect();
            util::json_utf8(
                StatusCode::OK,
                &json!({"maxResults": 50, "startAt": 0, "total": types.len(), "issueTypes": types}),
            )
        }
        None => error_messages(
            StatusCode::NOT_FOUND,
            &[&format!("No project could be found with key '{key}'.")],
        ),
    })
}

fn lookup_named<'a>(v: &Value, table: &'a [(&'a str, &'a str)]) -> Option<(&'a str, &'a str)> {
    let name = v.get("name").and_then(Value::as_str);
    let id = v.get("id").and_then(|x| {
        x.as_str()
            .map(str::to_string)
            .or_else(|| x.as_i64().map(|n| n.to_string()))
    });
    table.iter().copied().find(|(tid, tname)| {
        name.is_some_and(|n| n.eq_ignore_ascii_case(tname)) || id.as_deref() == Some(*tid)
    })
}

async fn create_issue(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    body: Bytes,
) -> Response {
    let auth = check_auth(&headers);
    if auth == Auth::Bad {
        return unauthorized();
    }
    if auth == Auth::Anonymous {
        let mut errors = Map::new();
        errors.insert(
            "summary".into(),
            json!(
                "Field 'summary' cannot be set. It is not on the appropriate screen, or unknown."
            ),
        );
        errors.insert(
            "description".into(),
            json!("Field 'description' cannot be set. It is not on the appropriate screen, or unknown."),
        );
        return field_errors(&errors);
    }
    let v2 = is_v2(&uri);
    let base = base_url(&headers, &uri, scheme.as_deref());
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    let Some(fields) = v.get("fields").and_then(Value::as_object) else {
        return error_messages(
            StatusCode::BAD_REQUEST,
            &["Issue must contain a 'fields' object"],
        );
    };
    h.with(|s| {
        let mut errors = Map::new();
        let project = fields
            .get("project")
            .and_then(|p| {
                p.get("key")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| {
                        p.get("id").and_then(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .or_else(|| x.as_i64().map(|n| n.to_string()))
                        })
                    })
            })
            .and_then(|k| s.jira.project(&k).cloned());
        if project.is_none() {
            errors.insert("project".into(), json!("Specify a valid project ID or key"));
        }
        let issue_type = match fields.get("issuetype") {
            None => {
                errors.insert("issuetype".into(), json!("Specify an issue type"));
                None
            }
            Some(it) => match lookup_named(it, &ISSUE_TYPES) {
                Some((_, n)) => Some(n.to_string()),
                None => {
                    errors.insert("issuetype".into(), json!("The issue type selected is invalid."));
                    None
                }
            },
        };
        let summary = match fields.get("summary") {
            Some(Value::String(t)) if !t.trim().is_empty() => {
                if t.chars().count() > 255 {
                    errors.insert("summary".into(), json!("Summary must be less than 255 characters."));
                }
                t.clone()
            }
            Some(Value::String(_)) | None | Some(Value::Null) => {
                errors.insert("summary".into(), json!("You must specify a summary of the issue."));
                String::new()
            }
            Some(_) => {
                errors.insert("summary".into(), json!("Operation value must be a string"));
                String::new()
            }
        };
        let description = fields.get("description").cloned().unwrap_or(Value::Null);
        if !description.is_null() {
            if v2 {
                if !description.is_string() {
                    errors.insert("description".into(), json!("Operation value must be a string"));
                }
            } else {
                match validate_adf(&description) {
                    Ok(()) => {}
                    Err(AdfError::NotADocument) => {
                        errors.insert("description".into(), json!(ADF_MESSAGE));
                    }
                    Err(AdfError::Invalid(_)) => {
                        errors.insert("description".into(), json!(ADF_CONTENT_MESSAGE));
                    }
                }
            }
        }
        if let Some(env) = fields.get("environment").filter(|e| !e.is_null() && !v2) {
            match validate_adf(env) {
                Ok(()) => {}
                Err(AdfError::NotADocument) => {
                    errors.insert("environment".into(), json!(ADF_MESSAGE));
                }
                Err(AdfError::Invalid(_)) => {
                    errors.insert("environment".into(), json!(ADF_CONTENT_MESSAGE));
                }
            }
        }
        let mut labels = Vec::new();
        match fields.get("labels") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for l in items {
                    match l.as_str() {
                        Some("") => {
                            errors.insert("labels".into(), json!("Labels cannot be empty."));
                        }
                        Some(t) if t.chars().any(char::is_whitespace) => {
                            errors.insert(
                                "labels".into(),
                                json!(format!("The label '{t}' contains spaces which is invalid.")),
                            );
                        }
                        Some(t) if t.chars().count() > 255 => {
                            errors.insert(
                                "labels".into(),
                                json!("The label must not exceed 255 characters."),
                            );
                        }
                        Some(t) => labels.push(t.to_string()),
                        None => {
                            errors.insert("labels".into(), json!("Operation value must be a string"));
                        }
                    }
                }
            }
            Some(_) => {
                errors.insert("labels".into(), json!("Operation value must be an array"));
            }
        }
        let priority = match fields.get("priority") {
            None | Some(Value::Null) => "Medium".to_string(),
            Some(p) => match lookup_named(p, &PRIORITIES) {
                Some((_, n)) => n.to_string(),
                None => {
                    let shown = p
                        .get("name")
                        .and_then(Value::as_str)
                        .or_else(|| p.get("id").and_then(Value::as_str))
                        .unwrap_or("");
                    errors.insert(
                        "priority".into(),
                        json!(format!("Priority name '{shown}' is not valid")),
                    );
                    String::new()
                }
            },
        };
        let mut other = BTreeMap::new();
        for (k, val) in fields {
            if !SETTABLE_FIELDS.contains(&k.as_str()) {
                errors.insert(
                    k.clone(),
                    json!(format!(
                        "Field '{k}' cannot be set. It is not on the appropriate screen, or unknown."
                    )),
                );
            } else if !["project", "issuetype", "summary", "description", "labels", "priority"]
                .contains(&k.as_str())
            {
                other.insert(k.clone(), val.clone());
            }
        }
        if !errors.is_empty() {
            return field_errors(&errors);
        }
        let (Some(project), Some(issue_type)) = (project, issue_type) else {
            return field_errors(&errors);
        };
        let id = s.jira.next_issue_id;
        s.jira.next_issue_id += 1;
        let n = s.jira.counters.entry(project.key.clone()).or_insert(0);
        *n += 1;
        let key = format!("{}-{}", project.key, n);
        let now = Timestamp::now();
        s.jira.issues.push(JiraIssue {
            id,
            key: key.clone(),
            project_key: project.key.clone(),
            issue_type,
            summary,
            description,
            labels,
            priority,
            status: "To Do".to_string(),
            created: now,
            created_at: Instant::now(),
            updated: now,
            comments: Vec::new(),
            other,
            properties: BTreeMap::new(),
        });
        let ver = if v2 { "2" } else { "3" };
        util::json_utf8(
            StatusCode::CREATED,
            &json!({"id": id.to_string(), "key": key, "self": format!("{base}/rest/api/{ver}/issue/{id}")}),
        )
    })
}

/// Which fields to render.
enum FieldSel {
    IdsOnly,
    All,
    Only(Vec<String>),
}

fn field_sel(requested: &[String], default_all: bool) -> FieldSel {
    if requested.is_empty() {
        return if default_all {
            FieldSel::All
        } else {
            FieldSel::IdsOnly
        };
    }
    if requested.iter().any(|f| f == "*all" || f == "*navigable") {
        return FieldSel::All;
    }
    let only: Vec<String> = requested
        .iter()
        .filter(|f| !f.starts_with('-'))
        .cloned()
        .collect();
    if only.iter().all(|f| f == "id") {
        FieldSel::IdsOnly
    } else {
        FieldSel::Only(only)
    }
}

fn comment_json(base: &str, issue_id: u64, c: &JiraComment) -> Value {
    let author = user_json(base);
    json!({
        "self": format!("{base}/rest/api/3/issue/{issue_id}/comment/{}", c.id),
        "id": c.id.to_string(),
        "author": author,
        "body": c.body,
        "updateAuthor": author,
        "created": util::jira_time(c.created),
        "updated": util::jira_time(c.created),
        "jsdPublic": true,
    })
}

fn issue_json(base: &str, st: &JiraState, i: &JiraIssue, sel: &FieldSel) -> Value {
    if matches!(sel, FieldSel::IdsOnly) {
        return json!({"id": i.id.to_string()});
    }
    // The issue's project is the project itself (id, name and self as `GET project/{key}`).
    let project = st.project(&i.project_key).cloned().unwrap_or(JiraProject {
        key: i.project_key.clone(),
        name: i.project_key.clone(),
        id: String::new(),
    });
    let (type_id, _) = ISSUE_TYPES
        .iter()
        .copied()
        .find(|(_, n)| *n == i.issue_type)
        .unwrap_or(("10001", "Task"));
    let (prio_id, _) = PRIORITIES
        .iter()
        .copied()
        .find(|(_, n)| *n == i.priority)
        .unwrap_or(("3", "Medium"));
    let comments: Vec<Value> = i
        .comments
        .iter()
        .map(|c| comment_json(base, i.id, c))
        .collect();
    let mut all = Map::new();
    all.insert("summary".into(), json!(i.summary));
    all.insert("description".into(), i.description.clone());
    all.insert("labels".into(), json!(i.labels));
    all.insert("priority".into(), priority_json(base, prio_id, &i.priority));
    all.insert(
        "issuetype".into(),
        issue_type_json(base, type_id, &i.issue_type),
    );
    all.insert("project".into(), project_json(base, &project));
    all.insert(
        "status".into(),
        json!({"self": format!("{base}/rest/api/3/status/10000"), "description": "",
               "name": i.status, "id": "10000",
               "statusCategory": {"self": format!("{base}/rest/api/3/statuscategory/2"),
                                  "id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}}),
    );
    all.insert("created".into(), json!(util::jira_time(i.created)));
    all.insert("updated".into(), json!(util::jira_time(i.updated)));
    all.insert("reporter".into(), user_json(base));
    all.insert("assignee".into(), Value::Null);
    all.insert(
        "comment".into(),
        json!({"comments": comments, "self": format!("{base}/rest/api/3/issue/{}/comment", i.id),
               "maxResults": comments.len(), "total": comments.len(), "startAt": 0}),
    );
    for (k, v) in &i.other {
        all.insert(k.clone(), v.clone());
    }
    let fields: Map<String, Value> = match sel {
        FieldSel::Only(names) => all
            .into_iter()
            .filter(|(k, _)| names.iter().any(|n| n == k))
            .collect(),
        _ => all,
    };
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": i.id.to_string(),
        "self": format!("{base}/rest/api/3/issue/{}", i.id),
        "key": i.key,
        "fields": fields,
    })
}

async fn get_issue(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    match check_auth(&headers) {
        Auth::Bad => return unauthorized(),
        Auth::Anonymous => return issue_not_found(),
        Auth::Ok => {}
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let sel = field_sel(&q.all_split("fields"), true);
    h.with(|s| match s.jira.issue(&key) {
        Some(i) => util::json_utf8(StatusCode::OK, &issue_json(&base, &s.jira, i, &sel)),
        None => issue_not_found(),
    })
}

async fn add_comment(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    match check_auth(&headers) {
        Auth::Bad => return unauthorized(),
        Auth::Anonymous => return issue_not_found(),
        Auth::Ok => {}
    }
    let v2 = is_v2(&uri);
    let base = base_url(&headers, &uri, scheme.as_deref());
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    let comment_body = v.get("body").cloned().unwrap_or(Value::Null);
    if v2 {
        if comment_body.as_str().is_none_or(|t| t.trim().is_empty()) {
            let mut e = Map::new();
            e.insert("comment".into(), json!("Comment body can not be empty!"));
            return field_errors(&e);
        }
    } else {
        match validate_adf(&comment_body) {
            Ok(()) => {}
            Err(AdfError::NotADocument) => {
                let mut e = Map::new();
                e.insert("comment".into(), json!(ADF_MESSAGE));
                return field_errors(&e);
            }
            Err(AdfError::Invalid(_)) => {
                return error_messages(StatusCode::BAD_REQUEST, &["INVALID_INPUT"]);
            }
        }
    }
    h.with(|s| {
        let cid = s.jira.next_comment_id;
        let Some(issue) = s.jira.issue_mut(&key) else {
            return issue_not_found();
        };
        let now = Timestamp::now();
        let c = JiraComment {
            id: cid,
            body: comment_body,
            created: now,
        };
        let out = comment_json(&base, issue.id, &c);
        issue.comments.push(c);
        issue.updated = now;
        s.jira.next_comment_id += 1;
        util::json_utf8(StatusCode::CREATED, &out)
    })
}

async fn list_comments(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
) -> Response {
    match check_auth(&headers) {
        Auth::Bad => return unauthorized(),
        Auth::Anonymous => return issue_not_found(),
        Auth::Ok => {}
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    h.with(|s| match s.jira.issue(&key) {
        Some(i) => {
            let list: Vec<Value> = i
                .comments
                .iter()
                .map(|c| comment_json(&base, i.id, c))
                .collect();
            util::json_utf8(
                StatusCode::OK,
                &json!({"startAt": 0, "maxResults": 5000, "total": list.len(), "comments": list}),
            )
        }
        None => issue_not_found(),
    })
}

async fn list_properties(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if check_auth(&headers) != Auth::Ok {
        return unauthorized();
    }
    h.with(|s| match s.jira.issue(&key) {
        Some(i) => {
            let keys: Vec<Value> = i.properties.keys().map(|k| json!({"key": k})).collect();
            util::json_utf8(StatusCode::OK, &json!({"keys": keys}))
        }
        None => issue_not_found(),
    })
}

async fn get_property(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((key, prop)): Path<(String, String)>,
) -> Response {
    if check_auth(&headers) != Auth::Ok {
        return unauthorized();
    }
    h.with(|s| match s.jira.issue(&key) {
        Some(i) => match i.properties.get(&prop) {
            Some(v) => util::json_utf8(StatusCode::OK, &json!({"key": prop, "value": v})),
            None => error_messages(
                StatusCode::NOT_FOUND,
                &[&format!("The property with key '{prop}' does not exist.")],
            ),
        },
        None => issue_not_found(),
    })
}

async fn put_property(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((key, prop)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if check_auth(&headers) != Auth::Ok {
        return unauthorized();
    }
    if prop.len() > 255 || body.len() > 32 * 1024 {
        return error_messages(
            StatusCode::BAD_REQUEST,
            &["The property key or value is too long."],
        );
    }
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    h.with(|s| match s.jira.issue_mut(&key) {
        Some(i) => {
            let created = i.properties.insert(prop, v).is_none();
            if created {
                StatusCode::CREATED.into_response()
            } else {
                StatusCode::OK.into_response()
            }
        }
        None => issue_not_found(),
    })
}

// ---------------------------------------------------------------------------------------
// JQL search
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(jql: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = jql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let q = c;
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != q {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("Error in the JQL Query: Unterminated string literal.".into());
            }
            i += 1;
            out.push(Tok::Quoted(s));
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if "=!~<>".contains(c) {
            let mut op = c.to_string();
            if i + 1 < chars.len() && "=~".contains(chars[i + 1]) && c != '=' && c != '~' {
                op.push(chars[i + 1]);
                i += 1;
            }
            out.push(Tok::Op(op));
            i += 1;
        } else {
            let mut s = String::new();
            while i < chars.len() && !chars[i].is_whitespace() && !"()=,!~<>\"'".contains(chars[i])
            {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Tok::Word(s));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Cond {
    Eq {
        field: String,
        value: String,
        neg: bool,
    },
    In {
        field: String,
        values: Vec<String>,
        neg: bool,
    },
    Contains {
        field: String,
        text: String,
        neg: bool,
    },
    Empty {
        field: String,
        neg: bool,
    },
}

#[derive(Debug, Clone)]
struct Jql {
    groups: Vec<Vec<Cond>>,
    order: Vec<(String, bool)>,
}

const JQL_FIELDS: [&str; 11] = [
    "project",
    "labels",
    "key",
    "issuekey",
    "id",
    "issuetype",
    "type",
    "status",
    "priority",
    "summary",
    "text",
];

fn canonical_field(f: &str) -> Result<String, String> {
    let lower = f.to_ascii_lowercase();
    if JQL_FIELDS.contains(&lower.as_str()) {
        Ok(match lower.as_str() {
            "issuekey" => "key".into(),
            "type" => "issuetype".into(),
            other => other.to_string(),
        })
    } else {
        Err(format!(
            "Field '{f}' does not exist or you do not have permission to view it."
        ))
    }
}

fn parse_jql(jql: &str) -> Result<Jql, String> {
    let toks = tokenize(jql)?;
    let mut i = 0;
    let mut groups: Vec<Vec<Cond>> = vec![Vec::new()];
    let mut order = Vec::new();
    let word_is =
        |t: Option<&Tok>, w: &str| matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w));
    let value_of = |t: Option<&Tok>| -> Option<String> {
        match t {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Some(w.clone()),
            _ => None,
        }
    };
    let mut expect_clause = true;
    while i < toks.len() {
        if word_is(toks.get(i), "order") && word_is(toks.get(i + 1), "by") {
            i += 2;
            loop {
                let Some(f) = value_of(toks.get(i)) else {
                    return Err(
                        "Error in the JQL Query: Expecting a field name after 'ORDER BY'.".into(),
                    );
                };
                let f = match f.to_ascii_lowercase().as_str() {
                    "created" | "updated" | "key" | "issuekey" | "priority" | "summary" | "id" => {
                        f.to_ascii_lowercase()
                    }
                    _ => {
                        return Err(format!(
                            "Field '{f}' does not exist or you do not have permission to view it."
                        ));
                    }
                };
                i += 1;
                let mut desc = false;
                if word_is(toks.get(i), "desc") {
                    desc = true;
                    i += 1;
                } else if word_is(toks.get(i), "asc") {
                    i += 1;
                }
                order.push((f, desc));
                if toks.get(i) == Some(&Tok::Comma) {
                    i += 1;
                    continue;
                }
                break;
            }
            if i < toks.len() {
                return Err(
                    "Error in the JQL Query: Expecting end of query after ORDER BY.".into(),
                );
            }
            break;
        }
        if !expect_clause {
            if word_is(toks.get(i), "and") {
                i += 1;
                expect_clause = true;
                continue;
            }
            if word_is(toks.get(i), "or") {
                i += 1;
                groups.push(Vec::new());
                expect_clause = true;
                continue;
            }
            return Err(format!(
                "Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{}'.",
                tok_text(&toks[i])
            ));
        }
        let Some(Tok::Word(field)) = toks.get(i) else {
            return Err("Error in the JQL Query: Expecting a field name.".into());
        };
        let field = canonical_field(field)?;
        i += 1;
        let cond = match toks.get(i) {
            Some(Tok::Op(op)) => {
                let op = op.clone();
                i += 1;
                let Some(val) = value_of(toks.get(i)) else {
                    return Err(format!(
                        "Error in the JQL Query: Expecting a value after '{op}'."
                    ));
                };
                i += 1;
                match op.as_str() {
                    "=" => Cond::Eq {
                        field,
                        value: val,
                        neg: false,
                    },
                    "!=" => Cond::Eq {
                        field,
                        value: val,
                        neg: true,
                    },
                    "~" => Cond::Contains {
                        field,
                        text: val,
                        neg: false,
                    },
                    "!~" => Cond::Contains {
                        field,
                        text: val,
                        neg: true,
                    },
                    other => {
                        return Err(format!(
                            "The operator '{other}' is not supported by the sandbox for field '{field}'."
                        ));
                    }
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") || w.eq_ignore_ascii_case("not") => {
                let neg = w.eq_ignore_ascii_case("not");
                i += 1;
                if neg {
                    if !word_is(toks.get(i), "in") {
                        return Err("Error in the JQL Query: Expecting 'IN' after 'NOT'.".into());
                    }
                    i += 1;
                }
                if toks.get(i) != Some(&Tok::LParen) {
                    return Err("Error in the JQL Query: Expecting '(' after 'IN'.".into());
                }
                i += 1;
                let mut values = Vec::new();
                loop {
                    let Some(v) = value_of(toks.get(i)) else {
                        return Err("Error in the JQL Query: Expecting a value in the list.".into());
                    };
                    values.push(v);
                    i += 1;
                    match toks.get(i) {
                        Some(Tok::Comma) => i += 1,
                        Some(Tok::RParen) => {
                            i += 1;
                            break;
                        }
                        _ => return Err("Error in the JQL Query: Expecting ',' or ')'.".into()),
                    }
                }
                Cond::In { field, values, neg }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                i += 1;
                let mut neg = false;
                if word_is(toks.get(i), "not") {
                    neg = true;
                    i += 1;
                }
                if !(word_is(toks.get(i), "empty") || word_is(toks.get(i), "null")) {
                    return Err("Error in the JQL Query: Expecting EMPTY or NULL after IS.".into());
                }
                i += 1;
                Cond::Empty { field, neg }
            }
            _ => {
                return Err(format!(
                    "Error in the JQL Query: Expecting operator after '{field}'."
                ));
            }
        };
        if let Some(g) = groups.last_mut() {
            g.push(cond);
        }
        expect_clause = false;
    }
    if expect_clause && groups.iter().any(|g| !g.is_empty()) {
        return Err("Error in the JQL Query: The query ends unexpectedly.".into());
    }
    groups.retain(|g| !g.is_empty());
    Ok(Jql { groups, order })
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Word(w) | Tok::Quoted(w) | Tok::Op(w) => w.clone(),
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::Comma => ",".into(),
    }
}

fn field_values(i: &JiraIssue, field: &str) -> Vec<String> {
    match field {
        "project" => vec![i.project_key.clone()],
        "labels" => i.labels.clone(),
        "key" => vec![i.key.clone()],
        "id" => vec![i.id.to_string()],
        "issuetype" => vec![i.issue_type.clone()],
        "status" => vec![i.status.clone()],
        "priority" => vec![i.priority.clone()],
        "summary" => vec![i.summary.clone()],
        _ => vec![],
    }
}

fn value_matches(field: &str, have: &str, want: &str) -> bool {
    match field {
        // Labels are case-sensitive; other values are not.
        "labels" => have == want,
        _ => have.eq_ignore_ascii_case(want),
    }
}

fn cond_matches(i: &JiraIssue, c: &Cond) -> bool {
    match c {
        Cond::Eq { field, value, neg } => {
            let hit = field_values(i, field)
                .iter()
                .any(|v| value_matches(field, v, value));
            hit != *neg
        }
        Cond::In { field, values, neg } => {
            let have = field_values(i, field);
            let hit = values
                .iter()
                .any(|w| have.iter().any(|v| value_matches(field, v, w)));
            hit != *neg
        }
        Cond::Contains { field, text, neg } => {
            let hay = if field == "text" {
                format!("{} {}", i.summary, i.description)
            } else {
                field_values(i, field).join(" ")
            };
            let hit = hay
                .to_lowercase()
                .contains(&text.to_lowercase().trim_matches('*').to_string());
            hit != *neg
        }
        Cond::Empty { field, neg } => {
            let empty = field_values(i, field).iter().all(String::is_empty);
            empty != *neg
        }
    }
}

fn jql_matches(i: &JiraIssue, q: &Jql) -> bool {
    q.groups
        .iter()
        .any(|g| g.iter().all(|c| cond_matches(i, c)))
}

fn priority_rank(name: &str) -> usize {
    PRIORITIES.iter().position(|(_, n)| *n == name).unwrap_or(2)
}

#[derive(Default)]
struct SearchParams {
    jql: Option<String>,
    next_page_token: Option<String>,
    max_results: Option<i64>,
    fields: Vec<String>,
    reconcile: Vec<String>,
}

async fn search_get(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let max_results = match q.int("maxResults") {
        Ok(v) => v,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    let p = SearchParams {
        jql: q.get("jql").map(str::to_string),
        next_page_token: q.get("nextPageToken").map(str::to_string),
        max_results,
        fields: q.all_split("fields"),
        reconcile: q.all_split("reconcileIssues"),
    };
    search(h, headers, uri, scheme, p)
}

async fn search_post(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    let strings = |key: &str| -> Vec<String> {
        match v.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .or_else(|| x.as_i64().map(|n| n.to_string()))
                })
                .collect(),
            Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let p = SearchParams {
        jql: v.get("jql").and_then(Value::as_str).map(str::to_string),
        next_page_token: v
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_string),
        max_results: v.get("maxResults").and_then(Value::as_i64),
        fields: strings("fields"),
        reconcile: strings("reconcileIssues"),
    };
    search(h, headers, uri, scheme, p)
}

fn search(
    h: SandboxHandle,
    headers: HeaderMap,
    uri: Uri,
    scheme: Option<axum::Extension<Scheme>>,
    p: SearchParams,
) -> Response {
    match check_auth(&headers) {
        Auth::Bad => return unauthorized(),
        Auth::Anonymous => {
            return util::json_utf8(StatusCode::OK, &json!({"issues": [], "isLast": true}));
        }
        Auth::Ok => {}
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    let jql_text = p.jql.unwrap_or_default();
    let jql = match parse_jql(&jql_text) {
        Ok(j) => j,
        Err(e) => return error_messages(StatusCode::BAD_REQUEST, &[&e]),
    };
    if jql.groups.is_empty() {
        return error_messages(
            StatusCode::BAD_REQUEST,
            &[
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
            ],
        );
    }
    let sel = field_sel(&p.fields, false);
    let cap = if matches!(sel, FieldSel::IdsOnly) {
        5000
    } else {
        100
    };
    let max = p.max_results.unwrap_or(50).clamp(1, cap) as usize;
    let jql_hash = hex::encode(&util::hmac_sha256(b"jql", &[jql_text.as_bytes()])[..4]);
    let offset = match &p.next_page_token {
        None => 0,
        Some(tok) => {
            let parsed = util::b64url_decode(tok)
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|t| {
                    let (o, hsh) = t.split_once(':')?;
                    (hsh == jql_hash).then(|| o.parse::<usize>().ok()).flatten()
                });
            match parsed {
                Some(o) => o,
                None => {
                    return error_messages(
                        StatusCode::BAD_REQUEST,
                        &["The provided next page token is invalid or expired."],
                    );
                }
            }
        }
    };
    h.with(|s| {
        for g in &jql.groups {
            for c in g {
                let unknown_project = match c {
                    Cond::Eq { field, value, .. } if field == "project" => {
                        s.jira.project(value).is_none().then(|| value.clone())
                    }
                    Cond::In { field, values, .. } if field == "project" => {
                        values.iter().find(|v| s.jira.project(v).is_none()).cloned()
                    }
                    _ => None,
                };
                if let Some(value) = unknown_project {
                    return error_messages(
                        StatusCode::BAD_REQUEST,
                        &[&format!(
                            "The value '{value}' does not exist for the field 'project'."
                        )],
                    );
                }
            }
        }
        let lag = Duration::from_millis(s.config.jira_search_lag_ms);
        let mut hits: Vec<&JiraIssue> = s
            .jira
            .issues
            .iter()
            .filter(|i| i.created_at.elapsed() >= lag || p.reconcile.contains(&i.id.to_string()))
            .filter(|i| jql_matches(i, &jql))
            .collect();
        let order = if jql.order.is_empty() {
            vec![("created".to_string(), true)]
        } else {
            jql.order.clone()
        };
        hits.sort_by(|a, b| {
            let mut ord = std::cmp::Ordering::Equal;
            for (f, desc) in &order {
                let o = match f.as_str() {
                    "created" => a.created.cmp(&b.created).then(a.id.cmp(&b.id)),
                    "updated" => a.updated.cmp(&b.updated),
                    "key" | "issuekey" | "id" => a.id.cmp(&b.id),
                    "priority" => priority_rank(&b.priority).cmp(&priority_rank(&a.priority)),
                    "summary" => a.summary.cmp(&b.summary),
                    _ => std::cmp::Ordering::Equal,
                };
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    ord = o;
                    break;
                }
            }
            ord
        });
        let page: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(max)
            .map(|i| issue_json(&base, &s.jira, i, &sel))
            .collect();
        let is_last = offset + max >= hits.len();
        let mut out = Map::new();
        out.insert("issues".into(), json!(page));
        if !is_last {
            out.insert(
                "nextPageToken".into(),
                json!(util::b64url(
                    format!("{}:{jql_hash}", offset + max).as_bytes()
                )),
            );
        }
        out.insert("isLast".into(), json!(is_last));
        util::json_utf8(StatusCode::OK, &out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adf_documents_are_validated() {
        let ok = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"hi","marks":[{"type":"strong"}]}]}]});
        assert_eq!(validate_adf(&ok), Ok(()));
        assert_eq!(validate_adf(&json!("plain")), Err(AdfError::NotADocument));
        let empty_text = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]});
        assert!(matches!(
            validate_adf(&empty_text),
            Err(AdfError::Invalid(_))
        ));
        let bad_node = json!({"type":"doc","version":1,"content":[{"type":"marquee"}]});
        assert!(matches!(validate_adf(&bad_node), Err(AdfError::Invalid(_))));
        let bad_version = json!({"type":"doc","version":2,"content":[]});
        assert!(matches!(
            validate_adf(&bad_version),
            Err(AdfError::Invalid(_))
        ));
        let text_at_top = json!({"type":"doc","version":1,"content":[{"type":"text","text":"x"}]});
        assert!(matches!(
            validate_adf(&text_at_top),
            Err(AdfError::Invalid(_))
        ));
    }

    #[test]
    fn jql_with_project_labels_and_order_parses() {
        let j = parse_jql(r#"project = SEC AND labels = "incydr-alert-1" ORDER BY created DESC"#)
            .unwrap();
        assert_eq!(j.groups.len(), 1);
        assert_eq!(j.groups[0].len(), 2);
        assert_eq!(j.order, vec![("created".to_string(), true)]);
        assert!(parse_jql("ORDER BY created").unwrap().groups.is_empty());
        assert!(parse_jql("").unwrap().groups.is_empty());
        assert!(parse_jql("labelz = x").is_err());
        assert!(parse_jql("project = SEC AND").is_err());
        let j = parse_jql("labels in (a, b) OR key = SEC-1").unwrap();
        assert_eq!(j.groups.len(), 2);
    }
}
