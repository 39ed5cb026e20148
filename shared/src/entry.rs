//! Entry-point glue for the Lambda functions: turning runtime events into domain calls and
//! domain results into responses. Kept here (not in the binaries) so it is tested with real
//! event JSON.

use crate::api::{ApiRequest, ApiResponse};
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The `Instant` of a Lambda deadline given in epoch milliseconds.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Whether a JSON event is an API Gateway HTTP API (payload 2.0) request.
pub fn is_http_event(v: &serde_json::Value) -> bool {
    v.get("requestContext").is_some() && (v.get("rawPath").is_some() || v.get("routeKey").is_some())
}

/// Whether a scheduled or manual event asks for a dry run (`{"dry_run": true}`, also inside
/// EventBridge's `detail`).
pub fn event_dry_run(v: &serde_json::Value) -> bool {
    v.get("dry_run").and_then(|d| d.as_bool()).unwrap_or(false)
        || v.pointer("/detail/dry_run")
            .and_then(|d| d.as_bool())
            .unwrap_or(false)
}

/// An API Gateway HTTP API request as the transport-neutral request. The caller is the IAM
/// principal API Gateway authorised (`requestContext.authorizer.iam.userArn`).
pub fn request_from_apigw(ev: ApiGatewayV2httpRequest) -> ApiRequest {
    let method = ev.request_context.http.method.clone();
    let principal = ev
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.iam.as_ref())
        .and_then(|i| i.user_arn.clone())
        .unwrap_or_else(|| "anonymous".to_string());
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

/// The method of a request, for logs.
pub fn method_name(m: &Method) -> &str {
    m.as_str()
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
        assert!(is_http_event(&v));
        let ev: ApiGatewayV2httpRequest = serde_json::from_value(v).unwrap();
        let r = request_from_apigw(ev);
        assert_eq!(r.method, Method::PUT);
        assert_eq!(r.path, "/connections/jira");
        assert_eq!(r.principal, "arn:aws:iam::123456789012:user/alice");
        assert_eq!(r.query.get("x").map(String::as_str), Some("1"));
        assert_eq!(&r.body[..], br#"{"url":"https://x.atlassian.net"}"#);
        assert_eq!(r.headers["content-type"], "application/json");
    }

    #[test]
    fn a_scheduled_event_is_not_http_and_may_ask_for_a_dry_run() {
        let ev: serde_json::Value = serde_json::from_str(r#"{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.scheduler","account":"123456789012","time":"2026-11-25T08:00:00Z","region":"us-east-1","resources":["arn:aws:scheduler:us-east-1:123456789012:schedule/default/riskflow-alert-tickets"],"detail":{}}"#).unwrap();
        assert!(!is_http_event(&ev));
        assert!(!event_dry_run(&ev));
        assert!(event_dry_run(&serde_json::json!({"dry_run": true})));
        assert!(event_dry_run(
            &serde_json::json!({"detail": {"dry_run": true}})
        ));
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

// ---------------------------------------------------------------------------------------------
// Handlers of the four functions

use crate::app::App;
use crate::domain::{Flow, RunStatus};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

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

/// Run a scheduled flow. A failed run is reported as a (retryable) error so the function's
/// error alarm fires; skipped and partial runs are answered normally with their record.
pub async fn scheduled(
    env: &App,
    flow: Flow,
    ev: LambdaEvent<Value>,
) -> Result<Value, HandlerError> {
    let deadline = deadline_from_epoch_ms(ev.context.deadline);
    let dry_run = event_dry_run(&ev.payload);
    let rec = env.run_flow(flow, dry_run, deadline).await;
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
    if !is_http_event(&ev.payload) {
        return scheduled(env, Flow::HrDepartures, ev).await;
    }
    let deadline = deadline_from_epoch_ms(ev.context.deadline);
    let req: ApiGatewayV2httpRequest =
        serde_json::from_value(ev.payload).map_err(|e| HandlerError {
            retryable: false,
            message: format!("not an API Gateway HTTP API event: {e}"),
        })?;
    let r = request_from_apigw(req);
    let source = r
        .path
        .strip_prefix("/webhooks/hr/")
        .map(|s| s.trim_end_matches('/').to_string());
    let resp = match (r.method.clone(), source) {
        (Method::POST, Some(source)) if !source.contains('/') => {
            let accepted = env
                .webhook_receiver()
                .receive(&source, &r.headers, &r.body)
                .await;
            // Processed before answering, within a short budget: after the answer a Lambda is
            // frozen. What does not finish stays pending for the next scheduled run.
            let budget = deadline.min(Instant::now() + Duration::from_secs(10));
            env.process_hr_items(&accepted.new_items, budget).await;
            accepted.response
        }
        _ => ApiResponse::error(
            http::StatusCode::NOT_FOUND,
            format!("no route {} {}", r.method, r.path),
        ),
    };
    serde_json::to_value(response_to_apigw(resp)).map_err(|e| HandlerError {
        retryable: false,
        message: e.to_string(),
    })
}

/// The connections-api function: the API routes, and the daily re-test of every connection.
pub async fn api_event(
    api: &crate::api::connections::ConnectionsApi,
    ev: LambdaEvent<Value>,
) -> Result<Value, HandlerError> {
    if !is_http_event(&ev.payload) {
        let deadline = deadline_from_epoch_ms(ev.context.deadline);
        return Ok(retest_all(api, deadline).await);
    }
    let req: ApiGatewayV2httpRequest =
        serde_json::from_value(ev.payload).map_err(|e| HandlerError {
            retryable: false,
            message: format!("not an API Gateway HTTP API event: {e}"),
        })?;
    let resp = api.handle(request_from_apigw(req)).await;
    serde_json::to_value(response_to_apigw(resp)).map_err(|e| HandlerError {
        retryable: false,
        message: e.to_string(),
    })
}

/// The daily re-test of every connection, so an expired credential shows before a run fails.
/// The connections are tested at once, each within the API's verification budget, and the
/// whole within the invocation's deadline (less a margin to answer): a connection still being
/// verified then is reported as not finished, and its status is left as it was.
pub async fn retest_all(api: &crate::api::connections::ConnectionsApi, deadline: Instant) -> Value {
    let budget = deadline
        .saturating_duration_since(Instant::now())
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
            let r = tokio::time::timeout(budget, api.handle(req)).await;
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
