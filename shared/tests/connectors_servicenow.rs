//! ServiceNow Table API client request shapes (ServiceNow's Table API reference,
//! `c_TableAPI.md` in the ServiceNow/ServiceNowDocs repository on GitHub) against a
//! recording fake.

mod support_http;

use base64::Engine as _;
use riskflow::connectors::ConnectorError;
use riskflow::connectors::servicenow::*;
use secrecy::SecretString;
use serde_json::json;
use support_http::{Recorder, Reply, Request, http};

fn client(rec: &Recorder) -> ServiceNowClient {
    ServiceNowClient::new(
        rec.url(),
        "admin".into(),
        SecretString::from("snow-demo"),
        http(),
    )
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
    let inc = client(&rec)
        .create_incident(&new_incident(), None)
        .await
        .unwrap();
    assert_eq!(inc.sys_id, "9d385017c611228701d22104cc95c371");
    assert_eq!(inc.number.as_deref(), Some("INC0010002"));
    assert_eq!(
        inc.correlation_id.as_deref(),
        Some("riskflow-alert-tickets-1234")
    );
    assert_eq!(
        inc.link,
        format!(
            "{}nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371",
            rec.url()
        )
    );
    let r = &rec.requests()[0];
    assert_eq!(r.line(), "POST /api/now/v2/table/incident");
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let basic = base64::engine::general_purpose::STANDARD.encode("admin:snow-demo");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
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
    let err = client(&rec)
        .create_incident(&new_incident(), None)
        .await
        .unwrap_err();
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
        NewIncident {
            urgency: "high".into(),
            ..new_incident()
        },
        NewIncident {
            impact: "4".into(),
            ..new_incident()
        },
        NewIncident {
            correlation_id: "a^ORcorrelation_id!=x".into(),
            ..new_incident()
        },
        NewIncident {
            short_description: "\n".into(),
            ..new_incident()
        },
    ] {
        assert!(matches!(
            c.create_incident(&bad, None).await,
            Err(ConnectorError::Invalid { .. })
        ));
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
    assert_eq!(
        c.find_by_correlation_id("riskflow-alert-tickets-1234", None)
            .await
            .unwrap(),
        None
    );
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
    assert_eq!(
        client(&rec)
            .find_by_correlation_id("x-1", None)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_work_note_is_a_patch_of_work_notes() {
    let rec = Recorder::start(|_| Reply::json(200, json!({"result": {"sys_id": "abc"}}))).await;
    let c = client(&rec);
    c.add_work_note("abc", "Session gained new events\u{7}", None)
        .await
        .unwrap();
    let r = &rec.requests()[0];
    assert_eq!(r.line(), "PATCH /api/now/v2/table/incident/abc");
    assert_eq!(
        r.body_str(),
        r#"{"work_notes":"Session gained new events"}"#
    );
    assert!(matches!(
        c.add_work_note("abc", " ", None).await,
        Err(ConnectorError::Invalid { .. })
    ));
}

#[tokio::test]
async fn a_work_note_that_fails_with_a_5xx_is_not_repeated() {
    let rec = Recorder::start(|_| Reply::empty(502)).await;
    let err = client(&rec)
        .add_work_note("abc", "note", None)
        .await
        .unwrap_err();
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
        c.user_sys_id_by_email("jdoe@example.com", None)
            .await
            .unwrap()
            .as_deref(),
        Some("u1")
    );
    assert_eq!(
        rec.requests()[0].line(),
        "GET /api/now/v2/table/sys_user?sysparm_query=email%3Djdoe%40example.com&sysparm_fields=sys_id%2Cemail&sysparm_limit=10"
    );
    assert_eq!(
        c.user_sys_id_by_email("nobody@example.com", None)
            .await
            .unwrap(),
        None
    );
    assert!(
        c.user_sys_id_by_email("a@b.c^ORactive=true", None)
            .await
            .is_err()
    );
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
    assert_eq!(
        client(&rec).verify(None).await.unwrap(),
        "Connected to ServiceNow as admin"
    );
    assert_eq!(
        rec.requests()[0].line(),
        "GET /api/now/v2/table/incident?sysparm_limit=1&sysparm_fields=sys_id&sysparm_no_count=true"
    );
    let wrong = ServiceNowClient::new(
        rec.url(),
        "admin".into(),
        SecretString::from("nope"),
        http(),
    );
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
            Reply::json(
                429,
                json!({"error": {"message": "Rate limit exceeded"}, "status": "failure"}),
            )
            .header("retry-after", "1")
        } else {
            Reply::json(201, json!({"result": {"sys_id": "s1", "number": "INC9"}}))
        }
    })
    .await;
    let started = std::time::Instant::now();
    let inc = client(&rec)
        .create_incident(&new_incident(), None)
        .await
        .unwrap();
    assert_eq!(inc.number.as_deref(), Some("INC9"));
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(
        rec.requests()
            .iter()
            .map(Request::line)
            .filter(|l| l.starts_with("POST"))
            .count(),
        2
    );
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

