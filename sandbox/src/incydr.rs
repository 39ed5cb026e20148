//! Fake Code42 Incydr API (see `reference/incydr-api.md` §2, 4, 5, 6, 7, 9, 10, 13).
//!
//! Served under `/incydr` **and** at the host root (`/v1/...`, `/v2/...`), because the official
//! Python SDK cannot use a base URL with a path prefix.
//!
//! - `POST /v1/oauth`: Basic `client_id:secret` → `{"token_type":"bearer","expires_in":900,
//!   "access_token":<HS256 JWT with tenantUid, sub, iat, exp>}`. Every other route needs a valid,
//!   unexpired bearer token, else 401. `POST /_control/incydr/expire-tokens` invalidates every
//!   token issued so far (a generation counter in the JWT).
//! - Sessions: `GET /v1/sessions` (all filters of §4.1, 0-based `page_number`, `page_size`
//!   1..=50 else 400), `GET /v1/sessions/{id}`, `GET /v1/sessions/{id}/events`,
//!   `POST /v1/sessions/{id}/add-note`, `POST /v1/sessions/change-state`,
//!   `POST /v1/sessions/change-states`.
//! - Watchlists v2 (1-based `page`; members accept `page_size` and `pageSize`), included and
//!   excluded actors, members. A re-add answers 200 (unless `incydr_strict_readd`, then 409).
//! - Actors (`/v1/actors/actor/...`) and users (`/v1/users`).
//! - Removed endpoints: anything under `/v1/alerts` and `/v1/watchlists` answers 404.
//!
//! Errors are `{"status":N,"error":"<reason>","message":"..."}`; 429 carries `Retry-After`.
//!
//! Interpretations (the reference marks these unconfirmed): adding a note or changing a state
//! does **not** bump `lastUpdated` (those are console/API-user actions, not new session data;
//! only the control "touch" does); `change-state` with an unknown id answers 404 and changes
//! nothing; creating a second watchlist of a built-in type answers 409; an unknown watchlist on
//! add/delete answers 404 "Watchlist not found", an unknown actor id 400 "Actor not found".

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::faults::{RateInfo, VendorFaults};
use crate::state::{Inner, SandboxHandle};
use crate::util::{self, Query};

/// The tenant id put in the JWT's `tenantUid` claim and in every object.
pub const TENANT_ID: &str = "c42-sandbox-tenant-0001";

/// Session states (`_incydr_sdk/enums/sessions.py`).
pub const SESSION_STATES: [&str; 7] = [
    "OPEN",
    "IN_PROGRESS",
    "CLOSED",
    "CLOSED_TP",
    "CLOSED_TP_BENIGN",
    "CLOSED_FP",
    "OPEN_NEW_DATA",
];

/// Watchlist types (§5.1).
pub const WATCHLIST_TYPES: [&str; 11] = [
    "WATCHLIST_TYPE_UNSPECIFIED",
    "CONTRACT_EMPLOYEE",
    "DEPARTING_EMPLOYEE",
    "ELEVATED_ACCESS_PRIVILEGES",
    "FLIGHT_RISK",
    "HIGH_IMPACT_EMPLOYEE",
    "NEW_EMPLOYEE",
    "PERFORMANCE_CONCERNS",
    "POOR_SECURITY_PRACTICES",
    "SUSPICIOUS_SYSTEM_ACTIVITY",
    "CUSTOM",
];

