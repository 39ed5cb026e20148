//! The `/_control` HTTP API: the same operations as [`crate::SandboxHandle`], as JSON.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /_control/health` | | `{"ok":true,"systems":{name: url}}` |
//! | `POST /_control/reset` | | 204; forgets objects, config, faults, limits, counts |
//! | `POST /_control/seed` | [`crate::SeedData`]: optional arrays `sessions`, `actors`, `users`, `watchlists`, `jira_projects`, `servicenow` (`{table: [records]}`), `okta_users`, `okta_groups`, `okta_memberships`, `okta_group_rules`, `workday_rows`, `adp_messages`, `adp_workers`, `bamboohr_employees`, `bamboohr_api_key_employee` (id) | 204 |
//! | `POST /_control/seed-demo` | optional `{"departing_watchlist": false}` | 204; the demo data set |
//! | `GET /_control/state` | | [`crate::CreatedState`]: Jira issues + comments, ServiceNow incidents + work notes/comments, watchlists and members, actor dates, Okta group members, ADP acks, session notes and states, BambooHR deliveries |
//! | `GET /_control/counts` | | [`crate::RequestCounts`]: `{"routes":{"jira POST /rest/api/3/issue":3},"statuses":{"jira":{"201":3}}}` |
//! | `DELETE /_control/counts` | | 204 |
//! | `GET /_control/faults` | | `{"seed","rules":[...],"hits":[...]}` |
//! | `PUT /_control/faults` | a list of fault rules, or `{"seed":N,"rules":[...]}` (see [`crate::faults`]) | 204 |
//! | `POST /_control/faults` | one fault rule (appended) | 204 |
//! | `DELETE /_control/faults` | | 204 |
//! | `GET /_control/rate-limits` | | `{"jira": 50.0}` |
//! | `PUT /_control/rate-limits` | `{"jira": 50, "okta": null}` (rps; null removes) | 204 |
//! | `GET /_control/config` | | [`crate::SandboxConfig`] |
//! | `PUT /_control/config` | partial [`crate::SandboxConfig`] ([`crate::ConfigPatch`]) | the new config |
//! | `POST /_control/incydr/expire-tokens` | | 204; every token issued so far → 401 |
//! | `POST /_control/incydr/sessions/{id}/touch` | [`crate::incydr::TouchSession`] (`{}` is fine) | the session |
//! | `POST /_control/jira/issues/{key}/transition` | [`crate::jira::JiraAnalystTransition`] (`{"to_status":"Done","resolution":"Not a bug","author":"analyst-1"}`) | the issue ([`crate::JiraIssueView`]); 409 `{"error"}` when Jira would refuse |
//! | `POST /_control/servicenow/incidents/{id}/update` | [`crate::servicenow::SnowAnalystUpdate`] (`{"fields":{"state":"6","close_code":"Solution provided","close_notes":"..."},"user":"analyst.one"}`; id = sys_id or number) | the incident ([`crate::SnowIncidentView`]); 409 `{"error"}` when the instance would refuse |
//! | `POST /_control/servicenow/autoclose` | `{"days": 7}` (default 7) | `{"closed": ["INC0010001", ...]}` |
//! | `PUT /_control/workday/rows` | JSON array of report rows (up to 64 MB: a 20,000-row report is fine) | 204 |
//! | `PUT /_control/workday/empty-answer` | the answer to a JSON pull while the report has no rows: `{}` or `{"Report_Entry":[]}` (the default) | 204 |
//! | `POST /_control/adp/messages` | any text (queued raw) | `{"msgId": "..."}` |
//! | `GET /_control/adp/certs` | | [`crate::TlsMaterial`] PEMs (404 before the mTLS listener runs) |
//! | `POST /_control/bamboohr/webhook` | [`crate::bamboohr::WebhookRequest`] | [`crate::bamboohr::WebhookDelivery`] |
//!
//! Bad bodies get 400 `{"error":"..."}`.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::faults::{FaultConfig, FaultConfigInput, FaultRule, SYSTEMS};
use crate::incydr::TouchSession;
use crate::state::{ConfigPatch, SandboxHandle, SeedData};
use crate::{DemoOptions, bamboohr, demo};

fn bad(msg: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": msg.to_string()})),
    )
        .into_response()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(text).map_err(bad)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) fn router() -> Router<SandboxHandle> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset))
        .route("/seed", post(seed))
        .route("/seed-demo", post(seed_demo))
        .route("/state", get(state))
        .route("/counts", get(counts).delete(reset_counts))
        .route(
            "/faults",
            get(get_faults)
                .put(put_faults)
                .post(add_fault)
                .delete(clear_faults),
        )
        .route("/rate-limits", get(get_limits).put(put_limits))
        .route("/config", get(get_config).put(put_config))
        .route("/incydr/expire-tokens", post(expire_tokens))
        .route("/incydr/sessions/{id}/touch", post(touch))
        .route("/jira/issues/{key}/transition", post(jira_transition))
        .route("/servicenow/incidents/{id}/update", post(snow_update))
        .route("/servicenow/autoclose", post(snow_autoclose))
        .route(
            "/workday/rows",
            put(workday_rows).layer(DefaultBodyLimit::max(WORKDAY_ROWS_MAX_BYTES)),
        )
        .route("/workday/empty-answer", put(workday_empty_answer))
        .route("/adp/messages", post(adp_message))
        .route("/adp/certs", get(adp_certs))
        .route("/bamboohr/webhook", post(bamboo_webhook))
}

