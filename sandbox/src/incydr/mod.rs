//! Fake Code42 Incydr API (<https://developer.code42.com/api/>; the official Python SDK,
//! <https://github.com/code42/incydr_python>, is the reference for the wire shapes).
//!
//! Served under `/incydr` **and** at the host root (`/v1/...`, `/v2/...`), because the official
//! Python SDK cannot use a base URL with a path prefix.
//!
//! - `POST /v1/oauth`: Basic `client_id:secret` → `{"token_type":"bearer","expires_in":900,
//!   "access_token":<HS256 JWT with tenantUid, sub, iat, exp>}`. Every other route needs a valid,
//!   unexpired bearer token, else 401. `POST /_control/incydr/expire-tokens` invalidates every
//!   token issued so far (a generation counter in the JWT).
//! - Sessions: `GET /v1/sessions` (all the SDK's filters, 0-based `page_number`, `page_size`
//!   1..=50 else 400), `GET /v1/sessions/{id}`, `GET /v1/sessions/{id}/events`,
//!   `POST /v1/sessions/{id}/add-note`, `POST /v1/sessions/change-state`,
//!   `POST /v1/sessions/change-states`.
//! - Watchlists v2 (1-based `page`; members accept `page_size` and `pageSize`), included and
//!   excluded actors, members. A re-add answers 200 (unless `incydr_strict_readd`, then 409).
//! - Actors (`/v1/actors/actor/...`) and users (`/v1/users`).
//! - Removed endpoints: anything under `/v1/alerts` and `/v1/watchlists` answers 404.
//!
//! Errors are `{"status":N,"error":"<reason>","message":"..."}`; 429 carries `Retry-After`.
//!
//! Interpretations (where the API documentation does not settle it): adding a note or
//! changing a state does **not** bump `lastUpdated` (those are console/API-user actions, not
//! new session data; only the control "touch" does); `change-state` with an unknown id answers 404 and changes
//! nothing; creating a second watchlist of a built-in type answers 409; an unknown watchlist on
//! add/delete answers 404 "Watchlist not found", an unknown actor id 400 "Actor not found".

mod actors;
mod auth;
mod errors;
mod model;
mod sessions;
mod state;
mod watchlists;

use axum::Router;
use axum::middleware;
use axum::response::Response;
use axum::routing::{any, get, post};
use serde::{Deserialize, Serialize};

use crate::util::IdGen;

pub(crate) use errors::Faults;
pub use model::{
    Actor, ContentInspectionResults, Note, RiskIndicator, Score, Session, SessionSeed, StateEntry,
    TriggeredAlert, User, WatchlistSeed, sample_file_event,
};
pub(crate) use state::IncydrState;
pub use state::{
    ActorDatesView, SessionNotesView, SessionStateView, TouchSession, WatchlistMemberView,
    WatchlistView,
};

/// An Incydr API client (id + secret) accepted by `POST /v1/oauth`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ApiClient {
    /// Client id.
    pub key: String,
    /// Client secret.
    pub secret: String,
}

/// What the Incydr handlers need from the sandbox that serves them. The sandbox implements
/// it over its one state lock, so this module does not depend on how the sandbox is composed.
pub(crate) trait IncydrHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_incydr<R>(&self, f: impl FnOnce(&mut IncydrCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state the Incydr handlers read and change.
pub(crate) struct IncydrCtx<'a> {
    /// The Incydr knobs of the sandbox config.
    pub config: IncydrConfig<'a>,
    /// Sessions, actors, users, watchlists, tokens.
    pub incydr: &'a mut IncydrState,
    /// The sandbox's id generator.
    pub ids: &'a mut IdGen,
}

/// The Incydr knobs of the sandbox config (same names as there).
pub(crate) struct IncydrConfig<'a> {
    /// API clients accepted by `/v1/oauth`.
    pub incydr_clients: &'a [ApiClient],
    /// Lifetime of tokens.
    pub incydr_token_ttl_secs: u64,
    /// Move a session to the front on every `/v1/sessions` page after the first.
    pub incydr_reorder_sessions: bool,
    /// Answer 409 on a watchlist re-add.
    pub incydr_strict_readd: bool,
}

