//! The account and the instance's metadata: `myself`, `serverInfo`, `field`, `priority`,
//! `project/{key}`, `issue/createmeta/{project}/issuetypes` and
//! `issue/createmeta/{project}/issuetypes/{issueTypeId}` (the create screen's fields).

use axum::Extension;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::auth::Auth;
use super::errors::error_messages;
use super::state::{JiraIdName, JiraProject};
use super::{ACCOUNT_ID, JiraHost, base_url};
use crate::creds;
use crate::util::{self, Query, Scheme};

pub(super) fn user_json(base: &str) -> Value {
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

pub(super) async fn myself(
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    let base = base_url(&headers, &uri, scheme.as_deref());
    let mut u = user_json(&base);
    if let Some(o) = u.as_object_mut() {
        o.insert("groups".into(), json!({"size": 2, "items": []}));
        o.insert("applicationRoles".into(), json!({"size": 1, "items": []}));
        o.insert("expand".into(), json!("groups,applicationRoles"));
    }
    util::json_utf8(StatusCode::OK, &u)
}

pub(super) async fn server_info(
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
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
pub(super) const SETTABLE_FIELDS: [&str; 14] = [
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

pub(super) async fn fields_list() -> Response {
    util::json_utf8(StatusCode::OK, &all_fields())
}

pub(super) fn priority_json(base: &str, id: &str, name: &str) -> Value {
    json!({"self": format!("{base}/rest/api/3/priority/{id}"),
           "iconUrl": format!("{base}/images/icons/priorities/{}.svg", name.to_lowercase()),
           "name": name, "id": id})
}

pub(super) async fn priorities<H: JiraHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    let base = base_url(&headers, &uri, scheme.as_deref());
    let list: Vec<Value> = h.with_jira(|s| {
        s.jira
            .site_priorities()
            .iter()
            .map(|p| priority_json(&base, &p.id, &p.name))
            .collect()
    });
    util::json_utf8(StatusCode::OK, &list)
}

pub(super) fn issue_type_json(base: &str, id: &str, name: &str) -> Value {
    json!({"self": format!("{base}/rest/api/3/issuetype/{id}"), "id": id,
           "description": "", "name": name, "subtask": false, "hierarchyLevel": if name == "Epic" {1} else {0}})
}

pub(super) fn project_json(base: &str, p: &JiraProject) -> Value {
    json!({"self": format!("{base}/rest/api/3/project/{}", p.id), "id": p.id, "key": p.key,
           "name": p.name, "projectTypeKey": "software", "simplified": false})
}

pub(super) async fn project<H: JiraHost>(
    State(h): State<H>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
) -> Response {
    if auth == Auth::Anonymous {
        return no_project(&key);
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    h.with_jira(|s| match s.jira.project(&key) {
        Some(p) => {
            let mut v = project_json(&base, p);
            v["issueTypes"] = json!(
                p.types()
                    .iter()
                    .map(|t| issue_type_json(&base, &t.id, &t.name))
                    .collect::<Vec<_>>()
            );
            util::json_utf8(StatusCode::OK, &v)
        }
        None => no_project(&key),
    })
}

fn no_project(key: &str) -> Response {
    error_messages(
        StatusCode::NOT_FOUND,
        &[&format!("No project could be found with key '{key}'.")],
    )
}

/// A page of a create-metadata list, `{"<list>":[...],"maxResults","startAt","total"}`, as
/// `startAt` and `maxResults` (default 50, at most 200) ask, of the items `all` answers.
fn meta_page(
    raw: Option<&str>,
    list: &str,
    all: impl FnOnce() -> Result<Vec<Value>, Response>,
) -> Response {
    let q = Query::parse(raw);
    let bad = |m: String| error_messages(StatusCode::BAD_REQUEST, &[&m]);
    let (start, max) = match (q.int("startAt"), q.int("maxResults")) {
        (Ok(s), Ok(m)) => (
            s.unwrap_or(0).max(0) as usize,
            m.unwrap_or(50).clamp(1, 200) as usize,
        ),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let items = match all() {
        Ok(items) => items,
        Err(r) => return r,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(max).collect();
    let mut body = json!({"maxResults": max, "startAt": start, "total": total});
    body[list] = json!(page);
    util::json_utf8(StatusCode::OK, &body)
}

/// `GET /issue/createmeta/{project}/issuetypes`: the project's issue types, paged
/// (PageOfCreateMetaIssueTypes).
pub(super) async fn createmeta<H: JiraHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let base = base_url(&headers, &uri, scheme.as_deref());
    meta_page(raw.as_deref(), "issueTypes", || {
        h.with_jira(|s| {
            let p = s.jira.project(&key).ok_or_else(|| no_project(&key))?;
            Ok(p.types()
                .iter()
                .map(|t| issue_type_json(&base, &t.id, &t.name))
                .collect())
        })
    })
}

/// One field of a create screen (FieldCreateMetadata).
fn create_field(id: &str, name: &str, required: bool, schema: Value) -> Value {
    json!({"fieldId": id, "key": id, "name": name, "required": required,
           "hasDefaultValue": false, "operations": ["set"], "schema": schema})
}

/// A system field's schema.
fn system(ty: &str, id: &str) -> Value {
    json!({"type": ty, "system": id})
}

/// The create screen of an issue type in a project: Jira's fields, Priority with the
/// project's scheme where it is on the screen, and the project's required fields.
fn create_screen(base: &str, p: &JiraProject, t: &JiraIdName) -> Vec<Value> {
    let mut issuetype = create_field(
        "issuetype",
        "Issue Type",
        true,
        system("issuetype", "issuetype"),
    );
    issuetype["allowedValues"] = json!([issue_type_json(base, &t.id, &t.name)]);
    let mut project = create_field("project", "Project", true, system("project", "project"));
    project["allowedValues"] = json!([project_json(base, p)]);
    let mut reporter = create_field("reporter", "Reporter", true, system("user", "reporter"));
    reporter["hasDefaultValue"] = json!(true);
    let mut fields = vec![
        create_field("summary", "Summary", true, system("string", "summary")),
        issuetype,
        project,
        create_field(
            "description",
            "Description",
            false,
            system("string", "description"),
        ),
        create_field(
            "labels",
            "Labels",
            false,
            json!({"type": "array", "items": "string", "system": "labels"}),
        ),
        reporter,
        create_field("assignee", "Assignee", false, system("user", "assignee")),
    ];
    if p.priority_on_screen {
        let scheme = p.scheme();
        let mut f = create_field(
            "priority",
            "Priority",
            false,
            system("priority", "priority"),
        );
        f["hasDefaultValue"] = json!(true);
        f["allowedValues"] = scheme
            .iter()
            .map(|x| priority_json(base, &x.id, &x.name))
            .collect();
        if let Some(d) = scheme.first() {
            f["defaultValue"] = priority_json(base, &d.id, &d.name);
        }
        fields.push(f);
    }
    let text_field = json!({"type": "string",
        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield"});
    for r in p.required_for(&t.id) {
        fields.push(create_field(&r.id, &r.name, true, text_field.clone()));
    }
    fields
}

/// `GET /issue/createmeta/{project}/issuetypes/{issueTypeId}`: the create screen's fields for
/// one issue type, paged (PageOfCreateMetaIssueTypeWithField).
pub(super) async fn createmeta_fields<H: JiraHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path((key, type_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let base = base_url(&headers, &uri, scheme.as_deref());
    meta_page(raw.as_deref(), "fields", || {
        h.with_jira(|s| {
            let p = s.jira.project(&key).ok_or_else(|| no_project(&key))?;
            match p.types().into_iter().find(|t| t.id == type_id) {
                Some(t) => Ok(create_screen(&base, p, &t)),
                None => Err(error_messages(
                    StatusCode::NOT_FOUND,
                    &[&format!(
                        "Issue type with id '{type_id}' does not exist in project '{}'.",
                        p.key
                    )],
                )),
            }
        })
    })
}
