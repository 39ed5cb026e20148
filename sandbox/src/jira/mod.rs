//! Fake Jira Cloud REST API v3 (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/>).
//!
//! Served under `/jira`. Basic auth `demo@example.com:jira-demo-token` (a classic API token)
//! or `demo@example.com:jira-demo-scoped-token` (an API token with scopes).
//!
//! - Two doors to the same site, as Atlassian has them: the site's `/rest/...`, which takes the
//!   classic token and treats the scoped one as no credentials (anonymous, see below), and
//!   Atlassian's API gateway, served by this fake at `/ex/jira/{cloudId}/rest/...` (the real one
//!   is `https://api.atlassian.com/ex/jira/{cloudId}/rest/...`), which takes only the scoped
//!   token and answers anything else with its own 401 `{"code":401,"message":"Unauthorized"}`.
//!   An unknown cloud id is a 404. `GET /_edge/tenant_info` answers `{"cloudId": CLOUD_ID}`
//!   without authentication. Rate limits and fault rules treat a gateway path as the site's
//!   (a rule on `/rest/api/3/issue` applies to both).
//! - Wrong credentials → 401 `{"errorMessages":["..."],"errors":{}}`. A request with **no**
//!   usable `Authorization` header is treated as anonymous, as Jira does: `myself` → 401,
//!   `search/jql` → 200 with no issues (Jira's "silent auth failure": an anonymous search
//!   sees nothing), `GET issue` → 404, `POST issue` → the misleading 400 "Field 'summary'
//!   cannot be set...". In the router this is three `route_layer`s (see `auth.rs`): routes
//!   that refuse anonymous callers, routes that answer them in their own way, and search,
//!   which reads its parameters before it looks at the caller.
//! - `GET /rest/api/3/myself`, `serverInfo` (`deploymentType: "Cloud"`), `field`, `priority`,
//!   `project/{key}`, `issue/createmeta/{project}/issuetypes` and
//!   `issue/createmeta/{project}/issuetypes/{issueTypeId}` (paged with `startAt`/`maxResults`).
//! - Projects differ as real ones do (state.rs): `SEC` has the shared issue types (Task 10001,
//!   Bug, Story, Epic) and Jira's default priorities; `OPS` has its own Task (10100) and no
//!   Priority on its create screen; `IR` has its own Task (10200) and Incident, priorities
//!   P1–P4, and Incident requires "Affected system" (`customfield_10060`).
//! - `POST /rest/api/3/issue` → 201 `{"id","key","self"}`; validates project, issue type
//!   within the project (missing or an unknown name → "Specify an issue type"; an id or name
//!   of another project's type → "The issue type selected is invalid."), summary, **ADF
//!   description** (a string gets Jira's exact 400 body; a doc with unknown nodes/marks or
//!   empty text nodes gets 400 with `errors.description` "We can't create this issue for you
//!   right now, it could be due to unsupported content..."), labels (no spaces), priority by
//!   name or id within the project's scheme ("The priority selected is invalid." otherwise),
//!   required fields ("<Field name> is required."), and fields not on the project's create
//!   screen, Priority included where it is not ("Field 'x' cannot be set. It is not on the
//!   appropriate screen, or unknown.").
//! - `GET /rest/api/3/issue/{idOrKey}` (`fields=` honoured), comments (`POST` → 201, ADF body,
//!   a string body → 400 `errors.comment`, malformed ADF → 400 `INVALID_INPUT`), issue
//!   properties.
//! - Workflows (workflow.rs): `SEC` has Jira's simplified workflow (To Do → In Progress →
//!   Done, "Done" requires a Resolution, "Reopen" keeps it unless the request sends
//!   `"resolution": null`), `OPS` global transitions without screens (Done sets no
//!   resolution, a comment in the transition is dropped), `IR` Open → Investigating →
//!   Resolved (Resolution and Comment required) → Closed, "Reopen" clears the resolution.
//!   `GET /issue/{key}/transitions` (`expand=transitions.fields`,
//!   `includeUnavailableTransitions`) and `POST` (204) refuse what Jira refuses (see
//!   workflow.rs); the issue shows `status`, `resolution`, `resolutiondate`,
//!   `statuscategorychangedate`, `updated` and, with `expand=changelog`, its history.
//! - `GET|POST /rest/api/3/search/jql`: `jql`, `nextPageToken`, `maxResults`, `fields`,
//!   `reconcileIssues`. No `fields` → issues carry only `id`. JQL: clauses on `project`,
//!   `labels`, `key`/`issuekey`, `id`, `issuetype`/`type`, `status`, `priority`, `summary ~`,
//!   `text ~`, `statusCategory`, `resolution`, `updated`/`created` (relative `-15m` or
//!   `"yyyy/MM/dd HH:mm"`, compared with `= != < <= > >=`; `expand=changelog`) with `=`, `!=`,
//!   `~`, `!~`, `IN (...)`, `NOT IN (...)`, `IS [NOT] EMPTY`, joined by
//!   `AND`/`OR` (AND binds tighter, no parentheses), plus `ORDER BY f [ASC|DESC], ...`. JQL
//!   with no restriction → 400 (unbounded); unknown field or project → 400. Issues become
//!   visible to search only `jira_search_lag_ms` after creation, unless listed in
//!   `reconcileIssues`.
//! - The old `/rest/api/{2,3,latest}/search` → 410 Gone.
//! - API v2 routes (`/rest/api/2/issue...`) take plain-string descriptions and comments, as
//!   the `jira` Python library uses them.
//! - 429 (rate limiter / faults) carries `Retry-After`, `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining`, `X-RateLimit-Reset` (`yyyy-MM-ddTHH:mmZ`) and
//!   `RateLimit-Reason: jira-burst-based`.

