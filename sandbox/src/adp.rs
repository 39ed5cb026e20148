//! Fake ADP Workforce Now APIs (see `reference/saas-apis.md` §4.2).
//!
//! Served under `/adp` on the plain listener and, when [`crate::Sandbox::start_adp_mtls`] ran,
//! at the root **and** under `/adp` of a separate HTTPS listener that requires a client
//! certificate signed by the sandbox CA (connections without one fail the TLS handshake).
//!
//! Mutual TLS on the plain listener: by default the plain listener does not check
//! certificates (so tests can run over plain HTTP). With `adp_plain_requires_client_cert`
//! set, every ADP call on the plain listener answers 400
//! `{"error":"invalid_request","error_description":"proper client ssl certificate was not presented"}`,
//! which is what real ADP says to a client without its certificate.
//!
//! - `POST /auth/oauth/v2/token?grant_type=client_credentials` with client
//!   `adp-demo`/`adp-demo-secret` (HTTP Basic or form fields `client_id`/`client_secret`;
//!   `grant_type` also accepted in the form) → `{"access_token","token_type":"Bearer",
//!   "expires_in":3600,"scope":"api"}`.
//! - `GET /core/v1/event-notification-messages` (bearer) → 200 with the head message (raw text
//!   as seeded, `Content-Type: application/json`) and an `adp-msg-msgid` header; **204** when
//!   the queue is empty.
//! - `DELETE /core/v1/event-notification-messages/{msgid}` → 200 and the message leaves the
//!   queue (recorded as acked); an unknown id → 404.
//! - `GET /hr/v2/workers/{aoid}` → `{"workers":[{associateOID, workerID.idValue, person,
//!   businessCommunication.emails[nameCode.codeValue=Business], workerDates.terminationDate,
//!   workerStatus.statusCode.codeValue}]}`; unknown → 404.

use std::collections::{BTreeMap, VecDeque};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::creds;
use crate::faults::{RateInfo, VendorFaults};
use crate::state::{Inner, SandboxHandle};
use crate::util::{self, Query, Scheme};

/// An ADP worker record to seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AdpWorker {
    /// `associateOID`, e.g. `G3KXNKXW8VT5Q5M0`.
    pub associate_oid: String,
    /// `workerID.idValue`.
    pub worker_id: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Business email (`businessCommunication.emails`, `nameCode.codeValue: Business`).
    pub business_email: Option<String>,
    /// Personal email (`person.communication.emails`).
    pub personal_email: Option<String>,
    /// `workerDates.originalHireDate`.
    pub hire_date: Option<String>,
    /// `workerDates.terminationDate`.
    pub termination_date: Option<String>,
    /// `workerStatus.statusCode.codeValue`: `A` active, `T` terminated.
    pub status_code: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub id: String,
    pub body: String,
}

/// ADP state.
#[derive(Default)]
pub(crate) struct AdpState {
    tokens: Vec<(String, i64)>,
    pub queue: VecDeque<Message>,
    pub acks: Vec<String>,
    pub workers: BTreeMap<String, AdpWorker>,
}

pub(crate) fn push_message(s: &mut Inner, raw: String) -> String {
    let id = s.ids.uuid("adp-msg");
    s.adp.queue.push_back(Message {
        id: id.clone(),
        body: raw,
    });
    id
}