// ---------------------------------------------------------------------------------------
// Models (field order is the wire order of §4.1 / §7)
// ---------------------------------------------------------------------------------------

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
    /// One of [`SESSION_STATES`].
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

    fn current_score(&self) -> i64 {
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

/// An actor (§7.1).
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

/// A user (§7.2).
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
    /// One of [`WATCHLIST_TYPES`].
    pub list_type: String,
    /// Title (CUSTOM lists).
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Actor ids or names.
    pub included_actors: Vec<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub actor_id: String,
    pub added_time: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Watchlist {
    pub id: String,
    pub list_type: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub included: Vec<Member>,
    pub excluded: Vec<Member>,
}

impl Watchlist {
    fn is_member(&self, actor_id: &str) -> bool {
        self.included.iter().any(|m| m.actor_id == actor_id)
            && !self.excluded.iter().any(|m| m.actor_id == actor_id)
    }

    fn to_json(&self) -> WatchlistJson<'_> {
        WatchlistJson {
            description: self.description.as_deref(),
            list_type: &self.list_type,
            stats: WatchlistStats {
                included_departments_count: 0,
                included_directory_groups_count: 0,
                included_actors_count: self.included.len(),
                excluded_actors_count: self.excluded.len(),
                excluded_departments_count: 0,
                excluded_directory_groups_count: 0,
            },
            tenant_id: TENANT_ID,
            title: self.title.as_deref(),
            watchlist_id: &self.id,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistStats {
    included_departments_count: usize,
    included_directory_groups_count: usize,
    included_actors_count: usize,
    excluded_actors_count: usize,
    excluded_departments_count: usize,
    excluded_directory_groups_count: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistJson<'a> {
    description: Option<&'a str>,
    list_type: &'a str,
    stats: WatchlistStats,
    tenant_id: &'a str,
    title: Option<&'a str>,
    watchlist_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WatchlistPage<'a> {
    watchlists: Vec<WatchlistJson<'a>>,
    total_count: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionPage<'a> {
    items: Vec<&'a Session>,
    total_count: usize,
}

#[derive(Serialize)]
struct ActorList {
    actors: Vec<Actor>,
}

#[derive(Serialize)]
struct Family<'a> {
    parent: &'a Actor,
    children: Vec<Actor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserPage<'a> {
    users: Vec<&'a User>,
    total_count: usize,
}

#[derive(Serialize)]
struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    access_token: String,
}

#[derive(Clone, Debug)]
pub(crate) struct SessionRecord {
    pub session: Session,
    pub events: Vec<Value>,
}

/// Incydr state.
pub(crate) struct IncydrState {
    pub signing_key: Vec<u8>,
    pub token_generation: u64,
    pub sessions: Vec<SessionRecord>,
    pub actors: Vec<Actor>,
    pub users: Vec<User>,
    pub watchlists: Vec<Watchlist>,
    pub reorder_moves: Vec<String>,
    pub reorder_rng: StdRng,
}

impl IncydrState {
    pub(crate) fn new() -> IncydrState {
        IncydrState {
            signing_key: uuid::Uuid::new_v4().as_bytes().to_vec(),
            token_generation: 0,
            sessions: Vec::new(),
            actors: Vec::new(),
            users: Vec::new(),
            watchlists: Vec::new(),
            reorder_moves: Vec::new(),
            reorder_rng: StdRng::seed_from_u64(42),
        }
    }

    pub(crate) fn actor(&self, id: &str) -> Option<&Actor> {
        self.actors.iter().find(|a| a.actor_id == id)
    }

    fn actor_by_name(&self, name: &str) -> Option<&Actor> {
        self.actors
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| {
                self.actors.iter().find(|a| {
                    a.alternate_names
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(name))
                })
            })
    }

    fn parent_of<'a>(&'a self, a: &'a Actor) -> &'a Actor {
        a.parent_actor_id
            .as_deref()
            .and_then(|p| self.actor(p))
            .unwrap_or(a)
    }

    fn children_of(&self, parent_id: &str) -> Vec<Actor> {
        self.actors
            .iter()
            .filter(|a| a.parent_actor_id.as_deref() == Some(parent_id))
            .cloned()
            .collect()
    }

    fn actor_name(&self, id: &str) -> String {
        self.actor(id).map(|a| a.name.clone()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// Seeding and control operations
// ---------------------------------------------------------------------------------------

pub(crate) fn seed_session(s: &mut Inner, seed: SessionSeed) -> String {
    let mut session = seed.session;
    if session.session_id.is_empty() {
        session.session_id = s.ids.uuid("session");
    }
    if session.tenant_id.is_none() {
        session.tenant_id = Some(TENANT_ID.to_string());
    }
    let now = util::now_ms();
    if session.begin_time == 0 {
        session.begin_time = now - 3_600_000;
    }
    if session.end_time == 0 {
        session.end_time = session.begin_time;
    }
    if session.first_observed == 0 {
        session.first_observed = session.begin_time;
    }
    if session.last_updated == 0 {
        session.last_updated = session.end_time;
    }
    if session.session_type.is_none() {
        session.session_type = Some("STANDARD".to_string());
    }
    if session.actor_name.is_none() {
        session.actor_name = s.incydr.actor(&session.actor_id).map(|a| a.name.clone());
    }
    if session.states.is_empty() {
        session.states.push(StateEntry {
            state: "OPEN".to_string(),
            state_v2: Some("OPEN".to_string()),
            source_timestamp: session.first_observed,
            user_id: None,
        });
    }
    for st in &mut session.states {
        if st.state_v2.is_none() {
            st.state_v2 = Some(st.state.clone());
        }
    }
    for a in &mut session.triggered_alerts {
        if a.alert_id.is_empty() {
            a.alert_id = s.ids.uuid("alert");
        }
    }
    let id = session.session_id.clone();
    s.incydr.sessions.retain(|r| r.session.session_id != id);
    s.incydr.sessions.push(SessionRecord {
        session,
        events: seed.events,
    });
    id
}

pub(crate) fn seed_actor(s: &mut Inner, mut actor: Actor) -> String {
    if actor.actor_id.is_empty() {
        actor.actor_id = s.ids.uuid("actor");
    }
    let id = actor.actor_id.clone();
    s.incydr.actors.retain(|a| a.actor_id != id);
    s.incydr.actors.push(actor);
    id
}

pub(crate) fn seed_user(s: &mut Inner, mut user: User) -> String {
    if user.user_id.is_empty() {
        user.user_id = s.ids.hex32("user")[..18].to_string();
    }
    if user.legacy_user_id.is_empty() {
        user.legacy_user_id = format!("{}", 900_000 + s.incydr.users.len());
    }
    if user.org_id.is_empty() {
        user.org_id = "1000000".to_string();
        user.legacy_org_id = "2000".to_string();
        user.org_guid = "sandbox-org-guid".to_string();
        user.org_name = "Sandbox Org".to_string();
    }
    if user.creation_date.is_empty() {
        user.creation_date = "2022-07-14T16:49:11.166000Z".to_string();
    }
    if user.modification_date.is_empty() {
        user.modification_date = user.creation_date.clone();
    }
    let id = user.user_id.clone();
    s.incydr.users.retain(|u| u.user_id != id);
    s.incydr.users.push(user);
    id
}

pub(crate) fn seed_watchlist(s: &mut Inner, seed: WatchlistSeed) -> String {
    let id = seed
        .watchlist_id
        .clone()
        .unwrap_or_else(|| s.ids.uuid("watchlist"));
    let added = util::iso_micros(Timestamp::now());
    let included = seed
        .included_actors
        .iter()
        .map(|a| {
            let actor_id = s
                .incydr
                .actor(a)
                .or_else(|| s.incydr.actor_by_name(a))
                .map(|x| x.actor_id.clone())
                .unwrap_or_else(|| a.clone());
            Member {
                actor_id,
                added_time: added.clone(),
            }
        })
        .collect();
    s.incydr.watchlists.retain(|w| w.id != id);
    s.incydr.watchlists.push(Watchlist {
        id: id.clone(),
        list_type: seed.list_type,
        title: seed.title,
        description: seed.description,
        included,
        excluded: Vec::new(),
    });
    id
}

/// What `POST /_control/incydr/sessions/{id}/touch` does to a session.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TouchSession {
    /// Add an alert with this rule (id, name).
    pub add_alert: Option<TriggeredAlert>,
    /// Add a score entry with this severity (0..4).
    pub severity: Option<i64>,
    /// Score for the new entry (default 10 × severity).
    pub score: Option<i64>,
    /// Add this file event.
    pub add_event: Option<Value>,
    /// New state (default `OPEN_NEW_DATA`).
    pub state: Option<String>,
}

pub(crate) fn touch_session(s: &mut Inner, id: &str, t: TouchSession) -> Option<Session> {
    let alert_id = s.ids.uuid("alert");
    let rec = s
        .incydr
        .sessions
        .iter_mut()
        .find(|r| r.session.session_id == id)?;
    let now = util::now_ms().max(rec.session.last_updated + 1);
    let sess = &mut rec.session;
    sess.last_updated = now;
    sess.end_time = sess.end_time.max(now);
    if let Some(mut a) = t.add_alert {
        if a.alert_id.is_empty() {
            a.alert_id = alert_id;
        }
        sess.triggered_alerts.push(a);
    }
    if let Some(sev) = t.severity {
        sess.scores.push(Score {
            score: t.score.unwrap_or(sev * 10),
            severity: sev,
            source_timestamp: now,
        });
        match sev {
            0 => sess.no_risk_events += 1,
            1 => sess.low_events += 1,
            2 => sess.moderate_events += 1,
            3 => sess.high_events += 1,
            _ => sess.critical_events += 1,
        }
    }
    if let Some(ev) = t.add_event {
        rec.events.push(ev);
    }
    let state = t.state.unwrap_or_else(|| "OPEN_NEW_DATA".to_string());
    rec.session.states.push(StateEntry {
        state: state.clone(),
        state_v2: Some(state),
        source_timestamp: now,
        user_id: None,
    });
    Some(rec.session.clone())
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

// ---------------------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------------------

/// The Incydr error body.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    util::json(
        status,
        &json!({
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        }),
    )
}

