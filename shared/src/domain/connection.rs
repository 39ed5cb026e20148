//! Connections: one per outside system, with a status, non-secret settings and a history.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Every outside system riskflow can be connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    Incydr,
    Jira,
    Servicenow,
    Okta,
    Workday,
    Adp,
    Bamboohr,
    /// Any HR system that can call a signed webhook (Standard Webhooks scheme).
    Generic,
}

impl ConnectionKind {
    /// All kinds, in the order the Data Sources page lists them.
    pub const ALL: [ConnectionKind; 8] = [
        ConnectionKind::Incydr,
        ConnectionKind::Jira,
        ConnectionKind::Servicenow,
        ConnectionKind::Okta,
        ConnectionKind::Workday,
        ConnectionKind::Adp,
        ConnectionKind::Bamboohr,
        ConnectionKind::Generic,
    ];

    /// The identifier used in routes, secret names and state keys.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Incydr => "incydr",
            ConnectionKind::Jira => "jira",
            ConnectionKind::Servicenow => "servicenow",
            ConnectionKind::Okta => "okta",
            ConnectionKind::Workday => "workday",
            ConnectionKind::Adp => "adp",
            ConnectionKind::Bamboohr => "bamboohr",
            ConnectionKind::Generic => "generic",
        }
    }

    /// The name a person reads.
    /// The product's short name, as a sentence names it ("a Jira ticket", "the Okta group").
    pub fn short_name(self) -> &'static str {
        match self {
            ConnectionKind::Incydr => "Incydr",
            ConnectionKind::Jira => "Jira",
            ConnectionKind::Servicenow => "ServiceNow",
            ConnectionKind::Okta => "Okta",
            ConnectionKind::Workday => "Workday",
            ConnectionKind::Adp => "ADP",
            ConnectionKind::Bamboohr => "BambooHR",
            ConnectionKind::Generic => "HR webhook",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            ConnectionKind::Incydr => "Code42 Incydr",
            ConnectionKind::Jira => "Jira Cloud",
            ConnectionKind::Servicenow => "ServiceNow",
            ConnectionKind::Okta => "Okta",
            ConnectionKind::Workday => "Workday",
            ConnectionKind::Adp => "ADP Workforce Now",
            ConnectionKind::Bamboohr => "BambooHR",
            ConnectionKind::Generic => "Signed HR webhook",
        }
    }
}

impl fmt::Display for ConnectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a connection kind nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown connection kind '{0}' (expected one of incydr, jira, servicenow, okta, workday, adp, bamboohr, generic)"
)]
pub struct UnknownKind(pub String);

impl FromStr for ConnectionKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConnectionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    Disconnected,
    NeverConnected,
    VerifyFailed,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::Disconnected => "disconnected",
            ConnectionStatus::NeverConnected => "never_connected",
            ConnectionStatus::VerifyFailed => "verify_failed",
        }
    }
}

/// The stored `connection#<kind>` / `config` item. Holds no secret: only where the secret is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub kind: ConnectionKind,
    pub status: ConnectionStatus,
    /// Non-secret settings (base URL, project key, group id, severity floor, ...).
    #[serde(default)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Name of the secret holding the credentials, when one exists.
    #[serde(default)]
    pub secret_id: Option<String>,
    /// Version of that secret the settings were verified with; the secret cache is keyed on it.
    #[serde(default)]
    pub secret_version: Option<String>,
    #[serde(default)]
    pub verified_at: Option<i64>,
    /// What the last verification said (the user-facing message).
    #[serde(default)]
    pub message: Option<String>,
    /// What the last successful verification read from the system that runs need (the
    /// connector's own shape, no secret), replaced by the next successful one.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub updated_at: i64,
    /// Optimistic-concurrency counter, maintained by the store.
    #[serde(default)]
    pub version: u64,
}

impl ConnectionRecord {
    /// The record a kind has before anyone connected it.
    pub fn never_connected(kind: ConnectionKind) -> Self {
        ConnectionRecord {
            kind,
            status: ConnectionStatus::NeverConnected,
            settings: BTreeMap::new(),
            secret_id: None,
            secret_version: None,
            verified_at: None,
            message: None,
            facts: serde_json::Map::new(),
            updated_at: 0,
            version: 0,
        }
    }

    /// A string setting, if present.
    pub fn setting_str(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(|v| v.as_str())
    }
}

/// One status change of a connection (`connection#<kind>` / `history#<ts>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub kind: ConnectionKind,
    pub at: i64,
    pub status: ConnectionStatus,
    /// IAM principal on AWS, `local` in local mode.
    pub by: String,
    pub message: String,
}
