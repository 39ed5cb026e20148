//! Fake Okta Management API (see `reference/saas-apis.md` §3 and §7).
//!
//! Served under `/okta`. `Authorization: SSWS okta-demo-token` (also `SSWSokta-demo-token`
//! without the space, as the official SDK sends it); anything else → 401 `E0000011`.
//!
//! Every answer (errors and 429s included) carries `Date`, `X-Rate-Limit-Limit`,
//! `X-Rate-Limit-Remaining`, `X-Rate-Limit-Reset` (epoch seconds) and `X-Okta-Request-Id`.
//! Without a configured limiter the numbers describe a 10,000-per-minute window; with one they
//! describe the sandbox's per-second token bucket (limit = burst, reset = when it is full).
//!
//! - `GET /api/v1/users/me`, `GET /api/v1/users/{id|login|short login}` (URL-decoded; 404
//!   `E0000007`), `GET /api/v1/users?q=|search=|filter=`, `GET /api/v1/users/{id}/groups`.
//! - `GET /api/v1/groups?q=|search=|filter=&limit&after` (`q` is a name prefix and is not
//!   paged; the others page with `Link: <...>; rel="next"`), `GET /api/v1/groups/{id}`.
//! - `GET /api/v1/groups/{g}/users?limit&after` with `Link` `rel="self"` / `rel="next"`.
//! - `PUT /api/v1/groups/{g}/users/{u}` → 204 (idempotent), `DELETE` → 204. `{u}` must be a user
//!   id (a login gets 404, as the reference says to resolve logins first). Groups of type
//!   `APP_GROUP` or `BUILT_IN` cannot be changed: **403 `E0000006`** (the SDK's response map for
//!   these calls is 204/403/404/429, so 403 is the interpretation chosen).
//! - 429 → `E0000047` with the headers above.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::creds;
use crate::faults::RateInfo;
use crate::faults::VendorFaults;
use crate::state::{Inner, OktaGroupMembersView, SandboxHandle};
use crate::util::{self, IdGen, Query, Scheme};

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

/// An Okta user to seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaUserSeed {
    /// Id (`00u...`, generated when absent).
    pub id: Option<String>,
    /// Login (usually the email).
    pub login: String,
    /// Email (defaults to the login).
    pub email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Status (default `ACTIVE`).
    pub status: Option<String>,
}

/// An Okta group to seed.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaGroupSeed {
    /// Id (`00g...`, generated when absent).
    pub id: Option<String>,
    /// `profile.name`.
    pub name: String,
    /// `profile.description`.
    pub description: Option<String>,
    /// `OKTA_GROUP` (default), `APP_GROUP` or `BUILT_IN`.
    #[serde(rename = "type")]
    pub group_type: Option<String>,
}

/// A membership to seed: group id and user id or login.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OktaMembership {
    /// Group id.
    pub group_id: String,
    /// User id or login.
    pub user: String,
}

#[derive(Clone, Debug)]
pub(crate) struct OktaUser {
    pub id: String,
    pub login: String,
    email: String,
    first_name: String,
    last_name: String,
    status: String,
    created: Timestamp,
}

#[derive(Clone, Debug)]
pub(crate) struct OktaGroup {
    pub id: String,
    pub name: String,
    description: Option<String>,
    pub group_type: String,
    created: Timestamp,
    membership_updated: Timestamp,
    pub members: Vec<String>,
}

/// Okta state.
pub(crate) struct OktaState {
    pub users: Vec<OktaUser>,
    pub groups: Vec<OktaGroup>,
    admin_id: String,
}

