//! ServiceNow's error envelope (`{"error":{"message","detail"},"status":"failure"}`), its
//! 401 and 429 answers, its rate-limit headers and its answers to injected faults.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::faults::{RateInfo, VendorFaults};
use crate::util;

const RATE_RULE_SYS_ID: &str = "d2ad1b7fdb8bd010b2ab9b7a0b961960";

/// `{"error":{"message","detail"},"status":"failure"}`.
pub(crate) fn error(status: StatusCode, message: &str, detail: Option<&str>) -> Response {
    #[derive(serde::Serialize)]
    struct Inner<'a> {
        message: &'a str,
        detail: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        error: Inner<'a>,
        status: &'static str,
    }
    util::json_utf8(
        status,
        &Envelope {
            error: Inner { message, detail },
            status: "failure",
        },
    )
}

/// The 429 answer.
pub(crate) fn rate_limited(info: &RateInfo) -> Response {
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
        Some("The request was rejected by the inbound REST API rate limit rule"),
    );
    decorate(&mut resp, info);
    resp
}

/// Rate-limit headers sent while a rule applies.
pub(crate) fn decorate(resp: &mut Response, info: &RateInfo) {
    util::set_header(resp, "x-ratelimit-limit", &info.limit.to_string());
    util::set_header(resp, "x-ratelimit-reset", &info.reset_epoch.to_string());
    util::set_header(resp, "x-ratelimit-rule", RATE_RULE_SYS_ID);
}

/// ServiceNow's answers to injected faults and its rate-limit headers.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "servicenow"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status, "Internal server error", None)
    }

    fn rate_limited(&self, info: &RateInfo) -> Response {
        rate_limited(info)
    }

    fn decorate(&self, resp: &mut Response, info: &RateInfo) {
        if info.limited {
            decorate(resp, info);
        }
    }

    /// Inserting a record, or updating one (a work note or comment in the update appends a
    /// journal entry each time).
    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        match method {
            "POST" => {
                pattern == "/api/now/table/{table}" || pattern == "/api/now/{version}/table/{table}"
            }
            "PATCH" | "PUT" => {
                pattern == "/api/now/table/{table}/{sys_id}"
                    || pattern == "/api/now/{version}/table/{table}/{sys_id}"
            }
            _ => false,
        }
    }
}

pub(super) fn unauthorized() -> Response {
    let mut resp = error(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        Some("Required to provide Auth information"),
    );
    util::set_header(&mut resp, "www-authenticate", "BASIC realm=\"Service-now\"");
    resp
}

pub(super) fn record_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

pub(super) fn body_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match util::parse_json(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not a JSON object."),
        )),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not valid JSON."),
        )),
    }
}
