//! End-to-end test helpers: a [`World`] made of the sandbox (fake Incydr, Jira, ServiceNow,
//! Okta, ADP, ...), a fresh DynamoDB table in the emulator (`moto_server`, reached through the
//! real AWS SDK), a secret store, and the [`App`] every runtime builds, with each system
//! connected through the connections API exactly as `riskflow dev --sandbox` does.
//!
//! The emulator is required: without `AWS_ENDPOINT_URL` the store helpers panic with
//! instructions (`make test` starts it).

use riskflow::api::ApiRequest;
use riskflow::api::connections::{ConnectionsApi, RunStarter};
use riskflow::app::App;
use riskflow::clock::Clock;
use riskflow::domain::{AuditEntry, ConnectionKind, Flow, ItemStatus, RunRecord, RunStatus};
use riskflow::flows::Timing;
use riskflow::secrets::SecretStore;
use riskflow::secrets::file::FileSecretStore;
use riskflow::secrets::memory::MemorySecretStore;
use riskflow::store::Store;
use riskflow::testing::TempDir;
use riskflow_sandbox::creds::*;
use riskflow_sandbox::incydr::{Actor, Score, Session, SessionSeed, TriggeredAlert, WatchlistSeed};
use riskflow_sandbox::okta::{OktaGroupSeed, OktaUserSeed};
use riskflow_sandbox::{JiraIssueView, Sandbox, SandboxHandle, SeedData};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

pub use riskflow;
pub use riskflow_sandbox;

/// The Okta group departing employees are put in (seeded by [`World::seed_departing_people`]).
pub const DEPARTING_GROUP: &str = "00gdeparting0restricted";
/// The prefix of secret names in every test world.
pub const SECRET_PREFIX: &str = "riskflow-e2e/";
/// The signing secret of the generic HR webhook in every test world.
pub const GENERIC_SECRET: &str = "whsec_ZTJlLWdlbmVyaWMtc2lnbmluZy1zZWNyZXQtMDE=";

/// Log to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=riskflow=debug`).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

// ---------------------------------------------------------------------------------------------
// Clock

/// A controllable clock: real time, optionally running `speed` times faster than real time
/// from its creation, plus an offset that tests move forward to let leases, locks and the Jira
/// consistency horizon pass.
#[derive(Clone)]
pub struct TestClock {
    base: i64,
    speed: i64,
    offset: Arc<AtomicI64>,
}

impl TestClock {
    /// Real time (moved only by [`TestClock::advance`]).
    pub fn real() -> TestClock {
        TestClock::scaled(1)
    }

    /// A clock running `speed` times faster than real time.
    pub fn scaled(speed: i64) -> TestClock {
        TestClock {
            base: riskflow::clock::now_ms(),
            speed: speed.max(1),
            offset: Arc::new(AtomicI64::new(0)),
        }
    }

    pub fn now(&self) -> i64 {
        let real = riskflow::clock::now_ms();
        self.base + (real - self.base) * self.speed + self.offset.load(Ordering::SeqCst)
    }

    /// Move the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset.fetch_add(ms, Ordering::SeqCst);
    }

    /// The offset added so far.
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }

    pub fn as_clock(&self) -> Clock {
        let c = self.clone();
        Arc::new(move || c.now())
    }
}

// ---------------------------------------------------------------------------------------------
// The world

/// Which secret store the world's [`App`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrets {
    /// In memory (one process).
    Memory,
    /// A secrets file in a temporary directory (shared with helper processes).
    File,
    /// Secrets Manager in the emulator, under a prefix of the world's own.
    SecretsManager,
}

/// How to build a [`World`].
#[derive(Clone, Debug)]
pub struct Options {
    pub secrets: Secrets,
    /// Start the sandbox's ADP mutual-TLS listener and trust its CA.
    pub adp_mtls: bool,
    /// See [`TestClock::scaled`].
    pub clock_speed: i64,
    pub timing: Timing,
    /// The deadline of each run, from its start (real time).
    pub run_budget: Duration,
    /// Faults in front of the emulator for the world's DynamoDB and Secrets Manager clients
    /// (none are injected until the test adds rules).
    pub aws_faults: Option<riskflow::testing::aws_faults::AwsFaults>,
}

/// Leases and locks small enough for tests (the run deadline is [`RUN_BUDGET`]).
pub fn test_timing() -> Timing {
    Timing {
        item_lease_ms: 10_000,
        skew_margin_ms: 500,
        lock_ttl_ms: 150_000,
    }
}

