//! [`OktaClient`]: credentials check, user and group lookup, group membership.

use super::model::*;
use super::oauth::ServiceApp;
use crate::connectors::ConnectorError;
use crate::http::{self, Call, Http};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;
use url::Url;

/// The system name in errors and logs.
pub const SYSTEM: &str = "okta";

/// Stops a server whose `next` links never end from looping forever.
const MAX_PAGES: usize = 10_000;

/// Okta's error body as `E0000007: Not found: …`. Nothing else of the body is kept.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("errorCode").and_then(|c| c.as_str()).map(str::trim);
    let summary = v
        .get("errorSummary")
        .and_then(|c| c.as_str())
        .map(str::trim);
    let msg = match (code, summary) {
        (Some(c), Some(s)) if !c.is_empty() && !s.is_empty() => format!("{c}: {s}"),
        (_, Some(s)) if !s.is_empty() => s.to_string(),
        (Some(c), _) if !c.is_empty() => c.to_string(),
        _ => return None,
    };
    Some(match msg.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &msg[..i]),
        None => msg,
    })
}

/// The `rel="next"` target of `Link` headers (`<url>; rel="self", <url>; rel="next"`).
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(value) = value.to_str() else { continue };
        let mut rest = value;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('>') else { break };
            let target = &after[..end];
            let params_and_more = &after[end + 1..];
            let params = match params_and_more.find('<') {
                Some(next) => &params_and_more[..next],
                None => params_and_more,
            };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            });
            // An empty target (`<>`) would resolve to the page just read: not a next page.
            if is_next && !target.trim().is_empty() {
                return Some(target.to_string());
            }
            rest = params_and_more;
        }
    }
    None
}

/// How the client authenticates.
enum Auth {
    /// `Authorization: SSWS <API token>` (Okta: "API key", deprecated), acting as the admin who
    /// made the token.
    Ssws(SecretString),
    /// An OAuth 2.0 service app: `Bearer` or `DPoP` access tokens; no user behind them.
    ServiceApp(Box<ServiceApp>),
}

/// A client of one Okta org, with an SSWS API token or as an OAuth 2.0 service app.
pub struct OktaClient {
    http: Http,
    base: Url,
    auth: Auth,
    rate_limit: Mutex<Option<RateLimit>>,
}

