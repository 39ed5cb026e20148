//! BambooHR webhook deliveries: the signature check and the two body formats.

use super::model::BambooChange;
use crate::connectors::hr::{
    PayloadError, SignatureError, check_window, header, id_text, parse_instant_ms,
    webhook_event_time,
};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::collections::BTreeMap;

/// `X-BambooHR-Timestamp`.
pub const TIMESTAMP_HEADER: &str = "x-bamboohr-timestamp";
/// `X-BambooHR-Signature`: hex HMAC-SHA256 of `body ‖ timestamp`.
pub const SIGNATURE_HEADER: &str = "x-bamboohr-signature";

/// Verify one delivery against one key. See [`verify_signature_any`].
pub fn verify_signature(
    key: &SecretString,
    body: &[u8],
    timestamp: &str,
    signature_hex: &str,
    now_ms: i64,
    window_ms: i64,
) -> Result<(), SignatureError> {
    verify_signature_any(
        std::slice::from_ref(key),
        body,
        timestamp,
        signature_hex,
        now_ms,
        window_ms,
    )
}

/// Verify one delivery against any of `keys` (the current webhook key and, while it is being
/// rotated, the previous one).
///
/// - The signature is hex HMAC-SHA256, keyed with the webhook's private key (its UTF-8 bytes),
///   over the raw body immediately followed by the timestamp header exactly as sent.
///   Upper- or lower-case hex is accepted, and a `sha256=` prefix is tolerated.
/// - Compared in constant time (`hmac::Mac::verify_slice`).
/// - The timestamp may be RFC 3339 (`2026-05-21T14:00:00Z`), ISO 8601 with a basic offset
///   (`2026-01-31T18:42:00+0000`), or epoch seconds / milliseconds; it must lie within
///   `now ± window`. The signature is checked first, so a tampered body reads "does not match"
///   even when it is also old.
pub fn verify_signature_any(
    keys: &[SecretString],
    body: &[u8],
    timestamp: &str,
    signature_hex: &str,
    now_ms: i64,
    window_ms: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.trim();
    if timestamp.is_empty() {
        return Err(SignatureError::MissingHeader("X-BambooHR-Timestamp"));
    }
    let sig_text = signature_hex.trim();
    if sig_text.is_empty() {
        return Err(SignatureError::MissingHeader("X-BambooHR-Signature"));
    }
    let sig_text = sig_text.strip_prefix("sha256=").unwrap_or(sig_text);
    let signature =
        hex::decode(sig_text)
            .ok()
            .filter(|s| s.len() == 32)
            .ok_or(SignatureError::Malformed {
                header: "X-BambooHR-Signature",
                expected: "64 hexadecimal characters",
            })?;
    let at_ms = parse_instant_ms(timestamp).ok_or(SignatureError::Malformed {
        header: "X-BambooHR-Timestamp",
        expected: "a timestamp (RFC 3339 or epoch seconds)",
    })?;
    if keys.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let mut matched = false;
    for key in keys {
        let key = key.expose_secret().trim().as_bytes();
        if key.is_empty() {
            return Err(SignatureError::BadSecret("it is empty"));
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .map_err(|_| SignatureError::BadSecret("HMAC refused the key"))?;
        mac.update(body);
        mac.update(timestamp.as_bytes());
        if mac.verify_slice(&signature).is_ok() {
            matched = true;
        }
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    check_window(at_ms, now_ms, window_ms)
}

/// [`verify_signature_any`] with the two values read from the request headers.
pub fn verify_headers(
    headers: &http::HeaderMap,
    body: &[u8],
    keys: &[SecretString],
    now_ms: i64,
    window_ms: i64,
) -> Result<(), SignatureError> {
    let ts = header(headers, TIMESTAMP_HEADER)
        .map_err(|e| rename(e, TIMESTAMP_HEADER, "X-BambooHR-Timestamp"))?;
    let sig = header(headers, SIGNATURE_HEADER)
        .map_err(|e| rename(e, SIGNATURE_HEADER, "X-BambooHR-Signature"))?;
    verify_signature_any(keys, body, &ts, &sig, now_ms, window_ms)
}

/// **The event time** of every change a (verified) BambooHR delivery carries: its
/// `X-BambooHR-Timestamp`, when BambooHR sent it. The body's own `timestamp` is not used: it is
/// not bounded by the signature's window. A time more than
/// [`EVENT_TIME_SKEW_MS`](crate::connectors::hr::EVENT_TIME_SKEW_MS) ahead of `now_ms` is
/// refused with an error naming the header (possible only with a replay window set wider).
pub fn event_time(headers: &http::HeaderMap, now_ms: i64) -> Result<i64, PayloadError> {
    let raw = header(headers, TIMESTAMP_HEADER)
        .map_err(|_| PayloadError::new("'X-BambooHR-Timestamp' is missing"))?;
    let at = parse_instant_ms(&raw).ok_or_else(|| {
        PayloadError::new("'X-BambooHR-Timestamp' is not a timestamp (RFC 3339 or epoch seconds)")
    })?;
    webhook_event_time("X-BambooHR-Timestamp", at, now_ms)
}

/// Header names in messages use BambooHR's spelling.
fn rename(e: SignatureError, from: &str, to: &'static str) -> SignatureError {
    match e {
        SignatureError::MissingHeader(h) if h == from => SignatureError::MissingHeader(to),
        SignatureError::Malformed { header, expected } if header == from => {
            SignatureError::Malformed {
                header: to,
                expected,
            }
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads

/// Parse a (verified) BambooHR webhook body into its changes, one per employee.
///
/// Two formats (<https://documentation.bamboohr.com/docs/webhooks>,
/// <https://documentation.bamboohr.com/docs/event-based-webhooks>):
/// - **event-based** (recommended): `{"type":"employee.updated","timestamp":"…",
///   "data":{"companyId":"…","employeeId":"…","changedFields":["status"]}}`, as JSON or
///   form-encoded. A form body is read with PHP-style keys (`data[employeeId]`,
///   `data[changedFields][]` or `data[changedFields][0]`), dotted keys (`data.employeeId`) or
///   flat keys (`employeeId`, `changedFields` repeated or comma-separated); a form field
///   `payload` holding the JSON document is also accepted. BambooHR does not document the
///   form field names, so this is deliberately tolerant.
/// - **field-based** (legacy, `employee_with_fields.*`): `{"employees":[{"id":5,
///   "action":"Updated","timestamp":"…","changedFields":[…],"fields":{"workEmail":{"value":"…"}}}]}`.
///   The event type becomes `employee_with_fields.<action in lower case>`; field values
///   (`{"value": …}` objects or plain values) land in [`BambooChange::fields`].
///
/// An empty `employees` list is not an error: there is nothing to do.
pub fn parse_payload(body: &[u8]) -> Result<Vec<BambooChange>, PayloadError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let value = match first {
        None => return Err(err("the body is empty")),
        Some(b'{') => serde_json::from_slice::<Value>(body)
            .map_err(|e| err(format!("the body is not valid JSON ({e})")))?,
        Some(_) => form_to_json(body)?,
    };
    let obj = value
        .as_object()
        .ok_or_else(|| err("the body must be a JSON object"))?;
    if obj.contains_key("employees") {
        parse_field_based(obj)
    } else if obj.contains_key("type") || obj.contains_key("data") {
        parse_event_based(obj).map(|c| vec![c])
    } else {
        Err(err(
            "expected an event-based body ('type', 'timestamp', 'data') or a field-based body ('employees')",
        ))
    }
}

fn err(message: impl AsRef<str>) -> PayloadError {
    PayloadError::new(format!("BambooHR payload: {}", message.as_ref()))
}

fn parse_event_based(obj: &Map<String, Value>) -> Result<BambooChange, PayloadError> {
    let event_type = text_field(obj.get("type"), "type")?;
    let timestamp = text_field(obj.get("timestamp"), "timestamp")?;
    let data = match obj.get("data") {
        None | Some(Value::Null) => return Err(err("'data' is missing")),
        Some(Value::Object(d)) => d,
        Some(_) => return Err(err("'data' must be an object")),
    };
    let employee_id = id_field(data.get("employeeId"), "data.employeeId")?;
    let changed_fields = string_list(data.get("changedFields"), "data.changedFields")?;
    Ok(BambooChange {
        employee_id,
        event_type,
        timestamp,
        changed_fields,
        fields: BTreeMap::new(),
    })
}

fn parse_field_based(obj: &Map<String, Value>) -> Result<Vec<BambooChange>, PayloadError> {
    let employees = match obj.get("employees") {
        Some(Value::Array(list)) => list,
        _ => return Err(err("'employees' must be a list")),
    };
    let mut out = Vec::with_capacity(employees.len());
    for (i, e) in employees.iter().enumerate() {
        let e = e
            .as_object()
            .ok_or_else(|| err(format!("'employees[{i}]' must be an object")))?;
        let employee_id = id_field(e.get("id"), &format!("employees[{i}].id"))?;
        let action = match e.get("action") {
            None | Some(Value::Null) => "updated".to_string(),
            Some(v) => text_field(Some(v), &format!("employees[{i}].action"))?.to_lowercase(),
        };
        let timestamp = text_field(e.get("timestamp"), &format!("employees[{i}].timestamp"))?;
        let changed_fields = string_list(
            e.get("changedFields"),
            &format!("employees[{i}].changedFields"),
        )?;
        let mut fields = BTreeMap::new();
        match e.get("fields") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, v) in map {
                    let v = match v {
                        Value::Object(o) => o.get("value").unwrap_or(&Value::Null),
                        other => other,
                    };
                    let text = match v {
                        Value::Null => continue,
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(err(format!(
                                "'employees[{i}].fields.{name}' must be a single value"
                            )));
                        }
                    };
                    fields.insert(name.clone(), text);
                }
            }
            Some(_) => return Err(err(format!("'employees[{i}].fields' must be an object"))),
        }
        out.push(BambooChange {
            employee_id,
            event_type: format!("employee_with_fields.{action}"),
            timestamp,
            changed_fields,
            fields,
        });
    }
    Ok(out)
}

