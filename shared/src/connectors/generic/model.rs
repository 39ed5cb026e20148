//! The generic webhook's body.

use crate::connectors::hr::{
    PayloadError, id_text, normalize_email, plain_date, quote, webhook_event_time,
};
use crate::domain::{Departure, HrEventKind, HrSource};
use serde_json::{Map, Value};

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
/// **The event time** of a generic fact (the latest one about a person wins) is its
/// `occurred_at`, else the delivery's verified `webhook-timestamp`. One more than
/// [`EVENT_TIME_SKEW_MS`](crate::connectors::hr::EVENT_TIME_SKEW_MS) ahead of `now_ms` is
/// refused with an error naming the field.
///
/// Unknown fields are ignored. `webhook_id` becomes the record's `source_event_id`;
/// `timestamp_secs` is the verified `webhook-timestamp`.
pub fn parse(
    body: &[u8],
    webhook_id: &str,
    timestamp_secs: i64,
    now_ms: i64,
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
        Some(d) => Some(plain_date(d.trim()).ok_or_else(|| {
            PayloadError::new(format!(
                "'departure_date' must be YYYY-MM-DD, got {}",
                quote(d)
            ))
        })?),
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
        Some(t) => {
            let at = t
                .trim()
                .parse::<jiff::Timestamp>()
                .map(|ts| ts.as_millisecond())
                .map_err(|_| {
                    PayloadError::new(format!(
                        "'occurred_at' must be an RFC 3339 date-time such as 2026-03-01T09:30:00Z, got {}",
                        quote(t)
                    ))
                })?;
            webhook_event_time("occurred_at", at, now_ms)?
        }
        None => webhook_event_time(
            "webhook-timestamp",
            timestamp_secs.saturating_mul(1000),
            now_ms,
        )?,
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