impl fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::Ssws(_) => "SSWS [redacted]".to_string(),
            Auth::ServiceApp(app) => format!("{app:?}"),
        };
        f.debug_struct("OktaClient")
            .field("base", &self.base.as_str())
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl OktaClient {
    /// A client for the org at `base_url` (e.g. `https://acme.okta.com`; a path prefix is
    /// kept), sending `Authorization: SSWS <token>`. No request is made yet.
    pub fn new(base_url: Url, token: SecretString, http: Http) -> Self {
        Self::with_auth(base_url, Auth::Ssws(token), http)
    }

    /// A client acting as the service app `app` (tokens from `{base_url}/oauth2/v1/token`).
    pub fn with_service_app(base_url: Url, app: ServiceApp, http: Http) -> Self {
        Self::with_auth(base_url, Auth::ServiceApp(Box::new(app)), http)
    }

    fn with_auth(base_url: Url, auth: Auth, http: Http) -> Self {
        OktaClient {
            http,
            base: base_url,
            auth,
            rate_limit: Mutex::new(None),
        }
    }

    /// Whether a user stands behind the credentials (an SSWS token's admin); a service app
    /// has none.
    pub fn acts_as_a_user(&self) -> bool {
        matches!(self.auth, Auth::Ssws(_))
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The `X-Rate-Limit-Limit/Remaining/Reset` of the last successful response, if it had them
    /// (for adapting concurrency).
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit.lock().ok().and_then(|g| *g)
    }

    async fn send_url(
        &self,
        method: Method,
        url: Url,
        call: Call,
    ) -> Result<(Call, reqwest::Response), ConnectorError> {
        let resp = match &self.auth {
            Auth::Ssws(token) => {
                let auth = format!("SSWS {}", token.expose_secret());
                self.execute(&method, &url, &call, &auth, None).await?
            }
            Auth::ServiceApp(app) => {
                // A token revoked or expired early is renewed once.
                let mut renewed = false;
                loop {
                    let token = app.token(&self.http, &self.base, call.deadline).await?;
                    let scheme = if token.dpop { "DPoP" } else { "Bearer" };
                    let auth = format!("{scheme} {}", token.value.expose_secret());
                    let proof = token.dpop.then_some((app.as_ref(), &token.value));
                    match self.execute(&method, &url, &call, &auth, proof).await {
                        Err(e) if e.status() == Some(401) && !renewed => {
                            app.forget();
                            renewed = true;
                        }
                        other => break other?,
                    }
                }
            }
        };
        if let Some(rl) = RateLimit::from_headers(resp.headers())
            && let Ok(mut g) = self.rate_limit.lock()
        {
            *g = Some(rl);
        }
        Ok((call, resp))
    }

    /// One call with `Authorization: <auth>` and, for a DPoP-bound token, a fresh `DPoP` proof
    /// on every attempt (a proof's `jti` is used once).
    async fn execute(
        &self,
        method: &Method,
        url: &Url,
        call: &Call,
        auth: &str,
        dpop: Option<(&ServiceApp, &SecretString)>,
    ) -> Result<reqwest::Response, ConnectorError> {
        Ok(self
            .http
            .execute(
                call,
                |c| {
                    let mut req = c
                        .request(method.clone(), url.clone())
                        .header(reqwest::header::AUTHORIZATION, auth)
                        .header(reqwest::header::ACCEPT, "application/json");
                    if let Some((app, token)) = dpop
                        && let Ok(proof) = app.proof(method, url, None, Some(token))
                    {
                        req = req.header("DPoP", proof);
                    }
                    req
                },
                error_message,
            )
            .await?)
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        deadline: Option<Instant>,
    ) -> Result<(Call, reqwest::Response), ConnectorError> {
        let url = http::join(&self.base, path_and_query)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))?;
        // GET, PUT of a membership and DELETE of one are all safe to repeat.
        let call = Call::new(SYSTEM, method.clone(), path_and_query).deadline(deadline);
        self.send_url(method, url, call).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        deadline: Option<Instant>,
    ) -> Result<T, ConnectorError> {
        let (call, resp) = self.send(Method::GET, path, deadline).await?;
        Ok(http::read_json(&call, resp).await?)
    }

    /// Check the token with `GET /api/v1/users/me` and, when given, that the configured group
    /// exists and is an `OKTA_GROUP`. Answers `Connected to Okta as <login>`.
    /// As a service app (no user behind it) the configured group's read is the check, and a
    /// group id is required.
    pub async fn verify(
        &self,
        group_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<String, ConnectorError> {
        if let Auth::ServiceApp(app) = &self.auth {
            let g = group_id.ok_or_else(|| {
                ConnectorError::invalid(SYSTEM, "a service app is checked with its group id")
            })?;
            self.check_group_manageable(g, deadline).await?;
            return Ok(format!(
                "Connected to Okta as the service app {}",
                app.client_id()
            ));
        }
        let me: User = self.get_json("/api/v1/users/me", deadline).await?;
        if let Some(g) = group_id {
            self.check_group_manageable(g, deadline).await?;
        }
        let who = me.profile.login.filter(|l| !l.is_empty()).unwrap_or(me.id);
        Ok(format!("Connected to Okta as {who}"))
    }

    /// `GET /api/v1/users/{login}` (the login percent-encoded as one path segment; an id or
    /// `me` works too); `None` on 404.
    pub async fn user_by_login(
        &self,
        login: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<User>, ConnectorError> {
        if login.trim().is_empty() {
            return Err(ConnectorError::invalid(SYSTEM, "a login cannot be empty"));
        }
        match self
            .get_json(
                &format!("/api/v1/users/{}", http::path_segment(login)),
                deadline,
            )
            .await
        {
            Ok(u) => Ok(Some(u)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/groups/{id}`.
    pub async fn group(
        &self,
        group_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Group, ConnectorError> {
        Self::check_id("group", group_id)?;
        self.get_json(
            &format!("/api/v1/groups/{}", http::path_segment(group_id)),
            deadline,
        )
        .await
    }

    /// The group, or [`ConnectorError::Invalid`] `Okta group <id> is an <TYPE>; its members
    /// can't be changed` when it is not an `OKTA_GROUP`.
    pub async fn check_group_manageable(
        &self,
        group_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Group, ConnectorError> {
        let group = self.group(group_id, deadline).await?;
        match &group.group_type {
            Some(GroupType::OktaGroup) => Ok(group),
            other => {
                let t = other
                    .as_ref()
                    .map(GroupType::as_str)
                    .unwrap_or("unknown type");
                Err(ConnectorError::invalid(
                    SYSTEM,
                    format!("Okta group {group_id} is an {t}; its members can't be changed"),
                ))
            }
        }
    }

    fn check_id(what: &str, id: &str) -> Result<(), ConnectorError> {
        if id.trim().is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("the {what} id is empty"),
            ));
        }
        Ok(())
    }

    fn membership_path(group_id: &str, user_id: &str) -> String {
        format!(
            "/api/v1/groups/{}/users/{}",
            http::path_segment(group_id),
            http::path_segment(user_id)
        )
    }

    /// `PUT /api/v1/groups/{g}/users/{u}` → 204. `user_id` is the Okta id, not the login.
    pub async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        Self::check_id("group", group_id)?;
        Self::check_id("user", user_id)?;
        self.send(
            Method::PUT,
            &Self::membership_path(group_id, user_id),
            deadline,
        )
        .await?;
        Ok(())
    }

    /// `DELETE /api/v1/groups/{g}/users/{u}` → 204.
    pub async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        Self::check_id("group", group_id)?;
        Self::check_id("user", user_id)?;
        self.send(
            Method::DELETE,
            &Self::membership_path(group_id, user_id),
            deadline,
        )
        .await?;
        Ok(())
    }

    /// Whether the user (Okta id) is in the group: `GET /api/v1/users/{u}/groups?limit=200`,
    /// the user's groups (one request for nearly everyone, however large the group), following
    /// `Link rel="next"` until the group is seen.
    pub async fn is_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        Self::check_id("group", group_id)?;
        Self::check_id("user", user_id)?;
        let first = format!(
            "/api/v1/users/{}/groups?limit=200",
            http::path_segment(user_id)
        );
        let groups: Vec<Group> = self
            .list(&first, deadline, |g: &Group| g.id == group_id)
            .await?;
        Ok(groups.iter().any(|g| g.id == group_id))
    }

    /// The names of the active group rules that assign users to `group_id`:
    /// `GET /api/v1/groups/rules?limit=200` (Okta's page size for rules is 50 by default and 200
    /// at most), every page.
    pub async fn rules_assigning(
        &self,
        group_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, ConnectorError> {
        Self::check_id("group", group_id)?;
        let rules: Vec<GroupRule> = self
            .list(
                "/api/v1/groups/rules?limit=200",
                deadline,
                |_: &GroupRule| false,
            )
            .await?;
        Ok(rules
            .into_iter()
            .filter(|r| r.assigns_to(group_id))
            .map(|r| if r.name.is_empty() { r.id } else { r.name })
            .collect())
    }

    /// The active users whose `profile.email` is `email` (compared without case, re-checked
    /// here on every answer: the server's filter is not trusted):
    /// `GET /api/v1/users?search=profile.email eq "<email>"`, every page. An address that
    /// cannot be put in a search expression is refused before any request
    /// ([`searchable_email`]).
    pub async fn active_users_with_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<User>, ConnectorError> {
        searchable_email(email)?;
        let expr = format!("profile.email eq \"{email}\"");
        let first = format!("/api/v1/users?search={}", http::query_value(&expr));
        let users: Vec<User> = self.list(&first, deadline, |_: &User| false).await?;
        Ok(users
            .into_iter()
            .filter(|u| {
                u.status == Some(UserStatus::Active)
                    && !u.id.is_empty()
                    && u.profile
                        .email
                        .as_deref()
                        .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
            })
            .collect())
    }

    /// Every item of a listing from `first` on, page by page through `Link rel="next"` (which
    /// must stay on the connection's origin), stopping after the page where `found` holds.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        first: &str,
        deadline: Option<Instant>,
        found: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut url = http::join(&self.base, first)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))?;
        let mut seen: Vec<String> = Vec::new();
        let mut all = Vec::new();
        for _ in 0..MAX_PAGES {
            let call = Call::new(SYSTEM, Method::GET, url.path()).deadline(deadline);
            let (call, resp) = self.send_url(Method::GET, url.clone(), call).await?;
            let next = next_link(resp.headers());
            let page: Vec<T> = http::read_json(&call, resp).await?;
            let done = page.is_empty() || page.iter().any(&found);
            all.extend(page);
            let Some(next) = next.filter(|_| !done) else {
                return Ok(all);
            };
            let next_url = url.join(&next).map_err(|_| {
                ConnectorError::invalid(SYSTEM, "Okta sent a next-page link that is not a URL")
            })?;
            if !http::same_origin(&self.base, &next_url) {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    "Okta sent a next-page link to another origin; refusing to follow it",
                ));
            }
            if seen.iter().any(|s| s == next_url.as_str()) {
                return Ok(all);
            }
            seen.push(next_url.to_string());
            url = next_url;
        }
        Err(ConnectorError::invalid(
            SYSTEM,
            format!("the listing {first} did not end after {MAX_PAGES} pages"),
        ))
    }
}