/// Incydr's answers to injected faults.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "incydr"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status, "Injected fault")
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        error(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
    }

    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "POST" && pattern == "/v2/watchlists/{watchlist_id}/included-actors/add"
    }
}

fn bad_request(message: impl AsRef<str>) -> Response {
    error(StatusCode::BAD_REQUEST, message.as_ref())
}

fn not_found(message: impl AsRef<str>) -> Response {
    error(StatusCode::NOT_FOUND, message.as_ref())
}

fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

/// The API client behind the bearer token (goes into note/state `userId`).
#[derive(Clone, Debug)]
struct Caller(String);

/// The Incydr routes (relative paths; nested under `/incydr` and merged at the root).
pub(crate) fn router(h: SandboxHandle, with_fallback: bool) -> Router<SandboxHandle> {
    let protected = Router::new()
        .route("/v1/customer", get(customer))
        .route("/v1/sessions", get(list_sessions))
        .route("/v1/sessions/change-state", post(change_state))
        .route("/v1/sessions/change-states", post(change_states))
        .route("/v1/sessions/{session_id}", get(get_session))
        .route("/v1/sessions/{session_id}/events", get(session_events))
        .route("/v1/sessions/{session_id}/add-note", post(add_note))
        .route(
            "/v2/watchlists",
            get(list_watchlists).post(create_watchlist),
        )
        .route(
            "/v2/watchlists/{watchlist_id}",
            get(get_watchlist)
                .patch(update_watchlist)
                .delete(delete_watchlist),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/add",
            post(included_add),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/delete",
            post(included_delete),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors",
            get(included_list),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/{actor_id}",
            get(included_get),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/add",
            post(excluded_add),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/delete",
            post(excluded_delete),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors",
            get(excluded_list),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/{actor_id}",
            get(excluded_get),
        )
        .route("/v2/watchlists/{watchlist_id}/members", get(members_list))
        .route(
            "/v2/watchlists/{watchlist_id}/members/{actor_id}",
            get(members_get),
        )
        .route("/v1/actors/actor/search", get(actor_search))
        .route("/v1/actors/actor/search/parent", get(actor_search_parent))
        .route(
            "/v1/actors/actor/name/{name}/parent",
            get(actor_by_name_parent),
        )
        .route(
            "/v1/actors/actor/name/{name}/family",
            get(actor_by_name_family),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}",
            get(actor_by_id).patch(actor_patch),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}/parent",
            get(actor_by_id_parent),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}/family",
            get(actor_by_id_family),
        )
        .route("/v1/users", get(list_users))
        .route("/v1/users/{user_id}", get(get_user))
        .route_layer(middleware::from_fn_with_state(h, auth));
    let r = Router::new()
        .route("/v1/oauth", post(oauth))
        .route("/v1/alerts", any(removed))
        .route("/v1/alerts/{*rest}", any(removed))
        .route("/v1/watchlists", any(removed))
        .route("/v1/watchlists/{*rest}", any(removed))
        .merge(protected);
    if with_fallback {
        r.fallback(fallback)
    } else {
        r
    }
}

pub(crate) async fn fallback() -> Response {
    not_found("No such endpoint")
}

async fn removed() -> Response {
    not_found("This endpoint has been removed")
}

fn sign_jwt(key: &[u8], claims: &Value) -> String {
    let header = util::b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = util::b64url(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    let sig = util::b64url(&util::hmac_sha256(key, &[signing_input.as_bytes()]));
    format!("{signing_input}.{sig}")
}

/// Verify a token: signature, expiry, generation. Returns the client id.
fn verify_jwt(s: &Inner, token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let expected = util::b64url(&util::hmac_sha256(
        &s.incydr.signing_key,
        &[h.as_bytes(), b".", p.as_bytes()],
    ));
    if !util::ct_eq(&expected, sig) {
        return None;
    }
    let claims: Value = serde_json::from_slice(&util::b64url_decode(p)?).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    let generation = claims.get("gen")?.as_u64()?;
    if exp <= util::now_secs() || generation != s.incydr.token_generation {
        return None;
    }
    Some(claims.get("sub")?.as_str()?.to_string())
}

async fn auth(State(h): State<SandboxHandle>, mut req: Request, next: Next) -> Response {
    let caller = util::bearer(req.headers()).and_then(|t| h.with(|s| verify_jwt(s, &t)));
    match caller {
        Some(c) => {
            req.extensions_mut().insert(Caller(c));
            next.run(req).await
        }
        None => {
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                "Missing, invalid or expired bearer token",
            );
            util::set_header(&mut resp, "www-authenticate", "Bearer");
            resp
        }
    }
}

