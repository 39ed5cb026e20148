//! `GET /hr/v2/workers/{aoid}`: one worker record.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::AdpHost;
use super::errors::adp_error;
use super::state::AdpWorker;
use crate::util;

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

pub(super) async fn worker<H: AdpHost>(
    State(h): State<H>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    Path(aoid): Path<String>,
) -> Response {
    h.with_adp(|s| match s.adp.workers.get(&aoid) {
        Some(w) => util::json(StatusCode::OK, &json!({"workers": [worker_json(w)]})),
        None => adp_error(
            StatusCode::NOT_FOUND,
            &method,
            uri.path(),
            &format!("Worker {aoid} not found"),
        ),
    })
}
