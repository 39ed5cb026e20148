//! Fake ADP Workforce Now APIs (<https://developers.adp.com/>).
//!
//! Served under `/adp` on the plain listener and, when [`crate::Sandbox::start_adp_mtls`] ran,
//! at the root **and** under `/adp` of a separate HTTPS listener that requires a client
//! certificate signed by the sandbox CA (connections without one fail the TLS handshake).
//!
//! Mutual TLS on the plain listener: by default the plain listener does not check
//! certificates (so tests can run over plain HTTP). With `adp_plain_requires_client_cert`
//! set, every ADP call on the plain listener answers 400
//! `{"error":"invalid_request","error_description":"proper client ssl certificate was not presented"}`,
//! which is what real ADP says to a client without its certificate.
//!
//! - `POST /auth/oauth/v2/token?grant_type=client_credentials` with client
//!   `adp-demo`/`adp-demo-secret` (HTTP Basic or form fields `client_id`/`client_secret`;
//!   `grant_type` also accepted in the form) → `{"access_token","token_type":"Bearer",
//!   "expires_in":3600,"scope":"api"}`.
//! - `GET /core/v1/event-notification-messages` (bearer) → 200 with the head message (raw text
//!   as seeded, `Content-Type: application/json`) and an `adp-msg-msgid` header; **204** when
//!   the queue is empty.
//! - `DELETE /core/v1/event-notification-messages/{msgid}` → 200 and the message leaves the
//!   queue (recorded as acked); an unknown id → 404.
//! - `GET /hr/v2/workers/{aoid}` → `{"workers":[{associateOID, workerID.idValue, person,
//!   businessCommunication.emails[nameCode.codeValue=Business], workerDates.terminationDate,
//!   workerStatus.statusCode.codeValue}]}`; unknown → 404.

mod errors;
mod messages;
mod state;
mod token;
mod workers;

use axum::Router;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};

use crate::util::{self, IdGen, Scheme};

pub(crate) use errors::Faults;
pub use messages::terminate_event;
pub(crate) use state::AdpState;
pub use state::AdpWorker;

/// What the ADP handlers need from the sandbox that serves them. The sandbox implements it
/// over its one state lock, so this module does not depend on how the sandbox is composed.
pub(crate) trait AdpHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_adp<R>(&self, f: impl FnOnce(&mut AdpCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state the ADP handlers read and change.
pub(crate) struct AdpCtx<'a> {
    /// The ADP knobs of the sandbox config.
    pub config: AdpConfig,
    /// Queue, acks, workers, tokens.
    pub adp: &'a mut AdpState,
    /// The sandbox's id generator.
    pub ids: &'a mut IdGen,
}

/// The ADP knobs of the sandbox config (same names as there).
pub(crate) struct AdpConfig {
    /// Answer ADP calls on the plain-HTTP listener 400 (no client certificate).
    pub adp_plain_requires_client_cert: bool,
}

/// ADP routes (relative): the token route behind the certificate check, the others behind
/// the certificate check and a bearer token.
pub(crate) fn router<H: AdpHost>(h: H) -> Router<H> {
    let api = Router::new()
        .route(
            "/core/v1/event-notification-messages",
            get(messages::next_message::<H>),
        )
        .route(
            "/core/v1/event-notification-messages/{msg_id}",
            delete(messages::ack_message::<H>),
        )
        .route("/hr/v2/workers/{aoid}", get(workers::worker::<H>))
        .route_layer(middleware::from_fn_with_state(h.clone(), bearer_auth::<H>));
    Router::new()
        .route("/auth/oauth/v2/token", post(token::token::<H>))
        .merge(api)
        .route_layer(middleware::from_fn_with_state(h, client_cert::<H>))
        .method_not_allowed_fallback(util::method_not_allowed)
        .fallback(fallback)
}

async fn fallback(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    errors::adp_error(
        StatusCode::NOT_FOUND,
        &method,
        uri.path(),
        "Resource not found",
    )
}

/// The plain-listener certificate check (see the module docs), on every route.
async fn client_cert<H: AdpHost>(
    State(h): State<H>,
    scheme: Option<axum::Extension<Scheme>>,
    req: Request,
    next: Next,
) -> Response {
    let plain = scheme.as_deref().is_none_or(|s| s.0 == "http");
    if plain && h.with_adp(|s| s.config.adp_plain_requires_client_cert) {
        return errors::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "proper client ssl certificate was not presented",
        );
    }
    next.run(req).await
}

/// A live bearer token from `POST /auth/oauth/v2/token`, else 401 "Invalid Access Token".
async fn bearer_auth<H: AdpHost>(
    State(h): State<H>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    req: Request,
    next: Next,
) -> Response {
    let now = util::now_secs();
    let ok = util::bearer(req.headers()).is_some_and(|t| h.with_adp(|s| s.adp.token_ok(&t, now)));
    if !ok {
        return errors::adp_error(
            StatusCode::UNAUTHORIZED,
            &method,
            uri.path(),
            "Invalid Access Token",
        );
    }
    next.run(req).await
}