impl OktaState {
    pub(crate) fn new(ids: &mut IdGen) -> OktaState {
        let admin_id = ids.okta("00u");
        let created: Timestamp = "2024-01-02T03:04:05Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let everyone = OktaGroup {
            id: ids.okta("00g"),
            name: "Everyone".into(),
            description: Some("All users in your organization".into()),
            group_type: "BUILT_IN".into(),
            created,
            membership_updated: created,
            members: vec![admin_id.clone()],
        };
        OktaState {
            users: vec![OktaUser {
                id: admin_id.clone(),
                login: "okta.admin@example.com".into(),
                email: "okta.admin@example.com".into(),
                first_name: "Okta".into(),
                last_name: "Admin".into(),
                status: "ACTIVE".into(),
                created,
            }],
            groups: vec![everyone],
            admin_id,
        }
    }

    fn user(&self, key: &str) -> Option<&OktaUser> {
        if let Some(u) = self.users.iter().find(|u| u.id == key) {
            return Some(u);
        }
        if let Some(u) = self
            .users
            .iter()
            .find(|u| u.login.eq_ignore_ascii_case(key))
        {
            return Some(u);
        }
        let short: Vec<&OktaUser> = self
            .users
            .iter()
            .filter(|u| {
                u.login
                    .split('@')
                    .next()
                    .is_some_and(|s| s.eq_ignore_ascii_case(key))
            })
            .collect();
        if short.len() == 1 {
            Some(short[0])
        } else {
            None
        }
    }
}

pub(crate) fn seed_user(s: &mut Inner, u: OktaUserSeed) -> String {
    let id = u.id.clone().unwrap_or_else(|| s.ids.okta("00u"));
    s.okta.users.retain(|x| x.id != id);
    s.okta.users.push(OktaUser {
        id: id.clone(),
        email: u.email.clone().unwrap_or_else(|| u.login.clone()),
        login: u.login,
        first_name: u.first_name.unwrap_or_default(),
        last_name: u.last_name.unwrap_or_default(),
        status: u.status.unwrap_or_else(|| "ACTIVE".into()),
        created: Timestamp::now(),
    });
    let everyone = s
        .okta
        .groups
        .iter_mut()
        .find(|g| g.group_type == "BUILT_IN");
    if let Some(g) = everyone {
        if !g.members.contains(&id) {
            g.members.push(id.clone());
        }
    }
    id
}

pub(crate) fn seed_group(s: &mut Inner, g: OktaGroupSeed) -> String {
    let id = g.id.clone().unwrap_or_else(|| s.ids.okta("00g"));
    let now = Timestamp::now();
    let members = s
        .okta
        .groups
        .iter()
        .find(|x| x.id == id)
        .map(|x| x.members.clone())
        .unwrap_or_default();
    s.okta.groups.retain(|x| x.id != id);
    s.okta.groups.push(OktaGroup {
        id: id.clone(),
        name: g.name,
        description: g.description,
        group_type: g.group_type.unwrap_or_else(|| "OKTA_GROUP".into()),
        created: now,
        membership_updated: now,
        members,
    });
    id
}

pub(crate) fn seed_membership(s: &mut Inner, m: OktaMembership) {
    let Some(uid) = s.okta.user(&m.user).map(|u| u.id.clone()) else {
        return;
    };
    if let Some(g) = s.okta.groups.iter_mut().find(|g| g.id == m.group_id) {
        if !g.members.contains(&uid) {
            g.members.push(uid);
        }
    }
}

