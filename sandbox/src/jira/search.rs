//! `GET|POST /search/jql`: `jql`, `nextPageToken`, `maxResults`, `fields`, `reconcileIssues`,
//! with the search lag of `jira_search_lag_ms`.

use std::time::Duration;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::auth::Auth;
use super::errors::{error_messages, unauthorized};
use super::issues::{FieldSel, changelog_json, field_sel, issue_json};
use super::jql::{Cond, jql_matches, parse_jql, priority_rank};
use super::state::JiraIssue;
use super::{JiraHost, base_url};
use crate::util::{self, Query, Scheme};

#[derive(Default)]
struct SearchParams {
    jql: Option<String>,
    next_page_token: Option<String>,
    max_results: Option<i64>,
    fields: Vec<String>,
    reconcile: Vec<String>,
    expand: Vec<String>,
}

pub(super) async fn search_get<H: JiraHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Extension(auth): Extension<Auth>,
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
        expand: q.all_split("expand"),
    };
    search(h, auth, headers, uri, scheme, p)
}

pub(super) async fn search_post<H: JiraHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Extension(auth): Extension<Auth>,
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
        expand: strings("expand"),
    };
    search(h, auth, headers, uri, scheme, p)
}

fn search<H: JiraHost>(
    h: H,
    auth: Auth,
    headers: HeaderMap,
    uri: Uri,
    scheme: Option<axum::Extension<Scheme>>,
    p: SearchParams,
) -> Response {
    match auth {
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
    let changelog = p.expand.iter().any(|e| e == "changelog");
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
    h.with_jira(|s| {
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
            .filter(|i| jql_matches(s.jira, i, &jql))
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
                    "priority" => {
                        priority_rank(&b.priority.name).cmp(&priority_rank(&a.priority.name))
                    }
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
            .map(|i| {
                let mut v = issue_json(&base, s.jira, i, &sel);
                if changelog {
                    v["changelog"] = changelog_json(&base, i);
                }
                v
            })
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
