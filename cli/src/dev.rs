//! `riskflow dev`: one process on 127.0.0.1 serving the connections API, the HR webhook and the
//! Data Sources page, and running the three jobs on a timer, with SQLite state and file secrets
//! in the data dir. With `--sandbox` it also starts the sandbox of fake SaaS systems, seeds demo
//! data and connects every system to it, so every job acts within the first minute.
//!
//! Local-only safety: it binds 127.0.0.1, accepts only `Host: 127.0.0.1:<port>` or
//! `localhost:<port>`, refuses a foreign `Origin`, and takes its bearer token only from the
//! `Authorization` header (the page reads it from the URL fragment printed at start).

use crate::commands::{api, open_env, record_private_urls};
use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as AxPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use riskflow::api::connections::{ConnectionsApi, RunStarter};
use riskflow::api::{ApiRequest, ApiResponse, MAX_BODY};
use riskflow::app::App;
use riskflow::domain::{Flow, RunRecord};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE: &str = include_str!("page.html");

#[derive(clap::Args)]
pub struct DevArgs {
    /// Also start the sandbox of fake SaaS systems, seed demo data and connect everything to it.
    #[arg(long)]
    sandbox: bool,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Seconds between scheduled runs of the jobs.
    #[arg(long, default_value_t = 60)]
    interval: u64,
    /// Start with the scheduler off: runs happen only when started (`POST /runs/{flow}`, the
    /// page, or `riskflow run` in another terminal), one by one.
    #[arg(long)]
    no_schedule: bool,
    /// Let connections point at private and loopback hosts (a test double, an on-premises
    /// proxy). The choice is recorded in the data dir, so later commands on it honour it
    /// without RISKFLOW_ALLOW_PRIVATE_URLS; `--allow-private-urls=false` withdraws it.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_private_urls: Option<bool>,
}

#[derive(Clone)]
struct AppState {
    env: App,
    api: ConnectionsApi,
    token: Arc<String>,
    port: u16,
}

/// Runs started from the API run in the background of this process.
struct BackgroundRunner {
    env: App,
}

#[async_trait::async_trait]
impl RunStarter for BackgroundRunner {
    async fn start(&self, flow: Flow, dry_run: bool) -> Result<String, String> {
        let env = self.env.clone();
        tokio::spawn(async move {
            let rec = env
                .run_flow(flow, dry_run, Instant::now() + Duration::from_secs(900))
                .await;
            report(&rec);
        });
        Ok(format!(
            "{flow} started{}",
            if dry_run { " (dry run)" } else { "" }
        ))
    }
}

pub async fn run(data_dir: &Path, args: DevArgs) -> Result<()> {
    if args.sandbox {
        // SAFETY of the switch: the sandbox is on loopback, so the address guard must allow it.
        // Set before any thread reads the environment.
        unsafe { std::env::set_var("RISKFLOW_ALLOW_PRIVATE_URLS", "true") };
    }
    let mut env = open_env(data_dir)?;
    if let Some(allow) = args.allow_private_urls {
        record_private_urls(data_dir, allow)?;
        env.allow_private_urls = allow || args.sandbox;
    }
    let mut sandbox = None;
    if args.sandbox {
        let mut sb = riskflow_sandbox::Sandbox::start(0)
            .await
            .context("starting the sandbox")?;
        riskflow_sandbox::seed_demo(&sb.state());
        let adp_url = sb
            .start_adp_mtls(0)
            .await
            .context("starting the sandbox's ADP listener")?;
        let tls = sb
            .state()
            .adp_tls()
            .ok_or_else(|| anyhow!("the sandbox has no ADP certificates"))?;
        env.extra_root_pem = Some(tls.ca_cert_pem.clone().into_bytes());
        sandbox = Some((sb, adp_url, tls));
    }
    let token = hex::encode(rand::random::<[u8; 24]>());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    let runner = Arc::new(BackgroundRunner { env: env.clone() });
    let state = AppState {
        api: env.connections_api(runner),
        env: env.clone(),
        token: Arc::new(token.clone()),
        port,
    };
    if let Some((sb, adp_url, tls)) = &sandbox {
        connect_sandbox(&api(&env), sb, adp_url, tls).await?;
        println!(
            "sandbox: fake Incydr, Jira, ServiceNow, Okta, Workday, ADP and BambooHR at {}",
            sb.base_url()
        );
    }
    let app = router(state.clone());
    println!(
        "riskflow dev listening on http://127.0.0.1:{port} (data in {})",
        data_dir.display()
    );
    println!("Data Sources page: http://127.0.0.1:{port}/#token={token}");
    println!("API token (send as 'Authorization: Bearer <token>'): {token}");
    if env.allow_private_urls {
        println!("private and loopback hosts allowed for connections");
    }
    if args.no_schedule {
        println!(
            "scheduler off: start runs with POST /runs/<flow>, the page, or `riskflow run <flow>`; Ctrl-C stops"
        );
    } else {
        println!("jobs run every {}s; Ctrl-C stops", args.interval);
        schedule(env.clone(), Duration::from_secs(args.interval.max(1)));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if let Some((sb, _, _)) = sandbox {
        sb.shutdown().await;
    }
    Ok(())
}

/// Run the jobs one after another, then wait `interval`, for as long as the process lives.
fn schedule(sched_env: App, interval: Duration) {
    tokio::spawn(async move {
        loop {
            for flow in [
                Flow::HrDepartures,
                Flow::AlertTickets,
                Flow::DepartingResponse,
                Flow::StateSync,
            ] {
                let rec = sched_env
                    .run_flow(flow, false, Instant::now() + Duration::from_secs(600))
                    .await;
                report(&rec);
            }
            tokio::time::sleep(interval).await;
        }
    });
}

/// One line per run in the terminal.
fn report(rec: &RunRecord) {
    let counts: Vec<String> = rec
        .counts
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let when = riskflow::clock::rfc3339_of_ms(rec.finished_at);
    let mut line = format!(
        "[{}] {} {:?}{}",
        when.get(11..19).unwrap_or(&when),
        rec.flow,
        rec.status,
        if rec.dry_run { " (dry run)" } else { "" }
    )
    .to_lowercase();
    if !counts.is_empty() {
        line.push_str(": ");
        line.push_str(&counts.join(" "));
    }
    if let Some(m) = &rec.message {
        line.push_str(&format!(" — {m}"));
    }
    println!("{line}");
    for e in rec.errors.iter().take(3) {
        println!("    error: {e}");
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/webhooks/hr/{source}", post(webhook))
        .route("/health", any(api_route))
        .route("/connections", any(api_route))
        .route("/connections/{*rest}", any(api_route))
        .route("/runs", any(api_route))
        .route("/runs/{*rest}", any(api_route))
        .route("/audit", any(api_route))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY + 1))
        .with_state(state)
}

