//! riskflow sandbox: faithful in-memory fakes of Code42 Incydr, Jira Cloud, ServiceNow, Okta,
//! Workday, ADP and BambooHR, with fault injection, for tests, benchmarks and the local demo.
//!
//! One axum server serves every system under its own prefix (`/incydr`, `/jira`,
//! `/servicenow`, `/okta`, `/workday`, `/adp`, `/bamboohr`); Incydr also answers at the root
//! (`/v1/...`, `/v2/...`) because the official Python SDK cannot use a prefixed base URL.
//! `/_control` seeds and inspects state and sets faults (see [`control`]); [`SandboxHandle`]
//! does the same in-process. Each system's module documents its wire behaviour and the
//! interpretations made where the vendors' documentation is silent.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = riskflow_sandbox::Sandbox::start(0).await?;
//! riskflow_sandbox::seed_demo(&sandbox.state());
//! let jira = sandbox.url("jira"); // http://127.0.0.1:PORT/jira
//! # let _ = jira;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The sandbox deliberately shares no model code with the `riskflow` crate, so the fakes and
//! the clients cannot drift together.

// Handlers return axum `Response`s as their error type: boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod adp;
pub mod bamboohr;
pub mod control;
pub mod creds;
mod demo;
pub mod faults;
mod hosts;
pub mod incydr;
pub mod jira;
mod net;
pub mod okta;
pub mod servicenow;
mod state;
mod tls;
mod util;
pub mod workday;

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use bamboohr::{WebhookDelivery, WebhookRequest, bamboohr_sign};
pub use demo::{
    ADP_TERMINATED_AOID, DEPARTING_ACTOR_ID, DEPARTING_EMAIL, DEPARTING_SESSION_ID, DemoOptions,
    OKTA_APP_GROUP_ID, OKTA_DEPARTING_GROUP_ID, OKTA_DEPARTING_USER_ID, SNOW_SECOPS_GROUP_SYS_ID,
    seed_demo, seed_demo_with,
};
pub use faults::{FaultConfig, FaultKind, FaultRule, Hold, RequestCounts, SYSTEMS};
pub use incydr::{
    ActorDatesView, SessionNotesView, SessionStateView, WatchlistMemberView, WatchlistView,
};
pub use jira::{JiraCommentView, JiraIssueView};
pub use okta::OktaGroupMembersView;
pub use servicenow::SnowIncidentView;
pub use state::{ApiClient, ConfigPatch, CreatedState, SandboxConfig, SandboxHandle, SeedData};
pub use tls::TlsMaterial;

async fn root_fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/v1/") || uri.path().starts_with("/v2/") {
        return incydr::fallback().await;
    }
    (StatusCode::NOT_FOUND, "riskflow sandbox: no such route").into_response()
}

/// How every fake answers injected faults and rate limits (see [`faults::VendorFaults`]).
static VENDOR_FAULTS: [&dyn faults::VendorFaults; 7] = [
    &incydr::Faults,
    &jira::Faults,
    &servicenow::Faults,
    &okta::Faults,
    &workday::Faults,
    &adp::Faults,
    &bamboohr::Faults,
];

/// The fault, rate-limit and counting middleware over `h`.
fn fault_layer(h: &SandboxHandle) -> faults::FaultLayer<SandboxHandle> {
    faults::FaultLayer {
        handle: h.clone(),
        vendors: &VENDOR_FAULTS,
    }
}

/// The router of the main listener.
fn app(h: SandboxHandle) -> Router {
    Router::new()
        .nest("/incydr", incydr::router(h.clone(), true))
        .merge(incydr::router(h.clone(), false))
        .nest("/jira", jira::router::<SandboxHandle>())
        .nest("/servicenow", servicenow::router::<SandboxHandle>())
        .nest("/okta", okta::router(h.clone()))
        .nest("/workday", workday::router::<SandboxHandle>())
        .nest("/adp", adp::router(h.clone()))
        .nest("/bamboohr", bamboohr::router::<SandboxHandle>())
        .nest("/_control", control::router())
        .fallback(root_fallback)
        .layer(middleware::from_fn_with_state(
            fault_layer(&h),
            faults::middleware::<SandboxHandle>,
        ))
        .with_state(h)
}

/// The router of the ADP mutual-TLS listener: ADP at the root and under `/adp`.
fn adp_tls_app(h: SandboxHandle) -> Router {
    Router::new()
        .merge(adp::router(h.clone()))
        .nest("/adp", adp::router(h.clone()))
        .layer(middleware::from_fn_with_state(
            fault_layer(&h),
            faults::middleware::<SandboxHandle>,
        ))
        .with_state(h)
}

/// A running sandbox.
pub struct Sandbox {
    handle: SandboxHandle,
    addr: SocketAddr,
    adp_tls_addr: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sandbox {
    /// Bind 127.0.0.1:port (0 = any free port) and serve in a background tokio task.
    pub async fn start(port: u16) -> std::io::Result<Sandbox> {
        Sandbox::start_with(SandboxHandle::new(), port).await
    }

    /// Like [`Sandbox::start`], serving an existing state.
    pub async fn start_with(handle: SandboxHandle, port: u16) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let task = net::spawn_listener(listener, app(handle.clone()), None, None, rx);
        Ok(Sandbox {
            handle,
            addr,
            adp_tls_addr: None,
            shutdown: tx,
            tasks: vec![task],
        })
    }

