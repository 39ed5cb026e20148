//! Incydr client request shapes, pinned against the official SDK's tests
//! (`tests/` in the `code42/incydr_python` repository on GitHub), using a recording fake server.

mod support_http;

use base64::Engine as _;
use riskflow::connectors::ConnectorError;
use riskflow::connectors::incydr::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support_http::{Recorder, Reply, Request, http};

fn jwt(tenant: &str, n: usize) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes());
    format!(
        "{}.{}.sig{n}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(&format!(r#"{{"tenantUid":"{tenant}","n":{n}}}"#))
    )
}

fn token_reply(n: usize, expires_in: u64) -> Reply {
    Reply::json(
        200,
        json!({"token_type": "bearer", "expires_in": expires_in, "access_token": jwt("abcd-1234", n)}),
    )
}

fn client(rec: &Recorder) -> IncydrClient {
    IncydrClient::new(
        rec.url(),
        "key-42".into(),
        SecretString::from("secret-42"),
        http(),
    )
}

fn session_json() -> Value {
    json!({
        "sessionId": "123-session-1", "tenantId": "t", "actorId": "a", "actorName": "user@x.com",
        "userId": "string", "type": "STANDARD",
        "beginTime": 1704067200000i64, "endTime": 1704067200000i64,
        "firstObserved": 1704067200000i64, "lastUpdated": 0,
        "noRiskEvents": 0, "lowEvents": 0, "moderateEvents": 0, "highEvents": 0, "criticalEvents": 0,
        "contextSummary": "string", "exfiltrationSummary": "document file(s) shared via link from corporate Box",
        "contentInspectionResults": {"detectedOnAlerts": ["PII"]},
        "notes": [{"id": "string", "content": "string", "sourceTimestamp": 1704067200000i64, "userId": "string"}],
        "riskIndicators": [{"id": "Document", "name": "Document", "weight": 0, "eventCount": 1}],
        "scores": [{"score": 5, "severity": 2, "sourceTimestamp": 1726083300017i64}],
        "states": [{"state": "OPEN", "stateV2": "OPEN", "sourceTimestamp": 1726083300017i64, "userId": null}],
        "triggeredAlerts": [{"alertId": "alert-id", "ruleId": "rule-id", "ruleName": "rule name", "lessonId": null}]
    })
}

