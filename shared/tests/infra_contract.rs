//! The Terraform module checked against the code: every function crate has a Lambda resource,
//! every environment variable the config module reads is set, and each function's role allows
//! exactly the AWS actions its code calls — recorded through an SDK interceptor while the
//! function's work runs against the AWS emulator and the sandbox — and nothing broader.

use hcl::{Block, Body, Expression, ObjectKey};
use riskflow::api::ApiRequest;
use riskflow::api::connections::RunStarter;
use riskflow::aws_calls::CallRecorder;
use riskflow::config::Config;
use riskflow::domain::Flow;
use riskflow::flows::wiring::Env;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn parse(file: &str) -> Body {
    let text = std::fs::read_to_string(repo().join("infra").join(file)).expect("read tf file");
    hcl::from_str(&text).unwrap_or_else(|e| panic!("infra/{file} does not parse: {e}"))
}

/// Every string literal inside an expression.
fn strings(e: &Expression, out: &mut Vec<String>) {
    match e {
        Expression::String(s) => out.push(s.clone()),
        Expression::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Expression::Object(o) => o.values().for_each(|x| strings(x, out)),
        Expression::FuncCall(f) => f.args.iter().for_each(|x| strings(x, out)),
        Expression::Parenthesis(p) => strings(p, out),
        _ => {}
    }
}

fn locals(body: &Body) -> BTreeMap<String, Expression> {
    body.blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| {
            b.body()
                .attributes()
                .map(|a| (a.key().to_string(), a.expr().clone()))
        })
        .collect()
}

fn string_list(e: &Expression) -> Vec<String> {
    let mut v = Vec::new();
    strings(e, &mut v);
    v
}

fn resource<'a>(body: &'a Body, kind: &str, name: &str) -> &'a Block {
    body.blocks()
        .find(|b| {
            b.identifier() == "resource"
                && b.labels().first().map(|l| l.as_str()) == Some(kind)
                && b.labels().get(1).map(|l| l.as_str()) == Some(name)
        })
        .unwrap_or_else(|| panic!("resource {kind}.{name} not found"))
}

#[test]
fn every_function_crate_has_a_lambda_resource_and_every_config_variable_is_set() {
    let main = parse("main.tf");
    let l = locals(&main);
    let declared: BTreeSet<String> = string_list(&l["functions"]).into_iter().collect();
    let crates: BTreeSet<String> = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        declared, crates,
        "local.functions must list every crate in functions/"
    );

    let lambda = parse("lambda.tf");
    let f = resource(&lambda, "aws_lambda_function", "function");
    let attr = |k: &str| {
        f.body()
            .attributes()
            .find(|a| a.key() == k)
            .map(|a| a.expr().clone())
    };
    assert_eq!(
        attr("runtime"),
        Some(Expression::String("provided.al2023".into()))
    );
    assert_eq!(
        attr("handler"),
        Some(Expression::String("bootstrap".into()))
    );
    assert!(attr("for_each").is_some_and(|e| e.to_string().contains("local.functions")));

    // Every RISKFLOW_ variable config.rs reads is in local.environment, and nothing else is.
    let source = std::fs::read_to_string(repo().join("shared/src/config.rs")).unwrap();
    let mut read: BTreeSet<String> = BTreeSet::new();
    for part in source.split("get(\"").skip(1) {
        if let Some(name) = part
            .split('"')
            .next()
            .filter(|n| n.starts_with("RISKFLOW_"))
        {
            read.insert(name.to_string());
        }
    }
    assert!(
        read.contains("RISKFLOW_TABLE") && read.len() >= 5,
        "config.rs reads {read:?}"
    );
    let env_keys: BTreeSet<String> = match &l["environment"] {
        Expression::Object(o) => o
            .keys()
            .map(|k| match k {
                ObjectKey::Identifier(i) => i.to_string(),
                ObjectKey::Expression(e) => e.to_string().trim_matches('"').to_string(),
                _ => String::new(),
            })
            .collect(),
        other => panic!("local.environment is not an object: {other:?}"),
    };
    assert_eq!(
        read, env_keys,
        "every variable config.rs reads must be set in local.environment"
    );
}

/// What each role allows, from iam.tf.
struct Policy {
    flows: BTreeSet<String>,
    api: BTreeSet<String>,
}

