//! The Lambda handlers (`riskflow::lambda`) with real event JSON: an EventBridge Scheduler
//! event for the scheduled flows and API Gateway HTTP API (payload 2.0) requests for the HR
//! webhook and the connections API, over the sandbox and DynamoDB (moto).

use lambda_runtime::{Context, LambdaEvent};
use riskflow::app::AlertTicketsJob;
use riskflow::domain::{ConnectionKind, Flow};
use riskflow::lambda::{api_event, hr_event, scheduled};
use riskflow_e2e::{World, date_in_days, now_secs, signed_headers};
use riskflow_sandbox::{FaultKind, FaultRule};
use serde_json::{Value, json};

/// What EventBridge Scheduler sends with the "Scheduled Event" template.
fn scheduler_event(flow: Flow, dry_run: bool) -> Value {
    let mut v = json!({
        "version": "0",
        "id": "0d6ae3a1-5bb0-4bb4-8f1d-1c7c3c1e2f11",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-11-25T08:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/riskflow-{flow}")],
        "detail": {}
    });
    if dry_run {
        v["detail"]["dry_run"] = json!(true);
    }
    v
}

/// An API Gateway HTTP API request, IAM-authorised, as Lambda receives it.
fn http_event(method: &str, path: &str, headers: Value, body: Option<&[u8]>) -> Value {
    use base64::Engine;
    let route = if path.starts_with("/webhooks/hr/") {
        format!("{method} /webhooks/hr/{{source}}")
    } else {
        format!("{method} {path}")
    };
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {"iam": {"accessKey": "AKIAEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
                                   "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/alice", "userId": "AIDAEXAMPLE"}},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "e2e"},
            "requestId": "req-e2e-1",
            "routeKey": route,
            "stage": "$default",
            "time": "25/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795600000000u64
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "isBase64Encoded": body.is_some()
    })
}

/// A Lambda context whose deadline is 60 s away.
fn context() -> Context {
    let mut ctx = Context::default();
    ctx.request_id = "e2e-request-1".into();
    ctx.deadline = (riskflow::clock::now_ms() + 60_000) as u64;
    ctx.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:riskflow-e2e".into();
    ctx
}

fn response_body(v: &Value) -> Value {
    serde_json::from_str(v["body"].as_str().expect("a text body")).expect("a JSON body")
}