pub(crate) fn group_views(s: &Inner) -> Vec<OktaGroupMembersView> {
    s.okta
        .groups
        .iter()
        .map(|g| OktaGroupMembersView {
            group_id: g.id.clone(),
            group_name: g.name.clone(),
            group_type: g.group_type.clone(),
            member_ids: g.members.clone(),
            member_logins: g
                .members
                .iter()
                .filter_map(|m| s.okta.users.iter().find(|u| &u.id == m))
                .map(|u| u.login.clone())
                .collect(),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

/// An opaque id derived from a process-wide counter (`oae...` for errors, `Z...` for requests).
fn opaque_id(prefix: &str) -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = util::hmac_sha256(b"okta-ids", &[&n.to_be_bytes()]);
    format!("{prefix}{}", util::b64url(&digest[..16]))
}

fn error_id() -> String {
    opaque_id("oae")
}

fn okta_error(status: StatusCode, code: &str, summary: &str, causes: &[&str]) -> Response {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OktaError<'a> {
        error_code: &'a str,
        error_summary: &'a str,
        error_link: &'a str,
        error_id: String,
        error_causes: Vec<Value>,
    }
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    util::json(
        status,
        &OktaError {
            error_code: code,
            error_summary: summary,
            error_link: code,
            error_id: error_id(),
            error_causes: causes,
        },
    )
}

/// An injected error status.
pub(crate) fn fault_error(status: StatusCode) -> Response {
    okta_error(status, "E0000009", "Internal Server Error", &[])
}

/// The 429 answer (headers come from [`decorate`]).
pub(crate) fn rate_limited() -> Response {
    okta_error(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
        &[],
    )
}

/// Headers on every Okta answer.
pub(crate) fn decorate(resp: &mut Response, info: &RateInfo) {
    util::set_header(resp, "date", &util::http_date(Timestamp::now()));
    util::set_header(resp, "x-rate-limit-limit", &info.limit.to_string());
    util::set_header(resp, "x-rate-limit-remaining", &info.remaining.to_string());
    util::set_header(resp, "x-rate-limit-reset", &info.reset_epoch.to_string());
    util::set_header(resp, "x-okta-request-id", &opaque_id("Z"));
}

/// Okta's answers to injected faults and the headers on every answer.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "okta"
    }

    fn error(&self, status: StatusCode) -> Response {
        fault_error(status)
    }

    fn rate_limited(&self, _info: &RateInfo) -> Response {
        rate_limited()
    }

    fn decorate(&self, resp: &mut Response, info: &RateInfo) {
        decorate(resp, info);
    }

    fn decorate_injected_429(&self, resp: &mut Response, injected: &RateInfo) -> bool {
        decorate(resp, injected);
        if injected.retry_after.is_none() {
            resp.headers_mut().remove("x-rate-limit-reset");
        }
        true
    }

    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "PUT" && pattern == "/api/v1/groups/{group_id}/users/{user_id}"
    }
}

fn unauthorized() -> Response {
    okta_error(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
        &[],
    )
}

fn not_found(id: &str, kind: &str) -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} ({kind})"),
        &[],
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let v = v.trim();
    let Some(token) = v.strip_prefix("SSWS") else {
        return false;
    };
    util::ct_eq(token.trim(), creds::OKTA_API_TOKEN)
}

fn base(headers: &HeaderMap, uri: &axum::http::Uri, scheme: Option<&Scheme>) -> String {
    util::external_base(headers, uri, scheme, "okta")
}

fn user_json(base: &str, u: &OktaUser) -> Value {
    let created = util::okta_time(u.created);
    json!({
        "id": u.id,
        "status": u.status,
        "created": created,
        "activated": created,
        "statusChanged": created,
        "lastLogin": created,
        "lastUpdated": created,
        "passwordChanged": created,
        "type": {"id": "oty1sandboxdefault0h7"},
        "profile": {"firstName": u.first_name, "lastName": u.last_name, "mobilePhone": null,
                    "secondEmail": null, "login": u.login, "email": u.email},
        "credentials": {"password": {}, "provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": format!("{base}/api/v1/users/{}", u.id)}},
    })
}

fn group_json(base: &str, g: &OktaGroup) -> Value {
    let object_class = match g.group_type.as_str() {
        "APP_GROUP" => "okta:windows_security_principal",
        _ => "okta:user_group",
    };
    json!({
        "id": g.id,
        "created": util::okta_time(g.created),
        "lastUpdated": util::okta_time(g.created),
        "lastMembershipUpdated": util::okta_time(g.membership_updated),
        "objectClass": [object_class],
        "type": g.group_type,
        "profile": {"name": g.name, "description": g.description},
        "_links": {
            "logo": [],
            "users": {"href": format!("{base}/api/v1/groups/{}/users", g.id)},
            "apps": {"href": format!("{base}/api/v1/groups/{}/apps", g.id)},
        },
    })
}

