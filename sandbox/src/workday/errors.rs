//! Workday's JSON error body and its answers to injected faults.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::faults::{RateInfo, VendorFaults};
use crate::util;

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
