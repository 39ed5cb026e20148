//! The connections API routes through `ConnectionsApi::handle`, over the in-memory state store
//! and secret store, verifying live against the sandbox: every route, bad input, the URL rules,
//! and a canary secret that must never leave the secret store (responses, state, audit, logs).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use riskflow::api::connections::{ConnectionsApi, RunStarter};
use riskflow::api::{ApiRequest, ApiResponse, MAX_BODY};
use riskflow::app::App;
use riskflow::domain::{AuditEntry, ConnectionKind, Flow, RunRecord, RunStatus};
use riskflow::secrets::SecretStore;
use riskflow::secrets::memory::MemorySecretStore;
use riskflow::store::Store;
use riskflow::testing::TempDir;
use riskflow_sandbox::{FaultKind, FaultRule, Sandbox, creds};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ----- fixtures -----

/// Records the runs it was asked to start; refuses departing-response (to show the 502).
#[derive(Default)]
struct FakeRunner {
    started: Mutex<Vec<(Flow, bool)>>,
}

#[async_trait::async_trait]
impl RunStarter for FakeRunner {
    async fn start(&self, flow: Flow, dry_run: bool) -> Result<String, String> {
        if flow == Flow::DepartingResponse {
            return Err("the runner could not start departing-response".into());
        }
        self.started.lock().unwrap().push((flow, dry_run));
        Ok(format!("{flow} started"))
    }
}

struct Fixture {
    api: ConnectionsApi,
    env: App,
    secrets: Arc<MemorySecretStore>,
    runner: Arc<FakeRunner>,
    sandbox: Sandbox,
}

async fn fixture_with(allow_private_urls: bool) -> Fixture {
    let sandbox = Sandbox::start(0).await.expect("sandbox starts");
    let secrets = Arc::new(MemorySecretStore::new());
    let env = App::new(
        Store::in_memory(),
        secrets.clone(),
        "riskflow/".into(),
        allow_private_urls,
    );
    let runner = Arc::new(FakeRunner::default());
    Fixture {
        api: env.connections_api(runner.clone()),
        env,
        secrets,
        runner,
        sandbox,
    }
}

async fn fixture() -> Fixture {
    fixture_with(true).await
}

impl Fixture {
    /// Change a stored connection as an older version or an operator left it (no API call),
    /// with a history entry saying so.
    async fn edit_connection(
        &self,
        kind: ConnectionKind,
        by: &str,
        message: &str,
        edit: impl FnOnce(&mut riskflow::domain::ConnectionRecord),
    ) {
        let now = riskflow::clock::now_ms();
        let mut rec = self.env.store.connection(kind, now).await.unwrap();
        edit(&mut rec);
        let hist = riskflow::domain::HistoryEntry {
            kind,
            at: now,
            status: rec.status,
            by: by.into(),
            message: message.into(),
        };
        self.env
            .store
            .save_connection(&rec, &hist, now)
            .await
            .unwrap();
    }
}

fn request(method: Method, path: &str, body: Option<Value>) -> ApiRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    ApiRequest {
        method,
        path: path.to_string(),
        query: BTreeMap::new(),
        headers,
        body: body.map(|b| Bytes::from(b.to_string())).unwrap_or_default(),
        principal: "local".into(),
    }
}

fn with_query(mut req: ApiRequest, q: &[(&str, &str)]) -> ApiRequest {
    req.query = q
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    req
}

fn raw_request(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> ApiRequest {
    let mut headers = HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
    }
    ApiRequest {
        method,
        path: path.to_string(),
        query: BTreeMap::new(),
        headers,
        body: Bytes::from(body),
        principal: "local".into(),
    }
}

impl Fixture {
    async fn call(&self, req: ApiRequest) -> ApiResponse {
        self.api.handle(req).await
    }

    async fn get(&self, path: &str) -> ApiResponse {
        self.call(request(Method::GET, path, None)).await
    }

    async fn put(&self, path: &str, body: Value) -> ApiResponse {
        self.call(request(Method::PUT, path, Some(body))).await
    }

    fn jira_body(&self) -> Value {
        json!({
            "url": self.sandbox.url("jira"),
            "email": creds::JIRA_EMAIL,
            "api_token": creds::JIRA_API_TOKEN,
            "project_key": "SEC",
        })
    }