async fn world() -> World {
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({})).await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    w.connect(ConnectionKind::Generic, json!({})).await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduler_event_runs_the_flow_and_a_dry_run_event_only_plans_and_a_failed_run_is_a_retryable_error()
 {
    let w = world().await;
    let ids = w.seed_alert_sessions("lambda", 5);

    let dry = scheduled::<AlertTicketsJob>(
        &w.env,
        LambdaEvent::new(scheduler_event(Flow::AlertTickets, true), context()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(dry["dry_run"], json!(true));
    assert_eq!(dry["status"], json!("succeeded"));
    assert_eq!(dry["plan"].as_array().map(Vec::len), Some(5));
    assert!(w.sb().jira_issues().is_empty());

    let real = scheduled::<AlertTicketsJob>(
        &w.env,
        LambdaEvent::new(scheduler_event(Flow::AlertTickets, false), context()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(real["flow"], json!("alert-tickets"));
    assert_eq!(real["status"], json!("succeeded"), "{real:#}");
    assert_eq!(real["dry_run"], json!(false));
    assert_eq!(real["counts"]["tickets_created"], json!(5));
    w.assert_one_jira_ticket_each(Flow::AlertTickets, &ids);

    // Incydr down (500s past the client's retries): the run defers its work to the next run
    // and answers normally (a Lambda retry would only overlap the next scheduled run).
    w.sb().add_fault(
        FaultRule::new(
            "incydr",
            FaultKind::Error {
                status: 500,
                retry_after: None,
            },
        )
        .path_prefix("/v1/sessions"),
    );
    let deferred = scheduled::<AlertTicketsJob>(
        &w.env,
        LambdaEvent::new(scheduler_event(Flow::AlertTickets, false), context()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(deferred["status"], json!("partial"), "{deferred:#}");
    assert_eq!(
        deferred["counts"]["deferred_to_next_run"],
        json!(1),
        "{deferred:#}"
    );

    // Incydr refuses the API client: the run fails, and the handler says so with a retryable
    // error type.
    w.sb().clear_faults();
    w.sb().add_fault(
        FaultRule::new(
            "incydr",
            FaultKind::Error {
                status: 403,
                retry_after: None,
            },
        )
        .path_prefix("/v1/sessions"),
    );
    let failed = scheduled::<AlertTicketsJob>(
        &w.env,
        LambdaEvent::new(scheduler_event(Flow::AlertTickets, false), context()),
    )
    .await;
    let err = failed.expect_err("a failed run is an error for Lambda");
    assert!(err.retryable);
    assert!(
        err.message.starts_with("alert-tickets failed"),
        "{}",
        err.message
    );
    let diag: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diag.error_type, "riskflow.Retryable");
    assert_eq!(w.sb().jira_issues().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_api_gateway_webhook_request_is_answered_202_and_processed_and_a_scheduler_event_runs_hr_departures()
 {
    let w = world().await;
    let actor = w.seed_actor("actor-apigw", "apigw.leaver@example.com");
    let date = date_in_days(5);
    let body = json!({"event_type": "departure", "email": "apigw.leaver@example.com", "departure_date": date})
        .to_string()
        .into_bytes();
    let signed = signed_headers("msg_apigw_1", now_secs(), &body);
    let mut headers = serde_json::Map::new();
    for (k, v) in &signed {
        headers.insert(k.as_str().to_string(), json!(v.to_str().unwrap()));
    }
    let headers = Value::Object(headers);

    let first = hr_event(
        &w.env,
        LambdaEvent::new(
            http_event("POST", "/webhooks/hr/generic", headers.clone(), Some(&body)),
            context(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(first["statusCode"], json!(202), "{first:#}");
    assert_eq!(first["headers"]["content-type"], json!("application/json"));
    assert_eq!(response_body(&first)["message"], json!("accepted"));
    // Processed before the answer: the person is already on the watchlist.
    assert_eq!(
        w.sb().watchlist_actor_ids("DEPARTING_EMPLOYEE"),
        vec![actor.clone()]
    );
    assert_eq!(w.sb().actor(&actor).and_then(|a| a.end_date), Some(date));

    let again = hr_event(
        &w.env,
        LambdaEvent::new(
            http_event("POST", "/webhooks/hr/generic", headers.clone(), Some(&body)),
            context(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(again["statusCode"], json!(200));

    let unsigned = hr_event(
        &w.env,
        LambdaEvent::new(
            http_event(
                "POST",
                "/webhooks/hr/generic",
                json!({"content-type": "application/json"}),
                Some(&body),
            ),
            context(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(unsigned["statusCode"], json!(401));

    let other = hr_event(
        &w.env,
        LambdaEvent::new(
            http_event("GET", "/connections", json!({}), None),
            context(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(other["statusCode"], json!(404));

    let run = hr_event(
        &w.env,
        LambdaEvent::new(scheduler_event(Flow::HrDepartures, false), context()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(run["flow"], json!("hr-departures"));
    assert_eq!(run["status"], json!("succeeded"), "{run:#}");
    assert_eq!(
        w.sb().count(
            "incydr",
            "POST",
            "/v2/watchlists/{watchlist_id}/included-actors/add"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_connections_api_answers_api_gateway_requests_and_its_daily_event_retests_every_connection()
 {
    let w = world().await;

    let list = api_event(
        &w.api,
        LambdaEvent::new(
            http_event("GET", "/connections", json!({}), None),
            context(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(list["statusCode"], json!(200), "{list:#}");
    assert_eq!(list["headers"]["cache-control"], json!("no-store"));
    let body = response_body(&list);
    let conns = body["connections"]
        .as_array()
        .expect("a list of connections");
    assert_eq!(conns.len(), 8);
    let status_of = |kind: &str| {
        conns
            .iter()
            .find(|c| c["kind"] == json!(kind))
            .map(|c| c["status"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(status_of("incydr"), json!("connected"), "{body:#}");
    assert_eq!(status_of("jira"), json!("connected"));
    assert_eq!(status_of("okta"), json!("never_connected"));
    assert!(
        !body
            .to_string()
            .contains(riskflow_sandbox::creds::INCYDR_CLIENT_SECRET),
        "no secret in answers"
    );

    let missing = api_event(
        &w.api,
        LambdaEvent::new(
            http_event("GET", "/connections/nosuchkind", json!({}), None),
            context(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(missing["statusCode"], json!(404));

    let daily = api_event(
        &w.api,
        LambdaEvent::new(scheduler_event(Flow::AlertTickets, false), context()),
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.message));
    let results = daily.as_object().expect("results by kind");
    let tested: Vec<&String> = results.keys().collect();
    assert_eq!(tested, vec!["generic", "incydr", "jira"], "{daily:#}");
    for (kind, r) in results {
        assert_eq!(r["status"], json!(200), "{kind}: {r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_modules_schedule_input_runs_its_own_job_and_a_misdirected_schedule_is_refused() {
    let w = world().await;
    let input = |job: &str| json!({"source": "riskflow.schedule", "job": job});
    let run =
        scheduled::<AlertTicketsJob>(&w.env, LambdaEvent::new(input("alert-tickets"), context()))
            .await
            .unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!(run["flow"], json!("alert-tickets"));
    assert_eq!(run["status"], json!("succeeded"), "{run:#}");

    // A schedule pointed at the wrong function runs nothing.
    let e = scheduled::<AlertTicketsJob>(
        &w.env,
        LambdaEvent::new(input("departing-response"), context()),
    )
    .await
    .unwrap_err();
    assert!(!e.retryable);
    assert_eq!(
        e.message,
        "this function runs alert-tickets; the schedule asked for departing-response"
    );
    // And an event that is no trigger at all says what was expected.
    let e = hr_event(&w.env, LambdaEvent::new(json!({"Records": []}), context()))
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("not a riskflow trigger"),
        "{}",
        e.message
    );
}
