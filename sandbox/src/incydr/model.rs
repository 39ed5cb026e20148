//! Incydr's wire types (field order is the wire order of the API): sessions with their notes,
//! scores, states and alerts, actors, users and watchlist seeds, plus a realistic file event.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A session note.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Note {
    /// Note id.
    pub id: String,
    /// Text.
    pub content: String,
    /// Epoch ms.
    pub source_timestamp: i64,
    /// Console user (or API client) who wrote it.
    pub user_id: Option<String>,
}

/// A risk indicator on a session.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RiskIndicator {
    /// Indicator id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Weight.
    pub weight: i64,
    /// Events with this indicator.
    pub event_count: i64,
}

/// A score history entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Score {
    /// Score.
    pub score: i64,
    /// 0 no risk .. 4 critical.
    pub severity: i64,
    /// Epoch ms.
    pub source_timestamp: i64,
}

/// A state history entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct StateEntry {
    /// One of [`SESSION_STATES`](super::SESSION_STATES).
    pub state: String,
    /// Free text successor of `state`.
    pub state_v2: Option<String>,
    /// Epoch ms.
    pub source_timestamp: i64,
    /// Who changed it.
    pub user_id: Option<String>,
}

/// An alert that fired in a session.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TriggeredAlert {
    /// Alert id.
    pub alert_id: String,
    /// Rule id.
    pub rule_id: String,
    /// Rule name (SDK ≥ 2.12.2).
    pub rule_name: Option<String>,
    /// Lesson id.
    pub lesson_id: Option<String>,
}

/// Content inspection results.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ContentInspectionResults {
    /// Detected content kinds, e.g. `PII`.
    pub detected_on_alerts: Vec<String>,
}

/// A session, exactly as `GET /v1/sessions` returns it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Session {
    /// Session id.
    pub session_id: String,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Actor id.
    pub actor_id: String,
    /// Actor name (email).
    pub actor_name: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// `STANDARD`, `ACCOUNT_TAKE_OVER`, ...
    #[serde(rename = "type")]
    pub session_type: Option<String>,
    /// Epoch ms.
    pub begin_time: i64,
    /// Epoch ms.
    pub end_time: i64,
    /// Epoch ms.
    pub first_observed: i64,
    /// Epoch ms.
    pub last_updated: i64,
    /// Event counts by severity.
    pub no_risk_events: i64,
    /// Event counts by severity.
    pub low_events: i64,
    /// Event counts by severity.
    pub moderate_events: i64,
    /// Event counts by severity.
    pub high_events: i64,
    /// Event counts by severity.
    pub critical_events: i64,
    /// Summary.
    pub context_summary: Option<String>,
    /// Summary.
    pub exfiltration_summary: Option<String>,
    /// Content inspection.
    pub content_inspection_results: Option<ContentInspectionResults>,
    /// Notes.
    pub notes: Vec<Note>,
    /// Indicators.
    pub risk_indicators: Vec<RiskIndicator>,
    /// Score history.
    pub scores: Vec<Score>,
    /// State history.
    pub states: Vec<StateEntry>,
    /// Alerts.
    pub triggered_alerts: Vec<TriggeredAlert>,
}

impl Session {
    /// The current state: the history entry with the latest `sourceTimestamp`.
    pub fn current_state(&self) -> &str {
        self.states
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.source_timestamp, *i))
            .map(|(_, s)| s.state.as_str())
            .unwrap_or("OPEN")
    }

    /// The current severity (latest score entry, else the worst event count).
    pub fn current_severity(&self) -> i64 {
        if let Some((_, s)) = self
            .scores
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.source_timestamp, *i))
        {
            return s.severity;
        }
        if self.critical_events > 0 {
            4
        } else if self.high_events > 0 {
            3
        } else if self.moderate_events > 0 {
            2
        } else if self.low_events > 0 {
            1
        } else {
            0
        }
    }

    pub(crate) fn current_score(&self) -> i64 {
        self.scores
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.source_timestamp, *i))
            .map(|(_, s)| s.score)
            .unwrap_or(0)
    }
}

/// A session to seed, with its file events.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SessionSeed {
    /// The session (missing fields get defaults: id, tenant, OPEN state, times).
    #[serde(flatten)]
    pub session: Session,
    /// File events served by `/v1/sessions/{id}/events`.
    pub events: Vec<Value>,
}

/// An actor.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Actor {
    /// Actor id.
    pub actor_id: String,
    /// Name (usually the email).
    pub name: String,
    /// Active.
    pub active: bool,
    /// Aliases.
    pub alternate_names: Vec<String>,
    /// In scope.
    pub in_scope: bool,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Division.
    pub division: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Employee type.
    pub employee_type: Option<String>,
    /// Locality.
    pub locality: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Manager.
    pub manager_actor_id: Option<String>,
    /// Parent actor (for child aliases).
    pub parent_actor_id: Option<String>,
    /// `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// `YYYY-MM-DD` (the departure date).
    pub end_date: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// A user.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    /// Legacy id.
    pub legacy_user_id: String,
    /// User id.
    pub user_id: String,
    /// Username (email).
    pub username: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Legacy org id.
    pub legacy_org_id: String,
    /// Org id.
    pub org_id: String,
    /// Org guid.
    pub org_guid: String,
    /// Org name.
    pub org_name: String,
    /// Notes.
    pub notes: Option<String>,
    /// Active.
    pub active: bool,
    /// Blocked.
    pub blocked: bool,
    /// ISO time.
    pub creation_date: String,
    /// ISO time.
    pub modification_date: String,
}

