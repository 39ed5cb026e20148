//! What the flows need to know about an Incydr session with alerts, and what a ticket says.
//! Built from the Incydr connector's model by [`crate::connectors::incydr::IncydrAdapter`].

use super::ConnectionKind;
use serde::{Deserialize, Serialize};

/// An Incydr session with alerts, as the flows see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSession {
    pub session_id: String,
    pub actor_id: Option<String>,
    /// The actor's name, normally their email.
    pub actor_name: Option<String>,
    pub begin_time: Option<i64>,
    pub end_time: Option<i64>,
    /// When the session last changed (new alerts, events, state); epoch ms.
    pub last_updated: i64,
    /// 0 no risk … 4 critical.
    pub severity: u8,
    /// The current state (latest entry of the states history), e.g. `OPEN`, `OPEN_NEW_DATA`.
    pub state: Option<String>,
    pub risk_indicators: Vec<(String, u64)>,
    pub triggered_alerts: Vec<TriggeredAlert>,
    pub exfiltration_summary: Option<String>,
    pub context_summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggeredAlert {
    pub alert_id: String,
    pub rule_id: String,
    pub rule_name: Option<String>,
}

/// One file event of a session, for the ticket's "top file events".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEventSummary {
    pub timestamp: Option<String>,
    pub file_name: Option<String>,
    pub file_path: Option<String>,
    pub file_size: Option<u64>,
    pub sha256: Option<String>,
    pub destination: Option<String>,
    pub risk_severity: Option<String>,
}

/// Display name of a severity (Incydr's enum names).
pub fn severity_name(sev: u8) -> &'static str {
    match sev {
        0 => "NO_RISK",
        1 => "LOW",
        2 => "MODERATE",
        3 => "HIGH",
        _ => "CRITICAL",
    }
}

/// What a ticket says, independent of where it is opened. Each sink renders it (ADF for
/// Jira, plain text for ServiceNow).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TicketContent {
    /// One line.
    pub summary: String,
    pub severity: u8,
    /// Titled sections of lines.
    pub sections: Vec<(String, Vec<String>)>,
    /// Link to the session in the Incydr console.
    pub link: Option<String>,
}

impl TicketContent {
    /// Plain-text rendering (ServiceNow, notes, logs of the dry-run plan).
    pub fn to_plain_text(&self) -> String {
        let mut out = String::new();
        for (title, lines) in &self.sections {
            out.push_str(title);
            out.push('\n');
            for l in lines {
                out.push_str("- ");
                out.push_str(l);
                out.push('\n');
            }
            out.push('\n');
        }
        if let Some(link) = &self.link {
            out.push_str("Incydr: ");
            out.push_str(link);
            out.push('\n');
        }
        out
    }
}

/// Where a ticket was opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRef {
    /// The ticket system (stored as `jira` / `servicenow`).
    pub system: ConnectionKind,
    /// Jira issue id / ServiceNow sys_id.
    pub id: String,
    /// Jira issue key / ServiceNow incident number.
    pub key: String,
    /// A link a person can open.
    pub url: Option<String>,
}
