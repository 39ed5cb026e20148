//! Fake Okta Management API (<https://developer.okta.com/docs/api/>).
//!
//! Served under `/okta`. `Authorization: SSWS okta-demo-token` (also `SSWSokta-demo-token`
//! without the space, as the official SDK sends it), or a service app's `Bearer` / `DPoP` token
//! from `POST /oauth2/v1/token` with the scope the call needs ([`oauth`]); anything else → 401
//! `E0000011`, a missing scope → 403 `E0000006`.
//!
//! Every answer (errors and 429s included) carries `Date`, `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset` (epoch seconds) and `X-Okta-Request-Id`.
//! Without a configured limiter the numbers describe a 10,000-per-minute window; with one they
//! describe the sandbox's per-second token bucket (limit = burst, reset = when it is full).
//!
//! - `GET /api/v1/users/me`, `GET /api/v1/users/{id|login|short login}` (URL-decoded; 404
//!   `E0000007`), `GET /api/v1/users?q=|search=|filter=` (`search=profile.email eq "…"`,
//!   `profile.login eq "…"`, …; a malformed expression → 400 `E0000031` "Invalid search
//!   criteria."), `GET /api/v1/users/{id}/groups?limit&after` (at most 200 a page, `Link`).
//! - `GET /api/v1/groups?q=|search=|filter=&limit&after` (`q` is a name prefix and is not
//!   paged; the others page with `Link: <...>; rel="next"`), `GET /api/v1/groups/{id}`.
//! - `GET /api/v1/groups/{g}/users?limit&after` with `Link` `rel="self"` / `rel="next"`.
//! - `PUT /api/v1/groups/{g}/users/{u}` → 204 (idempotent), `DELETE` → 204. `{u}` must be a user
//!   id (a login gets 404: clients resolve logins to ids first). Groups of type
//!   `APP_GROUP` or `BUILT_IN` cannot be changed: **403 `E0000006`** (the SDK's response map for
//!   these calls is 204/403/404/429, so 403 is the interpretation chosen).
//! - 429 → `E0000047` with the headers above.

mod errors;
mod groups;
mod oauth;
mod search;
mod state;
mod users;

use axum::Router;
use axum::extract::State;
use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};

use crate::creds;
use crate::util::{self, Query, Scheme};

pub(crate) use errors::Faults;
pub use oauth::{AppKey, OktaAppSeed};
pub(crate) use state::OktaState;
pub use state::{
    OktaGroupMembersView, OktaGroupRuleSeed, OktaGroupSeed, OktaMembership, OktaUserSeed,
};

/// What the Okta handlers need from the sandbox that serves them. The sandbox implements it
/// over its one state lock, so this module does not depend on how the sandbox is composed.
pub(crate) trait OktaHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_okta<R>(&self, f: impl FnOnce(&mut OktaCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state the Okta handlers read and change.
pub(crate) struct OktaCtx<'a> {
    /// Users and groups.
    pub okta: &'a mut OktaState,
}

pub(crate) fn router<H: OktaHost>(h: H) -> Router<H> {
    let token = Router::new().route("/oauth2/v1/token", post(oauth::token::<H>));
    Router::new()
        .route("/api/v1/users/me", get(users::me::<H>))
        .route("/api/v1/users", get(users::list_users::<H>))
        .route("/api/v1/users/{user}", get(users::get_user::<H>))
        .route("/api/v1/users/{user}/groups", get(users::user_groups::<H>))
        .route("/api/v1/groups", get(groups::list_groups::<H>))
        .route("/api/v1/groups/rules", get(groups::list_rules::<H>))
        .route("/api/v1/groups/{group_id}", get(groups::get_group::<H>))
        .route(
            "/api/v1/groups/{group_id}/users",
            get(groups::group_users::<H>),
        )
        .route(
            "/api/v1/groups/{group_id}/users/{user_id}",
            put(groups::add_member::<H>).delete(groups::remove_member::<H>),
        )
        .route_layer(middleware::from_fn_with_state(h, auth::<H>))
        .merge(token)
        .method_not_allowed_fallback(util::method_not_allowed)
        .fallback(fallback)
}

async fn fallback(OriginalUri(uri): OriginalUri) -> Response {
    errors::not_found(uri.path(), "Resource")
}

fn ssws_accepted(authorization: &str) -> bool {
    authorization
        .strip_prefix("SSWS")
        .is_some_and(|token| util::ct_eq(token.trim(), creds::OKTA_API_TOKEN))
}

/// `SSWS okta-demo-token` (with or without the space), or a service app's `Bearer` / `DPoP`
/// token with the scope the call needs (see [`oauth`]); else 401 `E0000011` (403 `E0000006`
/// for a missing scope).
async fn auth<H: OktaHost>(State(h): State<H>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if ssws_accepted(authorization) {
        return next.run(req).await;
    }
    if !(authorization.starts_with("Bearer ") || authorization.starts_with("DPoP ")) {
        return errors::unauthorized();
    }
    let original = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    let scheme = req
        .extensions()
        .get::<Scheme>()
        .map(|s| s.0)
        .unwrap_or("http");
    let url = format!(
        "{scheme}://{}{}",
        util::host_of(headers, &original),
        original.path()
    );
    let proof = headers.get("dpop").and_then(|v| v.to_str().ok());
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let verdict = h.with_okta(|s| {
        oauth::authorize_token(
            &mut s.okta.oauth,
            authorization,
            proof,
            &method,
            &url,
            &path,
        )
    });
    match verdict {
        Ok(()) => next.run(req).await,
        Err(refusal) => refusal,
    }
}

pub(super) fn base(headers: &HeaderMap, uri: &axum::http::Uri, scheme: Option<&Scheme>) -> String {
    util::external_base(headers, uri, scheme, "okta")
}

pub(super) fn with_links(mut resp: Response, links: &[String]) -> Response {
    for l in links {
        if let Ok(v) = HeaderValue::from_str(l) {
            resp.headers_mut().append(header::LINK, v);
        }
    }
    resp
}

/// One page of a listing at `path` (a full URL without query): the first `limit` of `rest`
/// (sorted by id, already past the `after` cursor), with `Link` `rel="self"` and, when more
/// remain, `rel="next"` carrying the last id of the page as `after`.
pub(super) fn id_page<T>(
    path: &str,
    rest: &[T],
    limit: usize,
    id: impl Fn(&T) -> &str,
    to_json: impl Fn(&T) -> serde_json::Value,
) -> Response {
    let page: Vec<serde_json::Value> = rest.iter().take(limit).map(to_json).collect();
    let mut links = vec![format!("<{path}?limit={limit}>; rel=\"self\"")];
    if rest.len() > limit
        && let Some(last) = rest.get(limit - 1)
    {
        links.push(format!(
            "<{path}?after={}&limit={limit}>; rel=\"next\"",
            id(last)
        ));
    }
    with_links(util::json(axum::http::StatusCode::OK, &page), &links)
}

pub(super) fn limit_of(q: &Query, default: usize) -> usize {
    q.get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
        .min(10_000)
}
