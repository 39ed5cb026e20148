//! [`JiraClient`]: credentials check, create metadata, create issue, comment, JQL search, at
//! the site or through Atlassian's API gateway ([`super::route`]).

use super::adf::{self, Doc};
use super::model::*;
use super::route::{ApiRoute, TokenKind};
use crate::connectors::ConnectorError;
use crate::http::{self, Call, Http, HttpError};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::fmt;
use std::time::Instant;
use tokio::sync::OnceCell;
use url::Url;

/// The system name in errors and logs.
pub const SYSTEM: &str = "jira";

/// The longest summary Jira accepts.
pub const MAX_SUMMARY_CHARS: usize = 255;

/// The longest label Jira accepts.
pub const MAX_LABEL_CHARS: usize = 255;

/// Issues per search page (the API's usual ceiling).
const SEARCH_PAGE_SIZE: u32 = 100;

/// Stops a server that never says `isLast` from looping forever.
const MAX_PAGES: usize = 1_000;

/// Items per create-metadata page (the documented default of `maxResults`).
const META_PAGE_SIZE: usize = 50;

/// Turn Jira's ErrorCollection (`{"errorMessages":[…],"errors":{"field":"msg"}}`) into one
/// short line. Nothing else of the body is kept.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut parts: Vec<String> = Vec::new();
    if let Some(list) = v.get("errorMessages").and_then(|m| m.as_array()) {
        parts.extend(
            list.iter()
                .filter_map(|m| m.as_str())
                .filter(|m| !m.trim().is_empty())
                .map(|m| m.trim().to_string()),
        );
    }
    if let Some(map) = v.get("errors").and_then(|m| m.as_object()) {
        parts.extend(
            map.iter()
                .filter_map(|(k, m)| m.as_str().map(|m| format!("{k}: {}", m.trim()))),
        );
    }
    if parts.is_empty()
        && let Some(m) = v.get("message").and_then(|m| m.as_str())
    {
        parts.push(m.trim().to_string());
    }
    if parts.is_empty() {
        return None;
    }
    let joined = parts.join("; ");
    Some(match joined.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    })
}

/// Whether `s` may go inside a quoted JQL string and a label: letters, digits and `-_.:`.
fn jql_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL_CHARS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// Whether `s` looks like a Jira project key (`SEC`, `IT_OPS`, `SEC2`).
pub fn valid_project_key(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && s.len() <= 255
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The summary as Jira needs it: one line, at most 255 characters (cut with `…`).
pub fn clean_summary(s: &str) -> String {
    let line = adf::single_line(s);
    if line.chars().count() <= MAX_SUMMARY_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_SUMMARY_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[derive(Serialize)]
struct KeyRef<'a> {
    key: &'a str,
}

#[derive(Serialize)]
struct IdRef<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct CreateIssueBody<'a> {
    fields: CreateIssueFields<'a>,
}

#[derive(Serialize)]
struct CreateIssueFields<'a> {
    project: KeyRef<'a>,
    issuetype: IdRef<'a>,
    summary: String,
    description: &'a Doc,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    labels: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<IdRef<'a>>,
}

#[derive(Serialize)]
struct CommentBody<'a> {
    body: &'a Doc,
}

