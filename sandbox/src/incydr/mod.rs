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

use crate::state::SandboxHandle;

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
pub(crate) fn router(h: SandboxHandle, with_fallback: bool) -> Router<SandboxHandle> {
    let protected = Router::new()
        .route("/v1/customer", get(auth::customer))
        .route("/v1/sessions", get(sessions::list_sessions))
        .route("/v1/sessions/change-state", post(sessions::change_state))
        .route("/v1/sessions/change-states", post(sessions::change_states))
        .route("/v1/sessions/{session_id}", get(sessions::get_session))
        .route(
            "/v1/sessions/{session_id}/events",
            get(sessions::session_events),
        )
        .route(
            "/v1/sessions/{session_id}/add-note",
            post(sessions::add_note),
        )
        .route(
            "/v2/watchlists",
            get(watchlists::list_watchlists).post(watchlists::create_watchlist),
        )
        .route(
            "/v2/watchlists/{watchlist_id}",
            get(watchlists::get_watchlist)
                .patch(watchlists::update_watchlist)
                .delete(watchlists::delete_watchlist),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/add",
            post(watchlists::included_add),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/delete",
            post(watchlists::included_delete),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors",
            get(watchlists::included_list),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/included-actors/{actor_id}",
            get(watchlists::included_get),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/add",
            post(watchlists::excluded_add),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/delete",
            post(watchlists::excluded_delete),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors",
            get(watchlists::excluded_list),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/excluded-actors/{actor_id}",
            get(watchlists::excluded_get),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/members",
            get(watchlists::members_list),
        )
        .route(
            "/v2/watchlists/{watchlist_id}/members/{actor_id}",
            get(watchlists::members_get),
        )
        .route("/v1/actors/actor/search", get(actors::actor_search))
        .route(
            "/v1/actors/actor/search/parent",
            get(actors::actor_search_parent),
        )
        .route(
            "/v1/actors/actor/name/{name}/parent",
            get(actors::actor_by_name_parent),
        )
        .route(
            "/v1/actors/actor/name/{name}/family",
            get(actors::actor_by_name_family),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}",
            get(actors::actor_by_id).patch(actors::actor_patch),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}/parent",
            get(actors::actor_by_id_parent),
        )
        .route(
            "/v1/actors/actor/id/{actor_id}/family",
            get(actors::actor_by_id_family),
        )
        .route("/v1/users", get(actors::list_users))
        .route("/v1/users/{user_id}", get(actors::get_user))
        .route_layer(middleware::from_fn_with_state(h, auth::auth));
    let r = Router::new()
        .route("/v1/oauth", post(auth::oauth))
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