    /// Start the ADP mutual-TLS listener on 127.0.0.1:port (0 = any) and return its base URL
    /// (`https://127.0.0.1:PORT`). It generates the demo CA, server and client certificates
    /// (see [`SandboxHandle::adp_tls`]) and rejects connections without a client certificate
    /// signed by that CA. Calling it again returns the running listener's URL.
    pub async fn start_adp_mtls(&mut self, port: u16) -> std::io::Result<String> {
        if let Some(addr) = self.adp_tls_addr {
            return Ok(format!("https://{addr}"));
        }
        let material = TlsMaterial::generate()?;
        let config = material.server_config()?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        *self.handle.tls.lock().unwrap_or_else(|e| e.into_inner()) = Some(material);
        let task = net::spawn_listener(
            listener,
            adp_tls_app(self.handle.clone()),
            Some(tokio_rustls::TlsAcceptor::from(config)),
            Some(net::ForcedSystem("adp")),
            self.shutdown.subscribe(),
        );
        self.tasks.push(task);
        self.adp_tls_addr = Some(addr);
        Ok(format!("https://{addr}"))
    }

    /// `https://127.0.0.1:PORT` of the ADP mTLS listener, once started.
    pub fn adp_mtls_url(&self) -> Option<String> {
        self.adp_tls_addr.map(|a| format!("https://{a}"))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url() + "/" + system`, e.g. `http://127.0.0.1:PORT/jira`.
    pub fn url(&self, system: &str) -> String {
        format!("{}/{}", self.base_url(), system.trim_matches('/'))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Direct in-process access to the state (same operations as `/_control`).
    pub fn state(&self) -> SandboxHandle {
        self.handle.clone()
    }

    /// Stop accepting, close every connection and wait for the listeners to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests {
    //! Tests through the whole app: routers, fault layer and seeding together.

    use std::collections::BTreeMap;

    use axum::http::header;
    use serde_json::{Value, json};

    use super::*;
    use crate::bamboohr::BambooEmployee;

    /// GET a BambooHR path through the sandbox's router, as the demo key.
    fn get(h: &SandboxHandle, path: &str) -> (StatusCode, Value) {
        use tower::ServiceExt;
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:x", creds::BAMBOOHR_API_KEY),
        );
        let req = axum::http::Request::get(format!("/bamboohr{path}"))
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::ACCEPT, "application/json")
            .body(axum::body::Body::empty())
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let resp = crate::app(h.clone()).oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
            (status, v)
        })
    }

    fn employee(id: &str, email: &str) -> BambooEmployee {
        let mut fields = BTreeMap::new();
        fields.insert("firstName".to_string(), json!("First"));
        fields.insert("workEmail".to_string(), json!(email));
        BambooEmployee {
            id: id.to_string(),
            fields,
        }
    }

    #[test]
    fn employee_zero_is_the_api_keys_own_record_in_the_demo() {
        let h = SandboxHandle::new();
        crate::seed_demo(&h);
        for prefix in ["/api", "/api/gateway.php/acme"] {
            let (status, v) = get(&h, &format!("{prefix}/v1/employees/0"));
            assert_eq!(status, StatusCode::OK, "{prefix}");
            assert_eq!(
                v,
                json!({"id": "40400", "firstName": "Harper", "lastName": "Resources"})
            );
            let (status, v) = get(
                &h,
                &format!("{prefix}/v1/employees/0?fields=workEmail,status"),
            );
            assert_eq!(status, StatusCode::OK, "{prefix}");
            assert_eq!(
                v,
                json!({"id": "40400", "workEmail": "hr.admin@example.com", "status": "Active"})
            );
            // Other ids are unchanged.
            let (status, v) = get(&h, &format!("{prefix}/v1/employees/40401"));
            assert_eq!((status, &v["id"]), (StatusCode::OK, &json!("40401")));
            assert_eq!(
                get(&h, &format!("{prefix}/v1/employees/1")).0,
                StatusCode::NOT_FOUND
            );
        }
    }

    #[test]
    fn employee_zero_follows_the_seeded_key_owner_else_a_literal_record() {
        let h = SandboxHandle::new();
        assert_eq!(get(&h, "/api/v1/employees/0").0, StatusCode::NOT_FOUND);
        h.add_bamboohr_employee(employee("0", "literal@example.com"));
        assert_eq!(
            get(&h, "/api/v1/employees/0?fields=workEmail").1["workEmail"],
            "literal@example.com"
        );
        h.seed(SeedData {
            bamboohr_employees: vec![employee("7", "owner@example.com")],
            bamboohr_api_key_employee: Some("7".into()),
            ..SeedData::default()
        });
        let (status, v) = get(&h, "/api/gateway.php/acme/v1/employees/0?fields=workEmail");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v, json!({"id": "7", "workEmail": "owner@example.com"}));
    }
}
