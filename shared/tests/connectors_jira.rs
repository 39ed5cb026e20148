//! Jira Cloud v3 client request shapes (Atlassian's Jira Cloud platform REST API v3 docs)
//! against a recording fake, and a property test that any text makes valid ADF.

mod support_http;

use base64::Engine as _;
use proptest::prelude::*;
use riskflow::connectors::ConnectorError;
use riskflow::connectors::jira::adf::{self, Doc, Paragraph};
use riskflow::connectors::jira::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use support_http::{Recorder, Reply, Request, http};

fn client(rec: &Recorder) -> JiraClient {
    JiraClient::new(
        rec.url_with_prefix("jira"),
        "demo@example.com".into(),
        SecretString::from("jira-demo-token"),
        http(),
    )
}

fn new_issue() -> NewIssue {
    NewIssue {
        project_key: "SEC".into(),
        issue_type_id: "10001".into(),
        summary: "Incydr alert: exfiltration by jdoe@example.com".into(),
        description: Doc::plain("Alert id: 1234"),
        labels: vec!["incydr".into(), "incydr-alert-1234".into()],
        priority_id: Some("2".into()),
    }
}

#[tokio::test]
async fn create_issue_sends_the_fields_object_with_the_issue_type_and_priority_by_id() {
    let rec = Recorder::start(|_| {
        Reply::json(
            201,
            json!({"id": "10042", "key": "SEC-17", "self": "https://site/rest/api/3/issue/10042"}),
        )
    })
    .await;
    let created = client(&rec).create_issue(&new_issue(), None).await.unwrap();
    assert_eq!(
        created,
        CreatedIssue {
            id: "10042".into(),
            key: "SEC-17".into(),
            self_url: Some("https://site/rest/api/3/issue/10042".into())
        }
    );
    let r = &rec.requests()[0];
    assert_eq!(r.line(), "POST /jira/rest/api/3/issue");
    let basic =
        base64::engine::general_purpose::STANDARD.encode("demo@example.com:jira-demo-token");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"fields": {
            "project": {"key": "SEC"},
            "issuetype": {"id": "10001"},
            "summary": "Incydr alert: exfiltration by jdoe@example.com",
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Alert id: 1234"}]}]},
            "labels": ["incydr", "incydr-alert-1234"],
            "priority": {"id": "2"}
        }})
    );
}

#[tokio::test]
async fn create_metadata_is_read_page_by_page_until_the_total() {
    let rec = Recorder::start(|r| {
        let first = r.query.starts_with("startAt=0&");
        if r.path.ends_with("/issuetypes") {
            // A server may page below the maxResults asked for.
            let page = if first {
                json!([{"id": "10100", "name": "Task", "subtask": false}])
            } else {
                json!([{"id": "10102", "name": "Sub-task", "subtask": true}])
            };
            Reply::json(200, json!({"issueTypes": page, "startAt": 0, "maxResults": 1, "total": 2}))
        } else {
            // The schema also names the list `results`.
            let page = if first {
                json!([{"fieldId": "summary", "key": "summary", "name": "Summary", "required": true}])
            } else {
                json!([{"fieldId": "priority", "name": "Priority", "required": false, "hasDefaultValue": true,
                        "allowedValues": [{"id": "1", "name": "Highest"}, {"id": "3", "name": "Medium"}]}])
            };
            Reply::json(200, json!({"results": page, "total": 2}))
        }
    })
    .await;
    let c = client(&rec);
    let types = c.create_meta_issue_types("OPS", None).await.unwrap();
    assert_eq!(
        types
            .iter()
            .map(|t| (t.id.as_str(), t.subtask))
            .collect::<Vec<_>>(),
        [("10100", false), ("10102", true)]
    );
    let fields = c.create_meta_fields("OPS", "10100", None).await.unwrap();
    assert_eq!(
        fields.iter().map(|f| f.id()).collect::<Vec<_>>(),
        ["summary", "priority"]
    );
    assert_eq!(fields[1].allowed_values[1].id.as_deref(), Some("3"));
    let lines: Vec<String> = rec.requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "GET /jira/rest/api/3/issue/createmeta/OPS/issuetypes?startAt=0&maxResults=50",
            "GET /jira/rest/api/3/issue/createmeta/OPS/issuetypes?startAt=1&maxResults=50",
            "GET /jira/rest/api/3/issue/createmeta/OPS/issuetypes/10100?startAt=0&maxResults=50",
            "GET /jira/rest/api/3/issue/createmeta/OPS/issuetypes/10100?startAt=1&maxResults=50",
        ]
    );
    assert!(matches!(
        c.create_meta_issue_types("OPS\" OR 1=1", None).await,
        Err(ConnectorError::Invalid { .. })
    ));
}

#[tokio::test]
async fn a_long_multiline_summary_is_sent_as_one_line_of_255_characters() {
    let rec = Recorder::start(|_| Reply::json(201, json!({"id": "1", "key": "SEC-1"}))).await;
    let issue = NewIssue {
        summary: format!("first\nsecond {}", "x".repeat(300)),
        priority_id: None,
        labels: vec![],
        ..new_issue()
    };
    client(&rec).create_issue(&issue, None).await.unwrap();
    let fields = rec.requests()[0].json()["fields"].clone();
    let summary = fields["summary"].as_str().unwrap();
    assert!(summary.starts_with("first second x"));
    assert_eq!(summary.chars().count(), 255);
    assert!(fields.get("priority").is_none() && fields.get("labels").is_none());
}