/// A client of one Jira Cloud site, with an Atlassian account email and API token.
pub struct JiraClient {
    http: Http,
    /// The site (`https://<site>.atlassian.net`): browse links, the cloud id, classic calls.
    site: Url,
    /// Atlassian's API gateway, for a token with scopes (set by [`JiraClient::with_token_kind`]).
    gateway: Option<Url>,
    token_kind: TokenKind,
    /// Where REST calls go: known from the start, stored by the last verification, or found
    /// out before the first call.
    route: OnceCell<ApiRoute>,
    email: String,
    api_token: SecretString,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClient")
            .field("site", &self.site.as_str())
            .field("route", &self.route.get().map(|r| r.base.as_str()))
            .field("email", &self.email)
            .field("api_token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Jira answers writes to one issue that come too close together with a 429 whose
/// `RateLimit-Reason` is `jira-per-issue-on-write`: only writes to that issue should wait,
/// not the whole client (developer.atlassian.com/cloud/jira/platform/rate-limiting, "Build an
/// app that respects rate limits"; docs/vendors/jira-rate-limits.md).
fn per_issue_limit(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get("ratelimit-reason")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("jira-per-issue-on-write"))
}

/// Jira's burst limits apply per endpoint and HTTP method: the family of a call is its method
/// and its path with every segment that holds a digit (issue keys and ids) as `*`, so
/// `POST /rest/api/3/issue/SEC-1/comment` and `…/SEC-2/comment` share a pacer while a 429 on
/// search leaves creates alone.
fn endpoint_family(method: &reqwest::Method, path: &str) -> String {
    let template: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.chars().any(|c| c.is_ascii_digit()) {
                "*"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", template.join("/"))
}

impl JiraClient {
    /// A client for the site at `site` (e.g. `https://acme.atlassian.net`; a path prefix is
    /// kept) with a classic API token, authenticating with Basic `email:api_token`. No request
    /// is made yet.
    pub fn new(site: Url, email: String, api_token: SecretString, http: Http) -> Self {
        JiraClient {
            http: http
                .with_scoped_limit(per_issue_limit)
                .with_families(endpoint_family),
            route: OnceCell::new_with(Some(ApiRoute::site(&site))),
            site,
            gateway: None,
            token_kind: TokenKind::Classic,
            email,
            api_token,
        }
    }

    /// The same client for a token of `kind`, with Atlassian's API gateway at `gateway`
    /// (`https://api.atlassian.com`): `Classic` calls the site, `Scoped` the gateway for the
    /// site's cloud id, `Auto` whichever takes the token (found out before the first call, or
    /// given by [`JiraClient::with_route`]).
    pub fn with_token_kind(mut self, kind: TokenKind, gateway: Url) -> Self {
        self.token_kind = kind;
        self.gateway = Some(gateway);
        self.route = match kind {
            TokenKind::Classic => OnceCell::new_with(Some(ApiRoute::site(&self.site))),
            TokenKind::Auto | TokenKind::Scoped => OnceCell::new(),
        };
        self
    }

    /// The same client calling `route` (stored by the last verification) without finding it
    /// out again. After [`JiraClient::with_token_kind`].
    pub fn with_route(mut self, route: Option<ApiRoute>) -> Self {
        if let Some(r) = route {
            self.route = OnceCell::new_with(Some(r));
        }
        self
    }

    /// The site URL.
    pub fn site_url(&self) -> &Url {
        &self.site
    }

    /// The browse link of an issue, `<site>/browse/<KEY>` (on the site whichever way the API
    /// is called).
    pub fn browse_url(&self, key: &str) -> Option<Url> {
        http::join(&self.site, &format!("/browse/{}", http::path_segment(key))).ok()
    }

    /// Where REST calls go, found out before the first call when not known.
    pub async fn route(&self, deadline: Option<Instant>) -> Result<&ApiRoute, ConnectorError> {
        self.route
            .get_or_try_init(|| async { self.find_route(deadline).await.map(|(r, _)| r) })
            .await
    }

    /// Find out where the token works, with the account it belongs to: `Auto` asks the site's
    /// `myself` and, on its 401, the gateway's; `Scoped` asks the gateway's only. The gateway's
    /// address needs the cloud id, read from the site's `/_edge/tenant_info`. When the site
    /// refused the token and the cloud id cannot be read (not an Atlassian Cloud site), the
    /// site's 401 is the answer.
    async fn find_route(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(ApiRoute, Myself), ConnectorError> {
        let site_refusal = if self.token_kind == TokenKind::Scoped {
            None
        } else {
            let site = ApiRoute::site(&self.site);
            match self.myself_at(&site.base, deadline).await {
                Ok(me) => return Ok((site, me)),
                Err(e) if e.status() == Some(401) && self.token_kind == TokenKind::Auto => Some(e),
                Err(e) => return Err(e),
            }
        };
        let Some(gateway) = &self.gateway else {
            return Err(site_refusal.unwrap_or_else(|| {
                ConnectorError::invalid(SYSTEM, "no API gateway is set for a scoped token")
            }));
        };
        let cloud_id = match self.cloud_id(deadline).await {
            Ok(id) => id,
            Err(e) => return Err(site_refusal.unwrap_or(e)),
        };
        let route = ApiRoute::gateway(gateway, &cloud_id)?;
        match self.myself_at(&route.base, deadline).await {
            Ok(me) => Ok((route, me)),
            // The gateway could not be asked (e.g. no way out to it): the site's refusal says
            // more than that to someone whose classic token is wrong.
            Err(e) if e.status().is_none() => Err(site_refusal.unwrap_or(e)),
            Err(e) => Err(e),
        }
    }

    /// The site's cloud id: `GET <site>/_edge/tenant_info` → `{"cloudId": "…"}`, asked without
    /// credentials (none are needed, and none go anywhere but where they are used).
    pub async fn cloud_id(&self, deadline: Option<Instant>) -> Result<String, ConnectorError> {
        let (url, call) = Self::call(
            &self.site,
            Method::GET,
            "/_edge/tenant_info",
            true,
            deadline,
        )?;
        let resp = self
            .http
            .execute(
                &call,
                |c| {
                    c.get(url.clone())
                        .header(reqwest::header::ACCEPT, "application/json")
                },
                error_message,
            )
            .await?;
        let info: TenantInfo = http::read_json(&call, resp).await?;
        info.cloud_id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| HttpError::decode(&call, "no cloudId in the answer").into())
    }

    /// The URL of `path_and_query` under `base`, and the call as the HTTP layer tracks it.
    fn call(
        base: &Url,
        method: Method,
        path_and_query: &str,
        idempotent: bool,
        deadline: Option<Instant>,
    ) -> Result<(Url, Call), ConnectorError> {
        let url = http::join(base, path_and_query)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))?;
        let call = Call::new(SYSTEM, method, path_and_query)
            .idempotent(idempotent)
            .deadline(deadline);
        Ok((url, call))
    }

