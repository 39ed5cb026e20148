//! Session types: the query, a page, a session and what it holds.

use super::*;

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
