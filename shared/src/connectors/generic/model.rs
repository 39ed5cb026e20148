//! The generic webhook's body, and the normalisation every HR connector shares: work emails
//! (trimmed, lower-cased, checked), calendar dates (`YYYY-MM-DD`) and instants (epoch ms).

use crate::domain::{Departure, HrEventKind, HrSource};
use serde_json::{Map, Value};

/// An HR payload that cannot be used. The message says what is wrong and names the field; it
/// quotes at most a short, sanitised piece of the offending value, never the whole body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    pub message: String,
}

impl PayloadError {
    pub fn new(message: impl Into<String>) -> Self {
        PayloadError {
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisation shared by the HR connectors

/// A work email, trimmed and lower-cased, or `None` when the text is not an email address.
///
/// The check is deliberately plain (one `@`, a non-empty local part of at most 64 characters,
/// a dotted domain without empty labels, no spaces, quotes, brackets or separators, at most
/// 254 characters): HR systems hold ordinary corporate addresses, and anything unusual is
/// better refused with a message than put on a watchlist under a wrong name.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 {
        return None;
    }
    if email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
    {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    Some(email)
}

/// Whether `s` is exactly `YYYY-MM-DD` and a real calendar date.
pub fn is_plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && s.parse::<jiff::civil::Date>().is_ok()
}

/// Normalise a date an HR system sent to `YYYY-MM-DD`.
///
/// Accepted: `YYYY-MM-DD`; an ISO 8601 date-time starting with one (`2019-05-27T04:00:00.000+0000`,
/// `2026-03-31T00:00:00Z`, `2026-03-31T09:00:00-05:00`, or without an offset); and an XML
/// schema date with a zone (`2026-03-31Z`, `2026-03-31-07:00`, as Workday writes dates). The
/// result is the calendar date **as written**: an HR date is a day in the company's calendar,
/// so `2026-03-31T22:00:00-05:00` is 31 March, not 1 April UTC. Anything else is an error whose
/// text says what was expected and quotes what came.
pub fn normalize_date(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let refuse = || {
        Err(format!(
            "expected a date as YYYY-MM-DD or an ISO 8601 date-time, got {}",
            quote(raw)
        ))
    };
    if s.len() < 10 || !s.is_char_boundary(10) {
        return refuse();
    }
    let (date, rest) = s.split_at(10);
    if !is_plain_date(date) {
        return refuse();
    }
    let ok = if rest.is_empty() || rest == "Z" {
        true
    } else if rest.starts_with(['T', 't', ' ']) {
        s.parse::<jiff::Timestamp>().is_ok() || s.parse::<jiff::civil::DateTime>().is_ok()
    } else {
        is_zone_offset(rest)
    };
    if ok { Ok(date.to_string()) } else { refuse() }
}

/// `+HH:MM` / `-HH:MM` (an XML schema date's zone).
fn is_zone_offset(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
        && (s[1..3].parse::<u8>().is_ok_and(|h| h <= 14))
        && (s[4..6].parse::<u8>().is_ok_and(|m| m < 60))
}

/// Parse an instant to epoch milliseconds, tolerantly: RFC 3339 / ISO 8601 with an offset
/// (`2026-01-31T18:42:00Z`, `2026-01-31T18:42:00+0000`, `2019-05-31T11:51:23.122+0000`), an
/// ISO date-time without an offset (read as UTC), or epoch seconds (up to 11 digits) or epoch
/// milliseconds (12 digits or more). `None` when it is none of these.
pub fn parse_instant_ms(raw: &str) -> Option<i64> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return if s.len() <= 11 {
            n.checked_mul(1000)
        } else {
            Some(n)
        };
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    let dt = s.parse::<jiff::civil::DateTime>().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// A short, printable rendering of a value for an error message: at most 40 characters,
/// control characters replaced, in single quotes.
pub fn quote(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if raw.chars().count() > 40 {
        out.push('…');
    }
    format!("'{out}'")
}

/// A JSON value as an identifier: a non-empty string (trimmed) or an integer. `Err` names the
/// JSON type that came instead.
pub(crate) fn id_text(v: &Value) -> Result<Option<String>, &'static str> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.trim().to_string())),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Value::Number(_) => Err("a fractional number"),
        Value::Bool(_) => Err("true/false"),
        Value::Array(_) => Err("a list"),
        Value::Object(_) => Err("an object"),
    }
}

