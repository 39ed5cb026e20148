//! ServiceNow: auth envelope, create, references, queries (incl. ignored fields), paging,
//! journals, v1 quirks.

use reqwest::StatusCode;
use riskflow_sandbox::{ConfigPatch, SNOW_SECOPS_GROUP_SYS_ID, creds};
use serde_json::{Value, json};

use crate::common::{client, demo, header};

fn auth(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.basic_auth(creds::SERVICENOW_USER, Some(creds::SERVICENOW_PASSWORD))
}

async fn create_incident(c: &reqwest::Client, base: &str, correlation: &str) -> reqwest::Response {
    auth(c.post(format!("{base}/api/now/v2/table/incident")))
        .json(&json!({
            "short_description": format!("Incydr alert {correlation}"),
            "description": "details",
            "urgency": "2",
            "impact": 2,
            "assignment_group": SNOW_SECOPS_GROUP_SYS_ID,
            "correlation_id": correlation,
            "correlation_display": "Code42 Incydr",
            "not_a_field": "ignored"
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_credentials_get_the_user_not_authenticated_envelope() {
    let sb = demo().await;
    let c = client();
    let resp = c
        .get(format!("{}/api/now/table/incident", sb.url("servicenow")))
        .basic_auth("admin", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let text = resp.text().await.unwrap();
    assert_eq!(
        text,
        r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#
    );
}

#[tokio::test]
async fn creating_an_incident_answers_201_with_location_and_string_values() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    let resp = create_incident(&c, &base, "riskflow-alert-tickets-1").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let location = header(&resp, "location").unwrap();
    let v: Value = resp.json().await.unwrap();
    let r = &v["result"];
    let sys_id = r["sys_id"].as_str().unwrap();
    assert_eq!(sys_id.len(), 32);
    assert!(sys_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(location, format!("{base}/api/now/table/incident/{sys_id}"));
    assert_eq!(r["number"], "INC0010001");
    assert_eq!(r["impact"], "2");
    assert_eq!(r["urgency"], "2");
    assert_eq!(r["priority"], "3");
    assert_eq!(r["state"], "1");
    assert_eq!(r["correlation_id"], "riskflow-alert-tickets-1");
    assert_eq!(r["correlation_display"], "Code42 Incydr");
    assert!(r.get("not_a_field").is_none());
    assert_eq!(r["assignment_group"]["value"], SNOW_SECOPS_GROUP_SYS_ID);
    assert_eq!(
        r["assignment_group"]["link"],
        format!("{base}/api/now/table/sys_user_group/{SNOW_SECOPS_GROUP_SYS_ID}")
    );
    assert_eq!(r["caller_id"], "");
    for (k, val) in r.as_object().unwrap() {
        assert!(val.is_string() || val.is_object(), "{k} is {val}");
    }
    let second: Value = create_incident(&c, &base, "riskflow-alert-tickets-2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["result"]["number"], "INC0010002");
    let plain: Value = auth(c.get(format!(
        "{base}/api/now/table/incident/{sys_id}?sysparm_exclude_reference_link=true"
    )))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        plain["result"]["assignment_group"],
        SNOW_SECOPS_GROUP_SYS_ID
    );
    let display: Value = auth(c.get(format!("{base}/api/now/table/incident/{sys_id}?sysparm_display_value=true&sysparm_fields=urgency,number")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(display["result"]["urgency"], "2 - Medium");
    assert_eq!(display["result"].as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn a_query_by_correlation_id_finds_one_and_a_misspelled_field_is_ignored() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    for i in 0..3 {
        create_incident(&c, &base, &format!("riskflow-alert-tickets-{i}")).await;
    }
    let count = |q: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let v: Value = auth(c.get(format!("{base}/api/now/v2/table/incident")))
                .query(&[
                    ("sysparm_query", q),
                    ("sysparm_fields", "sys_id,number,correlation_id"),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["result"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("correlation_id=riskflow-alert-tickets-1").await, 1);
    assert_eq!(count("correlation_idd=riskflow-alert-tickets-1").await, 3);
    assert_eq!(count("correlation_idd=x^active=true").await, 3);
    assert_eq!(
        count("correlation_id=riskflow-alert-tickets-1^ORcorrelation_id=riskflow-alert-tickets-2")
            .await,
        2
    );
    assert_eq!(count("correlation_idSTARTSWITHriskflow-alert").await, 3);
    assert_eq!(count("short_descriptionLIKEtickets-2").await, 1);
    assert_eq!(count("correlation_id!=riskflow-alert-tickets-1").await, 2);
    assert_eq!(count("assignment_group.name=Security Operations").await, 3);
    sb.state().update_config(ConfigPatch {
        servicenow_invalid_query_returns_no_rows: Some(true),
        ..Default::default()
    });
    assert_eq!(count("correlation_idd=riskflow-alert-tickets-1").await, 0);
}

#[tokio::test]
async fn v1_answers_an_empty_list_with_404_and_v2_with_an_empty_result() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    let v1 = auth(c.get(format!(
        "{base}/api/now/v1/table/incident?sysparm_query=correlation_id=none"
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(v1.status(), StatusCode::NOT_FOUND);
    let body: Value = v1.json().await.unwrap();
    assert_eq!(body["error"]["message"], "No Record found");
    assert_eq!(body["status"], "failure");
    for path in ["/api/now/v2/table/incident", "/api/now/table/incident"] {
        let resp = auth(c.get(format!("{base}{path}?sysparm_query=correlation_id=none")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "x-total-count").as_deref(), Some("0"));
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v, json!({"result": []}));
    }
}

#[tokio::test]
async fn lists_page_with_total_count_and_link_headers() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    for i in 0..5 {
        create_incident(&c, &base, &format!("c{i}")).await;
    }
    let resp = auth(c.get(format!(
        "{base}/api/now/table/incident?sysparm_limit=2&sysparm_offset=2&sysparm_query=ORDERBYnumber"
    )))
    .send()
    .await
    .unwrap();
    assert_eq!(header(&resp, "x-total-count").as_deref(), Some("5"));
    let link = header(&resp, "link").unwrap();
    assert!(link.contains("rel=\"next\""), "{link}");
    assert!(link.contains("rel=\"prev\""), "{link}");
    assert!(link.contains("sysparm_offset=4"), "{link}");
    let v: Value = resp.json().await.unwrap();
    let numbers: Vec<&str> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, vec!["INC0010003", "INC0010004"]);
    let last = auth(c.get(format!(
        "{base}/api/now/table/incident?sysparm_limit=2&sysparm_offset=4"
    )))
    .send()
    .await
    .unwrap();
    assert!(!header(&last, "link").unwrap().contains("rel=\"next\""));
    let quiet = auth(c.get(format!(
        "{base}/api/now/table/incident?sysparm_limit=2&sysparm_suppress_pagination_header=true"
    )))
    .send()
    .await
    .unwrap();
    assert!(header(&quiet, "link").is_none());
}

#[tokio::test]
async fn work_notes_and_comments_append_to_the_journal() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    let v: Value = create_incident(&c, &base, "j1").await.json().await.unwrap();
    let sys_id = v["result"]["sys_id"].as_str().unwrap().to_string();
    for note in ["first note", "second note"] {
        let resp = auth(c.patch(format!("{base}/api/now/table/incident/{sys_id}")))
            .json(&json!({"work_notes": note}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    auth(c.patch(format!("{base}/api/now/table/incident/{sys_id}")))
        .json(&json!({"comments": "customer visible"}))
        .send()
        .await
        .unwrap();
    let inc = sb
        .state()
        .servicenow_incidents()
        .into_iter()
        .find(|i| i.sys_id == sys_id)
        .unwrap();
    assert_eq!(inc.work_notes, vec!["first note", "second note"]);
    assert_eq!(inc.comments, vec!["customer visible"]);
    assert_eq!(inc.fields["sys_mod_count"], "3");
    let journal: Value = auth(c.get(format!("{base}/api/now/table/sys_journal_field")))
        .query(&[(
            "sysparm_query",
            format!("element_id={sys_id}^element=work_notes"),
        )])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(journal["result"].as_array().unwrap().len(), 2);
    let missing = auth(c.patch(format!("{base}/api/now/table/incident/{}", "0".repeat(32))))
        .json(&json!({"work_notes": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_records_tables_and_versions_get_error_envelopes() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    let r = auth(c.get(format!("{base}/api/now/table/incident/{}", "f".repeat(32))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "No Record found");
    let r = auth(c.get(format!("{base}/api/now/table/incidentz")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "Invalid table incidentz");
    let r = auth(c.get(format!("{base}/api/now/v9/table/incident")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn callers_are_found_by_email_in_sys_user() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    let v: Value = auth(c.get(format!("{base}/api/now/table/sys_user")))
        .query(&[
            ("sysparm_query", "email=departing.dev@example.com"),
            ("sysparm_fields", "sys_id"),
            ("sysparm_limit", "1"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = v["result"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].as_object().unwrap().len(), 1);
    assert_eq!(rows[0]["sys_id"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn deleting_a_record_answers_204() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("servicenow");
    let v: Value = create_incident(&c, &base, "d").await.json().await.unwrap();
    let sys_id = v["result"]["sys_id"].as_str().unwrap();
    let r = auth(c.delete(format!("{base}/api/now/table/incident/{sys_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(sb.state().servicenow_incidents().is_empty());
}
