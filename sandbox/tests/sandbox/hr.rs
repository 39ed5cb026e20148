//! HR sources: Workday RaaS, ADP (queue, workers, mutual TLS), BambooHR (API and signed
//! webhooks).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use riskflow_sandbox::{
    ADP_TERMINATED_AOID, ConfigPatch, DEPARTING_EMAIL, WebhookRequest, bamboohr_sign, creds,
};
use serde_json::{Value, json};

use crate::common::{client, demo, header};

#[tokio::test]
async fn the_workday_report_serves_rows_and_a_person_can_vanish_between_pulls() {
    let sb = demo().await;
    let c = client();
    let url = format!(
        "{}/ccx/service/customreport2/acme/ISU_demo/Terminations?format=json",
        sb.url("workday")
    );
    let v: Value = c
        .get(&url)
        .basic_auth("ISU_demo@acme", Some(creds::WORKDAY_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = v["Report_Entry"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    for k in [
        "Employee_ID",
        "Worker",
        "Email_-_Work",
        "Termination_Date",
        "Last_Day_of_Work",
        "Primary_Termination_Reason",
        "Business_Process_Event_WID",
    ] {
        assert!(rows[0].get(k).is_some(), "missing {k}");
    }
    assert_eq!(rows[0]["Email_-_Work"], DEPARTING_EMAIL);
    // Workday authenticates an integration system user as user@tenant: the bare name is 401.
    let bare = c
        .get(&url)
        .basic_auth(creds::WORKDAY_USER, Some(creds::WORKDAY_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    let bad = c
        .get(&url)
        .basic_auth(creds::WORKDAY_USER, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .put(format!("{}/_control/workday/rows", sb.base_url()))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let v: Value = c
        .get(&url)
        .basic_auth("ISU_demo@acme", Some(creds::WORKDAY_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"Report_Entry": []}));
}

#[tokio::test]
async fn the_workday_report_serves_20000_rows_a_malformed_row_and_an_empty_report_as_an_empty_object()
 {
    let sb = demo().await;
    let c = client();
    let url = format!(
        "{}/ccx/service/customreport2/acme/ISU_demo/Terminations?format=json",
        sb.url("workday")
    );
    let pull = || async {
        c.get(&url)
            .basic_auth("ISU_demo@acme", Some(creds::WORKDAY_PASSWORD))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let mut rows: Vec<Value> = (0..20_000)
        .map(|i| {
            json!({"Employee_ID": format!("{i:06}"), "Worker": format!("Person {i}"),
                "Email_-_Work": format!("p{i}@example.com"), "Termination_Date": "2030-01-31"})
        })
        .collect();
    // A malformed row is served as set: no email, a list where a value belongs.
    rows.push(json!({"Employee_ID": ["x", "y"], "Termination_Date": "2030-01-31"}));
    let put = |body: Value| {
        c.put(format!("{}/_control/workday/rows", sb.base_url()))
            .json(&body)
            .send()
    };
    assert_eq!(
        put(json!(rows)).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let v = pull().await;
    assert_eq!(v["Report_Entry"].as_array().unwrap().len(), 20_001);
    assert_eq!(v["Report_Entry"][20_000], rows[20_000]);

    let empty_answer = |body: Value| {
        c.put(format!("{}/_control/workday/empty-answer", sb.base_url()))
            .json(&body)
            .send()
    };
    assert_eq!(
        empty_answer(json!({})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    // Rows are still listed; once there are none, the answer is `{}`.
    assert_eq!(
        pull().await["Report_Entry"].as_array().unwrap().len(),
        20_001
    );
    put(json!([])).await.unwrap();
    assert_eq!(pull().await, json!({}));
    empty_answer(json!({"Report_Entry": []})).await.unwrap();
    assert_eq!(pull().await, json!({"Report_Entry": []}));
    assert_eq!(
        empty_answer(json!({"rows": 0})).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

async fn adp_token(c: &reqwest::Client, base: &str) -> String {
    let v: Value = c
        .post(format!(
            "{base}/auth/oauth/v2/token?grant_type=client_credentials"
        ))
        .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3600);
    assert!(v.get("scope").is_some());
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_adp_queue_serves_one_message_at_a_time_until_204() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("adp");
    let garbage_id = sb.state().push_adp_message("this is not json");
    let token = adp_token(&c, &base).await;
    let url = format!("{base}/core/v1/event-notification-messages");
    let first = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let msgid = header(&first, "adp-msg-msgid").unwrap();
    let v: Value = first.json().await.unwrap();
    assert_eq!(
        v["events"][0]["eventNameCode"]["codeValue"],
        "worker.terminate"
    );
    assert_eq!(
        v["events"][0]["data"]["output"]["worker"]["associateOID"],
        ADP_TERMINATED_AOID
    );
    // Without an ack the same message stays at the head.
    let again = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(header(&again, "adp-msg-msgid").unwrap(), msgid);
    let ack = c
        .delete(format!("{url}/{msgid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(ack.status().is_success());
    let second = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(header(&second, "adp-msg-msgid").unwrap(), garbage_id);
    assert_eq!(second.text().await.unwrap(), "this is not json");
    c.delete(format!("{url}/{garbage_id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let empty = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    assert_eq!(sb.state().adp_acks(), vec![msgid.clone(), garbage_id]);
    let twice = c
        .delete(format!("{url}/{msgid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), StatusCode::NOT_FOUND);
    let no_token = c.get(&url).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_future_dated_bamboohr_termination_is_answered_only_with_only_current_false() {
    let sb = demo().await;
    let future = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .saturating_add(jiff::Span::new().days(30))
        .to_string();
    sb.state()
        .add_bamboohr_employee(riskflow_sandbox::bamboohr::BambooEmployee {
            id: "778".into(),
            fields: serde_json::from_value(json!({
                "workEmail": "later@example.com", "status": "Inactive", "terminationDate": future
            }))
            .unwrap(),
        });
    let c = client();
    let url = format!(
        "{}/api/gateway.php/acme/v1/employees/778",
        sb.url("bamboohr")
    );
    let read = |extra: &'static str| {
        let c = c.clone();
        let url = url.clone();
        async move {
            let v: Value = c
                .get(format!("{url}?fields=status,terminationDate{extra}"))
                .basic_auth(creds::BAMBOOHR_API_KEY, Some("x"))
                .header("Accept", "application/json")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v["status"].clone(), v["terminationDate"].clone())
        }
    };
    assert_eq!(read("").await, (json!("Active"), Value::Null));
    assert_eq!(
        read("&onlyCurrent=false").await,
        (json!("Inactive"), json!(future))
    );
}

#[tokio::test]
async fn the_adp_token_refuses_duplicate_parameters_and_two_client_authentications() {
    let sb = demo().await;
    let c = client();
    let url = format!("{}/auth/oauth/v2/token", sb.url("adp"));
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"error": "invalid_request", "error_description": "Missing or duplicate parameters"})
        );
    };
    // Basic credentials and the same credentials as form fields: two authentication methods.
    let both = c
        .post(&url)
        .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", creds::ADP_CLIENT_ID),
            ("client_secret", creds::ADP_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    refused(both).await;
    // grant_type in the query and in the form body.
    let repeated = c
        .post(format!("{url}?grant_type=client_credentials"))
        .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    refused(repeated).await;
    // What ADP's libraries send: Basic and one form field.
    let ok = c
        .post(&url)
        .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_adp_token_takes_form_credentials_and_rejects_wrong_ones() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("adp");
    let ok = c
        .post(format!("{base}/auth/oauth/v2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", creds::ADP_CLIENT_ID),
            ("client_secret", creds::ADP_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let bad = c
        .post(format!(
            "{base}/auth/oauth/v2/token?grant_type=client_credentials"
        ))
        .basic_auth(creds::ADP_CLIENT_ID, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
}

#[tokio::test]
async fn adp_workers_carry_the_business_email_and_termination() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("adp");
    let token = adp_token(&c, &base).await;
    let v: Value = c
        .get(format!("{base}/hr/v2/workers/{ADP_TERMINATED_AOID}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let w = &v["workers"][0];
    assert_eq!(w["associateOID"], ADP_TERMINATED_AOID);
    assert_eq!(w["workerID"]["idValue"], "GN4IKM9XR");
    let email = &w["businessCommunication"]["emails"][0];
    assert_eq!(email["nameCode"]["codeValue"], "Business");
    assert_eq!(email["emailUri"], "carol.contractor@example.com");
    assert!(w["workerDates"]["terminationDate"].is_string());
    assert_eq!(w["workerStatus"]["statusCode"]["codeValue"], "T");
    let missing = c
        .get(format!("{base}/hr/v2/workers/NOPE"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_plain_listener_can_demand_a_client_certificate() {
    let sb = demo().await;
    sb.state().update_config(ConfigPatch {
        adp_plain_requires_client_cert: Some(true),
        ..Default::default()
    });
    let c = client();
    let r = c
        .post(format!(
            "{}/auth/oauth/v2/token?grant_type=client_credentials",
            sb.url("adp")
        ))
        .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(
        v["error_description"],
        "proper client ssl certificate was not presented"
    );
}

#[tokio::test]
async fn the_adp_mtls_listener_requires_a_client_certificate_from_the_demo_ca() {
    let mut sb = demo().await;
    let url = sb.start_adp_mtls(0).await.unwrap();
    assert!(url.starts_with("https://127.0.0.1:"));
    let material = sb.state().adp_tls().unwrap();
    let ca = reqwest::Certificate::from_pem(material.ca_cert_pem.as_bytes()).unwrap();

    let without = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca.clone()])
        .build()
        .unwrap();
    let err = without
        .post(format!(
            "{url}/auth/oauth/v2/token?grant_type=client_credentials"
        ))
        .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
        .send()
        .await;
    assert!(
        err.is_err(),
        "a connection without a client certificate must fail"
    );

    let identity = reqwest::Identity::from_pem(material.client_identity_pem().as_bytes()).unwrap();
    let with = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([ca])
        .identity(identity)
        .build()
        .unwrap();
    for base in [url.clone(), format!("{url}/adp")] {
        let r = with
            .post(format!(
                "{base}/auth/oauth/v2/token?grant_type=client_credentials"
            ))
            .basic_auth(creds::ADP_CLIENT_ID, Some(creds::ADP_CLIENT_SECRET))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{base}");
    }
    let token = adp_token(&with, &url).await;
    let r = with
        .get(format!("{url}/core/v1/event-notification-messages"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        sb.state()
            .counts()
            .route("adp", "GET", "/core/v1/event-notification-messages")
            >= 1
    );
    let certs = client()
        .get(format!("{}/_control/adp/certs", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(certs.status(), StatusCode::OK);
}

#[tokio::test]
async fn bamboohr_returns_the_requested_fields_on_both_path_forms() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("bamboohr");
    for path in [
        "/api/v1/employees/67890?fields=workEmail,status,terminationDate&onlyCurrent=false",
        "/api/gateway.php/acme/v1/employees/67890?fields=workEmail,status,terminationDate&onlyCurrent=false",
    ] {
        let r = c
            .get(format!("{base}{path}"))
            .basic_auth(creds::BAMBOOHR_API_KEY, Some("x"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["id"], "67890");
        assert_eq!(v["workEmail"], "dan.designer@example.com");
        assert_eq!(v["status"], "Inactive");
        assert!(v["terminationDate"].is_string());
    }
    let bad = c
        .get(format!("{base}/api/v1/employees/67890"))
        .basic_auth("wrong-key", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let missing = c
        .get(format!("{base}/api/v1/employees/1"))
        .basic_auth(creds::BAMBOOHR_API_KEY, Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

type Captured = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Captured) {
    let seen: Captured = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push((headers, body));
                (axum::http::StatusCode::ACCEPTED, "queued")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test]
async fn the_sandbox_pushes_signed_bamboohr_webhooks_in_both_formats() {
    let sb = demo().await;
    let (url, seen) = receiver().await;
    let c = client();
    let d: Value = c
        .post(format!("{}/_control/bamboohr/webhook", sb.base_url()))
        .json(&json!({"url": url, "employee_id": "67890"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], 202);
    assert_eq!(d["response_body"], "queued");
    let delivery = sb
        .state()
        .send_bamboohr_webhook(WebhookRequest {
            url: url.clone(),
            employee_id: "67890".into(),
            format: Some("fields".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(delivery.status, 202);
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for (headers, body) in &got {
        let ts = headers["x-bamboohr-timestamp"].to_str().unwrap();
        let sig = headers["x-bamboohr-signature"].to_str().unwrap();
        assert_eq!(
            sig,
            bamboohr_sign(creds::BAMBOOHR_WEBHOOK_KEY.as_bytes(), body, ts)
        );
    }
    let event: Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(event["type"], "employee.updated");
    assert_eq!(event["data"]["employeeId"], "67890");
    assert_eq!(event["data"]["changedFields"], json!(["status"]));
    let fields: Value = serde_json::from_slice(&got[1].1).unwrap();
    assert_eq!(fields["employees"][0]["id"], 67890);
    assert_eq!(
        fields["employees"][0]["fields"]["workEmail"]["value"],
        "dan.designer@example.com"
    );
    assert_eq!(sb.state().snapshot().bamboohr_deliveries.len(), 2);
}