fn with_links(mut resp: Response, links: &[String]) -> Response {
    for l in links {
        if let Ok(v) = HeaderValue::from_str(l) {
            resp.headers_mut().append(header::LINK, v);
        }
    }
    resp
}

// ---------------------------------------------------------------------------------------
// Search expressions: `profile.name eq "x" and type eq "OKTA_GROUP"`
// ---------------------------------------------------------------------------------------

type Clause = (String, String, String);

fn parse_search(expr: &str) -> Result<Vec<Vec<Clause>>, String> {
    let mut toks: Vec<String> = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
        } else if chars[i] == '"' {
            let mut s = String::from("\"");
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("Unterminated string".into());
            }
            i += 1;
            toks.push(s);
        } else {
            let mut s = String::new();
            while i < chars.len() && !chars[i].is_whitespace() {
                s.push(chars[i]);
                i += 1;
            }
            toks.push(s);
        }
    }
    let mut groups: Vec<Vec<Clause>> = vec![Vec::new()];
    let mut i = 0;
    while i < toks.len() {
        if i > 0 {
            match toks[i].to_ascii_lowercase().as_str() {
                "and" => {}
                "or" => groups.push(Vec::new()),
                _ => return Err("Expected and/or".into()),
            }
            i += 1;
        }
        let (Some(attr), Some(op), Some(val)) = (toks.get(i), toks.get(i + 1), toks.get(i + 2))
        else {
            return Err("Incomplete expression".into());
        };
        let op = op.to_ascii_lowercase();
        if !["eq", "sw", "co", "ne", "gt", "lt", "ge", "le"].contains(&op.as_str()) {
            return Err(format!("Unknown operator {op}"));
        }
        let val = val
            .strip_prefix('"')
            .map(str::to_string)
            .unwrap_or_else(|| val.clone());
        if let Some(g) = groups.last_mut() {
            g.push((attr.clone(), op, val));
        }
        i += 3;
    }
    Ok(groups)
}

fn eval_search(groups: &[Vec<Clause>], get: impl Fn(&str) -> Option<String>) -> bool {
    groups.iter().any(|g| {
        g.iter().all(|(attr, op, val)| {
            let Some(have) = get(attr) else {
                return false;
            };
            let (h, v) = (have.to_lowercase(), val.to_lowercase());
            match op.as_str() {
                "eq" => h == v,
                "ne" => h != v,
                "sw" => h.starts_with(&v),
                "co" => h.contains(&v),
                "gt" => h > v,
                "lt" => h < v,
                "ge" => h >= v,
                "le" => h <= v,
                _ => false,
            }
        })
    })
}

fn group_attr(g: &OktaGroup, attr: &str) -> Option<String> {
    Some(match attr {
        "profile.name" => g.name.clone(),
        "profile.description" => g.description.clone().unwrap_or_default(),
        "type" => g.group_type.clone(),
        "id" => g.id.clone(),
        "lastUpdated" | "lastMembershipUpdated" => util::okta_time(g.membership_updated),
        _ => return None,
    })
}

fn user_attr(u: &OktaUser, attr: &str) -> Option<String> {
    Some(match attr {
        "profile.login" => u.login.clone(),
        "profile.email" => u.email.clone(),
        "profile.firstName" => u.first_name.clone(),
        "profile.lastName" => u.last_name.clone(),
        "status" => u.status.clone(),
        "id" => u.id.clone(),
        _ => return None,
    })
}

fn invalid_search() -> Response {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000031",
        "Invalid search criteria.",
        &[],
    )
}

