//! Okta's error body (`errorCode`, `errorSummary`, `errorLink`, `errorId`, `errorCauses`), the
//! headers on every answer (`Date`, `X-Rate-Limit-*`, `X-Okta-Request-Id`) and its answers to
//! injected faults.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use crate::faults::{RateInfo, VendorFaults};
use crate::util;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// An opaque id derived from a process-wide counter (`oae...` for errors, `Z...` for requests).
fn opaque_id(prefix: &str) -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = util::hmac_sha256(b"okta-ids", &[&n.to_be_bytes()]);
    format!("{prefix}{}", util::b64url(&digest[..16]))
}

fn error_id() -> String {
    opaque_id("oae")
}

pub(super) fn okta_error(
    status: StatusCode,
    code: &str,
    summary: &str,
    causes: &[&str],
) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OktaError<'a> {
        error_code: &'a str,
        error_summary: &'a str,
        error_link: &'a str,
        error_id: String,
        error_causes: Vec<Value>,
    }
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    util::json(
        status,
        &OktaError {
            error_code: code,
            error_summary: summary,
            error_link: code,
            error_id: error_id(),
            error_causes: causes,
        },
    )
}

/// An injected error status.
pub(crate) fn fault_error(status: StatusCode) -> Response {
    okta_error(status, "E0000009", "Internal Server Error", &[])
}

/// The 429 answer (headers come from [`decorate`]).
pub(crate) fn rate_limited() -> Response {
    okta_error(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
        &[],
    )
}

/// Headers on every Okta answer.
pub(crate) fn decorate(resp: &mut Response, info: &RateInfo) {
    util::set_header(resp, "date", &util::http_date(Timestamp::now()));
    util::set_header(resp, "x-rate-limit-limit", &info.limit.to_string());
    util::set_header(resp, "x-rate-limit-remaining", &info.remaining.to_string());
    util::set_header(resp, "x-rate-limit-reset", &info.reset_epoch.to_string());
    util::set_header(resp, "x-okta-request-id", &opaque_id("Z"));
}

/// Okta's answers to injected faults and the headers on every answer.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "okta"
    }

    fn error(&self, status: StatusCode) -> Response {
        fault_error(status)
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        rate_limited()
    }

    fn decorate(&self, resp: &mut Response, info: &RateInfo) {
        decorate(resp, info);
    }

    fn decorate_injected_429(&self, resp: &mut Response, injected: &RateInfo) -> bool {
        decorate(resp, injected);
        if injected.retry_after.is_none() {
            resp.headers_mut().remove("x-rate-limit-reset");
        }
        true
    }

    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "PUT" && pattern == "/api/v1/groups/{group_id}/users/{user_id}"
    }
}

pub(super) fn unauthorized() -> Response {
    okta_error(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
        &[],
    )
}

pub(super) fn not_found(id: &str, kind: &str) -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} ({kind})"),
        &[],
    )
}

pub(super) fn invalid_search() -> Response {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
        &[],
    )
}