mod adf;
mod auth;
mod comments;
mod errors;
mod issues;
mod jql;
mod meta;
mod properties;
mod search;
mod state;
mod workflow;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware;
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::util::{self, Scheme};

pub use adf::{AdfError, validate_adf};
pub(crate) use errors::Faults;
pub(crate) use state::JiraState;
pub use state::{JiraCommentView, JiraIdName, JiraIssueView, JiraProject, JiraRequiredField};
pub(crate) use workflow::analyst_transition;
pub use workflow::{
    JiraAnalystTransition, JiraScreenField, JiraStatus, JiraTransition, JiraWorkflow, RESOLUTIONS,
};

/// What the Jira handlers need from the sandbox that serves them. The sandbox implements it
/// over its one state lock, so this module does not depend on how the sandbox is composed.
pub(crate) trait JiraHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_jira<R>(&self, f: impl FnOnce(&mut JiraCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state the Jira handlers read and change.
pub(crate) struct JiraCtx<'a> {
    /// The Jira knobs of the sandbox config.
    pub config: JiraConfig,
    /// Projects, issues, comments.
    pub jira: &'a mut JiraState,
}

/// The Jira knobs of the sandbox config (same names as there).
pub(crate) struct JiraConfig {
    /// Issues become visible to `search/jql` only this long after creation.
    pub jira_search_lag_ms: u64,
}

/// The site's cloud id (`GET /_edge/tenant_info`), in the gateway's paths
/// `/ex/jira/{cloudId}/rest/...`.
pub const CLOUD_ID: &str = "0b7f3c52-8e1d-4a6b-9c27-5d4e1f9a2b63";

/// The account behind the demo tokens.
pub const ACCOUNT_ID: &str = "5b10ac8d82e05b22cc7d4ef5";

pub(crate) const ISSUE_TYPES: [(&str, &str); 4] = [
    ("10001", "Task"),
    ("10002", "Bug"),
    ("10003", "Story"),
    ("10004", "Epic"),
];

pub(crate) const PRIORITIES: [(&str, &str); 5] = [
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
];

pub(crate) fn router<H: JiraHost>() -> Router<H> {
    Router::new()
        .route("/_edge/tenant_info", get(tenant_info))
        .merge(api::<H>())
        .nest(
            &format!("/ex/jira/{CLOUD_ID}"),
            api::<H>().layer(middleware::from_fn(auth::gateway)),
        )
        .method_not_allowed_fallback(util::method_not_allowed)
        .fallback(fallback)
}

/// The REST routes, as the site serves them under `/rest/...` (and the gateway under
/// `/ex/jira/{cloudId}/rest/...`).
fn api<H: JiraHost>() -> Router<H> {
    // Routes that answer anonymous callers in their own way (see the module docs).
    let mut open = Router::new();
    // Routes that refuse anonymous callers with the 401.
    let mut strict = Router::new();
    // Search reads its parameters before it looks at the caller: it gets the caller identified.
    let mut search = Router::new();
    // Routes without authentication.
    let mut public = Router::new();
    for v in ["2", "3"] {
        strict = strict
            .route(&format!("/rest/api/{v}/myself"), get(meta::myself))
            .route(
                &format!("/rest/api/{v}/issue/createmeta/{{project}}/issuetypes"),
                get(meta::createmeta::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue/createmeta/{{project}}/issuetypes/{{type_id}}"),
                get(meta::createmeta_fields::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/properties"),
                get(properties::list_properties::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/properties/{{prop}}"),
                get(properties::get_property::<H>).put(properties::put_property::<H>),
            );
        open = open
            .route(&format!("/rest/api/{v}/serverInfo"), get(meta::server_info))
            .route(&format!("/rest/api/{v}/field"), get(meta::fields_list))
            .route(
                &format!("/rest/api/{v}/priority"),
                get(meta::priorities::<H>),
            )
            .route(
                &format!("/rest/api/{v}/project/{{key}}"),
                get(meta::project::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue"),
                post(issues::create_issue::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}"),
                get(issues::get_issue::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/transitions"),
                get(workflow::list_transitions::<H>).post(workflow::do_transition::<H>),
            )
            .route(
                &format!("/rest/api/{v}/issue/{{key}}/comment"),
                get(comments::list_comments::<H>).post(comments::add_comment::<H>),
            );
        search = search.route(
            &format!("/rest/api/{v}/search/jql"),
            get(search::search_get::<H>).post(search::search_post::<H>),
        );
        public = public.route(&format!("/rest/api/{v}/search"), any(search_gone));
    }
    public
        .route("/rest/api/latest/search", any(search_gone))
        .merge(strict.route_layer(middleware::from_fn(auth::require_credentials)))
        .merge(open.route_layer(middleware::from_fn(auth::reject_bad_credentials)))
        .merge(search.route_layer(middleware::from_fn(auth::identify_caller)))
        .method_not_allowed_fallback(util::method_not_allowed)
}

/// `GET /_edge/tenant_info` (no authentication): the site's cloud id.
async fn tenant_info() -> Response {
    util::json(StatusCode::OK, &serde_json::json!({ "cloudId": CLOUD_ID }))
}

async fn fallback() -> Response {
    errors::error_messages(StatusCode::NOT_FOUND, &["null for uri: not found"])
}

async fn search_gone() -> Response {
    errors::error_messages(
        StatusCode::GONE,
        &[
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
        ],
    )
}

pub(crate) fn base_url(headers: &HeaderMap, uri: &Uri, scheme: Option<&Scheme>) -> String {
    util::external_base(headers, uri, scheme, "jira")
}

pub(crate) fn is_v2(uri: &Uri) -> bool {
    uri.path().contains("/rest/api/2/")
}
