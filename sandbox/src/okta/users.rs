//! Users: `GET /api/v1/users/me`, `/api/v1/users/{id|login}`, `/api/v1/users?q|search|filter`
//! and `/api/v1/users/{id}/groups`.

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{invalid_search, not_found};
use super::groups::group_json;
use super::search::{eval_search, parse_search, user_attr};
use super::state::OktaUser;
use super::{OktaHost, base, id_page, limit_of, with_links};
use crate::util::{self, Query, Scheme};

pub(super) fn user_json(base: &str, u: &OktaUser) -> Value {
    let created = util::okta_time(u.created);
    json!({
        "id": u.id,
        "status": u.status,
        "created": created,
        "activated": created,
        "statusChanged": created,
        "lastLogin": created,
        "lastUpdated": created,
        "passwordChanged": created,
        "type": {"id": "oty1sandboxdefault0h7"},
        "profile": {"firstName": u.first_name, "lastName": u.last_name, "mobilePhone": null,
                    "secondEmail": null, "login": u.login, "email": u.email},
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("{base}/api/v1/users/{}", u.id)}},
    })
}

pub(super) async fn me<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    h.with_okta(|s| {
        let admin = s.okta.admin_id.clone();
        match s.okta.users.iter().find(|u| u.id == admin) {
            Some(u) => util::json(StatusCode::OK, &user_json(&b, u)),
            None => not_found("me", "User"),
        }
    })
}

pub(super) async fn get_user<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(user): Path<String>,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    h.with_okta(|s| {
        let key = if user == "me" {
            s.okta.admin_id.clone()
        } else {
            user.clone()
        };
        match s.okta.user(&key) {
            Some(u) => util::json(StatusCode::OK, &user_json(&b, u)),
            None => not_found(&user, "User"),
        }
    })
}

pub(super) async fn list_users<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let expr = q.get("search").or_else(|| q.get("filter"));
    let parsed = match expr.map(parse_search) {
        None => None,
        Some(Ok(g)) => Some(g),
        Some(Err(_)) => return invalid_search(),
    };
    let prefix = q.get("q").map(str::to_lowercase);
    let limit = limit_of(&q, 200);
    let after = q.get("after").map(str::to_string);
    h.with_okta(|s| {
        let mut users: Vec<&OktaUser> = s
            .okta
            .users
            .iter()
            .filter(|u| {
                prefix.as_ref().is_none_or(|p| {
                    [&u.login, &u.email, &u.first_name, &u.last_name]
                        .iter()
                        .any(|f| f.to_lowercase().starts_with(p.as_str()))
                })
            })
            .filter(|u| {
                parsed
                    .as_ref()
                    .is_none_or(|g| eval_search(g, |a| user_attr(u, a)))
            })
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        let start: Vec<&OktaUser> = users
            .into_iter()
            .filter(|u| after.as_ref().is_none_or(|a| &u.id > a))
            .collect();
        let page: Vec<Value> = start.iter().take(limit).map(|u| user_json(&b, u)).collect();
        let mut links = vec![format!("<{b}/api/v1/users?limit={limit}>; rel=\"self\"")];
        if start.len() > limit && prefix.is_none() {
            if let Some(last) = start.get(limit - 1) {
                links.push(format!(
                    "<{b}/api/v1/users?after={}&limit={limit}>; rel=\"next\"",
                    last.id
                ));
            }
        }
        with_links(util::json(StatusCode::OK, &page), &links)
    })
}

/// `GET /api/v1/users/{id}/groups?limit&after`: the user's groups by id, at most 200 a page
/// (Okta's maximum and default), with `Link` `rel="self"` / `rel="next"`.
pub(super) async fn user_groups<H: OktaHost>(
    State(h): State<H>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(user): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let limit = limit_of(&q, 200).min(200);
    let after = q.get("after").map(str::to_string);
    h.with_okta(|s| {
        let Some(u) = s.okta.user(&user) else {
            return not_found(&user, "User");
        };
        let mut groups: Vec<_> = s
            .okta
            .groups
            .iter()
            .filter(|g| g.members.contains(&u.id))
            .collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<_> = groups
            .into_iter()
            .filter(|g| after.as_ref().is_none_or(|a| &g.id > a))
            .collect();
        let path = format!("{b}/api/v1/users/{}/groups", u.id);
        id_page(&path, &rest, limit, |g| &g.id, |g| group_json(&b, g))
    })
}
