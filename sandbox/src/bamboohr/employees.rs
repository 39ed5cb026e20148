//! `GET /api/v1/employees/{id}` and the classic
//! `GET /api/gateway.php/{company}/v1/employees/{id}`: one employee's fields, JSON or XML.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error;
use crate::state::SandboxHandle;
use crate::util::{self, Query};

pub(super) async fn employee_gateway(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((_company, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    employee_impl(h, headers, id, raw)
}

pub(super) async fn employee(
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::bamboohr::BambooEmployee;
    use crate::creds;
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
}