/// The tenant id put in the JWT's `tenantUid` claim and in every object.
pub const TENANT_ID: &str = "c42-sandbox-tenant-0001";

/// Session states (`_incydr_sdk/enums/sessions.py`).
pub const SESSION_STATES: [&str; 7] = [
    "OPEN",
    "IN_PROGRESS",
    "CLOSED",
    "CLOSED_TP",
    "CLOSED_TP_BENIGN",
    "CLOSED_FP",
    "OPEN_NEW_DATA",
];

/// Watchlist types.
pub const WATCHLIST_TYPES: [&str; 11] = [
    "WATCHLIST_TYPE_UNSPECIFIED",
    "CONTRACT_EMPLOYEE",
    "DEPARTING_EMPLOYEE",
    "ELEVATED_ACCESS_PRIVILEGES",
    "FLIGHT_RISK",
    "HIGH_IMPACT_EMPLOYEE",
    "NEW_EMPLOYEE",
    "PERFORMANCE_CONCERNS",
    "POOR_SECURITY_PRACTICES",
    "SUSPICIOUS_SYSTEM_ACTIVITY",
    "CUSTOM",
];

/// The Incydr routes (relative paths; nested under `/incydr` and merged at the root).
pub(crate) fn router<H: IncydrHost>(h: H, with_fallback: bool) -> Router<H> {
    let protected = Router::new()
        .route("/v1/customer", get(auth::customer))
        .route("/v1/sessions", get(sessions::list_sessions::<H>))
        .route(
            "/v1/sessions/change-state",
            post(sessions::change_state::<H>),
        )
        .route(
            "/v1/sessions/change-states",
            post(sessions::change_states::<H>),
        )
        .route("/v1/sessions/{session_id}", get(sessions::get_session::<H>))
        .route(
            "/v1/sessions/{session_id}/events",
            get(sessions::session_events::<H>),
        )
        .route(
            "/v1/sessions/{session_id}/add-note",
            post(sessions::add_note::<H>),
        )
        .route(
            "/v2/watchlists",
            get(watchlists::list_watchlists::<H>).post(watchlists::create_watchlist::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}",
            get(watchlists::get_watchlist::<H>)
                .patch(watchlists::update_watchlist::<H>)
                .delete(watchlists::delete_watchlist::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/add",
            post(watchlists::included_add::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/delete",
            post(watchlists::included_delete::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors",
            get(watchlists::included_list::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/{actor_id}",
            get(watchlists::included_get::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/add",
            post(watchlists::excluded_add::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/delete",
            post(watchlists::excluded_delete::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors",
            get(watchlists::excluded_list::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/{actor_id}",
            get(watchlists::excluded_get::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/members",
            get(watchlists::members_list::<H>),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/members/{actor_id}",
            get(watchlists::members_get::<H>),
        )
        .route("/v1/actors/actor/search", get(actors::actor_search::<H>))
        .route(
            "/v1/actors/actor/search/parent",
            get(actors::actor_search_parent::<H>),
        )
        .route(
            "/v1/actors/actor/name/{name}/parent",
            get(actors::actor_by_name_parent::<H>),
        )
        .route(
            "/v1/actors/actor/name/{name}/family",
            get(actors::actor_by_name_family::<H>),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}",
            get(actors::actor_by_id::<H>).patch(actors::actor_patch::<H>),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}/parent",
            get(actors::actor_by_id_parent::<H>),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}/family",
            get(actors::actor_by_id_family::<H>),
        )
        .route("/v1/users", get(actors::list_users::<H>))
        .route("/v1/users/{user_id}", get(actors::get_user::<H>))
        .route_layer(middleware::from_fn_with_state(h, auth::auth::<H>));
    let r = Router::new()
        .route("/v1/oauth", post(auth::oauth::<H>))
        .route("/v1/alerts", any(removed))
        .route("/v1/alerts/{*rest}", any(removed))
        .route("/v1/watchlists", any(removed))
        .route("/v1/watchlists/{*rest}", any(removed))
        .merge(protected);
    if with_fallback {
        r.fallback(fallback)
    } else {
        r
    }
}

pub(crate) async fn fallback() -> Response {
    errors::not_found("No such endpoint")
}

async fn removed() -> Response {
    errors::not_found("This endpoint has been removed")
}
