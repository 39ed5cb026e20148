//! The Terraform module checked against the code: every function crate has a Lambda resource,
//! every environment variable the config module reads is set, and each function's role allows
//! exactly what its code needs on AWS — recorded through an SDK interceptor while the function's
//! work runs against the AWS emulator and the sandbox — and nothing broader.
//!
//! The emulator does not evaluate IAM, and under `terraform test`'s mock provider nothing
//! evaluates the policies either, so the policy *content* is checked here, as IAM would:
//! per authorisation (a `TransactWriteItems` needs each item's action, inside its enclosing
//! operation), per secret (`<name>/<kind>`), per function started; and every action named in
//! `infra/` must be an action of the Service Authorization Reference (`infra/iam-actions.txt`).

use hcl::{Block, Body, Expression, ObjectKey};
use riskflow::api::ApiRequest;
use riskflow::app::App;
use riskflow::aws_calls::{CallRecorder, IamCheck};
use riskflow::config::Config;
use riskflow::domain::Flow;
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

/// What one function's role allows, from `local.function_access` in iam.tf.
#[derive(Debug, Default)]
struct Access {
    table: BTreeSet<String>,
    table_in_transaction: BTreeSet<String>,
    secrets_read: BTreeSet<String>,
    secrets_write: BTreeSet<String>,
    invoke: BTreeSet<String>,
}

fn key_name(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Identifier(i) => i.to_string(),
        ObjectKey::Expression(e) => e.to_string().trim_matches('"').to_string(),
        _ => String::new(),
    }
}

fn function_access() -> BTreeMap<String, Access> {
    let iam = parse("iam.tf");
    let l = locals(&iam);
    let Expression::Object(functions) = &l["function_access"] else {
        panic!("local.function_access in iam.tf must be an object of literals");
    };
    let mut out = BTreeMap::new();
    for (name, e) in functions {
        let Expression::Object(fields) = e else {
            panic!("function_access[{}] is not an object", key_name(name));
        };
        let mut a = Access::default();
        for (k, v) in fields {
            let values: BTreeSet<String> = string_list(v).into_iter().collect();
            match key_name(k).as_str() {
                "table" => a.table = values,
                "table_in_transaction" => a.table_in_transaction = values,
                "secrets_read" => a.secrets_read = values,
                "secrets_write" => a.secrets_write = values,
                "invoke" => a.invoke = values,
                other => panic!("function_access: unknown field {other}"),
            }
        }
        out.insert(key_name(name), a);
    }
    out
}

fn secret_actions(name: &str) -> BTreeSet<String> {
    let l = locals(&parse("iam.tf"));
    string_list(&l[name]).into_iter().collect()
}

