//! Jira's error bodies (`{"errorMessages":[...],"errors":{...}}`), its 401 and 429 answers and
//! its answers to injected faults.

use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::faults::{RateInfo, VendorFaults};
use crate::util;

pub(super) const ADF_MESSAGE: &str =
    "Operation value must be an Atlassian Document (see the Atlassian Document Format)";

pub(super) const ADF_CONTENT_MESSAGE: &str = "We can't create this issue for you right now, it could be due to unsupported content you've entered into one or more of the issue fields. If this situation persists, contact your administrator as they'll be able to access more specific information in the log file.";

/// `{"errorMessages":[...],"errors":{}}`.
pub(crate) fn error_messages(status: StatusCode, messages: &[&str]) -> Response {
    util::json_utf8(status, &json!({"errorMessages": messages, "errors": {}}))
}

/// Jira's answers to injected faults and its rate-limit headers.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "jira"
    }

    fn error(&self, status: StatusCode) -> Response {
        error_messages(status, &["Internal server error"])
    }

    fn rate_limited(&self, info: &RateInfo) -> Response {
        rate_limited(info)
    }

    fn decorate(&self, resp: &mut Response, info: &RateInfo) {
        if info.limited {
            util::set_header(resp, "x-ratelimit-limit", &info.limit.to_string());
            util::set_header(resp, "x-ratelimit-remaining", &info.remaining.to_string());
            if (info.remaining as f64) < (info.limit as f64) * 0.2 {
                util::set_header(resp, "x-ratelimit-nearlimit", "true");
            }
        }
    }

    /// Creating an issue, or adding a comment (each POST appends one).
    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "POST"
            && matches!(
                pattern,
                "/rest/api/3/issue"
                    | "/rest/api/2/issue"
                    | "/rest/api/3/issue/{key}/comment"
                    | "/rest/api/2/issue/{key}/comment"
            )
    }

    /// The gateway's `/ex/jira/{cloudId}/rest/...` is the site's `/rest/...`: one route for
    /// rules, counts and creating routes.
    fn route_path<'a>(&self, path: &'a str) -> &'a str {
        path.strip_prefix("/ex/jira/")
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or(path)
    }
}

pub(super) fn field_errors(errors: &Map<String, Value>) -> Response {
    util::json_utf8(
        StatusCode::BAD_REQUEST,
        &json!({"errorMessages": [], "errors": errors}),
    )
}

/// The 429 answer.
pub(crate) fn rate_limited(info: &RateInfo) -> Response {
    let mut resp = error_messages(StatusCode::TOO_MANY_REQUESTS, &["Rate limit exceeded."]);
    // The header has minute precision: round the reset time up to the next full minute.
    let reset =
        Timestamp::from_second((info.reset_epoch + 59) / 60 * 60).unwrap_or(Timestamp::now());
    util::set_header(
        &mut resp,
        "x-ratelimit-reset",
        &util::jira_reset_time(reset),
    );
    util::set_header(&mut resp, "x-ratelimit-limit", &info.limit.to_string());
    util::set_header(&mut resp, "x-ratelimit-remaining", "0");
    util::set_header(&mut resp, "ratelimit-reason", "jira-burst-based");
    resp
}

pub(super) fn unauthorized() -> Response {
    let mut resp = error_messages(
        StatusCode::UNAUTHORIZED,
        &["You are not authenticated. Authentication required to perform this operation."],
    );
    util::set_header(&mut resp, "x-seraph-loginreason", "AUTHENTICATED_FAILED");
    util::set_header(
        &mut resp,
        "www-authenticate",
        "Basic realm=\"protected-area\"",
    );
    resp
}

/// The API gateway's 401 (`api.atlassian.com`), in its own `{"code","message"}` envelope
/// (seen as `{"code":401,"message":"Unauthorized; scope does not match"}` for a token without
/// the scope; the wording for a token it does not take at all is our choice).
pub(super) fn gateway_unauthorized() -> Response {
    let mut resp = util::json_utf8(
        StatusCode::UNAUTHORIZED,
        &json!({"code": 401, "message": "Unauthorized"}),
    );
    util::set_header(
        &mut resp,
        "www-authenticate",
        "Basic realm=\"api.atlassian.com\"",
    );
    resp
}

pub(super) fn issue_not_found() -> Response {
    error_messages(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
    )
}
