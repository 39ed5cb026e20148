//! Issue properties: `GET /issue/{idOrKey}/properties`, `GET|PUT .../properties/{key}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::JiraHost;
use super::errors::{error_messages, issue_not_found};
use crate::util;

pub(super) async fn list_properties<H: JiraHost>(
    State(h): State<H>,
    Path(key): Path<String>,
) -> Response {
    h.with_jira(|s| match s.jira.issue(&key) {
        Some(i) => {
            let keys: Vec<Value> = i.properties.keys().map(|k| json!({"key": k})).collect();
            util::json_utf8(StatusCode::OK, &json!({"keys": keys}))
        }
        None => issue_not_found(),
    })
}

pub(super) async fn get_property<H: JiraHost>(
    State(h): State<H>,
    Path((key, prop)): Path<(String, String)>,
) -> Response {
    h.with_jira(|s| match s.jira.issue(&key) {
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

pub(super) async fn put_property<H: JiraHost>(
    State(h): State<H>,
    Path((key, prop)): Path<(String, String)>,
    body: Bytes,
) -> Response {
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
    h.with_jira(|s| match s.jira.issue_mut(&key) {
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
