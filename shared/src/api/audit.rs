//! `GET /audit?from=&to=&limit=&cursor=`: the audit trail of outside actions, oldest first.
//!
//! The trail is stored one partition per day, so the days a request reads are what it costs:
//! one request reads at most [`WINDOW_DAYS`] days of the range. A longer range, or more entries
//! than `limit`, is answered in pages: `next` is an opaque cursor that carries the whole range
//! and the position, so following it needs nothing else. Every input is checked before any
//! arithmetic on it, so no value (`i64::MIN`, a huge `limit`, a forged cursor) overflows; a bad
//! one is a 400 naming the parameter.

use super::connections::{ConnectionsApi, store_error};
use super::items::page_limit;
use super::{ApiRequest, ApiResponse, parse_time};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::json;

/// The most days one request reads (a quarter).
pub const WINDOW_DAYS: i64 = 92;
/// The default and largest page sizes.
pub const DEFAULT_LIMIT: usize = 200;
pub const MAX_LIMIT: usize = 1000;
/// The range a time may take, in epoch milliseconds: 1970-01-01 to the last instant every time
/// library here renders (`jiff::Timestamp::MAX`, 9999-12-30T22:00:00.999Z).
pub const MIN_TIME: i64 = 0;
pub const MAX_TIME: i64 = 253_402_207_200_999;

const DAY_MS: i64 = 86_400_000;
const CURSOR_VERSION: &str = "a1";
/// The longest store position a cursor may carry (a sort key is ~30 characters).
const MAX_POSITION: usize = 256;

/// A checked request: the whole range asked for and where to go on from.
#[derive(Debug, Clone, PartialEq)]
struct Range {
    from: i64,
    to: i64,
    /// The store's position (`<day ms>|<sort key after which to go on>`), absent at the start.
    position: Option<String>,
}

impl Range {
    /// The first day partition this request reads.
    fn start_day(&self) -> i64 {
        match &self.position {
            // Checked when decoded: a whole day within the range.
            Some(p) => p
                .split_once('|')
                .and_then(|(d, _)| d.parse().ok())
                .unwrap_or(self.from),
            None => self.from - self.from.rem_euclid(DAY_MS),
        }
    }

    fn encode(&self) -> String {
        let position = self.position.as_deref().unwrap_or("");
        URL_SAFE_NO_PAD.encode(format!(
            "{CURSOR_VERSION}|{}|{}|{position}",
            self.from, self.to
        ))
    }

