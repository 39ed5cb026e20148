//! The Lambda functions' entry points: a runtime event is deserialised into a typed [`Trigger`]
//! (an API Gateway HTTP API request, a schedule, a manual run request), handled, and the result
//! turned into a response or a [`HandlerError`]. Kept here (not in the binaries) so it is tested
//! with real event JSON.

use crate::api::{ApiRequest, ApiResponse};
use crate::app::{App, HrDeparturesJob, Job};
use crate::domain::RunStatus;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The `Instant` of a Lambda deadline given in epoch milliseconds.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// What invoked a function.
#[derive(Debug)]
pub enum Trigger {
    /// An API Gateway HTTP API (payload 2.0) request.
    Http(Box<ApiGatewayV2httpRequest>),
    /// A schedule: the module's EventBridge Scheduler input
    /// (`{"source": "riskflow.schedule", "job": "<job>"}`), or EventBridge's own "Scheduled
    /// Event" (no job named). Either may ask for a dry run.
    Schedule { job: Option<String>, dry_run: bool },
    /// A manual run (`POST /runs/{flow}` invokes the flow's function with `{"dry_run": …}`).
    Run { dry_run: bool },
}

/// The module's scheduler input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleInput {
    source: ScheduleSource,
    job: String,
    #[serde(default)]
    dry_run: bool,
}

#[derive(Debug, Deserialize)]
enum ScheduleSource {
    #[serde(rename = "riskflow.schedule")]
    Riskflow,
}

/// EventBridge's "Scheduled Event" (Scheduler's template, or a rule).
#[derive(Debug, Deserialize)]
struct ScheduledEvent {
    #[serde(rename = "detail-type")]
    _detail_type: String,
    #[serde(default)]
    detail: ScheduledDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ScheduledDetail {
    #[serde(default)]
    dry_run: bool,
}

/// The manual run request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    #[serde(default)]
    dry_run: bool,
}

/// The part of an HTTP API request that tells it from any other event: a request context with
/// its `http` description (fields only checked for presence).
#[derive(Deserialize)]
struct HttpShape {
    #[serde(rename = "requestContext")]
    _request_context: HttpShapeContext,
}

#[derive(Deserialize)]
struct HttpShapeContext {
    #[serde(rename = "http")]
    _http: serde::de::IgnoredAny,
}

/// An event told apart, with an HTTP request not yet read whole: the functions that serve no
/// route refuse one without deserialising (and so without linking) the whole request type.
enum Classified {
    Http(Value),
    Other(Trigger),
}

/// A trigger refused: retrying the same event cannot help.
fn refused(why: String) -> HandlerError {
    HandlerError {
        retryable: false,
        message: why,
    }
}

impl Trigger {
    /// Deserialise an event. Anything that is none of the triggers is refused with a message
    /// saying what was expected.
    pub fn from_event(v: Value) -> Result<Trigger, HandlerError> {
        match Trigger::classify(v)? {
            Classified::Http(v) => {
                let req: ApiGatewayV2httpRequest = serde_json::from_value(v).map_err(|e| {
                    refused(format!(
                        "not an API Gateway HTTP API (payload 2.0) request: {e}"
                    ))
                })?;
                Ok(Trigger::Http(Box::new(req)))
            }
            Classified::Other(t) => Ok(t),
        }
    }

    fn classify(v: Value) -> Result<Classified, HandlerError> {
        if HttpShape::deserialize(&v).is_ok() {
            return Ok(Classified::Http(v));
        }
        if let Ok(s) = ScheduleInput::deserialize(&v) {
            let ScheduleSource::Riskflow = s.source;
            return Ok(Classified::Other(Trigger::Schedule {
                job: Some(s.job),
                dry_run: s.dry_run,
            }));
        }
        if let Ok(e) = ScheduledEvent::deserialize(&v) {
            return Ok(Classified::Other(Trigger::Schedule {
                job: None,
                dry_run: e.detail.dry_run,
            }));
        }
        if let Ok(r) = RunRequest::deserialize(&v) {
            return Ok(Classified::Other(Trigger::Run { dry_run: r.dry_run }));
        }
        let shown: String = v.to_string().chars().take(200).collect();
        Err(refused(format!(
            "not a riskflow trigger: expected an API Gateway HTTP API request, a schedule \
             ({{\"source\": \"riskflow.schedule\", \"job\": …}} or an EventBridge Scheduled Event) \
             or a run request ({{\"dry_run\": true|false}}); got {shown}"
        )))
    }
}

