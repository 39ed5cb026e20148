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
use super::state::{JiraComment, JiraIdName, JiraIssue, JiraProject, JiraState};
use super::workflow::{resolution_json, status_json, status_of};
use super::{ACCOUNT_ID, JiraHost, base_url, is_v2};
use crate::util::{self, Query, Scheme};

/// The `id` (text or number) and `name` of an `{"id"}` / `{"name"}` reference.
fn id_and_name(v: &Value) -> (Option<String>, Option<&str>) {
    let id = v.get("id").and_then(|x| {
        x.as_str()
            .map(str::to_string)
            .or_else(|| x.as_i64().map(|n| n.to_string()))
    });
    (id, v.get("name").and_then(Value::as_str))
}

/// The entry of `table` a reference names, by id or (case-insensitively) by name.
fn find_named(v: &Value, table: &[JiraIdName]) -> Option<JiraIdName> {
    let (id, name) = id_and_name(v);
    table
        .iter()
        .find(|t| {
            id.as_deref() == Some(t.id.as_str())
                || name.is_some_and(|n| n.eq_ignore_ascii_case(&t.name))
        })
        .cloned()
}

/// The issue type a create names, within the project: a missing one, or a name the site does
/// not know, is "Specify an issue type"; an id or name the site knows but the project does
/// not offer (another project's "Task") is "The issue type selected is invalid."
fn issue_type_of(
    v: Option<&Value>,
    project: &JiraProject,
    site: &[JiraIdName],
) -> Result<JiraIdName, &'static str> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Err("Specify an issue type");
    };
    if let Some(t) = find_named(v, &project.types()) {
        return Ok(t);
    }
    match id_and_name(v) {
        (None, _) if find_named(v, site).is_none() => Err("Specify an issue type"),
        _ => Err("The issue type selected is invalid."),
    }
}

/// The priority a create names, within the project's scheme.
fn priority_of(
    v: &Value,
    project: &JiraProject,
    site: &[JiraIdName],
) -> Result<JiraIdName, String> {
    if let Some(p) = find_named(v, &project.scheme()) {
        return Ok(p);
    }
    match id_and_name(v) {
        (None, Some(name)) if find_named(v, site).is_none() => {
            Err(format!("Priority name '{name}' is not valid"))
        }
        (None, None) => Err("Specify the Priority (id or name) in the string format".to_string()),
        _ => Err("The priority selected is invalid.".to_string()),
    }
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
        let site_types = s.jira.site_types();
        let issue_type = project.as_ref().and_then(|p| {
            issue_type_of(fields.get("issuetype"), p, &site_types)
                .map_err(|e| errors.insert("issuetype".into(), json!(e)))
                .ok()
        });
        if let (Some(p), Some(t)) = (&project, &issue_type) {
            for r in p.required_for(&t.id) {
                let given = fields
                    .get(&r.id)
                    .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
                if !given {
                    errors.insert(r.id.clone(), json!(format!("{} is required.", r.name)));
                }
            }
        }
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
        let site_priorities = s.jira.site_priorities();
        let on_screen = project.as_ref().is_some_and(|p| p.priority_on_screen);
        let default_priority = project.as_ref().and_then(|p| p.scheme().first().cloned());
        let priority = match (fields.get("priority"), &project) {
            // Not on the screen: refused below with the fields the screen lacks.
            (Some(p), Some(proj)) if !p.is_null() && on_screen => {
                priority_of(p, proj, &site_priorities)
                    .map_err(|e| errors.insert("priority".into(), json!(e)))
                    .ok()
            }
            _ => default_priority,
        };
        // The create screen: Jira's fields, Priority where the project has it on the screen,
        // and the project's required fields.
        let on_this_screen = |k: &str| {
            (SETTABLE_FIELDS.contains(&k) && (k != "priority" || on_screen))
                || project
                    .as_ref()
                    .is_some_and(|p| p.required_fields.iter().any(|r| r.id == k))
        };
        let mut other = BTreeMap::new();
        for (k, val) in fields {
            if !on_this_screen(k) {
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
        let (Some(project), Some(issue_type), Some(priority)) = (project, issue_type, priority)
        else {
            return field_errors(&errors);
        };
        let id = s.jira.next_issue_id;
        s.jira.next_issue_id += 1;
        let n = s.jira.counters.entry(project.key.clone()).or_insert(0);
        *n += 1;
        let key = format!("{}-{}", project.key, n);
        let now = Timestamp::now();
        let status_id = s.jira.workflow_of(&project.key).initial().id.clone();
        s.jira.issues.push(JiraIssue {
            id,
            key: key.clone(),
            project_key: project.key.clone(),
            issue_type,
            summary,
            description,
            labels,
            priority,
            status_id,
            resolution: None,
            resolution_date: None,
            status_category_changed: now,
            history: Vec::new(),
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
    let project = st
        .project(&i.project_key)
        .cloned()
        .unwrap_or_else(|| JiraProject::new(&i.project_key, &i.project_key, ""));
    let comments: Vec<Value> = i
        .comments
        .iter()
        .map(|c| comment_json(base, i.id, c))
        .collect();
    let mut all = Map::new();
    all.insert("summary".into(), json!(i.summary));
    all.insert("description".into(), i.description.clone());
    all.insert("labels".into(), json!(i.labels));
    all.insert(
        "priority".into(),
        priority_json(base, &i.priority.id, &i.priority.name),
    );
    all.insert(
        "issuetype".into(),
        issue_type_json(base, &i.issue_type.id, &i.issue_type.name),
    );
    all.insert("project".into(), project_json(base, &project));
    all.insert("status".into(), status_json(base, &status_of(st, i)));
    all.insert(
        "resolution".into(),
        i.resolution
            .as_ref()
            .map_or(Value::Null, |r| resolution_json(base, r)),
    );
    all.insert(
        "resolutiondate".into(),
        i.resolution_date
            .map_or(Value::Null, |t| json!(util::jira_time(t))),
    );
    all.insert(
        "statuscategorychangedate".into(),
        json!(util::jira_time(i.status_category_changed)),
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

/// `expand=changelog`: the issue's history, oldest first, each entry with its author.
pub(super) fn changelog_json(base: &str, i: &JiraIssue) -> Value {
    let histories: Vec<Value> = i
        .history
        .iter()
        .enumerate()
        .map(|(n, h)| {
            let mut author = user_json(base);
            if h.author != ACCOUNT_ID {
                author["accountId"] = json!(h.author);
                author["displayName"] = json!(h.author);
                author["emailAddress"] = Value::Null;
            }
            json!({"id": (i.id * 1000 + n as u64).to_string(), "author": author,
                   "created": util::jira_time(h.created), "items": h.items})
        })
        .collect();
    json!({"startAt": 0, "maxResults": histories.len(), "total": histories.len(),
           "histories": histories})
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
    let changelog = q.all_split("expand").iter().any(|e| e == "changelog");
    h.with_jira(|s| match s.jira.issue(&key) {
        Some(i) => {
            let mut v = issue_json(&base, s.jira, i, &sel);
            if changelog {
                v["changelog"] = changelog_json(&base, i);
            }
            util::json_utf8(StatusCode::OK, &v)
        }
        None => issue_not_found(),
    })
}