// ---------------------------------------------------------------------------------------------
// Against the sandbox (`riskflow-sandbox`, demo data)

mod against_the_sandbox {
    use super::*;
    use riskflow_sandbox::{
        DEPARTING_EMAIL, FaultKind, FaultRule, SNOW_SECOPS_GROUP_SYS_ID, Sandbox, creds, seed_demo,
    };

    pub(super) async fn demo() -> (Sandbox, ServiceNowClient) {
        let sb = Sandbox::start(0).await.expect("sandbox");
        seed_demo(&sb.state());
        let c = ServiceNowClient::new(
            url::Url::parse(&sb.url("servicenow")).unwrap(),
            creds::SERVICENOW_USER.into(),
            SecretString::from(creds::SERVICENOW_PASSWORD),
            http(),
        );
        (sb, c)
    }

    fn incident(cid: &str, severity: u8) -> NewIncident {
        let (urgency, impact) = urgency_impact_for_severity(severity);
        NewIncident {
            short_description: format!("Incydr alert {cid}"),
            description: "Actor: departing.dev@example.com\nFiles: platform-src.zip".into(),
            urgency: urgency.into(),
            impact: impact.into(),
            correlation_id: cid.into(),
            correlation_display: "Code42 Incydr".into(),
            assignment_group: Some(SNOW_SECOPS_GROUP_SYS_ID.into()),
            caller_id: None,
            category: Some("security".into()),
        }
    }