/// The deadline budget of one run in the tests.
pub const RUN_BUDGET: Duration = Duration::from_secs(120);

impl Default for Options {
    fn default() -> Self {
        Options {
            secrets: Secrets::Memory,
            adp_mtls: false,
            clock_speed: 1,
            timing: test_timing(),
            run_budget: RUN_BUDGET,
            aws_faults: None,
        }
    }
}

struct NoRuns;

#[async_trait::async_trait]
impl RunStarter for NoRuns {
    async fn start(&self, flow: Flow, _dry_run: bool) -> Result<String, String> {
        Err(format!("{flow} is started by the test itself"))
    }
}

/// The sandbox, the state table, the secrets and the [`App`] over them.
pub struct World {
    pub sandbox: Sandbox,
    pub env: App,
    pub api: ConnectionsApi,
    pub clock: TestClock,
    /// The DynamoDB table in the emulator.
    pub table: String,
    /// The secrets directory ([`Secrets::File`] only).
    pub secrets_dir: Option<TempDir>,
    /// `https://127.0.0.1:PORT` of the ADP mutual-TLS listener ([`Options::adp_mtls`]).
    pub adp_url: Option<String>,
    pub run_budget: Duration,
}

impl World {
    /// A world with the default options.
    pub async fn start() -> World {
        World::start_with(Options::default()).await
    }

    pub async fn start_with(opts: Options) -> World {
        init_tracing();
        let mut sandbox = Sandbox::start(0).await.expect("the sandbox starts");
        let adp_url = if opts.adp_mtls {
            Some(
                sandbox
                    .start_adp_mtls(0)
                    .await
                    .expect("the ADP mTLS listener starts"),
            )
        } else {
            None
        };
        let sdk = riskflow::testing::aws_test_config().await;
        let sdk = match &opts.aws_faults {
            Some(f) => f.config(&sdk),
            None => sdk,
        };
        let (store, table) = riskflow::testing::dynamo_test_store_with(&sdk).await;
        let mut prefix = SECRET_PREFIX.to_string();
        let (secrets, secrets_dir): (Arc<dyn SecretStore>, Option<TempDir>) = match opts.secrets {
            Secrets::Memory => (Arc::new(MemorySecretStore::new()), None),
            Secrets::File => {
                let dir = TempDir::new("riskflow-e2e-secrets");
                let s = FileSecretStore::open(dir.path()).expect("the secrets file opens");
                (Arc::new(s), Some(dir))
            }
            Secrets::SecretsManager => {
                prefix = riskflow::testing::unique_name("riskflow-e2e") + "/";
                (
                    Arc::new(
                        riskflow::secrets::secrets_manager::SecretsManagerStore::new(
                            aws_sdk_secretsmanager::Client::new(&sdk),
                        ),
                    ),
                    None,
                )
            }
        };
        let clock = TestClock::scaled(opts.clock_speed);
        let mut env = App::new(store, secrets, prefix, true);
        env.timing = opts.timing.clone();
        env.clock = clock.as_clock();
        if opts.adp_mtls {
            let tls = sandbox.state().adp_tls().expect("ADP certificates");
            env.extra_root_pem = Some(tls.ca_cert_pem.clone().into_bytes());
        }
        let api = env.connections_api(Arc::new(NoRuns));
        World {
            sandbox,
            env,
            api,
            clock,
            table,
            secrets_dir,
            adp_url,
            run_budget: opts.run_budget,
        }
    }

    /// The sandbox's state.
    pub fn sb(&self) -> SandboxHandle {
        self.sandbox.state()
    }

    pub fn store(&self) -> &Store {
        &self.env.store
    }

