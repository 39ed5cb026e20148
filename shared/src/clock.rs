//! Wall-clock helpers. All stored times are epoch milliseconds (`i64`), as Incydr sends them.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now" in epoch milliseconds (tests shift it).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(now_ms)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The UTC calendar date of an epoch-millisecond time (1970-01-01 outside jiff's range).
pub fn date_of_ms(ms: i64) -> jiff::civil::Date {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
        .unwrap_or(jiff::civil::date(1970, 1, 1))
}

/// RFC 3339 rendering of an epoch-millisecond time, for logs and API responses.
pub fn rfc3339_of_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_days() {
        assert_eq!(date_of_ms(1_704_067_200_000).to_string(), "2024-01-01");
        assert_eq!(date_of_ms(1_704_067_199_999).to_string(), "2023-12-31");
        assert_eq!(date_of_ms(i64::MAX).to_string(), "1970-01-01");
        assert_eq!(rfc3339_of_ms(1_704_067_200_000), "2024-01-01T00:00:00Z");
    }
}