async fn oauth(State(h): State<SandboxHandle>, headers: HeaderMap) -> Response {
    let Some((id, secret)) = util::basic_auth(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "Missing API client credentials");
    };
    h.with(|s| {
        let ok = s
            .config
            .incydr_clients
            .iter()
            .any(|c| util::ct_eq(&c.key, &id) && util::ct_eq(&c.secret, &secret));
        if !ok {
            return error(StatusCode::UNAUTHORIZED, "Invalid API client credentials");
        }
        let now = util::now_secs();
        let ttl = s.config.incydr_token_ttl_secs;
        let claims = json!({
            "sub": id,
            "tenantUid": TENANT_ID,
            "iat": now,
            "exp": now + ttl as i64,
            "jti": s.ids.uuid("jti"),
            "gen": s.incydr.token_generation,
        });
        let token = sign_jwt(&s.incydr.signing_key, &claims);
        util::json(
            StatusCode::OK,
            &TokenResponse {
                token_type: "bearer",
                expires_in: ttl,
                access_token: token,
            },
        )
    })
}

async fn customer() -> Response {
    util::json(
        StatusCode::OK,
        &json!({"name": "Sandbox Tenant", "registrationKey": "SANDBOX-REG-KEY", "tenantId": TENANT_ID}),
    )
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct SessionFilter {
    actor_id: Option<String>,
    on_or_after: Option<i64>,
    before: Option<i64>,
    session_type: Option<String>,
    has_alerts: Option<bool>,
    risk_indicators: Vec<String>,
    states: Vec<String>,
    severities: Vec<i64>,
    rule_ids: Vec<String>,
    watchlist_ids: Vec<String>,
    content_inspection_status: Option<String>,
}

fn parse_filter(q: &Query) -> Result<SessionFilter, String> {
    let mut f = SessionFilter {
        actor_id: q.get("actor_id").map(str::to_string),
        on_or_after: q.int("on_or_after")?,
        before: q.int("before")?,
        session_type: q.get("type").map(str::to_string),
        ..Default::default()
    };
    if let Some(v) = q.get("has_alerts") {
        f.has_alerts = match v {
            "true" => Some(true),
            "false" => Some(false),
            other => {
                return Err(format!(
                    "Invalid value '{other}' for parameter 'has_alerts': expected 'true' or 'false'"
                ));
            }
        };
    }
    f.risk_indicators = q
        .all("risk_indicators")
        .into_iter()
        .map(String::from)
        .collect();
    for st in q.all("state") {
        if !SESSION_STATES.contains(&st) {
            return Err(format!("Invalid value '{st}' for parameter 'state'"));
        }
        f.states.push(st.to_string());
    }
    for sev in q.all("severity") {
        match sev.parse::<i64>() {
            Ok(n) if (0..=4).contains(&n) => f.severities.push(n),
            _ => return Err(format!("Invalid value '{sev}' for parameter 'severity'")),
        }
    }
    f.rule_ids = q.all("rule_id").into_iter().map(String::from).collect();
    f.watchlist_ids = q
        .all("watchlist_id")
        .into_iter()
        .map(String::from)
        .collect();
    if let Some(c) = q.get("content_inspection_status") {
        if !["PENDING", "FOUND", "NOT_FOUND"].contains(&c) {
            return Err(format!(
                "Invalid value '{c}' for parameter 'content_inspection_status'"
            ));
        }
        f.content_inspection_status = Some(c.to_string());
    }
    Ok(f)
}

fn session_matches(s: &IncydrState, r: &SessionRecord, f: &SessionFilter) -> bool {
    let sess = &r.session;
    if f.actor_id.as_deref().is_some_and(|a| a != sess.actor_id) {
        return false;
    }
    if f.on_or_after.is_some_and(|t| sess.begin_time < t) {
        return false;
    }
    if f.before.is_some_and(|t| sess.begin_time >= t) {
        return false;
    }
    if f.session_type
        .as_deref()
        .is_some_and(|t| sess.session_type.as_deref() != Some(t))
    {
        return false;
    }
    if f.has_alerts
        .is_some_and(|h| h == sess.triggered_alerts.is_empty())
    {
        return false;
    }
    if !f.risk_indicators.is_empty()
        && !sess
            .risk_indicators
            .iter()
            .any(|ri| f.risk_indicators.contains(&ri.id))
    {
        return false;
    }
    if !f.states.is_empty() && !f.states.iter().any(|st| st == sess.current_state()) {
        return false;
    }
    if !f.severities.is_empty() && !f.severities.contains(&sess.current_severity()) {
        return false;
    }
    if !f.rule_ids.is_empty()
        && !sess
            .triggered_alerts
            .iter()
            .any(|a| f.rule_ids.contains(&a.rule_id))
    {
        return false;
    }
    if !f.watchlist_ids.is_empty() {
        let actor_ids: Vec<String> = match s.actor(&sess.actor_id) {
            Some(a) => vec![a.actor_id.clone(), s.parent_of(a).actor_id.clone()],
            None => vec![sess.actor_id.clone()],
        };
        let member = s
            .watchlists
            .iter()
            .any(|w| f.watchlist_ids.contains(&w.id) && actor_ids.iter().any(|a| w.is_member(a)));
        if !member {
            return false;
        }
    }
    if let Some(c) = &f.content_inspection_status {
        let found = sess
            .content_inspection_results
            .as_ref()
            .is_some_and(|r| !r.detected_on_alerts.is_empty());
        let status = if found { "FOUND" } else { "NOT_FOUND" };
        if c != status {
            return false;
        }
    }
    true
}

async fn list_sessions(State(h): State<SandboxHandle>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let filter = match parse_filter(&q) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let page_number = match q.int("page_number") {
        Ok(v) => v.unwrap_or(0),
        Err(e) => return bad_request(e),
    };
    let page_size = match q.int("page_size") {
        Ok(v) => v.unwrap_or(50),
        Err(e) => return bad_request(e),
    };
    if page_number < 0 {
        return bad_request("page_number must be 0 or greater");
    }
    if !(1..=50).contains(&page_size) {
        return bad_request("page_size must be between 1 and 50");
    }
    let order_by = q.get("order_by").unwrap_or("end_time");
    if order_by != "end_time" && order_by != "score" {
        return bad_request(format!(
            "Invalid value '{order_by}' for parameter 'order_by'"
        ));
    }
    let desc = match q
        .get("sort_direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return bad_request(format!(
                "Invalid value '{other}' for parameter 'sort_direction'"
            ));
        }
    };
    h.with(|s| {
        let reorder = s.config.incydr_reorder_sessions;
        let st = &mut s.incydr;
        let key = |r: &SessionRecord| {
            if order_by == "score" {
                r.session.current_score()
            } else {
                r.session.end_time
            }
        };
        let mut idx: Vec<usize> = (0..st.sessions.len())
            .filter(|i| session_matches(st, &st.sessions[*i], &filter))
            .collect();
        idx.sort_by(|a, b| {
            let (ra, rb) = (&st.sessions[*a], &st.sessions[*b]);
            let ord = key(ra)
                .cmp(&key(rb))
                .then_with(|| ra.session.session_id.cmp(&rb.session.session_id));
            if desc { ord.reverse() } else { ord }
        });
        if reorder {
            if page_number > 0 && !idx.is_empty() {
                let i = st.reorder_rng.random_range(0..idx.len());
                let id = st.sessions[idx[i]].session.session_id.clone();
                st.reorder_moves.push(id);
            }
            for moved in &st.reorder_moves {
                if let Some(pos) = idx
                    .iter()
                    .position(|i| &st.sessions[*i].session.session_id == moved)
                {
                    let i = idx.remove(pos);
                    idx.insert(0, i);
                }
            }
        }
        let total = idx.len();
        let page: Vec<&Session> = util::page_slice(&idx, page_number as usize, page_size as usize)
            .into_iter()
            .map(|i| &st.sessions[i].session)
            .collect();
        util::json(
            StatusCode::OK,
            &SessionPage {
                items: page,
                total_count: total,
            },
        )
    })
}

