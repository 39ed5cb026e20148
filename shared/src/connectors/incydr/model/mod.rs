//! Incydr wire types: sessions (`GET /v1/sessions`, as the official `incydr` Python SDK's
//! session models define them), session file events, watchlists v2, actors and users.
//!
//! Every response field is optional or defaulted, unknown fields are ignored, and enums keep
//! values they do not know (`Other(String)`), so a server that adds a state or a field does not
//! break a run. Times are epoch milliseconds where the API uses them.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A JSON `null` (or a missing key, with `#[serde(default)]`) becomes the type's default.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An id the API may send as a string or as a number.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(serde_json::Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// A string-backed enum that keeps values it does not know.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s.as_str(),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::from(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Auth

/// `POST /v1/oauth` answer (snake_case keys).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    #[allow(dead_code)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    pub access_token: String,
}

mod actors;
mod events;
mod sessions;
mod watchlists;

pub use actors::*;
pub use events::*;
pub use sessions::*;
pub use watchlists::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_state_is_the_entry_with_the_latest_timestamp_not_the_last_one() {
        let s: Session = serde_json::from_str(
            r#"{"states":[
                {"state":"OPEN","stateV2":"OPEN","sourceTimestamp":3,"userId":null},
                {"state":"CLOSED","stateV2":"CLOSED_TP","sourceTimestamp":9,"userId":"u"},
                {"state":"OPEN","sourceTimestamp":5}],
              "scores":[{"score":5,"severity":2,"sourceTimestamp":1},{"score":9,"severity":4,"sourceTimestamp":7}]}"#,
        )
        .unwrap();
        assert_eq!(s.current_state(), Some(SessionState::ClosedTp));
        assert_eq!(s.current_severity(), Some(Severity::Critical));
    }

    #[test]
    fn unknown_states_fields_and_nulls_are_tolerated() {
        let s: Session = serde_json::from_str(
            r#"{"sessionId":"s1","states":[{"state":"ESCALATED","sourceTimestamp":1}],
               "notes":null,"triggeredAlerts":[{"alertId":"a","ruleId":"r","lessonId":null}],
               "brandNewField":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(
            s.current_state(),
            Some(SessionState::Other("ESCALATED".into()))
        );
        assert!(s.notes.is_empty());
        assert_eq!(s.rule_labels(), vec!["r".to_string()]);
        assert_eq!(s.current_severity(), None);
    }

    /// One page where every enum the client reads carries a value this version does not know:
    /// the page is read whole and each value is kept as text (Incydr adds values without notice:
    /// `CLOSED_TP_BENIGN` in 2026, `ThirdPartyIntegration` notification methods that crashed
    /// SDKs before 2.12.1).
    #[test]
    fn a_session_page_with_unknown_enum_values_is_read_whole_and_keeps_them_as_text() {
        let page: SessionPage = serde_json::from_str(
            r#"{"totalCount":2,"items":[
              {"sessionId":"s1","type":"CLOUD_SYNC_V2",
               "states":[{"state":"OPEN","stateV2":"AWAITING_REVIEWER","sourceTimestamp":2,"userId":null}],
               "riskIndicators":[{"id":"ri-new","name":"Generative AI upload","weight":7,"eventCount":3}],
               "scores":[{"score":99,"severity":7,"sourceTimestamp":1}],
               "triggeredAlerts":[{"alertId":"a","ruleId":"r","lessonId":null,
                 "notificationMethods":["ThirdPartyIntegration","CarrierPigeon"]}]},
              {"sessionId":"s2","states":[{"state":"CLOSED","sourceTimestamp":1}]}]}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 2);
        let s = &page.items[0];
        assert_eq!(
            s.current_state(),
            Some(SessionState::Other("AWAITING_REVIEWER".into()))
        );
        assert_eq!(s.current_state().unwrap().as_str(), "AWAITING_REVIEWER");
        assert_eq!(s.session_type.as_deref(), Some("CLOUD_SYNC_V2"));
        assert_eq!(
            s.risk_indicators[0].name.as_deref(),
            Some("Generative AI upload")
        );
        // A severity off the 0..=4 scale is no severity, not a failed page; the score stays.
        assert_eq!(s.current_severity(), None);
        assert_eq!(s.current_score().and_then(|c| c.score), Some(99));
        assert_eq!(s.rule_labels(), vec!["r".to_string()]);
        assert_eq!(page.items[1].current_state(), Some(SessionState::Closed));
    }

    #[test]
    fn a_watchlist_page_with_an_unknown_list_type_is_read_whole_and_keeps_it_as_text() {
        let page: WatchlistPage = serde_json::from_str(
            r#"{"totalCount":2,"watchlists":[
              {"watchlistId":"w1","listType":"AI_POWER_USERS","title":null,"stats":{}},
              {"watchlistId":"w2","listType":"DEPARTING_EMPLOYEE"}]}"#,
        )
        .unwrap();
        assert_eq!(
            page.watchlists[0].list_type,
            Some(WatchlistType::Other("AI_POWER_USERS".into()))
        );
        assert_eq!(
            page.watchlists[0].list_type.as_ref().unwrap().as_str(),
            "AI_POWER_USERS"
        );
        assert_eq!(
            page.watchlists[1].list_type,
            Some(WatchlistType::DepartingEmployee)
        );
    }

    #[test]
    fn a_file_event_page_with_unknown_risk_values_is_read_whole_and_keeps_them_as_text() {
        let page: FileEventPage = serde_json::from_str(
            r#"{"fileEvents":[{"@timestamp":"2026-12-01T00:00:00Z",
               "risk":{"score":5,"severity":"SEVERE","trusted":false,"untrustedValues":{},
                       "indicators":[{"name":"Unknown future indicator","weight":3}]},
               "file":{"name":"a.txt","url":null}}],"totalCount":1}"#,
        )
        .unwrap();
        let risk = page.file_events[0].risk.as_ref().unwrap();
        assert_eq!(risk.severity.as_deref(), Some("SEVERE"));
        assert_eq!(
            risk.indicators[0].name.as_deref(),
            Some("Unknown future indicator")
        );
    }

    #[test]
    fn severities_have_numbers_sdk_names_and_display_names() {
        assert_eq!(Severity::from_number(3), Some(Severity::High));
        assert_eq!(Severity::from_number(5), None);
        assert_eq!(Severity::Critical.name(), "CRITICAL");
        assert_eq!(Severity::NoRisk.display_name(), "No risk");
        assert_eq!(Severity::Moderate.as_number(), 2);
    }
}
