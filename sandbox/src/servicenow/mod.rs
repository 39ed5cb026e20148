//! Fake ServiceNow Table API
//! (<https://developer.servicenow.com/dev.do#!/reference/api/latest/rest/c_TableAPI>).
//!
//! Served under `/servicenow`. Basic auth `admin:snow-demo`, else 401
//! `{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}`.
//!
//! Paths: `/api/now/table/{table}` (latest = v2), `/api/now/v2/table/{table}` and
//! `/api/now/v1/table/{table}` (v1 answers an empty list with 404 "No Record found"), each with
//! `/{sys_id}`. Tables: `incident`, `sys_user`, `sys_user_group`, `sys_journal_field`
//! (read-only view of work notes and comments); others → 400 "Invalid table".
//!
//! - `POST` → 201 + `Location` + `{"result":{...}}`; every value is a string; incidents get
//!   `number` `INC0010001`…, a 32-hex `sys_id`, defaults (`state` "1", `urgency`/`impact` "3",
//!   `priority` derived from them), `opened_at`/`sys_*` times (`YYYY-MM-DD hh:mm:ss` UTC).
//!   Reference fields (`caller_id`, `opened_by`, `assigned_to`, `assignment_group`, `manager`)
//!   render as `{"link","value"}` or `""`, or plain strings with
//!   `sysparm_exclude_reference_link=true`. `sysparm_display_value=true|all`,
//!   `sysparm_input_display_value=true`, `sysparm_fields`, `X-no-response-body: true` work.
//! - `GET` list: `sysparm_query` (encoded query: `=`, `!=`, `LIKE`, `NOT LIKE`, `STARTSWITH`,
//!   `ENDSWITH`, `IN`, `NOT IN`, `ISEMPTY`, `ISNOTEMPTY`, `<`, `>`, `<=`, `>=`, `^`, `^OR`, `^NQ`,
//!   `ORDERBY`/`ORDERBYDESC`, one level of dot-walking on reference fields), `sysparm_fields`,
//!   `sysparm_limit` (default 10000), `sysparm_offset`, `sysparm_no_count`,
//!   `sysparm_suppress_pagination_header`; `X-Total-Count` and `Link` (first/prev/next/last).
//!   **A term naming an unknown field, or one that does not parse, is silently dropped** (so
//!   `correlation_idd=x` returns every incident), unless
//!   `servicenow_invalid_query_returns_no_rows` is set.
//! - `GET /{sys_id}` (404 envelope), `PATCH`/`PUT` (`work_notes` / `comments` append to the
//!   journal), `DELETE` → 204.
//! - 429 carries `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Reset` (epoch seconds) and
//!   `X-RateLimit-Rule`; when a rate limit is configured every answer carries the last three.

mod errors;
mod query;
mod render;
mod schema;
mod state;
mod table;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::creds;
use crate::util::{self, IdGen};

pub(crate) use errors::Faults;
pub use state::SnowIncidentView;
pub(crate) use state::SnowState;

/// What the ServiceNow handlers need from the sandbox that serves them. The sandbox
/// implements it over its one state lock, so this module does not depend on how the sandbox
/// is composed.
pub(crate) trait SnowHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_snow<R>(&self, f: impl FnOnce(&mut SnowCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state the ServiceNow handlers read and change.
pub(crate) struct SnowCtx<'a> {
    /// The ServiceNow knobs of the sandbox config.
    pub config: SnowConfig,
    /// Tables and records.
    pub snow: &'a mut SnowState,
    /// The sandbox's id generator.
    pub ids: &'a mut IdGen,
}

/// The ServiceNow knobs of the sandbox config (same names as there).
pub(crate) struct SnowConfig {
    /// An unknown field in `sysparm_query` makes the query return nothing.
    pub servicenow_invalid_query_returns_no_rows: bool,
}

pub(crate) fn router<H: SnowHost>() -> Router<H> {
    Router::new()
        .route(
            "/api/now/table/{table}",
            get(table::list::<H>).post(table::create::<H>),
        )
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(table::get_one::<H>)
                .patch(table::update::<H>)
                .put(table::update::<H>)
                .delete(table::delete::<H>),
        )
        .route(
            "/api/now/{version}/table/{table}",
            get(table::list::<H>).post(table::create::<H>),
        )
        .route(
            "/api/now/{version}/table/{table}/{sys_id}",
            get(table::get_one::<H>)
                .patch(table::update::<H>)
                .put(table::update::<H>)
                .delete(table::delete::<H>),
        )
        .route_layer(middleware::from_fn(auth))
        .method_not_allowed_fallback(util::method_not_allowed)
        .fallback(fallback)
}

async fn fallback() -> Response {
    errors::error(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        None,
    )
}

/// Basic `admin:snow-demo`, else the 401 envelope.
async fn auth(req: Request, next: Next) -> Response {
    let ok = util::basic_auth(req.headers()).is_some_and(|(u, p)| {
        util::ct_eq(&u, creds::SERVICENOW_USER) && util::ct_eq(&p, creds::SERVICENOW_PASSWORD)
    });
    if !ok {
        return errors::unauthorized();
    }
    next.run(req).await
}