fn json_response(r: ApiResponse) -> Response {
    let mut resp = (r.status, r.body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn refuse(status: StatusCode, message: &str) -> Response {
    json_response(ApiResponse::error(status, message))
}

/// Host, Origin and token checks for every request.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let allowed_hosts = [
        format!("127.0.0.1:{}", st.port),
        format!("localhost:{}", st.port),
    ];
    if !allowed_hosts.iter().any(|h| h == host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this server only answers to 127.0.0.1 or localhost on its own port",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .is_some_and(|o| allowed_hosts.iter().any(|h| o == format!("http://{h}")));
        if !ok {
            return refuse(StatusCode::FORBIDDEN, "cross-origin requests are refused");
        }
    }
    let path = req.uri().path();
    let public = path == "/" || path == "/health" || path.starts_with("/webhooks/hr/");
    if !public {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or("");
        let expected = st.token.as_bytes();
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "send the token printed at start as 'Authorization: Bearer <token>'",
            );
        }
    }
    next.run(req).await
}

async fn page() -> Response {
    let mut resp = Html(PAGE).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}

async fn api_route(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY + 1).await {
        Ok(b) if b.len() <= MAX_BODY => b,
        _ => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than 256 KiB",
            );
        }
    };
    let query = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let r = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body,
        principal: "local".into(),
    };
    json_response(st.api.handle(r).await)
}

async fn webhook(
    State(st): State<AppState>,
    AxPath(source): AxPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (response, run) = st
        .env
        .deliver_webhook(
            &source,
            &headers,
            &body,
            Instant::now() + Duration::from_secs(60),
        )
        .await;
    if let Some(rec) = run {
        report(&rec);
    }
    json_response(response)
}

/// Connect every system to the sandbox with its demo credentials, through the API handler.
async fn connect_sandbox(
    api: &ConnectionsApi,
    sb: &riskflow_sandbox::Sandbox,
    adp_url: &str,
    tls: &riskflow_sandbox::TlsMaterial,
) -> Result<()> {
    use riskflow_sandbox::creds::*;
    let conns: Vec<(&str, Value)> = vec![
        (
            "incydr",
            json!({"url": sb.url("incydr"), "client_id": INCYDR_CLIENT_ID, "client_secret": INCYDR_CLIENT_SECRET, "console_url": sb.url("incydr"), "sink": "both", "min_severity": 1}),
        ),
        (
            "jira",
            json!({"url": sb.url("jira"), "email": JIRA_EMAIL, "api_token": JIRA_API_TOKEN, "project_key": "SEC"}),
        ),
        (
            "servicenow",
            json!({"url": sb.url("servicenow"), "username": SERVICENOW_USER, "password": SERVICENOW_PASSWORD, "assignment_group": riskflow_sandbox::SNOW_SECOPS_GROUP_SYS_ID}),
        ),
        (
            "okta",
            json!({"url": sb.url("okta"), "api_token": OKTA_API_TOKEN, "group_id": riskflow_sandbox::OKTA_DEPARTING_GROUP_ID}),
        ),
        (
            "workday",
            json!({"report_url": format!("{}/ccx/service/customreport2/sandbox/ISU_demo/Terminations", sb.url("workday")), "username": WORKDAY_USER, "password": WORKDAY_PASSWORD}),
        ),
        (
            "adp",
            json!({"api_url": adp_url, "token_url": format!("{adp_url}/auth/oauth/v2/token"), "client_id": ADP_CLIENT_ID, "client_secret": ADP_CLIENT_SECRET, "certificate_pem": tls.client_cert_pem, "private_key_pem": tls.client_key_pem}),
        ),
        (
            "bamboohr",
            json!({"url": format!("{}/api/gateway.php/demo", sb.url("bamboohr")), "api_key": BAMBOOHR_API_KEY, "webhook_key": BAMBOOHR_WEBHOOK_KEY}),
        ),
        (
            "generic",
            json!({"signing_secret": "whsec_ZGVtby1nZW5lcmljLXNpZ25pbmctc2VjcmV0LTAx"}),
        ),
    ];
    for (kind, body) in conns {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let r = api
            .handle(ApiRequest {
                method: http::Method::PUT,
                path: format!("/connections/{kind}"),
                query: Default::default(),
                headers,
                body: bytes::Bytes::from(body.to_string()),
                principal: "local".into(),
            })
            .await;
        println!("connect {kind}: {}", r.message().unwrap_or(""));
    }
    Ok(())
}
