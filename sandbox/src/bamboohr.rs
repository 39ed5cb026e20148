//! Fake BambooHR (see `reference/saas-apis.md` §4.3).
//!
//! Served under `/bamboohr`. Basic auth with the API key as user name and any password
//! (`bamboo-demo:x`); otherwise 401 with an empty body.
//!
//! - `GET /api/v1/employees/{id}?fields=workEmail,status,terminationDate` and the classic
//!   `GET /api/gateway.php/{company}/v1/employees/{id}?fields=...` → `{"id":"<id>", <field>:
//!   <value or null>...}` (without `fields`: `firstName`, `lastName`). Unknown id → 404.
//! - Id `0` is the employee the API key belongs to (BambooHR documents it so; riskflow's
//!   credentials check reads it): the record of the employee set as the key's owner
//!   (`SeedData::bamboohr_api_key_employee`; the demo seeds one), answered under that
//!   employee's own id. With no owner set, a record stored under the literal id `0` is served,
//!   else 404.
//!   Real BambooHR answers XML unless the client sends `Accept: application/json`; the sandbox
//!   answers JSON unless `Accept` asks for XML only.
//! - Pushing: [`bamboohr_sign`] is the signer (hex HMAC-SHA256 over body ‖ timestamp) and
//!   `POST /_control/bamboohr/webhook` ([`WebhookRequest`]) makes the sandbox POST a signed
//!   event-based (`{"type","timestamp","data":{companyId,employeeId,changedFields}}`) or
//!   field-based (`{"employees":[{id,action,timestamp,changedFields,fields}]}`) webhook with
//!   `X-BambooHR-Timestamp` and `X-BambooHR-Signature` to a URL.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::creds;
use crate::faults::{RateInfo, VendorFaults};
use crate::state::SandboxHandle;
use crate::util::{self, Query};

/// Hex HMAC-SHA256 of `body ‖ timestamp`, keyed with the webhook's private key (the value of
/// `X-BambooHR-Signature`).
pub fn bamboohr_sign(key: &[u8], body: &[u8], timestamp: &str) -> String {
    hex::encode(util::hmac_sha256(key, &[body, timestamp.as_bytes()]))
}

/// A BambooHR employee record.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BambooEmployee {
    /// Employee id (a number as a string).
    pub id: String,
    /// Field values by BambooHR field name (`workEmail`, `status`, `terminationDate`, ...).
    pub fields: BTreeMap<String, Value>,
}

/// What `POST /_control/bamboohr/webhook` sends.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookRequest {
    /// Where to POST.
    pub url: String,
    /// `event` (default, event-based payload) or `fields` (legacy field-based payload).
    pub format: Option<String>,
    /// Employee the event is about.
    pub employee_id: String,
    /// Event type (default `employee.updated`); for `fields` the action (default `Updated`).
    pub event_type: Option<String>,
    /// Changed fields (default `["status"]`).
    pub changed_fields: Option<Vec<String>>,
    /// Field values for the `fields` format (default: the employee's `workEmail`, `status`,
    /// `terminationDate`).
    pub fields: Option<BTreeMap<String, Value>>,
    /// Company id in event payloads (default `12345`).
    pub company_id: Option<String>,
    /// Signing key (default the demo webhook key).
    pub key: Option<String>,
    /// `X-BambooHR-Timestamp` value (default now, `YYYY-MM-DDTHH:MM:SSZ`).
    pub timestamp: Option<String>,
    /// Send this body instead (a JSON string is sent as raw text).
    pub payload: Option<Value>,
    /// Send a wrong signature.
    pub bad_signature: bool,
}

/// One webhook the sandbox sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WebhookDelivery {
    /// Target.
    pub url: String,
    /// HTTP status of the answer (0 when the request failed).
    pub status: u16,
    /// Body of the answer.
    pub response_body: String,
    /// Transport error, if any.
    pub error: Option<String>,
    /// `X-BambooHR-Timestamp`.
    pub timestamp: String,
    /// `X-BambooHR-Signature`.
    pub signature: String,
    /// The body sent.
    pub body: String,
}

/// BambooHR state.
#[derive(Default)]
pub(crate) struct BambooState {
    pub employees: BTreeMap<String, BambooEmployee>,
    /// Id of the employee the API key belongs to (what id `0` resolves to).
    pub api_key_employee: Option<String>,
    pub deliveries: Vec<WebhookDelivery>,
}