#[tokio::test]
async fn a_created_issue_without_a_key_is_a_decode_error() {
    let rec = Recorder::start(|_| Reply::json(201, json!({"id": "10042"}))).await;
    let err = client(&rec)
        .create_issue(&new_issue(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unexpected response"), "{err}");
    assert!(
        err.outcome_unknown(),
        "the issue may exist: the caller must search before retrying"
    );
}

#[tokio::test]
async fn labels_with_spaces_and_bad_project_keys_are_refused_before_sending() {
    let rec = Recorder::start(|_| Reply::json(201, json!({"id": "1", "key": "SEC-1"}))).await;
    let c = client(&rec);
    let spaced = NewIssue {
        labels: vec!["two words".into()],
        ..new_issue()
    };
    assert!(matches!(
        c.create_issue(&spaced, None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    let bad_key = NewIssue {
        project_key: "SEC\" OR project = \"HR".into(),
        ..new_issue()
    };
    assert!(matches!(
        c.create_issue(&bad_key, None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    let empty = NewIssue {
        summary: " \n ".into(),
        ..new_issue()
    };
    assert!(matches!(
        c.create_issue(&empty, None).await,
        Err(ConnectorError::Invalid { .. })
    ));
    assert!(rec.requests().is_empty());
}

#[tokio::test]
async fn a_create_that_fails_with_a_5xx_is_not_repeated() {
    let rec = Recorder::start(|_| Reply::json(503, json!({"errorMessages": ["busy"]}))).await;
    let err = client(&rec)
        .create_issue(&new_issue(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.outcome_unknown());
    assert_eq!(rec.requests().len(), 1);
}

#[tokio::test]
async fn comments_are_posted_as_an_adf_body_and_201_or_200_both_succeed() {
    let rec = Recorder::start(|r| {
        if r.path.ends_with("SEC-1/comment") {
            Reply::json(201, json!({"id": "100", "body": {}}))
        } else {
            Reply::json(200, json!({"id": "101"}))
        }
    })
    .await;
    let c = client(&rec);
    let doc = Doc::new().paragraph(Paragraph::new().text("New activity: ").strong("3 files"));
    assert_eq!(
        c.add_comment("SEC-1", &doc, None)
            .await
            .unwrap()
            .id
            .as_deref(),
        Some("100")
    );
    assert_eq!(
        c.add_comment("SEC-2", &doc, None)
            .await
            .unwrap()
            .id
            .as_deref(),
        Some("101")
    );
    let r = &rec.requests()[0];
    assert_eq!(r.line(), "POST /jira/rest/api/3/issue/SEC-1/comment");
    assert_eq!(
        r.json(),
        json!({"body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "New activity: "},
            {"type": "text", "text": "3 files", "marks": [{"type": "strong"}]}]}]}})
    );
    assert!(matches!(
        c.add_comment("SEC-1", &Doc::new(), None).await,
        Err(ConnectorError::Invalid { .. })
    ));
}

#[tokio::test]
async fn search_uses_search_jql_and_follows_next_page_tokens_until_is_last() {
    let rec = Recorder::start(|r| {
        if r.query.contains("nextPageToken=tok+2") {
            Reply::json(
                200,
                json!({"issues": [{"id": "3", "key": "SEC-3", "fields": {"labels": ["a"]}}], "isLast": true}),
            )
        } else {
            Reply::json(
                200,
                json!({"issues": [{"id": "1", "key": "SEC-1", "fields": {"summary": "s", "status": {"name": "To Do"}}},
                                  {"id": "2", "key": "SEC-2"}],
                       "nextPageToken": "tok 2", "isLast": false}),
            )
        }
    })
    .await;
    let issues = client(&rec)
        .search_jql(
            "project = SEC ORDER BY created",
            &["summary", "status"],
            500,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        issues.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(
        issues[0].fields.status.as_ref().unwrap().name.as_deref(),
        Some("To Do")
    );
    let lines: Vec<String> = rec.requests().iter().map(Request::line).collect();
    assert_eq!(
        lines,
        [
            "GET /jira/rest/api/3/search/jql?jql=project+%3D+SEC+ORDER+BY+created&fields=summary%2Cstatus&maxResults=100",
            "GET /jira/rest/api/3/search/jql?jql=project+%3D+SEC+ORDER+BY+created&fields=summary%2Cstatus&maxResults=100&nextPageToken=tok+2",
        ]
    );
    assert!(
        rec.requests()
            .iter()
            .all(|r| r.path != "/jira/rest/api/3/search")
    );
}

#[tokio::test]
async fn search_stops_at_max_results() {
    let rec = Recorder::start(|_| {
        Reply::json(
            200,
            json!({"issues": [{"id": "1"}, {"id": "2"}, {"id": "3"}], "nextPageToken": "more", "isLast": false}),
        )
    })
    .await;
    let issues = client(&rec)
        .search_jql("project = SEC", &[], 2, None)
        .await
        .unwrap();
    assert_eq!(issues.len(), 2);
    assert_eq!(rec.requests().len(), 1);
    assert_eq!(rec.requests()[0].query, "jql=project+%3D+SEC&maxResults=2");
}

#[tokio::test]
async fn find_by_label_quotes_project_and_label_and_rechecks_the_label() {
    let rec = Recorder::start(|_| {
        Reply::json(
            200,
            json!({"issues": [
                {"id": "1", "key": "SEC-1", "fields": {"labels": ["other"]}},
                {"id": "2", "key": "SEC-2", "fields": {"labels": ["incydr", "riskflow-alert-tickets-s1"]}}],
                "isLast": true}),
        )
    })
    .await;
    let c = client(&rec);
    let found = c
        .find_by_label("SEC", "riskflow-alert-tickets-s1", None)
        .await
        .unwrap();
    assert_eq!(
        found,
        Some(IssueRef {
            id: "2".into(),
            key: "SEC-2".into()
        })
    );
    assert_eq!(
        rec.requests()[0].query,
        "jql=project+%3D+%22SEC%22+AND+labels+%3D+%22riskflow-alert-tickets-s1%22&fields=labels&maxResults=10"
    );
    for bad in ["a\" OR labels = \"b", "a b", "a\\b", ""] {
        assert!(matches!(
            c.find_by_label("SEC", bad, None).await,
            Err(ConnectorError::Invalid { .. })
        ));
    }
    assert_eq!(rec.requests().len(), 1);
}

#[tokio::test]
async fn verify_names_the_account_and_a_401_reads_well() {
    let rec = Recorder::start(|r| {
        let basic = base64::engine::general_purpose::STANDARD.encode("demo@example.com:jira-demo-token");
        if r.header("authorization") == Some(format!("Basic {basic}").as_str()) {
            Reply::json(200, json!({"accountId": "5b10", "displayName": "Demo User", "active": true}))
        } else {
            Reply::json(
                401,
                json!({"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}),
            )
        }
    })
    .await;
    assert_eq!(
        client(&rec).verify(None).await.unwrap(),
        "Connected to Jira as Demo User"
    );
    assert_eq!(rec.requests()[0].line(), "GET /jira/rest/api/3/myself");

    let wrong = JiraClient::new(
        rec.url_with_prefix("jira"),
        "demo@example.com".into(),
        SecretString::from("wrong-token"),
        http(),
    );
    let err = wrong.verify(None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.to_string(),
        "jira answered 401 to GET /rest/api/3/myself: Client must be authenticated to access this resource."
    );
    assert!(!err.to_string().contains("wrong-token"));
}

#[tokio::test]
async fn jira_field_errors_are_read_from_the_error_collection() {
    let rec = Recorder::start(|_| {
        Reply::json(
            400,
            json!({"errorMessages": [], "errors": {"description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"}}),
        )
    })
    .await;
    let err = client(&rec)
        .create_issue(&new_issue(), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "jira answered 400 to POST /rest/api/3/issue: description: Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    );
    assert!(!err.outcome_unknown());
}

// ---------------------------------------------------------------------------------------------
// ADF validity for any text

const INLINE: &[&str] = &["text", "hardBreak"];
const MARKS: &[&str] = &["strong", "em", "code", "link"];

fn check_inline(v: &Value, code_block: bool) -> Result<usize, String> {
    let t = v["type"].as_str().ok_or("inline without type")?;
    if !INLINE.contains(&t) || (code_block && t != "text") {
        return Err(format!("inline node {t} not allowed here"));
    }
    if t == "hardBreak" {
        return Ok(0);
    }
    let text = v["text"].as_str().ok_or("text node without text")?;
    if text.is_empty() {
        return Err("empty text node".into());
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_control() && *c != '\t' && !(code_block && *c == '\n'))
    {
        return Err(format!("control character {c:?} in text"));
    }
    if let Some(marks) = v.get("marks") {
        let marks = marks.as_array().ok_or("marks not an array")?;
        if code_block && !marks.is_empty() {
            return Err("marks in a code block".into());
        }
        for m in marks {
            let mt = m["type"].as_str().ok_or("mark without type")?;
            if !MARKS.contains(&mt) {
                return Err(format!("unknown mark {mt}"));
            }
            if mt == "link" {
                let href = m["attrs"]["href"].as_str().ok_or("link without href")?;
                let u = url::Url::parse(href).map_err(|_| format!("bad href {href:?}"))?;
                if !["http", "https", "mailto"].contains(&u.scheme()) {
                    return Err(format!("unsafe href {href:?}"));
                }
            }
        }
    }
    Ok(text.chars().count())
}

fn check_inlines(content: &Value, code_block: bool) -> Result<usize, String> {
    let items = content.as_array().ok_or("content not an array")?;
    if items.is_empty() {
        return Err("empty content".into());
    }
    if !code_block && !items.iter().any(|i| i["type"] == "text") {
        return Err("a block with no text".into());
    }
    items.iter().map(|i| check_inline(i, code_block)).sum()
}

fn check_block(v: &Value) -> Result<usize, String> {
    match v["type"].as_str().ok_or("block without type")? {
        "paragraph" => check_inlines(&v["content"], false),
        "heading" => {
            let level = v["attrs"]["level"]
                .as_u64()
                .ok_or("heading without level")?;
            if !(1..=6).contains(&level) {
                return Err("heading level out of range".into());
            }
            check_inlines(&v["content"], false)
        }
        "codeBlock" => check_inlines(&v["content"], true),
        "rule" => Ok(0),
        "bulletList" => {
            let items = v["content"].as_array().ok_or("list without items")?;
            if items.is_empty() {
                return Err("empty list".into());
            }
            let mut n = 0;
            for item in items {
                if item["type"] != "listItem" {
                    return Err("list child is not a listItem".into());
                }
                let blocks = item["content"]
                    .as_array()
                    .ok_or("listItem without content")?;
                if blocks.is_empty() {
                    return Err("empty listItem".into());
                }
                for b in blocks {
                    n += check_block(b)?;
                }
            }
            Ok(n)
        }
        "table" => {
            let rows = v["content"].as_array().ok_or("table without rows")?;
            let width = rows
                .first()
                .and_then(|r| r["content"].as_array())
                .map(Vec::len);
            let mut n = 0;
            for row in rows {
                let cells = row["content"].as_array().ok_or("row without cells")?;
                if Some(cells.len()) != width || cells.is_empty() {
                    return Err("ragged or empty table".into());
                }
                for cell in cells {
                    let ct = cell["type"].as_str().unwrap_or("");
                    if ct != "tableCell" && ct != "tableHeader" {
                        return Err("bad cell type".into());
                    }
                    for b in cell["content"].as_array().ok_or("cell without content")? {
                        n += check_block(b)?;
                    }
                }
            }
            Ok(n)
        }
        other => Err(format!("unknown block {other}")),
    }
}

/// The ADF rules (<https://developer.atlassian.com/cloud/jira/platform/apis/document/structure>)
/// plus the builder's own promises.
fn check_adf(v: &Value) -> Result<(), String> {
    if v["type"] != "doc" || v["version"] != 1 {
        return Err("root is not a version-1 doc".into());
    }
    let blocks = v["content"].as_array().ok_or("doc content not an array")?;
    let mut total = 0;
    for b in blocks {
        total += check_block(b)?;
    }
    // The "(truncated)" note is the only text beyond the cap.
    if total > adf::MAX_TEXT_CHARS + "(truncated)".len() {
        return Err(format!("{total} characters of text, over the cap"));
    }
    Ok(())
}

fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \\n\\r\\t\\x00-\\x1f\\x7f\\u{85}\\u{2028}a-zé漢🙂]{0,40}",
        Just(String::new()),
        Just("\n".into()),
        Just("\r\n\r\n".into()),
        Just(" ".into()),
    ]
}

fn build_docs(a: &str, b: &str, href: &str) -> Vec<Doc> {
    vec![
        Doc::plain(a),
        Doc::new().heading(3, a).text(b),
        Doc::new().paragraph(
            Paragraph::new()
                .text(a)
                .strong(b)
                .em(a)
                .code(b)
                .link(a, href)
                .link("", href),
        ),
        Doc::new().bullet_list([a, b, ""]),
        Doc::new().code_block(a, Some(b)).rule().code_block(b, None),
        Doc::new().table(
            vec![
                vec![Paragraph::new().text(a), Paragraph::new().text(b)],
                vec![Paragraph::new().link(b, href)],
            ],
            true,
        ),
        Doc::new().key_values([(a, b), (b, a)]),
        Doc::plain(&a.repeat(1 + adf::MAX_TEXT_CHARS / (a.len() + 1)))
            .text(b)
            .code_block(a, None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_text_in_any_position_makes_valid_adf(a in nasty_text(), b in nasty_text(), href in prop_oneof![
        any::<String>(),
        Just("https://example.com/x?y=1".to_string()),
        Just("javascript:alert(1)".to_string()),
        Just("mailto:a@b.c".to_string()),
    ]) {
        for doc in build_docs(&a, &b, &href) {
            let v = serde_json::to_value(&doc).unwrap();
            if let Err(e) = check_adf(&v) {
                prop_assert!(false, "{e}: {v}");
            }
        }
    }
}

#[test]
fn the_validator_itself_rejects_what_jira_rejects() {
    let empty_text = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":""}]}]});
    assert!(check_adf(&empty_text).is_err());
    let control = json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"a\u{7}"}]}]});
    assert!(check_adf(&control).is_err());
    assert!(check_adf(&json!({"type":"doc","version":1,"content":[]})).is_ok());
}

#[test]
fn client_futures_can_be_sent_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let c = JiraClient::new(
        url::Url::parse("https://acme.atlassian.net").unwrap(),
        "a@b.c".into(),
        SecretString::from("t"),
        http(),
    );
    let doc = Doc::new();
    let issue = new_issue();
    assert_send(&c.verify(None));
    assert_send(&c.create_issue(&issue, None));
    assert_send(&c.add_comment("SEC-1", &doc, None));
    assert_send(&c.search_jql("project = SEC", &[], 1, None));
    assert_send(&c.find_by_label("SEC", "x", None));
}

// ---------------------------------------------------------------------------------------------
// Against the sandbox (`riskflow-sandbox`, demo data: project SEC)

mod against_the_sandbox {
    use super::*;
    use riskflow_sandbox::{FaultKind, FaultRule, Sandbox, creds, seed_demo};

    pub(super) async fn demo() -> (Sandbox, JiraClient) {
        let sb = Sandbox::start(0).await.expect("sandbox");
        seed_demo(&sb.state());
        let c = JiraClient::new(
            url::Url::parse(&sb.url("jira")).unwrap(),
            creds::JIRA_EMAIL.into(),
            SecretString::from(creds::JIRA_API_TOKEN),
            http(),
        );
        (sb, c)
    }

    fn rich_doc(text: &str) -> Doc {
        Doc::new()
            .heading(2, &format!("Incydr alert {text}"))
            .paragraph(
                Paragraph::new()
                    .text("Actor: ")
                    .strong("departing.dev@example.com")
                    .text(" — ")
                    .em(text)
                    .text(" ")
                    .code(text)
                    .text(" ")
                    .link(
                        "open in Incydr",
                        "https://console.us.code42.com/app/#/alerts/x",
                    ),
            )
            .bullet_list([
                Paragraph::new().text(text),
                Paragraph::new().code("platform-src.zip"),
            ])
            .code_block(&format!("{text}\nline 2"), Some("json"))
            .rule()
            .key_values([("Severity", "Critical"), ("Notes", text)])
            .table(
                vec![
                    vec![
                        Paragraph::new().text("File"),
                        Paragraph::new().text("Destination"),
                    ],
                    vec![Paragraph::new().text(text)],
                ],
                true,
            )
    }

    #[tokio::test]
    async fn a_per_issue_write_limit_delays_that_issue_only_and_never_slows_the_client() {
        let (sb, _) = demo().await;
        let h = http();
        let c = std::sync::Arc::new(JiraClient::new(
            url::Url::parse(&sb.url("jira")).unwrap(),
            creds::JIRA_EMAIL.into(),
            SecretString::from(creds::JIRA_API_TOKEN),
            h,
        ));
        let busy = c.create_issue(&new_issue(), None).await.unwrap();
        let other = c.create_issue(&new_issue(), None).await.unwrap();
        sb.state().add_fault(
            FaultRule::new(
                "jira",
                FaultKind::ScopedRateLimit {
                    reason: "jira-per-issue-on-write".into(),
                    retry_after: Some(2),
                },
            )
            .method("POST")
            .path_prefix(&format!("/rest/api/3/issue/{}/comment", busy.key))
            .max_hits(1),
        );
        let comment = Doc::plain("Session gained 2 new events");
        let started = std::time::Instant::now();
        let first = {
            let (c, key, comment) = (c.clone(), busy.key.clone(), comment.clone());
            tokio::spawn(async move {
                c.add_comment(&key, &comment, None).await.unwrap();
                started.elapsed()
            })
        };
        while sb.state().fault_hits() != vec![1] {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // While that issue waits its 2 s, another issue's write goes at once.
        c.add_comment(&other.key, &comment, None).await.unwrap();
        assert!(started.elapsed() < std::time::Duration::from_millis(1500));
        let waited = first.await.unwrap();
        assert!(
            waited >= std::time::Duration::from_millis(1900),
            "{waited:?}"
        );
        let issues = sb.state().jira_issues();
        assert!(
            issues.iter().all(|i| i.comments.len() == 1),
            "one comment each"
        );

        // A comment is found again by a marker in its text, and only on its own issue.
        let marker = "riskflow-alert-tickets-s1.1764000000000";
        assert!(!c.comments_contain(&busy.key, marker, None).await.unwrap());
        let marked = Doc::plain(&format!("Session gained data. reference {marker}"));
        c.add_comment(&busy.key, &marked, None).await.unwrap();
        assert!(c.comments_contain(&busy.key, marker, None).await.unwrap());
        assert!(!c.comments_contain(&other.key, marker, None).await.unwrap());
    }

    #[tokio::test]
    async fn an_issue_with_rich_adf_is_created_commented_and_found_by_label() {
        let (sb, c) = demo().await;
        let msg = c.verify(None).await.unwrap();
        assert!(msg.starts_with("Connected to Jira as "), "{msg}");

        let doc = rich_doc("quarterly plan.xlsx");
        let issue = NewIssue {
            project_key: "SEC".into(),
            issue_type_id: "10001".into(),
            summary: "Incydr alert: Departing employee exfiltration\nby departing.dev@example.com"
                .into(),
            description: doc.clone(),
            labels: vec![
                "incydr".into(),
                "riskflow-alert-tickets-5e55-demo-departing-0001".into(),
            ],
            priority_id: Some("1".into()),
        };
        let created = c.create_issue(&issue, None).await.unwrap();
        assert!(created.key.starts_with("SEC-"), "{created:?}");

        let views = sb.state().jira_issues();
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!(v.key, created.key);
        assert_eq!(v.priority, "Highest");
        assert_eq!(
            v.summary,
            "Incydr alert: Departing employee exfiltration by departing.dev@example.com"
        );
        assert_eq!(v.description, doc.to_json());
        assert_eq!(v.labels, issue.labels);

        let comment = Doc::new().paragraph(
            Paragraph::new()
                .text("Session gained ")
                .strong("2 new events"),
        );
        c.add_comment(&created.key, &comment, None).await.unwrap();
        let views = sb.state().jira_issues();
        assert_eq!(views[0].comments.len(), 1);
        assert_eq!(views[0].comments[0].body, comment.to_json());

        let found = c
            .find_by_label(
                "SEC",
                "riskflow-alert-tickets-5e55-demo-departing-0001",
                None,
            )
            .await
            .unwrap();
        assert_eq!(found.map(|f| f.key), Some(created.key.clone()));
        assert_eq!(
            c.find_by_label("SEC", "riskflow-alert-tickets-nothing", None)
                .await
                .unwrap(),
            None
        );
        let hits = c
            .search_jql(
                "project = SEC ORDER BY created DESC",
                &["summary", "labels"],
                50,
                None,
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(sb.state().count("jira", "GET", "/rest/api/3/search"), 0);
    }

    /// A Jira connection's settings, pointed at the sandbox.
    fn jira_settings(
        sb: &Sandbox,
        project: &str,
        issue_type: &str,
        priority_map: &str,
    ) -> serde_json::Map<String, Value> {
        let mut v = json!({"url": sb.url("jira"), "email": creds::JIRA_EMAIL,
                           "project_key": project, "issue_type": issue_type});
        if !priority_map.is_empty() {
            v["priority_map"] = json!(priority_map);
        }
        v.as_object().unwrap().clone()
    }

    fn secrets() -> serde_json::Map<String, Value> {
        json!({"api_token": creds::JIRA_API_TOKEN})
            .as_object()
            .unwrap()
            .clone()
    }

    fn secrets_with(token: &str) -> serde_json::Map<String, Value> {
        json!({"api_token": token}).as_object().unwrap().clone()
    }

    /// Verify a Jira connection as the connect route does.
    async fn verify_with(
        settings: &serde_json::Map<String, Value>,
    ) -> Result<riskflow::ports::Verified, riskflow::ports::VerifyFailure> {
        verify_as(settings, &secrets()).await
    }

    async fn verify_as(
        settings: &serde_json::Map<String, Value>,
        secrets: &serde_json::Map<String, Value>,
    ) -> Result<riskflow::ports::Verified, riskflow::ports::VerifyFailure> {
        riskflow::connectors::verify(
            riskflow::domain::ConnectionKind::Jira,
            settings,
            secrets,
            &riskflow::http::ClientOptions::new(true),
            None,
        )
        .await
    }

    async fn verify(
        sb: &Sandbox,
        project: &str,
        issue_type: &str,
    ) -> Result<riskflow::ports::Verified, riskflow::ports::VerifyFailure> {
        verify_with(&jira_settings(sb, project, issue_type, "")).await
    }

    /// The sink a run builds from the stored settings and facts.
    fn sink_with(
        settings: &serde_json::Map<String, Value>,
        facts: &serde_json::Map<String, Value>,
    ) -> std::sync::Arc<JiraSink> {
        sink_as(settings, &secrets(), facts)
    }

    fn sink_as(
        settings: &serde_json::Map<String, Value>,
        secrets: &serde_json::Map<String, Value>,
        facts: &serde_json::Map<String, Value>,
    ) -> std::sync::Arc<JiraSink> {
        use riskflow::connectors::form::VendorSettings;
        settings::Settings::read(settings, secrets)
            .unwrap()
            .with_facts(facts)
            .connect(&riskflow::http::ClientOptions::new(true))
            .unwrap()
    }

    fn sink(
        sb: &Sandbox,
        project: &str,
        issue_type: &str,
        facts: &serde_json::Map<String, Value>,
    ) -> std::sync::Arc<JiraSink> {
        sink_with(&jira_settings(sb, project, issue_type, ""), facts)
    }

    fn content(severity: u8) -> riskflow::domain::TicketContent {
        riskflow::domain::TicketContent {
            summary: "Incydr alert: exfiltration".into(),
            severity,
            sections: vec![("Alert".into(), vec!["Severity: critical".into()])],
            link: None,
        }
    }

    const ISSUETYPES_ROUTE: &str = "/rest/api/3/issue/createmeta/{project}/issuetypes";

    #[tokio::test]
    async fn each_project_s_own_task_id_is_read_at_verification_and_sent_on_create() {
        use riskflow::ports::TicketSink;
        let (sb, _) = demo().await;
        // Two projects, each with its own "Task".
        let sec = verify(&sb, "SEC", "Task").await.unwrap();
        let ops = verify(&sb, "OPS", "Task").await.unwrap();
        assert_eq!(
            sec.facts["issue_type"],
            json!({"id": "10001", "name": "Task"})
        );
        assert_eq!(
            ops.facts["issue_type"],
            json!({"id": "10100", "name": "Task"})
        );
        assert!(
            ops.message.starts_with("Connected to Jira as ")
                && ops
                    .message
                    .contains("tickets are created in OPS as Task (id 10100)")
                && ops
                    .message
                    .contains("no priority (Priority is not on the create screen)"),
            "{}",
            ops.message
        );
        let reads = sb.state().count("jira", "GET", ISSUETYPES_ROUTE);
        assert_eq!(reads, 2);

        // OPS has no Priority on its create screen: none is sent, and the ticket is created.
        let created = sink(&sb, "OPS", "Task", &ops.facts)
            .create(&content(4), "riskflow-alert-tickets-s1", None)
            .await
            .unwrap();
        assert!(created.key.starts_with("OPS-"), "{created:?}");
        let sec_ticket = sink(&sb, "SEC", "Task", &sec.facts)
            .create(&content(4), "riskflow-alert-tickets-s2", None)
            .await
            .unwrap();
        let views = sb.state().jira_issues();
        assert_eq!(
            views
                .iter()
                .map(|v| (v.key.as_str(), v.priority.as_str()))
                .collect::<Vec<_>>(),
            [
                (created.key.as_str(), "Medium"),
                (sec_ticket.key.as_str(), "Highest")
            ]
        );
        // The stored facts were used: the runs did not read the create metadata again.
        assert_eq!(sb.state().count("jira", "GET", ISSUETYPES_ROUTE), reads);
    }

    #[tokio::test]
    async fn a_sink_without_stored_facts_reads_them_once_before_its_first_create() {
        use riskflow::ports::TicketSink;
        let (sb, _) = demo().await;
        let s = sink(&sb, "OPS", "Task", &serde_json::Map::new());
        for n in 0..2 {
            s.create(&content(3), &format!("riskflow-alert-tickets-n{n}"), None)
                .await
                .unwrap();
        }
        assert_eq!(sb.state().jira_issues().len(), 2);
        assert_eq!(sb.state().count("jira", "GET", ISSUETYPES_ROUTE), 1);
        // Facts read for another project or issue type are not used.
        let sec = verify(&sb, "SEC", "Task").await.unwrap();
        let s = sink(&sb, "OPS", "Task", &sec.facts);
        s.create(&content(3), "riskflow-alert-tickets-n3", None)
            .await
            .unwrap();
        assert_eq!(sb.state().jira_issues()[2].key, "OPS-3");
    }

    /// The message of a verification that must fail with 400.
    async fn refused(sb: &Sandbox, project: &str, issue_type: &str) -> String {
        let fail = verify(sb, project, issue_type).await.unwrap_err();
        assert_eq!(fail.status, 400, "{}", fail.message);
        fail.message
    }

    #[tokio::test]
    async fn an_issue_type_the_project_lacks_fails_verification_naming_the_available_types() {
        let (sb, _) = demo().await;
        assert_eq!(
            refused(&sb, "SEC", "Incident").await,
            "Jira project SEC has no issue type \"Incident\"; its issue types are: Task, Bug, Story, Epic"
        );
        assert_eq!(
            refused(&sb, "NOPE", "Task").await,
            "Jira project NOPE was not found or is not visible to this account"
        );
        // The name is matched as the project spells it, case aside.
        let ok = verify(&sb, "SEC", "task").await.unwrap();
        assert_eq!(
            ok.facts["issue_type"],
            json!({"id": "10001", "name": "Task"})
        );
    }

    #[tokio::test]
    async fn a_required_field_riskflow_does_not_fill_fails_verification_naming_it() {
        let (sb, _) = demo().await;
        assert_eq!(
            refused(&sb, "IR", "Incident").await,
            "Jira project IR requires fields riskflow does not fill when creating a \"Incident\": Affected system (customfield_10060). Give them a default value in Jira, take them off the create screen, or choose another issue type"
        );
        // The same project's Task needs nothing more.
        let ok = verify(&sb, "IR", "Task").await.unwrap();
        assert_eq!(ok.facts["issue_type"]["id"], "10200");
    }

    #[tokio::test]
    async fn a_p1_to_p4_scheme_gets_the_mapped_priorities_by_id_and_unmapped_severities_none() {
        use riskflow::ports::TicketSink;
        let (sb, _) = demo().await;
        // IR's scheme is P1–P4: the default names are not on it, so nothing is sent.
        let defaults = verify(&sb, "IR", "Task").await.unwrap();
        assert_eq!(
            defaults.facts["priorities"],
            json!([null, null, null, null, null])
        );
        assert!(
            defaults.message.contains("critical none, high none"),
            "{}",
            defaults.message
        );

        let settings = jira_settings(
            &sb,
            "IR",
            "Task",
            "critical=P1, high=P2, moderate=P3, low=P4",
        );
        let mapped = verify_with(&settings).await.unwrap();
        assert_eq!(
            mapped.facts["priorities"],
            json!([null, {"id": "10004", "name": "P4"}, {"id": "10003", "name": "P3"},
                   {"id": "10002", "name": "P2"}, {"id": "10001", "name": "P1"}])
        );
        let s = sink_with(&settings, &mapped.facts);
        for (severity, label) in [
            (4, "riskflow-sev-4"),
            (1, "riskflow-sev-1"),
            (0, "riskflow-sev-0"),
        ] {
            s.create(&content(severity), label, None).await.unwrap();
        }
        let views = sb.state().jira_issues();
        assert_eq!(
            views
                .iter()
                .map(|v| v.priority.as_str())
                .collect::<Vec<_>>(),
            ["P1", "P4", "P3"],
            "no risk is unmapped: the scheme's default"
        );
        // A name the scheme lacks fails the verification, naming the scheme's priorities.
        let typo = jira_settings(&sb, "IR", "Task", "critical=Urgent, high=P2");
        let fail = verify_with(&typo).await.unwrap_err();
        assert_eq!(
            fail.message,
            "Jira project IR has no priority for critical → Urgent; its priorities are: P3, P1, P2, P4"
        );
        let bad = jira_settings(&sb, "IR", "Task", "severe=P1");
        let fail = verify_with(&bad).await.unwrap_err();
        assert!(
            fail.message
                .contains("\"severe\" is not an Incydr severity"),
            "{}",
            fail.message
        );
    }

    #[tokio::test]
    async fn search_lag_hides_a_just_created_issue_as_the_reference_warns() {
        let (sb, c) = demo().await;
        sb.state().set_jira_search_lag_ms(60_000);
        let issue = NewIssue {
            project_key: "SEC".into(),
            issue_type_id: "10001".into(),
            summary: "lagging".into(),
            description: Doc::plain("x"),
            labels: vec!["riskflow-lag-1".into()],
            priority_id: None,
        };
        c.create_issue(&issue, None).await.unwrap();
        assert_eq!(
            c.find_by_label("SEC", "riskflow-lag-1", None)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn the_sandboxs_adf_validator_accepts_docs_built_from_hostile_text() {
        let (sb, c) = demo().await;
        let nasty = [
            "",
            " ",
            "\n",
            "\r\n\r\n",
            "\u{0}\u{1}\u{1b}[0m",
            "tab\there",
            "🙂 漢字 é",
            "<script>alert(1)</script>",
            "\"quoted\" 'single' \\back\\",
            "line1\nline2\r\nline3\rline4",
            "\u{2028}\u{2029}\u{85}\u{feff}",
            "{\"type\":\"text\",\"text\":\"\"}",
        ];
        for (i, text) in nasty.iter().enumerate() {
            let issue = NewIssue {
                project_key: "SEC".into(),
                issue_type_id: "10001".into(),
                summary: format!("hostile text {i}: {text}"),
                description: rich_doc(text),
                labels: vec![format!("riskflow-adf-{i}")],
                priority_id: Some("4".into()),
            };
            let created = c.create_issue(&issue, None).await;
            assert!(created.is_ok(), "text {i} {text:?}: {:?}", created.err());
            c.add_comment(&created.unwrap().key, &rich_doc(text), None)
                .await
                .unwrap_or_else(|e| panic!("comment {i}: {e}"));
        }
        // A truncated document is valid too.
        let issue = NewIssue {
            project_key: "SEC".into(),
            issue_type_id: "10001".into(),
            summary: "long".into(),
            description: Doc::plain(&"x".repeat(adf::MAX_TEXT_CHARS + 1)),
            labels: vec![],
            priority_id: None,
        };
        c.create_issue(&issue, None).await.unwrap();
        assert_eq!(sb.state().jira_issues().len(), nasty.len() + 1);

        // Control: the validator does refuse what our builder never emits.
        let raw = reqwest::Client::new()
            .post(format!("{}/rest/api/3/issue", sb.url("jira")))
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
            .json(&json!({"fields": {"project": {"key": "SEC"}, "issuetype": {"name": "Task"}, "summary": "raw",
                "description": {"type": "doc", "version": 1, "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), 400);
    }

    #[tokio::test]
    async fn wrong_credentials_are_a_401_that_reads_well() {
        let (sb, _) = demo().await;
        let c = JiraClient::new(
            url::Url::parse(&sb.url("jira")).unwrap(),
            creds::JIRA_EMAIL.into(),
            SecretString::from("wrong-token"),
            http(),
        );
        let err = c.verify(None).await.unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert!(
            err.to_string()
                .starts_with("jira answered 401 to GET /rest/api/3/myself"),
            "{err}"
        );
        assert!(!err.to_string().contains("wrong-token"));
    }

    #[tokio::test]
    async fn a_429_with_retry_after_on_create_is_waited_out_and_creates_once() {
        let (sb, c) = demo().await;
        sb.state().add_fault(
            FaultRule::new(
                "jira",
                FaultKind::RateLimit {
                    retry_after: Some(1),
                },
            )
            .method("POST")
            .max_hits(1),
        );
        let started = std::time::Instant::now();
        let created = c
            .create_issue(
                &NewIssue {
                    project_key: "SEC".into(),
                    issue_type_id: "10001".into(),
                    summary: "after a 429".into(),
                    description: Doc::plain("x"),
                    labels: vec![],
                    priority_id: None,
                },
                None,
            )
            .await
            .unwrap();
        assert!(started.elapsed() >= std::time::Duration::from_millis(900));
        assert_eq!(sb.state().fault_hits(), vec![1]);
        assert_eq!(sb.state().jira_issues().len(), 1);
        assert_eq!(sb.state().jira_issues()[0].key, created.key);
    }

    #[tokio::test]
    async fn a_create_whose_answer_is_lost_is_not_repeated() {
        let (sb, c) = demo().await;
        sb.state().add_fault(
            FaultRule::new("jira", FaultKind::StoredThenError { status: 500 })
                .method("POST")
                .path_prefix("/rest/api/3/issue")
                .max_hits(1),
        );
        let err = c
            .create_issue(
                &NewIssue {
                    project_key: "SEC".into(),
                    issue_type_id: "10001".into(),
                    summary: "stored then 500".into(),
                    description: Doc::plain("x"),
                    labels: vec!["riskflow-lost-1".into()],
                    priority_id: None,
                },
                None,
            )
            .await
            .unwrap_err();
        assert!(err.outcome_unknown());
        assert_eq!(
            sb.state().jira_issues().len(),
            1,
            "stored once, not created again"
        );
        assert!(
            c.find_by_label("SEC", "riskflow-lost-1", None)
                .await
                .unwrap()
                .is_some()
        );
    }

    // ---- API tokens with scopes: through Atlassian's API gateway

    const MYSELF_ROUTE: &str = "/rest/api/3/myself";
    const TENANT_INFO_ROUTE: &str = "/_edge/tenant_info";

    /// SEC/Task settings whose API gateway is the sandbox's (the fake serves the gateway's
    /// `/ex/jira/{cloudId}/rest/...` beside the site's `/rest/...`).
    fn gateway_settings(sb: &Sandbox, token_kind: &str) -> serde_json::Map<String, Value> {
        let mut s = jira_settings(sb, "SEC", "Task", "");
        s.insert("gateway_url".into(), json!(sb.url("jira")));
        s.insert("token_kind".into(), json!(token_kind));
        s
    }

    #[tokio::test]
    async fn a_scoped_token_is_found_out_by_the_sites_401_and_every_call_goes_through_the_gateway()
    {
        use riskflow::ports::TicketSink;
        let (sb, _) = demo().await;
        let settings = gateway_settings(&sb, "auto");
        let secrets = secrets_with(creds::JIRA_SCOPED_API_TOKEN);
        let verified = verify_as(&settings, &secrets).await.unwrap();
        let cloud_id = riskflow_sandbox::jira::CLOUD_ID;
        let gateway_base = format!("{}/ex/jira/{cloud_id}", sb.url("jira"));
        assert_eq!(verified.facts["token_kind"], "scoped");
        assert_eq!(verified.facts["cloud_id"], cloud_id);
        assert_eq!(verified.facts["api_base"], gateway_base);
        assert_eq!(verified.facts["issue_type"]["id"], "10001");
        assert!(
            verified.message.starts_with("Connected to Jira as Riskflow Demo with an API token with scopes, through Atlassian's API gateway"),
            "{}",
            verified.message
        );
        // The site's 401, the public cloud id, the gateway's answer.
        assert_eq!(sb.state().count("jira", "GET", MYSELF_ROUTE), 2);
        assert_eq!(sb.state().count("jira", "GET", TENANT_INFO_ROUTE), 1);

        // A run with the stored facts: create, find, comment. The site takes a scoped token
        // for no credentials (an anonymous create is a 400, an anonymous search finds nothing),
        // so each of these succeeds only through the gateway.
        let sink = sink_as(&settings, &secrets, &verified.facts);
        let ticket = sink
            .create(&content(4), "riskflow-alert-tickets-scoped-1", None)
            .await
            .unwrap();
        assert_eq!(
            ticket.url.as_deref(),
            Some(format!("{}/browse/{}", sb.url("jira"), ticket.key).as_str()),
            "browse links stay on the site"
        );
        let found = sink
            .find("riskflow-alert-tickets-scoped-1", None)
            .await
            .unwrap();
        assert_eq!(found.map(|t| t.key), Some(ticket.key.clone()));
        sink.comment(&ticket, &content(3), None).await.unwrap();
        let issues = sb.state().jira_issues();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].comments.len(), 1);
        assert_eq!(issues[0].priority, "Highest");
        // The run used the stored route: it neither asked the site nor read the cloud id again.
        assert_eq!(sb.state().count("jira", "GET", MYSELF_ROUTE), 2);
        assert_eq!(sb.state().count("jira", "GET", TENANT_INFO_ROUTE), 1);
    }

    #[tokio::test]
    async fn calling_the_site_with_a_scoped_token_gets_jiras_401() {
        let (sb, _) = demo().await;
        // What riskflow did before: every call at the site.
        let c = JiraClient::new(
            url::Url::parse(&sb.url("jira")).unwrap(),
            creds::JIRA_EMAIL.into(),
            SecretString::from(creds::JIRA_SCOPED_API_TOKEN),
            http(),
        );
        let err = c.verify(None).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{err}");
        // The same with the setting `classic`.
        let secrets = secrets_with(creds::JIRA_SCOPED_API_TOKEN);
        let failed = verify_as(&gateway_settings(&sb, "classic"), &secrets)
            .await
            .unwrap_err();
        assert_eq!(failed.message, "Jira rejected the credentials (401)");
        assert_eq!(sb.state().count("jira", "GET", TENANT_INFO_ROUTE), 0);
        // A wrong token is refused at the site and through the gateway alike.
        let failed = verify_as(&gateway_settings(&sb, "auto"), &secrets_with("wrong-token"))
            .await
            .unwrap_err();
        assert_eq!(failed.message, "Jira rejected the credentials (401)");
    }

    #[tokio::test]
    async fn auto_keeps_a_classic_token_at_the_site_and_scoped_goes_straight_to_the_gateway() {
        let (sb, _) = demo().await;
        let classic = verify_as(&gateway_settings(&sb, "auto"), &secrets())
            .await
            .unwrap();
        assert_eq!(classic.facts["token_kind"], "classic");
        assert_eq!(classic.facts["cloud_id"], Value::Null);
        assert_eq!(
            url::Url::parse(classic.facts["api_base"].as_str().unwrap()).unwrap(),
            url::Url::parse(&sb.url("jira")).unwrap()
        );
        assert_eq!(sb.state().count("jira", "GET", MYSELF_ROUTE), 1);
        assert_eq!(sb.state().count("jira", "GET", TENANT_INFO_ROUTE), 0);

        let scoped = verify_as(
            &gateway_settings(&sb, "scoped"),
            &secrets_with(creds::JIRA_SCOPED_API_TOKEN),
        )
        .await
        .unwrap();
        assert_eq!(scoped.facts["token_kind"], "scoped");
        // No question to the site: one more myself, through the gateway.
        assert_eq!(sb.state().count("jira", "GET", MYSELF_ROUTE), 2);
        assert_eq!(sb.state().count("jira", "GET", TENANT_INFO_ROUTE), 1);
        // A classic token forced through the gateway gets the gateway's 401.
        let failed = verify_as(&gateway_settings(&sb, "scoped"), &secrets())
            .await
            .unwrap_err();
        assert_eq!(failed.message, "Jira rejected the credentials (401)");
    }
}

#[tokio::test]
async fn a_stored_url_on_a_private_ip_literal_is_refused_when_a_run_uses_it() {
    // The connect route refuses such a URL, but a stored one (or the setting switched off
    // since) must not reach the address either: the check is made on every request.
    let rec = Recorder::start(|_| Reply::json(200, json!({"displayName": "Demo User"}))).await;
    let settings = json!({"url": rec.url_with_prefix("jira").as_str(), "email": "demo@example.com", "project_key": "SEC"});
    let secrets = json!({"api_token": "jira-demo-token"});
    let (Value::Object(settings), Value::Object(secrets)) = (settings, secrets) else {
        unreachable!()
    };
    let kind = riskflow::domain::ConnectionKind::Jira;
    let guarded = riskflow::http::ClientOptions::new(false);
    let err = riskflow::connectors::verify(kind, &settings, &secrets, &guarded, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "URL not allowed: it resolves to a private address"
    );
    assert!(rec.requests().is_empty(), "nothing was sent");
    // With private URLs allowed (tests, the sandbox) the same connection is used.
    let open = riskflow::http::ClientOptions::new(true);
    let _ = riskflow::connectors::verify(kind, &settings, &secrets, &open, None).await;
    assert_eq!(rec.requests()[0].line(), "GET /jira/rest/api/3/myself");
}

// Workflows: transitions against the sandbox's workflows, and the retry without a resolution
// against the recording fake.

mod workflows {
    use super::against_the_sandbox::demo;
    use super::*;
    use riskflow_sandbox::creds;
    use riskflow_sandbox::jira::JiraAnalystTransition;

    async fn issue_in(
        c: &JiraClient,
        project: &str,
        type_id: &str,
        priority: Option<&str>,
    ) -> String {
        let new = NewIssue {
            project_key: project.into(),
            issue_type_id: type_id.into(),
            summary: format!("Incydr session in {project}"),
            description: Doc::plain("session"),
            labels: vec!["incydr".into()],
            priority_id: priority.map(str::to_string),
        };
        c.create_issue(&new, None).await.unwrap().key
    }

    fn done(resolution: Option<&str>) -> TransitionRequest {
        TransitionRequest {
            category: "done".into(),
            resolution: resolution.map(str::to_string),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn done_sets_the_listed_resolution_the_comment_is_its_own_call_and_reopen_clears_it() {
        let (sb, c) = demo().await;
        let key = issue_in(&c, "SEC", "10001", Some("2")).await;
        let list = c.transitions(&key, None).await.unwrap();
        let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["In Progress", "Done"],
            "Reopen is not available from To Do"
        );
        let screen = &list[1].fields["resolution"];
        assert!(screen.required && list[1].has_screen);
        assert!(screen.allowed_values.iter().any(|v| v.name == "Won't Do"));

        // Nothing configured for a required Resolution: refused before the POST, naming it.
        let e = c.transition_to(&key, &done(None), None).await.unwrap_err();
        assert!(
            matches!(&e, TransitionError::RequiredFields { fields, .. } if fields[0].starts_with("Resolution (one of: Done, Won't Do")),
            "{e}"
        );
        assert_eq!(
            sb.state()
                .count("jira", "POST", "/rest/api/3/issue/{key}/transitions"),
            0
        );

        let req = TransitionRequest {
            comment: Some(Doc::plain("Closed in Incydr as CLOSED_TP by riskflow")),
            ..done(Some("won't do"))
        };
        let out = c.transition_to(&key, &req, None).await.unwrap();
        assert_eq!(out.resolution.as_deref(), Some("Won't Do"));
        assert!(!out.resolution_refused);
        let st = c.issue_state(&key, None).await.unwrap();
        assert!(st.is_done());
        assert_eq!(
            (st.status.name.as_str(), st.resolution.as_deref()),
            ("Done", Some("Won't Do"))
        );
        let view = sb
            .state()
            .jira_issues()
            .into_iter()
            .find(|i| i.key == key)
            .unwrap();
        assert_eq!(view.comments.len(), 1);
        assert_eq!(
            sb.state()
                .count("jira", "POST", "/rest/api/3/issue/{key}/comment"),
            1
        );

        // Reopen keeps the resolution unless the request clears it (SEC's Reopen has no
        // "clear resolution" post-function).
        let reopen = TransitionRequest {
            category: "new".into(),
            name: Some("Reopen".into()),
            clear_resolution: true,
            ..Default::default()
        };
        c.transition_to(&key, &reopen, None).await.unwrap();
        let st = c.issue_state(&key, None).await.unwrap();
        assert_eq!((st.status.category.as_str(), st.resolution), ("new", None));
    }

    #[tokio::test]
    async fn a_screen_without_resolution_gets_none_and_a_required_comment_is_named() {
        let (sb, c) = demo().await;
        // OPS: global transitions without screens.
        let key = issue_in(&c, "OPS", "10100", None).await;
        let out = c
            .transition_to(&key, &done(Some("Done")), None)
            .await
            .unwrap();
        assert_eq!(out.resolution, None);
        let st = c.issue_state(&key, None).await.unwrap();
        assert!(st.is_done() && st.resolution.is_none(), "{st:?}");

        // What the fake refuses on a screenless transition, and what it drops.
        let raw = reqwest::Client::new();
        let url = format!("{}/rest/api/3/issue/{key}/transitions", sb.url("jira"));
        let post = |body: Value| {
            raw.post(&url)
                .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
                .json(&body)
                .send()
        };
        let r =
            post(json!({"transition": {"id": "11"}, "fields": {"resolution": {"name": "Done"}}}))
                .await
                .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.json::<Value>().await.unwrap()["errors"]["resolution"],
            "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."
        );
        let r = post(json!({"transition": {"id": "11"}, "update": {"comment": [{"add": {"body": "plain"}}]}})).await.unwrap();
        assert_eq!(r.status(), 400, "a plain-string comment on v3");
        let r = post(json!({"transition": {"id": "11"}, "update": {"comment": [{"add": {"body":
            {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "lost"}]}]}}}]}})).await.unwrap();
        assert_eq!(r.status(), 204);
        let view = sb
            .state()
            .jira_issues()
            .into_iter()
            .find(|i| i.key == key)
            .unwrap();
        assert!(view.comments.is_empty(), "dropped, as Jira does");
        assert_eq!(view.status, "To Do");
        let r = post(json!({"transition": {"id": "99"}})).await.unwrap();
        assert_eq!(r.status(), 400);

        // IR: "Resolve" requires a comment Jira does not list: the 400 names it.
        let key = issue_in(&c, "IR", "10200", Some("10001")).await;
        let e = c
            .transition_to(&key, &done(Some("Not a bug")), None)
            .await
            .unwrap_err();
        match e {
            TransitionError::RequiredFields {
                transition, fields, ..
            } => {
                assert_eq!(
                    (transition.as_str(), fields),
                    ("Resolve", vec!["Comment".to_string()])
                );
            }
            other => panic!("{other}"),
        }
        assert_eq!(c.issue_state(&key, None).await.unwrap().status.name, "Open");
        let e = c
            .transition_to(
                &key,
                &TransitionRequest {
                    category: "nope".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("no available transition of IR-"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn an_analysts_transition_moves_updated_and_search_finds_it_by_category_and_date() {
        let (sb, c) = demo().await;
        let key = issue_in(&c, "SEC", "10001", Some("2")).await;
        let other = issue_in(&c, "SEC", "10001", Some("2")).await;
        let before = c.issue_state(&key, None).await.unwrap();
        let view = sb
            .state()
            .jira_analyst_transition(
                &key,
                &JiraAnalystTransition {
                    to_status: "Done".into(),
                    resolution: Some("Not a bug".into()),
                    comment: None,
                    author: "analyst-7".into(),
                },
            )
            .unwrap();
        assert_eq!(
            (view.status_category.as_str(), view.resolution.as_deref()),
            ("done", Some("Not a bug"))
        );
        let after = c.issue_state(&key, None).await.unwrap();
        assert!(after.updated >= before.updated);
        let hits = c
            .search_jql(
                "project = SEC AND labels = incydr AND statusCategory = Done AND updated >= -15m",
                &["status", "resolution", "updated"],
                50,
                None,
            )
            .await
            .unwrap();
        let keys: Vec<_> = hits.iter().filter_map(|i| i.key.clone()).collect();
        assert_eq!(keys, vec![key.clone()], "{other} is not done");
        let hits = c
            .search_jql("project = SEC AND updated < -15m", &["status"], 50, None)
            .await
            .unwrap();
        assert!(hits.is_empty());
        let changelog: Value = reqwest::Client::new()
            .get(format!(
                "{}/rest/api/3/issue/{key}?expand=changelog&fields=status",
                sb.url("jira")
            ))
            .basic_auth(creds::JIRA_EMAIL, Some(creds::JIRA_API_TOKEN))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let h = &changelog["changelog"]["histories"][0];
        assert_eq!(h["author"]["accountId"], "analyst-7");
        assert_eq!(h["items"][0]["toString"], "Done");
        assert_eq!(h["items"][1]["toString"], "Not a bug");
        // Jira refuses what the analyst cannot do either.
        let e = sb
            .state()
            .jira_analyst_transition(
                &other,
                &JiraAnalystTransition {
                    to_status: "Done".into(),
                    resolution: None,
                    comment: None,
                    author: "analyst-7".into(),
                },
            )
            .unwrap_err();
        assert_eq!(e, "Field Resolution is required.");
    }

    #[tokio::test]
    async fn a_resolution_jira_says_cannot_be_set_is_dropped_and_the_transition_retried_once() {
        let rec = Recorder::start(|r| {
            if r.method == "GET" {
                return Reply::json(200, json!({"transitions": [{"id": "31", "name": "Done", "hasScreen": true,
                    "to": {"id": "3", "name": "Done", "statusCategory": {"id": 3, "key": "done"}},
                    "fields": {"resolution": {"required": false, "name": "Resolution",
                        "allowedValues": [{"id": "1", "name": "Done"}]}}}]}));
            }
            if r.json()["fields"]["resolution"].is_object() {
                return Reply::json(400, json!({"errorMessages": [], "errors": {"resolution":
                    "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."}}));
            }
            Reply::empty(204)
        })
        .await;
        let out = client(&rec)
            .transition_to("SEC-1", &done(Some("Done")), None)
            .await
            .unwrap();
        assert!(out.resolution_refused && out.resolution.is_none());
        let posts: Vec<Value> = rec
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.json())
            .collect();
        assert_eq!(
            posts,
            vec![
                json!({"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}),
                json!({"transition": {"id": "31"}}),
            ]
        );
        assert_eq!(
            rec.requests()[0].line(),
            "GET /jira/rest/api/3/issue/SEC-1/transitions?expand=transitions.fields"
        );
    }
}
