//! Small helpers shared by every fake: time formats of the various vendors, credential
//! parsing, query-string parsing with repeated keys, deterministic ids and JSON responses.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The scheme a request arrived with (`http` on the plain listener, `https` on the ADP mTLS
/// listener). Inserted into every request's extensions by the connection loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scheme(pub &'static str);

/// Current time in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Current time in epoch seconds.
pub(crate) fn now_secs() -> i64 {
    Timestamp::now().as_second()
}

/// `2022-07-18T16:39:51.356082Z` (Incydr watchlist `addedTime`, user dates).
pub(crate) fn iso_micros(ts: Timestamp) -> String {
    let ts = Timestamp::from_microsecond(ts.as_microsecond()).unwrap_or(ts);
    format!("{ts:.6}")
}

/// `2024-01-01T12:00:00.000+0000` (Jira).
pub(crate) fn jira_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3f+0000").to_string()
}

/// `2016-01-22 14:28:24` (ServiceNow, UTC).
pub(crate) fn snow_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// `2013-06-24T16:39:18.000Z` (Okta).
pub(crate) fn okta_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// `yyyy-MM-ddTHH:mmZ` (Jira `X-RateLimit-Reset`).
pub(crate) fn jira_reset_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%MZ").to_string()
}

/// RFC 9110 HTTP date, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(ts: Timestamp) -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&ts)
        .unwrap_or_else(|_| ts.to_string())
}

/// `YYYY-MM-DD` check used by Incydr actor dates.
pub(crate) fn is_plain_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

/// Parse `Authorization: Basic ...` into (user, password).
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Parse `Authorization: Bearer <token>`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(rest.trim().to_string())
}

/// Constant-time comparison for secrets.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Query string with repeated keys kept in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(pub Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        Query(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// First value for `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value for `key` (repeated keys).
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every value for `key`, also splitting comma-separated values.
    pub(crate) fn all_split(&self, key: &str) -> Vec<String> {
        self.all(key)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Parse an integer parameter; `Err` names the parameter when it is malformed.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("Invalid value '{v}' for parameter '{key}'")),
        }
    }

    /// Re-encode, replacing (or adding) the given keys.
    pub(crate) fn with(&self, replace: &[(&str, String)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            if replace.iter().any(|(rk, _)| rk == k) {
                continue;
            }
            ser.append_pair(k, v);
        }
        for (k, v) in replace {
            ser.append_pair(k, v);
        }
        ser.finish()
    }
}

/// Host the client used, for absolute links (`self`, `Link`, `Location`).
pub(crate) fn host_of(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

/// `scheme://host/<system>` as seen by the client.
pub(crate) fn external_base(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    scheme: Option<&Scheme>,
    system: &str,
) -> String {
    let scheme = scheme.map(|s| s.0).unwrap_or("http");
    format!("{scheme}://{}/{system}", host_of(headers, uri))
}

/// A JSON response with a status.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A JSON response with a `;charset=UTF-8` content type (Jira, ServiceNow, Okta style).
pub(crate) fn json_utf8<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut resp = json(status, body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

/// The answer axum gives by default to a known path with a method it does not route (405,
/// empty body; axum adds `Allow`). Set as `method_not_allowed_fallback` after an auth
/// `route_layer`, so a wrong method is still 405 rather than being refused by the auth first.
pub(crate) async fn method_not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

/// Set a header from a string, ignoring values that are not valid header text.
pub(crate) fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Parse a JSON body, mapping failures to a message.
pub(crate) fn parse_json(body: &[u8]) -> Result<serde_json::Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("No content to map due to end-of-input".to_string());
    }
    serde_json::from_slice(body).map_err(|e| format!("Unexpected character in JSON body: {e}"))
}

/// Deterministic id generator (so runs are reproducible): hex of SHA-256 over a counter.
#[derive(Debug, Default)]
pub(crate) struct IdGen {
    counter: u64,
}

impl IdGen {
    /// 32 lower-case hex characters (ServiceNow `sys_id`).
    pub(crate) fn hex32(&mut self, salt: &str) -> String {
        self.counter += 1;
        let digest = Sha256::digest(format!("riskflow-sandbox/{salt}/{}", self.counter));
        hex::encode(&digest[..16])
    }

    /// A UUID-shaped id.
    pub(crate) fn uuid(&mut self, salt: &str) -> String {
        let h = self.hex32(salt);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// An Okta-style id: prefix + 17 base62-ish characters.
    pub(crate) fn okta(&mut self, prefix: &str) -> String {
        let h = format!("{}{}", self.hex32(prefix), self.hex32(prefix));
        const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let tail: String = h
            .as_bytes()
            .chunks(2)
            .take(17)
            .map(|c| {
                let n = u8::from_str_radix(std::str::from_utf8(c).unwrap_or("0"), 16).unwrap_or(0);
                ALPHA[(n as usize) % ALPHA.len()] as char
            })
            .collect();
        format!("{prefix}{tail}")
    }
}

/// Hex HMAC-SHA256.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// base64url without padding (JWT segments).
pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decode base64url without padding.
pub(crate) fn b64url_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data.trim_end_matches('=')).ok()
}

/// Read a page of `items` (1-based `page`, `size` items).
pub(crate) fn page_slice<T: Clone>(items: &[T], page_index0: usize, size: usize) -> Vec<T> {
    let start = page_index0.saturating_mul(size);
    if start >= items.len() {
        return Vec::new();
    }
    items[start..(start + size).min(items.len())].to_vec()
}

/// Parse booleans the way a lenient Java/.NET server does (`true`, `True`, `TRUE`).
pub(crate) fn parse_bool_ci(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats_look_like_the_vendors() {
        let ts: Timestamp = "2024-01-02T03:04:05.123456789Z".parse().unwrap();
        assert_eq!(iso_micros(ts), "2024-01-02T03:04:05.123456Z");
        assert_eq!(jira_time(ts), "2024-01-02T03:04:05.123+0000");
        assert_eq!(snow_time(ts), "2024-01-02 03:04:05");
        assert_eq!(okta_time(ts), "2024-01-02T03:04:05.123Z");
        assert_eq!(jira_reset_time(ts), "2024-01-02T03:04Z");
        assert_eq!(http_date(ts), "Tue, 02 Jan 2024 03:04:05 GMT");
    }

    #[test]
    fn ids_are_deterministic_and_shaped() {
        let mut a = IdGen::default();
        let mut b = IdGen::default();
        assert_eq!(a.hex32("x"), b.hex32("x"));
        assert_eq!(a.hex32("x").len(), 32);
        assert_eq!(a.uuid("u").len(), 36);
        assert!(a.okta("00u").starts_with("00u"));
        assert_eq!(a.okta("00g").len(), 20);
    }

    #[test]
    fn query_keeps_repeated_keys() {
        let q = Query::parse(Some("state=OPEN&state=CLOSED&a=1%402"));
        assert_eq!(q.all("state"), vec!["OPEN", "CLOSED"]);
        assert_eq!(q.get("a"), Some("1@2"));
    }
}
