//! Containments: what riskflow changed in an identity provider to restrict a person (today an
//! Okta group membership), kept as a durable record so the change can be undone exactly once,
//! and never undone when riskflow did not make it.

use super::ConnectionKind;
use serde::{Deserialize, Serialize};

/// At most this many session ids are kept on one containment (the first is the one whose alert
/// made the change); later ones are counted in [`Containment::more_sessions`].
pub const MAX_SESSIONS_KEPT: usize = 50;

/// Where a containment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainmentStatus {
    /// The restriction is in place (riskflow added the membership).
    Active,
    /// An undo has begun (its intent is recorded); the next attempt finishes it.
    Undoing,
    /// Riskflow removed the membership it had added (or found it already gone).
    Undone,
    /// Not removed, and never will be by riskflow: the membership may have been made by a group
    /// rule (removing it would put the person on the rule's exclusion list), or the user no
    /// longer exists. The reason is in [`Containment::closed`].
    Kept,
    /// The person was a member before riskflow acted: riskflow changed nothing, so it has
    /// nothing to undo.
    NotReversible,
}

impl ContainmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainmentStatus::Active => "active",
            ContainmentStatus::Undoing => "undoing",
            ContainmentStatus::Undone => "undone",
            ContainmentStatus::Kept => "kept",
            ContainmentStatus::NotReversible => "not_reversible",
        }
    }

    /// Whether the containment still holds a membership riskflow may remove.
    pub fn is_open(self) -> bool {
        matches!(self, ContainmentStatus::Active | ContainmentStatus::Undoing)
    }
}

/// Why an undo is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum UndoReason {
    /// A person asked for it (`riskflow undo`, `POST /containments/{id}/undo`).
    Requested { by: String, note: Option<String> },
    /// The person's departure was cancelled (their latest HR fact).
    DepartureCancelled { fact: String },
    /// The restriction's time limit (`contain_for_days`) passed.
    TimeLimit { days: u32 },
}

impl std::fmt::Display for UndoReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UndoReason::Requested { by, note: Some(n) } => write!(f, "undo requested by {by}: {n}"),
            UndoReason::Requested { by, note: None } => write!(f, "undo requested by {by}"),
            UndoReason::DepartureCancelled { fact } => write!(f, "departure cancelled ({fact})"),
            UndoReason::TimeLimit { days } => write!(f, "time limit of {days} days passed"),
        }
    }
}

/// A request to undo, recorded by the API for the job that owns the containment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoRequest {
    pub by: String,
    pub at: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// How a containment ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    pub at: i64,
    /// Why it ended (the undo reason, or why nothing was changed).
    pub why: String,
    /// What was done: `ok`, `ok (…)`, `skipped: …`.
    pub result: String,
}

/// `containment#<id>` / `record`: one change riskflow made to restrict a person. Kept without
/// retention while open; once closed, kept for [`CLOSED_RETENTION_MS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Containment {
    /// Short random id, what `riskflow undo` takes.
    pub id: String,
    /// The identity provider changed.
    pub idp: ConnectionKind,
    pub group_id: String,
    pub user_id: String,
    /// The person's login (lower-case), as the audit names them.
    pub login: String,
    /// The email the alert named (lower-case): the key of their HR facts.
    pub email: String,
    /// Whether the person was a member of the group before riskflow acted. When true riskflow
    /// changed nothing and never removes the membership.
    pub was_member: bool,
    /// Sessions whose alerts led to this containment, the first one made the change.
    pub sessions: Vec<String>,
    #[serde(default)]
    pub more_sessions: u64,
    pub contained_at: i64,
    /// When the restriction's time limit passes (`contain_for_days` at the time of the change).
    #[serde(default)]
    pub until: Option<i64>,
    pub status: ContainmentStatus,
    #[serde(default)]
    pub undo_request: Option<UndoRequest>,
    /// The reason of an undo that has begun ([`ContainmentStatus::Undoing`]).
    #[serde(default)]
    pub undoing: Option<UndoReason>,
    /// The last failure of an undo attempt (kept open; retried by the next run).
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub closed: Option<Closed>,
    /// Optimistic concurrency; not stored in the body.
    #[serde(skip)]
    pub version: u64,
}

/// How long a closed containment is kept (a little over a year, longer than any audit query).
pub const CLOSED_RETENTION_MS: i64 = 400 * 86_400_000;

impl Containment {
    /// The key of the one open containment a membership can have.
    pub fn membership_key(idp: ConnectionKind, group_id: &str, user_id: &str) -> String {
        format!("{}#{group_id}#{user_id}", idp.as_str())
    }

    pub fn key(&self) -> String {
        Self::membership_key(self.idp, &self.group_id, &self.user_id)
    }

    /// Add a session to the ones that led here (idempotent; bounded).
    pub fn add_session(&mut self, session_id: &str) -> bool {
        if self.sessions.iter().any(|s| s == session_id) {
            return false;
        }
        if self.sessions.len() < MAX_SESSIONS_KEPT {
            self.sessions.push(session_id.to_string());
        } else {
            self.more_sessions += 1;
        }
        true
    }

    /// Why `riskflow undo` cannot act on this containment, if it cannot.
    pub fn refuses_undo(&self) -> Option<String> {
        match self.status {
            ContainmentStatus::Active | ContainmentStatus::Undoing => None,
            ContainmentStatus::NotReversible => Some(format!(
                "containment {} is not reversible: {} was already a member of group {} before riskflow acted, so riskflow changed nothing and removes nothing",
                self.id, self.login, self.group_id
            )),
            status => Some(format!(
                "containment {} is already closed ({}{})",
                self.id,
                status.as_str(),
                self.closed
                    .as_ref()
                    .map(|c| format!(": {}", c.result))
                    .unwrap_or_default()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Containment {
        Containment {
            id: "c1".into(),
            idp: ConnectionKind::Okta,
            group_id: "00g1".into(),
            user_id: "00u1".into(),
            login: "pat@example.com".into(),
            email: "pat@example.com".into(),
            was_member: false,
            sessions: vec![],
            more_sessions: 0,
            contained_at: 0,
            until: None,
            status: ContainmentStatus::Active,
            undo_request: None,
            undoing: None,
            last_error: None,
            closed: None,
            version: 0,
        }
    }

    #[test]
    fn sessions_are_kept_once_and_bounded() {
        let mut c = sample();
        assert!(c.add_session("s1"));
        assert!(!c.add_session("s1"));
        for i in 0..(MAX_SESSIONS_KEPT + 5) {
            c.add_session(&format!("x{i}"));
        }
        assert_eq!(c.sessions.len(), MAX_SESSIONS_KEPT);
        assert_eq!(c.more_sessions, 6);
    }

    #[test]
    fn only_an_open_change_riskflow_made_can_be_undone() {
        let mut c = sample();
        assert_eq!(c.refuses_undo(), None);
        c.status = ContainmentStatus::NotReversible;
        assert!(
            c.refuses_undo()
                .is_some_and(|m| m.contains("not reversible") && m.contains("already a member"))
        );
        c.status = ContainmentStatus::Undone;
        assert!(
            c.refuses_undo()
                .is_some_and(|m| m.contains("already closed"))
        );
    }
}
