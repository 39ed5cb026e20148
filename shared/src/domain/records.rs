//! Records kept for people to read: runs, audit entries, scan marks, webhook deliveries.

use super::{ConnectionKind, Flow};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    /// Finished, but some items failed (they are retried by later runs).
    Partial,
    Failed,
    /// Did not run: a connection it needs is not connected, or another run holds the lock.
    Skipped,
}

/// `run#<flow>` / `<ts>#<id>`: one invocation of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub flow: Flow,
    pub id: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub status: RunStatus,
    pub dry_run: bool,
    /// Named counters (`sessions_scanned`, `tickets_created`, ...).
    #[serde(default)]
    pub counts: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    pub errors: Vec<String>,
    /// Why a run was skipped, or a summary.
    #[serde(default)]
    pub message: Option<String>,
    /// What a dry run would have done.
    #[serde(default)]
    pub plan: Vec<String>,
}

/// `audit#<yyyy-mm-dd>` / `<ts>#<id>`: one outside action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: i64,
    pub id: String,
    pub flow: Option<Flow>,
    /// The system acted on.
    pub system: ConnectionKind,
    /// What was done (`create_ticket`, `add_comment`, `watchlist_add`, `okta_group_add`, ...).
    pub action: String,
    /// On whom or what (an email, a session id, a ticket key).
    pub target: String,
    /// Why (the session, the HR event).
    pub reason: String,
    /// `ok`, `failed: ...`, `skipped: ...`.
    pub result: String,
}

/// `scan#<flow>` / `last`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanMark {
    pub flow: Flow,
    /// When the last complete scan of the lookback window started (its `before` bound).
    pub completed_scan_started_at: i64,
    pub completed_at: i64,
}

/// `delivery#<source>#<id>` / `seen`: a webhook delivery, for dedup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub source: String,
    pub id: String,
    pub received_at: i64,
    /// SHA-256 of the raw body, hex.
    pub body_sha256: String,
    /// Retention: at least the replay window.
    pub expires_at: i64,
}
