//! [`IncydrClient`]: OAuth token cache, sessions, watchlists v2, actors and users.

use super::model::*;
use crate::connectors::ConnectorError;
use crate::http::{self, Call, Http, HttpError};
use base64::Engine as _;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};
use std::fmt;
use std::time::{Duration, Instant};
use url::Url;

/// The system name in errors and logs.
pub const SYSTEM: &str = "incydr";

/// The most ids one change-state or watchlist request may carry.
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// The longest note `add-note` accepts (characters, checked client-side as the SDK does).
pub const MAX_NOTE_CHARS: usize = 2000;

/// A token is refreshed this long before it expires (or at half its life, if shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Page size of the watchlist listing the SDK uses.
const WATCHLIST_PAGE_SIZE: u32 = 100;

/// Session pages fetched at once after `totalCount` has announced them.
const PARALLEL_PAGES: usize = 6;
/// Stops a server that never returns a short page from looping forever.
const MAX_PAGES: u32 = 10_000;

/// The API client's id and secret. `Debug` shows the id only.
#[derive(Clone)]
struct Credentials {
    client_id: String,
    client_secret: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

#[derive(Clone)]
struct CachedToken {
    access_token: SecretString,
    /// When to fetch a new one.
    refresh_at: Instant,
    tenant_uid: Option<String>,
}

/// A client of the Incydr REST API (one tenant, one API client).
pub struct IncydrClient {
    http: Http,
    base: Url,
    credentials: Credentials,
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

impl fmt::Debug for IncydrClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncydrClient")
            .field("base", &self.base.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Pull a short message out of an Incydr error body. The gateway's error schema is not
/// documented (the official `incydr` SDK parses no error body), so a few common keys are
/// tried; nothing else of the body is kept.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let pick = |v: &serde_json::Value| -> Option<String> {
        for key in [
            "message",
            "error_description",
            "detail",
            "title",
            "error",
            "description",
        ] {
            if let Some(s) = v.get(key).and_then(|s| s.as_str())
                && !s.trim().is_empty()
            {
                return Some(s.trim().to_string());
            }
        }
        None
    };
    let msg = pick(&v).or_else(|| v.get("error").and_then(pick))?;
    Some(truncate(&msg, 300))
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The `tenantUid` claim of a JWT, decoded without verifying the signature.
pub fn tenant_uid_from_jwt(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("tenantUid")?.as_str().map(str::to_string)
}

fn not_found(e: &ConnectorError) -> bool {
    e.status() == Some(404)
}

mod watchlists;

// Request bodies -------------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AddNoteBody<'a> {
    note_content: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangeStateBody<'a> {
    ids: &'a [String],
    new_state: &'a str,
}

enum Body {
    None,
    Json(Vec<u8>),
}

impl Body {
    fn json<T: Serialize>(v: &T) -> Result<Body, ConnectorError> {
        serde_json::to_vec(v)
            .map(Body::Json)
            .map_err(|e| ConnectorError::invalid(SYSTEM, format!("cannot encode the request: {e}")))
    }
}

impl IncydrClient {
    /// A client for the API at `base_url` (e.g. `https://api.us.code42.com`; a path prefix is
    /// kept) using the API client `client_id` / `client_secret`. No request is made yet.
    pub fn new(base_url: Url, client_id: String, client_secret: SecretString, http: Http) -> Self {
        IncydrClient {
            http,
            base: base_url,
            credentials: Credentials {
                client_id,
                client_secret,
            },
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path_and_query: &str) -> Result<Url, ConnectorError> {
        http::join(&self.base, path_and_query)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))
    }

    // Auth -------------------------------------------------------------------------------------

    /// `POST /v1/oauth` with Basic auth and an empty body.
    async fn fetch_token(&self, deadline: Option<Instant>) -> Result<CachedToken, ConnectorError> {
        let url = self.url("/v1/oauth")?;
        // Asking for a token changes nothing on the server: safe to repeat.
        let call = Call::new(SYSTEM, Method::POST, "/v1/oauth")
            .idempotent(true)
            .deadline(deadline);
        let creds = &self.credentials;
        let resp = self
            .http
            .execute(
                &call,
                |c| {
                    c.post(url.clone())
                        .basic_auth(&creds.client_id, Some(creds.client_secret.expose_secret()))
                        .header(reqwest::header::ACCEPT, "application/json")
                },
                error_message,
            )
            .await?;
        let received = Instant::now();
        let token: TokenResponse = http::read_json(&call, resp).await?;
        if token.access_token.is_empty() {
            return Err(
                HttpError::decode(&call, "the token response has an empty access_token").into(),
            );
        }
        // Capped at a day so the arithmetic below cannot overflow on a silly value.
        let life = Duration::from_secs(token.expires_in.unwrap_or(900).min(86_400));
        let margin = REFRESH_MARGIN.min(life / 2);
        Ok(CachedToken {
            tenant_uid: tenant_uid_from_jwt(&token.access_token),
            access_token: SecretString::from(token.access_token),
            refresh_at: received + life - margin,
        })
    }

