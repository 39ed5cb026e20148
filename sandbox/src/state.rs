//! The in-memory state of every fake and [`SandboxHandle`], the typed in-process API over it
//! (the same operations as the `/_control` HTTP API, see [`crate::control`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::faults::{FaultConfig, FaultRule, FaultState, RateLimits, RequestCounts};
pub use crate::incydr::ApiClient;
use crate::incydr::{
    Actor, ActorDatesView, IncydrState, Session, SessionNotesView, SessionSeed, SessionStateView,
    TouchSession, User, WatchlistMemberView, WatchlistSeed, WatchlistView,
};
use crate::jira::{self, JiraIssueView, JiraState};
use crate::okta::{self, OktaGroupMembersView, OktaState};
use crate::servicenow::{SnowIncidentView, SnowState};
use crate::tls::TlsMaterial;
use crate::util::IdGen;
use crate::{adp, bamboohr, creds, workday};

/// Runtime knobs (`GET|PUT /_control/config`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SandboxConfig {
    /// Incydr API clients accepted by `/v1/oauth` (default: `key-demo`/`secret-demo`).
    pub incydr_clients: Vec<ApiClient>,
    /// Lifetime of Incydr tokens (`expires_in`, JWT `exp`), default 900.
    pub incydr_token_ttl_secs: u64,
    /// Move a session to the front of the result on every `/v1/sessions` request with
    /// `page_number > 0`, so a paged scan sees duplicates and misses.
    pub incydr_reorder_sessions: bool,
    /// Answer 409 when an actor already on a watchlist is added again (default: 200).
    pub incydr_strict_readd: bool,
    /// Issues become visible to Jira `search/jql` only this long after creation.
    pub jira_search_lag_ms: u64,
    /// `glide.invalid_query.returns_no_rows`: an unknown field in `sysparm_query` makes the
    /// query return nothing instead of being ignored (default false, as on real instances).
    pub servicenow_invalid_query_returns_no_rows: bool,
    /// On the plain-HTTP listener, answer ADP calls 400 `invalid_request` ("proper client ssl
    /// certificate was not presented"). Default false: the plain listener does not check
    /// certificates; the TLS listener always requires one.
    pub adp_plain_requires_client_cert: bool,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            incydr_clients: vec![ApiClient {
                key: creds::INCYDR_CLIENT_ID.to_string(),
                secret: creds::INCYDR_CLIENT_SECRET.to_string(),
            }],
            incydr_token_ttl_secs: 900,
            incydr_reorder_sessions: false,
            incydr_strict_readd: false,
            jira_search_lag_ms: 0,
            servicenow_invalid_query_returns_no_rows: false,
            adp_plain_requires_client_cert: false,
        }
    }
}

/// A partial [`SandboxConfig`]: only the given keys change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ConfigPatch {
    /// See [`SandboxConfig`].
    pub incydr_clients: Option<Vec<ApiClient>>,
    /// See [`SandboxConfig`].
    pub incydr_token_ttl_secs: Option<u64>,
    /// See [`SandboxConfig`].
    pub incydr_reorder_sessions: Option<bool>,
    /// See [`SandboxConfig`].
    pub incydr_strict_readd: Option<bool>,
    /// See [`SandboxConfig`].
    pub jira_search_lag_ms: Option<u64>,
    /// See [`SandboxConfig`].
    pub servicenow_invalid_query_returns_no_rows: Option<bool>,
    /// See [`SandboxConfig`].
    pub adp_plain_requires_client_cert: Option<bool>,
}