fn policy() -> Policy {
    let iam = parse("iam.tf");
    let l = locals(&iam);
    let table: BTreeSet<String> = string_list(&l["table_actions"]).into_iter().collect();
    let read: BTreeSet<String> = string_list(&l["secret_read_actions"]).into_iter().collect();
    let write: BTreeSet<String> = string_list(&l["secret_write_actions"])
        .into_iter()
        .collect();
    for a in table.iter().chain(&read).chain(&write) {
        assert!(!a.contains('*'), "wildcard action {a} in iam.tf");
    }
    // `*` resources only where the service has no resource-level permissions, with the reason.
    let text = std::fs::read_to_string(repo().join("infra/iam.tf")).unwrap();
    for (i, line) in text.lines().enumerate() {
        if line.contains("resources = [\"*\"]") {
            let before: Vec<&str> = text.lines().take(i).collect();
            let sid = before
                .iter()
                .rev()
                .find(|l| l.contains("sid"))
                .copied()
                .unwrap_or("");
            assert!(
                sid.contains("VpcNetworkInterfaces") || sid.contains("XRay"),
                "a '*' resource outside the documented exceptions at iam.tf:{}",
                i + 1
            );
        }
    }
    let flows: BTreeSet<String> = table.union(&read).cloned().collect();
    let api: BTreeSet<String> = flows.union(&write).cloned().collect();
    Policy { flows, api }
}

struct NoRuns;
#[async_trait::async_trait]
impl RunStarter for NoRuns {
    async fn start(&self, _flow: Flow, _dry_run: bool) -> Result<String, String> {
        Ok("not started in this test".into())
    }
}

fn put(kind: &str, body: serde_json::Value) -> ApiRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    ApiRequest {
        method: http::Method::PUT,
        path: format!("/connections/{kind}"),
        query: Default::default(),
        headers,
        body: bytes::Bytes::from(body.to_string()),
        principal: "test".into(),
    }
}

