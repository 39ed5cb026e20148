//! Sessions: `GET /v1/sessions` (filters, paging, ordering, the optional reordering between
//! pages), one session and its file events, notes and state changes.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::errors::{bad_request, not_found, ok_empty};
use super::model::{Note, Session, StateEntry};
use super::state::{IncydrState, SessionRecord};
use super::{IncydrHost, SESSION_STATES};
use crate::util::{self, Query};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionPage<'a> {
    items: Vec<&'a Session>,
    total_count: usize,
}

#[derive(Default)]
struct SessionFilter {
    actor_id: Option<String>,
    on_or_after: Option<i64>,
    before: Option<i64>,
    session_type: Option<String>,
    has_alerts: Option<bool>,
    risk_indicators: Vec<String>,
    states: Vec<String>,
    severities: Vec<i64>,
    rule_ids: Vec<String>,
    watchlist_ids: Vec<String>,
    content_inspection_status: Option<String>,
}

fn parse_filter(q: &Query) -> Result<SessionFilter, String> {
    let mut f = SessionFilter {
        actor_id: q.get("actor_id").map(str::to_string),
        on_or_after: q.int("on_or_after")?,
        before: q.int("before")?,
        session_type: q.get("type").map(str::to_string),
        ..Default::default()
    };
    if let Some(v) = q.get("has_alerts") {
        f.has_alerts = match v {
            "true" => Some(true),
            "false" => Some(false),
            other => {
                return Err(format!(
                    "Invalid value '{other}' for parameter 'has_alerts': expected 'true' or 'false'"
                ));
            }
        };
    }
    f.risk_indicators = q
        .all("risk_indicators")
        .into_iter()
        .map(String::from)
        .collect();
    for st in q.all("state") {
        if !SESSION_STATES.contains(&st) {
            return Err(format!("Invalid value '{st}' for parameter 'state'"));
        }
        f.states.push(st.to_string());
    }
    for sev in q.all("severity") {
        match sev.parse::<i64>() {
            Ok(n) if (0..=4).contains(&n) => f.severities.push(n),
            _ => return Err(format!("Invalid value '{sev}' for parameter 'severity'")),
        }
    }
    f.rule_ids = q.all("rule_id").into_iter().map(String::from).collect();
    f.watchlist_ids = q
        .all("watchlist_id")
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(c) = q.get("content_inspection_status") {
        if !["PENDING", "FOUND", "NOT_FOUND"].contains(&c) {
            return Err(format!(
                "Invalid value '{c}' for parameter 'content_inspection_status'"
            ));
        }
        f.content_inspection_status = Some(c.to_string());
    }
    Ok(f)
}

fn session_matches(s: &IncydrState, r: &SessionRecord, f: &SessionFilter) -> bool {
    let sess = &r.session;
    if f.actor_id.as_deref().is_some_and(|a| a != sess.actor_id) {
        return false;
    }
    if f.on_or_after.is_some_and(|t| sess.begin_time < t) {
        return false;
    }
    if f.before.is_some_and(|t| sess.begin_time >= t) {
        return false;
    }
    if f.session_type
        .as_deref()
        .is_some_and(|t| sess.session_type.as_deref() != Some(t))
    {
        return false;
    }
    if f.has_alerts
        .is_some_and(|h| h == sess.triggered_alerts.is_empty())
    {
        return false;
    }
    if !f.risk_indicators.is_empty()
        && !sess
            .risk_indicators
            .iter()
            .any(|ri| f.risk_indicators.contains(&ri.id))
    {
        return false;
    }
    if !f.states.is_empty() && !f.states.iter().any(|st| st == sess.current_state()) {
        return false;
    }
    if !f.severities.is_empty() && !f.severities.contains(&sess.current_severity()) {
        return false;
    }
    if !f.rule_ids.is_empty()
        && !sess
            .triggered_alerts
            .iter()
            .any(|a| f.rule_ids.contains(&a.rule_id))
    {
        return false;
    }
    if !f.watchlist_ids.is_empty() {
        let actor_ids: Vec<String> = match s.actor(&sess.actor_id) {
            Some(a) => vec![a.actor_id.clone(), s.parent_of(a).actor_id.clone()],
            None => vec![sess.actor_id.clone()],
        };
        let member = s
            .watchlists
            .iter()
            .any(|w| f.watchlist_ids.contains(&w.id) && actor_ids.iter().any(|a| w.is_member(a)));
        if !member {
            return false;
        }
    }
    if let Some(c) = &f.content_inspection_status {
        let found = sess
            .content_inspection_results
            .as_ref()
            .is_some_and(|r| !r.detected_on_alerts.is_empty());
        let status = if found { "FOUND" } else { "NOT_FOUND" };
        if c != status {
            return false;
        }
    }
    true
}