    /// A REST call where the route says.
    pub(super) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        idempotent: bool,
        deadline: Option<Instant>,
    ) -> Result<(Call, reqwest::Response), ConnectorError> {
        let base = &self.route(deadline).await?.base;
        self.send_to(base, method, path_and_query, body, idempotent, deadline)
            .await
    }

    /// A REST call to `base`.
    async fn send_to(
        &self,
        base: &Url,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        idempotent: bool,
        deadline: Option<Instant>,
    ) -> Result<(Call, reqwest::Response), ConnectorError> {
        let (url, call) = Self::call(base, method.clone(), path_and_query, idempotent, deadline)?;
        let resp = self
            .http
            .execute(
                &call,
                |c| {
                    let rb = c
                        .request(method.clone(), url.clone())
                        .basic_auth(&self.email, Some(self.api_token.expose_secret()))
                        .header(reqwest::header::ACCEPT, "application/json");
                    match &body {
                        Some(b) => rb
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(b.clone()),
                        None => rb,
                    }
                },
                error_message,
            )
            .await?;
        Ok((call, resp))
    }

    pub(super) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, ConnectorError> {
        serde_json::to_vec(v)
            .map_err(|e| ConnectorError::invalid(SYSTEM, format!("cannot encode the request: {e}")))
    }

    /// Check the credentials with `GET /rest/api/3/myself` (a search is no proof: Jira may
    /// answer an anonymous search with an empty 200), finding out first where the token works
    /// when that is not known. Answers `Connected to Jira as <name>`.
    pub async fn verify(&self, deadline: Option<Instant>) -> Result<String, ConnectorError> {
        let me = match self.route.get() {
            Some(_) => self.myself(deadline).await?,
            None => {
                let (route, me) = self.find_route(deadline).await?;
                // Another call may have found it meanwhile: the same answer.
                let _ = self.route.set(route);
                me
            }
        };
        let who = me
            .display_name
            .filter(|n| !n.trim().is_empty())
            .or(me.email_address.filter(|e| !e.trim().is_empty()))
            .or(me.account_id)
            .unwrap_or_else(|| self.email.clone());
        Ok(format!("Connected to Jira as {who}"))
    }

    /// `GET /rest/api/3/myself`.
    pub async fn myself(&self, deadline: Option<Instant>) -> Result<Myself, ConnectorError> {
        let base = &self.route(deadline).await?.base;
        self.myself_at(base, deadline).await
    }

    async fn myself_at(
        &self,
        base: &Url,
        deadline: Option<Instant>,
    ) -> Result<Myself, ConnectorError> {
        let (call, resp) = self
            .send_to(
                base,
                Method::GET,
                "/rest/api/3/myself",
                None,
                true,
                deadline,
            )
            .await?;
        Ok(http::read_json(&call, resp).await?)
    }

    /// `POST /rest/api/3/issue`, the issue type and priority by id. Checks the project key,
    /// issue type, summary and labels first (a label with whitespace is refused); the summary
    /// is made one line of ≤ 255 characters.
    /// Never repeated after it may have reached Jira: on an unknown outcome the caller searches
    /// by label before creating again.
    pub async fn create_issue(
        &self,
        issue: &NewIssue,
        deadline: Option<Instant>,
    ) -> Result<CreatedIssue, ConnectorError> {
        if !valid_project_key(&issue.project_key) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("{:?} is not a Jira project key", issue.project_key),
            ));
        }
        if issue.issue_type_id.trim().is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the issue type id is empty",
            ));
        }
        let summary = clean_summary(&issue.summary);
        if summary.is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the issue summary is empty",
            ));
        }
        for label in &issue.labels {
            if label.is_empty() || label.chars().any(char::is_whitespace) {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    format!("Jira labels cannot be empty or contain spaces: {label:?}"),
                ));
            }
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    format!("a Jira label has at most {MAX_LABEL_CHARS} characters"),
                ));
            }
        }
        let priority = match issue.priority_id.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(p) => Some(IdRef { id: p }),
        };
        let body = Self::encode(&CreateIssueBody {
            fields: CreateIssueFields {
                project: KeyRef {
                    key: &issue.project_key,
                },
                issuetype: IdRef {
                    id: issue.issue_type_id.trim(),
                },
                summary,
                description: &issue.description,
                labels: &issue.labels,
                priority,
            },
        })?;
        let (call, resp) = self
            .send(
                Method::POST,
                "/rest/api/3/issue",
                Some(body),
                false,
                deadline,
            )
            .await?;
        let wire: CreatedIssueWire = http::read_json(&call, resp).await?;
        wire.into_created()
            .ok_or_else(|| HttpError::decode(&call, "the created issue has no key").into())
    }

    /// The issue types `project` offers for creating issues:
    /// `GET /rest/api/3/issue/createmeta/{project}/issuetypes`, every page (`startAt`,
    /// `maxResults`). Empty when the account may not create issues there.
    pub async fn create_meta_issue_types(
        &self,
        project_key: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<CreateMetaIssueType>, ConnectorError> {
        let path = format!(
            "/rest/api/3/issue/createmeta/{}/issuetypes",
            self.project_segment(project_key)?
        );
        self.start_at_pages(&path, deadline).await
    }

    /// The fields on the create screen of `project` for one issue type:
    /// `GET /rest/api/3/issue/createmeta/{project}/issuetypes/{issueTypeId}`, every page.
    pub async fn create_meta_fields(
        &self,
        project_key: &str,
        issue_type_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<CreateMetaField>, ConnectorError> {
        let path = format!(
            "/rest/api/3/issue/createmeta/{}/issuetypes/{}",
            self.project_segment(project_key)?,
            http::path_segment(issue_type_id)
        );
        self.start_at_pages(&path, deadline).await
    }

    fn project_segment(&self, project_key: &str) -> Result<String, ConnectorError> {
        if !valid_project_key(project_key) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("{project_key:?} is not a Jira project key"),
            ));
        }
        Ok(http::path_segment(project_key))
    }

    /// Every item of a `startAt`/`maxResults`/`total` paged list.
    async fn start_at_pages<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut out: Vec<T> = Vec::new();
        for _ in 0..MAX_PAGES {
            let page_path = format!("{path}?startAt={}&maxResults={META_PAGE_SIZE}", out.len());
            let (call, resp) = self
                .send(Method::GET, &page_path, None, true, deadline)
                .await?;
            let page: CreateMetaPage<T> = http::read_json(&call, resp).await?;
            let total = page.total;
            let items = page.items();
            let got = items.len();
            out.extend(items);
            let done = match total {
                Some(t) => out.len() as u64 >= t,
                None => got < META_PAGE_SIZE,
            };
            if got == 0 || done {
                break;
            }
        }
        Ok(out)
    }

    /// Whether a comment of the issue contains `needle` in its text (a marker riskflow wrote
    /// into it): `GET /rest/api/3/issue/{key}/comment?orderBy=-created`, newest first, page by
    /// page (`startAt`, `maxResults`) until `total`.
    pub async fn comments_contain(
        &self,
        issue_key: &str,
        needle: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        const PAGE: u64 = 100;
        let mut start = 0u64;
        loop {
            let path = format!(
                "/rest/api/3/issue/{}/comment?orderBy=-created&startAt={start}&maxResults={PAGE}",
                http::path_segment(issue_key)
            );
            let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
            let page: CommentPage = http::read_json(&call, resp).await?;
            if page
                .comments
                .iter()
                .any(|c| adf_text_contains(&c.body, needle))
            {
                return Ok(true);
            }
            let got = page.comments.len() as u64;
            start += got;
            if got == 0
                || page.total.is_some_and(|t| start >= t)
                || page.total.is_none() && got < PAGE
            {
                return Ok(false);
            }
        }
    }

    /// `POST /rest/api/3/issue/{key}/comment` `{"body": <ADF>}` (201, or 200 on some
    /// servers). Never repeated after it may have reached Jira.
    pub async fn add_comment(
        &self,
        issue_key: &str,
        body: &Doc,
        deadline: Option<Instant>,
    ) -> Result<CommentRef, ConnectorError> {
        if body.is_empty() {
            return Err(ConnectorError::invalid(SYSTEM, "the comment is empty"));
        }
        let path = format!(
            "/rest/api/3/issue/{}/comment",
            http::path_segment(issue_key)
        );
        let bytes = Self::encode(&CommentBody { body })?;
        let (call, resp) = self
            .send(Method::POST, &path, Some(bytes), false, deadline)
            .await?;
        // The comment object is not needed beyond its id; a body that is not JSON is tolerated.
        let bytes = http::read_body(&call, resp).await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or_default())
    }

    /// Run a JQL search with `GET /rest/api/3/search/jql`, following `nextPageToken` until
    /// `isLast` or `max_results` issues. `fields` empty: Jira returns ids only. Search is
    /// eventually consistent: a just-created issue may be missing for minutes.
    pub async fn search_jql(
        &self,
        jql: &str,
        fields: &[&str],
        max_results: u32,
        deadline: Option<Instant>,
    ) -> Result<Vec<Issue>, ConnectorError> {
        let mut out: Vec<Issue> = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let remaining = max_results.saturating_sub(out.len() as u32);
            if remaining == 0 {
                break;
            }
            // The serializer is not Send: finish it before awaiting.
            let query = {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("jql", jql);
                if !fields.is_empty() {
                    q.append_pair("fields", &fields.join(","));
                }
                q.append_pair("maxResults", &remaining.min(SEARCH_PAGE_SIZE).to_string());
                if let Some(t) = &token {
                    q.append_pair("nextPageToken", t);
                }
                q.finish()
            };
            let path = format!("/rest/api/3/search/jql?{query}");
            let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
            let page: SearchPage = http::read_json(&call, resp).await?;
            let got = page.issues.len();
            out.extend(page.issues);
            let next = page.next_page_token.filter(|t| !t.is_empty());
            if page.is_last.unwrap_or(next.is_none()) || got == 0 || next.is_none() || next == token
            {
                break;
            }
            token = next;
        }
        out.truncate(max_results as usize);
        Ok(out)
    }

    /// The issue in `project` carrying `label`, if search sees one:
    /// JQL `project = "<KEY>" AND labels = "<label>"`. The key and label are checked first so
    /// nothing can be injected into the query (letters, digits and `-_.:` only in labels).
    pub async fn find_by_label(
        &self,
        project_key: &str,
        label: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<IssueRef>, ConnectorError> {
        if !valid_project_key(project_key) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("{project_key:?} is not a Jira project key"),
            ));
        }
        if !jql_safe(label) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("label {label:?} may only use letters, digits and - _ . :"),
            ));
        }
        let jql = format!("project = \"{project_key}\" AND labels = \"{label}\"");
        let issues = self.search_jql(&jql, &["labels"], 10, deadline).await?;
        Ok(issues
            .into_iter()
            .filter(|i| {
                // Re-check when the server sent labels back (it may ignore `fields`).
                i.fields
                    .labels
                    .as_ref()
                    .is_none_or(|ls| ls.iter().any(|l| l == label))
            })
            .find_map(|i| {
                let key = i.key.filter(|k| !k.is_empty())?;
                Some(IssueRef { id: i.id, key })
            }))
    }
}