    /// `PUT /connections/{kind}` through the API handler (verified live against the sandbox).
    /// Panics unless it answers 2xx.
    pub async fn connect(&self, kind: ConnectionKind, overrides: Value) {
        let mut body = self.default_connection(kind);
        if let (Some(b), Value::Object(o)) = (body.as_object_mut(), overrides) {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(&k);
                } else {
                    b.insert(k, v);
                }
            }
        }
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let r = self
            .api
            .handle(ApiRequest {
                method: http::Method::PUT,
                path: format!("/connections/{kind}"),
                query: Default::default(),
                headers,
                body: bytes::Bytes::from(body.to_string()),
                principal: "e2e".into(),
            })
            .await;
        assert!(
            r.status.is_success(),
            "connecting {kind} answered {}: {}",
            r.status,
            r.body
        );
    }

    /// The demo credentials of a kind, pointed at this sandbox (as `riskflow dev` connects).
    pub fn default_connection(&self, kind: ConnectionKind) -> Value {
        let sb = &self.sandbox;
        match kind {
            ConnectionKind::Incydr => json!({
                "url": sb.url("incydr"), "client_id": INCYDR_CLIENT_ID,
                "client_secret": INCYDR_CLIENT_SECRET, "console_url": sb.url("incydr"),
                "sink": "jira", "min_severity": 1,
            }),
            ConnectionKind::Jira => json!({
                "url": sb.url("jira"), "email": JIRA_EMAIL, "api_token": JIRA_API_TOKEN,
                "project_key": "SEC",
            }),
            ConnectionKind::Servicenow => json!({
                "url": sb.url("servicenow"), "username": SERVICENOW_USER,
                "password": SERVICENOW_PASSWORD,
            }),
            ConnectionKind::Okta => json!({
                "url": sb.url("okta"), "api_token": OKTA_API_TOKEN, "group_id": DEPARTING_GROUP,
            }),
            ConnectionKind::Workday => json!({
                "report_url": format!("{}/ccx/service/customreport2/sandbox/ISU_demo/Terminations", sb.url("workday")),
                "username": WORKDAY_USER, "password": WORKDAY_PASSWORD,
            }),
            ConnectionKind::Adp => {
                let url = self
                    .adp_url
                    .clone()
                    .expect("the world was started with adp_mtls");
                let tls = sb.state().adp_tls().expect("ADP certificates");
                json!({
                    "api_url": url, "token_url": format!("{url}/auth/oauth/v2/token"),
                    "client_id": ADP_CLIENT_ID, "client_secret": ADP_CLIENT_SECRET,
                    "certificate_pem": tls.client_cert_pem, "private_key_pem": tls.client_key_pem,
                })
            }
            ConnectionKind::Bamboohr => json!({
                "url": format!("{}/api/gateway.php/demo", sb.url("bamboohr")),
                "api_key": BAMBOOHR_API_KEY, "webhook_key": BAMBOOHR_WEBHOOK_KEY,
            }),
            ConnectionKind::Generic => json!({ "signing_secret": GENERIC_SECRET }),
        }
    }

    // ----- running flows -----

    /// One run of a flow through [`App::run_flow`], the entry every runtime uses.
    pub async fn run(&self, flow: Flow) -> RunRecord {
        self.env
            .run_flow(flow, false, Instant::now() + self.run_budget)
            .await
    }

    /// A dry run of a flow.
    pub async fn dry_run(&self, flow: Flow) -> RunRecord {
        self.env
            .run_flow(flow, true, Instant::now() + self.run_budget)
            .await
    }

    /// Whether the flow has items waiting in its pending or failed index.
    pub async fn open_items(&self, flow: Flow) -> Vec<String> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for status in [ItemStatus::Pending, ItemStatus::Failed] {
            let page = self
                .store()
                .item_keys(flow, status, None, 1000, now)
                .await
                .expect("item index readable");
            out.extend(page.items);
        }
        out
    }

    /// Run a flow until a run succeeds with nothing left to do (no errors, nothing waiting or
    /// deferred, no pending or failed item), at most `max_runs` times. When a run reports
    /// items waiting for Jira's search to catch up, the clock is moved `horizon_jump_ms`
    /// forward (0: not moved; the caller's clock must then pass the horizon by itself). Runs
    /// after the first wait `pause` (real time) first. Returns every run's record; panics when
    /// the flow does not settle.
    pub async fn run_until_settled(
        &self,
        flow: Flow,
        max_runs: usize,
        horizon_jump_ms: i64,
        pause: Duration,
    ) -> Vec<RunRecord> {
        let mut runs = Vec::new();
        for i in 0..max_runs {
            if i > 0 && !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let rec = self.run(flow).await;
            let waiting = count(&rec, "waiting_for_search");
            let settled = rec.status == RunStatus::Succeeded
                && rec.errors.is_empty()
                && waiting == 0
                && count(&rec, "deferred_to_next_run") == 0
                && self.open_items(flow).await.is_empty();
            runs.push(rec);
            if settled {
                return runs;
            }
            if waiting > 0 && horizon_jump_ms > 0 {
                self.clock.advance(horizon_jump_ms);
            }
        }
        panic!(
            "{flow} did not settle in {max_runs} runs; last runs: {:#?}",
            &runs[runs.len().saturating_sub(3)..]
        );
    }

    /// Move the clock `ms` forward and delete what DynamoDB's TTL would have deleted by then:
    /// every item whose retention has passed (the emulator never deletes). Returns how many.
    pub async fn pass_time(&self, ms: i64) -> u64 {
        self.clock.advance(ms);
        self.store()
            .backend()
            .delete_expired(self.clock.now())
            .await
            .expect("expired items are deleted")
    }

    /// Every audit entry of the last day and the next (the test clock's now), all pages.
    pub async fn audit_entries(&self) -> Vec<AuditEntry> {
        let now = self.clock.now();
        self.audit_entries_between(now - 86_400_000, now + 86_400_000)
            .await
    }

    /// Every audit entry from `from` to `to` (epoch ms), all pages.
    pub async fn audit_entries_between(&self, from: i64, to: i64) -> Vec<AuditEntry> {
        let now = self.clock.now();
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store()
                .list_audit(from, to, 1000, cursor, now)
                .await
                .expect("the audit trail reads");
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return out,
            }
        }
    }

    // ----- seeding -----

    /// Seed one actor (`name` is the email) and return its id.
    pub fn seed_actor(&self, actor_id: &str, email: &str) -> String {
        self.sb().add_actor(Actor {
            actor_id: actor_id.into(),
            name: email.into(),
            active: true,
            in_scope: true,
            ..Actor::default()
        })
    }

    /// Seed `n` sessions with an alert each (severity high, began an hour ago, state OPEN)
    /// for one actor; returns their ids.
    pub fn seed_alert_sessions(&self, prefix: &str, n: usize) -> Vec<String> {
        let actor = format!("actor-{prefix}");
        let email = format!("{prefix}@example.com");
        self.seed_actor(&actor, &email);
        let now = riskflow::clock::now_ms();
        let sessions: Vec<SessionSeed> = (0..n)
            .map(|i| {
                session_seed(
                    &format!("{prefix}-{i:05}"),
                    &actor,
                    &email,
                    now - 3_600_000 + i as i64,
                    true,
                )
            })
            .collect();
        let ids = sessions
            .iter()
            .map(|s| s.session.session_id.clone())
            .collect();
        self.sb().seed(SeedData {
            sessions,
            ..SeedData::default()
        });
        ids
    }

    /// Seed `n` departing employees: an actor on the Departing watchlist, an Okta user and a
    /// session with an alert each, plus the Okta group [`DEPARTING_GROUP`]. Returns
    /// `(session id, email)` pairs.
    pub fn seed_departing_people(&self, prefix: &str, n: usize) -> Vec<(String, String)> {
        self.seed_departing_people_with(prefix, n, |email| {
            vec![OktaUserSeed {
                login: email.to_string(),
                ..OktaUserSeed::default()
            }]
        })
    }

    /// [`World::seed_departing_people`] with the Okta users of each person given by `okta`
    /// (called with the person's email): none, one whose login is not the email, several
    /// sharing the email.
    pub fn seed_departing_people_with(
        &self,
        prefix: &str,
        n: usize,
        okta: impl Fn(&str) -> Vec<OktaUserSeed>,
    ) -> Vec<(String, String)> {
        let now = riskflow::clock::now_ms();
        let mut data = SeedData::default();
        let mut out = Vec::new();
        for i in 0..n {
            let email = format!("{prefix}.{i:03}@example.com");
            let actor = format!("actor-{prefix}-{i:03}");
            let sid = format!("{prefix}-session-{i:03}");
            data.actors.push(Actor {
                actor_id: actor.clone(),
                name: email.clone(),
                active: true,
                in_scope: true,
                ..Actor::default()
            });
            data.okta_users.extend(okta(&email));
            data.sessions.push(session_seed(
                &sid,
                &actor,
                &email,
                now - 1_800_000 + i as i64,
                true,
            ));
            out.push((sid, email));
        }
        let sb = self.sb();
        let existing = sb.watchlist_id("DEPARTING_EMPLOYEE");
        let mut members: Vec<String> = sb.watchlist_actor_ids("DEPARTING_EMPLOYEE");
        members.extend(data.actors.iter().map(|a| a.actor_id.clone()));
        data.watchlists.push(WatchlistSeed {
            watchlist_id: existing,
            list_type: "DEPARTING_EMPLOYEE".into(),
            included_actors: members,
            ..WatchlistSeed::default()
        });
        data.okta_groups.push(OktaGroupSeed {
            id: Some(DEPARTING_GROUP.into()),
            name: "Departing-Restricted".into(),
            ..OktaGroupSeed::default()
        });
        sb.seed(data);
        out
    }

    // ----- reading the sandbox back -----

    /// Jira issues carrying a label that starts with `riskflow-<flow>-`, by that label.
    pub fn jira_tickets(&self, flow: Flow) -> BTreeMap<String, Vec<JiraIssueView>> {
        let prefix = format!("riskflow-{}-", flow.as_str());
        let mut out: BTreeMap<String, Vec<JiraIssueView>> = BTreeMap::new();
        for issue in self.sb().jira_issues() {
            for l in issue.labels.iter().filter(|l| l.starts_with(&prefix)) {
                out.entry(l.clone()).or_default().push(issue.clone());
            }
        }
        out
    }

    /// Assert exactly one Jira issue of `flow` per session id, and no other.
    pub fn assert_one_jira_ticket_each(&self, flow: Flow, session_ids: &[String]) {
        let tickets = self.jira_tickets(flow);
        let dups: Vec<(&String, usize)> = tickets
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(k, v)| (k, v.len()))
            .collect();
        assert!(dups.is_empty(), "duplicate {flow} tickets: {dups:?}");
        let missing: Vec<&String> = session_ids
            .iter()
            .filter(|s| !tickets.contains_key(&dedup_label(flow, s)))
            .collect();
        assert!(
            missing.is_empty(),
            "{} sessions have no {flow} ticket, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        assert_eq!(
            tickets.len(),
            session_ids.len(),
            "{flow} tickets for unknown sessions"
        );
        let total: usize = tickets.values().map(Vec::len).sum();
        assert_eq!(total, session_ids.len());
    }

    /// Assert that every session's work item is done, not leased at `now`, and records as its
    /// Jira ticket the issue that carries the session's label.
    pub async fn assert_items_record_their_jira_tickets(
        &self,
        flow: Flow,
        session_ids: &[String],
        now: i64,
    ) {
        let tickets = self.jira_tickets(flow);
        for id in session_ids {
            let item = self
                .store()
                .item(flow, id, now)
                .await
                .expect("the item reads")
                .unwrap_or_else(|| panic!("session {id} has no work item"));
            assert_eq!(item.status, ItemStatus::Done, "{item:#?}");
            assert!(
                item.lease_until.is_none_or(|u| u <= now),
                "session {id} is still leased: {item:#?}"
            );
            // The key the ticket step is stored under is stored data: it never changes.
            let recorded = item
                .steps
                .get("ticket:jira")
                .filter(|s| s.done_at.is_some())
                .and_then(|s| s.outcome.as_ref())
                .and_then(|o| o["key"].as_str().map(str::to_string))
                .unwrap_or_else(|| panic!("session {id}'s item records no ticket: {item:#?}"));
            let label = dedup_label(flow, id);
            let issue = tickets
                .get(&label)
                .and_then(|v| v.first())
                .unwrap_or_else(|| panic!("no Jira issue labelled {label}"));
            assert_eq!(recorded, issue.key, "session {id}");
        }
    }

    /// ServiceNow incidents by `correlation_id`.
    pub fn snow_incidents_by_correlation(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for inc in self.sb().servicenow_incidents() {
            let c = inc
                .fields
                .get("correlation_id")
                .cloned()
                .unwrap_or_default();
            *out.entry(c).or_insert(0) += 1;
        }
        out
    }

    /// Requests to routes that change something (every method but GET, except token and
    /// search routes), by route.
    pub fn changing_requests(&self) -> BTreeMap<String, u64> {
        const READS: [&str; 3] = [
            "incydr POST /v1/oauth",
            "adp POST /auth/oauth/v2/token",
            "jira POST /rest/api/3/search/jql",
        ];
        self.sb()
            .counts()
            .routes
            .into_iter()
            .filter(|(k, _)| k.split(' ').nth(1).is_none_or(|m| m != "GET"))
            .filter(|(k, _)| !READS.contains(&k.as_str()))
            .collect()
    }
}