pub(super) async fn list_sessions<H: IncydrHost>(
    State(h): State<H>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let filter = match parse_filter(&q) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let page_number = match q.int("page_number") {
        Ok(v) => v.unwrap_or(0),
        Err(e) => return bad_request(e),
    };
    let page_size = match q.int("page_size") {
        Ok(v) => v.unwrap_or(50),
        Err(e) => return bad_request(e),
    };
    if page_number < 0 {
        return bad_request("page_number must be 0 or greater");
    }
    if !(1..=50).contains(&page_size) {
        return bad_request("page_size must be between 1 and 50");
    }
    let order_by = q.get("order_by").unwrap_or("end_time");
    if order_by != "end_time" && order_by != "score" {
        return bad_request(format!(
            "Invalid value '{order_by}' for parameter 'order_by'"
        ));
    }
    let desc = match q
        .get("sort_direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return bad_request(format!(
                "Invalid value '{other}' for parameter 'sort_direction'"
            ));
        }
    };
    h.with_incydr(|s| {
        let reorder = s.config.incydr_reorder_sessions;
        let st = &mut s.incydr;
        let key = |r: &SessionRecord| {
            if order_by == "score" {
                r.session.current_score()
            } else {
                r.session.end_time
            }
        };
        let mut idx: Vec<usize> = (0..st.sessions.len())
            .filter(|i| session_matches(st, &st.sessions[*i], &filter))
            .collect();
        idx.sort_by(|a, b| {
            let (ra, rb) = (&st.sessions[*a], &st.sessions[*b]);
            let ord = key(ra)
                .cmp(&key(rb))
                .then_with(|| ra.session.session_id.cmp(&rb.session.session_id));
            if desc { ord.reverse() } else { ord }
        });
        if reorder {
            if page_number > 0 && !idx.is_empty() {
                let i = st.reorder_rng.random_range(0..idx.len());
                let id = st.sessions[idx[i]].session.session_id.clone();
                st.reorder_moves.push(id);
            }
            for moved in &st.reorder_moves {
                if let Some(pos) = idx
                    .iter()
                    .position(|i| &st.sessions[*i].session.session_id == moved)
                {
                    let i = idx.remove(pos);
                    idx.insert(0, i);
                }
            }
        }
        let total = idx.len();
        let page: Vec<&Session> = util::page_slice(&idx, page_number as usize, page_size as usize)
            .into_iter()
            .map(|i| &st.sessions[i].session)
            .collect();
        util::json(
            StatusCode::OK,
            &SessionPage {
                items: page,
                total_count: total,
            },
        )
    })
}

pub(super) async fn get_session<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| {
        match s
            .incydr
            .sessions
            .iter()
            .find(|r| r.session.session_id == id)
        {
            Some(r) => util::json(StatusCode::OK, &r.session),
            None => not_found(format!("Session not found: {id}")),
        }
    })
}

pub(super) async fn session_events<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
) -> Response {
    h.with_incydr(|s| {
        match s
            .incydr
            .sessions
            .iter()
            .find(|r| r.session.session_id == id)
        {
            Some(r) => util::json(
                StatusCode::OK,
                &json!({"queryResult": {
                    "fileEvents": r.events,
                    "nextPgToken": "",
                    "problems": null,
                    "totalCount": r.events.len(),
                }}),
            ),
            None => not_found(format!("Session not found: {id}")),
        }
    })
}