async fn get_session(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| {
        match s
            .incydr
            .sessions
            .iter()
            .find(|r| r.session.session_id == id)
        {
            Some(r) => util::json(StatusCode::OK, &r.session),
            None => not_found(format!("Session not found: {id}")),
        }
    })
}

async fn session_events(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| {
        match s
            .incydr
            .sessions
            .iter()
            .find(|r| r.session.session_id == id)
        {
            Some(r) => util::json(
                StatusCode::OK,
                &json!({"queryResult": {
                    "fileEvents": r.events,
                    "nextPgToken": "",
                    "problems": null,
                    "totalCount": r.events.len(),
                }}),
            ),
            None => not_found(format!("Session not found: {id}")),
        }
    })
}

async fn add_note(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let Some(content) = v.get("noteContent").and_then(Value::as_str) else {
        return bad_request("noteContent is required");
    };
    if content.is_empty() {
        return bad_request("noteContent must not be empty");
    }
    if content.chars().count() > 2000 {
        return bad_request("noteContent must be at most 2000 characters");
    }
    let user = caller.map(|c| c.0.0.clone());
    h.with(|s| {
        let note_id = s.ids.uuid("note");
        match s
            .incydr
            .sessions
            .iter_mut()
            .find(|r| r.session.session_id == id)
        {
            Some(r) => {
                // Notes are written by a console/API user; they are not new session data, so
                // `lastUpdated` stays as it is.
                r.session.notes.push(Note {
                    id: note_id,
                    content: content.to_string(),
                    source_timestamp: util::now_ms(),
                    user_id: user,
                });
                ok_empty()
            }
            None => not_found(format!("Session not found: {id}")),
        }
    })
}

fn parse_new_state(v: &Value) -> Result<String, Response> {
    let Some(state) = v.get("newState").and_then(Value::as_str) else {
        return Err(bad_request("newState is required"));
    };
    if !SESSION_STATES.contains(&state) {
        return Err(bad_request(format!("Invalid value '{state}' for newState")));
    }
    Ok(state.to_string())
}

fn push_state(sess: &mut Session, state: &str, user: Option<String>) {
    // A state change by a user is not new session data: `lastUpdated` is left alone.
    let now = util::now_ms().max(
        sess.states
            .iter()
            .map(|s| s.source_timestamp + 1)
            .max()
            .unwrap_or(0),
    );
    sess.states.push(StateEntry {
        state: state.to_string(),
        state_v2: Some(state.to_string()),
        source_timestamp: now,
        user_id: user,
    });
}

async fn change_state(
    State(h): State<SandboxHandle>,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let new_state = match parse_new_state(&v) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(ids) = v.get("ids").and_then(Value::as_array) else {
        return bad_request("ids is required");
    };
    if ids.is_empty() || ids.len() > 100 {
        return bad_request("ids must contain between 1 and 100 session ids");
    }
    let ids: Vec<String> = ids
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    let user = caller.map(|c| c.0.0.clone());
    h.with(|s| {
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| {
                !s.incydr
                    .sessions
                    .iter()
                    .any(|r| &r.session.session_id == *id)
            })
            .collect();
        if !missing.is_empty() {
            return not_found(format!("Sessions not found: {missing:?}"));
        }
        for r in &mut s.incydr.sessions {
            if ids.contains(&r.session.session_id) {
                push_state(&mut r.session, &new_state, user.clone());
            }
        }
        ok_empty()
    })
}