impl Drop for World {
    /// Delete the table, so a long test session does not pile tables up in the emulator.
    fn drop(&mut self) {
        let table = std::mem::take(&mut self.table);
        if table.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let config = riskflow::testing::aws_test_config().await;
                let _ = aws_sdk_dynamodb::Client::new(&config)
                    .delete_table()
                    .table_name(&table)
                    .send()
                    .await;
            });
        })
        .join();
    }
}

/// A session seed: one alert (unless `with_alert` is false), high severity, state OPEN.
pub fn session_seed(
    id: &str,
    actor_id: &str,
    email: &str,
    begin_ms: i64,
    with_alert: bool,
) -> SessionSeed {
    let alerts = if with_alert {
        vec![TriggeredAlert {
            alert_id: format!("alert-{id}"),
            rule_id: "rule-exfil".into(),
            rule_name: Some("File exfiltration".into()),
            lesson_id: None,
        }]
    } else {
        Vec::new()
    };
    SessionSeed {
        session: Session {
            session_id: id.into(),
            actor_id: actor_id.into(),
            actor_name: Some(email.into()),
            begin_time: begin_ms,
            end_time: begin_ms + 60_000,
            last_updated: begin_ms + 60_000,
            high_events: 3,
            scores: vec![Score {
                score: 30,
                severity: 3,
                source_timestamp: begin_ms,
            }],
            triggered_alerts: alerts,
            exfiltration_summary: Some("files uploaded to personal cloud storage".into()),
            ..Session::default()
        },
        events: Vec::new(),
    }
}

