//! What every HR connector shares: the errors of a payload ([`PayloadError`]) and of a webhook
//! signature ([`SignatureError`], which the webhook route answers with 401), the replay window
//! check, header reading, the normalisation of work emails (trimmed, lower-cased, checked),
//! calendar dates (`YYYY-MM-DD`) and instants (epoch ms), and the rule for a fact's event time
//! ([`webhook_event_time`], [`pulled_event_time`]).

use crate::domain::Date;
use serde_json::Value;

/// An HR payload that cannot be used. The message says what is wrong and names the field; it
/// quotes at most a short, sanitised piece of the offending value, never the whole body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    pub message: String,
    /// The problem is an email that is not an address.
    pub not_an_address: bool,
}

impl PayloadError {
    pub fn new(message: impl Into<String>) -> Self {
        PayloadError {
            message: message.into(),
            not_an_address: false,
        }
    }

    /// The only email given for the person is not an address.
    pub fn not_an_address(message: impl Into<String>) -> Self {
        PayloadError {
            not_an_address: true,
            ..PayloadError::new(message)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Event times

/// How far a fact's event time may be ahead of riskflow's clock (clock skew between systems).
///
/// The person record keeps the fact with the latest event time, so a fact dated in the future
/// would pin the person's state against every later fact until that time came. Each source
/// says what its event time is (in its connector); this is the one rule on top of it.
pub const EVENT_TIME_SKEW_MS: i64 = 5 * 60_000;

/// The event time `at_ms` a webhook sent in `field`, refused when it is more than
/// [`EVENT_TIME_SKEW_MS`] ahead of `now_ms` (the webhook route answers 400 with the message,
/// which names the field).
pub fn webhook_event_time(field: &str, at_ms: i64, now_ms: i64) -> Result<i64, PayloadError> {
    let ahead = at_ms.saturating_sub(now_ms);
    if ahead > EVENT_TIME_SKEW_MS {
        return Err(PayloadError::new(format!(
            "'{field}' is {} s in the future; an HR fact's time may be at most {} s ahead of now",
            ahead / 1000,
            EVENT_TIME_SKEW_MS / 1000
        )));
    }
    Ok(at_ms)
}

/// An event time a pulled source (a queue, a report) gave, with what was done to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PulledEventTime {
    /// The event time riskflow uses (epoch ms).
    pub at_ms: i64,
    /// The time as the source gave it, when it was more than [`EVENT_TIME_SKEW_MS`] ahead of
    /// the clock and clamped to the time it was read (to be recorded in the run record).
    pub clamped_from: Option<i64>,
}

/// The event time `at_ms` of a pulled fact read at `now_ms`: as given, or clamped to `now_ms`
/// when it is more than [`EVENT_TIME_SKEW_MS`] in the future (a pulled message cannot be
/// refused: it is recorded and acknowledged either way).
pub fn pulled_event_time(at_ms: i64, now_ms: i64) -> PulledEventTime {
    if at_ms.saturating_sub(now_ms) > EVENT_TIME_SKEW_MS {
        PulledEventTime {
            at_ms: now_ms,
            clamped_from: Some(at_ms),
        }
    } else {
        PulledEventTime {
            at_ms,
            clamped_from: None,
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

/// `s` as a date when it is exactly `YYYY-MM-DD` and a real calendar date.
pub fn plain_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if shaped { s.parse().ok() } else { None }
}

/// Normalise a date an HR system sent to `YYYY-MM-DD`.
///
/// Accepted: `YYYY-MM-DD`; an ISO 8601 date-time starting with one (`2019-05-27T04:00:00.000+0000`,
/// `2026-03-31T00:00:00Z`, `2026-03-31T09:00:00-05:00`, or without an offset); and an XML
/// schema date with a zone (`2026-03-31Z`, `2026-03-31-07:00`, as Workday writes dates). The
/// result is the calendar date **as written**: an HR date is a day in the company's calendar,
/// so `2026-03-31T22:00:00-05:00` is 31 March, not 1 April UTC. Anything else is an error whose
/// text says what was expected and quotes what came.
pub fn normalize_date(raw: &str) -> Result<Date, String> {
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
    let Some(date) = plain_date(date) else {
        return refuse();
    };
    let ok = if rest.is_empty() || rest == "Z" {
        true
    } else if rest.starts_with(['T', 't', ' ']) {
        s.parse::<jiff::Timestamp>().is_ok() || s.parse::<jiff::civil::DateTime>().is_ok()
    } else {
        is_zone_offset(rest)
    };
    if ok { Ok(date) } else { refuse() }
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

/// Why a webhook's signature was refused. The webhook route answers 401 to all of them; the
/// message is for the log and the delivery record, and holds no secret and no body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the '{0}' header is missing")]
    MissingHeader(&'static str),
    #[error("the '{header}' header is not {expected}")]
    Malformed {
        header: &'static str,
        expected: &'static str,
    },
    #[error("the '{0}' header holds no signature of a supported version")]
    NoSignature(&'static str),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the timestamp is {age_secs} s old, outside the {window_secs} s window")]
    Stale { age_secs: i64, window_secs: i64 },
    #[error("the timestamp is {ahead_secs} s in the future, outside the {window_secs} s window")]
    Future { ahead_secs: i64, window_secs: i64 },
    #[error("no signing secret is configured")]
    NoSecret,
    #[error("a configured signing secret is not usable: {0}")]
    BadSecret(&'static str),
}

/// The fewest bytes a webhook signing key may hold once decoded: 128 bits.
pub const MIN_SIGNING_KEY_BYTES: usize = 16;

/// A webhook signing key's strength, judged by the bytes the HMAC is keyed with (what a
/// `whsec_` secret decodes to; a plain key's UTF-8 bytes). The one rule for the current key and
/// for the previous one kept while rotating; the message names the field and never the key.
pub fn check_signing_key(
    field: &str,
    key: &[u8],
    hint: &str,
) -> Result<(), crate::ports::VerifyFailure> {
    if key.len() < MIN_SIGNING_KEY_BYTES {
        return Err(crate::ports::VerifyFailure::bad(format!(
            "'{field}' is too weak: a signing key must hold at least {MIN_SIGNING_KEY_BYTES} bytes once decoded{hint}"
        )));
    }
    Ok(())
}

/// Reject an instant outside `now ± window` (both in epoch milliseconds).
pub(crate) fn check_window(at_ms: i64, now_ms: i64, window_ms: i64) -> Result<(), SignatureError> {
    let window_secs = window_ms / 1000;
    let skew = now_ms.saturating_sub(at_ms);
    if skew > window_ms {
        return Err(SignatureError::Stale {
            age_secs: skew / 1000,
            window_secs,
        });
    }
    if skew < window_ms.saturating_neg() {
        return Err(SignatureError::Future {
            ahead_secs: skew.saturating_neg() / 1000,
            window_secs,
        });
    }
    Ok(())
}

/// One header's value, trimmed; missing or empty is `MissingHeader`, non-ASCII is malformed.
pub(crate) fn header(
    headers: &http::HeaderMap,
    name: &'static str,
) -> Result<String, SignatureError> {
    let value = headers
        .get(name)
        .ok_or(SignatureError::MissingHeader(name))?;
    let text = value.to_str().map_err(|_| SignatureError::Malformed {
        header: name,
        expected: "printable ASCII",
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(SignatureError::MissingHeader(name));
    }
    Ok(text.to_string())
}