/// The IAM principal API Gateway authorised the request for
/// (`requestContext.authorizer.iam.userArn`, else its `callerId`), or `None` when the request
/// reached the function without one (a route without IAM authorisation, a direct invoke).
pub fn iam_principal(ev: &ApiGatewayV2httpRequest) -> Option<String> {
    let iam = ev.request_context.authorizer.as_ref()?.iam.as_ref()?;
    [&iam.user_arn, &iam.caller_id]
        .into_iter()
        .flatten()
        .map(|p| p.trim())
        .find(|p| !p.is_empty())
        .map(str::to_string)
}

/// An API Gateway HTTP API request as the transport-neutral request, made by `principal`.
pub fn request_from_apigw(ev: ApiGatewayV2httpRequest, principal: String) -> ApiRequest {
    let method = ev.request_context.http.method.clone();
    let stage = ev.request_context.stage.clone().unwrap_or_default();
    let mut path = ev
        .raw_path
        .clone()
        .or_else(|| ev.request_context.http.path.clone())
        .unwrap_or_else(|| "/".into());
    if !stage.is_empty() && stage != "$default" {
        let prefix = format!("/{stage}");
        if let Some(rest) = path.strip_prefix(&prefix) {
            path = if rest.is_empty() {
                "/".into()
            } else {
                rest.to_string()
            };
        }
    }
    let body = match ev.body {
        None => Bytes::new(),
        Some(b) if ev.is_base64_encoded => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b.as_bytes())
                .map(Bytes::from)
                .unwrap_or_default()
        }
        Some(b) => Bytes::from(b),
    };
    let query = ev
        .query_string_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ApiRequest {
        method,
        path,
        query,
        headers: ev.headers,
        body,
        principal,
    }
}

/// A response as API Gateway HTTP API expects it.
pub fn response_to_apigw(resp: ApiResponse) -> ApiGatewayV2httpResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = resp.status.as_u16() as i64;
    out.headers = headers;
    out.body = Some(Body::Text(resp.body.to_string()));
    out.is_base64_encoded = false;
    out
}

/// A response as the JSON Lambda hands back to API Gateway.
fn answer(resp: ApiResponse) -> Result<Value, HandlerError> {
    serde_json::to_value(response_to_apigw(resp)).map_err(|e| HandlerError {
        retryable: false,
        message: e.to_string(),
    })
}

/// The method of a request, for logs.
pub fn method_name(m: &Method) -> &str {
    m.as_str()
}

// ---------------------------------------------------------------------------------------------
// Handlers of the four functions

/// A handler failure, reported to Lambda with an `error_type` that says whether a retry helps.
#[derive(Debug)]
pub struct HandlerError {
    pub retryable: bool,
    pub message: String,
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: if e.retryable {
                "riskflow.Retryable".into()
            } else {
                "riskflow.NotRetryable".into()
            },
            error_message: e.message,
        }
    }
}

/// A flow function (alert-tickets, departing-response): its schedule and manual runs.
pub async fn scheduled<J: Job>(env: &App, ev: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let deadline = deadline_from_epoch_ms(ev.context.deadline);
    match Trigger::classify(ev.payload)? {
        Classified::Http(_) | Classified::Other(Trigger::Http(_)) => Err(refused(format!(
            "the {} function serves no HTTP route",
            J::FLOW
        ))),
        Classified::Other(Trigger::Schedule { job, dry_run }) => {
            run_job::<J>(env, job, dry_run, deadline).await
        }
        Classified::Other(Trigger::Run { dry_run }) => {
            run_job::<J>(env, None, dry_run, deadline).await
        }
    }
}

/// Run a flow for a schedule or a manual request. A schedule naming another job is refused (a
/// schedule pointed at the wrong function must not run this one). A failed run is reported as
/// a (retryable) error so the function's error alarm fires; skipped and partial runs are
/// answered normally with their record.
async fn run_job<J: Job>(
    env: &App,
    job: Option<String>,
    dry_run: bool,
    deadline: Instant,
) -> Result<Value, HandlerError> {
    let flow = J::FLOW;
    if let Some(job) = job.filter(|j| j != flow.as_str()) {
        return Err(HandlerError {
            retryable: false,
            message: format!("this function runs {flow}; the schedule asked for {job}"),
        });
    }
    let rec = env.run_job::<J>(dry_run, deadline).await;
    let view = crate::api::connections::run_view(&rec);
    if rec.status == RunStatus::Failed {
        return Err(HandlerError {
            retryable: true,
            message: format!("{flow} failed: {}", rec.errors.join("; ")),
        });
    }
    Ok(view)
}

