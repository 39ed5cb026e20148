//! Incydr wire types: sessions (§4.1 of `reference/incydr-api.md`), session file events,
//! watchlists v2, actors and users.
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

// ---------------------------------------------------------------------------------------------
// Sessions

string_enum! {
    /// A session state (`_incydr_sdk/enums/sessions.py`). Servers may add values.
    SessionState {
        Open => "OPEN",
        InProgress => "IN_PROGRESS",
        Closed => "CLOSED",
        ClosedTp => "CLOSED_TP",
        ClosedTpBenign => "CLOSED_TP_BENIGN",
        ClosedFp => "CLOSED_FP",
        OpenNewData => "OPEN_NEW_DATA",
    }
}

/// Session risk severity, 0..=4, the scale of the `severity` filter and of `scores[].severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    NoRisk = 0,
    Low = 1,
    Moderate = 2,
    High = 3,
    Critical = 4,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::NoRisk,
        Severity::Low,
        Severity::Moderate,
        Severity::High,
        Severity::Critical,
    ];

    /// The severity for a wire number, if it is on the scale.
    pub fn from_number(n: i64) -> Option<Severity> {
        match n {
            0 => Some(Severity::NoRisk),
            1 => Some(Severity::Low),
            2 => Some(Severity::Moderate),
            3 => Some(Severity::High),
            4 => Some(Severity::Critical),
            _ => None,
        }
    }

    pub fn as_number(self) -> u8 {
        self as u8
    }

    /// The SDK's enum name: `NO_RISK`, `LOW`, `MODERATE`, `HIGH`, `CRITICAL`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::NoRisk => "NO_RISK",
            Severity::Low => "LOW",
            Severity::Moderate => "MODERATE",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// For people: `No risk`, `Low`, `Moderate`, `High`, `Critical`.
    pub fn display_name(self) -> &'static str {
        match self {
            Severity::NoRisk => "No risk",
            Severity::Low => "Low",
            Severity::Moderate => "Moderate",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// `content_inspection_status` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentInspectionStatus {
    Pending,
    Found,
    NotFound,
}

impl ContentInspectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContentInspectionStatus::Pending => "PENDING",
            ContentInspectionStatus::Found => "FOUND",
            ContentInspectionStatus::NotFound => "NOT_FOUND",
        }
    }
}

/// `order_by` for session searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOrderBy {
    EndTime,
    Score,
}

impl SessionOrderBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionOrderBy::EndTime => "end_time",
            SessionOrderBy::Score => "score",
        }
    }
}

/// `sort_direction` for session searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    Asc,
    Desc,
}

impl SortDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            SortDirection::Asc => "asc",
            SortDirection::Desc => "desc",
        }
    }
}

/// The largest `page_size` `GET /v1/sessions` accepts.
pub const MAX_SESSION_PAGE_SIZE: u32 = 50;

/// Filters of `GET /v1/sessions` (§4.1). [`Default`] is the SDK's default query:
/// `has_alerts=true&page_number=0&page_size=50`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionQuery {
    pub actor_id: Option<String>,
    /// Session start ≥ this (epoch ms).
    pub on_or_after: Option<i64>,
    /// Session start < this (epoch ms).
    pub before: Option<i64>,
    /// Session type, e.g. `STANDARD`, `ACCOUNT_TAKE_OVER` (sent as `type`).
    pub session_type: Option<String>,
    /// `None` omits the parameter.
    pub has_alerts: Option<bool>,
    pub risk_indicators: Vec<String>,
    pub states: Vec<SessionState>,
    pub severities: Vec<Severity>,
    pub rule_ids: Vec<String>,
    pub watchlist_ids: Vec<String>,
    pub content_inspection_status: Option<ContentInspectionStatus>,
    pub order_by: Option<SessionOrderBy>,
    pub sort_direction: Option<SortDirection>,
    /// 0-based.
    pub page_number: u32,
    /// 1..=50.
    pub page_size: u32,
}

impl Default for SessionQuery {
    fn default() -> Self {
        SessionQuery {
            actor_id: None,
            on_or_after: None,
            before: None,
            session_type: None,
            has_alerts: Some(true),
            risk_indicators: Vec::new(),
            states: Vec::new(),
            severities: Vec::new(),
            rule_ids: Vec::new(),
            watchlist_ids: Vec::new(),
            content_inspection_status: None,
            order_by: None,
            sort_direction: None,
            page_number: 0,
            page_size: MAX_SESSION_PAGE_SIZE,
        }
    }
}

