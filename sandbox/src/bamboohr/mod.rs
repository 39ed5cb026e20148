//! Fake BambooHR (<https://documentation.bamboohr.com/reference>,
//! webhooks: <https://documentation.bamboohr.com/docs/webhooks>).
//!
//! Served under `/bamboohr`. Basic auth with the API key as user name and any password
//! (`bamboo-demo:x`); otherwise 401 with an empty body.
//!
//! - `GET /api/v1/employees/{id}?fields=workEmail,status,terminationDate` and the classic
//!   `GET /api/gateway.php/{company}/v1/employees/{id}?fields=...` → `{"id":"<id>", <field>:
//!   <value or null>...}` (without `fields`: `firstName`, `lastName`). Unknown id → 404.
//! - Id `0` is the employee the API key belongs to (BambooHR documents it so; riskflow's
//!   credentials check reads it): the record of the employee set as the key's owner
//!   (`SeedData::bamboohr_api_key_employee`; the demo seeds one), answered under that
//!   employee's own id. With no owner set, a record stored under the literal id `0` is served,
//!   else 404.
//!   Real BambooHR answers XML unless the client sends `Accept: application/json`; the sandbox
//!   answers JSON unless `Accept` asks for XML only.
//! - Pushing: [`bamboohr_sign`] is the signer (hex HMAC-SHA256 over body ‖ timestamp) and
//!   `POST /_control/bamboohr/webhook` ([`WebhookRequest`]) makes the sandbox POST a signed
//!   event-based (`{"type","timestamp","data":{companyId,employeeId,changedFields}}`) or
//!   field-based (`{"employees":[{id,action,timestamp,changedFields,fields}]}`) webhook with
//!   `X-BambooHR-Timestamp` and `X-BambooHR-Signature` to a URL.

mod employees;
mod state;
mod webhooks;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::creds;
use crate::faults::{RateInfo, VendorFaults};
use crate::util;

pub use state::BambooEmployee;
pub(crate) use state::BambooState;
pub(crate) use webhooks::send_webhook;
pub use webhooks::{WebhookDelivery, WebhookRequest, bamboohr_sign};

/// What the BambooHR handlers and the webhook sender need from the sandbox that serves them.
/// The sandbox implements it over its one state lock, so this module does not depend on how
/// the sandbox is composed.
pub(crate) trait BambooHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_bamboo<R>(&self, f: impl FnOnce(&mut BambooCtx<'_>) -> R) -> R;

    /// The HTTP client webhooks are sent with.
    fn http(&self) -> &reqwest::Client;
}

/// The part of the sandbox state the BambooHR handlers read and change.
pub(crate) struct BambooCtx<'a> {
    /// Employees, the API key's owner, deliveries.
    pub bamboo: &'a mut BambooState,
}

/// A bare error status.
pub(crate) fn error(status: StatusCode) -> Response {
    status.into_response()
}

/// BambooHR's answers to injected faults.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "bamboohr"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status)
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        error(StatusCode::TOO_MANY_REQUESTS)
    }
}

pub(crate) fn router<H: BambooHost>() -> Router<H> {
    Router::new()
        .route("/api/v1/employees/{id}", get(employees::employee::<H>))
        .route(
            "/api/gateway.php/{company}/v1/employees/{id}",
            get(employees::employee_gateway::<H>),
        )
        .route_layer(middleware::from_fn(auth))
        .method_not_allowed_fallback(util::method_not_allowed)
        .fallback(fallback)
}

async fn fallback() -> Response {
    error(StatusCode::NOT_FOUND)
}

/// Basic auth with the API key as user name (any password), else 401 with an empty body.
async fn auth(req: Request, next: Next) -> Response {
    let ok = util::basic_auth(req.headers())
        .is_some_and(|(u, _)| util::ct_eq(&u, creds::BAMBOOHR_API_KEY));
    if !ok {
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        util::set_header(&mut resp, "www-authenticate", "Basic realm=\"BambooHR\"");
        return resp;
    }
    next.run(req).await
}