    async fn connect_jira(&self) -> ApiResponse {
        let r = self.put("/connections/jira", self.jira_body()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r
    }

    async fn connection(&self, kind: &str) -> Value {
        let r = self.get(&format!("/connections/{kind}")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body
    }
}

/// Jira's 401, as the connect and test routes word it (the system's display name first).
const JIRA_401: &str = "Jira rejected the credentials (401)";

fn msg(r: &ApiResponse) -> &str {
    r.message().unwrap_or_default()
}

fn run_record(flow: Flow, started_at: i64, status: RunStatus) -> RunRecord {
    RunRecord {
        flow,
        id: riskflow::store::short_id(),
        started_at,
        finished_at: started_at + 1_500,
        status,
        dry_run: false,
        counts: BTreeMap::from([("sessions_scanned".to_string(), 3)]),
        errors: Vec::new(),
        message: Some(format!("{flow} at {started_at}")),
        plan: Vec::new(),
    }
}

// ----- every route -----

#[tokio::test]
async fn health_answers_ok() {
    let f = fixture().await;
    let r = f.get("/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "ok"}));
}

#[tokio::test]
async fn the_list_shows_every_kind_with_its_name_status_settings_fields_history_and_last_runs() {
    let f = fixture().await;
    f.connect_jira().await;
    let now = riskflow::clock::now_ms();
    f.env
        .store
        .put_run(&run_record(
            Flow::AlertTickets,
            now - 5_000,
            RunStatus::Succeeded,
        ))
        .await
        .unwrap();

    let r = f.get("/connections").await;
    assert_eq!(r.status, StatusCode::OK);
    let conns = r.body["connections"]
        .as_array()
        .expect("a connections array");
    let kinds: Vec<&str> = conns.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    let expected: Vec<&str> = ConnectionKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, expected, "every kind, in display order");
    for (c, k) in conns.iter().zip(ConnectionKind::ALL) {
        assert_eq!(c["display_name"], k.display_name());
        assert!(c["settings"].is_object(), "{k}: settings");
        assert!(c["history"].is_array(), "{k}: history");
        let fields = c["fields"].as_array().expect("fields");
        assert!(!fields.is_empty(), "{k}: a field schema");
        for fld in fields {
            for key in ["name", "label", "type", "secret", "required", "help"] {
                assert!(!fld[key].is_null(), "{k}: field {fld} lacks {key}");
            }
        }
        let expected_status = if k == ConnectionKind::Jira {
            "connected"
        } else {
            "never_connected"
        };
        assert_eq!(c["status"], expected_status, "{k}");
    }
    let jira = &conns[1];
    assert_eq!(jira["settings"]["url"], f.sandbox.url("jira"));
    assert_eq!(jira["settings"]["project_key"], "SEC");
    assert_eq!(
        jira["settings"]["issue_type"], "Task",
        "the default is applied"
    );
    assert!(
        jira["settings"].get("api_token").is_none(),
        "no secret in settings"
    );
    assert_eq!(jira["secret_set"], true);
    assert_eq!(jira["history"][0]["status"], "connected");
    assert_eq!(jira["history"][0]["by"], "local");
    let token_field = jira["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "api_token")
        .expect("the api_token field");
    assert_eq!(token_field["secret"], true);

    let last = &r.body["last_runs"]["alert-tickets"];
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["counts"]["sessions_scanned"], 3);
    assert_eq!(last["duration_ms"], 1_500);
    assert!(r.body["last_runs"].get("hr-departures").is_none());
}

#[tokio::test]
async fn the_last_run_of_every_flow_is_shown_however_often_another_flow_ran_since() {
    let f = fixture().await;
    let now = riskflow::clock::now_ms();
    let store = &f.env.store;
    store
        .put_run(&run_record(
            Flow::HrDepartures,
            now - 600_000,
            RunStatus::Partial,
        ))
        .await
        .unwrap();
    for i in 0..30 {
        store
            .put_run(&run_record(
                Flow::AlertTickets,
                now - 300_000 + i * 1_000,
                RunStatus::Succeeded,
            ))
            .await
            .unwrap();
    }
    let r = f.get("/connections").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["last_runs"]["hr-departures"]["status"], "partial");
    assert_eq!(
        r.body["last_runs"]["alert-tickets"]["started_at"],
        riskflow::clock::rfc3339_of_ms(now - 300_000 + 29_000)
    );
}

#[tokio::test]
async fn one_connection_is_shown_by_kind_and_never_connected_ones_too() {
    let f = fixture().await;
    let okta = f.connection("okta").await;
    assert_eq!(okta["kind"], "okta");
    assert_eq!(okta["display_name"], "Okta");
    assert_eq!(okta["status"], "never_connected");
    assert_eq!(okta["secret_set"], false);
    assert_eq!(okta["history"], json!([]));
    f.connect_jira().await;
    let jira = f.connection("jira").await;
    assert_eq!(jira["status"], "connected");
    assert!(jira["verified_at"].as_str().is_some());
}

#[tokio::test]
async fn good_jira_credentials_connect_and_say_as_whom() {
    let f = fixture().await;
    let r = f.connect_jira().await;
    assert!(
        msg(&r).starts_with("Connected to Jira as "),
        "message: {}",
        msg(&r)
    );
    assert_eq!(r.body["connection"]["status"], "connected");
    assert_eq!(r.body["connection"]["message"], msg(&r));
    // The flows can load it.
    let conn = f
        .env
        .load_optional(ConnectionKind::Jira)
        .await
        .unwrap()
        .expect("loaded");
    assert_eq!(conn.secrets["api_token"], creds::JIRA_API_TOKEN);
}

#[tokio::test]
async fn bad_jira_credentials_are_refused_with_the_answer_jira_gave() {
    let f = fixture().await;
    let mut body = f.jira_body();
    body["api_token"] = json!("not-the-token");
    let r = f.put("/connections/jira", body).await;
    assert!(r.status.is_client_error(), "{:?}", r);
    assert_eq!(msg(&r), JIRA_401);
    let jira = f.connection("jira").await;
    assert_eq!(jira["status"], "verify_failed");
    assert_eq!(jira["secret_set"], false, "nothing stored");
    assert_eq!(jira["history"][0]["status"], "verify_failed");
    assert_eq!(jira["history"][0]["message"], JIRA_401);
    assert!(f.secrets.get("riskflow/jira", None).await.is_err());
}

#[tokio::test]
async fn a_failed_reconnect_keeps_the_working_connection() {
    let f = fixture().await;
    f.connect_jira().await;
    let mut body = f.jira_body();
    body["api_token"] = json!("not-the-token");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(msg(&r), JIRA_401);
    let jira = f.connection("jira").await;
    assert_eq!(jira["status"], "connected");
    assert_eq!(jira["history"][0]["status"], "verify_failed");
    let conn = f
        .env
        .load_optional(ConnectionKind::Jira)
        .await
        .unwrap()
        .expect("still loads");
    assert_eq!(conn.secrets["api_token"], creds::JIRA_API_TOKEN);
}

#[tokio::test]
async fn validation_names_each_bad_field() {
    let f = fixture().await;
    let r = f
        .put(
            "/connections/jira",
            json!({
                "url": "ftp://jira.example.com",
                "email": "a@example.com\nBcc: b@example.com",
                "api_token": "t",
                "issue_type": ["Task"],
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let problems: Vec<&str> = r.body["problems"]
        .as_array()
        .expect("a problems list")
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(
        problems[0].starts_with("'url': URL not allowed"),
        "{problems:?}"
    );
    assert_eq!(problems[1], "'email' must be one line of text");
    assert_eq!(problems[2], "'project_key' is required (Project key)");
    assert_eq!(problems[3], "'issue_type' must be text");
    for p in &problems {
        assert!(msg(&r).contains(p), "the message repeats {p}");
    }
    let okta = f
        .put(
            "/connections/okta",
            json!({"url": f.sandbox.url("okta"), "api_token": "t", "group_id": "00g1",
                   "cap_per_run": "many", "protected_users": {"a": 1}}),
        )
        .await;
    assert_eq!(okta.status, StatusCode::BAD_REQUEST);
    assert!(msg(&okta).contains("'cap_per_run' must be a whole number"));
    assert!(msg(&okta).contains("'protected_users' must be a comma-separated list"));
    let inc = f
        .put(
            "/connections/incydr",
            json!({"url": f.sandbox.url("incydr"), "client_id": "k", "client_secret": "s",
                   "sink": "email", "write_back_note": "maybe"}),
        )
        .await;
    assert_eq!(inc.status, StatusCode::BAD_REQUEST);
    assert!(msg(&inc).contains("'sink' must be one of jira, servicenow, both"));
    assert!(msg(&inc).contains("'write_back_note' must be true or false"));
    assert_eq!(f.connection("jira").await["status"], "never_connected");
}

#[tokio::test]
async fn an_unknown_field_is_refused_naming_the_fields_there_are() {
    let f = fixture().await;
    let mut body = f.jira_body();
    body["colour"] = json!("red");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg(&r),
        "'colour' is not a field of Jira Cloud (expected: url, email, api_token, token_kind, project_key, issue_type, priority_map, gateway_url, search_lag_minutes, session_states)"
    );
}

#[tokio::test]
async fn a_missing_required_secret_is_refused() {
    let f = fixture().await;
    let mut body = f.jira_body();
    body.as_object_mut().unwrap().remove("api_token");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(msg(&r), "missing required field(s): api_token");
    let mut body = f.jira_body();
    body["api_token"] = json!("");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(
        msg(&r),
        "missing required field(s): api_token",
        "empty is missing"
    );
}

#[tokio::test]
async fn a_reconnect_to_the_same_host_may_leave_the_secret_out() {
    let f = fixture().await;
    f.connect_jira().await;
    let mut body = f.jira_body();
    body.as_object_mut().unwrap().remove("api_token");
    body["issue_type"] = json!("Bug");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let conn = f
        .env
        .load_optional(ConnectionKind::Jira)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.secrets["api_token"], creds::JIRA_API_TOKEN);
    assert_eq!(conn.settings["issue_type"], "Bug");
}

#[tokio::test]
async fn disconnect_deletes_the_secret_keeps_the_settings_and_records_history() {
    let f = fixture().await;
    f.connect_jira().await;
    let r = f
        .call(request(Method::DELETE, "/connections/jira", None))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        msg(&r).starts_with("Disconnected Jira Cloud"),
        "{}",
        msg(&r)
    );
    let jira = f.connection("jira").await;
    assert_eq!(jira["status"], "disconnected");
    assert_eq!(jira["settings"]["url"], f.sandbox.url("jira"));
    assert_eq!(jira["settings"]["project_key"], "SEC");
    assert_eq!(jira["secret_set"], false);
    let statuses: Vec<&str> = jira["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["disconnected", "connected"]);
    assert!(
        f.secrets.get("riskflow/jira", None).await.is_err(),
        "the secret is deleted"
    );
    assert!(
        f.env
            .load_optional(ConnectionKind::Jira)
            .await
            .unwrap()
            .is_none()
    );
    // A disconnected system cannot be tested, and a run that needs it is skipped.
    let t = f
        .call(request(Method::POST, "/connections/jira/test", None))
        .await;
    assert_eq!(t.status, StatusCode::CONFLICT);
    assert_eq!(msg(&t), "Jira Cloud is not connected");
}

#[tokio::test]
async fn disconnecting_a_system_never_connected_is_a_conflict() {
    let f = fixture().await;
    let r = f
        .call(request(Method::DELETE, "/connections/okta", None))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(msg(&r), "Okta was never connected");
}

#[tokio::test]
async fn connect_then_disconnect_then_connect_works_at_once() {
    let f = fixture().await;
    for round in 0..3 {
        f.connect_jira().await;
        assert_eq!(f.connection("jira").await["status"], "connected", "{round}");
        assert!(
            f.env
                .load_optional(ConnectionKind::Jira)
                .await
                .unwrap()
                .is_some()
        );
        let r = f
            .call(request(Method::DELETE, "/connections/jira", None))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{round}: {:?}", r.body);
        assert!(
            f.env
                .load_optional(ConnectionKind::Jira)
                .await
                .unwrap()
                .is_none()
        );
    }
    // Reconnecting after a disconnect needs the secret again: it was deleted.
    let mut body = f.jira_body();
    body.as_object_mut().unwrap().remove("api_token");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(msg(&r), "missing required field(s): api_token");
    f.connect_jira().await;
    assert_eq!(
        f.connection("jira").await["history"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}

#[tokio::test]
async fn a_verification_stores_what_creating_a_jira_issue_needs_and_each_test_reads_it_again() {
    let f = fixture().await;
    let r = f.connect_jira().await;
    let facts = &r.body["connection"]["facts"];
    assert_eq!(facts["project_key"], "SEC");
    assert_eq!(facts["issue_type"], json!({"id": "10001", "name": "Task"}));
    assert_eq!(
        facts["priorities"][4],
        json!({"id": "1", "name": "Highest"})
    );
    assert_eq!(f.connection("jira").await["facts"], *facts, "stored");

    // The project's scheme changes in Jira: the next test (the daily re-test too) reads it.
    f.sandbox
        .state()
        .add_jira_project(riskflow_sandbox::jira::JiraProject {
            issue_types: vec![riskflow_sandbox::jira::JiraIdName {
                id: "10300".into(),
                name: "Task".into(),
            }],
            priority_on_screen: false,
            ..riskflow_sandbox::jira::JiraProject::new("SEC", "Security", "10000")
        });
    let r = f
        .call(request(Method::POST, "/connections/jira/test", None))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let facts = &f.connection("jira").await["facts"];
    assert_eq!(facts["issue_type"], json!({"id": "10300", "name": "Task"}));
    assert_eq!(facts["priority_on_screen"], false);
}

#[tokio::test]
async fn a_test_verifies_the_stored_credentials_again_and_records_the_result() {
    let f = fixture().await;
    f.connect_jira().await;
    let r = f
        .call(request(Method::POST, "/connections/jira/test", None))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(msg(&r).starts_with("Connected to Jira as "));

    // Jira now refuses the token: the test says so and the connection shows it.
    f.sandbox.state().add_fault(FaultRule::new(
        "jira",
        FaultKind::Error {
            status: 401,
            retry_after: None,
        },
    ));
    let r = f
        .call(request(Method::POST, "/connections/jira/test", None))
        .await;
    assert!(r.status.is_client_error(), "{:?}", r);
    assert_eq!(msg(&r), JIRA_401);
    let jira = f.connection("jira").await;
    assert_eq!(jira["status"], "verify_failed");
    assert_eq!(jira["message"], JIRA_401);

    f.sandbox.state().clear_faults();
    let r = f
        .call(request(Method::POST, "/connections/jira/test", None))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let jira = f.connection("jira").await;
    assert_eq!(jira["status"], "connected");
    let statuses: Vec<&str> = jira["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["connected", "verify_failed", "connected", "connected"]
    );
}

#[tokio::test]
async fn a_transient_answer_to_a_test_keeps_a_connected_connection_connected() {
    let f = fixture().await;
    f.connect_jira().await;
    let before = f.connection("jira").await;
    for status in [503, 500, 429] {
        f.sandbox.state().add_fault(FaultRule::new(
            "jira",
            FaultKind::Error {
                status,
                retry_after: None,
            },
        ));
        let r = f
            .call(request(Method::POST, "/connections/jira/test", None))
            .await;
        f.sandbox.state().clear_faults();
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{status}: {:?}", r.body);
        let jira = f.connection("jira").await;
        assert_eq!(
            jira["status"], "connected",
            "one {status} is not a verdict on the credentials: {jira}"
        );
        assert_eq!(jira["message"], before["message"], "{jira}");
        assert_eq!(jira["history"][0]["status"], "verify_failed", "{jira}");
        assert!(
            jira["history"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&status.to_string())),
            "{jira}"
        );
    }
}

#[tokio::test]
async fn a_verification_that_outlasts_its_budget_is_answered_in_time_and_changes_nothing() {
    let mut f = fixture().await;
    f.connect_jira().await;
    // Jira hangs longer than the budget (API Gateway gives the function 29 s; the budget is
    // 20 s there, shortened here).
    f.api.verify_budget = Duration::from_millis(300);
    f.sandbox
        .state()
        .add_fault(FaultRule::new("jira", FaultKind::Latency { ms: 3_000 }));
    let started = Instant::now();
    let r = f
        .call(request(Method::POST, "/connections/jira/test", None))
        .await;
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{:?}", r.body);
    assert!(
        msg(&r).starts_with("Jira Cloud did not answer within"),
        "{}",
        msg(&r)
    );
    let jira = f.connection("jira").await;
    assert_eq!(
        jira["status"], "connected",
        "a timeout is not a verdict on the credentials"
    );
    assert_eq!(jira["history"][0]["status"], "verify_failed", "{jira}");
    let r = f.put("/connections/jira", f.jira_body()).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{:?}", r.body);
    assert_eq!(f.connection("jira").await["status"], "connected");
    f.sandbox.state().clear_faults();
}

#[tokio::test]
async fn failed_items_are_listed_and_retried_through_the_api() {
    let f = fixture().await;
    let store = f.env.store.clone();
    let now = riskflow::clock::now_ms();
    for key in ["sess-a", "sess-b"] {
        let riskflow::store::Claim::Acquired { lease, item } = store
            .claim_new(Flow::AlertTickets, key, 60_000, now, |_, _| {})
            .await
            .unwrap()
        else {
            panic!("claimed");
        };
        store
            .fail(
                &lease,
                &item,
                "Jira answered 400: the issue type selected is invalid",
                false,
                now,
            )
            .await
            .unwrap();
    }
    let r = f
        .call(with_query(
            request(Method::GET, "/items", None),
            &[("flow", "alert-tickets")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["key"], "sess-a");
    assert_eq!(items[0]["status"], "failed");
    assert_eq!(items[0]["attempts"], 1);
    assert!(
        items[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("issue type")
    );
    // Every flow when none is named; one page of one.
    let r = f
        .call(with_query(
            request(Method::GET, "/items", None),
            &[("limit", "1"), ("flow", "alert-tickets")],
        ))
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let cursor = r.body["next"].as_str().expect("a next cursor").to_string();
    let r = f
        .call(with_query(
            request(Method::GET, "/items", None),
            &[
                ("limit", "1"),
                ("flow", "alert-tickets"),
                ("cursor", &cursor),
            ],
        ))
        .await;
    assert_eq!(r.body["items"][0]["key"], "sess-b");
    let r = f.get("/items").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    let retry = |key: Value| {
        request(
            Method::POST,
            "/items/alert-tickets/retry",
            Some(json!({ "key": key })),
        )
    };
    let r = f.call(retry(json!("sess-a"))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(msg(&r).contains("pending again"));
    let r = f
        .call(with_query(
            request(Method::GET, "/items", None),
            &[("status", "pending")],
        ))
        .await;
    assert_eq!(r.body["items"][0]["key"], "sess-a");
    assert_eq!(r.body["items"][0]["attempts"], 0);
    // Retrying it again: it is no longer failed.
    let r = f.call(retry(json!("sess-a"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(msg(&r), "alert-tickets/sess-a is pending, not failed");

    // Bad input names the problem.
    let r = f.call(retry(json!("no-such"))).await;
    assert_eq!(
        (r.status, msg(&r)),
        (StatusCode::NOT_FOUND, "no work item alert-tickets/no-such")
    );
    let r = f.call(retry(json!(""))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = f
        .call(request(
            Method::POST,
            "/items/nope/retry",
            Some(json!({"key": "x"})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f
        .call(with_query(
            request(Method::GET, "/items", None),
            &[("status", "done")],
        ))
        .await;
    assert_eq!(
        (r.status, msg(&r)),
        (
            StatusCode::BAD_REQUEST,
            "'status' must be failed or pending, got 'done'"
        )
    );
    let r = f
        .call(with_query(
            request(Method::GET, "/items", None),
            &[("cursor", "x")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = f.call(request(Method::DELETE, "/items", None)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_webhook_is_verified_and_recorded_while_its_connection_failed_a_re_test() {
    use riskflow::domain::{ConnectionKind, ConnectionStatus};
    let f = fixture().await;
    let secret = "whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0";
    let r = f
        .put("/connections/generic", json!({"signing_secret": secret}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The last re-test failed (of this connection or, for BambooHR, of its API key): the
    // sender still signs with the same secret, so its deliveries are still taken.
    f.edit_connection(
        ConnectionKind::Generic,
        "schedule",
        "re-test failed",
        |rec| rec.status = ConnectionStatus::VerifyFailed,
    )
    .await;
    let rx = f.env.webhook_receiver();
    let body =
        br#"{"event_type":"departure","email":"a@example.com","departure_date":"2030-01-31"}"#;
    let ts = riskflow::clock::now_ms() / 1000;
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_static("msg_vf"));
    h.insert(
        "webhook-timestamp",
        HeaderValue::from_str(&ts.to_string()).unwrap(),
    );
    let key = secrecy::SecretString::from(secret.to_string());
    let sig = riskflow::connectors::generic::sign("msg_vf", ts, body, &key).unwrap();
    h.insert("webhook-signature", HeaderValue::from_str(&sig).unwrap());
    let a = rx.receive("generic", &h, body).await;
    assert_eq!(
        (a.response.status, a.rejected),
        (StatusCode::ACCEPTED, None),
        "{:?}",
        a.response.body
    );
    // A wrong signature is still refused.
    h.insert("webhook-id", HeaderValue::from_static("msg_vf2"));
    let a = rx.receive("generic", &h, body).await;
    assert_eq!(a.rejected, Some("bad_signature"));
    // Disconnected: no secret, nothing to verify with.
    let r = f
        .call(request(Method::DELETE, "/connections/generic", None))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let a = rx.receive("generic", &h, body).await;
    assert_eq!(a.rejected, Some("not_connected"));
}

#[tokio::test]
async fn a_weak_previous_signing_secret_is_refused_as_the_current_one_is_naming_the_field() {
    let f = fixture().await;
    let strong = "whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0";
    // 26 characters, but 15 bytes once decoded.
    let weak = "whsec_MDEyMzQ1Njc4OWFiY2Rl";
    for (body, field) in [
        (json!({"signing_secret": weak}), "signing_secret"),
        (
            json!({"signing_secret": strong, "previous_signing_secret": weak}),
            "previous_signing_secret",
        ),
    ] {
        let r = f.put("/connections/generic", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(
            msg(&r).starts_with(&format!("'{field}' is too weak")),
            "{}",
            msg(&r)
        );
        assert!(!msg(&r).contains(weak));
    }
    // BambooHR's previous webhook key too, before BambooHR is asked anything.
    let r = f
        .put(
            "/connections/bamboohr",
            json!({
                "url": format!("{}/api/gateway.php/demo", f.sandbox.url("bamboohr")),
                "api_key": creds::BAMBOOHR_API_KEY,
                "webhook_key": creds::BAMBOOHR_WEBHOOK_KEY,
                "previous_webhook_key": "old-key",
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(
        msg(&r).starts_with("'previous_webhook_key' is too weak"),
        "{}",
        msg(&r)
    );
    let r = f
        .put(
            "/connections/generic",
            json!({"signing_secret": strong, "previous_signing_secret": "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn refused_webhook_deliveries_are_counted_by_source_and_reason() {
    let f = fixture().await;
    let r = f
        .put(
            "/connections/generic",
            json!({"signing_secret": "whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut env = f.env.clone();
    env.metrics = riskflow::metrics::MetricsSink::memory("rf-prod");
    let rx = env.webhook_receiver();
    let body =
        br#"{"event_type":"departure","email":"a@example.com","departure_date":"2030-01-31"}"#;
    let ts = riskflow::clock::now_ms() / 1000;
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_static("msg_1"));
    h.insert(
        "webhook-timestamp",
        HeaderValue::from_str(&ts.to_string()).unwrap(),
    );
    // Signed with an old key.
    let old = secrecy::SecretString::from("whsec_b2xkLWtleS1ub3QtdXNlZC1hbnltb3Jl".to_string());
    let sig = riskflow::connectors::generic::sign("msg_1", ts, body, &old).unwrap();
    h.insert("webhook-signature", HeaderValue::from_str(&sig).unwrap());
    let a = rx.receive("generic", &h, body).await;
    assert_eq!(a.response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.rejected, Some("bad_signature"));
    let a = rx.receive("bamboohr", &h, body).await;
    assert_eq!(
        (a.response.status, a.rejected),
        (StatusCode::NOT_FOUND, Some("not_connected"))
    );
    let a = rx.receive("wp-admin", &h, body).await;
    assert_eq!(a.rejected, Some("unknown_source"));
    let lines = env.metrics.lines();
    let got: Vec<(String, String, i64)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["deployment"], "rf-prod");
            (
                l["source"].as_str().unwrap().to_string(),
                l["reason"].as_str().unwrap().to_string(),
                l["webhook_rejected"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("generic".into(), "bad_signature".into(), 1),
            ("bamboohr".into(), "not_connected".into(), 1),
            ("other".into(), "unknown_source".into(), 1)
        ]
    );
    // A good delivery is not counted.
    let good = secrecy::SecretString::from("whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0".to_string());
    let sig = riskflow::connectors::generic::sign("msg_1", ts, body, &good).unwrap();
    h.insert("webhook-signature", HeaderValue::from_str(&sig).unwrap());
    let a = rx.receive("generic", &h, body).await;
    assert_eq!(
        (a.response.status, a.rejected),
        (StatusCode::ACCEPTED, None)
    );
    assert_eq!(env.metrics.lines().len(), 3);
}

#[tokio::test]
async fn runs_are_listed_newest_first_by_flow_and_limit() {
    let f = fixture().await;
    let now = riskflow::clock::now_ms();
    for i in 0..3 {
        f.env
            .store
            .put_run(&run_record(
                Flow::AlertTickets,
                now - 60_000 + i * 1_000,
                RunStatus::Succeeded,
            ))
            .await
            .unwrap();
    }
    f.env
        .store
        .put_run(&run_record(
            Flow::HrDepartures,
            now - 1_000,
            RunStatus::Failed,
        ))
        .await
        .unwrap();

    let all = f.get("/runs").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body["runs"].as_array().unwrap().len(), 4);
    assert_eq!(all.body["runs"][0]["flow"], "hr-departures", "newest first");

    let r = f
        .call(with_query(
            request(Method::GET, "/runs", None),
            &[("flow", "alert-tickets"), ("limit", "2")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let runs = r.body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|x| x["flow"] == "alert-tickets"));
    assert_eq!(
        runs[0]["started_at"],
        riskflow::clock::rfc3339_of_ms(now - 58_000)
    );
    let next = r.body["next"].as_str().expect("a cursor to the rest");
    let rest = f
        .call(with_query(
            request(Method::GET, "/runs", None),
            &[("flow", "alert-tickets"), ("limit", "2"), ("cursor", next)],
        ))
        .await;
    assert_eq!(rest.body["runs"].as_array().unwrap().len(), 1);
    assert_eq!(
        rest.body["runs"][0]["started_at"],
        riskflow::clock::rfc3339_of_ms(now - 60_000)
    );

    for (q, want) in [
        (
            ("limit", "0"),
            "'limit' must be a number from 1 to 500, got '0'",
        ),
        (
            ("limit", "ten"),
            "'limit' must be a number from 1 to 500, got 'ten'",
        ),
    ] {
        let r = f
            .call(with_query(request(Method::GET, "/runs", None), &[q]))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(msg(&r), want);
    }
    let r = f
        .call(with_query(
            request(Method::GET, "/runs", None),
            &[("flow", "payroll")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(msg(&r).contains("payroll"), "{}", msg(&r));
}

#[tokio::test]
async fn starting_a_run_asks_the_run_starter() {
    let f = fixture().await;
    let r = f
        .call(request(
            Method::POST,
            "/runs/alert-tickets",
            Some(json!({"dry_run": true})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(msg(&r), "alert-tickets started");
    let r = f
        .call(request(Method::POST, "/runs/hr-departures", None))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        *f.runner.started.lock().unwrap(),
        [(Flow::AlertTickets, true), (Flow::HrDepartures, false)]
    );

    let r = f.call(request(Method::POST, "/runs/payroll", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f
        .call(request(
            Method::POST,
            "/runs/alert-tickets",
            Some(json!({"dry_run": "yes"})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(msg(&r), "'dry_run' must be true or false");
    let r = f
        .call(request(Method::POST, "/runs/departing-response", None))
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(msg(&r), "the runner could not start departing-response");
    assert_eq!(f.runner.started.lock().unwrap().len(), 2);
}

/// A Jira ticket created by alert-tickets at `at`, as the audit trail records it.
fn audit_entry(at: i64, target: &str) -> AuditEntry {
    AuditEntry {
        at,
        id: riskflow::store::short_id(),
        flow: Some(Flow::AlertTickets),
        system: ConnectionKind::Jira,
        action: "create_ticket".into(),
        target: target.into(),
        reason: "session s-1".into(),
        result: "ok".into(),
    }
}

#[tokio::test]
async fn the_audit_trail_is_listed_between_from_and_to() {
    let f = fixture().await;
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let entry = |ts: &str, target: &str| audit_entry(at(ts), target);
    let entries = vec![
        entry("2024-02-29T23:59:59Z", "before"),
        entry("2024-03-01T00:00:00Z", "first"),
        entry("2024-03-01T12:00:00Z", "second"),
        entry("2024-03-02T08:00:00Z", "third"),
        entry("2024-03-03T00:00:00Z", "after"),
    ];
    let hundred_years = 100 * 365 * 86_400_000;
    f.env
        .store
        .append_audit(&entries, hundred_years)
        .await
        .unwrap();

    let r = f
        .call(with_query(
            request(Method::GET, "/audit", None),
            &[("from", "2024-03-01"), ("to", "2024-03-03")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let targets: Vec<&str> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["first", "second", "third"]);
    let e = &r.body["entries"][0];
    assert_eq!(e["at"], "2024-03-01T00:00:00Z");
    assert_eq!(e["flow"], "alert-tickets");
    assert_eq!(e["system"], "jira");
    assert_eq!(e["action"], "create_ticket");
    assert_eq!(e["result"], "ok");

    // RFC 3339 and epoch milliseconds work too.
    let r = f
        .call(with_query(
            request(Method::GET, "/audit", None),
            &[
                ("from", "2024-03-01T06:00:00Z"),
                ("to", &at("2024-03-02T08:00:00Z").to_string()),
            ],
        ))
        .await;
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["entries"][0]["target"], "second");

    let r = f
        .call(with_query(
            request(Method::GET, "/audit", None),
            &[("from", "2024-03-02"), ("to", "2024-03-01")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(msg(&r), "'from' must be before 'to'");
    let r = f
        .call(with_query(
            request(Method::GET, "/audit", None),
            &[("from", "last tuesday")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(msg(&r).starts_with("'from' must be a date"));
}

#[tokio::test]
async fn a_long_audit_range_is_read_a_quarter_per_request_following_the_cursor() {
    let f = fixture().await;
    let day = 86_400_000_i64;
    let start = "2024-01-01T00:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond();
    let entry = |days: i64, target: &str| audit_entry(start + days * day + 3_600_000, target);
    let entries = vec![
        entry(0, "d0"),
        entry(50, "d50"),
        entry(91, "d91"),
        entry(92, "d92"),
        entry(200, "d200"),
        entry(201, "d201"),
        entry(299, "d299"),
    ];
    f.env
        .store
        .append_audit(&entries, 100 * 365 * day)
        .await
        .unwrap();
    let from = start.to_string();
    let to = (start + 300 * day).to_string();

    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        // One entry a page for the first three pages, then pages larger than any window.
        let limit = if pages.len() < 3 { "1" } else { "1000" };
        let mut q = vec![
            ("from", from.as_str()),
            ("to", to.as_str()),
            ("limit", limit),
        ];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let r = f
            .call(with_query(request(Method::GET, "/audit", None), &q))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        pages.push(
            r.body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["target"].as_str().unwrap().to_string())
                .collect(),
        );
        match r.body["next"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
        assert!(pages.len() < 20, "the cursor ends: {pages:?}");
    }
    // Every entry once, in order; a page reads 92 days from where the cursor stands, so with
    // room for 1000 entries the page from day 91 still stops before day 200.
    let flat: Vec<String> = pages.iter().flatten().cloned().collect();
    assert_eq!(
        flat,
        ["d0", "d50", "d91", "d92", "d200", "d201", "d299"],
        "{pages:?}"
    );
    assert_eq!(pages[0], ["d0"]);
    assert_eq!(pages[1], ["d50"]);
    assert_eq!(pages[2], ["d91"]);
    assert_eq!(
        pages[3],
        ["d92"],
        "day 92 is past the first window: {pages:?}"
    );
    assert_eq!(pages[4], ["d200", "d201"], "{pages:?}");
    assert_eq!(pages[5], ["d299"], "{pages:?}");
    assert_eq!(pages.len(), 6, "{pages:?}");

    // No page reads more than 92 days: a range with all its entries past day 92 answers an
    // empty first page and a cursor.
    let r = f
        .call(with_query(
            request(Method::GET, "/audit", None),
            &[("from", &(start + 93 * day).to_string()), ("to", &to)],
        ))
        .await;
    assert_eq!(r.body["entries"], json!([]), "{:?}", r.body);
    assert!(r.body["next"].is_string(), "{:?}", r.body);
}

#[tokio::test]
async fn extreme_audit_parameters_are_refused_naming_the_parameter() {
    let f = fixture().await;
    let max = i64::MAX.to_string();
    let min = i64::MIN.to_string();
    for (q, starts) in [
        (vec![("from", min.as_str())], "'from' must"),
        (vec![("from", "-86400000"), ("to", "1000")], "'from' must"),
        (vec![("from", "0"), ("to", max.as_str())], "'to' must"),
        (vec![("to", min.as_str())], "'to' must"),
        (vec![("limit", "-1")], "'limit' must"),
        (vec![("limit", "0")], "'limit' must"),
        (vec![("limit", "99999999999999999999999")], "'limit' must"),
        (vec![("cursor", "bm90IGEgY3Vyc29y")], "'cursor' is not"),
    ] {
        let r = f
            .call(with_query(request(Method::GET, "/audit", None), &q))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q:?}: {:?}", r.body);
        assert!(msg(&r).starts_with(starts), "{q:?}: {}", msg(&r));
    }
    // The widest range allowed is answered, a quarter at a time.
    let r = f
        .call(with_query(
            request(Method::GET, "/audit", None),
            &[("from", "0"), ("to", "9999-12-30"), ("limit", "1000")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["next"].is_string());
}

// ----- bad input -----

#[tokio::test]
async fn an_unknown_kind_is_not_found_on_every_connection_route() {
    let f = fixture().await;
    for (method, path) in [
        (Method::GET, "/connections/salesforce"),
        (Method::PUT, "/connections/salesforce"),
        (Method::DELETE, "/connections/salesforce"),
        (Method::POST, "/connections/salesforce/test"),
    ] {
        let body = (method == Method::PUT).then(|| json!({"url": "https://x.example"}));
        let r = f.call(request(method.clone(), path, body)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert!(
            msg(&r).contains("salesforce"),
            "{method} {path}: {}",
            msg(&r)
        );
    }
    let r = f.get("/nowhere").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f
        .call(request(Method::PATCH, "/connections/jira", None))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415() {
    let f = fixture().await;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = f
            .call(raw_request(
                Method::PUT,
                "/connections/jira",
                ct,
                f.jira_body().to_string().into_bytes(),
            ))
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert!(msg(&r).starts_with("send the body as application/json"));
    }
    assert_eq!(f.connection("jira").await["status"], "never_connected");
}

#[tokio::test]
async fn a_body_over_256_kib_is_refused_with_413() {
    let f = fixture().await;
    let mut body = f.jira_body();
    body["project_key"] = json!("S".repeat(MAX_BODY));
    let r = f
        .call(raw_request(
            Method::PUT,
            "/connections/jira",
            Some("application/json"),
            body.to_string().into_bytes(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(msg(&r), "the body is larger than 256 KiB");
}

#[tokio::test]
async fn malformed_json_is_refused_saying_where_it_broke() {
    let f = fixture().await;
    let r = f
        .call(raw_request(
            Method::PUT,
            "/connections/jira",
            Some("application/json"),
            b"{\n  \"url\": \"https://x.example\",\n  \"email\" \"a@b\"\n}".to_vec(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg(&r),
        "the body is not valid JSON: syntax error at line 3 column 11"
    );
    let r = f
        .call(raw_request(
            Method::PUT,
            "/connections/jira",
            Some("application/json"),
            b"[\"url\"]".to_vec(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(msg(&r), "the body must be a JSON object");
}

// ----- URL rules -----

#[tokio::test]
async fn an_http_url_is_refused_unless_private_urls_are_allowed() {
    let f = fixture_with(false).await;
    let r = f.put("/connections/jira", f.jira_body()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg(&r),
        "'url': URL not allowed: only https:// URLs are accepted"
    );
    assert_eq!(
        f.sandbox.state().counts().routes.values().sum::<u64>(),
        0,
        "nothing was sent"
    );
}

#[tokio::test]
async fn a_url_on_a_private_address_is_refused() {
    let f = fixture_with(false).await;
    for url in [
        "https://10.1.2.3",
        "https://169.254.169.254",
        "https://[::ffff:10.1.2.3]",
    ] {
        let r = f
            .put(
                "/connections/jira",
                json!({"url": url, "email": "a@example.com", "api_token": "t", "project_key": "SEC"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(
            msg(&r),
            "'url': URL not allowed: it resolves to a private address",
            "{url}"
        );
    }
    // A name that resolves to loopback is refused once resolved.
    let r = f
        .put(
            "/connections/jira",
            json!({"url": "https://localhost:9", "email": "a@example.com", "api_token": "t", "project_key": "SEC"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg(&r),
        "url: URL not allowed: it resolves to a private address"
    );
    // Credentials in a URL are refused too.
    let r = f
        .put(
            "/connections/jira",
            json!({"url": "https://u:p@jira.example.com", "email": "a@example.com", "api_token": "t", "project_key": "SEC"}),
        )
        .await;
    assert_eq!(
        msg(&r),
        "'url': URL not allowed: credentials in the URL are not accepted"
    );
    assert_eq!(f.connection("jira").await["status"], "never_connected");
}

#[tokio::test]
async fn okta_refuses_a_group_whose_members_cannot_be_changed() {
    let f = fixture().await;
    riskflow_sandbox::seed_demo(&f.sandbox.state());
    let body = |group: &str| json!({"url": f.sandbox.url("okta"), "api_token": creds::OKTA_API_TOKEN, "group_id": group});
    let r = f
        .put(
            "/connections/okta",
            body(riskflow_sandbox::OKTA_APP_GROUP_ID),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(
        msg(&r),
        format!(
            "Okta group {} is an APP_GROUP; its members can't be changed",
            riskflow_sandbox::OKTA_APP_GROUP_ID
        )
    );
    let mut protected = body(riskflow_sandbox::OKTA_DEPARTING_GROUP_ID);
    protected["protected_groups"] = json!(riskflow_sandbox::OKTA_DEPARTING_GROUP_ID);
    let r = f.put("/connections/okta", protected).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(msg(&r).contains("is listed as protected"), "{}", msg(&r));
    let r = f
        .put(
            "/connections/okta",
            body(riskflow_sandbox::OKTA_DEPARTING_GROUP_ID),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(msg(&r).starts_with("Connected to Okta as "));
}

#[tokio::test]
async fn moving_a_connection_to_another_host_needs_its_secret_again() {
    let f = fixture().await;
    f.connect_jira().await;
    // Same system, another host name (localhost instead of 127.0.0.1): the stored token must
    // not be sent there.
    let moved = f.sandbox.url("jira").replace("127.0.0.1", "localhost");
    let mut body = f.jira_body();
    body["url"] = json!(moved);
    body.as_object_mut().unwrap().remove("api_token");
    let before = f.sandbox.state().counts().routes.values().sum::<u64>();
    let r = f.put("/connections/jira", body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        msg(&r),
        "the connection moves to another host, so its secret is needed again: api_token"
    );
    assert_eq!(
        f.sandbox.state().counts().routes.values().sum::<u64>(),
        before,
        "nothing was sent"
    );
    let jira = f.connection("jira").await;
    assert_eq!(jira["settings"]["url"], f.sandbox.url("jira"), "unchanged");
    // Another port is another host too.
    let mut other_port = f.jira_body();
    other_port["url"] = json!(format!("http://127.0.0.1:{}/jira", f.sandbox.port() + 1));
    other_port.as_object_mut().unwrap().remove("api_token");
    let r = f.put("/connections/jira", other_port).await;
    assert!(
        msg(&r).starts_with("the connection moves to another host"),
        "{}",
        msg(&r)
    );
    // With the secret given again, it moves.
    body["api_token"] = json!(creds::JIRA_API_TOKEN);
    let r = f.put("/connections/jira", body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(f.connection("jira").await["settings"]["url"], moved);
}

#[tokio::test]
async fn a_url_setting_added_since_the_connection_was_stored_counts_as_moving_from_its_default() {
    let f = fixture().await;
    f.connect_jira().await;
    assert_eq!(
        f.connection("jira").await["settings"]["gateway_url"],
        "https://api.atlassian.com"
    );
    // Stored by a version without the Jira gateway setting.
    f.edit_connection(
        ConnectionKind::Jira,
        "test",
        "stored by an older version",
        |rec| {
            rec.settings.remove("gateway_url");
        },
    )
    .await;
    // Pointing the gateway elsewhere without the token again: the token must not go there.
    let mut body = f.jira_body();
    body.as_object_mut().unwrap().remove("api_token");
    body["gateway_url"] = json!(f.sandbox.url("jira"));
    let r = f.put("/connections/jira", body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(
        msg(&r),
        "the connection moves to another host, so its secret is needed again: api_token"
    );
    // Keeping Atlassian's gateway is no move.
    body["gateway_url"] = json!("https://api.atlassian.com");
    let r = f.put("/connections/jira", body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

// ----- the canary secret -----

const CANARY: &str = "canary-3c1f9b";

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "the canary secret appears in {what}: …{}…",
        text.find(CANARY)
            .map(|i| &text[i.saturating_sub(200)..(i + 100).min(text.len())])
            .unwrap_or("")
    );
}

#[tokio::test]
async fn a_secret_never_appears_in_responses_state_audit_or_logs() {
    let log = riskflow::testing::log_capture::log();
    tracing::info!(probe = "capture-works", "probe");
    assert!(
        log.lock().unwrap().contains("capture-works"),
        "the log is captured"
    );

    let dir = TempDir::new("riskflow-canary");
    let env = App::local(dir.path(), true).expect("a local env");
    let runner = Arc::new(FakeRunner::default());
    let api = env.connections_api(runner);
    let sandbox = Sandbox::start(0).await.unwrap();
    let sb = sandbox.state();
    riskflow_sandbox::seed_demo(&sb);
    // The sandbox accepts an Incydr API client whose secret is the canary.
    sb.add_incydr_client("canary-client", CANARY);

    let mut bodies: Vec<String> = Vec::new();
    let mut call = async |req: ApiRequest| {
        let r = api.handle(req).await;
        bodies.push(r.body.to_string());
        r
    };
    // A refused secret (Jira says 401), then a good one.
    let r = call(request(
        Method::PUT,
        "/connections/jira",
        Some(
            json!({"url": sandbox.url("jira"), "email": creds::JIRA_EMAIL,
                    "api_token": format!("{CANARY}-jira"), "project_key": "SEC"}),
        ),
    ))
    .await;
    assert_eq!(msg(&r), JIRA_401);
    let r = call(request(
        Method::PUT,
        "/connections/jira",
        Some(
            json!({"url": sandbox.url("jira"), "email": creds::JIRA_EMAIL,
                    "api_token": creds::JIRA_API_TOKEN, "project_key": "SEC"}),
        ),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A bad field next to the secret: the validation message must not echo it.
    let r = call(request(
        Method::PUT,
        "/connections/incydr",
        Some(
            json!({"url": sandbox.url("incydr"), "client_id": "canary-client",
                    "client_secret": CANARY, "min_severity": CANARY}),
        ),
    ))
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The canary as the Incydr client secret.
    let incydr = json!({"url": sandbox.url("incydr"), "client_id": "canary-client",
                        "client_secret": CANARY, "sink": "jira"});
    let r = call(request(
        Method::PUT,
        "/connections/incydr",
        Some(incydr.clone()),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut same_host = incydr.clone();
    same_host.as_object_mut().unwrap().remove("client_secret");
    same_host["lookback_days"] = json!(8);
    let r = call(request(Method::PUT, "/connections/incydr", Some(same_host))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the stored secret is reused: {:?}",
        r.body
    );
    let r = call(request(Method::POST, "/connections/incydr/test", None)).await;
    assert_eq!(r.status, StatusCode::OK);

    // Runs act with it: tickets are opened, the audit trail fills.
    let rec = env
        .run_flow(
            Flow::AlertTickets,
            false,
            Instant::now() + Duration::from_secs(600),
        )
        .await;
    assert!(
        rec.counts.get("tickets_created").copied().unwrap_or(0) > 0,
        "{rec:?}"
    );
    let dry = env
        .run_flow(
            Flow::HrDepartures,
            true,
            Instant::now() + Duration::from_secs(600),
        )
        .await;
    assert!(dry.errors.is_empty(), "{dry:?}");

    call(request(Method::GET, "/connections", None)).await;
    call(request(Method::GET, "/connections/incydr", None)).await;
    call(request(Method::GET, "/runs", None)).await;
    let audit = call(request(Method::GET, "/audit", None)).await;
    assert!(
        !audit.body["entries"].as_array().unwrap().is_empty(),
        "the audit trail has entries"
    );

    // The secret file holds it (so the scan below could find it) and nothing else does.
    let secret_file = std::fs::read(dir.path().join("secrets.json")).unwrap();
    assert!(
        String::from_utf8_lossy(&secret_file).contains(CANARY),
        "the secret is stored in secrets.json"
    );
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "secrets.json" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        assert_no_canary(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
    assert!(scanned > 0, "the state database was scanned");

    let r = call(request(Method::DELETE, "/connections/incydr", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let secret_file = std::fs::read(dir.path().join("secrets.json")).unwrap();
    assert_no_canary(
        "secrets.json after disconnect",
        &String::from_utf8_lossy(&secret_file),
    );

    for b in &bodies {
        assert_no_canary("a response body", b);
    }
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("riskflow::flows") && log.contains("action=create_ticket"),
        "the library's own log lines were captured"
    );
    assert_no_canary("the log", &log);
    sandbox.shutdown().await;
}

/// Answers every verification after `delay`, counting how many ran at once.
struct SlowVerifier {
    delay: Duration,
    running: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl riskflow::api::connections::Verifier for SlowVerifier {
    async fn verify(
        &self,
        kind: ConnectionKind,
        _settings: &serde_json::Map<String, Value>,
        _secrets: &serde_json::Map<String, Value>,
    ) -> Result<riskflow::api::connections::Verified, riskflow::api::connections::VerifyFailure>
    {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(self.delay).await;
        self.running.fetch_sub(1, SeqCst);
        Ok(format!("Connected to {kind}").into())
    }
}

/// Answers each kind's first verification as its system's 503 would be, and the next ones
/// with success.
#[derive(Default)]
struct FlakyVerifier {
    calls: std::sync::Mutex<Vec<ConnectionKind>>,
}

#[async_trait::async_trait]
impl riskflow::api::connections::Verifier for FlakyVerifier {
    async fn verify(
        &self,
        kind: ConnectionKind,
        _settings: &serde_json::Map<String, Value>,
        _secrets: &serde_json::Map<String, Value>,
    ) -> Result<riskflow::api::connections::Verified, riskflow::api::connections::VerifyFailure>
    {
        let first = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(kind);
            calls.iter().filter(|k| **k == kind).count() == 1
        };
        if first {
            return Err(riskflow::api::connections::VerifyFailure {
                status: StatusCode::BAD_GATEWAY,
                message: format!("{kind} answered 503"),
            });
        }
        Ok(format!("Connected to {kind}").into())
    }
}

/// Every kind stored as connected, with a secret, as a connect would leave it.
async fn all_connected(
    f: &Fixture,
    verifier: Arc<dyn riskflow::api::connections::Verifier>,
) -> ConnectionsApi {
    for kind in ConnectionKind::ALL {
        let name = format!("riskflow/{kind}");
        let version = f
            .secrets
            .put(&name, &secrecy::SecretString::from("{}".to_string()))
            .await
            .unwrap();
        f.edit_connection(kind, "test", "connected", |rec| {
            rec.status = riskflow::domain::ConnectionStatus::Connected;
            rec.secret_id = Some(name);
            rec.secret_version = Some(version);
        })
        .await;
    }
    let mut api = f.api.clone();
    api.verifier = verifier;
    api
}

#[tokio::test]
async fn the_daily_retest_asks_again_after_a_transient_answer_and_never_switches_a_flow_off() {
    let f = fixture().await;
    let flaky = Arc::new(FlakyVerifier::default());
    let api = all_connected(&f, flaky.clone()).await;
    let out = riskflow::lambda::retest_all(&api, Instant::now() + Duration::from_secs(30)).await;
    for (kind, r) in out.as_object().unwrap() {
        assert_eq!(r["status"], 200, "{kind}: {r}");
        let c = f.connection(kind).await;
        assert_eq!(c["status"], "connected", "{kind}: {c}");
        // Both attempts are in the history (within one millisecond here, in either order,
        // maybe in the same millisecond as the set-up's own entry).
        let mut statuses: Vec<&str> = c["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["by"] != "test")
            .take(2)
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        statuses.sort();
        assert_eq!(statuses, ["connected", "verify_failed"], "{kind}: {c}");
    }
    assert_eq!(
        flaky.calls.lock().unwrap().len(),
        2 * ConnectionKind::ALL.len()
    );
}

#[tokio::test]
async fn the_daily_retest_tests_every_connection_at_once_and_stops_at_the_invocation_deadline() {
    let f = fixture().await;
    let slow = Arc::new(SlowVerifier {
        delay: Duration::from_millis(400),
        running: Default::default(),
        most: Default::default(),
    });
    let api = all_connected(&f, slow.clone()).await;
    let started = Instant::now();
    let out = riskflow::lambda::retest_all(&api, Instant::now() + Duration::from_secs(30)).await;
    let took = started.elapsed();
    assert_eq!(
        out.as_object().unwrap().len(),
        ConnectionKind::ALL.len(),
        "{out}"
    );
    assert!(
        out.as_object()
            .unwrap()
            .values()
            .all(|r| r["status"] == 200),
        "{out}"
    );
    // One after another would take 8 × 400 ms.
    assert_eq!(
        slow.most.load(std::sync::atomic::Ordering::SeqCst),
        ConnectionKind::ALL.len()
    );
    assert!(took < Duration::from_millis(1_600), "{took:?}");

    // Verifications slower than what is left of the invocation: answered in time, each
    // reported as not finished, and every connection keeps its status.
    let stuck = Arc::new(SlowVerifier {
        delay: Duration::from_secs(10),
        running: Default::default(),
        most: Default::default(),
    });
    let api = all_connected(&f, stuck).await;
    let started = Instant::now();
    let out =
        riskflow::lambda::retest_all(&api, Instant::now() + Duration::from_millis(2_500)).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for (kind, r) in out.as_object().unwrap() {
        assert_eq!(r["status"], 504, "{kind}: {r}");
        assert_eq!(f.connection(kind).await["status"], "connected", "{kind}");
    }
}

/// A containment as departing-response records one.
fn containment(id: &str, login: &str, was_member: bool, now: i64) -> riskflow::domain::Containment {
    use riskflow::domain::{Closed, Containment, ContainmentStatus};
    Containment {
        id: id.into(),
        idp: ConnectionKind::Okta,
        group_id: "00g-restricted".into(),
        user_id: format!("00u-{id}"),
        login: login.into(),
        email: login.into(),
        was_member,
        sessions: vec![format!("session-{id}")],
        more_sessions: 0,
        contained_at: now,
        until: None,
        status: if was_member {
            ContainmentStatus::NotReversible
        } else {
            ContainmentStatus::Active
        },
        undo_request: None,
        undoing: None,
        last_error: None,
        closed: was_member.then(|| Closed {
            at: now,
            why: "session".into(),
            result: "nothing changed".into(),
        }),
        version: 0,
    }
}

#[tokio::test]
async fn containments_are_listed_and_an_undo_is_recorded_once_with_who_asked() {
    let f = fixture().await;
    let store = f.env.store.clone();
    let now = riskflow::clock::now_ms();
    for c in [
        containment("c0a1", "pat@example.com", false, now),
        containment("c0b2", "sam@example.com", true, now),
    ] {
        store.create_containment(&c, now).await.unwrap();
    }
    let r = f.get("/containments").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let open = r.body["containments"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{:?}", r.body);
    assert_eq!(open[0]["id"], "c0a1");
    assert_eq!(open[0]["status"], "active");
    let r = f
        .call(with_query(
            request(Method::GET, "/containments", None),
            &[("status", "closed")],
        ))
        .await;
    assert_eq!(
        r.body["containments"][0]["status"], "not_reversible",
        "{:?}",
        r.body
    );

    let undo = |id: &str, body: Option<Value>| {
        request(Method::POST, &format!("/containments/{id}/undo"), body)
    };
    let r = f
        .call(undo("c0a1", Some(json!({"note": "false positive"}))))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert!(
        msg(&r).contains("next departing-response run removes pat@example.com"),
        "{:?}",
        r.body
    );
    let stored = store.containment("c0a1", now).await.unwrap().unwrap();
    let asked = stored.undo_request.expect("recorded");
    assert_eq!(
        (asked.by.as_str(), asked.note.as_deref()),
        ("local", Some("false positive"))
    );
    // Asking again keeps the first request; the audit names who asked, once.
    let r = f.call(undo("c0a1", None)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let audit = store
        .list_audit(now - 1000, now + 60_000, 100, None, now + 1)
        .await
        .unwrap()
        .items;
    let requested: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "undo_requested")
        .collect();
    assert_eq!(requested.len(), 1, "{audit:?}");
    assert_eq!(requested[0].result, "recorded: by local: false positive");

    let r = f.call(undo("c0b2", None)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(msg(&r).contains("not reversible"), "{:?}", r.body);
    let r = f.call(undo("nosuch", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = f.call(undo("a%23b", None)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = f.call(undo("c0a1", Some(json!({"note": 7})))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = f
        .call(with_query(
            request(Method::GET, "/containments", None),
            &[("status", "gone")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let r = f
        .call(request(Method::DELETE, "/containments/c0a1/undo", None))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{:?}", r.body);
}