/// One page of an issue's comments (`GET /rest/api/3/issue/{key}/comment`).
#[derive(Debug, serde::Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<CommentBodyRead>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Debug, serde::Deserialize)]
struct CommentBodyRead {
    #[serde(default)]
    body: serde_json::Value,
}

/// Whether an ADF document (or a v2 plain-string body) holds `needle` in one of its text nodes.
fn adf_text_contains(node: &serde_json::Value, needle: &str) -> bool {
    match node {
        serde_json::Value::String(s) => s.contains(needle),
        serde_json::Value::Object(o) => {
            o.get("text")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.contains(needle))
                || o.get("content")
                    .is_some_and(|c| adf_text_contains(c, needle))
        }
        serde_json::Value::Array(a) => a.iter().any(|n| adf_text_contains(n, needle)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_to_one_endpoint_share_a_family_and_other_endpoints_or_methods_do_not() {
        let post = reqwest::Method::POST;
        let a = endpoint_family(&post, "/rest/api/3/issue/SEC-1/comment");
        assert_eq!(
            a,
            endpoint_family(&post, "/rest/api/3/issue/SEC-22/comment")
        );
        assert_eq!(a, "POST /rest/api/*/issue/*/comment");
        assert_ne!(a, endpoint_family(&post, "/rest/api/3/issue"));
        assert_ne!(
            endpoint_family(&reqwest::Method::GET, "/rest/api/3/search/jql"),
            endpoint_family(&post, "/rest/api/3/search/jql")
        );
    }

    #[test]
    fn summaries_are_one_line_and_at_most_255_characters() {
        assert_eq!(clean_summary("  a\nb\r\n\tc\u{0} "), "a b c");
        let long = clean_summary(&"é".repeat(400));
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn jira_error_collections_become_one_line() {
        let body = br#"{"errorMessages":["Issue does not exist"],"errors":{"description":"Operation value must be an Atlassian Document"}}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some(
                "Issue does not exist; description: Operation value must be an Atlassian Document"
            )
        );
        assert_eq!(error_message(b"<html/>"), None);
        assert_eq!(error_message(br#"{"errorMessages":[],"errors":{}}"#), None);
    }

    #[test]
    fn project_keys_and_labels_that_could_change_the_jql_are_refused() {
        assert!(valid_project_key("SEC") && valid_project_key("IT_OPS2"));
        assert!(
            !valid_project_key("SEC\" OR 1=1")
                && !valid_project_key("")
                && !valid_project_key("1AB")
        );
        assert!(jql_safe("riskflow-alert-tickets-123:a.b_c"));
        assert!(!jql_safe("a\"b") && !jql_safe("a b") && !jql_safe("a\\b") && !jql_safe(""));
    }

    #[test]
    fn debug_output_never_shows_the_api_token() {
        let c = JiraClient::new(
            Url::parse("https://acme.atlassian.net").unwrap(),
            "me@example.com".into(),
            SecretString::from("tok-secret-123"),
            Http::new(reqwest::Client::new()),
        );
        assert!(!format!("{c:?}").contains("tok-secret-123"));
    }
}
