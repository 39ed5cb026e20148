//! Flows and their work items: the unit of exactly-once outside effects.

use super::ConnectionKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The three jobs riskflow runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    AlertTickets,
    HrDepartures,
    DepartingResponse,
    StateSync,
}

impl Flow {
    pub const ALL: [Flow; 4] = [
        Flow::AlertTickets,
        Flow::HrDepartures,
        Flow::DepartingResponse,
        Flow::StateSync,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flow::AlertTickets => "alert-tickets",
            Flow::HrDepartures => "hr-departures",
            Flow::DepartingResponse => "departing-response",
            Flow::StateSync => "state-sync",
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown flow '{0}' (expected alert-tickets, hr-departures, departing-response or state-sync)"
)]
pub struct UnknownFlow(pub String);

impl FromStr for Flow {
    type Err = UnknownFlow;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flow::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFlow(s.to_string()))
    }
}

/// Where a work item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Waiting to be processed (e.g. a webhook delivery recorded before it was handled).
    Pending,
    /// Claimed by a worker whose lease is in `lease_until`.
    InProgress,
    Done,
    Failed,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::InProgress => "in_progress",
            ItemStatus::Done => "done",
            ItemStatus::Failed => "failed",
        }
    }
}

/// One step of a work item: the intent recorded before an outside call, the outcome after.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// A fingerprint of the request about to be made.
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub intent_at: Option<i64>,
    #[serde(default)]
    pub done_at: Option<i64>,
    /// What the outside system answered (ticket key, sys_id, ...).
    #[serde(default)]
    pub outcome: Option<serde_json::Value>,
    /// The lease token of the worker that recorded the intent: an intent recorded under the
    /// current lease is the current attempt's own, not an earlier attempt whose answer was lost.
    #[serde(default)]
    pub lease_token: Option<String>,
}

/// `item#<flow>#<key>` / `state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkItem {
    pub flow: Flow,
    pub key: String,
    pub status: ItemStatus,
    #[serde(default)]
    pub lease_until: Option<i64>,
    #[serde(default)]
    pub lease_token: Option<String>,
    /// Steps by [`Step::key`] (`ticket:jira`, `comment:servicenow`, `okta`, `watchlist_add`).
    #[serde(default)]
    pub steps: BTreeMap<String, StepRecord>,
    /// The flow's own input for this item (a pending HR fact, a session summary, ...).
    #[serde(default)]
    pub payload: serde_json::Value,
    /// Incydr session `lastUpdated` the item's ticket reflects.
    #[serde(default)]
    pub handled_last_updated: Option<i64>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Retention only: an item past this time is treated as absent.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Optimistic-concurrency counter, maintained by the store.
    #[serde(default)]
    pub version: u64,
    /// Whether the item has an entry in its flow's pending or failed index (maintained by the
    /// store, so finishing an item that never had one needs no index write).
    #[serde(default)]
    pub indexed: bool,
}

impl WorkItem {
    /// A new item in the given status with nothing recorded yet.
    pub fn new(flow: Flow, key: impl Into<String>, status: ItemStatus, now: i64) -> Self {
        WorkItem {
            flow,
            key: key.into(),
            status,
            lease_until: None,
            lease_token: None,
            steps: BTreeMap::new(),
            payload: serde_json::Value::Null,
            handled_last_updated: None,
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
            expires_at: None,
            version: 0,
            indexed: false,
        }
    }

    /// The outcome recorded for a step, if it completed.
    pub fn step_outcome(&self, step: Step) -> Option<&serde_json::Value> {
        self.steps
            .get(&step.key())
            .filter(|s| s.done_at.is_some())
            .and_then(|s| s.outcome.as_ref())
    }

    /// The record of a step, whether or not it completed.
    pub fn step(&self, step: Step) -> Option<&StepRecord> {
        self.steps.get(&step.key())
    }
}

/// An outside effect a work item records its intent and outcome for. Stored as [`Step::key`]
/// in [`WorkItem::steps`]: the keys are stored data, so a key once written never changes (an
/// in-flight intent read under another name would be acted on twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The ticket of a session in a ticket system.
    Ticket(ConnectionKind),
    /// The comment for a session's new data in a ticket system.
    Comment(ConnectionKind),
    /// Containment in an identity provider (the low-permission group).
    Contain(ConnectionKind),
    /// A person put on the Departing watchlist.
    WatchlistAdd,
    /// A person taken off the Departing watchlist.
    WatchlistRemove,
    /// An HR fact applied to the person's record (or ignored as stale).
    Applied,
}

impl Step {
    /// The key the step is stored under.
    pub fn key(self) -> String {
        match self {
            Step::Ticket(kind) => format!("ticket:{kind}"),
            Step::Comment(kind) => format!("comment:{kind}"),
            // Written as "okta" since the first release.
            Step::Contain(ConnectionKind::Okta) => "okta".into(),
            Step::Contain(kind) => format!("contain:{kind}"),
            Step::WatchlistAdd => "watchlist_add".into(),
            Step::WatchlistRemove => "watchlist_remove".into(),
            Step::Applied => "applied".into(),
        }
    }
}

/// Proof that a worker holds an item (or a flow lock). Every write made under it is
/// conditional on `token`, so a worker whose lease passed cannot overwrite its successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub pk: String,
    pub sk: String,
    pub token: String,
    pub until: i64,
}