    #[tokio::test]
    async fn an_incident_is_created_found_by_correlation_id_and_noted() {
        let (sb, c) = demo().await;
        assert_eq!(
            c.verify(None).await.unwrap(),
            "Connected to ServiceNow as admin"
        );
        let caller = c.user_sys_id_by_email(DEPARTING_EMAIL, None).await.unwrap();
        assert!(caller.is_some());
        assert_eq!(
            c.user_sys_id_by_email("nobody@example.com", None)
                .await
                .unwrap(),
            None
        );

        let new = NewIncident {
            caller_id: caller.clone(),
            ..incident("riskflow-alert-tickets-5e55-demo-departing-0001", 4)
        };
        let created = c.create_incident(&new, None).await.unwrap();
        assert_eq!(created.sys_id.len(), 32);
        assert!(
            created
                .number
                .as_deref()
                .is_some_and(|n| n.starts_with("INC"))
        );
        assert!(created.link.ends_with(&created.sys_id));

        let views = sb.state().servicenow_incidents();
        assert_eq!(views.len(), 1);
        let f = &views[0].fields;
        assert_eq!(
            f.get("correlation_id").map(String::as_str),
            Some(new.correlation_id.as_str())
        );
        assert_eq!(
            f.get("correlation_display").map(String::as_str),
            Some("Code42 Incydr")
        );
        assert_eq!(f.get("urgency").map(String::as_str), Some("1"));
        assert_eq!(f.get("impact").map(String::as_str), Some("1"));
        assert_eq!(
            f.get("assignment_group").map(String::as_str),
            Some(SNOW_SECOPS_GROUP_SYS_ID)
        );
        assert_eq!(f.get("caller_id"), caller.as_ref());

        let found = c
            .find_by_correlation_id(&new.correlation_id, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.sys_id, created.sys_id);
        assert_eq!(found.number, created.number);

        c.add_work_note(&created.sys_id, "Session gained 2 new events", None)
            .await
            .unwrap();
        let views = sb.state().servicenow_incidents();
        assert_eq!(
            views[0].work_notes,
            vec!["Session gained 2 new events".to_string()]
        );

        // A work note is found again by a marker in its text (sys_journal_field), and only on
        // its own incident.
        let marker = "riskflow-alert-tickets-s1.1764000000000";
        assert!(
            !c.work_note_contains(&created.sys_id, marker, None)
                .await
                .unwrap()
        );
        c.add_work_note(
            &created.sys_id,
            &format!("Session gained data\nreference {marker}"),
            None,
        )
        .await
        .unwrap();
        assert!(
            c.work_note_contains(&created.sys_id, marker, None)
                .await
                .unwrap()
        );
        let other = c
            .create_incident(&incident("riskflow-other", 2), None)
            .await
            .unwrap();
        assert!(
            !c.work_note_contains(&other.sys_id, marker, None)
                .await
                .unwrap()
        );
        // A marker an encoded query would misread is refused before any request.
        assert!(
            c.work_note_contains(&created.sys_id, "a^b", None)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn find_by_correlation_id_survives_the_ignored_field_trap() {
        let (sb, c) = demo().await;
        for cid in ["riskflow-x-1", "riskflow-x-10", "riskflow-x-2"] {
            c.create_incident(&incident(cid, 2), None).await.unwrap();
        }
        // The trap is live: a misspelled field is dropped and every incident comes back.
        let raw: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{}/api/now/v2/table/incident?sysparm_query=correlation_idd%3Driskflow-x-1&sysparm_fields=sys_id",
                sb.url("servicenow")
            ))
            .basic_auth(creds::SERVICENOW_USER, Some(creds::SERVICENOW_PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(raw["result"].as_array().map(Vec::len), Some(3));

        // Ours asks the right field and re-checks the value anyway.
        let one = c
            .find_by_correlation_id("riskflow-x-1", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.correlation_id.as_deref(), Some("riskflow-x-1"));
        let ten = c
            .find_by_correlation_id("riskflow-x-10", None)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(one.sys_id, ten.sys_id);
        assert_eq!(
            c.find_by_correlation_id("riskflow-x-3", None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            c.find_by_correlation_id("riskflow-x", None).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn wrong_credentials_are_a_401_with_the_envelope_message() {
        let (sb, _) = demo().await;
        let c = ServiceNowClient::new(
            url::Url::parse(&sb.url("servicenow")).unwrap(),
            "admin".into(),
            SecretString::from("wrong"),
            http(),
        );
        let err = c.verify(None).await.unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert_eq!(
            err.to_string(),
            "servicenow answered 401 to GET /api/now/v2/table/incident: User Not Authenticated (Required to provide Auth information)"
        );
    }

    #[tokio::test]
    async fn a_429_with_retry_after_on_create_is_waited_out_and_creates_once() {
        let (sb, c) = demo().await;
        sb.state().add_fault(
            FaultRule::new(
                "servicenow",
                FaultKind::RateLimit {
                    retry_after: Some(1),
                },
            )
            .method("POST")
            .max_hits(1),
        );
        let started = std::time::Instant::now();
        c.create_incident(&incident("riskflow-429-1", 3), None)
            .await
            .unwrap();
        assert!(started.elapsed() >= std::time::Duration::from_millis(900));
        assert_eq!(sb.state().fault_hits(), vec![1]);
        assert_eq!(sb.state().servicenow_incidents().len(), 1);
    }

    #[tokio::test]
    async fn a_create_whose_answer_is_lost_is_found_by_correlation_id_not_repeated() {
        let (sb, c) = demo().await;
        sb.state().add_fault(
            FaultRule::new("servicenow", FaultKind::StoredThenError { status: 500 })
                .method("POST")
                .max_hits(1),
        );
        let err = c
            .create_incident(&incident("riskflow-lost-1", 3), None)
            .await
            .unwrap_err();
        assert!(err.outcome_unknown());
        assert_eq!(sb.state().servicenow_incidents().len(), 1);
        assert!(
            c.find_by_correlation_id("riskflow-lost-1", None)
                .await
                .unwrap()
                .is_some()
        );
    }
}

// The incident life cycle against the sandbox: resolution codes, resolve, reopen, close.

mod workflows {
    use super::*;
    use riskflow::connectors::servicenow::workflow::STATE_IN_PROGRESS;
    use riskflow::connectors::servicenow::{Resolution, SnowWorkflowError};
    use riskflow_sandbox::servicenow::SnowAnalystUpdate;
    use riskflow_sandbox::{Sandbox, creds};

    /// The demo sandbox, and a client as the `itil` integration user.
    async fn demo() -> (Sandbox, ServiceNowClient) {
        let (sb, admin) = super::against_the_sandbox::demo().await;
        let c = ServiceNowClient::new(
            admin.base_url().clone(),
            creds::SERVICENOW_ITIL_USER.into(),
            SecretString::from(creds::SERVICENOW_ITIL_PASSWORD),
            http(),
        );
        (sb, c)
    }

    async fn new_incident(c: &ServiceNowClient, key: &str) -> String {
        let (urgency, impact) = urgency_impact_for_severity(2);
        let new = NewIncident {
            short_description: format!("Incydr session {key}"),
            description: "session".into(),
            urgency: urgency.into(),
            impact: impact.into(),
            correlation_id: key.into(),
            correlation_display: "Code42 Incydr".into(),
            assignment_group: None,
            caller_id: None,
            category: None,
        };
        c.create_incident(&new, None).await.unwrap().sys_id
    }

    fn resolution(code: &str) -> Resolution {
        Resolution {
            close_code: code.into(),
            close_notes: "Incydr session closed as CLOSED_TP by riskflow".into(),
            work_note: Some("[riskflow:s-1:closed] Closed in Incydr".into()),
        }
    }

    #[tokio::test]
    async fn resolve_reopen_and_a_closed_incident_that_cannot_be_reopened() {
        let (sb, c) = demo().await;
        let codes = c.close_codes(None).await.unwrap();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().any(|c| c.value == "Solution provided"));
        assert!(
            !codes.iter().any(|c| c.value == "1"),
            "state choices are not close codes"
        );

        let id = new_incident(&c, "incydr-s-1").await;
        // A code the instance does not list: refused before anything is sent.
        let e = c
            .resolve_incident(&id, &resolution("Solved (Permanently)"), &codes, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, SnowWorkflowError::UnknownCloseCode { .. }),
            "{e}"
        );

        let st = c
            .resolve_incident(&id, &resolution("Solution provided"), &codes, None)
            .await
            .unwrap();
        assert_eq!(st.state.as_deref(), Some("6"));
        assert_eq!(st.close_code.as_deref(), Some("Solution provided"));
        assert_eq!(
            st.sys_updated_by.as_deref(),
            Some(creds::SERVICENOW_ITIL_USER)
        );
        assert_eq!(st.sys_mod_count.as_deref(), Some("1"));
        let view = sb
            .state()
            .servicenow_incidents()
            .into_iter()
            .find(|i| i.sys_id == id)
            .unwrap();
        assert_eq!(
            view.work_notes,
            vec!["[riskflow:s-1:closed] Closed in Incydr".to_string()]
        );
        assert!(
            c.work_note_contains(&id, "[riskflow:s-1:closed]", None)
                .await
                .unwrap()
        );

        let st = c
            .reopen_incident(&id, Some("new data"), None)
            .await
            .unwrap();
        assert_eq!(st.state.as_deref(), Some(STATE_IN_PROGRESS));
        assert_eq!(st.reopen_count.as_deref(), Some("1"));
        // Already open: nothing sent.
        let mods = st.sys_mod_count.clone();
        let st = c.reopen_incident(&id, None, None).await.unwrap();
        assert_eq!(st.sys_mod_count, mods);

        // An analyst resolves, the auto-close job closes it: it cannot be reopened.
        sb.state()
            .servicenow_analyst_update(
                &id,
                &SnowAnalystUpdate {
                    fields: serde_json::from_value(
                        json!({"state": "6", "close_code": "User error", "close_notes": "FP"}),
                    )
                    .unwrap(),
                    user: "analyst.one".into(),
                    admin: false,
                },
            )
            .unwrap();
        let st = c.incident_state(&id, None).await.unwrap();
        assert_eq!(
            (st.sys_updated_by.as_deref(), st.close_code.as_deref()),
            (Some("analyst.one"), Some("User error"))
        );
        // Resolving what is resolved leaves the analyst's resolution.
        let st = c
            .resolve_incident(&id, &resolution("Solution provided"), &codes, None)
            .await
            .unwrap();
        assert_eq!(st.close_code.as_deref(), Some("User error"));
        let number = st.number.clone().unwrap();
        assert_eq!(
            sb.state().servicenow_autoclose(7),
            Vec::<String>::new(),
            "resolved today"
        );
        assert_eq!(sb.state().servicenow_autoclose(0), vec![number.clone()]);
        let e = c.reopen_incident(&id, None, None).await.unwrap_err();
        assert!(
            matches!(&e, SnowWorkflowError::Closed { number: n, .. } if *n == number),
            "{e}"
        );
        assert_eq!(
            c.incident_state(&id, None).await.unwrap().state.as_deref(),
            Some("7")
        );
    }

    #[tokio::test]
    async fn the_instance_refuses_what_the_data_policy_and_the_acls_refuse() {
        let (sb, c) = demo().await;
        let id = new_incident(&c, "incydr-s-2").await;
        let raw = reqwest::Client::new();
        let url = format!("{}/api/now/table/incident/{id}", sb.url("servicenow"));
        let patch = |user: &'static str, pass: &'static str, body: serde_json::Value| {
            raw.patch(&url)
                .basic_auth(user, Some(pass))
                .json(&body)
                .send()
        };
        let itil = (creds::SERVICENOW_ITIL_USER, creds::SERVICENOW_ITIL_PASSWORD);
        let r = patch(
            itil.0,
            itil.1,
            json!({"state": "6", "close_code": "Duplicate"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["detail"],
            "Data Policy Exception: The following fields are mandatory: Resolution notes"
        );
        let r = patch(
            itil.0,
            itil.1,
            json!({"state": "7", "close_code": "Duplicate", "close_notes": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 403, "closing needs admin");
        let r = patch(
            creds::SERVICENOW_USER,
            creds::SERVICENOW_PASSWORD,
            json!({"state": "7", "close_code": "Duplicate", "close_notes": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let r = patch(itil.0, itil.1, json!({"work_notes": "late"}))
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            403,
            "a Closed incident is read-only for non-admins"
        );
        let view = sb
            .state()
            .servicenow_incidents()
            .into_iter()
            .find(|i| i.sys_id == id)
            .unwrap();
        assert!(view.work_notes.is_empty());
        assert_eq!(view.fields["active"], "false");
        assert!(!view.fields["closed_at"].is_empty());
        let e = sb
            .state()
            .servicenow_analyst_update(
                &id,
                &SnowAnalystUpdate {
                    fields: serde_json::from_value(json!({"state": "2"})).unwrap(),
                    user: "analyst.two".into(),
                    admin: false,
                },
            )
            .unwrap_err();
        assert!(e.contains("ACL Exception"), "{e}");
    }
}