/// A worker-terminate event notification in the classic envelope (the official sample).
pub fn terminate_event(
    event_id: &str,
    aoid: &str,
    worker_id: &str,
    termination_date: &str,
) -> Value {
    json!({"events": [{
        "eventID": event_id,
        "serviceCategoryCode": {"codeValue": "HR"},
        "eventNameCode": {"codeValue": "worker.terminate"},
        "eventReasonCode": {"codeValue": "D", "shortName": "Attendance"},
        "eventStatusCode": {"codeValue": "COMPLETED", "shortName": "Completed"},
        "recordDateTime": "2026-01-05T11:51:23.122+0000",
        "creationDateTime": "2026-01-05T11:51:23.122+0000",
        "effectiveDateTime": format!("{termination_date}T04:00:00.000+0000"),
        "originator": {"associateOID": "G3E82PE9GT1QM4MP"},
        "actor": {"associateOID": "G3E82PE9GT1QM4MP"},
        "data": {
            "eventContext": {"worker": {"associateOID": aoid}},
            "output": {"worker": {
                "associateOID": aoid,
                "workerID": {"idValue": worker_id},
                "workerDates": {"originalHireDate": "2019-05-20", "terminationDate": termination_date},
                "workerStatus": {"statusCode": {"codeValue": "T", "shortName": "Terminated"},
                                 "effectiveDate": termination_date}
            }}
        },
        "links": []
    }]})
}

fn adp_error(status: StatusCode, method: &Method, path: &str, message: &str) -> Response {
    util::json(
        status,
        &json!({"response": {
            "responseCode": status.as_u16(),
            "methodCode": method.as_str(),
            "resourceUri": {"href": path},
            "serverRequestDateTime": format!("{:.3}", Timestamp::now()),
            "applicationCode": {"code": status.as_u16(), "typeCode": "error", "message": message},
        }}),
    )
}

/// An injected error status.
pub(crate) fn fault_error(status: StatusCode) -> Response {
    adp_error(
        status,
        &Method::GET,
        "",
        status.canonical_reason().unwrap_or("Error"),
    )
}

/// ADP's answers to injected faults.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "adp"
    }

    fn error(&self, status: StatusCode) -> Response {
        fault_error(status)
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        fault_error(StatusCode::TOO_MANY_REQUESTS)
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    util::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// The plain-listener certificate check (see the module docs).
fn cert_check(h: &SandboxHandle, scheme: Option<&Scheme>) -> Option<Response> {
    let plain = scheme.is_none_or(|s| s.0 == "http");
    if plain && h.with(|s| s.config.adp_plain_requires_client_cert) {
        return Some(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "proper client ssl certificate was not presented",
        ));
    }
    None
}

fn bearer_ok(h: &SandboxHandle, headers: &HeaderMap) -> bool {
    let Some(t) = util::bearer(headers) else {
        return false;
    };
    let now = util::now_secs();
    h.with(|s| {
        s.adp
            .tokens
            .iter()
            .any(|(tok, exp)| util::ct_eq(tok, &t) && *exp > now)
    })
}

/// ADP routes (relative).
pub(crate) fn router() -> Router<SandboxHandle> {
    Router::new()
        .route("/auth/oauth/v2/token", post(token))
        .route("/core/v1/event-notification-messages", get(next_message))
        .route(
            "/core/v1/event-notification-messages/{msg_id}",
            delete(ack_message),
        )
        .route("/hr/v2/workers/{aoid}", get(worker))
        .fallback(fallback)
}

async fn fallback(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    adp_error(
        StatusCode::NOT_FOUND,
        &method,
        uri.path(),
        "Resource not found",
    )
}

async fn token(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if let Some(r) = cert_check(&h, scheme.as_deref()) {
        return r;
    }
    let q = Query::parse(raw.as_deref());
    let form = Query::parse(std::str::from_utf8(&body).ok());
    let grant = q.get("grant_type").or_else(|| form.get("grant_type"));
    match grant {
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type '{other}' is not supported"),
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant_type parameter value",
            );
        }
    }
    let creds_given = util::basic_auth(&headers).or_else(|| {
        Some((
            form.get("client_id")?.to_string(),
            form.get("client_secret")?.to_string(),
        ))
    });
    let ok = creds_given.is_some_and(|(id, secret)| {
        util::ct_eq(&id, creds::ADP_CLIENT_ID) && util::ct_eq(&secret, creds::ADP_CLIENT_SECRET)
    });
    if !ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The given client credentials were not valid",
        );
    }
    h.with(|s| {
        let tok = s.ids.uuid("adp-token");
        s.adp.tokens.push((tok.clone(), util::now_secs() + 3600));
        util::json(
            StatusCode::OK,
            &json!({"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": "api"}),
        )
    })
}