/// A watchlist to seed. `includedActors` takes actor ids or actor names.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WatchlistSeed {
    /// Id (generated when empty).
    pub watchlist_id: Option<String>,
    /// One of [`WATCHLIST_TYPES`](super::WATCHLIST_TYPES).
    pub list_type: String,
    /// Title (CUSTOM lists).
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Actor ids or names.
    pub included_actors: Vec<String>,
}

/// A realistic v2 file event (`@timestamp`, `event.id`, `user.email`, `file.name`,
/// `file.url`, `file.hash.sha256`, `risk.severity`, ...).
pub fn sample_file_event(
    event_id: &str,
    ts_ms: i64,
    email: &str,
    file_name: &str,
    severity: &str,
    destination: &str,
) -> Value {
    let ts = Timestamp::from_millisecond(ts_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let iso = format!("{ts:.3}");
    let sha = hex::encode(sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(file_name.as_bytes()),
    ));
    let md5ish = &sha[..32];
    json!({
        "@timestamp": iso,
        "event": {"id": event_id, "inserted": iso, "action": "application-read",
                  "observer": "Endpoint", "shareType": [], "detectorDisplayName": null,
                  "vector": null, "ingested": iso, "relatedEvents": []},
        "user": {"email": email, "id": "sandbox-user-uid", "deviceUid": "sandbox-device-uid"},
        "file": {"name": file_name, "originalName": null, "directory": "/Users/sandbox/Documents/",
                 "originalDirectory": null, "category": "Document", "categoryByBytes": "Document",
                 "categoryByExtension": "Document", "mimeType": "application/pdf",
                 "mimeTypeByBytes": "application/pdf", "mimeTypeByExtension": "application/pdf",
                 "sizeInBytes": 48213, "owner": email, "created": iso, "modified": iso,
                 "hash": {"md5": md5ish, "sha256": sha, "md5Error": null, "sha256Error": null},
                 "id": null, "url": null, "directoryId": [], "cloudDriveId": null,
                 "classifications": [], "acquiredFrom": null, "changeType": null,
                 "archiveId": null, "parentArchiveFileNames": [], "passwordProtected": null},
        "source": {"category": "Device", "name": "SANDBOX-LAPTOP", "domain": "sandbox.local",
                   "ip": "10.0.0.12", "privateIp": ["10.0.0.12"], "operatingSystem": "Mac OS X",
                   "email": null, "removableMedia": null, "tabs": [], "accountName": null,
                   "accountType": null, "domains": [], "user": null},
        "destination": {"category": "Cloud Storage", "name": destination,
                        "user": {"email": []}, "ip": null, "privateIp": [],
                        "operatingSystem": null, "printJobName": null, "printerName": null,
                        "printedFilesBackupPath": null, "removableMedia": null, "tabs": [],
                        "accountName": null, "accountType": null, "domains": [],
                        "email": null},
        "process": {"executable": null, "owner": null},
        "risk": {"score": 9, "severity": severity,
                 "indicators": [{"name": "Remote storage", "weight": 5, "id": "remote-storage"}],
                 "trusted": false, "trustReason": null,
                 // Always an object on the wire (recorded events; the SDK model requires it).
                 "untrustedValues": {"accountNames": [], "domains": [], "gitRepositoryUris": [],
                                     "slackWorkspaces": [], "urlPaths": []}},
        "report": {"id": null, "name": null, "description": null, "headers": [],
                   "count": null, "type": null},
        "git": {"eventId": null, "lastCommitHash": null, "repositoryUser": null,
                "repositoryEmail": null, "repositoryUri": null},
        "responseControls": null,
        "paste": null
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_session_serialises_every_key_of_the_reference_shape() {
        let v = serde_json::to_value(Session::default()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "sessionId",
            "tenantId",
            "actorId",
            "actorName",
            "userId",
            "type",
            "beginTime",
            "endTime",
            "firstObserved",
            "lastUpdated",
            "noRiskEvents",
            "lowEvents",
            "moderateEvents",
            "highEvents",
            "criticalEvents",
            "contextSummary",
            "exfiltrationSummary",
            "contentInspectionResults",
            "notes",
            "riskIndicators",
            "scores",
            "states",
            "triggeredAlerts",
        ] {
            assert!(keys.contains(&k), "missing {k}");
        }
        let alert = serde_json::to_value(TriggeredAlert::default()).unwrap();
        assert!(alert.get("lessonId").is_some() && alert.get("ruleName").is_some());
    }

    #[test]
    fn the_current_state_is_the_latest_history_entry() {
        let mut s = Session::default();
        s.states.push(StateEntry {
            state: "OPEN".into(),
            source_timestamp: 5,
            ..Default::default()
        });
        s.states.push(StateEntry {
            state: "CLOSED".into(),
            source_timestamp: 9,
            ..Default::default()
        });
        s.states.push(StateEntry {
            state: "IN_PROGRESS".into(),
            source_timestamp: 7,
            ..Default::default()
        });
        assert_eq!(s.current_state(), "CLOSED");
    }
}