/// Whether `email` can be put between the double quotes of an Okta search expression
/// (`profile.email eq "…"`): not empty, and no `"`, `\` or control character, which would
/// end or escape the string and change the expression. Refused with a message naming the
/// character.
pub fn searchable_email(email: &str) -> Result<(), ConnectorError> {
    if email.trim().is_empty() {
        return Err(ConnectorError::invalid(SYSTEM, "an email cannot be empty"));
    }
    let bad = email
        .chars()
        .find(|c| matches!(c, '"' | '\\') || c.is_control());
    match bad {
        None => Ok(()),
        Some(c) => Err(ConnectorError::invalid(
            SYSTEM,
            format!(
                "the email {} contains {}, which an Okta search expression cannot carry; \
                 no Okta user was looked up",
                email.escape_debug(),
                match c {
                    '"' => "a double quote".to_string(),
                    '\\' => "a backslash".to_string(),
                    c => format!("the control character U+{:04X}", u32::from(c)),
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    #[test]
    fn the_next_link_is_found_among_several_links_and_headers() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://o.okta.com/api/v1/groups/g/users?limit=200>; rel="self""#,
            ),
        );
        h.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://o.okta.com/api/v1/groups/g/users?after=00u2&limit=200>; rel="next""#,
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://o.okta.com/api/v1/groups/g/users?after=00u2&limit=200")
        );
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                r#"<https://a/x>; rel="self", <https://a/y?after=1>; rel="next""#,
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://a/y?after=1"));
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(r#"<https://a/x>; rel="self""#),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn okta_errors_read_code_and_summary() {
        let b = br#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)","errorLink":"E0000007","errorId":"oae","errorCauses":[]}"#;
        assert_eq!(
            error_message(b).as_deref(),
            Some("E0000007: Not found: Resource not found: x (User)")
        );
        assert_eq!(error_message(b"{}"), None);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let c = OktaClient::new(
            Url::parse("https://acme.okta.com").unwrap(),
            SecretString::from("00abcSECRET"),
            Http::new(reqwest::Client::new()),
        );
        assert!(!format!("{c:?}").contains("00abcSECRET"));
    }
}