/// The hr-departures function: HR webhooks (API Gateway) and its schedule.
pub async fn hr_event(env: &App, ev: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let deadline = deadline_from_epoch_ms(ev.context.deadline);
    let req = match Trigger::from_event(ev.payload)? {
        Trigger::Http(req) => req,
        Trigger::Schedule { job, dry_run } => {
            return run_job::<HrDeparturesJob>(env, job, dry_run, deadline).await;
        }
        Trigger::Run { dry_run } => {
            return run_job::<HrDeparturesJob>(env, None, dry_run, deadline).await;
        }
    };
    // Webhooks are public routes: the signature, not IAM, says who sent them.
    let r = request_from_apigw(*req, "webhook".into());
    let source = r
        .path
        .strip_prefix("/webhooks/hr/")
        .map(|s| s.trim_end_matches('/').to_string());
    let resp = match (r.method.clone(), source) {
        (Method::POST, Some(source)) if !source.contains('/') => {
            env.deliver_webhook(&source, &r.headers, &r.body, deadline)
                .await
                .0
        }
        _ => ApiResponse::error(
            http::StatusCode::NOT_FOUND,
            format!("no route {} {}", r.method, r.path),
        ),
    };
    answer(resp)
}

/// The connections-api function: the API routes, and the daily re-test of every connection.
pub async fn api_event(
    api: &crate::api::connections::ConnectionsApi,
    ev: LambdaEvent<Value>,
) -> Result<Value, HandlerError> {
    let deadline = deadline_from_epoch_ms(ev.context.deadline);
    let req = match Trigger::from_event(ev.payload)? {
        Trigger::Http(req) => req,
        Trigger::Schedule { job, .. }
            if job.as_deref().is_none_or(|j| j == "connection-retest") =>
        {
            return Ok(retest_all(api, deadline).await);
        }
        Trigger::Schedule { job, .. } => {
            return Err(HandlerError {
                retryable: false,
                message: format!(
                    "connections-api runs the connection-retest schedule; the schedule asked for {}",
                    job.unwrap_or_default()
                ),
            });
        }
        Trigger::Run { .. } => {
            return Err(HandlerError {
                retryable: false,
                message: "connections-api runs no flow; start a run with POST /runs/{flow}".into(),
            });
        }
    };
    let principal = iam_principal(&req);
    let r = request_from_apigw(*req, principal.clone().unwrap_or_default());
    let resp = match principal {
        Some(_) => api.handle(r).await,
        // GET /health is the one public route (no IAM authorisation at API Gateway).
        None if r.method == Method::GET && r.path.trim_end_matches('/') == "/health" => {
            api.handle(r).await
        }
        None => {
            tracing::warn!(method = %r.method, path = %r.path, "request without an IAM principal refused");
            ApiResponse::error(
                http::StatusCode::FORBIDDEN,
                "this route needs a request signed with SigV4 and authorised by API Gateway's IAM authoriser; none reached the function",
            )
        }
    };
    answer(resp)
}

