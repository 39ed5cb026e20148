//! Issues: `POST /issue` (with Jira's validation of every field) and `GET /issue/{idOrKey}`,
//! and how an issue and its comments render.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::adf::{AdfError, validate_adf};
use super::auth::Auth;
use super::errors::{
    ADF_CONTENT_MESSAGE, ADF_MESSAGE, error_messages, field_errors, issue_not_found,
};
use super::meta::{SETTABLE_FIELDS, issue_type_json, priority_json, project_json, user_json};
use super::state::{JiraComment, JiraIssue, JiraProject, JiraState};
use super::{ISSUE_TYPES, JiraHost, PRIORITIES, base_url, is_v2};
use crate::util::{self, Query, Scheme};

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

pub(super) async fn create_issue<H: JiraHost>(
    State(h): State<H>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    body: Bytes,
) -> Response {
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
    h.with_jira(|s| {
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
pub(super) enum FieldSel {
    IdsOnly,
    All,
    Only(Vec<String>),
}

pub(super) fn field_sel(requested: &[String], default_all: bool) -> FieldSel {
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

pub(super) fn comment_json(base: &str, issue_id: u64, c: &JiraComment) -> Value {
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

pub(super) fn issue_json(base: &str, st: &JiraState, i: &JiraIssue, sel: &FieldSel) -> Value {
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

pub(super) async fn get_issue<H: JiraHost>(
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
    let sel = field_sel(&q.all_split("fields"), true);
    h.with_jira(|s| match s.jira.issue(&key) {
        Some(i) => util::json_utf8(StatusCode::OK, &issue_json(&base, s.jira, i, &sel)),
        None => issue_not_found(),
    })
}