pub(super) async fn add_note<H: IncydrHost>(
    State(h): State<H>,
    Path(id): Path<String>,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let Some(content) = v.get("noteContent").and_then(Value::as_str) else {
        return bad_request("noteContent is required");
    };
    if content.is_empty() {
        return bad_request("noteContent must not be empty");
    }
    if content.chars().count() > 2000 {
        return bad_request("noteContent must be at most 2000 characters");
    }
    let user = caller.map(|c| c.0.0.clone());
    h.with_incydr(|s| {
        let note_id = s.ids.uuid("note");
        match s
            .incydr
            .sessions
            .iter_mut()
            .find(|r| r.session.session_id == id)
        {
            Some(r) => {
                // Notes are written by a console/API user; they are not new session data, so
                // `lastUpdated` stays as it is.
                r.session.notes.push(Note {
                    id: note_id,
                    content: content.to_string(),
                    source_timestamp: util::now_ms(),
                    user_id: user,
                });
                ok_empty()
            }
            None => not_found(format!("Session not found: {id}")),
        }
    })
}

fn parse_new_state(v: &Value) -> Result<String, Response> {
    let Some(state) = v.get("newState").and_then(Value::as_str) else {
        return Err(bad_request("newState is required"));
    };
    if !SESSION_STATES.contains(&state) {
        return Err(bad_request(format!("Invalid value '{state}' for newState")));
    }
    Ok(state.to_string())
}

fn push_state(sess: &mut Session, state: &str, user: Option<String>) {
    // A state change by a user is not new session data: `lastUpdated` is left alone.
    let now = util::now_ms().max(
        sess.states
            .iter()
            .map(|s| s.source_timestamp + 1)
            .max()
            .unwrap_or(0),
    );
    sess.states.push(StateEntry {
        state: state.to_string(),
        state_v2: Some(state.to_string()),
        source_timestamp: now,
        user_id: user,
    });
}

pub(super) async fn change_state<H: IncydrHost>(
    State(h): State<H>,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let new_state = match parse_new_state(&v) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(ids) = v.get("ids").and_then(Value::as_array) else {
        return bad_request("ids is required");
    };
    if ids.is_empty() || ids.len() > 100 {
        return bad_request("ids must contain between 1 and 100 session ids");
    }
    let ids: Vec<String> = ids
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    let user = caller.map(|c| c.0.0.clone());
    h.with_incydr(|s| {
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| {
                !s.incydr
                    .sessions
                    .iter()
                    .any(|r| &r.session.session_id == *id)
            })
            .collect();
        if !missing.is_empty() {
            return not_found(format!("Sessions not found: {missing:?}"));
        }
        for r in &mut s.incydr.sessions {
            if ids.contains(&r.session.session_id) {
                push_state(&mut r.session, &new_state, user.clone());
            }
        }
        ok_empty()
    })
}

pub(super) async fn change_states<H: IncydrHost>(
    State(h): State<H>,
    RawQuery(raw): RawQuery,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let filter = match parse_filter(&q) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let new_state = match parse_new_state(&v) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let after = v
        .get("continuationToken")
        .and_then(Value::as_str)
        .map(str::to_string);
    let user = caller.map(|c| c.0.0.clone());
    h.with_incydr(|s| {
        let st = &s.incydr;
        let mut ids: Vec<String> = st
            .sessions
            .iter()
            .filter(|r| session_matches(st, r, &filter))
            .map(|r| r.session.session_id.clone())
            .filter(|id| after.as_ref().is_none_or(|a| id > a))
            .collect();
        ids.sort();
        let more = ids.len() > 500;
        ids.truncate(500);
        for r in &mut s.incydr.sessions {
            if ids.contains(&r.session.session_id) {
                push_state(&mut r.session, &new_state, user.clone());
            }
        }
        let token = if more { ids.last().cloned() } else { None };
        util::json(StatusCode::OK, &json!({"continuationToken": token}))
    })
}
