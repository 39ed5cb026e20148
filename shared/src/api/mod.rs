//! The HTTP routes of the connections API and the HR webhook, as plain async handlers over a
//! transport-neutral request and response. The `connections-api` and `hr-departures` Lambda
//! functions adapt API Gateway events to them; `riskflow dev` mounts the same handlers in a local
//! server. Status codes are decided here, once per route; bodies carry a clear, safe message.

mod audit;
pub mod connections;
mod containments;
mod items;

use crate::domain::ConnectionKind;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The largest body any route accepts.
pub const MAX_BODY: usize = 256 * 1024;

/// A request, as both transports hand it over.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// The path without the stage prefix or query string, e.g. `/connections/jira`.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Who is calling: the IAM principal on AWS, `local` in local mode.
    pub principal: String,
}

/// A response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiResponse {
    pub fn json(status: StatusCode, body: Value) -> Self {
        ApiResponse { status, body }
    }

    pub fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// An error with a message a person can act on.
    pub fn error(status: StatusCode, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "message": message.into() }))
    }

    pub fn message(&self) -> Option<&str> {
        self.body["message"].as_str()
    }
}

/// Parse a path segment as a connection kind, or the 404 answer.
pub fn parse_kind(s: &str) -> Result<ConnectionKind, ApiResponse> {
    s.parse::<ConnectionKind>()
        .map_err(|e| ApiResponse::error(StatusCode::NOT_FOUND, e.to_string()))
}

/// Check size and content type and parse a JSON object body, or the 413/415/400 answer.
pub fn json_body(req: &ApiRequest) -> Result<serde_json::Map<String, Value>, ApiResponse> {
    if req.body.len() > MAX_BODY {
        return Err(ApiResponse::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {} KiB", MAX_BODY / 1024),
        ));
    }
    let ct = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" {
        return Err(ApiResponse::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "send the body as application/json (got {})",
                if ct.is_empty() { "no content type" } else { ct }
            ),
        ));
    }
    let value: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ApiResponse::error(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is not valid JSON: {} at line {} column {}",
                json_error_kind(&e),
                e.line(),
                e.column()
            ),
        )
    })?;
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(ApiResponse::error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
    }
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "it ends early",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    }
}

/// Parse a time given as epoch milliseconds, `YYYY-MM-DD` (UTC midnight) or RFC 3339.
pub fn parse_time(name: &str, s: &str) -> Result<i64, ApiResponse> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    if let Ok(date) = s.parse::<jiff::civil::Date>()
        && let Ok(z) = date.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(z.timestamp().as_millisecond());
    }
    Err(ApiResponse::error(
        StatusCode::BAD_REQUEST,
        format!(
            "'{name}' must be a date (YYYY-MM-DD), an RFC 3339 time or epoch milliseconds, got '{s}'"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ct: &str, body: &str) -> ApiRequest {
        let mut headers = HeaderMap::new();
        if !ct.is_empty() {
            headers.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
        }
        ApiRequest {
            method: Method::PUT,
            path: "/connections/jira".into(),
            query: BTreeMap::new(),
            headers,
            body: Bytes::from(body.to_string()),
            principal: "local".into(),
        }
    }

    #[test]
    fn bodies_are_checked_for_type_size_and_syntax_with_clear_messages() {
        let e = json_body(&req("text/plain", "{}")).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = json_body(&req("application/json", "{\"a\": ")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message().unwrap(),
            "the body is not valid JSON: it ends early at line 1 column 6"
        );
        let e = json_body(&req("application/json", "[1]")).unwrap_err();
        assert_eq!(e.message().unwrap(), "the body must be a JSON object");
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY));
        let e = json_body(&req("application/json", &big)).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(json_body(&req("application/json; charset=utf-8", "{\"a\":1}")).is_ok());
    }

    #[test]
    fn times_are_read_from_dates_rfc3339_and_epoch_ms() {
        assert_eq!(parse_time("from", "2024-01-01").unwrap(), 1_704_067_200_000);
        assert_eq!(
            parse_time("from", "2024-01-01T00:00:01Z").unwrap(),
            1_704_067_201_000
        );
        assert_eq!(
            parse_time("from", "1704067200000").unwrap(),
            1_704_067_200_000
        );
        let e = parse_time("from", "yesterday").unwrap_err();
        assert!(e.message().unwrap().starts_with("'from' must be a date"));
    }
}