/// The body of `POST /_control/seed`: every array is optional; seeding upserts by id.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SeedData {
    /// Incydr sessions (with their file events).
    pub sessions: Vec<SessionSeed>,
    /// Incydr actors.
    pub actors: Vec<Actor>,
    /// Incydr users.
    pub users: Vec<User>,
    /// Incydr watchlists.
    pub watchlists: Vec<WatchlistSeed>,
    /// Jira projects (besides the default `SEC`).
    pub jira_projects: Vec<jira::JiraProject>,
    /// ServiceNow records by table (`incident`, `sys_user`, `sys_user_group`).
    pub servicenow: BTreeMap<String, Vec<BTreeMap<String, Value>>>,
    /// Okta users.
    pub okta_users: Vec<okta::OktaUserSeed>,
    /// Okta groups.
    pub okta_groups: Vec<okta::OktaGroupSeed>,
    /// Okta group memberships.
    pub okta_memberships: Vec<okta::OktaMembership>,
    /// Okta group rules (seeding one makes the memberships it assigns).
    pub okta_group_rules: Vec<okta::OktaGroupRuleSeed>,
    /// Okta service apps (OAuth 2.0 client credentials with `private_key_jwt`).
    pub okta_apps: Vec<okta::OktaAppSeed>,
    /// Workday report rows (replace the current rows when present).
    pub workday_rows: Option<Vec<Value>>,
    /// ADP queue messages: a JSON string is sent as its raw text (so garbage can be queued),
    /// anything else as JSON.
    pub adp_messages: Vec<Value>,
    /// ADP worker records.
    pub adp_workers: Vec<adp::AdpWorker>,
    /// BambooHR employees.
    pub bamboohr_employees: Vec<bamboohr::BambooEmployee>,
    /// Id of the BambooHR employee the API key belongs to: `GET .../employees/0` answers
    /// that employee's record.
    pub bamboohr_api_key_employee: Option<String>,
}

/// Everything clients created or changed (`GET /_control/state`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CreatedState {
    /// Jira issues with comments.
    pub jira_issues: Vec<JiraIssueView>,
    /// ServiceNow incidents with journals.
    pub servicenow_incidents: Vec<SnowIncidentView>,
    /// Watchlists.
    pub watchlists: Vec<WatchlistView>,
    /// Included actors of every watchlist.
    pub watchlist_members: Vec<WatchlistMemberView>,
    /// Actor dates (every actor).
    pub actor_end_dates: Vec<ActorDatesView>,
    /// Okta groups and members.
    pub okta_group_members: Vec<OktaGroupMembersView>,
    /// ADP message ids acknowledged, in order.
    pub adp_acks: Vec<String>,
    /// ADP messages still queued.
    pub adp_queue_len: usize,
    /// Notes per Incydr session (sessions with notes only).
    pub incydr_session_notes: Vec<SessionNotesView>,
    /// Current state of every Incydr session.
    pub incydr_session_states: Vec<SessionStateView>,
    /// BambooHR webhooks the sandbox sent.
    pub bamboohr_deliveries: Vec<bamboohr::WebhookDelivery>,
}

/// All state, behind one mutex.
pub(crate) struct Inner {
    pub config: SandboxConfig,
    pub incydr: IncydrState,
    pub jira: JiraState,
    pub snow: SnowState,
    pub okta: OktaState,
    pub workday: workday::WorkdayState,
    pub adp: adp::AdpState,
    pub bamboo: bamboohr::BambooState,
    pub faults: FaultState,
    pub limits: RateLimits,
    pub counts: RequestCounts,
    pub holds: crate::faults::Holds,
    pub ids: IdGen,
}

impl Inner {
    pub(crate) fn new() -> Inner {
        let mut ids = IdGen::default();
        let snow = SnowState::new(&mut ids);
        let okta = OktaState::new(&mut ids);
        Inner {
            config: SandboxConfig::default(),
            incydr: IncydrState::new(),
            jira: JiraState::new(),
            snow,
            okta,
            workday: workday::WorkdayState::default(),
            adp: adp::AdpState::default(),
            bamboo: bamboohr::BambooState::default(),
            faults: FaultState::default(),
            limits: RateLimits::default(),
            counts: RequestCounts::default(),
            holds: Default::default(),
            ids,
        }
    }
}

/// Cheap-to-clone handle on a running sandbox's state.
#[derive(Clone)]
pub struct SandboxHandle {
    pub(crate) inner: Arc<Mutex<Inner>>,
    pub(crate) tls: Arc<Mutex<Option<TlsMaterial>>>,
    pub(crate) http: reqwest::Client,
}

impl Default for SandboxHandle {
    fn default() -> SandboxHandle {
        SandboxHandle::new()
    }
}

