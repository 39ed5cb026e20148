//! Comments: `GET|POST /issue/{idOrKey}/comment` (ADF bodies on v3, plain text on v2).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::adf::{AdfError, validate_adf};
use super::auth::Auth;
use super::errors::{ADF_MESSAGE, error_messages, field_errors, issue_not_found};
use super::issues::comment_json;
use super::state::JiraComment;
use super::{JiraHost, base_url, is_v2};
use crate::util::{self, Scheme};

pub(super) async fn add_comment<H: JiraHost>(
    State(h): State<H>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    if auth == Auth::Anonymous {
        return issue_not_found();
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
    h.with_jira(|s| {
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

pub(super) async fn list_comments<H: JiraHost>(
    State(h): State<H>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(key): Path<String>,
) -> Response {
    if auth == Auth::Anonymous {
        return issue_not_found();
    }
    let base = base_url(&headers, &uri, scheme.as_deref());
    h.with_jira(|s| match s.jira.issue(&key) {
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