/// The dedup label / correlation id of a flow's ticket for a session.
pub fn dedup_label(flow: Flow, session_id: &str) -> String {
    riskflow::flows::tickets::dedup_key(flow, session_id)
}

/// A run's counter (0 when absent).
pub fn count(rec: &RunRecord, name: &str) -> u64 {
    rec.counts.get(name).copied().unwrap_or(0)
}

/// The sum of a counter over runs.
pub fn total(runs: &[RunRecord], name: &str) -> u64 {
    runs.iter().map(|r| count(r, name)).sum()
}

// ---------------------------------------------------------------------------------------------
// Generic HR webhook deliveries

/// Headers of a generic (Standard Webhooks) delivery signed with [`GENERIC_SECRET`].
pub fn signed_headers(id: &str, timestamp_secs: i64, body: &[u8]) -> http::HeaderMap {
    signed_headers_with(GENERIC_SECRET, id, timestamp_secs, body)
}

/// [`signed_headers`] with another signing secret.
pub fn signed_headers_with(
    secret: &str,
    id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> http::HeaderMap {
    let secret = secrecy::SecretString::from(secret.to_string());
    let sig = riskflow::connectors::generic::sign(id, timestamp_secs, body, &secret)
        .expect("the test secret signs");
    let mut h = http::HeaderMap::new();
    h.insert("webhook-id", id.parse().expect("header"));
    h.insert(
        "webhook-timestamp",
        timestamp_secs.to_string().parse().expect("header"),
    );
    h.insert("webhook-signature", sig.parse().expect("header"));
    h.insert("content-type", "application/json".parse().expect("header"));
    h
}

/// Now in epoch seconds.
pub fn now_secs() -> i64 {
    riskflow::clock::now_ms() / 1000
}

/// A date `days` from today, `YYYY-MM-DD`.
pub fn date_in_days(days: i64) -> String {
    riskflow::clock::date_of_ms(riskflow::clock::now_ms() + days * 86_400_000).to_string()
}

// ---------------------------------------------------------------------------------------------
// The helper process

/// Environment variables the `flow_worker` helper binary reads.
pub mod worker_env {
    pub const TABLE: &str = "RISKFLOW_E2E_TABLE";
    pub const SECRETS_DIR: &str = "RISKFLOW_E2E_SECRETS_DIR";
    pub const FLOW: &str = "RISKFLOW_E2E_FLOW";
    pub const CLOCK_OFFSET_MS: &str = "RISKFLOW_E2E_CLOCK_OFFSET_MS";
    pub const ITEM_LEASE_MS: &str = "RISKFLOW_E2E_ITEM_LEASE_MS";
    pub const LOCK_TTL_MS: &str = "RISKFLOW_E2E_LOCK_TTL_MS";
    /// The outbound request timeout (the chaos test's sandbox hangs longer than this).
    pub const HTTP_TIMEOUT_MS: &str = "RISKFLOW_E2E_HTTP_TIMEOUT_MS";
}

/// Start a `flow_worker` process (`bin`: the test's `env!("CARGO_BIN_EXE_flow_worker")`) over
/// `w`'s table and secrets file, running `flow` with its clock `clock_offset_ms` ahead, plus
/// any `extra` worker variables. Killed when dropped.
pub fn spawn_worker(
    bin: &str,
    w: &World,
    flow: Flow,
    clock_offset_ms: i64,
    extra: &[(&str, String)],
) -> tokio::process::Child {
    let dir = w.secrets_dir.as_ref().expect("a secrets file");
    let t = test_timing();
    tokio::process::Command::new(bin)
        .env(worker_env::TABLE, &w.table)
        .env(worker_env::SECRETS_DIR, dir.path())
        .env(worker_env::FLOW, flow.as_str())
        .env(worker_env::CLOCK_OFFSET_MS, clock_offset_ms.to_string())
        .env(worker_env::ITEM_LEASE_MS, t.item_lease_ms.to_string())
        .env(worker_env::LOCK_TTL_MS, t.lock_ttl_ms.to_string())
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the helper process starts")
}

/// Wait for a worker to end and read its run record (it must exit cleanly).
pub async fn worker_record(child: tokio::process::Child) -> RunRecord {
    let out = child
        .wait_with_output()
        .await
        .expect("the helper process ends");
    assert!(
        out.status.success(),
        "the helper process failed: {:?}",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a run record ({e}): {text}"))
}

/// Two [`spawn_worker`] processes at once over the same clock offset; at most one of them may
/// skip for the flow lock. Returns both run records.
pub async fn worker_pair(
    bin: &str,
    w: &World,
    flow: Flow,
    clock_offset_ms: i64,
    extra: &[(&str, String)],
) -> (RunRecord, RunRecord) {
    let a = spawn_worker(bin, w, flow, clock_offset_ms, extra);
    let b = spawn_worker(bin, w, flow, clock_offset_ms, extra);
    let (ra, rb) = tokio::join!(worker_record(a), worker_record(b));
    assert!(
        [&ra, &rb]
            .iter()
            .filter(|r| skipped_for_the_lock(r))
            .count()
            <= 1,
        "{ra:#?} {rb:#?}"
    );
    (ra, rb)
}

/// Whether a run succeeded and found nothing left to do: no error, no ticket created, nothing
/// waiting for Jira's search or deferred to the next run.
pub fn found_nothing_to_do(r: &RunRecord) -> bool {
    r.status == RunStatus::Succeeded
        && r.errors.is_empty()
        && count(r, "tickets_created") == 0
        && count(r, "waiting_for_search") == 0
        && count(r, "deferred_to_next_run") == 0
}

/// Whether a run skipped because another held the flow lock.
pub fn skipped_for_the_lock(r: &RunRecord) -> bool {
    r.status == RunStatus::Skipped && r.message.as_deref().is_some_and(|m| m.contains("lock"))
}

/// Build the [`App`] of a helper process: the same table, the same secrets file, the given
/// clock offset and timing, private URLs allowed (the sandbox is on loopback).
pub async fn worker_env_from_environment() -> App {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let int = |k: &str, d: i64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let store = riskflow::testing::dynamo_store_for_table(&var(worker_env::TABLE)).await;
    let secrets =
        FileSecretStore::open(var(worker_env::SECRETS_DIR)).expect("the secrets file opens");
    let mut env = App::new(store, Arc::new(secrets), SECRET_PREFIX.into(), true);
    let clock = TestClock::real();
    clock.advance(int(worker_env::CLOCK_OFFSET_MS, 0));
    env.clock = clock.as_clock();
    let d = test_timing();
    env.timing = Timing {
        item_lease_ms: int(worker_env::ITEM_LEASE_MS, d.item_lease_ms),
        skew_margin_ms: d.skew_margin_ms,
        lock_ttl_ms: int(worker_env::LOCK_TTL_MS, d.lock_ttl_ms),
    };
    let timeout = int(worker_env::HTTP_TIMEOUT_MS, 0);
    if timeout > 0 {
        env.http_timeout = Duration::from_millis(timeout as u64);
    }
    env
}
