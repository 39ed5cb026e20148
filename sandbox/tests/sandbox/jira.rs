//! Jira: auth, create validation, ADF, comments, search/jql, lag, removed search.

use reqwest::StatusCode;
use riskflow_sandbox::creds;
use serde_json::{Value, json};

use crate::common::{adf, client, demo, json_of};

fn issue(summary: &str, labels: Value, description: Value) -> Value {
    json!({"fields": {
        "project": {"key": "SEC"},
        "issuetype": {"name": "Task"},
        "summary": summary,
        "description": description,
        "labels": labels,
        "priority": {"name": "High"}
    }})
}

async fn create(c: &reqwest::Client, base: &str, body: &Value) -> reqwest::Response {
    c.post(format!("{base}/rest/api/3/issue"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn search(c: &reqwest::Client, base: &str, body: Value) -> reqwest::Response {
    c.post(format!("{base}/rest/api/3/search/jql"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn myself_needs_valid_credentials_and_wrong_ones_get_the_error_collection() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let ok: Value = c
        .get(format!("{base}/rest/api/3/myself"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for k in [
        "accountId",
        "displayName",
        "emailAddress",
        "active",
        "timeZone",
        "locale",
        "accountType",
    ] {
        assert!(ok.get(k).is_some(), "myself misses {k}");
    }
    let bad = c
        .get(format!("{base}/rest/api/3/myself"))
        .basic_auth(creds::JIRA_EMAIL, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let body: Value = bad.json().await.unwrap();
    assert!(body["errorMessages"].as_array().unwrap().len() == 1);
    assert!(body["errors"].as_object().unwrap().is_empty());
    let anon = c
        .get(format!("{base}/rest/api/3/myself"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn anonymous_search_silently_returns_nothing() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    create(&c, &base, &issue("one", json!(["a"]), adf("x"))).await;
    let v: Value = c
        .get(format!(
            "{base}/rest/api/3/search/jql?jql=project%20%3D%20SEC"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["issues"].as_array().unwrap().len(), 0);
    assert_eq!(v["isLast"], true);
}

#[tokio::test]
async fn server_info_says_cloud_and_fields_are_listed() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let info: Value = c
        .get(format!("{base}/rest/api/2/serverInfo"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["deploymentType"], "Cloud");
    let fields: Value = c
        .get(format!("{base}/rest/api/3/field"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"labels") && ids.contains(&"summary") && ids.contains(&"description"));
}

#[tokio::test]
async fn creating_an_issue_answers_201_with_id_key_and_self_and_it_reads_back() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let resp = create(
        &c,
        &base,
        &issue(
            "Incydr alert",
            json!(["incydr", "riskflow-alert-1"]),
            adf("Alert id: 1"),
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["key"], "SEC-1");
    let id = v["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok());
    assert_eq!(v["self"], format!("{base}/rest/api/3/issue/{id}"));
    let got: Value = c
        .get(format!(
            "{base}/rest/api/3/issue/SEC-1?fields=summary,labels,priority"
        ))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["key"], "SEC-1");
    assert_eq!(got["fields"]["summary"], "Incydr alert");
    assert_eq!(got["fields"]["priority"]["name"], "High");
    assert!(got["fields"].get("description").is_none());
    let by_id = c
        .get(format!("{base}/rest/api/3/issue/{id}"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.status(), StatusCode::OK);
    let missing = c
        .get(format!("{base}/rest/api/3/issue/SEC-99"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let issues = sb.state().jira_issues();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].labels, vec!["incydr", "riskflow-alert-1"]);
}

#[tokio::test]
async fn a_plain_string_description_gets_the_exact_adf_error_body() {
    let sb = demo().await;
    let c = client();
    let resp = create(
        &c,
        &sb.url("jira"),
        &issue("x", json!([]), json!("plain text")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.unwrap();
    assert_eq!(
        text,
        r#"{"errorMessages":[],"errors":{"description":"Operation value must be an Atlassian Document (see the Atlassian Document Format)"}}"#
    );
    assert!(sb.state().jira_issues().is_empty());
}

#[tokio::test]
async fn malformed_adf_labels_priorities_projects_and_fields_are_rejected() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let empty_text = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]});
    let unknown_node = json!({"type":"doc","version":1,"content":[{"type":"blink","content":[]}]});
    let cases = vec![
        ("description", issue("x", json!([]), empty_text)),
        ("description", issue("x", json!([]), unknown_node)),
        ("labels", issue("x", json!(["has space"]), adf("x"))),
        ("summary", issue("", json!([]), adf("x"))),
        ("priority", {
            let mut b = issue("x", json!([]), adf("x"));
            b["fields"]["priority"] = json!({"name": "Urgent"});
            b
        }),
        ("project", {
            let mut b = issue("x", json!([]), adf("x"));
            b["fields"]["project"] = json!({"key": "NOPE"});
            b
        }),
        ("issuetype", {
            let mut b = issue("x", json!([]), adf("x"));
            b["fields"]["issuetype"] = json!({"name": "Saga"});
            b
        }),
        ("customfield_99999", {
            let mut b = issue("x", json!([]), adf("x"));
            b["fields"]["customfield_99999"] = json!("v");
            b
        }),
    ];
    for (field, body) in cases {
        let resp = create(&c, &base, &body).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{field}");
        let v: Value = resp.json().await.unwrap();
        assert!(v["errors"].get(field).is_some(), "{field}: {v}");
    }
    assert!(sb.state().jira_issues().is_empty());
    let mut by_id = issue("x", json!([]), adf("x"));
    by_id["fields"]["priority"] = json!({"id": "1"});
    assert_eq!(
        create(&c, &base, &by_id).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn comments_need_adf_and_answer_201() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    create(&c, &base, &issue("x", json!([]), adf("x"))).await;
    let post = |body: Value| {
        let c = c.clone();
        let url = format!("{base}/rest/api/3/issue/SEC-1/comment");
        async move {
            c.post(url)
                .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let ok = post(json!({"body": adf("session grew")})).await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    let v: Value = ok.json().await.unwrap();
    for k in ["id", "self", "author", "body", "created", "updated"] {
        assert!(v.get(k).is_some(), "comment misses {k}");
    }
    let plain = post(json!({"body": "plain"})).await;
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let v: Value = plain.json().await.unwrap();
    assert!(
        v["errors"]["comment"]
            .as_str()
            .unwrap()
            .contains("Atlassian Document")
    );
    let empty = post(json!({"body": {"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]}})).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let issues = sb.state().jira_issues();
    assert_eq!(issues[0].comments.len(), 1);
}

#[tokio::test]
async fn search_by_label_pages_with_next_page_token_and_returns_ids_by_default() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    for i in 0..5 {
        create(
            &c,
            &base,
            &issue(&format!("n{i}"), json!(["bulk"]), adf("x")),
        )
        .await;
    }
    create(&c, &base, &issue("other", json!(["other"]), adf("x"))).await;
    let first: Value = search(
        &c,
        &base,
        json!({"jql": "project = SEC AND labels = \"bulk\" ORDER BY created ASC", "maxResults": 2}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(first["issues"].as_array().unwrap().len(), 2);
    assert_eq!(first["isLast"], false);
    assert_eq!(
        first["issues"][0].as_object().unwrap().len(),
        1,
        "ids only: {first}"
    );
    let mut token = first["nextPageToken"].as_str().unwrap().to_string();
    let mut total = 2;
    loop {
        let page: Value = search(&c, &base, json!({"jql": "project = SEC AND labels = \"bulk\" ORDER BY created ASC", "maxResults": 2, "nextPageToken": token})).await.json().await.unwrap();
        total += page["issues"].as_array().unwrap().len();
        if page["isLast"] == true {
            assert!(page.get("nextPageToken").is_none());
            break;
        }
        token = page["nextPageToken"].as_str().unwrap().to_string();
    }
    assert_eq!(total, 5);
    let with_fields: Value = c
        .get(format!("{base}/rest/api/3/search/jql"))
        .query(&[("jql", "labels = other"), ("fields", "summary,labels")])
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(with_fields["issues"][0]["key"], "SEC-6");
    assert_eq!(with_fields["issues"][0]["fields"]["summary"], "other");
    let bad_token = search(
        &c,
        &base,
        json!({"jql": "project = SEC", "nextPageToken": "garbage"}),
    )
    .await;
    assert_eq!(bad_token.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unbounded_or_unknown_jql_is_rejected() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    for jql in [
        "",
        "ORDER BY created DESC",
        "labelz = x",
        "project = NOPE",
        "project = SEC AND",
    ] {
        let resp = search(&c, &base, json!({"jql": jql})).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{jql}");
        let v: Value = resp.json().await.unwrap();
        assert!(!v["errorMessages"].as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn new_issues_reach_search_only_after_the_lag_unless_reconciled() {
    let sb = demo().await;
    sb.state().set_jira_search_lag_ms(1500);
    let c = client();
    let base = sb.url("jira");
    let created: Value = create(
        &c,
        &base,
        &issue("lagging", json!(["riskflow-x"]), adf("x")),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let jql = json!({"jql": "project = SEC AND labels = riskflow-x"});
    let now: Value = search(&c, &base, jql.clone()).await.json().await.unwrap();
    assert_eq!(now["issues"].as_array().unwrap().len(), 0);
    let reconciled: Value = search(&c, &base, json!({"jql": "project = SEC AND labels = riskflow-x", "reconcileIssues": [id.parse::<u64>().unwrap()]})).await.json().await.unwrap();
    assert_eq!(reconciled["issues"].as_array().unwrap().len(), 1);
    // Direct reads are consistent at once.
    let direct = c
        .get(format!("{base}/rest/api/3/issue/{id}"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let later: Value = search(&c, &base, jql).await.json().await.unwrap();
    assert_eq!(later["issues"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_old_search_endpoints_are_gone() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    for (m, p) in [
        ("GET", "/rest/api/3/search?jql=project=SEC"),
        ("POST", "/rest/api/3/search"),
        ("GET", "/rest/api/2/search?jql=project=SEC"),
    ] {
        let resp = c
            .request(m.parse().unwrap(), format!("{base}{p}"))
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
            .json(&json!({"jql": "project = SEC"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::GONE, "{p}");
    }
}

#[tokio::test]
async fn api_v2_takes_plain_string_descriptions_as_the_python_library_sends_them() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let resp = c
        .post(format!("{base}/rest/api/2/issue"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .json(&issue("v2", json!([]), json!("wiki *markup*")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

async fn get_json(c: &reqwest::Client, url: String) -> Value {
    let resp = c
        .get(url)
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn each_project_has_its_own_issue_types_and_create_screen_paged_as_createmeta_pages() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let meta = |p: &str, q: &str| format!("{base}/rest/api/3/issue/createmeta/{p}/issuetypes{q}");
    let ids = |v: &Value, list: &str, key: &str| -> Vec<String> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[key].as_str().unwrap().to_string())
            .collect()
    };
    let sec = get_json(&c, meta("SEC", "")).await;
    let ops = get_json(&c, meta("OPS", "")).await;
    assert_eq!(ids(&sec, "issueTypes", "name")[0], "Task");
    assert_eq!(ids(&sec, "issueTypes", "id")[0], "10001");
    assert_eq!(ids(&ops, "issueTypes", "name")[0], "Task");
    assert_eq!(ids(&ops, "issueTypes", "id")[0], "10100");
    let page = get_json(&c, meta("SEC", "?startAt=1&maxResults=2")).await;
    assert_eq!(ids(&page, "issueTypes", "name"), ["Bug", "Story"]);
    assert_eq!(
        (page["startAt"].as_u64(), page["total"].as_u64()),
        (Some(1), Some(4))
    );

    let fields = get_json(&c, meta("OPS", "/10100")).await;
    let names = ids(&fields, "fields", "fieldId");
    assert!(names.contains(&"summary".to_string()) && !names.contains(&"priority".to_string()));
    let ir = get_json(&c, meta("IR", "/10201")).await;
    let field = |id: &str| {
        ir["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fieldId"] == id)
    };
    let prio = field("priority").unwrap();
    assert_eq!(ids(prio, "allowedValues", "name"), ["P3", "P1", "P2", "P4"]);
    let required = field("customfield_10060").unwrap();
    assert_eq!(
        (
            &required["name"],
            &required["required"],
            &required["hasDefaultValue"]
        ),
        (&json!("Affected system"), &json!(true), &json!(false))
    );
}

#[tokio::test]
async fn creates_jira_would_refuse_get_jiras_own_400_bodies() {
    let sb = demo().await;
    let c = client();
    let base = sb.url("jira");
    let body = |project: &str, issuetype: Value, priority: Option<Value>| {
        let mut b = json!({"fields": {"project": {"key": project}, "issuetype": issuetype,
                                      "summary": "x", "description": adf("x")}});
        if let Some(p) = priority {
            b["fields"]["priority"] = p;
        }
        b
    };
    let cases = [
        // Priority where the create screen has none.
        (
            body("OPS", json!({"id": "10100"}), Some(json!({"id": "1"}))),
            json!({"priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."}),
        ),
        // Another project's Task.
        (
            body("OPS", json!({"id": "10001"}), None),
            json!({"issuetype": "The issue type selected is invalid."}),
        ),
        (
            body("SEC", json!({"name": "Saga"}), None),
            json!({"issuetype": "Specify an issue type"}),
        ),
        // A priority outside the project's scheme.
        (
            body("IR", json!({"id": "10200"}), Some(json!({"name": "High"}))),
            json!({"priority": "The priority selected is invalid."}),
        ),
        // A required field left out.
        (
            body("IR", json!({"id": "10201"}), None),
            json!({"customfield_10060": "Affected system is required."}),
        ),
    ];
    for (req, errors) in cases {
        let resp = create(&c, &base, &req).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{req}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v, json!({"errorMessages": [], "errors": errors}), "{req}");
    }
    assert!(sb.state().jira_issues().is_empty());

    // The same projects accept what their schemes allow.
    let ok = [
        body("OPS", json!({"id": "10100"}), None),
        body("IR", json!({"id": "10200"}), Some(json!({"id": "10001"}))),
        {
            let mut b = body("IR", json!({"id": "10201"}), None);
            b["fields"]["customfield_10060"] = json!("laptop fleet");
            b
        },
    ];
    for req in ok {
        assert_eq!(
            create(&c, &base, &req).await.status(),
            StatusCode::CREATED,
            "{req}"
        );
    }
    let views = sb.state().jira_issues();
    assert_eq!(
        views
            .iter()
            .map(|v| (v.key.as_str(), v.issue_type.as_str(), v.priority.as_str()))
            .collect::<Vec<_>>(),
        [
            ("OPS-1", "Task", "Medium"),
            ("IR-1", "Task", "P1"),
            ("IR-2", "Incident", "P3")
        ]
    );
}

// ---- Classic and scoped API tokens: the site and Atlassian's API gateway

/// `GET {base}{path}` with the demo account and `token`, answered as (status, JSON body).
async fn get_as(c: &reqwest::Client, url: &str, token: &str) -> (StatusCode, Value) {
    let resp = c
        .get(url)
        .basic_auth(creds::JIRA_EMAIL, Some(token))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_classic_token_works_only_at_the_site_and_a_scoped_one_only_through_the_gateway() {
    let sb = demo().await;
    let c = client();
    let site = sb.url("jira");
    // The cloud id is public.
    let tenant = json_of(c.get(format!("{site}/_edge/tenant_info"))).await;
    assert_eq!(tenant, json!({"cloudId": riskflow_sandbox::jira::CLOUD_ID}));
    let gateway = format!("{site}/ex/jira/{}", riskflow_sandbox::jira::CLOUD_ID);

    let myself = "/rest/api/3/myself";
    let (classic, scoped) = (creds::JIRA_API_TOKEN, creds::JIRA_SCOPED_API_TOKEN);
    let (status, me) = get_as(&c, &format!("{site}{myself}"), classic).await;
    assert_eq!(
        (status, me["emailAddress"].as_str()),
        (StatusCode::OK, Some(creds::JIRA_EMAIL))
    );
    let (status, me) = get_as(&c, &format!("{gateway}{myself}"), scoped).await;
    assert_eq!(
        (status, me["emailAddress"].as_str()),
        (StatusCode::OK, Some(creds::JIRA_EMAIL))
    );

    // A scoped token at the site: Jira's 401, as for no credentials.
    let (status, body) = get_as(&c, &format!("{site}{myself}"), scoped).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["errorMessages"][0],
        "You are not authenticated. Authentication required to perform this operation."
    );
    // A classic token (or a wrong one) through the gateway: the gateway's own 401.
    for token in [classic, "wrong-token"] {
        let (status, body) = get_as(&c, &format!("{gateway}{myself}"), token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(
            body,
            json!({"code": 401, "message": "Unauthorized"}),
            "{token}"
        );
    }
    let (status, _) = get_as(
        &c,
        &format!("{site}/ex/jira/00000000-0000-0000-0000-000000000000{myself}"),
        scoped,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another site's cloud id");
}

#[tokio::test]
async fn the_site_takes_a_scoped_token_for_no_credentials_so_search_silently_finds_nothing() {
    let sb = demo().await;
    let c = client();
    let site = sb.url("jira");
    let gateway = format!("{site}/ex/jira/{}", riskflow_sandbox::jira::CLOUD_ID);
    let created = c
        .post(format!("{gateway}/rest/api/3/issue"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_SCOPED_API_TOKEN))
        .json(&issue(
            "through the gateway",
            json!(["via-gateway"]),
            adf("x"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(sb.state().jira_issues().len(), 1);

    let jql = "/rest/api/3/search/jql?jql=project%20%3D%20SEC&fields=labels";
    let (status, through_gateway) =
        get_as(&c, &format!("{gateway}{jql}"), creds::JIRA_SCOPED_API_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        through_gateway["issues"][0]["fields"]["labels"],
        json!(["via-gateway"])
    );
    // The same search at the site with the scoped token: a 200 that sees nothing.
    let (status, at_site) = get_as(&c, &format!("{site}{jql}"), creds::JIRA_SCOPED_API_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(at_site["issues"], json!([]));
    // And a create at the site is refused (Jira's misleading 400 to an anonymous create).
    let refused = c
        .post(format!("{site}/rest/api/3/issue"))
        .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_SCOPED_API_TOKEN))
        .json(&issue("at the site", json!([]), adf("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sb.state().jira_issues().len(), 1);
}

#[tokio::test]
async fn rate_limits_faults_and_counts_apply_to_a_gateway_path_as_to_the_site_path() {
    let sb = demo().await;
    let c = client();
    let gateway = format!(
        "{}/ex/jira/{}",
        sb.url("jira"),
        riskflow_sandbox::jira::CLOUD_ID
    );
    sb.state().add_fault(
        riskflow_sandbox::FaultRule::new(
            "jira",
            riskflow_sandbox::FaultKind::Error {
                status: 503,
                retry_after: None,
            },
        )
        .method("POST")
        .path_prefix("/rest/api/3/issue")
        .max_hits(1),
    );
    let post = || {
        c.post(format!("{gateway}/rest/api/3/issue"))
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_SCOPED_API_TOKEN))
            .json(&issue("faulted", json!([]), adf("x")))
            .send()
    };
    assert_eq!(
        post().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(sb.state().fault_hits(), vec![1]);
    assert_eq!(post().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(sb.state().count("jira", "POST", "/rest/api/3/issue"), 2);

    sb.state().set_rate_limit("jira", Some(1.0));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (status, _) = get_as(
            &c,
            &format!("{gateway}/rest/api/3/myself"),
            creds::JIRA_SCOPED_API_TOKEN,
        )
        .await;
        statuses.push(status);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}
