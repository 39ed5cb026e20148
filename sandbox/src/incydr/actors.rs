//! Actors (`/v1/actors/actor/...`: search, by name or id, parent and family, date and note
//! updates) and users (`/v1/users`).

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::IncydrHost;
use super::errors::{bad_request, not_found};
use super::model::{Actor, User};
use super::state::IncydrState;
use super::watchlists::page_params;
use crate::util::{self, Query};

#[derive(Serialize)]
struct ActorList {
    actors: Vec<Actor>,
}

#[derive(Serialize)]
struct Family<'a> {
    parent: &'a Actor,
    children: Vec<Actor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserPage<'a> {
    users: Vec<&'a User>,
    total_count: usize,
}

fn actor_not_found(what: &str) -> Response {
    not_found(format!("Actor not found: {what}"))
}

async fn actor_search_impl<H: IncydrHost>(h: H, raw: Option<String>, parents: bool) -> Response {
    let q = Query::parse(raw.as_deref());
    let (page, size) = match page_params(&q, &["pageSize"], 500) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let active = match q.get("active") {
        None => None,
        Some(v) => match util::parse_bool_ci(v) {
            Some(b) => Some(b),
            None => return bad_request(format!("Invalid value '{v}' for parameter 'active'")),
        },
    };
    let starts = q.get("nameStartsWith").map(str::to_ascii_lowercase);
    let ends = q.get("nameEndsWith").map(str::to_ascii_lowercase);
    h.with_incydr(|s| {
        let st = &s.incydr;
        let mut seen = BTreeSet::new();
        let mut found: Vec<Actor> = Vec::new();
        for a in &st.actors {
            let name = a.name.to_ascii_lowercase();
            if starts
                .as_ref()
                .is_some_and(|p| !name.starts_with(p.as_str()))
            {
                continue;
            }
            if ends.as_ref().is_some_and(|p| !name.ends_with(p.as_str())) {
                continue;
            }
            if active.is_some_and(|b| b != a.active) {
                continue;
            }
            let out = if parents { st.parent_of(a) } else { a };
            if seen.insert(out.actor_id.clone()) {
                found.push(out.clone());
            }
        }
        util::json(
            StatusCode::OK,
            &ActorList {
                actors: util::page_slice(&found, page, size),
            },
        )
    })
}

pub(super) async fn actor_search<H: IncydrHost>(
    State(h): State<H>,
    RawQuery(raw): RawQuery,
) -> Response {
    actor_search_impl(h, raw, false).await
}

pub(super) async fn actor_search_parent<H: IncydrHost>(
    State(h): State<H>,
    RawQuery(raw): RawQuery,
) -> Response {
    actor_search_impl(h, raw, true).await
}

pub(super) async fn actor_by_name_parent<H: IncydrHost>(
    State(h): State<H>,
    Path(name): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.actor_by_name(&name) {
        Some(a) => util::json(StatusCode::OK, s.incydr.parent_of(a)),
        None => actor_not_found(&name),
    })
}

fn family<'a>(st: &'a IncydrState, a: &'a Actor) -> Family<'a> {
    let parent = st.parent_of(a);
    Family {
        parent,
        children: st.children_of(&parent.actor_id),
    }
}

pub(super) async fn actor_by_name_family<H: IncydrHost>(
    State(h): State<H>,
    Path(name): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.actor_by_name(&name) {
        Some(a) => util::json(StatusCode::OK, &family(s.incydr, a)),
        None => actor_not_found(&name),
    })
}

pub(super) async fn actor_by_id<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.actor(&id) {
        Some(a) => util::json(StatusCode::OK, a),
        None => actor_not_found(&id),
    })
}

pub(super) async fn actor_by_id_parent<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.actor(&id) {
        Some(a) => util::json(StatusCode::OK, s.incydr.parent_of(a)),
        None => actor_not_found(&id),
    })
}

pub(super) async fn actor_by_id_family<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.actor(&id) {
        Some(a) => util::json(StatusCode::OK, &family(s.incydr, a)),
        None => actor_not_found(&id),
    })
}

fn patch_value(v: &Value, key: &str, date: bool) -> Result<Option<Option<String>>, Response> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => {
            if date && !util::is_plain_date(s) {
                return Err(bad_request(format!(
                    "Invalid value '{s}' for {key}: expected YYYY-MM-DD"
                )));
            }
            Ok(Some(Some(s.clone())))
        }
        Some(_) => Err(bad_request(format!("{key} must be a string or null"))),
    }
}

pub(super) async fn actor_patch<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad_request("Body must be a JSON object"),
        Err(e) => return bad_request(e),
    };
    let notes = match patch_value(&v, "notes", false) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let start = match patch_value(&v, "startDate", true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let end = match patch_value(&v, "endDate", true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    h.with_incydr(|s| {
        let Some(a) = s.incydr.actors.iter_mut().find(|a| a.actor_id == id) else {
            return actor_not_found(&id);
        };
        if let Some(n) = notes {
            a.notes = n;
        }
        if let Some(d) = start {
            a.start_date = d;
        }
        if let Some(d) = end {
            a.end_date = d;
        }
        util::json(StatusCode::OK, a)
    })
}

pub(super) async fn list_users<H: IncydrHost>(
    State(h): State<H>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let (page, size) = match page_params(&q, &["pageSize", "page_size"], 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut bools = Vec::new();
    for key in ["active", "blocked"] {
        match q.get(key) {
            None => bools.push(None),
            Some(v) => match util::parse_bool_ci(v) {
                Some(b) => bools.push(Some(b)),
                None => return bad_request(format!("Invalid value '{v}' for parameter '{key}'")),
            },
        }
    }
    let username = q.get("username").map(str::to_string);
    h.with_incydr(|s| {
        let users: Vec<&User> = s
            .incydr
            .users
            .iter()
            .filter(|u| {
                username
                    .as_deref()
                    .is_none_or(|n| u.username.eq_ignore_ascii_case(n))
            })
            .filter(|u| bools[0].is_none_or(|b| u.active == b))
            .filter(|u| bools[1].is_none_or(|b| u.blocked == b))
            .collect();
        util::json(
            StatusCode::OK,
            &UserPage {
                total_count: users.len(),
                users: util::page_slice(&users, page, size),
            },
        )
    })
}

pub(super) async fn get_user<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.users.iter().find(|u| u.user_id == id) {
        Some(u) => util::json(StatusCode::OK, u),
        None => not_found(format!("User not found: {id}")),
    })
}