async fn change_states(
    State(h): State<SandboxHandle>,
    RawQuery(raw): RawQuery,
    caller: Option<axum::Extension<Caller>>,
    body: Bytes,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let filter = match parse_filter(&q) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let new_state = match parse_new_state(&v) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let after = v
        .get("continuationToken")
        .and_then(Value::as_str)
        .map(str::to_string);
    let user = caller.map(|c| c.0.0.clone());
    h.with(|s| {
        let st = &s.incydr;
        let mut ids: Vec<String> = st
            .sessions
            .iter()
            .filter(|r| session_matches(st, r, &filter))
            .map(|r| r.session.session_id.clone())
            .filter(|id| after.as_ref().is_none_or(|a| id > a))
            .collect();
        ids.sort();
        let more = ids.len() > 500;
        ids.truncate(500);
        for r in &mut s.incydr.sessions {
            if ids.contains(&r.session.session_id) {
                push_state(&mut r.session, &new_state, user.clone());
            }
        }
        let token = if more { ids.last().cloned() } else { None };
        util::json(StatusCode::OK, &json!({"continuationToken": token}))
    })
}

// ---------------------------------------------------------------------------------------
// Watchlists v2
// ---------------------------------------------------------------------------------------

fn page_params(
    q: &Query,
    size_keys: &[&str],
    default_size: i64,
) -> Result<(usize, usize), Response> {
    let page = q.int("page").map_err(bad_request)?.unwrap_or(1);
    let mut size = default_size;
    for k in size_keys {
        if let Some(v) = q.int(k).map_err(bad_request)? {
            size = v;
            break;
        }
    }
    if page < 1 {
        return Err(bad_request("page must be 1 or greater"));
    }
    if size < 1 {
        return Err(bad_request("page size must be 1 or greater"));
    }
    Ok(((page - 1) as usize, size as usize))
}

async fn list_watchlists(State(h): State<SandboxHandle>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let (page, size) = match page_params(&q, &["pageSize", "page_size"], 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let actor = q.get("actorId").map(str::to_string);
    h.with(|s| {
        let lists: Vec<&Watchlist> = s
            .incydr
            .watchlists
            .iter()
            .filter(|w| actor.as_deref().is_none_or(|a| w.is_member(a)))
            .collect();
        let total = lists.len();
        let page: Vec<WatchlistJson<'_>> = util::page_slice(&lists, page, size)
            .into_iter()
            .map(Watchlist::to_json)
            .collect();
        util::json(
            StatusCode::OK,
            &WatchlistPage {
                watchlists: page,
                total_count: total,
            },
        )
    })
}

async fn create_watchlist(State(h): State<SandboxHandle>, body: Bytes) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let Some(list_type) = v.get("watchlistType").and_then(Value::as_str) else {
        return bad_request("watchlistType is required");
    };
    if !WATCHLIST_TYPES.contains(&list_type) {
        return bad_request(format!(
            "Error converting value \"{list_type}\" to type 'WatchlistSdk.Model.WatchlistType'. Path 'watchlistType'."
        ));
    }
    let title = v.get("title").and_then(Value::as_str).map(str::to_string);
    let description = v
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    if list_type == "CUSTOM" && title.as_deref().is_none_or(str::is_empty) {
        return bad_request("A title is required for CUSTOM watchlists");
    }
    if title.as_ref().is_some_and(|t| t.chars().count() > 50) {
        return bad_request("title must be at most 50 characters");
    }
    if description
        .as_ref()
        .is_some_and(|t| t.chars().count() > 250)
    {
        return bad_request("description must be at most 250 characters");
    }
    h.with(|s| {
        if list_type != "CUSTOM" && s.incydr.watchlists.iter().any(|w| w.list_type == list_type) {
            return error(
                StatusCode::CONFLICT,
                &format!("A watchlist of type {list_type} already exists"),
            );
        }
        let id = s.ids.uuid("watchlist");
        let w = Watchlist {
            id,
            list_type: list_type.to_string(),
            title,
            description,
            included: Vec::new(),
            excluded: Vec::new(),
        };
        let resp = util::json(StatusCode::OK, &w.to_json());
        s.incydr.watchlists.push(w);
        resp
    })
}

async fn get_watchlist(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| match s.incydr.watchlists.iter().find(|w| w.id == id) {
        Some(w) => util::json(StatusCode::OK, &w.to_json()),
        None => not_found(format!("Watchlist not found: {id}")),
    })
}