// ---------------------------------------------------------------------------------------------
// The generic webhook body

/// Parse a verified generic webhook body into a departure or a cancellation.
///
/// ```json
/// {"event_type": "departure", "email": "jane.doe@example.com", "departure_date": "2026-03-31",
///  "employee_id": "21004", "occurred_at": "2026-03-01T09:30:00Z", "reason": "Resignation"}
/// ```
/// - `event_type`: `departure` or `cancellation` (required).
/// - `email`: the work email (required; trimmed and lower-cased).
/// - `departure_date`: `YYYY-MM-DD`, required for a departure, optional for a cancellation.
/// - `employee_id` (string or integer), `reason` (string): optional.
/// - `occurred_at`: RFC 3339; when the HR fact happened. Default: the `webhook-timestamp`.
///
/// Unknown fields are ignored. `webhook_id` becomes the record's `source_event_id`;
/// `timestamp_secs` is the verified `webhook-timestamp`.
pub fn parse(
    body: &[u8],
    webhook_id: &str,
    timestamp_secs: i64,
) -> Result<Departure, PayloadError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| PayloadError::new(format!("the body is not JSON ({e})")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| PayloadError::new("the body must be a JSON object"))?;

    let kind = match required_str(obj, "event_type")?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "departure" => HrEventKind::Departure,
        "cancellation" => HrEventKind::Cancellation,
        other => {
            return Err(PayloadError::new(format!(
                "unknown event_type {} (expected departure or cancellation)",
                quote(other)
            )));
        }
    };

    let raw_email = required_str(obj, "email")?;
    let email = normalize_email(raw_email).ok_or_else(|| {
        PayloadError::new(format!(
            "'email' is not an email address, got {}",
            quote(raw_email)
        ))
    })?;

    let departure_date = match optional_str(obj, "departure_date")? {
        Some(d) if is_plain_date(d.trim()) => Some(d.trim().to_string()),
        Some(d) => {
            return Err(PayloadError::new(format!(
                "'departure_date' must be YYYY-MM-DD, got {}",
                quote(d)
            )));
        }
        None if kind == HrEventKind::Departure => {
            return Err(PayloadError::new(
                "'departure_date' is required for a departure (YYYY-MM-DD)",
            ));
        }
        None => None,
    };

    let employee_id = match obj.get("employee_id") {
        None => None,
        Some(v) => id_text(v).map_err(|got| {
            PayloadError::new(format!("'employee_id' must be a string, got {got}"))
        })?,
    };

    let event_time = match optional_str(obj, "occurred_at")? {
        Some(t) => t
            .trim()
            .parse::<jiff::Timestamp>()
            .map(|ts| ts.as_millisecond())
            .map_err(|_| {
                PayloadError::new(format!(
                    "'occurred_at' must be an RFC 3339 date-time such as 2026-03-01T09:30:00Z, got {}",
                    quote(t)
                ))
            })?,
        None => timestamp_secs.saturating_mul(1000),
    };

    let reason = optional_str(obj, "reason")?
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());

    Ok(Departure {
        source: HrSource::Generic,
        kind,
        source_event_id: webhook_id.to_string(),
        event_time,
        email,
        employee_id,
        departure_date,
        reason,
    })
}

fn required_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, PayloadError> {
    optional_str(obj, field)?.ok_or_else(|| PayloadError::new(format!("'{field}' is missing")))
}

/// A string field; `null` counts as absent; any other type is an error naming the field.
fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, PayloadError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(PayloadError::new(format!("'{field}' must be a string"))),
    }
}
