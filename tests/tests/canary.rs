//! A canary secret through every flow and every route: the Incydr client secret, a refused Jira
//! token and the generic webhook's signing secret are canaries; the three flows run for real
//! against the sandbox, webhooks arrive (good, repeated, badly signed), every connections route
//! is called. The canaries may appear in the secrets file only: not in a log line, a response
//! body, a run record, an audit entry or any item of the DynamoDB table (moto).

use base64::Engine as _;
use riskflow::api::{ApiRequest, ApiResponse};
use riskflow::domain::{ConnectionKind, Flow};
use riskflow_e2e::{Options, Secrets, World, count, date_in_days, now_secs, signed_headers_with};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CANARY: &str = "canary-7d2e41";

fn assert_absent(what: &str, text: &str, needles: &[&str]) {
    for n in needles {
        if let Some(i) = text.find(n) {
            panic!(
                "a canary secret appears in {what}: …{}…",
                &text[i.saturating_sub(200)..(i + n.len() + 100).min(text.len())]
            );
        }
    }
}

async fn call(w: &World, method: http::Method, path: &str, body: Option<Value>) -> ApiResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    w.api
        .handle(ApiRequest {
            method,
            path: path.to_string(),
            query: Default::default(),
            headers,
            body: bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()),
            principal: "canary-test".into(),
        })
        .await
}

fn signed(secret: &str, id: &str, body: &[u8]) -> http::HeaderMap {
    signed_headers_with(secret, id, now_secs(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn canary_secrets_through_every_flow_and_route_appear_only_in_the_secret_store() {
    let log = riskflow::testing::log_capture::log();
    let w = World::start_with(Options {
        secrets: Secrets::File,
        ..Options::default()
    })
    .await;
    let webhook_secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CANARY}-signing-key-0001"))
    );
    let needles = [CANARY, webhook_secret.as_str()];
    // The sandbox accepts an Incydr API client whose secret is the canary.
    let sb = w.sb();
    sb.add_incydr_client("canary-client", CANARY);
    let people = w.seed_departing_people("canary", 2);
    let alerts = w.seed_alert_sessions("canary-alert", 3);
    w.seed_actor("actor-canary-leaver", "leaver@example.com");

    let mut bodies: Vec<String> = Vec::new();
    let mut keep = |r: &ApiResponse| bodies.push(r.body.to_string());

    // Connect: a refused Jira token, a validation error next to a secret, then every kind.
    let mut jira = w.default_connection(ConnectionKind::Jira);
    jira["api_token"] = json!(format!("{CANARY}-jira"));
    let r = call(&w, http::Method::PUT, "/connections/jira", Some(jira)).await;
    assert_eq!(r.status, http::StatusCode::BAD_REQUEST, "{}", r.body);
    keep(&r);
    let mut incydr = w.default_connection(ConnectionKind::Incydr);
    incydr["client_id"] = json!("canary-client");
    incydr["client_secret"] = json!(CANARY);
    incydr["write_back_note"] = json!(true);
    let mut bad = incydr.clone();
    bad["min_severity"] = json!(CANARY);
    let r = call(&w, http::Method::PUT, "/connections/incydr", Some(bad)).await;
    assert_eq!(r.status, http::StatusCode::BAD_REQUEST, "{}", r.body);
    keep(&r);
    let r = call(&w, http::Method::PUT, "/connections/incydr", Some(incydr)).await;
    assert!(r.status.is_success(), "{}", r.body);
    keep(&r);
    for kind in [ConnectionKind::Jira, ConnectionKind::Okta] {
        let r = call(
            &w,
            http::Method::PUT,
            &format!("/connections/{kind}"),
            Some(w.default_connection(kind)),
        )
        .await;
        assert!(r.status.is_success(), "{kind}: {}", r.body);
        keep(&r);
    }
    let r = call(
        &w,
        http::Method::PUT,
        "/connections/generic",
        Some(json!({"signing_secret": webhook_secret})),
    )
    .await;
    assert!(r.status.is_success(), "{}", r.body);
    keep(&r);

    // Every flow, for real.
    let alert = w.run(Flow::AlertTickets).await;
    assert!(count(&alert, "tickets_created") >= 3, "{alert:#?}");
    let departing = w.run(Flow::DepartingResponse).await;
    assert!(count(&departing, "okta_group_adds") >= 2, "{departing:#?}");
    // Webhooks: a departure, the same delivery again, one signed with another secret.
    let body =
        json!({"event_type": "departure", "email": "leaver@example.com", "departure_date": date_in_days(14)})
            .to_string()
            .into_bytes();
    for headers in [
        signed(&webhook_secret, "msg_canary_1", &body),
        signed(&webhook_secret, "msg_canary_1", &body),
        signed(
            "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==",
            "msg_canary_2",
            &body,
        ),
    ] {
        let accepted = w
            .env
            .webhook_receiver()
            .receive("generic", &headers, &body)
            .await;
        keep(&accepted.response);
        w.env
            .process_hr_items(
                &accepted.new_items,
                Instant::now() + Duration::from_secs(30),
            )
            .await;
    }
    assert_eq!(
        w.sb()
            .watchlist_actor_ids("DEPARTING_EMPLOYEE")
            .iter()
            .filter(|a| *a == "actor-canary-leaver")
            .count(),
        1
    );
    let hr = w.run(Flow::HrDepartures).await;
    keep(&ApiResponse::ok(serde_json::to_value(&hr).unwrap()));
    for rec in [&alert, &departing] {
        keep(&ApiResponse::ok(serde_json::to_value(rec).unwrap()));
    }

    // Every read route, every test route, then a disconnect.
    for path in [
        "/connections",
        "/connections/incydr",
        "/connections/jira",
        "/connections/okta",
        "/connections/generic",
        "/runs",
        "/audit",
        "/health",
    ] {
        let r = call(&w, http::Method::GET, path, None).await;
        keep(&r);
    }
    let r = call(&w, http::Method::POST, "/runs/alert-tickets", None).await;
    keep(&r);
    for kind in ["incydr", "jira", "okta", "generic"] {
        let r = call(
            &w,
            http::Method::POST,
            &format!("/connections/{kind}/test"),
            None,
        )
        .await;
        keep(&r);
    }
    let audit = call(&w, http::Method::GET, "/audit", None).await;
    assert!(
        audit.body["entries"]
            .as_array()
            .is_some_and(|e| e.len() >= 8),
        "the audit trail has entries: {}",
        audit.body
    );
    keep(&audit);

    // The secrets file holds the canaries (so the checks below could find them).
    let dir = w.secrets_dir.as_ref().unwrap().path().to_path_buf();
    let stored: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(stored.contains(CANARY) && stored.contains(&webhook_secret));

    // Nothing else does: responses, the whole table, the log.
    for b in &bodies {
        assert_absent("a response body", b, &needles);
    }
    let client = aws_sdk_dynamodb::Client::new(&riskflow::testing::aws_test_config().await);
    let mut items = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(&w.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("the table scans");
        for item in page.items() {
            items += 1;
            assert_absent("a DynamoDB item", &format!("{item:?}"), &needles);
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert!(items > 20, "the table was scanned ({items} items)");
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("action=create_ticket") && log.contains("action=okta_group_add"),
        "the flows' log lines were captured"
    );
    assert_absent("the log", &log, &needles);

    // Disconnecting removes the secret; the entries stay.
    let r = call(&w, http::Method::DELETE, "/connections/generic", None).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert_absent("a response body", &r.body.to_string(), &needles);
    let stored: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(!stored.contains(&webhook_secret));
    let _ = (people, alerts);
}