    /// The cached token, fetched or refreshed when needed. One caller fetches at a time.
    async fn token(&self, deadline: Option<Instant>) -> Result<CachedToken, ConnectorError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.clone());
        }
        let fresh = self.fetch_token(deadline).await?;
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drop the cached token if it is still the one that was refused.
    async fn invalidate(&self, refused: &CachedToken) {
        let mut guard = self.token.lock().await;
        if guard
            .as_ref()
            .is_some_and(|t| t.access_token.expose_secret() == refused.access_token.expose_secret())
        {
            *guard = None;
        }
    }

    /// The tenant id from the current token's `tenantUid` claim (fetches a token if needed).
    pub async fn tenant_uid(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        Ok(self.token(deadline).await?.tenant_uid)
    }

    /// Send an authenticated request. A 401 drops the token, fetches a new one and repeats the
    /// call once (the server did not act on a refused request).
    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: &Body,
        idempotent: bool,
        deadline: Option<Instant>,
    ) -> Result<reqwest::Response, ConnectorError> {
        let url = self.url(path_and_query)?;
        let call = Call::new(SYSTEM, method.clone(), path_and_query)
            .idempotent(idempotent)
            .deadline(deadline);
        let mut refreshed = false;
        loop {
            let token = self.token(deadline).await?;
            let result = self
                .http
                .execute(
                    &call,
                    |c| {
                        let rb = c
                            .request(method.clone(), url.clone())
                            .bearer_auth(token.access_token.expose_secret())
                            .header(reqwest::header::ACCEPT, "application/json");
                        match body {
                            Body::None => rb,
                            Body::Json(bytes) => rb
                                .header(reqwest::header::CONTENT_TYPE, "application/json")
                                .body(bytes.clone()),
                        }
                    },
                    error_message,
                )
                .await;
            match result {
                Err(e) if e.is_unauthorized() && !refreshed => {
                    tracing::debug!(system = SYSTEM, "token refused; fetching a new one");
                    self.invalidate(&token).await;
                    refreshed = true;
                }
                Err(e) => return Err(e.into()),
                Ok(resp) => return Ok(resp),
            }
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
        deadline: Option<Instant>,
    ) -> Result<T, ConnectorError> {
        let resp = self
            .send(Method::GET, path_and_query, &Body::None, true, deadline)
            .await?;
        let call = Call::new(SYSTEM, Method::GET, path_and_query);
        Ok(http::read_json(&call, resp).await?)
    }

    async fn get_optional<T: serde::de::DeserializeOwned>(
        &self,
        path_and_query: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<T>, ConnectorError> {
        match self.get_json(path_and_query, deadline).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Check the credentials: get a token and make one cheap read. Answers a message for the
    /// connect route, e.g. `Connected to Incydr (tenant abcd-1234)`.
    pub async fn verify(&self, deadline: Option<Instant>) -> Result<String, ConnectorError> {
        let token = self.token(deadline).await?;
        let _: SessionPage = self
            .get_json(
                "/v1/sessions?has_alerts=true&page_number=0&page_size=1",
                deadline,
            )
            .await?;
        Ok(match token.tenant_uid {
            Some(t) => format!("Connected to Incydr (tenant {t})"),
            None => "Connected to Incydr".to_string(),
        })
    }

    // Sessions ---------------------------------------------------------------------------------

    /// One page of `GET /v1/sessions`. A `page_size` outside 1..=50 is refused before sending.
    pub async fn search_sessions(
        &self,
        query: &SessionQuery,
        deadline: Option<Instant>,
    ) -> Result<SessionPage, ConnectorError> {
        if query.page_size == 0 || query.page_size > MAX_SESSION_PAGE_SIZE {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!(
                    "session page size must be between 1 and {MAX_SESSION_PAGE_SIZE}, not {}",
                    query.page_size
                ),
            ));
        }
        self.get_json(
            &format!("/v1/sessions?{}", query.to_query_string()),
            deadline,
        )
        .await
    }

    /// Every session matching `query`, paging from page 0 until a page comes back shorter than
    /// `page_size` (the SDK's rule: `totalCount` is not trusted to end the scan). `totalCount`
    /// only lets the pages it announces be fetched a few at a time after the first one (at
    /// most 50 sessions a page, 10,000 sessions are 200 pages); the scan still ends at the
    /// first short page, and goes on one page at a time past the announced ones while pages
    /// are full.
    pub async fn all_sessions(
        &self,
        query: &SessionQuery,
        deadline: Option<Instant>,
    ) -> Result<Vec<Session>, ConnectorError> {
        use futures::StreamExt as _;
        let size = query.page_size as usize;
        let mut q = query.clone();
        q.page_number = 0;
        let first = self.search_sessions(&q, deadline).await?;
        let announced = first
            .total_count
            .map(|t| (t as usize).div_ceil(size.max(1)) as u32)
            .unwrap_or(1)
            .clamp(1, MAX_PAGES);
        let mut full = first.items.len() >= size;
        let mut out = first.items;
        let mut next = 1;
        if full && announced > 1 {
            let mut pages = futures::stream::iter(1..announced)
                .map(|page| {
                    let mut q = query.clone();
                    q.page_number = page;
                    async move { self.search_sessions(&q, deadline).await }
                })
                .buffered(PARALLEL_PAGES);
            while let Some(got) = pages.next().await {
                let got = got?;
                next += 1;
                full = got.items.len() >= size;
                out.extend(got.items);
                if !full {
                    break;
                }
            }
        }
        while full {
            if next >= MAX_PAGES {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    format!("session search did not end after {MAX_PAGES} pages"),
                ));
            }
            q.page_number = next;
            let got = self.search_sessions(&q, deadline).await?;
            next += 1;
            full = got.items.len() >= size;
            out.extend(got.items);
        }
        Ok(out)
    }

    /// `GET /v1/sessions/{id}`; `None` when the server answers 404.
    pub async fn get_session(
        &self,
        session_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Session>, ConnectorError> {
        self.get_optional(
            &format!("/v1/sessions/{}", http::path_segment(session_id)),
            deadline,
        )
        .await
    }

    /// The file events of a session (`GET /v1/sessions/{id}/events`, unwrapped from
    /// `queryResult`).
    pub async fn session_events(
        &self,
        session_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<FileEvent>, ConnectorError> {
        let r: SessionEventsResponse = self
            .get_json(
                &format!("/v1/sessions/{}/events", http::path_segment(session_id)),
                deadline,
            )
            .await?;
        Ok(r.into_events())
    }

    /// `POST /v1/sessions/{id}/add-note` `{"noteContent": text}`. Empty notes and notes over
    /// 2,000 characters are refused before sending. Not repeated after it may have arrived.
    pub async fn add_note(
        &self,
        session_id: &str,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let chars = text.chars().count();
        if chars > MAX_NOTE_CHARS {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!(
                    "a session note may have at most {MAX_NOTE_CHARS} characters, this one has {chars}"
                ),
            ));
        }
        if text.trim().is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "a session note cannot be empty",
            ));
        }
        let body = Body::json(&AddNoteBody { note_content: text })?;
        self.send(
            Method::POST,
            &format!("/v1/sessions/{}/add-note", http::path_segment(session_id)),
            &body,
            false,
            deadline,
        )
        .await?;
        Ok(())
    }

    /// `POST /v1/sessions/change-state` `{"ids":[…],"newState":…}`, in requests of at most
    /// 100 ids (each request carries only its own ids).
    pub async fn change_state(
        &self,
        session_ids: &[String],
        state: &SessionState,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        for chunk in session_ids.chunks(MAX_IDS_PER_REQUEST) {
            let body = Body::json(&ChangeStateBody {
                ids: chunk,
                new_state: state.as_str(),
            })?;
            // Setting a state twice leaves the same state: safe to repeat.
            self.send(
                Method::POST,
                "/v1/sessions/change-state",
                &body,
                true,
                deadline,
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_read_from_the_jwt_payload_without_verifying_it() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"tenantUid":"abcd-1234"}"#);
        assert_eq!(
            tenant_uid_from_jwt(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")),
            Some("abcd-1234".to_string())
        );
        assert_eq!(tenant_uid_from_jwt("not-a-jwt"), None);
        assert_eq!(tenant_uid_from_jwt("a.!!!.c"), None);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let http = Http::new(reqwest::Client::new());
        let c = IncydrClient::new(
            Url::parse("https://api.us.code42.com").unwrap(),
            "key-1".into(),
            SecretString::from("super-secret-value"),
            http,
        );
        let s = format!("{c:?}");
        assert!(s.contains("key-1"));
        assert!(!s.contains("super-secret-value"));
    }

    #[test]
    fn error_messages_come_from_known_keys_and_are_short() {
        assert_eq!(
            error_message(br#"{"message":"Watchlist not found"}"#).as_deref(),
            Some("Watchlist not found")
        );
        assert_eq!(
            error_message(br#"{"error":{"message":"nested"}}"#).as_deref(),
            Some("nested")
        );
        assert_eq!(error_message(b"<html>oops</html>"), None);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(1000));
        assert!(error_message(long.as_bytes()).unwrap().chars().count() <= 301);
    }
}