impl BambooState {
    /// The employee behind `id`; `0` is the API key's own employee record.
    pub(crate) fn employee(&self, id: &str) -> Option<&BambooEmployee> {
        let owner = match id {
            "0" => self
                .api_key_employee
                .as_deref()
                .and_then(|o| self.employees.get(o)),
            _ => None,
        };
        owner.or_else(|| self.employees.get(id))
    }
}

/// A bare error status.
pub(crate) fn error(status: StatusCode) -> Response {
    status.into_response()
}

/// BambooHR's answers to injected faults.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "bamboohr"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status)
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        error(StatusCode::TOO_MANY_REQUESTS)
    }
}

pub(crate) fn router() -> Router<SandboxHandle> {
    Router::new()
        .route("/api/v1/employees/{id}", get(employee))
        .route(
            "/api/gateway.php/{company}/v1/employees/{id}",
            get(employee_gateway),
        )
        .fallback(fallback)
}

async fn fallback() -> Response {
    error(StatusCode::NOT_FOUND)
}

fn authorized(headers: &HeaderMap) -> bool {
    util::basic_auth(headers).is_some_and(|(u, _)| util::ct_eq(&u, creds::BAMBOOHR_API_KEY))
}

async fn employee_gateway(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((_company, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    employee_impl(h, headers, id, raw)
}

async fn employee(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    employee_impl(h, headers, id, raw)
}

fn employee_impl(
    h: SandboxHandle,
    headers: HeaderMap,
    id: String,
    raw: Option<String>,
) -> Response {
    if !authorized(&headers) {
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        util::set_header(&mut resp, "www-authenticate", "Basic realm=\"BambooHR\"");
        return resp;
    }
    let q = Query::parse(raw.as_deref());
    let mut fields = q.all_split("fields");
    if fields.is_empty() {
        fields = vec!["firstName".into(), "lastName".into()];
    }
    let xml_only = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("xml") && !a.contains("json"));
    h.with(|s| {
        let Some(e) = s.bamboo.employee(&id) else {
            return error(StatusCode::NOT_FOUND);
        };
        if xml_only {
            let mut out = format!("<?xml version=\"1.0\"?>\n<employee id=\"{}\">\n", e.id);
            for f in &fields {
                let v = e.fields.get(f).map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                });
                out.push_str(&format!(
                    "<field id=\"{f}\">{}</field>\n",
                    v.unwrap_or_default()
                        .replace('&', "&amp;")
                        .replace('<', "&lt;")
                ));
            }
            out.push_str("</employee>\n");
            return ([(header::CONTENT_TYPE, "text/xml")], out).into_response();
        }
        let mut out = Map::new();
        out.insert("id".into(), json!(e.id));
        for f in &fields {
            out.insert(f.clone(), e.fields.get(f).cloned().unwrap_or(Value::Null));
        }
        util::json(StatusCode::OK, &out)
    })
}

fn id_value(id: &str) -> Value {
    id.parse::<i64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(id))
}

