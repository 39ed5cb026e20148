//! `GET /api/v1/employees/{id}` and the classic
//! `GET /api/gateway.php/{company}/v1/employees/{id}`: one employee's fields, JSON or XML.
//!
//! `onlyCurrent` (default true): "Setting to false will return future dated values from
//! history table fields" (<https://documentation.bamboohr.com/reference/get-employee>). So
//! unless it is `false`, a termination dated after today is not answered yet: the employee
//! reads as `Active` without a `terminationDate` until the date comes.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{BambooHost, error};
use crate::util::{self, Query};

pub(super) async fn employee_gateway<H: BambooHost>(
    State(h): State<H>,
    headers: HeaderMap,
    Path((_company, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    employee_impl(h, headers, id, raw)
}

pub(super) async fn employee<H: BambooHost>(
    State(h): State<H>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    employee_impl(h, headers, id, raw)
}

fn employee_impl<H: BambooHost>(
    h: H,
    headers: HeaderMap,
    id: String,
    raw: Option<String>,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let only_current = !matches!(q.get("onlyCurrent"), Some("false" | "0"));
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();
    let mut fields = q.all_split("fields");
    if fields.is_empty() {
        fields = vec!["firstName".into(), "lastName".into()];
    }
    let xml_only = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("xml") && !a.contains("json"));
    h.with_bamboo(|s| {
        let Some(e) = s.bamboo.employee(&id) else {
            return error(StatusCode::NOT_FOUND);
        };
        let mut e = e.clone();
        let future_termination = e
            .fields
            .get("terminationDate")
            .and_then(Value::as_str)
            .is_some_and(|d| util::is_plain_date(d) && d > today.as_str());
        if only_current && future_termination {
            e.fields.insert("terminationDate".into(), Value::Null);
            e.fields.insert("status".into(), json!("Active"));
        }
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
