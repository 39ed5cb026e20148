//! ServiceNow Table API client request shapes (`reference/saas-apis.md` §2) against a
//! recording fake.

mod support_http;

use base64::Engine as _;
use riskflow::connectors::ConnectorError;
use riskflow::connectors::servicenow::*;
use secrecy::SecretString;
use serde_json::json;
use support_http::{Recorder, Reply, Request, http};

fn client(rec: &Recorder) -> ServiceNowClient {
    ServiceNowClient::new(rec.url(), "admin".into(), SecretString::from("snow-demo"), http())
}

fn new_incident() -> NewIncident {
    NewIncident {
        short_description: "Incydr alert 1234: file exfiltration".into(),
        description: "Actor: jdoe@example.com\nFiles: 3".into(),
        urgency: "2".into(),
        impact: "2".into(),
        correlation_id: "riskflow-alert-tickets-1234".into(),
        correlation_display: "Code42 Incydr".into(),
        assignment_group: Some("a5b2c9d1e3f4a5b6c7d8e9f0a1b2c3d4".into()),
        caller_id: Some("6816f79cc0a8016401c5a33be04be441".into()),
        category: None,
    }
}

#[tokio::test]
async fn create_incident_posts_the_exact_body_and_reads_reference_fields() {
    let rec = Recorder::start(|_| {
        Reply::json(
            201,
            json!({"result": {
                "sys_id": "9d385017c611228701d22104cc95c371", "number": "INC0010002",
                "correlation_id": "riskflow-alert-tickets-1234", "state": "1", "impact": "2",
                "assignment_group": {"link": "https://x/api/now/table/sys_user_group/a5b2", "value": "a5b2"},
                "caller_id": "", "sys_mod_count": "0"}}),
        )
        .header("location", "https://x/api/now/table/incident/9d385017c611228701d22104cc95c371")
    })
    .await;
    let inc = client(&rec).create_incident(&new_incident(), None).await.unwrap();
    assert_eq!(inc.sys_id, "9d385017c611228701d22104cc95c371");
    assert_eq!(inc.number.as_deref(), Some("INC0010002"));
    assert_eq!(inc.correlation_id.as_deref(), Some("riskflow-alert-tickets-1234"));
    assert_eq!(
        inc.link,
        format!("{}nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371", rec.url())
    );
    let r = &rec.requests()[0];
    assert_eq!(r.line(), "POST /api/now/v2/table/incident");
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let basic = base64::engine::general_purpose::STANDARD.encode("admin:snow-demo");
    assert_eq!(r.header("authorization"), Some(format!("Basic {basic}").as_str()));
    assert_eq!(
        r.body_str(),
        r#"{"short_description":"Incydr alert 1234: file exfiltration","description":"Actor: jdoe@example.com\nFiles: 3","urgency":"2","impact":"2","caller_id":"6816f79cc0a8016401c5a33be04be441","assignment_group":"a5b2c9d1e3f4a5b6c7d8e9f0a1b2c3d4","correlation_id":"riskflow-alert-tickets-1234","correlation_display":"Code42 Incydr"}"#
    );
}

#[tokio::test]
async fn a_create_that_fails_with_a_5xx_is_not_repeated_and_reads_the_envelope() {
    let rec = Recorder::start(|_| {
        Reply::json(
            500,
            json!({"error": {"message": "Operation Failed", "detail": "Transaction cancelled"}, "status": "failure"}),
        )
    })
    .await;
    let err = client(&rec).create_incident(&new_incident(), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "servicenow answered 500 to POST /api/now/v2/table/incident: Operation Failed (Transaction cancelled)"
    );
    assert!(err.outcome_unknown());
    assert_eq!(rec.requests().len(), 1);
}

#[tokio::test]
async fn bad_urgency_impact_and_correlation_ids_are_refused_before_sending() {
    let rec = Recorder::start(|_| Reply::json(201, json!({"result": {"sys_id": "x"}}))).await;
    let c = client(&rec);
    for bad in [
        NewIncident { urgency: "high".into(), ..new_incident() },
        NewIncident { impact: "4".into(), ..new_incident() },
        NewIncident { correlation_id: "a^ORcorrelation_id!=x".into(), ..new_incident() },
        NewIncident { short_description: "\n".into(), ..new_incident() },
    ] {
        assert!(matches!(c.create_incident(&bad, None).await, Err(ConnectorError::Invalid { .. })));
    }
    for cid in ["a^b", "a=b", "a&b", "a@b", "a\nb"] {
        assert!(matches!(
            c.find_by_correlation_id(cid, None).await,
            Err(ConnectorError::Invalid { .. })
        ));
    }
    assert!(rec.requests().is_empty());
}