pub(crate) async fn send_webhook(
    h: &SandboxHandle,
    req: WebhookRequest,
) -> Result<WebhookDelivery, String> {
    if req.url.is_empty() {
        return Err("url is required".into());
    }
    let now = Timestamp::now();
    let timestamp = req
        .timestamp
        .clone()
        .unwrap_or_else(|| now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    let payload_ts = now.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let changed = req
        .changed_fields
        .clone()
        .unwrap_or_else(|| vec!["status".to_string()]);
    let body = match &req.payload {
        Some(Value::String(raw)) => raw.clone(),
        Some(other) => other.to_string(),
        None => match req.format.as_deref().unwrap_or("event") {
            "event" => json!({
                "type": req.event_type.clone().unwrap_or_else(|| "employee.updated".into()),
                "timestamp": payload_ts,
                "data": {
                    "companyId": req.company_id.clone().unwrap_or_else(|| "12345".into()),
                    "employeeId": req.employee_id,
                    "changedFields": changed,
                }
            })
            .to_string(),
            "fields" => {
                let values = req.fields.clone().unwrap_or_else(|| {
                    h.with(|s| {
                        s.bamboo
                            .employees
                            .get(&req.employee_id)
                            .map(|e| {
                                ["workEmail", "status", "terminationDate"]
                                    .iter()
                                    .filter_map(|k| {
                                        e.fields.get(*k).map(|v| (k.to_string(), v.clone()))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                });
                let fields: Map<String, Value> = values
                    .into_iter()
                    .map(|(k, v)| (k, json!({"value": v})))
                    .collect();
                json!({"employees": [{
                    "id": id_value(&req.employee_id),
                    "action": req.event_type.clone().unwrap_or_else(|| "Updated".into()),
                    "timestamp": payload_ts,
                    "changedFields": changed,
                    "fields": fields,
                }]})
                .to_string()
            }
            other => return Err(format!("unknown format '{other}' (use event or fields)")),
        },
    };
    let key = req
        .key
        .clone()
        .unwrap_or_else(|| creds::BAMBOOHR_WEBHOOK_KEY.to_string());
    let mut signature = bamboohr_sign(key.as_bytes(), body.as_bytes(), &timestamp);
    if req.bad_signature {
        signature = bamboohr_sign(b"wrong-key", body.as_bytes(), &timestamp);
    }
    let sent = h
        .http
        .post(&req.url)
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-BambooHR-Timestamp", &timestamp)
        .header("X-BambooHR-Signature", &signature)
        .body(body.clone())
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await;
    let mut delivery = WebhookDelivery {
        url: req.url.clone(),
        timestamp,
        signature,
        body,
        ..Default::default()
    };
    match sent {
        Ok(resp) => {
            delivery.status = resp.status().as_u16();
            delivery.response_body = resp.text().await.unwrap_or_default();
        }
        Err(e) => delivery.error = Some(e.to_string()),
    }
    h.with(|s| s.bamboo.deliveries.push(delivery.clone()));
    Ok(delivery)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SeedData;

    /// GET a BambooHR path through the sandbox's router, as the demo key.
    fn get(h: &SandboxHandle, path: &str) -> (StatusCode, Value) {
        use tower::ServiceExt;
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:x", creds::BAMBOOHR_API_KEY),
        );
        let req = axum::http::Request::get(format!("/bamboohr{path}"))
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::ACCEPT, "application/json")
            .body(axum::body::Body::empty())
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = crate::app(h.clone()).oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
            (status, v)
        })
    }

    fn employee(id: &str, email: &str) -> BambooEmployee {
        let mut fields = BTreeMap::new();
        fields.insert("firstName".to_string(), json!("First"));
        fields.insert("workEmail".to_string(), json!(email));
        BambooEmployee {
            id: id.to_string(),
            fields,
        }
    }

    #[test]
    fn employee_zero_is_the_api_keys_own_record_in_the_demo() {
        let h = SandboxHandle::new();
        crate::seed_demo(&h);
        for prefix in ["/api", "/api/gateway.php/acme"] {
            let (status, v) = get(&h, &format!("{prefix}/v1/employees/0"));
            assert_eq!(status, StatusCode::OK, "{prefix}");
            assert_eq!(
                v,
                json!({"id": "40400", "firstName": "Harper", "lastName": "Resources"})
            );
            let (status, v) = get(
                &h,
                &format!("{prefix}/v1/employees/0?fields=workEmail,status"),
            );
            assert_eq!(status, StatusCode::OK, "{prefix}");
            assert_eq!(
                v,
                json!({"id": "40400", "workEmail": "hr.admin@example.com", "status": "Active"})
            );
            // Other ids are unchanged.
            let (status, v) = get(&h, &format!("{prefix}/v1/employees/40401"));
            assert_eq!((status, &v["id"]), (StatusCode::OK, &json!("40401")));
            assert_eq!(
                get(&h, &format!("{prefix}/v1/employees/1")).0,
                StatusCode::NOT_FOUND
            );
        }
    }

    #[test]
    fn employee_zero_follows_the_seeded_key_owner_else_a_literal_record() {
        let h = SandboxHandle::new();
        assert_eq!(get(&h, "/api/v1/employees/0").0, StatusCode::NOT_FOUND);
        h.add_bamboohr_employee(employee("0", "literal@example.com"));
        assert_eq!(
            get(&h, "/api/v1/employees/0?fields=workEmail").1["workEmail"],
            "literal@example.com"
        );
        h.seed(SeedData {
            bamboohr_employees: vec![employee("7", "owner@example.com")],
            bamboohr_api_key_employee: Some("7".into()),
            ..SeedData::default()
        });
        let (status, v) = get(&h, "/api/gateway.php/acme/v1/employees/0?fields=workEmail");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v, json!({"id": "7", "workEmail": "owner@example.com"}));
    }

    #[test]
    fn the_signature_is_hex_hmac_over_body_then_timestamp() {
        let sig = bamboohr_sign(b"k", b"{}", "2026-05-21T14:00:00Z");
        assert_eq!(sig.len(), 64);
        assert_eq!(
            sig,
            hex::encode(util::hmac_sha256(b"k", &[b"{}2026-05-21T14:00:00Z"]))
        );
        assert_ne!(sig, bamboohr_sign(b"k", b"{} ", "2026-05-21T14:00:00Z"));
    }
}