impl SessionQuery {
    /// The query string, keys in the order the SDK sends them, lists as repeated keys.
    pub fn to_query_string(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(v) = &self.actor_id {
            q.append_pair("actor_id", v);
        }
        if let Some(v) = self.on_or_after {
            q.append_pair("on_or_after", &v.to_string());
        }
        if let Some(v) = self.before {
            q.append_pair("before", &v.to_string());
        }
        if let Some(v) = &self.session_type {
            q.append_pair("type", v);
        }
        if let Some(v) = self.has_alerts {
            q.append_pair("has_alerts", if v { "true" } else { "false" });
        }
        for v in &self.risk_indicators {
            q.append_pair("risk_indicators", v);
        }
        for v in &self.states {
            q.append_pair("state", v.as_str());
        }
        for v in &self.severities {
            q.append_pair("severity", &v.as_number().to_string());
        }
        for v in &self.rule_ids {
            q.append_pair("rule_id", v);
        }
        for v in &self.watchlist_ids {
            q.append_pair("watchlist_id", v);
        }
        if let Some(v) = self.content_inspection_status {
            q.append_pair("content_inspection_status", v.as_str());
        }
        if let Some(v) = self.order_by {
            q.append_pair("order_by", v.as_str());
        }
        if let Some(v) = self.sort_direction {
            q.append_pair("sort_direction", v.as_str());
        }
        q.append_pair("page_number", &self.page_number.to_string());
        q.append_pair("page_size", &self.page_size.to_string());
        q.finish()
    }
}

/// One page of `GET /v1/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    #[serde(default, deserialize_with = "null_default")]
    pub items: Vec<Session>,
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// An Incydr session (what the console calls an alert). All fields optional; times epoch ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Added in SDK 2.12.2; older servers do not send it.
    #[serde(default)]
    pub actor_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default, rename = "type")]
    pub session_type: Option<String>,
    #[serde(default)]
    pub begin_time: Option<i64>,
    #[serde(default)]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub first_observed: Option<i64>,
    #[serde(default)]
    pub last_updated: Option<i64>,
    #[serde(default)]
    pub no_risk_events: Option<i64>,
    #[serde(default)]
    pub low_events: Option<i64>,
    #[serde(default)]
    pub moderate_events: Option<i64>,
    #[serde(default)]
    pub high_events: Option<i64>,
    #[serde(default)]
    pub critical_events: Option<i64>,
    #[serde(default)]
    pub context_summary: Option<String>,
    #[serde(default)]
    pub exfiltration_summary: Option<String>,
    #[serde(default)]
    pub content_inspection_results: Option<ContentInspectionResults>,
    #[serde(default, deserialize_with = "null_default")]
    pub notes: Vec<SessionNote>,
    #[serde(default, deserialize_with = "null_default")]
    pub risk_indicators: Vec<SessionRiskIndicator>,
    /// Score history.
    #[serde(default, deserialize_with = "null_default")]
    pub scores: Vec<SessionScore>,
    /// State history; see [`Session::current_state`].
    #[serde(default, deserialize_with = "null_default")]
    pub states: Vec<SessionStateEntry>,
    #[serde(default, deserialize_with = "null_default")]
    pub triggered_alerts: Vec<TriggeredAlert>,
}

impl Session {
    /// The session id, or `""` when the server left it out.
    pub fn id(&self) -> &str {
        self.session_id.as_deref().unwrap_or("")
    }

    /// The state-history entry with the latest `sourceTimestamp` (the last one wins a tie;
    /// entries without a timestamp count as oldest).
    pub fn current_state_entry(&self) -> Option<&SessionStateEntry> {
        latest_by(&self.states, |s| s.source_timestamp)
    }

    /// The current state: `stateV2` of the latest history entry, else its deprecated `state`.
    pub fn current_state(&self) -> Option<SessionState> {
        let e = self.current_state_entry()?;
        e.state_v2.clone().or_else(|| e.state.clone())
    }

    /// The latest score entry.
    pub fn current_score(&self) -> Option<&SessionScore> {
        latest_by(&self.scores, |s| s.source_timestamp)
    }

    /// The severity of the latest score entry, if it is on the 0..=4 scale.
    pub fn current_severity(&self) -> Option<Severity> {
        self.current_score()?
            .severity
            .and_then(Severity::from_number)
    }

    /// Alert rule names, where the server sends them (SDK ≥ 2.12.2), else rule ids.
    pub fn rule_labels(&self) -> Vec<String> {
        self.triggered_alerts
            .iter()
            .filter_map(|a| a.rule_name.clone().or_else(|| a.rule_id.clone()))
            .collect()
    }
}