async fn health(headers: HeaderMap) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let systems: BTreeMap<&str, String> = SYSTEMS
        .iter()
        .map(|s| (*s, format!("http://{host}/{s}")))
        .collect();
    axum::Json(json!({"ok": true, "systems": systems})).into_response()
}

async fn reset(State(h): State<SandboxHandle>) -> Response {
    h.reset();
    no_content()
}

async fn seed(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<SeedData>(&body) {
        Ok(d) => {
            h.seed(d);
            no_content()
        }
        Err(r) => r,
    }
}

async fn seed_demo(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<DemoOptions>(&body) {
        Ok(o) => {
            demo::seed_demo_with(&h, &o);
            no_content()
        }
        Err(r) => r,
    }
}

async fn state(State(h): State<SandboxHandle>) -> Response {
    axum::Json(h.snapshot()).into_response()
}

async fn counts(State(h): State<SandboxHandle>) -> Response {
    axum::Json(h.counts()).into_response()
}

async fn reset_counts(State(h): State<SandboxHandle>) -> Response {
    h.reset_counts();
    no_content()
}

async fn get_faults(State(h): State<SandboxHandle>) -> Response {
    let cfg = h.faults();
    axum::Json(json!({"seed": cfg.seed, "rules": cfg.rules, "hits": h.fault_hits()}))
        .into_response()
}

async fn put_faults(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<FaultConfigInput>(&body) {
        Ok(v) => {
            h.set_faults(FaultConfig::from(v));
            no_content()
        }
        Err(r) => r,
    }
}

async fn add_fault(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<FaultRule>(&body) {
        Ok(r) => {
            h.add_fault(r);
            no_content()
        }
        Err(r) => r,
    }
}

async fn clear_faults(State(h): State<SandboxHandle>) -> Response {
    h.clear_faults();
    no_content()
}

async fn get_limits(State(h): State<SandboxHandle>) -> Response {
    axum::Json(h.rate_limits()).into_response()
}

async fn put_limits(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    let map = match parse::<BTreeMap<String, Option<f64>>>(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    if let Some(unknown) = map.keys().find(|k| !SYSTEMS.contains(&k.as_str())) {
        return bad(format!("unknown system '{unknown}'"));
    }
    for (system, rps) in map {
        h.set_rate_limit(&system, rps);
    }
    no_content()
}

async fn get_config(State(h): State<SandboxHandle>) -> Response {
    axum::Json(h.config()).into_response()
}

async fn put_config(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<ConfigPatch>(&body) {
        Ok(p) => axum::Json(h.update_config(p)).into_response(),
        Err(r) => r,
    }
}

async fn expire_tokens(State(h): State<SandboxHandle>) -> Response {
    h.expire_incydr_tokens();
    no_content()
}

async fn touch(State(h): State<SandboxHandle>, Path(id): Path<String>, body: Bytes) -> Response {
    let t = match parse::<TouchSession>(&body) {
        Ok(t) => t,
        Err(r) => return r,
    };
    match h.touch_session(&id, t) {
        Some(s) => axum::Json(s).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": format!("no session {id}")})),
        )
            .into_response(),
    }
}

/// 409 `{"error"}`: the fake refuses what was asked, as the real service would.
fn refused(msg: String) -> Response {
    (StatusCode::CONFLICT, axum::Json(json!({ "error": msg }))).into_response()
}

async fn jira_transition(
    State(h): State<SandboxHandle>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    match parse::<crate::jira::JiraAnalystTransition>(&body) {
        Ok(t) => match h.jira_analyst_transition(&key, &t) {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => refused(e),
        },
        Err(r) => r,
    }
}

async fn snow_update(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match parse::<crate::servicenow::SnowAnalystUpdate>(&body) {
        Ok(u) => match h.servicenow_analyst_update(&id, &u) {
            Ok(v) => axum::Json(v).into_response(),
            Err(e) => refused(e),
        },
        Err(r) => r,
    }
}

#[derive(serde::Deserialize)]
struct Autoclose {
    #[serde(default = "seven")]
    days: u64,
}

fn seven() -> u64 {
    7
}

async fn snow_autoclose(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<Autoclose>(&body) {
        Ok(a) => axum::Json(json!({ "closed": h.servicenow_autoclose(a.days) })).into_response(),
        Err(r) => r,
    }
}

async fn workday_rows(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<Vec<Value>>(&body) {
        Ok(rows) => {
            h.set_workday_rows(rows);
            no_content()
        }
        Err(r) => r,
    }
}

/// The largest row set `PUT /_control/workday/rows` takes.
const WORKDAY_ROWS_MAX_BYTES: usize = 64 * 1024 * 1024;

async fn workday_empty_answer(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    match parse::<Value>(&body) {
        Ok(v) if v == json!({}) => h.set_workday_empty_answer(true),
        Ok(v) if v == json!({"Report_Entry": []}) => h.set_workday_empty_answer(false),
        Ok(_) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "expected {} or {\"Report_Entry\":[]}"})),
            )
                .into_response();
        }
        Err(r) => return r,
    }
    no_content()
}

async fn adp_message(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    let raw = String::from_utf8_lossy(&body).into_owned();
    let id = h.push_adp_message(raw);
    axum::Json(json!({"msgId": id})).into_response()
}

async fn adp_certs(State(h): State<SandboxHandle>) -> Response {
    match h.adp_tls() {
        Some(m) => axum::Json(m).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "the ADP mTLS listener is not running"})),
        )
            .into_response(),
    }
}

async fn bamboo_webhook(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    let req = match parse::<bamboohr::WebhookRequest>(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    match h.send_bamboohr_webhook(req).await {
        Ok(d) => axum::Json(d).into_response(),
        Err(e) => bad(e),
    }
}
