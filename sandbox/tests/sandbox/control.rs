//! The `/_control` API: reset, seed, state, config.

use reqwest::StatusCode;
use riskflow_sandbox::{CreatedState, Sandbox, SandboxConfig, creds};
use serde_json::{Value, json};

use crate::common::{client, incydr_token};

#[tokio::test]
async fn seeding_over_http_then_reading_state_shows_created_objects() {
    let sb = Sandbox::start(0).await.unwrap();
    let c = client();
    let ctl = format!("{}/_control", sb.base_url());
    let seed = json!({
        "actors": [{"actorId": "a1", "name": "x@example.com", "active": true}],
        "sessions": [{"sessionId": "s1", "actorId": "a1",
                      "triggeredAlerts": [{"ruleId": "r1", "ruleName": "Rule one"}],
                      "events": [{"@timestamp": "2026-01-01T00:00:00.000Z", "file": {"url": null}}]}],
        "watchlists": [{"listType": "DEPARTING_EMPLOYEE"}],
        "okta_users": [{"id": "00ux", "login": "x@example.com"}],
        "okta_groups": [{"id": "00gx", "name": "G"}],
        "okta_memberships": [{"groupId": "00gx", "user": "x@example.com"}],
        "servicenow": {"sys_user": [{"email": "x@example.com", "user_name": "x"}]},
        "adp_messages": ["garbage", {"events": []}],
        "workday_rows": [{"Employee_ID": "1"}]
    });
    let r = c
        .post(format!("{ctl}/seed"))
        .json(&seed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let h = sb.state();
    let s = h.session("s1").unwrap();
    assert_eq!(s.actor_name.as_deref(), Some("x@example.com"));
    assert_eq!(s.current_state(), "OPEN");
    assert!(!s.triggered_alerts[0].alert_id.is_empty());
    assert_eq!(h.adp_queue().len(), 2);
    assert_eq!(h.okta_group_member_ids("00gx"), vec!["00ux".to_string()]);

    let token = incydr_token(&c, &sb.base_url()).await;
    let wid = h.watchlist_id("DEPARTING_EMPLOYEE").unwrap();
    c.post(format!(
        "{}/v2/watchlists/{wid}/included-actors/add",
        sb.base_url()
    ))
    .bearer_auth(&token)
    .json(&json!({"actorIds": ["a1"], "watchlistId": wid}))
    .send()
    .await
    .unwrap();
    let state: CreatedState = c
        .get(format!("{ctl}/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state.watchlist_members.len(), 1);
    assert_eq!(state.watchlist_members[0].actor_name, "x@example.com");
    assert_eq!(state.adp_queue_len, 2);
    assert_eq!(state.incydr_session_states[0].state, "OPEN");

    let r = c.post(format!("{ctl}/reset")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(h.session("s1").is_none());
    let bad = c
        .post(format!("{ctl}/seed"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn seed_demo_over_http_can_leave_out_the_departing_watchlist() {
    let sb = Sandbox::start(0).await.unwrap();
    let c = client();
    let r = c
        .post(format!("{}/_control/seed-demo", sb.base_url()))
        .json(&json!({"departing_watchlist": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(sb.state().watchlist_id("DEPARTING_EMPLOYEE").is_none());
    assert_eq!(sb.state().sessions().len(), 6);
}

#[tokio::test]
async fn config_changes_are_partial_and_adp_messages_can_be_raw_text() {
    let sb = Sandbox::start(0).await.unwrap();
    let c = client();
    let ctl = format!("{}/_control", sb.base_url());
    let cfg: SandboxConfig = c
        .put(format!("{ctl}/config"))
        .json(&json!({"jira_search_lag_ms": 1500}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg.jira_search_lag_ms, 1500);
    assert_eq!(cfg.incydr_token_ttl_secs, 900);
    assert_eq!(cfg.incydr_clients[0].key, creds::INCYDR_CLIENT_ID);
    let v: Value = c
        .post(format!("{ctl}/adp/messages"))
        .body("<<not json>>")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["msgId"].is_string());
    assert_eq!(sb.state().adp_queue().len(), 1);
    let expire = c
        .post(format!("{ctl}/incydr/expire-tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(expire.status(), StatusCode::NO_CONTENT);
    let health: Value = c
        .get(format!("{ctl}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["ok"], true);
    let certs = c.get(format!("{ctl}/adp/certs")).send().await.unwrap();
    assert_eq!(certs.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_shut_down_sandbox_stops_answering() {
    let sb = Sandbox::start(0).await.unwrap();
    let url = format!("{}/_control/health", sb.base_url());
    let c = client();
    assert_eq!(c.get(&url).send().await.unwrap().status(), StatusCode::OK);
    sb.shutdown().await;
    assert!(c.get(&url).send().await.is_err());
}