    fn decode(token: &str) -> Result<Range, ApiResponse> {
        let bad = || {
            bad_request(
                "'cursor' is not a cursor this listing gave; pass the 'next' of the previous answer as it was",
            )
        };
        if token.len() > 1024 {
            return Err(bad());
        }
        let text = URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let mut parts = text.splitn(4, '|');
        let (Some(CURSOR_VERSION), Some(from), Some(to), Some(position)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let from: i64 = from.parse().map_err(|_| bad())?;
        let to: i64 = to.parse().map_err(|_| bad())?;
        if !in_bounds(from) || !in_bounds(to) || from >= to {
            return Err(bad());
        }
        let range = Range {
            from,
            to,
            position: Some(position.to_string()).filter(|p| !p.is_empty()),
        };
        if let Some(p) = &range.position {
            let (day, sk) = p.split_once('|').ok_or_else(bad)?;
            let day: i64 = day.parse().map_err(|_| bad())?;
            let first_day = from - from.rem_euclid(DAY_MS);
            if p.len() > MAX_POSITION
                || day.rem_euclid(DAY_MS) != 0
                || day < first_day
                || day >= to
                || sk.chars().any(char::is_control)
            {
                return Err(bad());
            }
        }
        Ok(range)
    }
}

fn bad_request(message: impl Into<String>) -> ApiResponse {
    ApiResponse::error(StatusCode::BAD_REQUEST, message)
}

fn in_bounds(t: i64) -> bool {
    (MIN_TIME..=MAX_TIME).contains(&t)
}

/// `from` or `to` from the query, checked to lie between 1970 and the year 10000.
fn time_param(req: &ApiRequest, name: &str) -> Result<Option<i64>, ApiResponse> {
    let Some(raw) = req.query.get(name) else {
        return Ok(None);
    };
    let t = parse_time(name, raw)?;
    if !in_bounds(t) {
        return Err(bad_request(format!(
            "'{name}' must lie between 1970-01-01 and 9999-12-30, got '{}'",
            raw.trim()
        )));
    }
    Ok(Some(t))
}

/// The range of a request: from its cursor, else from `from` and `to` (default: the day up to
/// now). With a cursor, a `from` or `to` given too must be the cursor's own.
fn range_of(req: &ApiRequest, now: i64) -> Result<Range, ApiResponse> {
    let from = time_param(req, "from")?;
    let to = time_param(req, "to")?;
    if let Some(token) = req.query.get("cursor").filter(|c| !c.is_empty()) {
        let range = Range::decode(token)?;
        for (name, given, own) in [("from", from, range.from), ("to", to, range.to)] {
            if given.is_some_and(|g| g != own) {
                return Err(bad_request(format!(
                    "'{name}' differs from the range 'cursor' continues; repeat the first request's '{name}' or leave it out"
                )));
            }
        }
        return Ok(range);
    }
    let to = to.unwrap_or_else(|| now.saturating_add(1).clamp(MIN_TIME, MAX_TIME));
    let from = from.unwrap_or_else(|| to.saturating_sub(DAY_MS).max(MIN_TIME));
    if from >= to {
        return Err(bad_request("'from' must be before 'to'"));
    }
    Ok(Range {
        from,
        to,
        position: None,
    })
}

impl ConnectionsApi {
    pub(super) async fn audit(&self, req: &ApiRequest) -> Result<ApiResponse, ApiResponse> {
        let now = self.now();
        let range = range_of(req, now)?;
        let limit = page_limit(req, DEFAULT_LIMIT, MAX_LIMIT)?;
        // All values are within 1970..10000 here: no sum below can overflow.
        let window_end = range.to.min(range.start_day() + WINDOW_DAYS * DAY_MS);
        let page = self
            .store
            .list_audit(range.from, window_end, limit, range.position.clone(), now)
            .await
            .map_err(store_error)?;
        let position = match page.next {
            Some(p) => Some(p),
            None if window_end < range.to => Some(format!("{window_end}|")),
            None => None,
        };
        // A position on a day past the range has nothing left to read.
        let next = position
            .filter(|p| {
                p.split_once('|')
                    .and_then(|(d, _)| d.parse::<i64>().ok())
                    .is_some_and(|d| d < range.to)
            })
            .map(|p| {
                Range {
                    position: Some(p),
                    ..range.clone()
                }
                .encode()
            });
        Ok(ApiResponse::ok(json!({
            "entries": page.items.iter().map(|e| json!({
                "at": crate::clock::rfc3339_of_ms(e.at),
                "flow": e.flow.map(|f| f.as_str()),
                "system": e.system.as_str(),
                "action": e.action,
                "target": e.target,
                "reason": e.reason,
                "result": e.result,
            })).collect::<Vec<_>>(),
            "next": next,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, Method};

    fn req(q: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            path: "/audit".into(),
            query: q
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            principal: "local".into(),
        }
    }

    const NOW: i64 = 1_795_600_000_000;

    #[test]
    fn a_cursor_carries_the_range_and_position_and_reads_back_the_same() {
        let r = Range {
            from: 1_704_067_200_000,
            to: 1_735_689_600_000,
            position: Some("1704067200000|000001704067200000#ab|c".into()),
        };
        assert_eq!(Range::decode(&r.encode()).unwrap(), r);
        let start = Range {
            position: None,
            ..r.clone()
        };
        assert_eq!(Range::decode(&start.encode()).unwrap(), start);
    }

    #[test]
    fn the_latest_time_is_the_latest_one_jiff_renders() {
        assert_eq!(MAX_TIME, jiff::Timestamp::MAX.as_millisecond());
    }

    #[test]
    fn extreme_times_are_refused_naming_the_parameter() {
        for (name, value) in [
            ("from", i64::MIN.to_string()),
            ("from", "-1".to_string()),
            ("to", i64::MAX.to_string()),
            ("to", (MAX_TIME + 1).to_string()),
            ("from", "-009999-01-01T00:00:00Z".to_string()),
        ] {
            let e = range_of(&req(&[(name, &value)]), NOW).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(
                e.message().unwrap().starts_with(&format!("'{name}' must")),
                "{name}={value}: {:?}",
                e.message()
            );
        }
        // Beyond i64: not a number, so not a time either.
        let e = range_of(&req(&[("to", "99999999999999999999")]), NOW).unwrap_err();
        assert!(e.message().unwrap().starts_with("'to' must be a date"));
        // The edges themselves are fine, and the default 'from' never goes below 1970.
        let r = range_of(&req(&[("to", "1000")]), NOW).unwrap();
        assert_eq!((r.from, r.to), (0, 1000));
        let r = range_of(&req(&[("from", "0"), ("to", &MAX_TIME.to_string())]), NOW).unwrap();
        assert_eq!((r.from, r.to), (0, MAX_TIME));
        // A clock gone wild cannot overflow the default either.
        let r = range_of(&req(&[]), i64::MAX).unwrap();
        assert_eq!(r.to, MAX_TIME);
    }

    #[test]
    fn forged_or_foreign_cursors_are_refused_naming_the_cursor() {
        let good = Range {
            from: 1_704_067_200_000,
            to: 1_704_240_000_000,
            position: Some("1704153600000|x".into()),
        };
        let forged = |s: String| URL_SAFE_NO_PAD.encode(s);
        for token in [
            "not base64 !".to_string(),
            "x".repeat(2000),
            forged("a1|1|2".into()),
            forged("zz|1704067200000|1704240000000|".into()),
            forged(format!("a1|{}|{}|", i64::MIN, i64::MAX)),
            forged(format!("a1|0|{}|", i64::MAX)),
            forged("a1|1704240000000|1704067200000|".into()),
            // A day outside the range, or not a whole day.
            forged("a1|1704067200000|1704240000000|1704240000000|".into()),
            forged(format!("a1|1704067200000|1704240000000|{}|", i64::MIN)),
            forged("a1|1704067200000|1704240000000|1704067200001|".into()),
            forged("a1|1704067200000|1704240000000|nope".into()),
        ] {
            let e = range_of(&req(&[("cursor", &token)]), NOW).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{token}");
            assert!(
                e.message().unwrap().starts_with("'cursor' is not a cursor"),
                "{token}: {:?}",
                e.message()
            );
        }
        // A cursor with the first request's own 'from' and 'to' is fine; another range is not.
        let token = good.encode();
        let r = range_of(
            &req(&[
                ("cursor", &token),
                ("from", "2024-01-01"),
                ("to", "2024-01-03"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(r, good);
        let e = range_of(&req(&[("cursor", &token), ("to", "2024-01-04")]), NOW).unwrap_err();
        assert!(e.message().unwrap().starts_with("'to' differs"));
    }

    #[test]
    fn limits_outside_one_to_a_thousand_are_refused_naming_the_limit() {
        for l in ["0", "-1", "1001", "18446744073709551616", "many"] {
            let e = page_limit(&req(&[("limit", l)]), DEFAULT_LIMIT, MAX_LIMIT).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(e.message().unwrap().starts_with("'limit' must be"), "{l}");
        }
        assert_eq!(
            page_limit(&req(&[("limit", "1000")]), DEFAULT_LIMIT, MAX_LIMIT).unwrap(),
            1000
        );
    }
}