fn latest_by<T>(items: &[T], ts: impl Fn(&T) -> Option<i64>) -> Option<&T> {
    let mut best: Option<(&T, Option<i64>)> = None;
    for item in items {
        let t = ts(item);
        match best {
            Some((_, bt)) if t < bt => {}
            _ => best = Some((item, t)),
        }
    }
    best.map(|(item, _)| item)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentInspectionResults {
    #[serde(default, deserialize_with = "null_default")]
    pub detected_on_alerts: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionNote {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub source_timestamp: Option<i64>,
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRiskIndicator {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub event_count: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionScore {
    #[serde(default)]
    pub score: Option<i64>,
    /// 0..=4; see [`Severity::from_number`].
    #[serde(default)]
    pub severity: Option<i64>,
    #[serde(default)]
    pub source_timestamp: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStateEntry {
    /// Deprecated in favour of `stateV2`.
    #[serde(default)]
    pub state: Option<SessionState>,
    #[serde(default, rename = "stateV2")]
    pub state_v2: Option<SessionState>,
    #[serde(default)]
    pub source_timestamp: Option<i64>,
    /// The console user who changed the state.
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggeredAlert {
    #[serde(default)]
    pub alert_id: Option<String>,
    #[serde(default)]
    pub rule_id: Option<String>,
    /// Added in SDK 2.12.2; older servers do not send it.
    #[serde(default)]
    pub rule_name: Option<String>,
    #[serde(default)]
    pub lesson_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// File events (`GET /v1/sessions/{id}/events`): a typed subset of FileEventV2

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionEventsResponse {
    #[serde(default)]
    pub query_result: Option<FileEventPage>,
    /// Tolerated: a server that does not wrap the page.
    #[serde(default)]
    pub file_events: Option<Vec<FileEvent>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileEventPage {
    #[serde(default, deserialize_with = "null_default")]
    pub file_events: Vec<FileEvent>,
}

/// One file event, the fields a ticket shows. Everything else is ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileEvent {
    /// ISO-8601 time of the event.
    #[serde(default, rename = "@timestamp")]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub event: Option<EventInfo>,
    #[serde(default)]
    pub user: Option<EventUser>,
    #[serde(default)]
    pub file: Option<EventFile>,
    #[serde(default)]
    pub risk: Option<EventRisk>,
    #[serde(default)]
    pub source: Option<EventSource>,
    #[serde(default)]
    pub destination: Option<EventDestination>,
}

impl FileEvent {
    pub fn event_id(&self) -> Option<&str> {
        self.event.as_ref()?.id.as_deref()
    }

    pub fn file_name(&self) -> Option<&str> {
        self.file.as_ref()?.name.as_deref()
    }

    /// Directory and name joined, when both are known.
    pub fn file_path(&self) -> Option<String> {
        let f = self.file.as_ref()?;
        match (&f.directory, &f.name) {
            (Some(d), Some(n)) => Some(format!("{d}{n}")),
            (None, Some(n)) => Some(n.clone()),
            (Some(d), None) => Some(d.clone()),
            (None, None) => None,
        }
    }

    pub fn sha256(&self) -> Option<&str> {
        self.file.as_ref()?.hash.as_ref()?.sha256.as_deref()
    }

    pub fn risk_severity(&self) -> Option<&str> {
        self.risk.as_ref()?.severity.as_deref()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventInfo {
    #[serde(default)]
    pub id: Option<String>,
    /// e.g. `file-downloaded`, `application-read`.
    #[serde(default)]
    pub action: Option<String>,
    /// e.g. `Endpoint`, `GoogleDrive`.
    #[serde(default)]
    pub observer: Option<String>,
    /// e.g. `UPLOADED`, `EMAILED`.
    #[serde(default)]
    pub vector: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub share_type: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub device_uid: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFile {
    #[serde(default)]
    pub name: Option<String>,
    /// Ends with a path separator.
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub size_in_bytes: Option<i64>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub hash: Option<EventFileHash>,
    /// The cloud provider's URL for the file (the key is always present, often `null`).
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFileHash {
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRisk {
    #[serde(default)]
    pub score: Option<i64>,
    /// `NO_RISK`, `LOW`, `MODERATE`, `HIGH`, `CRITICAL`.
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub trusted: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub indicators: Vec<EventRiskIndicator>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventRiskIndicator {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDestination {
    /// e.g. `Cloud Storage`, `Email`, `Removable Media`.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub domains: Vec<String>,
    #[serde(default)]
    pub user: Option<EventDestinationUser>,
    #[serde(default)]
    pub email: Option<EventDestinationEmail>,
    #[serde(default)]
    pub removable_media: Option<EventRemovableMedia>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDestinationUser {
    #[serde(default, deserialize_with = "null_default")]
    pub email: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventDestinationEmail {
    #[serde(default, deserialize_with = "null_default")]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub subject: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRemovableMedia {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Watchlists v2

string_enum! {
    /// `listType` of a v2 watchlist. Servers may add values.
    WatchlistType {
        Unspecified => "WATCHLIST_TYPE_UNSPECIFIED",
        ContractEmployee => "CONTRACT_EMPLOYEE",
        DepartingEmployee => "DEPARTING_EMPLOYEE",
        ElevatedAccessPrivileges => "ELEVATED_ACCESS_PRIVILEGES",
        FlightRisk => "FLIGHT_RISK",
        HighImpactEmployee => "HIGH_IMPACT_EMPLOYEE",
        NewEmployee => "NEW_EMPLOYEE",
        PerformanceConcerns => "PERFORMANCE_CONCERNS",
        PoorSecurityPractices => "POOR_SECURITY_PRACTICES",
        SuspiciousSystemActivity => "SUSPICIOUS_SYSTEM_ACTIVITY",
        Custom => "CUSTOM",
    }
}

/// One page of `GET /v2/watchlists`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistPage {
    #[serde(default, deserialize_with = "null_default")]
    pub watchlists: Vec<Watchlist>,
    #[serde(default)]
    pub total_count: Option<u64>,
}

/// A v2 watchlist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watchlist {
    #[serde(default)]
    pub watchlist_id: Option<String>,
    #[serde(default)]
    pub list_type: Option<WatchlistType>,
    /// Meaningful for `CUSTOM` lists only; built-in lists may have `null`.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub stats: Option<WatchlistStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistStats {
    #[serde(default)]
    pub included_actors_count: Option<i64>,
    #[serde(default)]
    pub excluded_actors_count: Option<i64>,
    #[serde(default)]
    pub included_departments_count: Option<i64>,
    #[serde(default)]
    pub included_directory_groups_count: Option<i64>,
}

/// A watchlist member or included actor. Note the wire key `actorname` (sic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchlistActor {
    #[serde(default)]
    pub actor_id: Option<String>,
    #[serde(default, rename = "actorname", alias = "actorName")]
    pub actor_name: Option<String>,
    /// ISO-8601.
    #[serde(default)]
    pub added_time: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Actors and users

/// An actor (`/v1/actors`): the id watchlists v2 and the departure date take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Usually the email address.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub alternate_names: Vec<String>,
    #[serde(default)]
    pub in_scope: Option<bool>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub division: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub employee_type: Option<String>,
    #[serde(default)]
    pub locality: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub manager_actor_id: Option<String>,
    #[serde(default)]
    pub parent_actor_id: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub start_date: Option<String>,
    /// `YYYY-MM-DD`: the departure date.
    #[serde(default)]
    pub end_date: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// How a PATCH treats one field: leave it out, send `null` (clear it), or send a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FieldUpdate<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> FieldUpdate<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, FieldUpdate::Keep)
    }
}

impl<T> From<Option<T>> for FieldUpdate<T> {
    /// `Some(v)` sets, `None` clears.
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => FieldUpdate::Set(v),
            None => FieldUpdate::Clear,
        }
    }
}

/// `PATCH /v1/actors/actor/id/{actorId}`: only the fields not [`FieldUpdate::Keep`] are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActorUpdate {
    pub notes: FieldUpdate<String>,
    pub start_date: FieldUpdate<jiff::civil::Date>,
    pub end_date: FieldUpdate<jiff::civil::Date>,
}

impl ActorUpdate {
    /// Set the departure date only: `{"endDate":"YYYY-MM-DD"}`.
    pub fn end_date(date: jiff::civil::Date) -> Self {
        ActorUpdate {
            end_date: FieldUpdate::Set(date),
            ..Default::default()
        }
    }

    /// Clear the departure date only: `{"endDate":null}`.
    pub fn clear_end_date() -> Self {
        ActorUpdate {
            end_date: FieldUpdate::Clear,
            ..Default::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.notes.is_keep() && self.start_date.is_keep() && self.end_date.is_keep()
    }
}

/// A console user (`/v1/users`). Watchlists take actor ids, not these user ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, deserialize_with = "string_or_number")]
    pub legacy_user_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub user_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub legacy_org_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub org_id: Option<String>,
    #[serde(default)]
    pub org_guid: Option<String>,
    #[serde(default)]
    pub org_name: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub blocked: Option<bool>,
    #[serde(default)]
    pub creation_date: Option<String>,
    #[serde(default)]
    pub modification_date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct UserPage {
    #[serde(default, deserialize_with = "null_default")]
    pub users: Vec<User>,
}

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

    #[test]
    fn severities_have_numbers_sdk_names_and_display_names() {
        assert_eq!(Severity::from_number(3), Some(Severity::High));
        assert_eq!(Severity::from_number(5), None);
        assert_eq!(Severity::Critical.name(), "CRITICAL");
        assert_eq!(Severity::NoRisk.display_name(), "No risk");
        assert_eq!(Severity::Moderate.as_number(), 2);
    }
}
