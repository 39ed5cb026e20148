//! ADP's error envelopes (the API's `{"response":{...}}` and the token endpoint's OAuth
//! errors) and its answers to injected faults.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::json;

use crate::faults::{RateInfo, VendorFaults};
use crate::util;

pub(crate) fn adp_error(
    status: StatusCode,
    method: &Method,
    path: &str,
    message: &str,
) -> Response {
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

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    util::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}
