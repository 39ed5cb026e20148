//! Fault injection, rate limiting and request counts.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use riskflow_sandbox::{
    FaultConfig, FaultKind, FaultRule, OKTA_DEPARTING_GROUP_ID, OKTA_DEPARTING_USER_ID, creds,
};
use serde_json::{Value, json};

use crate::common::{adf, client, demo, header};

fn new_issue(n: usize) -> Value {
    json!({"fields": {"project": {"key": "SEC"}, "issuetype": {"name": "Task"},
                      "summary": format!("issue {n}"), "description": adf("x")}})
}

async fn jira_create(
    c: &reqwest::Client,
    base: &str,
    n: usize,
) -> Result<StatusCode, reqwest::Error> {
    c.post(format!("{base}/rest/api/3/issue"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .json(&new_issue(n))
        .send()
        .await
        .map(|r| r.status())
}

#[tokio::test]
async fn an_error_rule_fires_for_matching_requests_up_to_max_hits() {
    let sb = demo().await;
    sb.state().add_fault(
        FaultRule::new(
            "jira",
            FaultKind::Error {
                status: 503,
                retry_after: Some(7),
            },
        )
        .method("POST")
        .path_prefix("/rest/api/3/issue")
        .max_hits(2),
    );
    let c = client();
    let base = sb.url("jira");
    let r = c
        .post(format!("{base}/rest/api/3/issue"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .json(&new_issue(0))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&r, "retry-after").as_deref(), Some("7"));
    let v: Value = r.json().await.unwrap();
    assert!(v["errorMessages"].is_array());
    assert_eq!(
        jira_create(&c, &base, 1).await.unwrap(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        jira_create(&c, &base, 2).await.unwrap(),
        StatusCode::CREATED
    );
    // Other routes of the system are untouched.
    let me = c
        .get(format!("{base}/rest/api/3/myself"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(sb.state().fault_hits(), vec![2]);
    assert_eq!(sb.state().jira_issues().len(), 1);
}

async fn run_sequence(sb: &riskflow_sandbox::Sandbox, seed: u64) -> Vec<u16> {
    sb.state().set_faults(FaultConfig {
        seed,
        rules: vec![
            FaultRule::new(
                "servicenow",
                FaultKind::Error {
                    status: 500,
                    retry_after: None,
                },
            )
            .rate(0.5),
        ],
    });
    let c = client();
    let mut out = Vec::new();
    for _ in 0..40 {
        let r = c
            .get(format!(
                "{}/api/now/table/incident?sysparm_limit=1",
                sb.url("servicenow")
            ))
            .basic_auth(creds::SERVICENOW_USER, Some(creds::SERVICENOW_PASSWORD))
            .send()
            .await
            .unwrap();
        out.push(r.status().as_u16());
    }
    out
}

#[tokio::test]
async fn the_same_seed_reproduces_the_same_faults() {
    let sb = demo().await;
    let a = run_sequence(&sb, 42).await;
    let b = run_sequence(&sb, 42).await;
    let other = run_sequence(&sb, 43).await;
    assert_eq!(a, b);
    assert_ne!(a, other);
    let errors = a.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&errors), "{errors} of 40");
}

#[tokio::test]
async fn rate_limit_faults_send_retry_after_only_when_asked() {
    let sb = demo().await;
    let c = client();
    let url = format!("{}/rest/api/3/myself", sb.url("jira"));
    for (retry_after, expect) in [(Some(3), Some("3")), (None, None)] {
        sb.state().set_faults(FaultConfig {
            seed: 0,
            rules: vec![FaultRule::new("jira", FaultKind::RateLimit { retry_after })],
        });
        let r = c
            .get(&url)
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&r, "retry-after").as_deref(), expect);
        assert!(header(&r, "x-ratelimit-reset").is_some());
        assert_eq!(
            header(&r, "ratelimit-reason").as_deref(),
            Some("jira-burst-based")
        );
    }
    // Okta without Retry-After also drops X-Rate-Limit-Reset (the SDK crash case).
    sb.state().set_faults(FaultConfig {
        seed: 0,
        rules: vec![FaultRule::new(
            "okta",
            FaultKind::RateLimit { retry_after: None },
        )],
    });
    let r = c
        .get(format!("{}/api/v1/users/me", sb.url("okta")))
        .header("Authorization", format!("SSWS {}", creds::OKTA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&r, "x-rate-limit-reset").is_none());
    assert!(header(&r, "x-okta-request-id").is_some());
}

#[tokio::test]
async fn latency_rules_delay_answers() {
    let sb = demo().await;
    sb.state()
        .add_fault(FaultRule::new("workday", FaultKind::Latency { ms: 300 }));
    let c = client();
    let started = Instant::now();
    let r = c
        .get(format!(
            "{}/ccx/service/customreport2/t/o/r?format=json",
            sb.url("workday")
        ))
        .basic_auth(
            format!("{}@t", creds::WORKDAY_USER),
            Some(creds::WORKDAY_PASSWORD),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_dropped_connection_gives_the_client_a_transport_error() {
    let sb = demo().await;
    sb.state()
        .add_fault(FaultRule::new("bamboohr", FaultKind::Drop { after_ms: 0 }).max_hits(1));
    let c = client();
    let url = format!("{}/api/v1/employees/67890", sb.url("bamboohr"));
    let first = c
        .get(&url)
        .basic_auth(creds::BAMBOOHR_API_KEY, Some("x"))
        .send()
        .await;
    let err = first.expect_err("dropped");
    assert!(!err.is_status());
    let second = c
        .get(&url)
        .basic_auth(creds::BAMBOOHR_API_KEY, Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(sb.state().counts().status("bamboohr", "dropped"), 1);
}

#[tokio::test]
async fn a_timeout_rule_hangs_until_the_client_gives_up() {
    let sb = demo().await;
    sb.state()
        .add_fault(FaultRule::new("okta", FaultKind::Timeout { ms: 5_000 }));
    let c = client();
    let started = Instant::now();
    let r = c
        .get(format!("{}/api/v1/users/me", sb.url("okta")))
        .header("Authorization", format!("SSWS {}", creds::OKTA_API_TOKEN))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    let err = r.expect_err("timeout");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn stored_then_error_creates_the_issue_but_answers_500() {
    let sb = demo().await;
    sb.state()
        .add_fault(FaultRule::new("jira", FaultKind::StoredThenError { status: 500 }).max_hits(1));
    let c = client();
    let base = sb.url("jira");
    // Non-creating routes are not affected.
    let me = c
        .get(format!("{base}/rest/api/3/myself"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        jira_create(&c, &base, 0).await.unwrap(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(sb.state().jira_issues().len(), 1, "the issue was stored");
    assert_eq!(
        jira_create(&c, &base, 1).await.unwrap(),
        StatusCode::CREATED
    );
    assert_eq!(sb.state().jira_issues().len(), 2);
}

#[tokio::test]
async fn stored_then_drop_adds_the_okta_member_but_loses_the_answer() {
    let sb = demo().await;
    sb.state()
        .add_fault(FaultRule::new("okta", FaultKind::StoredThenDrop));
    let c = client();
    let r = c
        .put(format!(
            "{}/api/v1/groups/{OKTA_DEPARTING_GROUP_ID}/users/{OKTA_DEPARTING_USER_ID}",
            sb.url("okta")
        ))
        .header("Authorization", format!("SSWS {}", creds::OKTA_API_TOKEN))
        .send()
        .await;
    assert!(r.is_err());
    assert_eq!(
        sb.state().okta_group_member_ids(OKTA_DEPARTING_GROUP_ID),
        vec![OKTA_DEPARTING_USER_ID.to_string()]
    );
}

#[tokio::test]
async fn stored_then_error_applies_to_servicenow_and_incydr_creates() {
    let sb = demo().await;
    let h = sb.state();
    h.add_fault(FaultRule::new(
        "servicenow",
        FaultKind::StoredThenError { status: 500 },
    ));
    h.add_fault(FaultRule::new(
        "incydr",
        FaultKind::StoredThenError { status: 500 },
    ));
    let c = client();
    let r = c
        .post(format!("{}/api/now/table/incident", sb.url("servicenow")))
        .basic_auth(creds::SERVICENOW_USER, Some(creds::SERVICENOW_PASSWORD))
        .json(&json!({"short_description": "x", "correlation_id": "c1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "failure");
    assert_eq!(h.servicenow_incidents().len(), 1);
    let token = crate::common::incydr_token(&c, &sb.base_url()).await;
    let wid = h.watchlist_id("DEPARTING_EMPLOYEE").unwrap();
    let r = c
        .post(format!(
            "{}/v2/watchlists/{wid}/included-actors/add",
            sb.base_url()
        ))
        .bearer_auth(&token)
        .json(&json!({"actorIds": [riskflow_sandbox::DEPARTING_ACTOR_ID], "watchlistId": wid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(h.watchlist_actor_ids("DEPARTING_EMPLOYEE").len(), 1);
}

#[tokio::test]
async fn the_rate_limiter_answers_429_with_headers_and_can_change_mid_run() {
    let sb = demo().await;
    let h = sb.state();
    h.set_rate_limit("jira", Some(5.0));
    let c = client();
    let url = format!("{}/rest/api/3/myself", sb.url("jira"));
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..12 {
        let r = c
            .get(&url)
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS && limited.is_none() {
            limited = Some(r);
        }
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!((5..=9).contains(&ok), "{statuses:?}");
    let r = limited.unwrap();
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert!(header(&r, "x-ratelimit-reset").unwrap().ends_with('Z'));
    assert_eq!(
        header(&r, "ratelimit-reason").as_deref(),
        Some("jira-burst-based")
    );
    assert_eq!(h.counts().status("jira", "429"), (12 - ok) as u64);

    h.set_rate_limit("jira", Some(1000.0));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = c
        .get(&url)
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    h.set_rate_limit("jira", None);
    assert!(h.rate_limits().is_empty());

    h.set_rate_limit("servicenow", Some(2.0));
    let mut last = None;
    for _ in 0..4 {
        last = Some(
            c.get(format!(
                "{}/api/now/table/incident?sysparm_limit=1",
                sb.url("servicenow")
            ))
            .basic_auth(creds::SERVICENOW_USER, Some(creds::SERVICENOW_PASSWORD))
            .send()
            .await
            .unwrap(),
        );
    }
    let r = last.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(header(&r, "x-ratelimit-rule").is_some());
    assert!(header(&r, "retry-after").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "failure");
}

#[tokio::test]
async fn requests_are_counted_per_route_pattern() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    for n in 0..3 {
        jira_create(&c, &base, n).await.unwrap();
    }
    for key in ["SEC-1", "SEC-2"] {
        c.get(format!("{base}/rest/api/3/issue/{key}"))
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
            .send()
            .await
            .unwrap();
    }
    let counts: Value = c
        .get(format!("{}/_control/counts", sb.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["routes"]["jira POST /rest/api/3/issue"], 3);
    assert_eq!(counts["routes"]["jira GET /rest/api/3/issue/{key}"], 2);
    assert_eq!(counts["statuses"]["jira"]["201"], 3);
    c.delete(format!("{}/_control/counts", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(sb.state().counts().system_total("jira"), 0);
}

#[tokio::test]
async fn faults_can_be_set_over_http_as_a_list_or_with_a_seed() {
    let sb = demo().await;
    let c = client();
    let ctl = format!("{}/_control/faults", sb.base_url());
    let r = c
        .put(&ctl)
        .json(&json!([{"system": "workday", "kind": "error", "status": 502}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let wd = format!(
        "{}/ccx/service/customreport2/t/o/r?format=json",
        sb.url("workday")
    );
    let r = c
        .get(&wd)
        .basic_auth(
            format!("{}@t", creds::WORKDAY_USER),
            Some(creds::WORKDAY_PASSWORD),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    let r = c
        .put(&ctl)
        .json(&json!({"seed": 9, "rules": [{"system": "*", "path_prefix": "/nothing", "kind": "drop"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let got: Value = c.get(&ctl).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["seed"], 9);
    assert_eq!(got["rules"][0]["kind"], "drop");
    let bad = c
        .put(&ctl)
        .json(&json!([{"system": "jira", "kind": "explode"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    c.delete(&ctl).send().await.unwrap();
    let r = c
        .get(&wd)
        .basic_auth(
            format!("{}@t", creds::WORKDAY_USER),
            Some(creds::WORKDAY_PASSWORD),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let limits = c
        .put(format!("{}/_control/rate-limits", sb.base_url()))
        .json(&json!({"okta": 50, "jira": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(limits.status(), StatusCode::NO_CONTENT);
    assert_eq!(sb.state().rate_limits().get("okta"), Some(&50.0));
}