fn limit_of(q: &Query, default: usize) -> usize {
    q.get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
        .min(10_000)
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

pub(crate) fn router() -> Router<SandboxHandle> {
    Router::new()
        .route("/api/v1/users/me", get(me))
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/users/{user}", get(get_user))
        .route("/api/v1/users/{user}/groups", get(user_groups))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{group_id}", get(get_group))
        .route("/api/v1/groups/{group_id}/users", get(group_users))
        .route(
            "/api/v1/groups/{group_id}/users/{user_id}",
            put(add_member).delete(remove_member),
        )
        .fallback(fallback)
}

async fn fallback(OriginalUri(uri): OriginalUri) -> Response {
    not_found(uri.path(), "Resource")
}

async fn me(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    h.with(|s| {
        let admin = s.okta.admin_id.clone();
        match s.okta.users.iter().find(|u| u.id == admin) {
            Some(u) => util::json(StatusCode::OK, &user_json(&b, u)),
            None => not_found("me", "User"),
        }
    })
}

async fn get_user(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(user): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    h.with(|s| {
        let key = if user == "me" {
            s.okta.admin_id.clone()
        } else {
            user.clone()
        };
        match s.okta.user(&key) {
            Some(u) => util::json(StatusCode::OK, &user_json(&b, u)),
            None => not_found(&user, "User"),
        }
    })
}

async fn list_users(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let expr = q.get("search").or_else(|| q.get("filter"));
    let parsed = match expr.map(parse_search) {
        None => None,
        Some(Ok(g)) => Some(g),
        Some(Err(_)) => return invalid_search(),
    };
    let prefix = q.get("q").map(str::to_lowercase);
    let limit = limit_of(&q, 200);
    let after = q.get("after").map(str::to_string);
    h.with(|s| {
        let mut users: Vec<&OktaUser> = s
            .okta
            .users
            .iter()
            .filter(|u| {
                prefix.as_ref().is_none_or(|p| {
                    [&u.login, &u.email, &u.first_name, &u.last_name]
                        .iter()
                        .any(|f| f.to_lowercase().starts_with(p.as_str()))
                })
            })
            .filter(|u| {
                parsed
                    .as_ref()
                    .is_none_or(|g| eval_search(g, |a| user_attr(u, a)))
            })
            .collect();
        users.sort_by(|a, b| a.id.cmp(&b.id));
        let start: Vec<&OktaUser> = users
            .into_iter()
            .filter(|u| after.as_ref().is_none_or(|a| &u.id > a))
            .collect();
        let page: Vec<Value> = start.iter().take(limit).map(|u| user_json(&b, u)).collect();
        let mut links = vec![format!("<{b}/api/v1/users?limit={limit}>; rel=\"self\"")];
        if start.len() > limit && prefix.is_none() {
            if let Some(last) = start.get(limit - 1) {
                links.push(format!(
                    "<{b}/api/v1/users?after={}&limit={limit}>; rel=\"next\"",
                    last.id
                ));
            }
        }
        with_links(util::json(StatusCode::OK, &page), &links)
    })
}

async fn user_groups(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(user): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    h.with(|s| {
        let Some(u) = s.okta.user(&user) else {
            return not_found(&user, "User");
        };
        let groups: Vec<Value> = s
            .okta
            .groups
            .iter()
            .filter(|g| g.members.contains(&u.id))
            .map(|g| group_json(&b, g))
            .collect();
        util::json(StatusCode::OK, &groups)
    })
}

async fn list_groups(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let mut exprs = Vec::new();
    for key in ["search", "filter"] {
        if let Some(e) = q.get(key) {
            match parse_search(e) {
                Ok(g) => exprs.push(g),
                Err(_) => return invalid_search(),
            }
        }
    }
    let prefix = q.get("q").map(str::to_lowercase);
    let limit = limit_of(&q, if prefix.is_some() { 300 } else { 10_000 });
    let after = q.get("after").map(str::to_string);
    h.with(|s| {
        let mut groups: Vec<&OktaGroup> = s
            .okta
            .groups
            .iter()
            .filter(|g| {
                prefix
                    .as_ref()
                    .is_none_or(|p| g.name.to_lowercase().starts_with(p.as_str()))
            })
            .filter(|g| exprs.iter().all(|e| eval_search(e, |a| group_attr(g, a))))
            .collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<&OktaGroup> = groups
            .into_iter()
            .filter(|g| after.as_ref().is_none_or(|a| &g.id > a))
            .collect();
        let page: Vec<Value> = rest.iter().take(limit).map(|g| group_json(&b, g)).collect();
        let self_q = q.with(&[("limit", limit.to_string())]);
        let mut links = vec![format!("<{b}/api/v1/groups?{self_q}>; rel=\"self\"")];
        if rest.len() > limit && prefix.is_none() {
            if let Some(last) = rest.get(limit - 1) {
                let next_q = q.with(&[("after", last.id.clone()), ("limit", limit.to_string())]);
                links.push(format!("<{b}/api/v1/groups?{next_q}>; rel=\"next\""));
            }
        }
        with_links(util::json(StatusCode::OK, &page), &links)
    })
}

async fn get_group(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(group_id): Path<String>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    h.with(|s| match s.okta.groups.iter().find(|g| g.id == group_id) {
        Some(g) => util::json(StatusCode::OK, &group_json(&b, g)),
        None => not_found(&group_id, "UserGroup"),
    })
}

async fn group_users(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    Path(group_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let b = base(&headers, &uri, scheme.as_deref());
    let q = Query::parse(raw.as_deref());
    let limit = limit_of(&q, 1000);
    let after = q.get("after").map(str::to_string);
    h.with(|s| {
        let Some(g) = s.okta.groups.iter().find(|g| g.id == group_id) else {
            return not_found(&group_id, "UserGroup");
        };
        let mut members: Vec<&OktaUser> = s
            .okta
            .users
            .iter()
            .filter(|u| g.members.contains(&u.id))
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        let rest: Vec<&OktaUser> = members
            .into_iter()
            .filter(|u| after.as_ref().is_none_or(|a| &u.id > a))
            .collect();
        let page: Vec<Value> = rest.iter().take(limit).map(|u| user_json(&b, u)).collect();
        let mut links = vec![format!(
            "<{b}/api/v1/groups/{group_id}/users?limit={limit}>; rel=\"self\""
        )];
        if rest.len() > limit {
            if let Some(last) = rest.get(limit - 1) {
                links.push(format!(
                    "<{b}/api/v1/groups/{group_id}/users?after={}&limit={limit}>; rel=\"next\"",
                    last.id
                ));
            }
        }
        with_links(util::json(StatusCode::OK, &page), &links)
    })
}

fn change_membership(h: &SandboxHandle, group_id: &str, user_id: &str, add: bool) -> Response {
    h.with(|s| {
        let Some(gi) = s.okta.groups.iter().position(|g| g.id == group_id) else {
            return not_found(group_id, "UserGroup");
        };
        if !s.okta.users.iter().any(|u| u.id == user_id) {
            return not_found(user_id, "User");
        }
        let g = &mut s.okta.groups[gi];
        if g.group_type != "OKTA_GROUP" {
            return okta_error(
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action",
                &[&format!(
                    "Group memberships of {} groups cannot be modified through the API.",
                    g.group_type
                )],
            );
        }
        let present = g.members.iter().any(|m| m == user_id);
        if add && !present {
            g.members.push(user_id.to_string());
            g.membership_updated = Timestamp::now();
        } else if !add && present {
            g.members.retain(|m| m != user_id);
            g.membership_updated = Timestamp::now();
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

async fn add_member(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    change_membership(&h, &group_id, &user_id, true)
}

async fn remove_member(
    State(h): State<SandboxHandle>,
    headers: HeaderMap,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    change_membership(&h, &group_id, &user_id, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_expressions_parse_and_match() {
        let g = parse_search(r#"profile.name eq "Departing-Restricted" and type eq "OKTA_GROUP""#)
            .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].len(), 2);
        assert!(eval_search(&g, |a| match a {
            "profile.name" => Some("Departing-Restricted".into()),
            "type" => Some("OKTA_GROUP".into()),
            _ => None,
        }));
        assert!(parse_search("profile.name zz \"x\"").is_err());
        assert!(parse_search("profile.name eq").is_err());
    }
}
