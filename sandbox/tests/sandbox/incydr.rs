//! Incydr: auth, sessions, watchlists, actors, users, removed endpoints.

use base64::Engine as _;
use reqwest::StatusCode;
use riskflow_sandbox::{
    ConfigPatch, DEPARTING_ACTOR_ID, DEPARTING_EMAIL, DEPARTING_SESSION_ID, DemoOptions, Sandbox,
    creds, seed_demo_with,
};
use serde_json::{Value, json};

use crate::common::{client, demo, header, incydr_token};

#[tokio::test]
async fn oauth_returns_a_bearer_jwt_with_tenant_uid_that_expires_in_fifteen_minutes() {
    let sb = demo().await;
    let c = client();
    let resp = c
        .post(format!("{}/v1/oauth", sb.base_url()))
        .basic_auth(creds::INCYDR_CLIENT_ID, Some(creds::INCYDR_CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 900);
    let token = v["access_token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    assert!(claims["tenantUid"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
}

#[tokio::test]
async fn wrong_client_credentials_and_missing_tokens_get_401() {
    let sb = demo().await;
    let c = client();
    let resp = c
        .post(format!("{}/v1/oauth", sb.base_url()))
        .basic_auth("key-demo", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .get(format!("{}/v1/sessions", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = c
        .get(format!("{}/v1/sessions", sb.base_url()))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], 401);
}

#[tokio::test]
async fn expiring_all_tokens_forces_a_refresh_and_short_lifetimes_run_out() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let get = |t: String| {
        let c = c.clone();
        let url = format!("{base}/v1/sessions");
        async move { c.get(url).bearer_auth(t).send().await.unwrap().status() }
    };
    assert_eq!(get(token.clone()).await, StatusCode::OK);
    sb.state().expire_incydr_tokens();
    assert_eq!(get(token).await, StatusCode::UNAUTHORIZED);
    let fresh = incydr_token(&c, &base).await;
    assert_eq!(get(fresh).await, StatusCode::OK);

    sb.state().update_config(ConfigPatch {
        incydr_token_ttl_secs: Some(1),
        ..Default::default()
    });
    let short = incydr_token(&c, &base).await;
    assert_eq!(get(short.clone()).await, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(get(short).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_page_by_zero_based_number_with_a_short_then_empty_last_page() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("incydr");
    let token = incydr_token(&c, &base).await;
    let page = |n: u32| {
        let c = c.clone();
        let url = format!("{base}/v1/sessions?has_alerts=true&page_number={n}&page_size=4");
        let token = token.clone();
        async move {
            let v: Value = c
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v
        }
    };
    let p0 = page(0).await;
    assert_eq!(p0["items"].as_array().unwrap().len(), 4);
    assert_eq!(p0["totalCount"], 5);
    let p1 = page(1).await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 1);
    let p2 = page(2).await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 0);
    assert_eq!(p2["totalCount"], 5);
    let mut ids: Vec<String> = p0["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p1["items"].as_array().unwrap())
        .map(|s| s["sessionId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    // Default order is end_time descending.
    let ends: Vec<i64> = p0["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["endTime"].as_i64().unwrap())
        .collect();
    assert!(ends.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn bad_session_query_parameters_get_400() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    for q in [
        "page_size=51",
        "page_size=0",
        "page_number=-1",
        "has_alerts=True",
        "state=OPENED",
        "severity=7",
        "order_by=name",
        "on_or_after=yesterday",
    ] {
        let resp = c
            .get(format!("{base}/v1/sessions?{q}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{q}");
    }
}

#[tokio::test]
async fn a_session_carries_every_key_the_sdk_model_needs() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let resp = c
        .post(format!(
            "{base}/v1/sessions/{DEPARTING_SESSION_ID}/add-note"
        ))
        .bearer_auth(&token)
        .json(&json!({"noteContent": "ticket SEC-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = c
        .get(format!("{base}/v1/sessions/{DEPARTING_SESSION_ID}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Keys come in the reference order.
    assert!(text.starts_with(r#"{"sessionId":"#), "{text}");
    let s: Value = serde_json::from_str(&text).unwrap();
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
        assert!(s.get(k).is_some(), "missing {k}");
    }
    let note = &s["notes"][0];
    for k in ["id", "content", "sourceTimestamp", "userId"] {
        assert!(note.get(k).is_some(), "note misses {k}");
    }
    assert!(s["scores"][0].get("sourceTimestamp").is_some());
    let alert = &s["triggeredAlerts"][0];
    for k in ["alertId", "ruleId", "ruleName", "lessonId"] {
        assert!(alert.get(k).is_some(), "alert misses {k}");
    }
    let state = s["states"][0]["state"].as_str().unwrap();
    assert!(riskflow_sandbox::incydr::SESSION_STATES.contains(&state));
}

#[tokio::test]
async fn session_filters_select_by_state_severity_actor_rule_watchlist_and_time() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let count = |q: String| {
        let c = c.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            let v: Value = c
                .get(format!("{base}/v1/sessions?{q}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["totalCount"].as_u64().unwrap()
        }
    };
    assert_eq!(count("".into()).await, 6);
    assert_eq!(count("has_alerts=false".into()).await, 1);
    assert_eq!(count("state=OPEN&state=IN_PROGRESS".into()).await, 5);
    assert_eq!(count("severity=3".into()).await, 2);
    assert_eq!(count("severity=4&severity=1".into()).await, 2);
    assert_eq!(count(format!("actor_id={DEPARTING_ACTOR_ID}")).await, 1);
    assert_eq!(count("rule_id=rule-public-link".into()).await, 1);
    assert_eq!(count("risk_indicators=removable-media".into()).await, 1);
    assert_eq!(count("content_inspection_status=FOUND".into()).await, 3);
    let high_impact = "2d8ee8aa-2bb1-4a4b-8bf9-2e4353fd3b07";
    assert_eq!(count(format!("watchlist_id={high_impact}")).await, 1);
    let now = riskflow_sandbox_now_ms();
    let six_hours_ago = now - 6 * 3_600_000;
    assert_eq!(count(format!("on_or_after={six_hours_ago}")).await, 2);
    assert_eq!(count(format!("before={six_hours_ago}")).await, 4);
    let v: Value = c
        .get(format!(
            "{base}/v1/sessions?order_by=score&sort_direction=asc&page_size=50"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scores: Vec<i64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scores"][0]["score"].as_i64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
}

fn riskflow_sandbox_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn notes_are_validated_and_do_not_change_last_updated() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let before = sb
        .state()
        .session(DEPARTING_SESSION_ID)
        .unwrap()
        .last_updated;
    let long = "x".repeat(2001);
    let resp = c
        .post(format!(
            "{base}/v1/sessions/{DEPARTING_SESSION_ID}/add-note"
        ))
        .bearer_auth(&token)
        .json(&json!({"noteContent": long}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = c
        .post(format!("{base}/v1/sessions/nope/add-note"))
        .bearer_auth(&token)
        .json(&json!({"noteContent": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = c
        .post(format!(
            "{base}/v1/sessions/{DEPARTING_SESSION_ID}/add-note"
        ))
        .bearer_auth(&token)
        .json(&json!({"noteContent": "x".repeat(2000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let s = sb.state().session(DEPARTING_SESSION_ID).unwrap();
    assert_eq!(s.last_updated, before);
    assert_eq!(s.notes.len(), 1);
    assert_eq!(s.notes[0].user_id.as_deref(), Some(creds::INCYDR_CLIENT_ID));
    let snap = sb.state().snapshot();
    assert_eq!(snap.incydr_session_notes.len(), 1);
}

#[tokio::test]
async fn change_state_moves_the_current_state_and_rejects_bad_requests() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let post = |body: Value| {
        let c = c.clone();
        let token = token.clone();
        let url = format!("{base}/v1/sessions/change-state");
        async move {
            c.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        post(json!({"ids": [DEPARTING_SESSION_ID], "newState": "IN_PROGRESS"})).await,
        StatusCode::OK
    );
    assert_eq!(
        sb.state()
            .session(DEPARTING_SESSION_ID)
            .unwrap()
            .current_state(),
        "IN_PROGRESS"
    );
    let many: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    assert_eq!(
        post(json!({"ids": many, "newState": "CLOSED"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(json!({"ids": [DEPARTING_SESSION_ID], "newState": "DONE"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(json!({"ids": ["unknown"], "newState": "CLOSED"})).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn session_events_are_wrapped_in_query_result_with_file_url_keys() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let v: Value = c
        .get(format!("{base}/v1/sessions/{DEPARTING_SESSION_ID}/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let qr = &v["queryResult"];
    assert_eq!(qr["nextPgToken"], "");
    assert!(qr["problems"].is_null());
    assert_eq!(qr["totalCount"], 3);
    let ev = &qr["fileEvents"][0];
    assert!(ev["@timestamp"].is_string());
    assert!(ev["event"]["id"].is_string());
    assert_eq!(ev["user"]["email"], DEPARTING_EMAIL);
    assert!(ev["file"]["name"].is_string());
    assert!(ev["file"].as_object().unwrap().contains_key("url"));
    assert_eq!(ev["file"]["hash"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(ev["risk"]["severity"], "CRITICAL");
    let resp = c
        .get(format!("{base}/v1/sessions/unknown/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn touching_a_session_bumps_last_updated_and_sets_open_new_data() {
    let sb = demo().await;
    let c = client();
    let before = sb.state().session(DEPARTING_SESSION_ID).unwrap();
    let resp = c
        .post(format!(
            "{}/_control/incydr/sessions/{DEPARTING_SESSION_ID}/touch",
            sb.base_url()
        ))
        .json(&json!({"add_alert": {"ruleId": "rule-2", "ruleName": "Second rule"}, "severity": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let after = sb.state().session(DEPARTING_SESSION_ID).unwrap();
    assert!(after.last_updated > before.last_updated);
    assert_eq!(after.current_state(), "OPEN_NEW_DATA");
    assert_eq!(after.triggered_alerts.len(), 2);
    assert!(!after.triggered_alerts[1].alert_id.is_empty());
}

#[tokio::test]
async fn with_reordering_on_a_paged_scan_sees_duplicates_or_misses() {
    let sb = demo().await;
    sb.state().set_session_reorder(true);
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let mut seen = Vec::new();
    for n in 0..6 {
        let v: Value = c
            .get(format!("{base}/v1/sessions?page_number={n}&page_size=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for s in v["items"].as_array().unwrap() {
            seen.push(s["sessionId"].as_str().unwrap().to_string());
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert!(
        unique.len() < 6 || seen.len() != unique.len(),
        "a reordered scan should not see every session exactly once: {seen:?}"
    );
}

#[tokio::test]
async fn incydr_answers_both_at_the_root_and_under_its_prefix() {
    let sb = demo().await;
    let c = client();
    let token = incydr_token(&c, &sb.url("incydr")).await;
    for base in [sb.base_url(), sb.url("incydr")] {
        let resp = c
            .get(format!("{base}/v1/sessions/{DEPARTING_SESSION_ID}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{base}");
    }
    let counts = sb.state().counts();
    assert_eq!(
        counts.route("incydr", "GET", "/v1/sessions/{session_id}"),
        2
    );
}

#[tokio::test]
async fn removed_alert_and_v1_watchlist_endpoints_answer_404() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    for (m, p) in [
        ("POST", "/v1/alerts/query-alerts"),
        ("POST", "/v1/alerts/add-note"),
        ("GET", "/v1/watchlists"),
        ("POST", "/v1/watchlists/abc/included-users/add"),
    ] {
        let resp = c
            .request(m.parse().unwrap(), format!("{base}{p}"))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{p}");
    }
}

#[tokio::test]
async fn a_missing_departing_watchlist_can_be_created_once() {
    let sb = Sandbox::start(0).await.unwrap();
    seed_demo_with(
        &sb.state(),
        &DemoOptions {
            departing_watchlist: false,
        },
    );
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let v: Value = c
        .get(format!("{base}/v2/watchlists?page=1&pageSize=100"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !v["watchlists"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["listType"] == "DEPARTING_EMPLOYEE")
    );
    let body = json!({"description": null, "title": null, "watchlistType": "DEPARTING_EMPLOYEE"});
    let resp = c
        .post(format!("{base}/v2/watchlists"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(text.contains(r#""stats":{"includedDepartmentsCount":0,"includedDirectoryGroupsCount":0,"includedActorsCount":0"#), "{text}");
    let w: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(w["listType"], "DEPARTING_EMPLOYEE");
    assert!(w["title"].is_null());
    let again = c
        .post(format!("{base}/v2/watchlists"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let bad = c
        .post(format!("{base}/v2/watchlists"))
        .bearer_auth(&token)
        .json(&json!({"watchlistType": "LEAVERS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("Error converting value"));
    let custom = c
        .post(format!("{base}/v2/watchlists"))
        .bearer_auth(&token)
        .json(&json!({"watchlistType": "CUSTOM", "title": null, "description": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(custom.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn watchlist_members_can_be_added_re_added_looked_up_and_removed() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let wid = sb.state().watchlist_id("DEPARTING_EMPLOYEE").unwrap();
    let add = |ids: Value| {
        let c = c.clone();
        let token = token.clone();
        let url = format!("{base}/v2/watchlists/{wid}/included-actors/add");
        let wid = wid.clone();
        async move {
            c.post(url)
                .bearer_auth(token)
                .json(&json!({"actorIds": ids, "watchlistId": wid}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let member_status = || {
        let c = c.clone();
        let token = token.clone();
        let url = format!("{base}/v2/watchlists/{wid}/members/{DEPARTING_ACTOR_ID}");
        async move { c.get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(member_status().await, StatusCode::NOT_FOUND);
    assert_eq!(add(json!([DEPARTING_ACTOR_ID])).await, StatusCode::OK);
    assert_eq!(add(json!([DEPARTING_ACTOR_ID])).await, StatusCode::OK);
    assert_eq!(member_status().await, StatusCode::OK);
    let ids: Vec<String> = (0..101).map(|i| format!("a{i}")).collect();
    assert_eq!(add(json!(ids)).await, StatusCode::BAD_REQUEST);
    assert_eq!(add(json!(["no-such-actor"])).await, StatusCode::BAD_REQUEST);

    let one: Value = c
        .get(format!(
            "{base}/v2/watchlists/{wid}/included-actors/{DEPARTING_ACTOR_ID}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["actorId"], DEPARTING_ACTOR_ID);
    assert_eq!(one["actorname"], DEPARTING_EMAIL);
    assert!(one["addedTime"].as_str().unwrap().ends_with('Z'));
    let list: Value = c
        .get(format!(
            "{base}/v2/watchlists/{wid}/included-actors?page=1&page_size=100"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalCount"], 1);
    assert_eq!(list["includedActors"].as_array().unwrap().len(), 1);
    let members: Value = c
        .get(format!(
            "{base}/v2/watchlists/{wid}/members?page=1&pageSize=10"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        members["watchlistMembers"][0]["actorId"],
        DEPARTING_ACTOR_ID
    );
    let by_actor: Value = c
        .get(format!(
            "{base}/v2/watchlists?page=1&pageSize=100&actorId={DEPARTING_ACTOR_ID}"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_actor["totalCount"], 1);
    assert_eq!(by_actor["watchlists"][0]["listType"], "DEPARTING_EMPLOYEE");
    assert_eq!(by_actor["watchlists"][0]["stats"]["includedActorsCount"], 1);

    let resp = c
        .post(format!("{base}/v2/watchlists/{wid}/included-actors/delete"))
        .bearer_auth(&token)
        .json(&json!({"actorIds": [DEPARTING_ACTOR_ID], "watchlistId": wid}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(member_status().await, StatusCode::NOT_FOUND);
    let unknown = c
        .post(format!("{base}/v2/watchlists/nope/included-actors/add"))
        .bearer_auth(&token)
        .json(&json!({"actorIds": [DEPARTING_ACTOR_ID], "watchlistId": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn strict_mode_refuses_re_adds() {
    let sb = demo().await;
    sb.state().update_config(ConfigPatch {
        incydr_strict_readd: Some(true),
        ..Default::default()
    });
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let wid = sb.state().watchlist_id("DEPARTING_EMPLOYEE").unwrap();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(
            c.post(format!("{base}/v2/watchlists/{wid}/included-actors/add"))
                .bearer_auth(&token)
                .json(&json!({"actorIds": [DEPARTING_ACTOR_ID], "watchlistId": wid}))
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::CONFLICT]);
}

#[tokio::test]
async fn watchlists_page_from_one() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let page = |n: u32| {
        let c = c.clone();
        let token = token.clone();
        let url = format!("{base}/v2/watchlists?page={n}&pageSize=2");
        async move {
            let v: Value = c
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["watchlists"].as_array().unwrap().len()
        }
    };
    assert_eq!(page(1).await, 2);
    assert_eq!(page(2).await, 1);
    assert_eq!(page(3).await, 0);
    let resp = c
        .get(format!("{base}/v2/watchlists?page=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn actors_resolve_by_name_to_their_parent_and_search_parses_booleans_loosely() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let get = |path: String| {
        let c = c.clone();
        let token = token.clone();
        let base = base.clone();
        async move {
            c.get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let a: Value = get(format!("/v1/actors/actor/name/{DEPARTING_EMAIL}/parent"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["actorId"], DEPARTING_ACTOR_ID);
    for k in [
        "actorId",
        "name",
        "active",
        "alternateNames",
        "inScope",
        "firstName",
        "lastName",
        "title",
        "division",
        "department",
        "employeeType",
        "locality",
        "region",
        "country",
        "managerActorId",
        "parentActorId",
        "startDate",
        "endDate",
        "notes",
    ] {
        assert!(a.get(k).is_some(), "actor misses {k}");
    }
    let child: Value =
        get("/v1/actors/actor/name/devon.parting@example-corp.onmicrosoft.com/parent".into())
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(child["actorId"], DEPARTING_ACTOR_ID);
    let fam: Value = get(format!("/v1/actors/actor/id/{DEPARTING_ACTOR_ID}/family"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fam["children"].as_array().unwrap().len(), 1);
    assert_eq!(
        get("/v1/actors/actor/name/nobody@example.com/parent".into())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/v1/actors/actor/id/nope".into()).await.status(),
        StatusCode::NOT_FOUND
    );
    let s: Value = get(
        "/v1/actors/actor/search?nameStartsWith=departing.dev%40example.com&pageSize=500&page=1"
            .into(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(s["actors"].as_array().unwrap().len(), 1);
    let s: Value = get(
        "/v1/actors/actor/search?nameEndsWith=example.com&active=True&pageSize=100&page=1".into(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(s["actors"].as_array().unwrap().len(), 6);
    let s: Value =
        get("/v1/actors/actor/search/parent?nameStartsWith=devon&pageSize=100&page=1".into())
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(s["actors"][0]["actorId"], DEPARTING_ACTOR_ID);
    assert_eq!(
        get("/v1/actors/actor/search?active=yes".into())
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn patching_an_actor_changes_only_the_given_keys_and_null_clears() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let patch = |body: Value| {
        let c = c.clone();
        let token = token.clone();
        let url = format!("{base}/v1/actors/actor/id/{DEPARTING_ACTOR_ID}");
        async move {
            c.patch(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = patch(json!({"endDate": "2026-12-31"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let a: Value = r.json().await.unwrap();
    assert_eq!(a["endDate"], "2026-12-31");
    assert_eq!(a["startDate"], "2021-03-01");
    let a: Value = patch(json!({"notes": "leaving", "startDate": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["endDate"], "2026-12-31");
    assert!(a["startDate"].is_null());
    assert_eq!(a["notes"], "leaving");
    assert_eq!(
        patch(json!({"endDate": "31/12/2026"})).await.status(),
        StatusCode::BAD_REQUEST
    );
    let snap = sb.state().snapshot();
    let d = snap
        .actor_end_dates
        .iter()
        .find(|d| d.actor_id == DEPARTING_ACTOR_ID)
        .unwrap();
    assert_eq!(d.end_date.as_deref(), Some("2026-12-31"));
}

#[tokio::test]
async fn users_are_found_by_username_and_id() {
    let sb = demo().await;
    let c = client();
    let base = sb.base_url();
    let token = incydr_token(&c, &base).await;
    let v: Value = c
        .get(format!(
            "{base}/v1/users?username=departing.dev%40example.com&page=1&pageSize=100"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["totalCount"], 1);
    let user = &v["users"][0];
    assert_eq!(user["username"], DEPARTING_EMAIL);
    let id = user["userId"].as_str().unwrap();
    let by_id = c
        .get(format!("{base}/v1/users/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.status(), StatusCode::OK);
    let none: Value = c
        .get(format!(
            "{base}/v1/users?username=nobody%40example.com&page=1&pageSize=100"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["users"].as_array().unwrap().len(), 0);
    let missing = c
        .get(format!("{base}/v1/users/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        header(&missing, "content-type").as_deref(),
        Some("application/json")
    );
}