/// A required non-empty text value (a number is accepted as its decimal text).
fn text_field(v: Option<&Value>, name: &str) -> Result<String, PayloadError> {
    match v {
        None | Some(Value::Null) => Err(err(format!("'{name}' is missing"))),
        Some(Value::String(s)) if s.trim().is_empty() => Err(err(format!("'{name}' is empty"))),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(err(format!("'{name}' must be a string"))),
    }
}

fn id_field(v: Option<&Value>, name: &str) -> Result<String, PayloadError> {
    match v.map(id_text) {
        None | Some(Ok(None)) => Err(err(format!("'{name}' is missing"))),
        Some(Ok(Some(id))) => Ok(id),
        Some(Err(got)) => Err(err(format!("'{name}' must be an id, got {got}"))),
    }
}

fn string_list(v: Option<&Value>, name: &str) -> Result<Vec<String>, PayloadError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.trim().to_string()),
                _ => Err(err(format!("'{name}' must be a list of field names"))),
            })
            .collect(),
        Some(Value::String(s)) => Ok(split_list(s)),
        Some(_) => Err(err(format!("'{name}' must be a list of field names"))),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(String::from)
        .collect()
}

/// Turn a form-encoded event-based body into the JSON document it stands for.
fn form_to_json(body: &[u8]) -> Result<Value, PayloadError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.is_empty() {
        return Err(err("the body is neither JSON nor a form-encoded body"));
    }
    if let Some((_, json)) = pairs.iter().find(|(k, _)| k == "payload") {
        let inner: Value = serde_json::from_str(json)
            .map_err(|e| err(format!("the form field 'payload' is not valid JSON ({e})")))?;
        return Ok(inner);
    }
    let mut top = Map::new();
    let mut data = Map::new();
    let mut changed: Vec<String> = Vec::new();
    let mut recognised = false;
    for (key, value) in &pairs {
        let name = key
            .strip_prefix("data[")
            .map(|rest| rest.split(']').next().unwrap_or_default().to_string())
            .or_else(|| key.strip_prefix("data.").map(String::from))
            .unwrap_or_else(|| {
                key.trim_end_matches("[]")
                    .split('[')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
        match name.as_str() {
            "type" | "timestamp" => {
                top.insert(name, Value::String(value.clone()));
            }
            "companyId" | "employeeId" => {
                data.insert(name, Value::String(value.clone()));
            }
            "changedFields" => changed.extend(split_list(value)),
            _ => continue,
        }
        recognised = true;
    }
    if !recognised {
        return Err(err(
            "the body is neither JSON nor a form-encoded event (no 'type', 'timestamp' or 'data[employeeId]' field)",
        ));
    }
    data.insert(
        "changedFields".into(),
        Value::Array(changed.into_iter().map(Value::String).collect()),
    );
    top.insert("data".into(), Value::Object(data));
    Ok(Value::Object(top))
}
