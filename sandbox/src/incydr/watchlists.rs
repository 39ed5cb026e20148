//! Watchlists v2: the lists themselves, their included and excluded actors and members.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::errors::{bad_request, error, not_found, ok_empty};
use super::state::{IncydrState, Member, Watchlist};
use super::{IncydrHost, TENANT_ID, WATCHLIST_TYPES};
use crate::util::{self, Query};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistStats {
    included_departments_count: usize,
    included_directory_groups_count: usize,
    included_actors_count: usize,
    excluded_actors_count: usize,
    excluded_departments_count: usize,
    excluded_directory_groups_count: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistJson<'a> {
    description: Option<&'a str>,
    list_type: &'a str,
    stats: WatchlistStats,
    tenant_id: &'a str,
    title: Option<&'a str>,
    watchlist_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistPage<'a> {
    watchlists: Vec<WatchlistJson<'a>>,
    total_count: usize,
}

impl Watchlist {
    fn to_json(&self) -> WatchlistJson<'_> {
        WatchlistJson {
            description: self.description.as_deref(),
            list_type: &self.list_type,
            stats: WatchlistStats {
                included_departments_count: 0,
                included_directory_groups_count: 0,
                included_actors_count: self.included.len(),
                excluded_actors_count: self.excluded.len(),
                excluded_departments_count: 0,
                excluded_directory_groups_count: 0,
            },
            tenant_id: TENANT_ID,
            title: self.title.as_deref(),
            watchlist_id: &self.id,
        }
    }
}

pub(super) fn page_params(
    q: &Query,
    size_keys: &[&str],
    default_size: i64,
) -> Result<(usize, usize), Response> {
    let page = q.int("page").map_err(bad_request)?.unwrap_or(1);
    let mut size = default_size;
    for k in size_keys {
        if let Some(v) = q.int(k).map_err(bad_request)? {
            size = v;
            break;
        }
    }
    if page < 1 {
        return Err(bad_request("page must be 1 or greater"));
    }
    if size < 1 {
        return Err(bad_request("page size must be 1 or greater"));
    }
    Ok(((page - 1) as usize, size as usize))
}

pub(super) async fn list_watchlists<H: IncydrHost>(
    State(h): State<H>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let (page, size) = match page_params(&q, &["pageSize", "page_size"], 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let actor = q.get("actorId").map(str::to_string);
    h.with_incydr(|s| {
        let lists: Vec<&Watchlist> = s
            .incydr
            .watchlists
            .iter()
            .filter(|w| actor.as_deref().is_none_or(|a| w.is_member(a)))
            .collect();
        let total = lists.len();
        let page: Vec<WatchlistJson<'_>> = util::page_slice(&lists, page, size)
            .into_iter()
            .map(Watchlist::to_json)
            .collect();
        util::json(
            StatusCode::OK,
            &WatchlistPage {
                watchlists: page,
                total_count: total,
            },
        )
    })
}

pub(super) async fn create_watchlist<H: IncydrHost>(State(h): State<H>, body: Bytes) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let Some(list_type) = v.get("watchlistType").and_then(Value::as_str) else {
        return bad_request("watchlistType is required");
    };
    if !WATCHLIST_TYPES.contains(&list_type) {
        return bad_request(format!(
            "Error converting value \"{list_type}\" to type 'WatchlistSdk.Model.WatchlistType'. Path 'watchlistType'."
        ));
    }
    let title = v.get("title").and_then(Value::as_str).map(str::to_string);
    let description = v
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    if list_type == "CUSTOM" && title.as_deref().is_none_or(str::is_empty) {
        return bad_request("A title is required for CUSTOM watchlists");
    }
    if title.as_ref().is_some_and(|t| t.chars().count() > 50) {
        return bad_request("title must be at most 50 characters");
    }
    if description
        .as_ref()
        .is_some_and(|t| t.chars().count() > 250)
    {
        return bad_request("description must be at most 250 characters");
    }
    h.with_incydr(|s| {
        if list_type != "CUSTOM" && s.incydr.watchlists.iter().any(|w| w.list_type == list_type) {
            return error(
                StatusCode::CONFLICT,
                &format!("A watchlist of type {list_type} already exists"),
            );
        }
        let id = s.ids.uuid("watchlist");
        let w = Watchlist {
            id,
            list_type: list_type.to_string(),
            title,
            description,
            included: Vec::new(),
            excluded: Vec::new(),
        };
        let resp = util::json(StatusCode::OK, &w.to_json());
        s.incydr.watchlists.push(w);
        resp
    })
}

pub(super) async fn get_watchlist<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| match s.incydr.watchlists.iter().find(|w| w.id == id) {
        Some(w) => util::json(StatusCode::OK, &w.to_json()),
        None => not_found(format!("Watchlist not found: {id}")),
    })
}

pub(super) async fn update_watchlist<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let paths = q.all_split("paths");
    h.with_incydr(|s| {
        let Some(w) = s.incydr.watchlists.iter_mut().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let wants = |k: &str| {
            if paths.is_empty() {
                v.get(k).is_some()
            } else {
                paths.iter().any(|p| p == k)
            }
        };
        if wants("title") {
            let t = v.get("title").and_then(Value::as_str).map(str::to_string);
            if t.as_ref().is_some_and(|t| t.chars().count() > 50) {
                return bad_request("title must be at most 50 characters");
            }
            w.title = t;
        }
        if wants("description") {
            w.description = v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        util::json(StatusCode::OK, &w.to_json())
    })
}