impl SandboxHandle {
    /// A fresh, empty state (not served; [`crate::Sandbox::start`] makes one).
    pub fn new() -> SandboxHandle {
        SandboxHandle {
            inner: Arc::new(Mutex::new(Inner::new())),
            tls: Arc::new(Mutex::new(None)),
            http: reqwest::Client::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` with the state locked.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.lock())
    }

    // ---- whole state -----------------------------------------------------------------

    /// Forget everything: objects, config, faults, rate limits, counts.
    pub fn reset(&self) {
        self.with(|s| *s = Inner::new());
    }

    /// Seed objects (upsert by id).
    pub fn seed(&self, data: SeedData) {
        self.with(|s| {
            for a in data.actors {
                s.incydr.seed_actor(&mut s.ids, a);
            }
            for u in data.users {
                s.incydr.seed_user(&mut s.ids, u);
            }
            for sess in data.sessions {
                s.incydr.seed_session(&mut s.ids, sess);
            }
            for w in data.watchlists {
                s.incydr.seed_watchlist(&mut s.ids, w);
            }
            for p in data.jira_projects {
                s.jira.seed_project(p);
            }
            for (table, records) in data.servicenow {
                for r in records {
                    s.snow.seed_record(&mut s.ids, &table, r);
                }
            }
            for u in data.okta_users {
                s.okta.seed_user(&mut s.ids, u);
            }
            for g in data.okta_groups {
                s.okta.seed_group(&mut s.ids, g);
            }
            for m in data.okta_memberships {
                s.okta.seed_membership(m);
            }
            for r in data.okta_group_rules {
                s.okta.seed_rule(&mut s.ids, r);
            }
            for a in data.okta_apps {
                s.okta.seed_app(a);
            }
            if let Some(rows) = data.workday_rows {
                s.workday.rows = rows;
            }
            for m in data.adp_messages {
                let raw = match m {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                s.adp.push_message(&mut s.ids, raw);
            }
            for w in data.adp_workers {
                s.adp.workers.insert(w.associate_oid.clone(), w);
            }
            for e in data.bamboohr_employees {
                s.bamboo.employees.insert(e.id.clone(), e);
            }
            if let Some(id) = data.bamboohr_api_key_employee {
                s.bamboo.api_key_employee = Some(id);
            }
        });
    }

    /// Everything clients created or changed.
    pub fn snapshot(&self) -> CreatedState {
        self.with(|s| CreatedState {
            jira_issues: s.jira.views(),
            servicenow_incidents: s.snow.incident_views(),
            watchlists: s.incydr.watchlist_views(),
            watchlist_members: s.incydr.watchlist_member_views(),
            actor_end_dates: s.incydr.actor_date_views(),
            okta_group_members: s.okta.group_views(),
            adp_acks: s.adp.acks.clone(),
            adp_queue_len: s.adp.queue.len(),
            incydr_session_notes: s.incydr.session_notes_views(),
            incydr_session_states: s.incydr.session_state_views(),
            bamboohr_deliveries: s.bamboo.deliveries.clone(),
        })
    }

    // ---- config, faults, limits, counts ----------------------------------------------

    /// Current knobs.
    pub fn config(&self) -> SandboxConfig {
        self.with(|s| s.config.clone())
    }

    /// Accept one more Incydr API client (e.g. one whose secret is a test's canary).
    pub fn add_incydr_client(&self, key: &str, secret: &str) {
        let mut clients = self.config().incydr_clients;
        clients.push(ApiClient {
            key: key.into(),
            secret: secret.into(),
        });
        self.update_config(ConfigPatch {
            incydr_clients: Some(clients),
            ..Default::default()
        });
    }

    /// Change some knobs.
    pub fn update_config(&self, patch: ConfigPatch) -> SandboxConfig {
        self.with(|s| {
            let c = &mut s.config;
            if let Some(v) = patch.incydr_clients {
                c.incydr_clients = v;
            }
            if let Some(v) = patch.incydr_token_ttl_secs {
                c.incydr_token_ttl_secs = v;
            }
            if let Some(v) = patch.incydr_reorder_sessions {
                c.incydr_reorder_sessions = v;
            }
            if let Some(v) = patch.incydr_strict_readd {
                c.incydr_strict_readd = v;
            }
            if let Some(v) = patch.jira_search_lag_ms {
                c.jira_search_lag_ms = v;
            }
            if let Some(v) = patch.servicenow_invalid_query_returns_no_rows {
                c.servicenow_invalid_query_returns_no_rows = v;
            }
            if let Some(v) = patch.adp_plain_requires_client_cert {
                c.adp_plain_requires_client_cert = v;
            }
            c.clone()
        })
    }

    /// Jira search lag in milliseconds.
    pub fn set_jira_search_lag_ms(&self, ms: u64) {
        self.with(|s| s.config.jira_search_lag_ms = ms);
    }

    /// Turn session reordering between pages on or off.
    pub fn set_session_reorder(&self, on: bool) {
        self.with(|s| {
            s.config.incydr_reorder_sessions = on;
            s.incydr.reorder_moves.clear();
        });
    }

    /// Replace the fault rules (and reseed their RNGs).
    pub fn set_faults(&self, cfg: FaultConfig) {
        self.with(|s| s.faults.set(cfg));
    }

    /// Append one fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.with(|s| s.faults.add(rule));
    }

    /// Keep the next `method` request to `system` whose system-relative path starts with
    /// `path_prefix` waiting until the returned [`crate::faults::Hold`] is released (see
    /// [`crate::faults::Hold`]).
    pub fn hold(&self, system: &str, method: &str, path_prefix: &str) -> crate::faults::Hold {
        self.with(|s| s.holds.arm(system, method, path_prefix))
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        self.with(|s| s.faults.set(FaultConfig::default()));
    }

    /// The active fault rules.
    pub fn faults(&self) -> FaultConfig {
        self.with(|s| s.faults.config())
    }

    /// How often each rule fired, in rule order.
    pub fn fault_hits(&self) -> Vec<u64> {
        self.with(|s| s.faults.hits())
    }

    /// Limit a system to `rps` requests per second (`None` removes the limit). Takes effect
    /// at once, also mid-run.
    pub fn set_rate_limit(&self, system: &str, rps: Option<f64>) {
        self.with(|s| s.limits.set(system, rps));
    }

    /// Configured limits (system → rps).
    pub fn rate_limits(&self) -> BTreeMap<String, f64> {
        self.with(|s| s.limits.get())
    }

    /// Request counts by route and status.
    pub fn counts(&self) -> RequestCounts {
        self.with(|s| s.counts.clone())
    }

    /// Requests received for one route pattern, e.g. `("jira", "POST", "/rest/api/3/issue")`.
    pub fn count(&self, system: &str, method: &str, route: &str) -> u64 {
        self.with(|s| s.counts.route(system, method, route))
    }

    /// Zero the counts.
    pub fn reset_counts(&self) {
        self.with(|s| s.counts = RequestCounts::default());
    }

    // ---- Incydr ------------------------------------------------------------------------

    /// Add or replace a session; returns its id.
    pub fn add_session(&self, seed: SessionSeed) -> String {
        self.with(|s| s.incydr.seed_session(&mut s.ids, seed))
    }

    /// One session.
    pub fn session(&self, id: &str) -> Option<Session> {
        self.with(|s| {
            s.incydr
                .sessions
                .iter()
                .find(|r| r.session.session_id == id)
                .map(|r| r.session.clone())
        })
    }

    /// Every session.
    pub fn sessions(&self) -> Vec<Session> {
        self.with(|s| {
            s.incydr
                .sessions
                .iter()
                .map(|r| r.session.clone())
                .collect()
        })
    }

    /// Simulate a session growing: bump `lastUpdated`/`endTime`, set `OPEN_NEW_DATA` (or the
    /// given state), optionally add an alert, a score and an event.
    pub fn touch_session(&self, id: &str, touch: TouchSession) -> Option<Session> {
        self.with(|s| s.incydr.touch_session(&mut s.ids, id, touch))
    }

    /// Add or replace an actor; returns its id.
    pub fn add_actor(&self, actor: Actor) -> String {
        self.with(|s| s.incydr.seed_actor(&mut s.ids, actor))
    }

    /// One actor.
    pub fn actor(&self, id: &str) -> Option<Actor> {
        self.with(|s| s.incydr.actor(id).cloned())
    }

    /// Add or replace a user; returns its id.
    pub fn add_user(&self, user: User) -> String {
        self.with(|s| s.incydr.seed_user(&mut s.ids, user))
    }

    /// Add a watchlist; returns its id.
    pub fn add_watchlist(&self, w: WatchlistSeed) -> String {
        self.with(|s| s.incydr.seed_watchlist(&mut s.ids, w))
    }

    /// Remove every watchlist of a type (e.g. so clients must create `DEPARTING_EMPLOYEE`).
    pub fn remove_watchlists_of_type(&self, list_type: &str) {
        self.with(|s| s.incydr.watchlists.retain(|w| w.list_type != list_type));
    }

    /// Id of the first watchlist of a type.
    pub fn watchlist_id(&self, list_type: &str) -> Option<String> {
        self.with(|s| {
            s.incydr
                .watchlists
                .iter()
                .find(|w| w.list_type == list_type)
                .map(|w| w.id.clone())
        })
    }

    /// Actor ids included on the first watchlist of a type.
    pub fn watchlist_actor_ids(&self, list_type: &str) -> Vec<String> {
        self.with(|s| {
            s.incydr
                .watchlists
                .iter()
                .find(|w| w.list_type == list_type)
                .map(|w| w.included.iter().map(|m| m.actor_id.clone()).collect())
                .unwrap_or_default()
        })
    }

    /// Invalidate every Incydr token issued so far (clients then get 401 and must refresh).
    pub fn expire_incydr_tokens(&self) {
        self.with(|s| s.incydr.token_generation += 1);
    }

    // ---- Jira / ServiceNow / Okta -----------------------------------------------------

    /// Jira issues with comments.
    pub fn jira_issues(&self) -> Vec<JiraIssueView> {
        self.with(|s| s.jira.views())
    }

    /// ServiceNow incidents with journals.
    pub fn servicenow_incidents(&self) -> Vec<SnowIncidentView> {
        self.with(|s| s.snow.incident_views())
    }

    /// Member user ids of an Okta group.
    pub fn okta_group_member_ids(&self, group_id: &str) -> Vec<String> {
        self.with(|s| {
            s.okta
                .groups
                .iter()
                .find(|g| g.id == group_id)
                .map(|g| g.members.clone())
                .unwrap_or_default()
        })
    }

    /// Okta user id by login.
    pub fn okta_user_id(&self, login: &str) -> Option<String> {
        self.with(|s| {
            s.okta
                .users
                .iter()
                .find(|u| u.login.eq_ignore_ascii_case(login))
                .map(|u| u.id.clone())
        })
    }

    /// Add or replace an Okta user; returns its id.
    pub fn add_okta_user(&self, u: okta::OktaUserSeed) -> String {
        self.with(|s| s.okta.seed_user(&mut s.ids, u))
    }

    /// Add or replace an Okta group; returns its id.
    pub fn add_okta_group(&self, g: okta::OktaGroupSeed) -> String {
        self.with(|s| s.okta.seed_group(&mut s.ids, g))
    }

    /// Put a user (id or login) into an Okta group.
    pub fn add_okta_membership(&self, m: okta::OktaMembership) {
        self.with(|s| s.okta.seed_membership(m));
    }

    /// Take a user (id or login) out of an Okta group, as an admin does in the console.
    pub fn remove_okta_membership(&self, m: okta::OktaMembership) {
        self.with(|s| s.okta.remove_membership(m));
    }

    /// Add or replace an Okta group rule (its memberships are made at once); returns its id.
    pub fn add_okta_group_rule(&self, r: okta::OktaGroupRuleSeed) -> String {
        self.with(|s| s.okta.seed_rule(&mut s.ids, r))
    }

    /// Run Okta's group rules again (as a profile change would): each matched user who is not
    /// excluded is put back into the rule's groups.
    pub fn evaluate_okta_group_rules(&self) {
        self.with(|s| s.okta.evaluate_rules());
    }

    /// The users (ids) an Okta group rule excludes.
    pub fn okta_rule_exclusions(&self, rule_id: &str) -> Vec<String> {
        self.with(|s| {
            s.okta
                .rules
                .iter()
                .find(|r| r.id == rule_id)
                .map(|r| r.excluded.clone())
                .unwrap_or_default()
        })
    }

    /// Register (or replace) an Okta service app.
    pub fn add_okta_app(&self, a: okta::OktaAppSeed) {
        self.with(|s| s.okta.seed_app(a));
    }

    /// The answers of the Okta token endpoint so far, in order: `issued` or the OAuth error
    /// (`invalid_client`, `invalid_dpop_proof`, `use_dpop_nonce`, …).
    pub fn okta_token_requests(&self) -> Vec<String> {
        self.with(|s| s.okta.oauth.token_requests.clone())
    }

    /// Add a ServiceNow record (`incident`, `sys_user`, `sys_user_group`); returns its
    /// `sys_id`, or `None` for an unknown table.
    pub fn add_servicenow_record(
        &self,
        table: &str,
        record: BTreeMap<String, Value>,
    ) -> Option<String> {
        self.with(|s| s.snow.seed_record(&mut s.ids, table, record))
    }

    /// Play an analyst in ServiceNow: write `u.fields` to an incident (sys_id or number) as
    /// `u.user`, under the same rules as the Table API (data policy, ACLs, reopen); answers
    /// the incident, or why the instance would refuse the write.
    pub fn servicenow_analyst_update(
        &self,
        id_or_number: &str,
        u: &crate::servicenow::SnowAnalystUpdate,
    ) -> Result<SnowIncidentView, String> {
        self.with(|s| {
            let sys_id =
                crate::servicenow::analyst_update(&mut s.snow, &mut s.ids, id_or_number, u)?;
            s.snow
                .incident_views()
                .into_iter()
                .find(|v| v.sys_id == sys_id)
                .ok_or_else(|| format!("no incident {id_or_number}"))
        })
    }

    /// Run ServiceNow's "Autoclose Incidents" job: close (state 7, as `system`) every
    /// Resolved incident resolved at least `days` days ago (0: every Resolved one). Answers
    /// the numbers closed.
    pub fn servicenow_autoclose(&self, days: u64) -> Vec<String> {
        self.with(|s| crate::servicenow::autoclose(&mut s.snow, &mut s.ids, days))
    }

    /// Add a Jira project.
    pub fn add_jira_project(&self, p: jira::JiraProject) {
        self.with(|s| s.jira.seed_project(p));
    }

    /// Play an analyst in Jira: move issue `key` to a status through one of its available
    /// transitions, with a resolution (and comment) where the screen takes them, as
    /// `t.author`. Moves `updated` (and `statuscategorychangedate` when the category
    /// changes) and adds a changelog entry by that author. The error says why Jira would
    /// refuse it (no such issue or transition, a required field missing, ...).
    pub fn jira_analyst_transition(
        &self,
        key: &str,
        t: &jira::JiraAnalystTransition,
    ) -> Result<JiraIssueView, String> {
        self.with(|s| {
            jira::analyst_transition(&mut s.jira, key, t)?;
            s.jira
                .views()
                .into_iter()
                .find(|v| v.key.eq_ignore_ascii_case(key))
                .ok_or_else(|| format!("no Jira issue {key}"))
        })
    }

    // ---- HR ------------------------------------------------------------------------------

    /// Replace the Workday report rows (a person can vanish between pulls).
    pub fn set_workday_rows(&self, rows: Vec<Value>) {
        self.with(|s| s.workday.rows = rows);
    }

    /// How a JSON pull of the Workday report answers while it has no rows: `{}` (as Workday
    /// does, by several accounts) when `without_report_entry`, else `{"Report_Entry":[]}`.
    pub fn set_workday_empty_answer(&self, without_report_entry: bool) {
        self.with(|s| s.workday.empty_without_report_entry = without_report_entry);
    }

    /// Queue a raw ADP message (any text); returns its `adp-msg-msgid`.
    pub fn push_adp_message(&self, raw: impl Into<String>) -> String {
        self.with(|s| s.adp.push_message(&mut s.ids, raw.into()))
    }

    /// ADP message ids acknowledged so far.
    pub fn adp_acks(&self) -> Vec<String> {
        self.with(|s| s.adp.acks.clone())
    }

    /// Messages still queued (ids).
    pub fn adp_queue(&self) -> Vec<String> {
        self.with(|s| s.adp.queue.iter().map(|m| m.id.clone()).collect())
    }

    /// Add or replace an ADP worker.
    pub fn add_adp_worker(&self, w: adp::AdpWorker) {
        self.with(|s| {
            s.adp.workers.insert(w.associate_oid.clone(), w);
        });
    }

    /// Add or replace a BambooHR employee.
    pub fn add_bamboohr_employee(&self, e: bamboohr::BambooEmployee) {
        self.with(|s| {
            s.bamboo.employees.insert(e.id.clone(), e);
        });
    }

    /// Make the sandbox POST a signed BambooHR webhook to `req.url`.
    pub async fn send_bamboohr_webhook(
        &self,
        req: bamboohr::WebhookRequest,
    ) -> Result<bamboohr::WebhookDelivery, String> {
        bamboohr::send_webhook(self, req).await
    }

    /// The certificates of the ADP mutual-TLS listener, once it runs.
    pub fn adp_tls(&self) -> Option<TlsMaterial> {
        self.tls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