async fn update_watchlist(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let v = match util::parse_json(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let paths = q.all_split("paths");
    h.with(|s| {
        let Some(w) = s.incydr.watchlists.iter_mut().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let wants = |k: &str| {
            if paths.is_empty() {
                v.get(k).is_some()
            } else {
                paths.iter().any(|p| p == k)
            }
        };
        if wants("title") {
            let t = v.get("title").and_then(Value::as_str).map(str::to_string);
            if t.as_ref().is_some_and(|t| t.chars().count() > 50) {
                return bad_request("title must be at most 50 characters");
            }
            w.title = t;
        }
        if wants("description") {
            w.description = v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        util::json(StatusCode::OK, &w.to_json())
    })
}

async fn delete_watchlist(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| {
        let before = s.incydr.watchlists.len();
        s.incydr.watchlists.retain(|w| w.id != id);
        if s.incydr.watchlists.len() == before {
            not_found(format!("Watchlist not found: {id}"))
        } else {
            ok_empty()
        }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum ListKind {
    Included,
    Excluded,
}

fn actor_ids_from_body(
    v: &Value,
    watchlist_id: &str,
    check_wid: bool,
) -> Result<Vec<String>, Response> {
    let Some(ids) = v.get("actorIds").and_then(Value::as_array) else {
        return Err(bad_request("actorIds is required"));
    };
    if ids.is_empty() {
        return Err(bad_request("actorIds must not be empty"));
    }
    if ids.len() > 100 {
        return Err(bad_request("actorIds must contain at most 100 ids"));
    }
    if check_wid
        && v.get("watchlistId")
            .and_then(Value::as_str)
            .is_some_and(|w| w != watchlist_id)
    {
        return Err(bad_request(
            "watchlistId in the body does not match the path",
        ));
    }
    ids.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad_request("actorIds must be strings"))
        })
        .collect()
}

fn modify_list(h: &SandboxHandle, id: &str, body: &[u8], kind: ListKind, add: bool) -> Response {
    let v = match util::parse_json(body) {
        Ok(v) => v,
        Err(e) => return bad_request(e),
    };
    let ids = match actor_ids_from_body(&v, id, kind == ListKind::Included) {
        Ok(x) => x,
        Err(r) => return r,
    };
    h.with(|s| {
        let strict = s.config.incydr_strict_readd;
        if !s.incydr.watchlists.iter().any(|w| w.id == id) {
            return not_found(format!("Watchlist not found: {id}"));
        }
        let unknown = ids.iter().find(|a| add && s.incydr.actor(a).is_none());
        if let Some(unknown) = unknown {
            return bad_request(format!("Actor not found: {unknown}"));
        }
        let added = util::iso_micros(Timestamp::now());
        let Some(w) = s.incydr.watchlists.iter_mut().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let list = match kind {
            ListKind::Included => &mut w.included,
            ListKind::Excluded => &mut w.excluded,
        };
        if add {
            if strict && ids.iter().any(|a| list.iter().any(|m| &m.actor_id == a)) {
                return error(StatusCode::CONFLICT, "Actor is already on the watchlist");
            }
            for a in ids {
                if !list.iter().any(|m| m.actor_id == a) {
                    list.push(Member {
                        actor_id: a,
                        added_time: added.clone(),
                    });
                }
            }
        } else {
            list.retain(|m| !ids.contains(&m.actor_id));
        }
        ok_empty()
    })
}

async fn included_add(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Included, true)
}

async fn included_delete(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Included, false)
}

async fn excluded_add(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Excluded, true)
}

async fn excluded_delete(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    modify_list(&h, &id, &body, ListKind::Excluded, false)
}

fn member_json(s: &IncydrState, m: &Member) -> Value {
    json!({"actorId": m.actor_id, "actorname": s.actor_name(&m.actor_id), "addedTime": m.added_time})
}

#[derive(Clone, Copy)]
enum Listing {
    Included,
    Excluded,
    Members,
}

fn list_members(h: &SandboxHandle, id: &str, raw: Option<&str>, which: Listing) -> Response {
    let q = Query::parse(raw);
    let (page, size) = match page_params(&q, &["page_size", "pageSize"], 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    h.with(|s| {
        let Some(w) = s.incydr.watchlists.iter().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let members: Vec<&Member> = match which {
            Listing::Included => w.included.iter().collect(),
            Listing::Excluded => w.excluded.iter().collect(),
            Listing::Members => w
                .included
                .iter()
                .filter(|m| w.is_member(&m.actor_id))
                .collect(),
        };
        let all: Vec<Value> = members.iter().map(|m| member_json(&s.incydr, m)).collect();
        let key = match which {
            Listing::Included => "includedActors",
            Listing::Excluded => "excludedActors",
            Listing::Members => "watchlistMembers",
        };
        util::json(
            StatusCode::OK,
            &json!({key: util::page_slice(&all, page, size), "totalCount": all.len()}),
        )
    })
}

fn get_member(h: &SandboxHandle, id: &str, actor_id: &str, which: Listing) -> Response {
    h.with(|s| {
        let Some(w) = s.incydr.watchlists.iter().find(|w| w.id == id) else {
            return not_found(format!("Watchlist not found: {id}"));
        };
        let found = match which {
            Listing::Included => w.included.iter().find(|m| m.actor_id == actor_id),
            Listing::Excluded => w.excluded.iter().find(|m| m.actor_id == actor_id),
            Listing::Members => w
                .included
                .iter()
                .find(|m| m.actor_id == actor_id && w.is_member(actor_id)),
        };
        match found {
            Some(m) => util::json(StatusCode::OK, &member_json(&s.incydr, m)),
            None => not_found(format!("Actor {actor_id} is not on watchlist {id}")),
        }
    })
}

async fn included_list(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_members(&h, &id, raw.as_deref(), Listing::Included)
}

async fn excluded_list(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_members(&h, &id, raw.as_deref(), Listing::Excluded)
}

async fn members_list(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    list_members(&h, &id, raw.as_deref(), Listing::Members)
}

async fn included_get(
    State(h): State<SandboxHandle>,
    Path((id, actor)): Path<(String, String)>,
) -> Response {
    get_member(&h, &id, &actor, Listing::Included)
}

async fn excluded_get(
    State(h): State<SandboxHandle>,
    Path((id, actor)): Path<(String, String)>,
) -> Response {
    get_member(&h, &id, &actor, Listing::Excluded)
}

async fn members_get(
    State(h): State<SandboxHandle>,
    Path((id, actor)): Path<(String, String)>,
) -> Response {
    get_member(&h, &id, &actor, Listing::Members)
}

// ---------------------------------------------------------------------------------------
// Actors and users
// ---------------------------------------------------------------------------------------

fn actor_not_found(what: &str) -> Response {
    not_found(format!("Actor not found: {what}"))
}

async fn actor_search_impl(h: SandboxHandle, raw: Option<String>, parents: bool) -> Response {
    let q = Query::parse(raw.as_deref());
    let (page, size) = match page_params(&q, &["pageSize"], 500) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let active = match q.get("active") {
        None => None,
        Some(v) => match util::parse_bool_ci(v) {
            Some(b) => Some(b),
            None => return bad_request(format!("Invalid value '{v}' for parameter 'active'")),
        },
    };
    let starts = q.get("nameStartsWith").map(str::to_ascii_lowercase);
    let ends = q.get("nameEndsWith").map(str::to_ascii_lowercase);
    h.with(|s| {
        let st = &s.incydr;
        let mut seen = BTreeSet::new();
        let mut found: Vec<Actor> = Vec::new();
        for a in &st.actors {
            let name = a.name.to_ascii_lowercase();
            if starts
                .as_ref()
                .is_some_and(|p| !name.starts_with(p.as_str()))
            {
                continue;
            }
            if ends.as_ref().is_some_and(|p| !name.ends_with(p.as_str())) {
                continue;
            }
            if active.is_some_and(|b| b != a.active) {
                continue;
            }
            let out = if parents { st.parent_of(a) } else { a };
            if seen.insert(out.actor_id.clone()) {
                found.push(out.clone());
            }
        }
        util::json(
            StatusCode::OK,
            &ActorList {
                actors: util::page_slice(&found, page, size),
            },
        )
    })
}

async fn actor_search(State(h): State<SandboxHandle>, RawQuery(raw): RawQuery) -> Response {
    actor_search_impl(h, raw, false).await
}

async fn actor_search_parent(State(h): State<SandboxHandle>, RawQuery(raw): RawQuery) -> Response {
    actor_search_impl(h, raw, true).await
}

async fn actor_by_name_parent(
    State(h): State<SandboxHandle>,
    Path(name): Path<String>,
) -> Response {
    h.with(|s| match s.incydr.actor_by_name(&name) {
        Some(a) => util::json(StatusCode::OK, s.incydr.parent_of(a)),
        None => actor_not_found(&name),
    })
}

fn family<'a>(st: &'a IncydrState, a: &'a Actor) -> Family<'a> {
    let parent = st.parent_of(a);
    Family {
        parent,
        children: st.children_of(&parent.actor_id),
    }
}

async fn actor_by_name_family(
    State(h): State<SandboxHandle>,
    Path(name): Path<String>,
) -> Response {
    h.with(|s| match s.incydr.actor_by_name(&name) {
        Some(a) => util::json(StatusCode::OK, &family(&s.incydr, a)),
        None => actor_not_found(&name),
    })
}

async fn actor_by_id(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| match s.incydr.actor(&id) {
        Some(a) => util::json(StatusCode::OK, a),
        None => actor_not_found(&id),
    })
}