/// The actions of the Service Authorization Reference that riskflow may use.
fn known_actions() -> BTreeSet<String> {
    std::fs::read_to_string(repo().join("infra/iam-actions.txt"))
        .expect("infra/iam-actions.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Why `check` is refused by `access` (None: allowed).
fn refusal(
    check: &IamCheck,
    access: &Access,
    table: &str,
    prefix: &str,
    functions: &BTreeMap<String, String>,
    read: &BTreeSet<String>,
    write: &BTreeSet<String>,
) -> Option<String> {
    let (service, _) = check.action.split_once(':')?;
    match service {
        "dynamodb" => {
            if check.resource != table {
                return Some(format!(
                    "{} on table {:?}, not the state table",
                    check.action, check.resource
                ));
            }
            let standalone = access.table.contains(&check.action);
            let in_tx = check.enclosing.as_deref() == Some("TransactWriteItems")
                && access.table_in_transaction.contains(&check.action);
            (!standalone && !in_tx).then(|| match &check.enclosing {
                Some(op) => format!("{} inside {op}", check.action),
                None => format!("{} on its own (not inside a transaction)", check.action),
            })
        }
        "secretsmanager" => {
            let Some(kind) = check.resource.strip_prefix(prefix) else {
                return Some(format!(
                    "{} on {:?}, outside the deployment's prefix",
                    check.action, check.resource
                ));
            };
            let allowed = if read.contains(&check.action) {
                access.secrets_read.contains(kind)
            } else if write.contains(&check.action) {
                access.secrets_write.contains(kind)
            } else {
                false
            };
            (!allowed).then(|| format!("{} on the {kind} secret", check.action))
        }
        "lambda" => {
            let target = functions
                .iter()
                .find(|(_, n)| **n == check.resource)
                .map(|(f, _)| f.clone());
            let allowed = check.action == "lambda:InvokeFunction"
                && target.as_ref().is_some_and(|f| access.invoke.contains(f));
            (!allowed).then(|| format!("{} on {:?}", check.action, check.resource))
        }
        _ => Some(format!(
            "{} (no statement allows this service)",
            check.action
        )),
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

#[test]
fn every_action_named_in_the_module_is_an_iam_action_and_roles_use_no_wildcards() {
    let known = known_actions();
    let mut files = Vec::new();
    let mut dirs = vec![repo().join("infra")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() && !p.ends_with(".terraform") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "tf" || x == "hcl") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    let mut seen = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            for a in iam_actions_in(line) {
                assert!(
                    known.contains(&a),
                    "{}:{}: {a} is not an IAM action of the Service Authorization Reference (infra/iam-actions.txt)",
                    f.display(),
                    i + 1
                );
                seen.insert(a);
            }
        }
    }
    assert!(
        seen.contains("dynamodb:DeleteItem") && seen.contains("lambda:InvokeFunction"),
        "{seen:?}"
    );
    // The SDK operation names that are not IAM actions must never appear.
    assert!(!known.contains("dynamodb:TransactWriteItems") && !known.contains("lambda:Invoke"));
    // Function roles: literal actions only, no wildcard.
    for (f, a) in function_access() {
        for x in a.table.iter().chain(&a.table_in_transaction) {
            assert!(known.contains(x) && !x.contains('*'), "{f}: {x}");
        }
    }
    for x in secret_actions("secret_read_actions")
        .iter()
        .chain(&secret_actions("secret_write_actions"))
    {
        assert!(known.contains(x) && !x.contains('*'), "{x}");
    }
}

/// Condition keys the module uses, which look like actions (Service Authorization Reference,
/// "Condition keys" of each service's page).
const CONDITION_KEYS: &[&str] = &[
    "dynamodb:EnclosingOperation",
    "kms:ViaService",
    "kms:CallerAccount",
];

/// The `"service:Action"` string literals of a line.
fn iam_actions_in(line: &str) -> Vec<String> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| !CONDITION_KEYS.contains(s))
        .filter(|s| {
            s.split_once(':').is_some_and(|(svc, act)| {
                [
                    "dynamodb",
                    "secretsmanager",
                    "lambda",
                    "logs",
                    "sqs",
                    "kms",
                    "ec2",
                    "xray",
                    "sts",
                    "sns",
                    "execute-api",
                    "scheduler",
                    "iam",
                    "events",
                ]
                .contains(&svc)
                    && !act.is_empty()
                    && act
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_uppercase() || c == '*')
                    && act.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
            })
        })
        .map(String::from)
        .collect()
}