/// Answers the token request and delegates the rest.
async fn fake(rest: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Recorder {
    Recorder::start(move |r| {
        if r.is("POST", "/v1/oauth") {
            token_reply(1, 900)
        } else {
            rest(r)
        }
    })
    .await
}

fn api_requests(rec: &Recorder) -> Vec<Request> {
    rec.requests_except("/v1/oauth")
}

#[tokio::test]
async fn the_token_is_fetched_with_basic_auth_and_an_empty_post_before_the_first_call() {
    let rec = fake(|_| {
        Reply::json(
            200,
            json!({"users": [{"userId": "u-1", "username": "foo@bar.com", "legacyUserId": 123, "active": true}], "totalCount": 1}),
        )
    })
    .await;
    let user = client(&rec)
        .user_by_username("foo@bar.com", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.user_id.as_deref(), Some("u-1"));
    assert_eq!(user.legacy_user_id.as_deref(), Some("123"));

    let reqs = rec.requests();
    assert_eq!(reqs.len(), 2);
    let oauth = &reqs[0];
    assert_eq!(oauth.line(), "POST /v1/oauth");
    let basic = base64::engine::general_purpose::STANDARD.encode("key-42:secret-42");
    assert_eq!(
        oauth.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(oauth.body.is_empty(), "the token request has no body");
    assert_eq!(
        reqs[1].line(),
        "GET /v1/users?username=foo%40bar.com&page=1&pageSize=100"
    );
    assert_eq!(
        reqs[1].header("authorization"),
        Some(format!("Bearer {}", jwt("abcd-1234", 1)).as_str())
    );
}

#[tokio::test]
async fn a_username_lookup_with_no_users_is_none() {
    let rec = fake(|_| Reply::json(200, json!({"users": [], "totalCount": 0}))).await;
    assert!(
        client(&rec)
            .user_by_username("nobody@bar.com", None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_default_session_query_is_the_sdks() {
    let rec = fake(|_| Reply::json(200, json!({"items": [session_json()], "totalCount": 1}))).await;
    let page = client(&rec)
        .search_sessions(&SessionQuery::default(), None)
        .await
        .unwrap();
    assert_eq!(page.total_count, Some(1));
    assert_eq!(page.items[0].id(), "123-session-1");
    assert_eq!(
        api_requests(&rec)[0].line(),
        "GET /v1/sessions?has_alerts=true&page_number=0&page_size=50"
    );
}

#[tokio::test]
async fn every_session_filter_is_sent_in_the_sdks_order_byte_for_byte() {
    let rec = fake(|_| Reply::json(200, json!({"items": [], "totalCount": 0}))).await;
    let q = SessionQuery {
        actor_id: Some("actor-id".into()),
        on_or_after: Some(1704067200000),
        before: Some(1704067200000),
        session_type: None,
        has_alerts: Some(false),
        risk_indicators: vec!["risk-indicator".into()],
        states: vec![SessionState::Open],
        severities: vec![Severity::High],
        rule_ids: vec!["rule-id".into()],
        watchlist_ids: vec!["watchlist-id".into()],
        content_inspection_status: Some(ContentInspectionStatus::Pending),
        order_by: Some(SessionOrderBy::Score),
        sort_direction: Some(SortDirection::Desc),
        page_number: 2,
        page_size: 10,
    };
    client(&rec).search_sessions(&q, None).await.unwrap();
    assert_eq!(
        api_requests(&rec)[0].query,
        "actor_id=actor-id&on_or_after=1704067200000&before=1704067200000&has_alerts=false&risk_indicators=risk-indicator&state=OPEN&severity=3&rule_id=rule-id&watchlist_id=watchlist-id&content_inspection_status=PENDING&order_by=score&sort_direction=desc&page_number=2&page_size=10"
    );
}

#[tokio::test]
async fn list_filters_repeat_their_key_and_the_type_filter_follows_before() {
    let rec = fake(|_| Reply::json(200, json!({"items": []}))).await;
    let q = SessionQuery {
        session_type: Some("STANDARD".into()),
        before: Some(5),
        states: vec![SessionState::Open, SessionState::OpenNewData],
        severities: vec![Severity::High, Severity::Critical],
        ..SessionQuery::default()
    };
    client(&rec).search_sessions(&q, None).await.unwrap();
    assert_eq!(
        api_requests(&rec)[0].query,
        "before=5&type=STANDARD&has_alerts=true&state=OPEN&state=OPEN_NEW_DATA&severity=3&severity=4&page_number=0&page_size=50"
    );
}

#[tokio::test]
async fn a_page_size_over_50_is_refused_before_anything_is_sent() {
    let rec = fake(|_| Reply::json(200, json!({"items": []}))).await;
    let q = SessionQuery {
        page_size: 51,
        ..SessionQuery::default()
    };
    let err = client(&rec).search_sessions(&q, None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid { .. }), "{err}");
    assert!(rec.requests().is_empty());
}

#[tokio::test]
async fn iterating_with_page_size_one_stops_after_the_empty_page() {
    let rec = fake(|r| {
        if r.query.contains("page_number=0") {
            Reply::json(200, json!({"items": [session_json()], "totalCount": 1}))
        } else {
            Reply::json(200, json!({"items": [], "totalCount": 1}))
        }
    })
    .await;
    let q = SessionQuery {
        page_size: 1,
        page_number: 7, // ignored: iteration starts at page 0
        ..SessionQuery::default()
    };
    let all = client(&rec).all_sessions(&q, None).await.unwrap();
    assert_eq!(all.len(), 1);
    let lines: Vec<String> = api_requests(&rec).iter().map(|r| r.query.clone()).collect();
    assert_eq!(
        lines,
        [
            "has_alerts=true&page_number=0&page_size=1",
            "has_alerts=true&page_number=1&page_size=1"
        ]
    );
}

/// A fake holding `n` sessions in pages of 2 that announces `announced` as `totalCount`.
async fn paged(n: usize, announced: usize) -> Recorder {
    fake(move |r| {
        let page: usize = r
            .query
            .split('&')
            .find_map(|p| p.strip_prefix("page_number="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let items: Vec<Value> = (page * 2..(page * 2 + 2).min(n))
            .map(|i| {
                let mut s = session_json();
                s["sessionId"] = json!(format!("s-{i}"));
                s
            })
            .collect();
        Reply::json(200, json!({"items": items, "totalCount": announced}))
    })
    .await
}

#[tokio::test]
async fn announced_pages_are_read_a_few_at_a_time_and_the_scan_still_ends_at_a_short_page() {
    let q = SessionQuery {
        page_size: 2,
        ..SessionQuery::default()
    };
    let pages = |rec: &Recorder| -> Vec<usize> {
        let mut v: Vec<usize> = api_requests(rec)
            .iter()
            .filter_map(|r| {
                r.query
                    .split('&')
                    .find_map(|p| p.strip_prefix("page_number="))
                    .and_then(|v| v.parse().ok())
            })
            .collect();
        v.sort();
        v
    };
    let ids = |all: &[riskflow::connectors::incydr::Session]| -> Vec<String> {
        all.iter().filter_map(|s| s.session_id.clone()).collect()
    };
    // Truthful count: 21 sessions, pages 0..=10, the last one short.
    let rec = paged(21, 21).await;
    let all = client(&rec).all_sessions(&q, None).await.unwrap();
    assert_eq!(
        ids(&all),
        (0..21).map(|i| format!("s-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(pages(&rec), (0..=10).collect::<Vec<_>>());
    // The count says 4 but there are 9: it goes on past the announced pages while they are full.
    let rec = paged(9, 4).await;
    let all = client(&rec).all_sessions(&q, None).await.unwrap();
    assert_eq!(all.len(), 9);
    assert_eq!(pages(&rec), (0..=4).collect::<Vec<_>>());
    // The count says 40 but there are 5: page 2 is short, so nothing after it is used.
    let rec = paged(5, 40).await;
    let all = client(&rec).all_sessions(&q, None).await.unwrap();
    assert_eq!(
        ids(&all),
        (0..5).map(|i| format!("s-{i}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_session_and_its_file_events_are_read_with_every_field() {
    let rec = fake(|r| match r.path.as_str() {
        "/v1/sessions/123-session-1" => Reply::json(200, session_json()),
        "/v1/sessions/123-session-1/events" => Reply::json(
            200,
            json!({"queryResult": {"fileEvents": [{
                "@timestamp": "2024-01-01T00:00:00.000Z",
                "event": {"id": "ev-1", "action": "file-downloaded", "observer": "Endpoint", "shareType": null},
                "user": {"email": "user@x.com", "id": 1138, "deviceUid": "d-1"},
                "file": {"name": "plan.docx", "directory": "/Users/u/", "sizeInBytes": 2048,
                         "hash": {"md5": "m", "sha256": "s256"}, "url": null},
                "risk": {"score": 12, "severity": "CRITICAL", "indicators": [{"name": "Browser upload", "weight": 5}],
                         "untrustedValues": {"accountNames": []}},
                "destination": {"category": "Cloud Storage", "name": "Dropbox", "user": {"email": null}},
                "process": {"executable": "bash"}
            }], "nextPgToken": "", "problems": null, "totalCount": 1}}),
        ),
        _ => Reply::empty(404),
    })
    .await;
    let c = client(&rec);
    let s = c.get_session("123-session-1", None).await.unwrap().unwrap();
    assert_eq!(s.actor_name.as_deref(), Some("user@x.com"));
    assert_eq!(s.current_state(), Some(SessionState::Open));
    assert_eq!(s.current_severity(), Some(Severity::Moderate));
    assert_eq!(s.rule_labels(), vec!["rule name".to_string()]);
    assert_eq!(
        s.content_inspection_results.unwrap().detected_on_alerts,
        vec!["PII".to_string()]
    );
    assert_eq!(s.begin_time, Some(1704067200000));

    let events = c.session_events("123-session-1", None).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.event_id(), Some("ev-1"));
    assert_eq!(e.file_path().as_deref(), Some("/Users/u/plan.docx"));
    assert_eq!(e.sha256(), Some("s256"));
    assert_eq!(e.risk_severity(), Some("CRITICAL"));
    assert_eq!(e.user.as_ref().unwrap().id.as_deref(), Some("1138"));
    assert_eq!(
        e.destination.as_ref().unwrap().name.as_deref(),
        Some("Dropbox")
    );

    assert!(c.get_session("missing", None).await.unwrap().is_none());
}

#[tokio::test]
async fn a_note_is_posted_as_note_content() {
    let rec = fake(|_| Reply::empty(200)).await;
    client(&rec)
        .add_note("123-session-1", "this is my note", None)
        .await
        .unwrap();
    let r = &api_requests(&rec)[0];
    assert_eq!(r.line(), "POST /v1/sessions/123-session-1/add-note");
    assert_eq!(r.body_str(), r#"{"noteContent":"this is my note"}"#);
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_note_over_2000_characters_is_refused_before_sending() {
    let rec = fake(|_| Reply::empty(200)).await;
    let c = client(&rec);
    let err = c.add_note("s", &"é".repeat(2001), None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid { .. }));
    assert!(rec.requests().is_empty());
    // Exactly 2000 characters (4000 bytes) is fine.
    c.add_note("s", &"é".repeat(2000), None).await.unwrap();
}

#[tokio::test]
async fn change_state_sends_chunks_of_at_most_100_each_with_only_its_own_ids() {
    let rec = fake(|_| Reply::empty(200)).await;
    let c = client(&rec);
    c.change_state(&["id1".into(), "id2".into()], &SessionState::Closed, None)
        .await
        .unwrap();
    let r = &api_requests(&rec)[0];
    assert_eq!(r.line(), "POST /v1/sessions/change-state");
    assert_eq!(r.body_str(), r#"{"ids":["id1","id2"],"newState":"CLOSED"}"#);

    let ids: Vec<String> = (0..250).map(|i| format!("s{i}")).collect();
    c.change_state(&ids, &SessionState::InProgress, None)
        .await
        .unwrap();
    let bodies: Vec<Value> = api_requests(&rec)[1..].iter().map(Request::json).collect();
    assert_eq!(bodies.len(), 3);
    let sent: Vec<String> = bodies
        .iter()
        .flat_map(|b| {
            b["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(sent, ids, "every id once, in order");
    assert_eq!(
        bodies
            .iter()
            .map(|b| b["ids"].as_array().unwrap().len())
            .collect::<Vec<_>>(),
        [100, 100, 50]
    );
    assert!(bodies.iter().all(|b| b["newState"] == "IN_PROGRESS"));
}

fn watchlist(id: &str, list_type: &str, title: Option<&str>) -> Value {
    json!({"description": null, "listType": list_type,
           "stats": {"includedActorsCount": 42}, "tenantId": "code-42", "title": title, "watchlistId": id})
}

#[tokio::test]
async fn watchlists_are_listed_with_page_and_page_size() {
    let rec = fake(|_| {
        Reply::json(
            200,
            json!({"watchlists": [watchlist("w1", "DEPARTING_EMPLOYEE", None), watchlist("w2", "SOMETHING_NEW", None)], "totalCount": 2}),
        )
    })
    .await;
    let c = client(&rec);
    let page = c.list_watchlists(1, 100, None, None).await.unwrap();
    assert_eq!(
        page.watchlists[0].list_type,
        Some(WatchlistType::DepartingEmployee)
    );
    assert_eq!(
        page.watchlists[1].list_type,
        Some(WatchlistType::Other("SOMETHING_NEW".into()))
    );
    c.list_watchlists(2, 42, Some("user-42"), None)
        .await
        .unwrap();
    let q: Vec<String> = api_requests(&rec).iter().map(Request::line).collect();
    assert_eq!(
        q,
        [
            "GET /v2/watchlists?page=1&pageSize=100",
            "GET /v2/watchlists?page=2&pageSize=42&actorId=user-42"
        ]
    );
}

#[tokio::test]
async fn an_existing_departing_watchlist_is_found_with_one_listing_and_nothing_is_created() {
    let rec = fake(|_| {
        Reply::json(
            200,
            json!({"watchlists": [watchlist("w-custom", "CUSTOM", Some("Contractors")), watchlist("w-dep", "DEPARTING_EMPLOYEE", None)], "totalCount": 2}),
        )
    })
    .await;
    let c = client(&rec);
    assert_eq!(c.departing_watchlist_id(None).await.unwrap(), "w-dep");
    assert_eq!(
        c.find_watchlist_id("Contractors", None)
            .await
            .unwrap()
            .as_deref(),
        Some("w-custom")
    );
    assert_eq!(
        c.find_watchlist_id("FLIGHT_RISK", None).await.unwrap(),
        None
    );
    let reqs = api_requests(&rec);
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.line() == "GET /v2/watchlists?page=1&pageSize=100")
    );
}

#[tokio::test]
async fn the_departing_watchlist_is_created_when_missing_with_the_sdks_exact_body() {
    let rec = fake(|r| {
        if r.method == "GET" {
            Reply::json(200, json!({"watchlists": [], "totalCount": 0}))
        } else {
            Reply::json(200, watchlist("w-new", "DEPARTING_EMPLOYEE", None))
        }
    })
    .await;
    assert_eq!(
        client(&rec).departing_watchlist_id(None).await.unwrap(),
        "w-new"
    );
    let reqs = api_requests(&rec);
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].line(), "POST /v2/watchlists");
    assert_eq!(
        reqs[1].body_str(),
        r#"{"description":null,"title":null,"watchlistType":"DEPARTING_EMPLOYEE"}"#
    );
}

#[tokio::test]
async fn a_session_without_a_session_id_is_counted_by_the_adapter_not_dropped_silently() {
    use riskflow::ports::{AlertSource, SessionFilter};
    let mut nameless = session_json();
    nameless.as_object_mut().unwrap().remove("sessionId");
    let rec = fake(move |_| {
        Reply::json(
            200,
            json!({"items": [session_json(), nameless.clone()], "totalCount": 2}),
        )
    })
    .await;
    let adapter = IncydrAdapter {
        client: Arc::new(client(&rec)),
        console_url: None,
    };
    let list = adapter
        .sessions(&SessionFilter::default(), None)
        .await
        .unwrap();
    assert_eq!(list.sessions.len(), 1);
    assert_eq!(list.sessions[0].session_id, "123-session-1");
    assert_eq!(list.without_id, 1);
}

#[tokio::test]
async fn a_departing_watchlist_another_worker_created_meanwhile_is_read_again_and_used() {
    // Two workers both find none; the other one's create wins, so this create is refused.
    let lists = Arc::new(AtomicUsize::new(0));
    let seen = lists.clone();
    let rec = fake(move |r| {
        if r.method == "GET" {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::json(200, json!({"watchlists": [], "totalCount": 0}))
            } else {
                Reply::json(
                    200,
                    json!({"watchlists": [watchlist("w-other", "DEPARTING_EMPLOYEE", None)], "totalCount": 1}),
                )
            }
        } else {
            Reply::json(
                409,
                json!({"title": "A watchlist of type DEPARTING_EMPLOYEE already exists"}),
            )
        }
    })
    .await;
    assert_eq!(
        client(&rec).departing_watchlist_id(None).await.unwrap(),
        "w-other"
    );
    let lines: Vec<String> = api_requests(&rec).iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "GET /v2/watchlists?page=1&pageSize=100",
            "POST /v2/watchlists",
            "GET /v2/watchlists?page=1&pageSize=100"
        ]
    );
}

#[tokio::test]
async fn a_refused_create_with_no_departing_watchlist_on_a_second_read_is_still_an_error() {
    let rec = fake(|r| {
        if r.method == "GET" {
            Reply::json(200, json!({"watchlists": [], "totalCount": 0}))
        } else {
            Reply::json(409, json!({"title": "conflict"}))
        }
    })
    .await;
    let err = client(&rec).departing_watchlist_id(None).await.unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
}

#[tokio::test]
async fn included_actors_are_added_and_removed_with_the_exact_bodies() {
    let rec = fake(|_| Reply::empty(200)).await;
    let c = client(&rec);
    c.add_included_actors("wl-1", &["a1".into()], None)
        .await
        .unwrap();
    c.add_included_actors("wl-1", &["a1".into(), "a2".into()], None)
        .await
        .unwrap();
    c.remove_included_actors("wl-1", &["a1".into()], None)
        .await
        .unwrap();
    let reqs = api_requests(&rec);
    assert_eq!(
        reqs[0].line(),
        "POST /v2/watchlists/wl-1/included-actors/add"
    );
    assert_eq!(
        reqs[0].body_str(),
        r#"{"actorIds":["a1"],"watchlistId":"wl-1"}"#
    );
    assert_eq!(
        reqs[1].body_str(),
        r#"{"actorIds":["a1","a2"],"watchlistId":"wl-1"}"#
    );
    assert_eq!(
        reqs[2].line(),
        "POST /v2/watchlists/wl-1/included-actors/delete"
    );
    assert_eq!(
        reqs[2].body_str(),
        r#"{"actorIds":["a1"],"watchlistId":"wl-1"}"#
    );
}

#[tokio::test]
async fn more_than_100_actor_ids_are_refused_client_side() {
    let rec = fake(|_| Reply::empty(200)).await;
    let ids: Vec<String> = (0..101).map(|i| format!("a{i}")).collect();
    let c = client(&rec);
    assert!(matches!(
        c.add_included_actors("wl", &ids, None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    assert!(matches!(
        c.remove_included_actors("wl", &ids, None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    assert!(rec.requests().is_empty());
}

#[tokio::test]
async fn a_404_member_or_included_actor_lookup_means_absent() {
    let rec = fake(|r| match r.path.as_str() {
        "/v2/watchlists/wl/members/in" | "/v2/watchlists/wl/included-actors/in" => Reply::json(
            200,
            json!({"addedTime": "2022-07-18T16:39:51.356082Z", "actorId": "in", "actorname": "foo@bar.com"}),
        ),
        _ => Reply::json(404, json!({"message": "not found"})),
    })
    .await;
    let c = client(&rec);
    assert!(c.is_member("wl", "in", None).await.unwrap());
    assert!(!c.is_member("wl", "out", None).await.unwrap());
    let a = c.included_actor("wl", "in", None).await.unwrap().unwrap();
    assert_eq!(a.actor_name.as_deref(), Some("foo@bar.com"));
    assert!(c.included_actor("wl", "out", None).await.unwrap().is_none());
    assert_eq!(
        api_requests(&rec)[1].line(),
        "GET /v2/watchlists/wl/members/out"
    );
}

#[tokio::test]
async fn actors_are_looked_up_by_email_in_the_path_and_404_is_none() {
    let rec = fake(|r| match r.path.as_str() {
        "/v1/actors/actor/name/someactor@domain.com/parent" | "/v1/actors/actor/id/e963" => Reply::json(
            200,
            json!({"actorId": "e963", "name": "someactor@domain.com", "active": true, "alternateNames": [],
                   "inScope": true, "endDate": "2024-09-18", "notes": null, "parentActorId": null}),
        ),
        _ => Reply::empty(404),
    })
    .await;
    let c = client(&rec);
    let a = c
        .actor_by_name("someactor@domain.com", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.actor_id.as_deref(), Some("e963"));
    assert_eq!(a.end_date.as_deref(), Some("2024-09-18"));
    assert!(c.actor_by_id("e963", None).await.unwrap().is_some());
    assert!(
        c.actor_by_name("nobody@domain.com", None)
            .await
            .unwrap()
            .is_none()
    );
    // User data is one encoded path segment: it cannot walk the path.
    assert!(
        c.actor_by_name("../../v1/alerts", None)
            .await
            .unwrap()
            .is_none()
    );
    let lines: Vec<String> = api_requests(&rec).iter().map(Request::line).collect();
    assert_eq!(
        lines[0],
        "GET /v1/actors/actor/name/someactor@domain.com/parent"
    );
    assert_eq!(lines[1], "GET /v1/actors/actor/id/e963");
    assert_eq!(
        lines[3],
        "GET /v1/actors/actor/name/..%2F..%2Fv1%2Falerts/parent"
    );
}

#[tokio::test]
async fn actor_patches_carry_only_the_provided_keys_including_nulls() {
    let rec = fake(|_| Reply::json(200, json!({"actorId": "a1", "endDate": "2026-03-31"}))).await;
    let c = client(&rec);
    let d = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    let updates = [
        ActorUpdate {
            notes: FieldUpdate::Set("example note".into()),
            start_date: FieldUpdate::Set(d("2020-09-24")),
            end_date: FieldUpdate::Set(d("2024-09-18")),
        },
        ActorUpdate {
            notes: FieldUpdate::Clear,
            start_date: FieldUpdate::Clear,
            end_date: FieldUpdate::Clear,
        },
        ActorUpdate::end_date(d("2026-03-31")),
        ActorUpdate::clear_end_date(),
    ];
    for u in &updates {
        let actor = c.update_actor("a1", u, None).await.unwrap();
        assert_eq!(actor.actor_id.as_deref(), Some("a1"));
    }
    assert!(matches!(
        c.update_actor("a1", &ActorUpdate::default(), None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    let reqs = api_requests(&rec);
    assert!(
        reqs.iter()
            .all(|r| r.line() == "PATCH /v1/actors/actor/id/a1")
    );
    let bodies: Vec<&str> = reqs.iter().map(Request::body_str).collect();
    assert_eq!(
        bodies,
        [
            r#"{"notes":"example note","startDate":"2020-09-24","endDate":"2024-09-18"}"#,
            r#"{"notes":null,"startDate":null,"endDate":null}"#,
            r#"{"endDate":"2026-03-31"}"#,
            r#"{"endDate":null}"#,
        ]
    );
}

#[tokio::test]
async fn a_401_fetches_a_new_token_once_and_repeats_the_call() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let t = tokens.clone();
    let rec = Recorder::start(move |r| {
        if r.is("POST", "/v1/oauth") {
            let n = t.fetch_add(1, Ordering::SeqCst) + 1;
            return token_reply(n, 900);
        }
        // The first token has been revoked on the server.
        if r.header("authorization") == Some(format!("Bearer {}", jwt("abcd-1234", 1)).as_str()) {
            Reply::json(401, json!({"message": "token expired"}))
        } else {
            Reply::json(200, json!({"items": []}))
        }
    })
    .await;
    let c = client(&rec);
    c.search_sessions(&SessionQuery::default(), None)
        .await
        .unwrap();
    // The new token is cached: the next call needs no token request.
    c.search_sessions(&SessionQuery::default(), None)
        .await
        .unwrap();
    let lines: Vec<String> = rec
        .requests()
        .iter()
        .map(|r| r.method.clone() + " " + &r.path)
        .collect();
    assert_eq!(
        lines,
        [
            "POST /v1/oauth",
            "GET /v1/sessions",
            "POST /v1/oauth",
            "GET /v1/sessions",
            "GET /v1/sessions"
        ]
    );
}

#[tokio::test]
async fn a_second_401_in_a_row_is_reported_not_retried_again() {
    let rec = fake(|_| Reply::json(401, json!({"message": "nope"}))).await;
    let err = client(&rec)
        .add_note("s1", "hello", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "incydr answered 401 to POST /v1/sessions/s1/add-note: nope"
    );
    assert_eq!(rec.requests().len(), 4, "token, call, new token, call");
}

#[tokio::test]
async fn a_token_is_reused_while_valid_and_refetched_when_its_life_is_over() {
    let rec = fake(|_| Reply::json(200, json!({"items": []}))).await;
    let c = client(&rec);
    for _ in 0..3 {
        c.search_sessions(&SessionQuery::default(), None)
            .await
            .unwrap();
    }
    assert_eq!(
        rec.requests()
            .iter()
            .filter(|r| r.path == "/v1/oauth")
            .count(),
        1
    );

    let rec = Recorder::start(|r| {
        if r.path == "/v1/oauth" {
            token_reply(1, 0) // already expired
        } else {
            Reply::json(200, json!({"items": []}))
        }
    })
    .await;
    let c = client(&rec);
    for _ in 0..2 {
        c.search_sessions(&SessionQuery::default(), None)
            .await
            .unwrap();
    }
    assert_eq!(
        rec.requests()
            .iter()
            .filter(|r| r.path == "/v1/oauth")
            .count(),
        2
    );
}

#[tokio::test]
async fn verify_names_the_tenant_from_the_token_and_makes_one_cheap_read() {
    let rec = fake(|_| Reply::json(200, json!({"items": [], "totalCount": 0}))).await;
    let msg = client(&rec).verify(None).await.unwrap();
    assert_eq!(msg, "Connected to Incydr (tenant abcd-1234)");
    assert_eq!(
        api_requests(&rec)[0].line(),
        "GET /v1/sessions?has_alerts=true&page_number=0&page_size=1"
    );
}

#[tokio::test]
async fn wrong_credentials_fail_verify_at_the_token_request() {
    let rec = Recorder::start(|_| Reply::json(401, json!({"error": "invalid_client"}))).await;
    let err = client(&rec).verify(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(
        err.to_string()
            .starts_with("incydr answered 401 to POST /v1/oauth"),
        "{err}"
    );
    assert!(!err.to_string().contains("secret-42"));
    assert_eq!(rec.requests().len(), 1);
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_its_prefix() {
    let rec = Recorder::start(|r| {
        if r.path == "/incydr/v1/oauth" {
            token_reply(1, 900)
        } else {
            Reply::json(200, json!({"items": []}))
        }
    })
    .await;
    let c = IncydrClient::new(
        rec.url_with_prefix("incydr"),
        "key-42".into(),
        SecretString::from("secret-42"),
        http(),
    );
    c.search_sessions(&SessionQuery::default(), None)
        .await
        .unwrap();
    let paths: Vec<String> = rec.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/incydr/v1/oauth", "/incydr/v1/sessions"]);
}

#[tokio::test]
async fn no_request_ever_goes_to_the_removed_alerts_or_v1_watchlists_apis() {
    let rec = fake(|r| match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1/sessions") => Reply::json(200, json!({"items": [session_json()]})),
        ("GET", "/v1/sessions/123-session-1") => Reply::json(200, session_json()),
        ("GET", "/v1/sessions/123-session-1/events") => {
            Reply::json(200, json!({"queryResult": {"fileEvents": []}}))
        }
        ("GET", "/v2/watchlists") => Reply::json(200, json!({"watchlists": []})),
        ("POST", "/v2/watchlists") => Reply::json(200, watchlist("w", "DEPARTING_EMPLOYEE", None)),
        ("GET", "/v1/users") => Reply::json(200, json!({"users": []})),
        ("PATCH", _) => Reply::json(200, json!({"actorId": "a"})),
        ("GET", p) if p.contains("/members/") || p.contains("/included-actors/") => {
            Reply::empty(404)
        }
        ("GET", p) if p.starts_with("/v1/actors/") => Reply::json(200, json!({"actorId": "a"})),
        _ => Reply::empty(200),
    })
    .await;
    let c = client(&rec);
    c.verify(None).await.unwrap();
    c.all_sessions(&SessionQuery::default(), None)
        .await
        .unwrap();
    c.get_session("123-session-1", None).await.unwrap();
    c.session_events("123-session-1", None).await.unwrap();
    c.add_note("123-session-1", "n", None).await.unwrap();
    c.change_state(&["123-session-1".into()], &SessionState::InProgress, None)
        .await
        .unwrap();
    let wl = c.departing_watchlist_id(None).await.unwrap();
    c.add_included_actors(&wl, &["a".into()], None)
        .await
        .unwrap();
    c.remove_included_actors(&wl, &["a".into()], None)
        .await
        .unwrap();
    c.included_actor(&wl, "a", None).await.unwrap();
    c.is_member(&wl, "a", None).await.unwrap();
    c.actor_by_name("a@b.c", None).await.unwrap();
    c.actor_by_id("a", None).await.unwrap();
    c.update_actor("a", &ActorUpdate::clear_end_date(), None)
        .await
        .unwrap();
    c.user_by_username("a@b.c", None).await.unwrap();
    let reqs = rec.requests();
    assert!(reqs.len() >= 16);
    for r in &reqs {
        assert!(
            !r.path.starts_with("/v1/alerts") && !r.path.starts_with("/v1/watchlists"),
            "removed API called: {}",
            r.line()
        );
    }
}

#[test]
fn client_futures_can_be_sent_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let c = IncydrClient::new(
        url::Url::parse("https://api.us.code42.com").unwrap(),
        "k".into(),
        SecretString::from("s"),
        http(),
    );
    let (q, ids, upd) = (
        SessionQuery::default(),
        vec!["a".to_string()],
        ActorUpdate::clear_end_date(),
    );
    assert_send(&c.verify(None));
    assert_send(&c.search_sessions(&q, None));
    assert_send(&c.all_sessions(&q, None));
    assert_send(&c.get_session("s", None));
    assert_send(&c.session_events("s", None));
    assert_send(&c.add_note("s", "n", None));
    assert_send(&c.change_state(&ids, &SessionState::Closed, None));
    assert_send(&c.list_watchlists(1, 100, Some("a"), None));
    assert_send(&c.find_watchlist_id("DEPARTING_EMPLOYEE", None));
    assert_send(&c.departing_watchlist_id(None));
    assert_send(&c.add_included_actors("w", &ids, None));
    assert_send(&c.remove_included_actors("w", &ids, None));
    assert_send(&c.included_actor("w", "a", None));
    assert_send(&c.is_member("w", "a", None));
    assert_send(&c.actor_by_name("a@b.c", None));
    assert_send(&c.actor_by_id("a", None));
    assert_send(&c.update_actor("a", &upd, None));
    assert_send(&c.user_by_username("a@b.c", None));
}

// ---------------------------------------------------------------------------------------------
// Against the sandbox (`riskflow-sandbox`, demo data)

mod against_the_sandbox {
    use super::*;
    use riskflow_sandbox::{
        DEPARTING_ACTOR_ID, DEPARTING_EMAIL, DEPARTING_SESSION_ID, DemoOptions, FaultKind,
        FaultRule, Sandbox, creds, seed_demo_with,
    };

    async fn demo(opts: DemoOptions) -> (Sandbox, IncydrClient) {
        let sb = Sandbox::start(0).await.expect("sandbox");
        seed_demo_with(&sb.state(), &opts);
        let c = IncydrClient::new(
            url::Url::parse(&sb.url("incydr")).unwrap(),
            creds::INCYDR_CLIENT_ID.into(),
            SecretString::from(creds::INCYDR_CLIENT_SECRET),
            http(),
        );
        (sb, c)
    }

    fn removed_routes_called(sb: &Sandbox) -> Vec<String> {
        sb.state()
            .counts()
            .routes
            .keys()
            .filter(|k| k.contains("/v1/alerts") || k.contains("/v1/watchlists"))
            .cloned()
            .collect()
    }

    #[tokio::test]
    async fn the_demo_sessions_events_actors_and_users_read_back() {
        let (sb, c) = demo(DemoOptions::default()).await;
        let msg = c.verify(None).await.unwrap();
        assert!(msg.starts_with("Connected to Incydr (tenant "), "{msg}");

        // Five demo sessions have alerts; the sixth (no risk, no rule) only shows without the filter.
        let with_alerts = c
            .all_sessions(
                &SessionQuery {
                    page_size: 2,
                    ..SessionQuery::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(with_alerts.len(), 5);
        assert!(with_alerts.iter().all(|s| !s.triggered_alerts.is_empty()));
        let all = c
            .all_sessions(
                &SessionQuery {
                    has_alerts: None,
                    page_size: 4,
                    ..SessionQuery::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 6);
        let s = c
            .get_session(DEPARTING_SESSION_ID, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.actor_id.as_deref(), Some(DEPARTING_ACTOR_ID));
        assert_eq!(s.current_severity(), Some(Severity::Critical));
        assert_eq!(s.current_state(), Some(SessionState::Open));
        assert_eq!(
            s.rule_labels(),
            vec!["Departing employee exfiltration".to_string()]
        );
        let events = c.session_events(DEPARTING_SESSION_ID, None).await.unwrap();
        let names: Vec<&str> = events.iter().filter_map(FileEvent::file_name).collect();
        assert_eq!(
            names,
            ["platform-src.zip", "customer-list.xlsx", "roadmap-2027.pdf"]
        );
        assert!(events.iter().all(|e| e.event_id().is_some()));

        let critical = c
            .search_sessions(
                &SessionQuery {
                    severities: vec![Severity::Critical],
                    actor_id: Some(DEPARTING_ACTOR_ID.into()),
                    ..SessionQuery::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(critical.items.len(), 1);

        let actor = c
            .actor_by_name(DEPARTING_EMAIL, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(actor.actor_id.as_deref(), Some(DEPARTING_ACTOR_ID));
        assert!(
            c.actor_by_name("nobody@example.com", None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            c.actor_by_id(DEPARTING_ACTOR_ID, None)
                .await
                .unwrap()
                .is_some()
        );
        let user = c
            .user_by_username(DEPARTING_EMAIL, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.username.as_deref(), Some(DEPARTING_EMAIL));
        assert!(
            c.user_by_username("nobody@example.com", None)
                .await
                .unwrap()
                .is_none()
        );
        assert!(removed_routes_called(&sb).is_empty());
    }

    #[tokio::test]
    async fn notes_and_states_written_show_up_in_the_sandbox() {
        let (sb, c) = demo(DemoOptions::default()).await;
        c.add_note(
            DEPARTING_SESSION_ID,
            "Ticket SEC-1 opened by riskflow",
            None,
        )
        .await
        .unwrap();
        c.change_state(
            &[DEPARTING_SESSION_ID.to_string()],
            &SessionState::InProgress,
            None,
        )
        .await
        .unwrap();
        let snap = sb.state().snapshot();
        let notes = snap
            .incydr_session_notes
            .iter()
            .find(|n| n.session_id == DEPARTING_SESSION_ID)
            .expect("note stored");
        assert_eq!(notes.notes.len(), 1);
        let state = snap
            .incydr_session_states
            .iter()
            .find(|s| s.session_id == DEPARTING_SESSION_ID)
            .unwrap();
        assert_eq!(state.state, "IN_PROGRESS");
        let s = c
            .get_session(DEPARTING_SESSION_ID, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.current_state(), Some(SessionState::InProgress));
        assert_eq!(s.notes.len(), 1);
    }

    #[tokio::test]
    async fn a_departing_employee_is_added_dated_checked_and_removed() {
        let (sb, c) = demo(DemoOptions::default()).await;
        let wl = c.departing_watchlist_id(None).await.unwrap();
        assert_eq!(wl, "1c7dd799-1aa0-4f3a-bae8-1d3242fc2af6");
        let actor = DEPARTING_ACTOR_ID.to_string();
        assert!(!c.is_member(&wl, &actor, None).await.unwrap());
        assert!(c.included_actor(&wl, &actor, None).await.unwrap().is_none());

        c.add_included_actors(&wl, std::slice::from_ref(&actor), None)
            .await
            .unwrap();
        c.update_actor(
            &actor,
            &ActorUpdate::end_date("2026-03-31".parse().unwrap()),
            None,
        )
        .await
        .unwrap();
        assert!(c.is_member(&wl, &actor, None).await.unwrap());
        let included = c.included_actor(&wl, &actor, None).await.unwrap().unwrap();
        assert_eq!(included.actor_name.as_deref(), Some(DEPARTING_EMAIL));
        let snap = sb.state().snapshot();
        assert!(
            snap.watchlist_members
                .iter()
                .any(|m| m.watchlist_id == wl && m.actor_id == actor)
        );
        let dates = snap
            .actor_end_dates
            .iter()
            .find(|a| a.actor_id == actor)
            .unwrap();
        assert_eq!(dates.end_date.as_deref(), Some("2026-03-31"));

        c.remove_included_actors(&wl, std::slice::from_ref(&actor), None)
            .await
            .unwrap();
        let updated = c
            .update_actor(&actor, &ActorUpdate::clear_end_date(), None)
            .await
            .unwrap();
        assert_eq!(updated.end_date, None);
        assert!(!c.is_member(&wl, &actor, None).await.unwrap());
        assert!(removed_routes_called(&sb).is_empty());
    }

    #[tokio::test]
    async fn a_missing_departing_watchlist_is_created_once_then_found() {
        let (sb, c) = demo(DemoOptions {
            departing_watchlist: false,
        })
        .await;
        let first = c.departing_watchlist_id(None).await.unwrap();
        let second = c.departing_watchlist_id(None).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(sb.state().count("incydr", "POST", "/v2/watchlists"), 1);
        assert_eq!(sb.state().watchlist_id("DEPARTING_EMPLOYEE"), Some(first));
        // The custom list is found by its title.
        assert_eq!(
            c.find_watchlist_id("Contractors", None)
                .await
                .unwrap()
                .as_deref(),
            Some("3e9ff9bb-3cc2-4b5c-9c0a-3f5464ae4c18")
        );
    }

    #[tokio::test]
    async fn wrong_credentials_are_a_401_at_the_token_request() {
        let (sb, _) = demo(DemoOptions::default()).await;
        let c = IncydrClient::new(
            url::Url::parse(&sb.url("incydr")).unwrap(),
            creds::INCYDR_CLIENT_ID.into(),
            SecretString::from("not-the-secret"),
            http(),
        );
        let err = c.verify(None).await.unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert!(err.to_string().contains("POST /v1/oauth"), "{err}");
    }

    #[tokio::test]
    async fn expired_tokens_are_refreshed_once_and_the_call_repeated() {
        let (sb, c) = demo(DemoOptions::default()).await;
        c.verify(None).await.unwrap();
        assert_eq!(sb.state().count("incydr", "POST", "/v1/oauth"), 1);
        sb.state().expire_incydr_tokens();
        let page = c
            .search_sessions(&SessionQuery::default(), None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 5);
        assert_eq!(sb.state().count("incydr", "POST", "/v1/oauth"), 2);
        assert_eq!(sb.state().counts().status("incydr", "401"), 1);
        // The fresh token is kept.
        c.search_sessions(&SessionQuery::default(), None)
            .await
            .unwrap();
        assert_eq!(sb.state().count("incydr", "POST", "/v1/oauth"), 2);
    }

    #[tokio::test]
    async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
        let (sb, c) = demo(DemoOptions::default()).await;
        c.verify(None).await.unwrap();
        sb.state().add_fault(
            FaultRule::new(
                "incydr",
                FaultKind::RateLimit {
                    retry_after: Some(1),
                },
            )
            .path_prefix("/v1/sessions")
            .max_hits(1),
        );
        let started = std::time::Instant::now();
        let page = c
            .search_sessions(&SessionQuery::default(), None)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 5);
        assert!(started.elapsed() >= std::time::Duration::from_millis(900));
        assert_eq!(sb.state().fault_hits(), vec![1]);
    }
}
