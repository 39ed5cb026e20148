//! Fake Workday Report-as-a-Service (see `reference/saas-apis.md` §4.1).
//!
//! Served under `/workday`:
//! `GET /workday/ccx/service/customreport2/{tenant}/{owner}/{report}?format=json` with Basic
//! `ISU_demo:workday-demo` (also `ISU_demo@{tenant}`) → `{"Report_Entry":[...]}`. The rows are
//! whatever the control API set (`PUT /_control/workday/rows`, `seed.workday_rows`), with
//! customer-style column names (`Employee_ID`, `Worker`, `Email_-_Work`, `Termination_Date`,
//! `Last_Day_of_Work`, `Primary_Termination_Reason`, `Business_Process_Event_WID`); every
//! report path serves the same rows. `format=csv` gives CSV; no `format` (or `simplexml`)
//! gives Workday's XML. Report prompts (other query parameters) are accepted and ignored.
//! Wrong credentials → 401 with a `WWW-Authenticate` header.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::creds;
use crate::faults::{RateInfo, VendorFaults};
use crate::state::SandboxHandle;
use crate::util::{self, Query};

/// Workday state.
#[derive(Default)]
pub(crate) struct WorkdayState {
    pub rows: Vec<Value>,
}

/// A JSON error.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    util::json(status, &json!({"error": message}))
}

/// Workday's answers to injected faults.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "workday"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status, "Internal Server Error")
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
    }
}

pub(crate) fn router() -> Router<SandboxHandle> {
    Router::new()
        .route(
            "/ccx/service/customreport2/{tenant}/{owner}/{report}",
            get(report),
        )
        .fallback(fallback)
}

async fn fallback() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn authorized(headers: &HeaderMap, tenant: &str) -> bool {
    util::basic_auth(headers).is_some_and(|(u, p)| {
        let user_ok = util::ct_eq(&u, creds::WORKDAY_USER)
            || util::ct_eq(&u, &format!("{}@{tenant}", creds::WORKDAY_USER));
        user_ok && util::ct_eq(&p, creds::WORKDAY_PASSWORD)
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn report(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((tenant, _owner, report)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !authorized(&headers, &tenant) {
        let mut resp = (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        util::set_header(&mut resp, "www-authenticate", "Basic realm=\"Workday\"");
        return resp;
    }
    let q = Query::parse(raw.as_deref());
    let rows = h.with(|s| s.workday.rows.clone());
    match q.get("format").map(str::to_ascii_lowercase).as_deref() {
        Some("json") => util::json(StatusCode::OK, &json!({"Report_Entry": rows})),
        Some("csv") => {
            let mut cols: Vec<String> = Vec::new();
            for r in &rows {
                if let Some(o) = r.as_object() {
                    for k in o.keys() {
                        if !cols.contains(k) {
                            cols.push(k.clone());
                        }
                    }
                }
            }
            let mut out = cols
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(",");
            out.push('\n');
            for r in &rows {
                let line = cols
                    .iter()
                    .map(|c| csv_field(&r.get(c).map(scalar).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",");
                out.push_str(&line);
                out.push('\n');
            }
            ([(header::CONTENT_TYPE, "text/csv;charset=UTF-8")], out).into_response()
        }
        None | Some("simplexml") | Some("xml") => {
            let mut out = format!(
                "<?xml version='1.0' encoding='UTF-8'?>\n<wd:Report_Data xmlns:wd=\"urn:com.workday.report/{}\">\n",
                xml_escape(&report)
            );
            for r in &rows {
                out.push_str("<wd:Report_Entry>\n");
                if let Some(o) = r.as_object() {
                    for (k, v) in o {
                        let tag = xml_escape(k);
                        out.push_str(&format!(
                            "<wd:{tag}>{}</wd:{tag}>\n",
                            xml_escape(&scalar(v))
                        ));
                    }
                }
                out.push_str("</wd:Report_Entry>\n");
            }
            out.push_str("</wd:Report_Data>\n");
            (
                [(header::CONTENT_TYPE, "application/xml;charset=UTF-8")],
                out,
            )
                .into_response()
        }
        Some(other) => error(StatusCode::BAD_REQUEST, &format!("Invalid format: {other}")),
    }
}