/// The daily re-test of every connection, so an expired credential shows before a run fails.
/// The connections are tested at once, each within the API's verification budget, and the
/// whole within the invocation's deadline (less a margin to answer): a connection still being
/// verified then is reported as not finished, and its status is left as it was.
pub async fn retest_all(api: &crate::api::connections::ConnectionsApi, deadline: Instant) -> Value {
    let started = Instant::now();
    let budget = deadline
        .saturating_duration_since(started)
        .saturating_sub(Duration::from_secs(2));
    let tests = crate::domain::ConnectionKind::ALL
        .iter()
        .map(|kind| async move {
            let req = ApiRequest {
                method: Method::POST,
                path: format!("/connections/{kind}/test"),
                query: Default::default(),
                headers: HeaderMap::new(),
                body: Bytes::new(),
                principal: "schedule".into(),
            };
            let r = tokio::time::timeout(budget, async {
                let first = api.handle(req.clone()).await;
                // A transient answer (5xx, 429, no answer in time) left the status as it was
                // and is in the history: ask once more while a whole verification still fits.
                let transient = matches!(first.status.as_u16(), 502..=504);
                if transient && started.elapsed() + api.verify_budget < budget {
                    return api.handle(req).await;
                }
                first
            })
            .await;
            (kind, r)
        });
    let mut results = serde_json::Map::new();
    for (kind, r) in futures::future::join_all(tests).await {
        match r {
            Ok(r) if r.status == http::StatusCode::CONFLICT => {}
            Ok(r) => {
                results.insert(
                    kind.as_str().into(),
                    json!({"status": r.status.as_u16(), "message": r.message()}),
                );
            }
            Err(_) => {
                results.insert(
                    kind.as_str().into(),
                    json!({"status": 504, "message": "not finished before the invocation's deadline; tested again tomorrow"}),
                );
            }
        }
    }
    Value::Object(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IAM_REQUEST: &str = r#"{
      "version": "2.0",
      "routeKey": "PUT /connections/{kind}",
      "rawPath": "/connections/jira",
      "rawQueryString": "x=1",
      "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com"},
      "queryStringParameters": {"x": "1"},
      "requestContext": {
        "accountId": "123456789012",
        "apiId": "abc123",
        "authorizer": {"iam": {"accessKey": "AKIA", "accountId": "123456789012", "callerId": "AIDA", "principalOrgId": null, "userArn": "arn:aws:iam::123456789012:user/alice", "userId": "AIDA"}},
        "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "abc123",
        "http": {"method": "PUT", "path": "/connections/jira", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl/8"},
        "requestId": "req-1",
        "routeKey": "PUT /connections/{kind}",
        "stage": "$default",
        "time": "25/Nov/2026:10:00:00 +0000",
        "timeEpoch": 1795600000000
      },
      "pathParameters": {"kind": "jira"},
      "body": "eyJ1cmwiOiJodHRwczovL3guYXRsYXNzaWFuLm5ldCJ9",
      "isBase64Encoded": true
    }"#;

    #[test]
    fn an_api_gateway_v2_request_becomes_a_request_with_the_iam_principal() {
        let v: serde_json::Value = serde_json::from_str(IAM_REQUEST).unwrap();
        let Trigger::Http(ev) = Trigger::from_event(v).unwrap() else {
            panic!("an HTTP request");
        };
        assert_eq!(
            iam_principal(&ev).as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        let r = request_from_apigw(*ev.clone(), iam_principal(&ev).unwrap());
        assert_eq!(r.method, Method::PUT);
        assert_eq!(r.path, "/connections/jira");
        assert_eq!(r.principal, "arn:aws:iam::123456789012:user/alice");
        assert_eq!(r.query.get("x").map(String::as_str), Some("1"));
        assert_eq!(&r.body[..], br#"{"url":"https://x.atlassian.net"}"#);
        assert_eq!(r.headers["content-type"], "application/json");
    }

    fn schedule(v: serde_json::Value) -> (Option<String>, bool) {
        match Trigger::from_event(v) {
            Ok(Trigger::Schedule { job, dry_run }) => (job, dry_run),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn schedules_and_runs_are_told_apart_by_their_shape() {
        // EventBridge Scheduler's "Scheduled Event" template: no job named.
        let ev: serde_json::Value = serde_json::from_str(r#"{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.scheduler","account":"123456789012","time":"2026-11-25T08:00:00Z","region":"us-east-1","resources":["arn:aws:scheduler:us-east-1:123456789012:schedule/default/riskflow-alert-tickets"],"detail":{}}"#).unwrap();
        assert_eq!(schedule(ev), (None, false));
        assert_eq!(
            schedule(json!({"detail-type": "Scheduled Event", "detail": {"dry_run": true}})),
            (None, true)
        );
        // The Terraform module's schedule input names its job.
        assert_eq!(
            schedule(json!({"source": "riskflow.schedule", "job": "alert-tickets"})),
            (Some("alert-tickets".into()), false)
        );
        assert_eq!(
            schedule(
                json!({"source": "riskflow.schedule", "job": "connection-retest", "dry_run": true})
            ),
            (Some("connection-retest".into()), true)
        );
        // POST /runs/{flow} invokes with a run request.
        assert!(matches!(
            Trigger::from_event(json!({"dry_run": true})),
            Ok(Trigger::Run { dry_run: true })
        ));
        assert!(matches!(
            Trigger::from_event(json!({})),
            Ok(Trigger::Run { dry_run: false })
        ));
    }

    #[test]
    fn anything_else_is_refused_saying_what_was_expected() {
        for ev in [
            json!({"source": "someone.else", "job": "alert-tickets"}),
            json!({"dry_run": "yes"}),
            json!({"Records": [{"eventSource": "aws:sqs"}]}),
            json!("alert-tickets"),
        ] {
            let e = Trigger::from_event(ev.clone()).unwrap_err();
            assert!(!e.retryable);
            assert!(
                e.message.starts_with(
                    "not a riskflow trigger: expected an API Gateway HTTP API request"
                ),
                "{ev}: {}",
                e.message
            );
        }
    }

    struct NoRuns;

    #[async_trait::async_trait]
    impl crate::api::connections::RunStarter for NoRuns {
        async fn start(&self, _: crate::domain::Flow, _: bool) -> Result<String, String> {
            Err("no runs here".into())
        }
    }

    fn connections_api() -> crate::api::connections::ConnectionsApi {
        crate::app::App::new(
            crate::store::Store::in_memory(),
            std::sync::Arc::new(crate::secrets::memory::MemorySecretStore::new()),
            "riskflow/".into(),
            false,
        )
        .connections_api(std::sync::Arc::new(NoRuns))
    }

    /// `IAM_REQUEST` as `method path`, with `authorizer` as its authoriser context.
    fn api_gateway(method: &str, path: &str, authorizer: Option<serde_json::Value>) -> Value {
        let mut v: Value = serde_json::from_str(IAM_REQUEST).unwrap();
        v["rawPath"] = json!(path);
        v["requestContext"]["http"]["method"] = json!(method);
        v["requestContext"]["http"]["path"] = json!(path);
        v["routeKey"] = json!(format!("{method} {path}"));
        v["body"] = Value::Null;
        v["isBase64Encoded"] = json!(false);
        match authorizer {
            Some(a) => v["requestContext"]["authorizer"] = a,
            None => {
                v["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("authorizer");
            }
        }
        v
    }

    async fn status_of(api: &crate::api::connections::ConnectionsApi, ev: Value) -> (i64, Value) {
        let out = api_event(
            api,
            LambdaEvent::new(ev, lambda_runtime::Context::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
        let body: Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
        (out["statusCode"].as_i64().unwrap(), body)
    }

    #[tokio::test]
    async fn a_request_without_an_iam_principal_is_refused_except_health() {
        let api = connections_api();
        let no_principal = [
            None,
            Some(json!({})),
            Some(json!({"iam": {"accessKey": "AKIA", "accountId": "123456789012"}})),
            Some(json!({"iam": {"userArn": " ", "callerId": ""}})),
        ];
        for authorizer in no_principal {
            for (method, path) in [
                ("GET", "/connections"),
                ("GET", "/audit"),
                ("POST", "/runs/alert-tickets"),
                ("DELETE", "/connections/jira"),
                ("GET", "/nowhere"),
            ] {
                let (status, body) =
                    status_of(&api, api_gateway(method, path, authorizer.clone())).await;
                assert_eq!(status, 403, "{method} {path} with {authorizer:?}: {body}");
                assert!(
                    body["message"].as_str().unwrap().contains("SigV4"),
                    "{body}"
                );
            }
            let (status, body) = status_of(&api, api_gateway("GET", "/health", authorizer)).await;
            assert_eq!((status, body), (200, json!({"status": "ok"})));
        }
        // The IAM principal gets through, also when API Gateway gives only a caller id.
        let full: Value = serde_json::from_str(IAM_REQUEST).unwrap();
        for authorizer in [
            full["requestContext"]["authorizer"].clone(),
            json!({"iam": {"callerId": "AROAEXAMPLE:alice"}}),
        ] {
            let (status, body) =
                status_of(&api, api_gateway("GET", "/connections", Some(authorizer))).await;
            assert_eq!(status, 200, "{body}");
        }
    }

    #[test]
    fn responses_are_json_and_not_cached() {
        let r = response_to_apigw(ApiResponse::error(
            http::StatusCode::NOT_FOUND,
            "no such kind",
        ));
        assert_eq!(r.status_code, 404);
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(matches!(r.body, Some(Body::Text(ref t)) if t == r#"{"message":"no such kind"}"#));
    }
}