pub(super) async fn delete_watchlist<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| {
        let before = s.incydr.watchlists.len();
        s.incydr.watchlists.retain(|w| w.id != id);
        if s.incydr.watchlists.len() == before {
            not_found(format!("Watchlist not found: {id}"))
        } else {
            ok_empty()
        }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum ListKind {
    Included,
    Excluded,
}

fn actor_ids_from_body(
    v: &Value,
    watchlist_id: &str,
    check_wid: bool,
) -> Result<Vec<String>, Response> {
    let Some(ids) = v.get("actorIds").and_then(Value::as_array) else {
        return Err(bad_request("actorIds is required"));
    };
    if ids.is_empty() {
        return Err(bad_request("actorIds must not be empty"));
    }
    if ids.len() > 100 {
        return Err(bad_request("actorIds must contain at most 100 ids"));
    }
    if check_wid
        && v.get("watchlistId")
            .and_then(Value::as_str)
            .is_some_and(|w| w != watchlist_id)
    {
        return Err(bad_request(
            "watchlistId in the body does not match the path",
        ));
    }
    ids.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad_request("actorIds must be strings"))
        })
        .collect()
}

fn modify_list<H: IncydrHost>(h: &H, id: &str, body: &[u8], kind: ListKind, add: bool) -> Response {
    let v = match util::parse_json(body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let ids = match actor_ids_from_body(&v, id, kind == ListKind::Included) {
        Ok(x) => x,
        Err(r) => return r,
    };
    h.with_incydr(|s| {
        let strict = s.config.incydr_strict_readd;
        if !s.incydr.watchlists.iter().any(|w| w.id == id) {
            return not_found(format!("Watchlist not found: {id}"));
        }
        let unknown = ids.iter().find(|a| add && s.incydr.actor(a).is_none());
        if let Some(unknown) = unknown {
            return bad_request(format!("Actor not found: {unknown}"));
        }
        let added = util::iso_micros(Timestamp::now());
        let Some(w) = s.incydr.watchlists.iter_mut().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let list = match kind {
            ListKind::Included => &mut w.included,
            ListKind::Excluded => &mut w.excluded,
        };
        if add {
            if strict && ids.iter().any(|a| list.iter().any(|m| &m.actor_id == a)) {
                return error(StatusCode::CONFLICT, "Actor is already on the watchlist");
            }
            for a in ids {
                if !list.iter().any(|m| m.actor_id == a) {
                    list.push(Member {
                        actor_id: a,
                        added_time: added.clone(),
                    });
                }
            }
        } else {
            list.retain(|m| !ids.contains(&m.actor_id));
        }
        ok_empty()
    })
}

pub(super) async fn included_add<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Included, true)
}

pub(super) async fn included_delete<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Included, false)
}

pub(super) async fn excluded_add<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Excluded, true)
}

pub(super) async fn excluded_delete<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Excluded, false)
}

fn member_json(s: &IncydrState, m: &Member) -> Value {
    json!({"actorId": m.actor_id, "actorname": s.actor_name(&m.actor_id), "addedTime": m.added_time})
}

#[derive(Clone, Copy)]
enum Listing {
    Included,
    Excluded,
    Members,
}

fn list_members<H: IncydrHost>(h: &H, id: &str, raw: Option<&str>, which: Listing) -> Response {
    let q = Query::parse(raw);
    let (page, size) = match page_params(&q, &["page_size", "pageSize"], 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    h.with_incydr(|s| {
        let Some(w) = s.incydr.watchlists.iter().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let members: Vec<&Member> = match which {
            Listing::Included => w.included.iter().collect(),
            Listing::Excluded => w.excluded.iter().collect(),
            Listing::Members => w
                .included
                .iter()
                .filter(|m| w.is_member(&m.actor_id))
                .collect(),
        };
        let all: Vec<Value> = members.iter().map(|m| member_json(s.incydr, m)).collect();
        let key = match which {
            Listing::Included => "includedActors",
            Listing::Excluded => "excludedActors",
            Listing::Members => "watchlistMembers",
        };
        util::json(
            StatusCode::OK,
            &json!({key: util::page_slice(&all, page, size), "totalCount": all.len()}),
        )
    })
}

fn get_member<H: IncydrHost>(h: &H, id: &str, actor_id: &str, which: Listing) -> Response {
    h.with_incydr(|s| {
        let Some(w) = s.incydr.watchlists.iter().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let found = match which {
            Listing::Included => w.included.iter().find(|m| m.actor_id == actor_id),
            Listing::Excluded => w.excluded.iter().find(|m| m.actor_id == actor_id),
            Listing::Members => w
                .included
                .iter()
                .find(|m| m.actor_id == actor_id && w.is_member(actor_id)),
        };
        match found {
            Some(m) => util::json(StatusCode::OK, &member_json(s.incydr, m)),
            None => not_found(format!("Actor {actor_id} is not on watchlist {id}")),
        }
    })
}

pub(super) async fn included_list<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_members(&h, &id, raw.as_deref(), Listing::Included)
}

pub(super) async fn excluded_list<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_members(&h, &id, raw.as_deref(), Listing::Excluded)
}

pub(super) async fn members_list<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_members(&h, &id, raw.as_deref(), Listing::Members)
}

pub(super) async fn included_get<H: IncydrHost>(
    State(h): State<H>,
    Path((id, actor)): Path<(String, String)>,
) -> Response {
    get_member(&h, &id, &actor, Listing::Included)
}

pub(super) async fn excluded_get<H: IncydrHost>(
    State(h): State<H>,
    Path((id, actor)): Path<(String, String)>,
) -> Response {
    get_member(&h, &id, &actor, Listing::Excluded)
}

pub(super) async fn members_get<H: IncydrHost>(
    State(h): State<H>,
    Path((id, actor)): Path<(String, String)>,
) -> Response {
    get_member(&h, &id, &actor, Listing::Members)
}
