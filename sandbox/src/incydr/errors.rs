//! Incydr's error body (`{"status":N,"error":"<reason>","message":"..."}`) and its answers to
//! injected faults.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::faults::{RateInfo, VendorFaults};
use crate::util;

/// The Incydr error body.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    util::json(
        status,
        &json!({
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        }),
    )
}

/// Incydr's answers to injected faults.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "incydr"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status, "Injected fault")
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        error(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
    }

    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "POST" && pattern == "/v2/watchlists/{watchlist_id}/included-actors/add"
    }
}

pub(super) fn bad_request(message: impl AsRef<str>) -> Response {
    error(StatusCode::BAD_REQUEST, message.as_ref())
}

pub(super) fn not_found(message: impl AsRef<str>) -> Response {
    error(StatusCode::NOT_FOUND, message.as_ref())
}

pub(super) fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}