#[test]
fn a_standalone_delete_is_refused_where_deletes_are_allowed_only_in_transactions() {
    let access = function_access();
    let flows = &access["alert-tickets"];
    let (read, write) = (
        secret_actions("secret_read_actions"),
        secret_actions("secret_write_actions"),
    );
    let names = BTreeMap::new();
    let tx = IamCheck {
        action: "dynamodb:DeleteItem".into(),
        resource: "t".into(),
        enclosing: Some("TransactWriteItems".into()),
    };
    let alone = IamCheck {
        enclosing: None,
        ..tx.clone()
    };
    assert_eq!(refusal(&tx, flows, "t", "rf/", &names, &read, &write), None);
    assert_eq!(
        refusal(&alone, flows, "t", "rf/", &names, &read, &write).as_deref(),
        Some("dynamodb:DeleteItem on its own (not inside a transaction)")
    );
    // The internet-facing webhook function cannot read the ticket or containment secrets.
    let hr = &access["hr-departures"];
    for kind in ["okta", "jira", "servicenow"] {
        let get = IamCheck {
            action: "secretsmanager:GetSecretValue".into(),
            resource: format!("rf/{kind}"),
            enclosing: None,
        };
        assert!(
            refusal(&get, hr, "t", "rf/", &names, &read, &write).is_some(),
            "{kind}"
        );
    }
    // Only connections-api starts runs.
    let invoke = IamCheck {
        action: "lambda:InvokeFunction".into(),
        resource: "rf-alert-tickets".into(),
        enclosing: None,
    };
    let names = BTreeMap::from([("alert-tickets".to_string(), "rf-alert-tickets".to_string())]);
    assert_eq!(
        refusal(
            &invoke,
            &access["connections-api"],
            "t",
            "rf/",
            &names,
            &read,
            &write
        ),
        None
    );
    assert!(refusal(&invoke, flows, "t", "rf/", &names, &read, &write).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_role_allows_exactly_the_aws_calls_its_code_makes() {
    let sdk = riskflow::testing::aws_test_config().await;
    let (_backend, table) = riskflow::testing::dynamo_test_backend().await;
    let mut sandbox = riskflow_sandbox::Sandbox::start(0).await.unwrap();
    riskflow_sandbox::seed_demo(&sandbox.state());
    let adp_url = sandbox.start_adp_mtls(0).await.unwrap();
    let tls = sandbox.state().adp_tls().expect("ADP certificates");
    let prefix = riskflow::testing::unique_name("iam") + "/";
    let function_names: BTreeMap<String, String> = [
        "alert-tickets",
        "hr-departures",
        "departing-response",
        "state-sync",
    ]
    .iter()
    .map(|f| (f.to_string(), format!("iamtest-{f}")))
    .collect();
    let cfg = Config {
        table: table.clone(),
        secret_prefix: prefix.clone(),
        dry_run: false,
        allow_private_urls: true,
        function_names: function_names.clone(),
        audit_retention_days: 30,
        deployment: "iamtest".into(),
        kms_key_arn: None,
    };
    let env_for = |rec: &CallRecorder| {
        let mut env = App::aws_with(&cfg, &sdk, Some(rec.clone()));
        env.extra_root_pem = Some(tls.ca_cert_pem.clone().into_bytes());
        env
    };

    // connections-api: connect every kind, list, test, disconnect and reconnect, runs, audit,
    // items, and start a run (through the real Lambda invoker: the emulator has no such
    // function, so the call fails after it is recorded).
    let api_rec = CallRecorder::new();
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&sdk)
            .interceptor(api_rec.clone())
            .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
            .build(),
    );
    let invoker = riskflow::app::aws::LambdaInvoker {
        client: lambda,
        functions: function_names.clone(),
    };
    let api_env = env_for(&api_rec);
    let api = api_env.connections_api(Arc::new(invoker));
    use riskflow_sandbox::creds::*;
    let generic = serde_json::json!({"signing_secret": "whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0"});
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
            "adp",
            serde_json::json!({"api_url": adp_url, "token_url": format!("{adp_url}/auth/oauth/v2/token"), "client_id": ADP_CLIENT_ID, "client_secret": ADP_CLIENT_SECRET, "certificate_pem": tls.client_cert_pem, "private_key_pem": tls.client_key_pem}),
        ),
        (
            "bamboohr",
            serde_json::json!({"url": format!("{}/api/gateway.php/demo", sandbox.url("bamboohr")), "api_key": BAMBOOHR_API_KEY, "webhook_key": BAMBOOHR_WEBHOOK_KEY}),
        ),
        ("generic", generic.clone()),
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
        simple(http::Method::GET, "/items"),
    ] {
        let r = api.handle(req).await;
        assert!(r.status.is_success(), "{:?}", r.body);
    }
    let r = api.handle(put("generic", generic.clone())).await;
    assert_eq!(
        r.status, 200,
        "reconnect right after disconnect: {:?}",
        r.body
    );
    // Reconnecting a connected system writes a new version of its secret.
    let r = api.handle(put("jira", connects[1].1.clone())).await;
    assert_eq!(r.status, 200, "reconnect: {:?}", r.body);
    let r = api
        .handle(simple(http::Method::POST, "/runs/alert-tickets"))
        .await;
    assert_eq!(
        r.status, 502,
        "the emulator has no such function: {:?}",
        r.body
    );
    // The daily re-test, as the schedule runs it.
    let tested = riskflow::lambda::retest_all(&api, Instant::now() + Duration::from_secs(30)).await;
    assert_eq!(tested.as_object().map(|o| o.len()), Some(8), "{tested}");

    // The three flows, each with its own recorder (as its own function would run).
    let deadline = || Instant::now() + Duration::from_secs(600);
    let mut recorded: BTreeMap<&str, BTreeSet<IamCheck>> = BTreeMap::new();
    for (name, flow) in [
        ("hr-departures", Flow::HrDepartures),
        ("alert-tickets", Flow::AlertTickets),
        ("departing-response", Flow::DepartingResponse),
        ("state-sync", Flow::StateSync),
    ] {
        let rec = CallRecorder::new();
        let env = env_for(&rec);
        if flow == Flow::StateSync {
            // An analyst resolves every incident the other jobs opened: state-sync closes their
            // sessions, notes them and records what it wrote.
            let incidents = sandbox.state().servicenow_incidents();
            assert!(!incidents.is_empty(), "the jobs opened incidents");
            for inc in incidents {
                let resolve = riskflow_sandbox::servicenow::SnowAnalystUpdate {
                    fields: serde_json::from_value(serde_json::json!({
                        "state": "6", "close_code": "Solution provided", "close_notes": "checked"
                    }))
                    .unwrap(),
                    user: "analyst.one".into(),
                    admin: false,
                };
                sandbox
                    .state()
                    .servicenow_analyst_update(&inc.number, &resolve)
                    .unwrap();
            }
        }
        if flow == Flow::HrDepartures {
            // A signed webhook delivery, recorded and processed as the function does: a
            // departure, then its cancellation (which takes the person off again).
            for (i, body) in [
                serde_json::json!({"event_type": "departure", "email": riskflow_sandbox::DEPARTING_EMAIL, "departure_date": "2030-01-31"}),
                serde_json::json!({"event_type": "cancellation", "email": riskflow_sandbox::DEPARTING_EMAIL}),
            ]
            .iter()
            .enumerate()
            {
                let body = body.to_string();
                let id = format!("msg_iam_{i}");
                let ts = riskflow::clock::now_ms() / 1000 + i as i64;
                let secret = secrecy::SecretString::from(
                    "whsec_aWFtLWNvbnRyYWN0LXRlc3Qtc2VjcmV0".to_string(),
                );
                let sig = riskflow::connectors::generic::sign(&id, ts, body.as_bytes(), &secret)
                    .unwrap();
                let mut h = http::HeaderMap::new();
                h.insert("webhook-id", id.parse().unwrap());
                h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
                h.insert("webhook-signature", sig.parse().unwrap());
                let accepted = env
                    .webhook_receiver()
                    .receive("generic", &h, body.as_bytes())
                    .await;
                assert_eq!(accepted.response.status, 202, "{:?}", accepted.response.body);
                env.process_hr_items(&accepted.new_items, deadline()).await;
            }
        }
        // The first run of a job that opens tickets meets a refusing Jira, so its items wait
        // as pending (an indexed item); later runs move or finish them (the index entry is
        // deleted inside the transaction that moves the item).
        let refusing = match flow {
            Flow::AlertTickets | Flow::DepartingResponse => Some("jira"),
            Flow::HrDepartures | Flow::StateSync => None,
        };
        if let Some(system) = refusing {
            for method in ["POST", "PUT"] {
                sandbox.state().add_fault(
                    riskflow_sandbox::FaultRule::new(
                        system,
                        riskflow_sandbox::FaultKind::Error {
                            status: 400,
                            retry_after: None,
                        },
                    )
                    .method(method),
                );
            }
            let run = env.run_flow(flow, false, deadline()).await;
            eprintln!(
                "{name} (refused): {:?} {:?} {:?}",
                run.status, run.counts, run.errors
            );
            sandbox.state().clear_faults();
        }
        // A credential rotated in Secrets Manager outside riskflow: the system refuses the old
        // value once (401), the run reads the secret's newest version and records it on the
        // connection. Its role must allow both, and nothing more.
        let rotated = match flow {
            Flow::HrDepartures => "workday",
            _ => "incydr",
        };
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let current = secrets
            .get_secret_value()
            .secret_id(format!("{prefix}{rotated}"))
            .send()
            .await
            .unwrap();
        secrets
            .put_secret_value()
            .secret_id(format!("{prefix}{rotated}"))
            .secret_string(current.secret_string().unwrap())
            .send()
            .await
            .unwrap();
        sandbox.state().add_fault(
            riskflow_sandbox::FaultRule::new(
                rotated,
                riskflow_sandbox::FaultKind::Error {
                    status: 401,
                    retry_after: None,
                },
            )
            .max_hits(1),
        );
        let run = env.run_flow(flow, false, deadline()).await;
        assert_eq!(
            sandbox.state().fault_hits(),
            vec![1],
            "{name}: the rotated system was asked: {:?}",
            run.errors
        );
        assert!(
            matches!(run.status, riskflow::domain::RunStatus::Succeeded),
            "{name} after a rotation: {:?} {:?}",
            run.status,
            run.errors
        );
        sandbox.state().clear_faults();
        if flow == Flow::DepartingResponse {
            // Every containment undone through the API (which only records the request); the
            // next run carries the undos out.
            let open = api.handle(simple(http::Method::GET, "/containments")).await;
            let ids: Vec<String> = open.body["containments"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c["id"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            assert!(
                !ids.is_empty(),
                "the demo contains someone: {:?}",
                open.body
            );
            for id in ids {
                let path = format!("/containments/{id}/undo");
                let r = api.handle(simple(http::Method::POST, &path)).await;
                assert_eq!(r.status, 202, "{:?}", r.body);
            }
        }
        for _ in 0..2 {
            let run = env.run_flow(flow, false, deadline()).await;
            eprintln!(
                "{name}: {:?} {:?} {:?}",
                run.status, run.counts, run.message
            );
            assert!(
                matches!(run.status, riskflow::domain::RunStatus::Succeeded),
                "{name}: {:?} {:?}",
                run.status,
                run.errors
            );
        }
        recorded.insert(name, rec.iam_checks());
    }
    // A failed item put back to pending through the API (as `riskflow items retry` does).
    let plain = App::aws_with(&cfg, &sdk, None);
    let now = riskflow::clock::now_ms();
    let riskflow::store::Claim::Acquired { lease, item } = plain
        .store
        .claim_new(Flow::AlertTickets, "iam-failed", 60_000, now, |_, _| {})
        .await
        .unwrap()
    else {
        panic!("claimed");
    };
    plain
        .store
        .fail(&lease, &item, "refused", false, now)
        .await
        .unwrap();
    let mut retry = simple(http::Method::POST, "/items/alert-tickets/retry");
    retry.body = bytes::Bytes::from(r#"{"key":"iam-failed"}"#);
    retry.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let r = api.handle(retry).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    recorded.insert("connections-api", api_rec.iam_checks());

    let access = function_access();
    let (read, write) = (
        secret_actions("secret_read_actions"),
        secret_actions("secret_write_actions"),
    );
    let known = known_actions();
    assert_eq!(
        access.keys().collect::<BTreeSet<_>>(),
        recorded
            .keys()
            .map(|k| k.to_string())
            .collect::<BTreeSet<_>>()
            .iter()
            .collect(),
        "function_access must have one entry per function"
    );
    for (name, checks) in &recorded {
        eprintln!(
            "{name} needs: {:?}",
            checks
                .iter()
                .map(|c| format!(
                    "{}{}{}",
                    c.action,
                    c.enclosing
                        .as_ref()
                        .map(|e| format!(" in {e}"))
                        .unwrap_or_default(),
                    c.resource
                        .strip_prefix(&prefix)
                        .map(|k| format!(" {k}"))
                        .unwrap_or_default()
                ))
                .collect::<Vec<_>>()
        );
    }
    for (name, checks) in &recorded {
        let a = &access[*name];
        let refused: Vec<String> = checks
            .iter()
            .filter_map(|c| {
                assert!(
                    known.contains(&c.action),
                    "{name} needs {}, which is not in infra/iam-actions.txt",
                    c.action
                );
                refusal(c, a, &table, &prefix, &function_names, &read, &write)
            })
            .collect();
        assert!(
            refused.is_empty(),
            "{name}'s role refuses what its code does: {refused:?}"
        );

        // Nothing broader: every grant is used by this function's code, except those only
        // reachable on real AWS (listed with the reason).
        let unreachable_here: BTreeMap<&str, &str> = BTreeMap::from([(
            "secretsmanager:RestoreSecret",
            "only when AWS still holds a deleted secret's name; the emulator deletes at once",
        )]);
        let used = |action: &str, enclosing: Option<&str>| {
            checks.iter().any(|c| {
                c.action == action && (enclosing.is_none() || c.enclosing.as_deref() == enclosing)
            })
        };
        for x in &a.table {
            assert!(
                checks
                    .iter()
                    .any(|c| &c.action == x && c.enclosing.is_none()),
                "{name}'s role allows {x} on its own, which its code never does{} (it needs {checks:#?})",
                if used(x, Some("TransactWriteItems")) {
                    " (only inside transactions: move it to table_in_transaction)"
                } else {
                    ""
                }
            );
        }
        for x in &a.table_in_transaction {
            assert!(
                used(x, Some("TransactWriteItems")),
                "{name}'s role allows {x} in transactions, which its code never does"
            );
        }
        let kinds_used = |actions: &BTreeSet<String>| -> BTreeSet<String> {
            checks
                .iter()
                .filter(|c| actions.contains(&c.action))
                .filter_map(|c| c.resource.strip_prefix(&prefix).map(String::from))
                .collect()
        };
        assert_eq!(
            a.secrets_read,
            kinds_used(&read),
            "{name}: secrets_read must be exactly the secrets its code reads"
        );
        if !a.secrets_write.is_empty() {
            assert_eq!(
                a.secrets_write,
                kinds_used(&write),
                "{name}: secrets_write must be exactly the secrets its code writes"
            );
            for x in &write {
                assert!(
                    used(x, None) || unreachable_here.contains_key(x.as_str()),
                    "{name}'s role allows {x}, which it never calls"
                );
            }
        }
        let invoked: BTreeSet<String> = checks
            .iter()
            .filter(|c| c.action == "lambda:InvokeFunction")
            .filter_map(|c| {
                function_names
                    .iter()
                    .find(|(_, n)| **n == c.resource)
                    .map(|(f, _)| f.clone())
            })
            .collect();
        // Starting a run is exercised for alert-tickets; the other flows go through the same call.
        assert!(invoked.is_subset(&a.invoke), "{name} invokes {invoked:?}");
        assert_eq!(
            a.invoke.is_empty(),
            invoked.is_empty(),
            "{name}: invoke must be empty exactly when its code starts no run"
        );
    }
    sandbox.shutdown().await;
}