async fn actor_by_id_parent(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| match s.incydr.actor(&id) {
        Some(a) => util::json(StatusCode::OK, s.incydr.parent_of(a)),
        None => actor_not_found(&id),
    })
}

async fn actor_by_id_family(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| match s.incydr.actor(&id) {
        Some(a) => util::json(StatusCode::OK, &family(&s.incydr, a)),
        None => actor_not_found(&id),
    })
}

fn patch_value(v: &Value, key: &str, date: bool) -> Result<Option<Option<String>>, Response> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => {
            if date && !util::is_plain_date(s) {
                return Err(bad_request(format!(
                    "Invalid value '{s}' for {key}: expected YYYY-MM-DD"
                )));
            }
            Ok(Some(Some(s.clone())))
        }
        Some(_) => Err(bad_request(format!("{key} must be a string or null"))),
    }
}

async fn actor_patch(
    State(h): State<SandboxHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let v = match util::parse_json(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad_request("Body must be a JSON object"),
        Err(e) => return bad_request(e),
    };
    let notes = match patch_value(&v, "notes", false) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let start = match patch_value(&v, "startDate", true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let end = match patch_value(&v, "endDate", true) {
        Ok(x) => x,
        Err(r) => return r,
    };
    h.with(|s| {
        let Some(a) = s.incydr.actors.iter_mut().find(|a| a.actor_id == id) else {
            return actor_not_found(&id);
        };
        if let Some(n) = notes {
            a.notes = n;
        }
        if let Some(d) = start {
            a.start_date = d;
        }
        if let Some(d) = end {
            a.end_date = d;
        }
        util::json(StatusCode::OK, a)
    })
}

async fn list_users(State(h): State<SandboxHandle>, RawQuery(raw): RawQuery) -> Response {
    let q = Query::parse(raw.as_deref());
    let (page, size) = match page_params(&q, &["pageSize", "page_size"], 100) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut bools = Vec::new();
    for key in ["active", "blocked"] {
        match q.get(key) {
            None => bools.push(None),
            Some(v) => match util::parse_bool_ci(v) {
                Some(b) => bools.push(Some(b)),
                None => return bad_request(format!("Invalid value '{v}' for parameter '{key}'")),
            },
        }
    }
    let username = q.get("username").map(str::to_string);
    h.with(|s| {
        let users: Vec<&User> = s
            .incydr
            .users
            .iter()
            .filter(|u| {
                username
                    .as_deref()
                    .is_none_or(|n| u.username.eq_ignore_ascii_case(n))
            })
            .filter(|u| bools[0].is_none_or(|b| u.active == b))
            .filter(|u| bools[1].is_none_or(|b| u.blocked == b))
            .collect();
        util::json(
            StatusCode::OK,
            &UserPage {
                total_count: users.len(),
                users: util::page_slice(&users, page, size),
            },
        )
    })
}

async fn get_user(State(h): State<SandboxHandle>, Path(id): Path<String>) -> Response {
    h.with(|s| match s.incydr.users.iter().find(|u| u.user_id == id) {
        Some(u) => util::json(StatusCode::OK, u),
        None => not_found(format!("User not found: {id}")),
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
