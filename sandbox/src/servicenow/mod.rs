//! Fake ServiceNow Table API
//! (<https://developer.servicenow.com/dev.do#!/reference/api/latest/rest/c_TableAPI>).
//!
//! Served under `/servicenow`. Basic auth `admin:snow-demo` (role `admin`) or
//! `riskflow.integration:snow-itil-demo` (role `itil`), else 401
//! `{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}`.
//!
//! Paths: `/api/now/table/{table}` (latest = v2), `/api/now/v2/table/{table}` and
//! `/api/now/v1/table/{table}` (v1 answers an empty list with 404 "No Record found"), each with
//! `/{sys_id}`. Tables: `incident`, `sys_user`, `sys_user_group`, `sys_choice` (incident
//! `state` and the current OOB `close_code` choices), `sys_journal_field` (read-only view of
//! work notes and comments); others → 400 "Invalid table".
//! - Incident life cycle (lifecycle.rs): states 1/2/3/6/7/8; Resolved and Closed need
//!   `close_code` and `close_notes` (403 Data Policy Exception); Closed needs `admin` and a
//!   Closed incident is read-only for others (403 ACL); leaving Resolved for 1/2/3 is a
//!   reopen (`reopen_count`, `reopened_by`, `reopened_time`); `resolved_*`/`closed_*`,
//!   `active`, `sys_updated_on`/`sys_updated_by`/`sys_mod_count` are maintained.
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
mod lifecycle;
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
pub use lifecycle::{CLOSE_CODES, STATES, SnowAnalystUpdate};
pub(crate) use lifecycle::{analyst_update, autoclose};
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

/// The caller of a request: Basic `admin:snow-demo` (role `admin`) or
/// `riskflow.integration:snow-itil-demo` (role `itil`); `None` for anything else.
pub(crate) fn caller(headers: &axum::http::HeaderMap) -> Option<lifecycle::Caller> {
    let (u, p) = util::basic_auth(headers)?;
    [
        (creds::SERVICENOW_USER, creds::SERVICENOW_PASSWORD, true),
        (
            creds::SERVICENOW_ITIL_USER,
            creds::SERVICENOW_ITIL_PASSWORD,
            false,
        ),
    ]
    .iter()
    .find(|(user, pass, _)| util::ct_eq(&u, user) && util::ct_eq(&p, pass))
    .map(|(user, _, admin)| lifecycle::Caller {
        user: user.to_string(),
        admin: *admin,
    })
}

/// A known caller (see [`caller`]), else the 401 envelope.
async fn auth(req: Request, next: Next) -> Response {
    if caller(req.headers()).is_none() {
        return errors::unauthorized();
    }
    next.run(req).await
}