async fn next_message(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    method: Method,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    if let Some(r) = cert_check(&h, scheme.as_deref()) {
        return r;
    }
    if !bearer_ok(&h, &headers) {
        return adp_error(
            StatusCode::UNAUTHORIZED,
            &method,
            uri.path(),
            "Invalid Access Token",
        );
    }
    h.with(|s| match s.adp.queue.front() {
        None => StatusCode::NO_CONTENT.into_response(),
        Some(m) => {
            let mut resp = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
                m.body.clone(),
            )
                .into_response();
            util::set_header(&mut resp, "adp-msg-msgid", &m.id);
            resp
        }
    })
}

async fn ack_message(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    method: Method,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(msg_id): Path<String>,
) -> Response {
    if let Some(r) = cert_check(&h, scheme.as_deref()) {
        return r;
    }
    if !bearer_ok(&h, &headers) {
        return adp_error(
            StatusCode::UNAUTHORIZED,
            &method,
            uri.path(),
            "Invalid Access Token",
        );
    }
    h.with(|s| match s.adp.queue.iter().position(|m| m.id == msg_id) {
        Some(i) => {
            s.adp.queue.remove(i);
            s.adp.acks.push(msg_id);
            StatusCode::OK.into_response()
        }
        None => adp_error(
            StatusCode::NOT_FOUND,
            &method,
            uri.path(),
            "Message not found",
        ),
    })
}

fn worker_json(w: &AdpWorker) -> Value {
    let mut dates = serde_json::Map::new();
    if let Some(d) = &w.hire_date {
        dates.insert("originalHireDate".into(), json!(d));
    }
    if let Some(d) = &w.termination_date {
        dates.insert("terminationDate".into(), json!(d));
    }
    let status = if w.status_code.is_empty() {
        "A"
    } else {
        w.status_code.as_str()
    };
    let short = if status == "T" {
        "Terminated"
    } else {
        "Active"
    };
    let mut ws = json!({"statusCode": {"codeValue": status, "shortName": short}});
    if let Some(d) = &w.termination_date {
        ws["effectiveDate"] = json!(d);
    }
    let business: Vec<Value> = w
        .business_email
        .iter()
        .map(|e| json!({"emailUri": e, "nameCode": {"codeValue": "Business", "shortName": "Business"}}))
        .collect();
    let personal: Vec<Value> = w
        .personal_email
        .iter()
        .map(|e| json!({"emailUri": e, "nameCode": {"codeValue": "Personal", "shortName": "Personal"}}))
        .collect();
    json!({
        "associateOID": w.associate_oid,
        "workerID": {"idValue": w.worker_id},
        "person": {
            "legalName": {"givenName": w.given_name, "familyName1": w.family_name,
                          "formattedName": format!("{}, {}", w.family_name, w.given_name)},
            "communication": {"emails": personal}
        },
        "businessCommunication": {"emails": business},
        "workerDates": dates,
        "workerStatus": ws,
    })
}

async fn worker(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    method: Method,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(aoid): Path<String>,
) -> Response {
    if let Some(r) = cert_check(&h, scheme.as_deref()) {
        return r;
    }
    if !bearer_ok(&h, &headers) {
        return adp_error(
            StatusCode::UNAUTHORIZED,
            &method,
            uri.path(),
            "Invalid Access Token",
        );
    }
    h.with(|s| match s.adp.workers.get(&aoid) {
        Some(w) => util::json(StatusCode::OK, &json!({"workers": [worker_json(w)]})),
        None => adp_error(
            StatusCode::NOT_FOUND,
            &method,
            uri.path(),
            &format!("Worker {aoid} not found"),
        ),
    })
}