#[tokio::test]
async fn find_by_correlation_id_sends_the_encoded_query_and_keeps_only_exact_matches() {
    // The trap: the instance ignores a query it does not understand and returns any incidents.
    let rec = Recorder::start(|_| {
        Reply::json(
            200,
            json!({"result": [
                {"sys_id": "a1", "number": "INC1", "correlation_id": "", "state": "1"},
                {"sys_id": "a2", "number": "INC2", "correlation_id": "riskflow-alert-tickets-999", "state": "2"},
                {"sys_id": "a3", "number": "INC3", "correlation_id": "RISKFLOW-ALERT-TICKETS-1234", "state": "1"}]}),
        )
    })
    .await;
    let c = client(&rec);
    assert_eq!(c.find_by_correlation_id("riskflow-alert-tickets-1234", None).await.unwrap(), None);
    let found = c
        .find_by_correlation_id("riskflow-alert-tickets-999", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.sys_id, "a2");
    assert_eq!(found.number.as_deref(), Some("INC2"));
    assert_eq!(found.state.as_deref(), Some("2"));
    assert_eq!(
        rec.requests()[0].line(),
        "GET /api/now/v2/table/incident?sysparm_query=correlation_id%3Driskflow-alert-tickets-1234&sysparm_fields=sys_id%2Cnumber%2Ccorrelation_id%2Cstate&sysparm_limit=10"
    );
}

#[tokio::test]
async fn an_empty_v2_result_is_none() {
    let rec = Recorder::start(|_| Reply::json(200, json!({"result": []}))).await;
    assert_eq!(client(&rec).find_by_correlation_id("x-1", None).await.unwrap(), None);
}

#[tokio::test]
async fn a_work_note_is_a_patch_of_work_notes() {
    let rec = Recorder::start(|_| Reply::json(200, json!({"result": {"sys_id": "abc"}}))).await;
    let c = client(&rec);
    c.add_work_note("abc", "Session gained new events\u{7}", None).await.unwrap();
    let r = &rec.requests()[0];
    assert_eq!(r.line(), "PATCH /api/now/v2/table/incident/abc");
    assert_eq!(r.body_str(), r#"{"work_notes":"Session gained new events"}"#);
    assert!(matches!(c.add_work_note("abc", " ", None).await, Err(ConnectorError::Invalid { .. })));
}

#[tokio::test]
async fn a_work_note_that_fails_with_a_5xx_is_not_repeated() {
    let rec = Recorder::start(|_| Reply::empty(502)).await;
    let err = client(&rec).add_work_note("abc", "note", None).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(rec.requests().len(), 1);
}

#[tokio::test]
async fn callers_are_found_by_exact_email() {
    let rec = Recorder::start(|_| {
        Reply::json(
            200,
            json!({"result": [{"sys_id": "u0", "email": "someone.else@example.com"},
                              {"sys_id": "u1", "email": "JDoe@Example.com"}]}),
        )
    })
    .await;
    let c = client(&rec);
    assert_eq!(
        c.user_sys_id_by_email("jdoe@example.com", None).await.unwrap().as_deref(),
        Some("u1")
    );
    assert_eq!(
        rec.requests()[0].line(),
        "GET /api/now/v2/table/sys_user?sysparm_query=email%3Djdoe%40example.com&sysparm_fields=sys_id%2Cemail&sysparm_limit=10"
    );
    assert_eq!(c.user_sys_id_by_email("nobody@example.com", None).await.unwrap(), None);
    assert!(c.user_sys_id_by_email("a@b.c^ORactive=true", None).await.is_err());
}

#[tokio::test]
async fn verify_uses_the_cheap_incident_read_and_401_reads_the_envelope() {
    let rec = Recorder::start(|r| {
        let ok = base64::engine::general_purpose::STANDARD.encode("admin:snow-demo");
        if r.header("authorization") == Some(format!("Basic {ok}").as_str()) {
            Reply::json(200, json!({"result": [{"sys_id": "x"}]}))
        } else {
            Reply::json(
                401,
                json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}),
            )
        }
    })
    .await;
    assert_eq!(client(&rec).verify(None).await.unwrap(), "Connected to ServiceNow as admin");
    assert_eq!(
        rec.requests()[0].line(),
        "GET /api/now/v2/table/incident?sysparm_limit=1&sysparm_fields=sys_id&sysparm_no_count=true"
    );
    let wrong = ServiceNowClient::new(rec.url(), "admin".into(), SecretString::from("nope"), http());
    let err = wrong.verify(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "servicenow answered 401 to GET /api/now/v2/table/incident: User Not Authenticated (Required to provide Auth information)"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let rec = Recorder::start(move |_| {
        if h.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::json(429, json!({"error": {"message": "Rate limit exceeded"}, "status": "failure"}))
                .header("retry-after", "1")
        } else {
            Reply::json(201, json!({"result": {"sys_id": "s1", "number": "INC9"}}))
        }
    })
    .await;
    let started = std::time::Instant::now();
    let inc = client(&rec).create_incident(&new_incident(), None).await.unwrap();
    assert_eq!(inc.number.as_deref(), Some("INC9"));
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(rec.requests().iter().map(Request::line).filter(|l| l.starts_with("POST")).count(), 2);
}

#[test]
fn client_futures_can_be_sent_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let c = ServiceNowClient::new(
        url::Url::parse("https://acme.service-now.com").unwrap(),
        "admin".into(),
        SecretString::from("x"),
        http(),
    );
    let inc = new_incident();
    assert_send(&c.verify(None));
    assert_send(&c.create_incident(&inc, None));
    assert_send(&c.find_by_correlation_id("x", None));
    assert_send(&c.add_work_note("x", "y", None));
    assert_send(&c.user_sys_id_by_email("a@b.c", None));
}