fn simple(method: http::Method, path: &str) -> ApiRequest {
    ApiRequest {
        method,
        path: path.into(),
        query: Default::default(),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
        principal: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_role_allows_exactly_the_aws_calls_its_code_makes() {
    let sdk = riskflow::testing::aws_test_config().await;
    let (_backend, table) = riskflow::testing::dynamo_test_backend().await;
    let sandbox = riskflow_sandbox::Sandbox::start(0).await.unwrap();
    riskflow_sandbox::seed_demo(&sandbox.state());
    let cfg = Config {
        table,
        secret_prefix: riskflow::testing::unique_name("iam") + "/",
        dry_run: false,
        allow_private_urls: true,
        function_names: BTreeMap::new(),
        audit_retention_days: 30,
    };
    let env_for = |rec: &CallRecorder| Env::aws_with(&cfg, &sdk, Some(rec.clone()));

    // connections-api: connect, list, test, disconnect and reconnect, runs and audit.
    let api_rec = CallRecorder::new();
    let api = env_for(&api_rec).connections_api(Arc::new(NoRuns));
    use riskflow_sandbox::creds::*;
    let connects = [
        (
            "incydr",
            serde_json::json!({"url": sandbox.url("incydr"), "client_id": INCYDR_CLIENT_ID, "client_secret": INCYDR_CLIENT_SECRET, "sink": "both"}),
        ),
        (
            "jira",
            serde_json::json!({"url": sandbox.url("jira"), "email": JIRA_EMAIL, "api_token": JIRA_API_TOKEN, "project_key": "SEC"}),
        ),
        (
            "servicenow",
            serde_json::json!({"url": sandbox.url("servicenow"), "username": SERVICENOW_USER, "password": SERVICENOW_PASSWORD}),
        ),
        (
            "okta",
            serde_json::json!({"url": sandbox.url("okta"), "api_token": OKTA_API_TOKEN, "group_id": riskflow_sandbox::OKTA_DEPARTING_GROUP_ID}),
        ),
        (
            "workday",
            serde_json::json!({"report_url": format!("{}/ccx/service/customreport2/sandbox/ISU_demo/Terminations", sandbox.url("workday")), "username": WORKDAY_USER, "password": WORKDAY_PASSWORD}),
        ),
        (
            "generic",
            serde_json::json!({"signing_secret": "whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0"}),
        ),
    ];
    for (kind, body) in &connects {
        let r = api.handle(put(kind, body.clone())).await;
        assert_eq!(r.status, 200, "connect {kind}: {:?}", r.body);
    }
    for req in [
        simple(http::Method::GET, "/connections"),
        simple(http::Method::POST, "/connections/jira/test"),
        simple(http::Method::DELETE, "/connections/generic"),
        simple(http::Method::GET, "/runs"),
        simple(http::Method::GET, "/audit"),
    ] {
        let r = api.handle(req).await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }
    let r = api.handle(put("generic", connects[5].1.clone())).await;
    assert_eq!(
        r.status, 200,
        "reconnect right after disconnect: {:?}",
        r.body
    );
    // Reconnecting a connected system writes a new version of its secret.
    let r = api.handle(put("jira", connects[1].1.clone())).await;
    assert_eq!(r.status, 200, "reconnect: {:?}", r.body);

    // The three flows, each with its own recorder (as its own function would run).
    let deadline = || Instant::now() + Duration::from_secs(120);
    let mut recorded: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, flow) in [
        ("hr-departures", Flow::HrDepartures),
        ("alert-tickets", Flow::AlertTickets),
        ("departing-response", Flow::DepartingResponse),
    ] {
        let rec = CallRecorder::new();
        let env = env_for(&rec);
        if flow == Flow::HrDepartures {
            // A signed webhook delivery, recorded and processed as the function does.
            let body = serde_json::json!({"event_type": "departure", "email": riskflow_sandbox::DEPARTING_EMAIL, "departure_date": "2030-01-31"}).to_string();
            let ts = riskflow::clock::now_ms() / 1000;
            let secret =
                secrecy::SecretString::from("whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0".to_string());
            let sig =
                riskflow::connectors::generic::sign("msg_iam_1", ts, body.as_bytes(), &secret)
                    .unwrap();
            let mut h = http::HeaderMap::new();
            h.insert("webhook-id", "msg_iam_1".parse().unwrap());
            h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
            h.insert("webhook-signature", sig.parse().unwrap());
            let accepted = env
                .webhook_receiver()
                .receive("generic", &h, body.as_bytes())
                .await;
            assert_eq!(
                accepted.response.status, 202,
                "{:?}",
                accepted.response.body
            );
            env.process_hr_items(&accepted.new_items, deadline()).await;
        }
        for _ in 0..2 {
            let run = env.run_flow(flow, false, deadline()).await;
            assert!(
                matches!(run.status, riskflow::domain::RunStatus::Succeeded),
                "{name}: {:?} {:?}",
                run.status,
                run.errors
            );
        }
        recorded.insert(name, rec.iam_actions());
    }
    recorded.insert("connections-api", api_rec.iam_actions());

    let p = policy();
    for (name, calls) in &recorded {
        let allowed = if *name == "connections-api" {
            &p.api
        } else {
            &p.flows
        };
        let missing: Vec<_> = calls.difference(allowed).collect();
        assert!(
            missing.is_empty(),
            "{name} calls {missing:?}, which its role does not allow"
        );
    }
    // Nothing broader: every allowed action is called by some function whose role has it,
    // except those only reachable on real AWS (listed with the reason).
    let unreachable_here: BTreeMap<&str, &str> = BTreeMap::from([(
        "secretsmanager:RestoreSecret",
        "only when AWS still holds a deleted secret's name; the emulator deletes at once",
    )]);
    let used_by_flows: BTreeSet<String> = recorded
        .iter()
        .filter(|(n, _)| **n != "connections-api")
        .flat_map(|(_, c)| c.iter().cloned())
        .collect();
    for a in &p.flows {
        assert!(
            used_by_flows.contains(a) || unreachable_here.contains_key(a.as_str()),
            "flow roles allow {a}, which no flow calls"
        );
    }
    for a in p.api.difference(&p.flows) {
        assert!(
            recorded["connections-api"].contains(a) || unreachable_here.contains_key(a.as_str()),
            "connections-api's role allows {a}, which it never calls"
        );
    }
    sandbox.shutdown().await;
}
