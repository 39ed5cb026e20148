//! The ADP API client: OAuth2 client credentials over mutual TLS, the event-notification
//! queue, and worker reads.

use super::model::{AdpMessage, Worker};
use crate::connectors::ConnectorError;
use crate::http::{self, Call, ClientOptions, Http, HttpError};
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode};
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use url::Url;

const SYSTEM: &str = "adp";
/// `GET` (one message) / `DELETE …/{msgid}` (acknowledge).
pub const MESSAGES_PATH: &str = "/core/v1/event-notification-messages";
/// A cached token is used until this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// The longest a token is cached, whatever its `expires_in` says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

/// What ADP issues to a client: an OAuth2 client id and secret, and the x.509 certificate
/// (PEM) with its private key (PEM, kept secret) that every connection must present.
pub struct AdpCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
    pub cert_pem: String,
    pub key_pem: SecretString,
}

impl std::fmt::Debug for AdpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdpCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("cert_pem", &format!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"[REDACTED]")
            .finish()
    }
}

pub(crate) struct CachedToken {
    value: SecretString,
    valid_until: Instant,
}

impl CachedToken {
    /// A token received at `received` that lives `lifetime`: used until [`TOKEN_MARGIN`]
    /// before it expires, and for at most [`MAX_TOKEN_LIFETIME`] (an absurd `expires_in` such
    /// as `18446744073709551615` would otherwise overflow the clock and panic).
    pub(crate) fn new(value: SecretString, lifetime: Duration, received: Instant) -> Self {
        CachedToken {
            value,
            valid_until: received
                + lifetime
                    .min(MAX_TOKEN_LIFETIME)
                    .saturating_sub(TOKEN_MARGIN),
        }
    }
}

/// The token endpoint's answer: the access token and its lifetime (`expires_in`, a number or
/// text of seconds; one hour when absent or unreadable).
pub(crate) fn token_answer(
    call: &Call,
    bytes: &[u8],
) -> Result<(SecretString, Duration), ConnectorError> {
    let body: TokenResponse = http::decode_json(call, bytes)?;
    if body.access_token.trim().is_empty() {
        return Err(HttpError::decode(call, "the token answer has an empty access_token").into());
    }
    let secs = match &body.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(3600);
    Ok((
        SecretString::from(body.access_token),
        Duration::from_secs(secs),
    ))
}

/// ADP API client (Workforce Now / Marketplace APIs) for one client company's credentials.
pub struct AdpClient {
    http: Http,
    api_base: Url,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for AdpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdpClient")
            .field("api_base", &self.api_base.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl AdpClient {
    /// Build the client and its mutual-TLS HTTP client: `options.identity_pem` is set to the
    /// certificate followed by the key (any identity already in `options` is replaced).
    /// `api_base` is `https://api.adp.com`, `token_url`
    /// `https://accounts.adp.com/auth/oauth/v2/token`; both may carry a path prefix.
    pub fn new(
        api_base: Url,
        token_url: Url,
        credentials: AdpCredentials,
        mut options: ClientOptions,
    ) -> Result<Self, ConnectorError> {
        let AdpCredentials {
            client_id,
            client_secret,
            cert_pem,
            key_pem,
        } = credentials;
        if client_id.trim().is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the ADP client id is empty",
            ));
        }
        if !cert_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the ADP client certificate is not a PEM certificate (expected a '-----BEGIN CERTIFICATE-----' block)",
            ));
        }
        if !key_pem.expose_secret().contains("PRIVATE KEY-----") {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the ADP private key is not a PEM private key (expected a '-----BEGIN … PRIVATE KEY-----' block)",
            ));
        }
        let mut identity = Vec::with_capacity(cert_pem.len() + key_pem.expose_secret().len() + 1);
        identity.extend_from_slice(cert_pem.trim_end().as_bytes());
        identity.push(b'\n');
        identity.extend_from_slice(key_pem.expose_secret().as_bytes());
        options.identity_pem = Some(identity);
        let built = http::build_client(&options);
        if let Some(pem) = options.identity_pem.as_mut() {
            pem.zeroize();
        }
        let client = built.map_err(|e| match &e {
            HttpError::Config { detail } if detail.contains("extra root") => ConnectorError::Http(e),
            _ => ConnectorError::invalid(
                SYSTEM,
                "the ADP client certificate and private key cannot be used together; give the certificate ADP issued and the private key it was made for, both as PEM",
            ),
        })?;
        Ok(AdpClient {
            http: Http::new(client).allow_private(options.allow_private),
            api_base,
            token_url,
            client_id,
            client_secret,
            token: Mutex::new(None),
        })
    }

    /// Replace the retry policy (tests shorten the waits).
    pub fn with_retry(mut self, retry: http::RetryPolicy) -> Self {
        self.http.retry = retry;
        self
    }

    /// Get a token and say so: `Connected to ADP (client <id>)`. Always asks ADP (the cache is
    /// bypassed), so it proves the secret and the certificate now.
    pub async fn verify(&self, deadline: Option<Instant>) -> Result<String, ConnectorError> {
        self.forget_token().await;
        self.token(deadline).await?;
        Ok(format!("Connected to ADP (client {})", self.client_id))
    }

    /// `GET /core/v1/event-notification-messages`: the message at the head of the queue, or
    /// `None` when the queue is empty (204). The message stays at the head until acknowledged
    /// (deleted by its `adp-msg-msgid`; a message without one is returned with no id, since its
    /// content may still be HR work).
    pub async fn next_message(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<AdpMessage>, ConnectorError> {
        let call = Call::new(SYSTEM, Method::GET, MESSAGES_PATH).deadline(deadline);
        let resp = self.authed(&call, MESSAGES_PATH).await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let msg_id = resp
            .headers()
            .get("adp-msg-msgid")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from);
        let bytes = http::read_body(&call, resp).await?;
        Ok(Some(AdpMessage {
            msg_id,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }))
    }

    /// `DELETE /core/v1/event-notification-messages/{msg_id}`. Idempotent: a message that is
    /// already gone (404) counts as acknowledged.
    pub async fn ack(&self, msg_id: &str, deadline: Option<Instant>) -> Result<(), ConnectorError> {
        let path = format!("{MESSAGES_PATH}/{}", http::path_segment(msg_id));
        let call = Call::new(SYSTEM, Method::DELETE, &path).deadline(deadline);
        match self.authed(&call, &path).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /hr/v2/workers/{aoid}`: the worker's business email, termination date and status.
    pub async fn worker(
        &self,
        aoid: &str,
        deadline: Option<Instant>,
    ) -> Result<Worker, ConnectorError> {
        let path = format!("/hr/v2/workers/{}", http::path_segment(aoid));
        let call = Call::new(SYSTEM, Method::GET, &path).deadline(deadline);
        let resp = self.authed(&call, &path).await?;
        let body: serde_json::Value = http::read_json(&call, resp).await?;
        Worker::from_response(aoid, &body).map_err(|e| ConnectorError::invalid(SYSTEM, e))
    }

    /// Send an API call with the bearer token; on a 401 the token is dropped and the call is
    /// made once more with a new one.
    async fn authed(&self, call: &Call, path: &str) -> Result<reqwest::Response, ConnectorError> {
        let url = http::join(&self.api_base, path)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))?;
        let mut refreshed = false;
        loop {
            let token = self.token(call.deadline).await?;
            let result = self
                .send(call, |c| {
                    c.request(call.method.clone(), url.clone())
                        .bearer_auth(token.expose_secret())
                        .header(ACCEPT, "application/json")
                })
                .await;
            match result {
                Err(e) if e.status() == Some(401) && !refreshed => {
                    refreshed = true;
                    self.forget_token().await;
                }
                other => return other,
            }
        }
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// A valid bearer token: the cached one until 60 s before it expires, else a new one.
    async fn token(&self, deadline: Option<Instant>) -> Result<SecretString, ConnectorError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref()
            && Instant::now() < t.valid_until
        {
            return Ok(t.value.clone());
        }
        let (value, lifetime) = self.request_token(deadline).await?;
        *slot = Some(CachedToken::new(value.clone(), lifetime, Instant::now()));
        Ok(value)
    }

    /// `POST <token_url>` with the client id and secret as HTTP Basic credentials and one form
    /// field, `grant_type=client_credentials`, and nothing else: ADP's gateway answers
    /// `400 invalid_request: Missing or duplicate parameters` to a repeated parameter or to a
    /// client that authenticates twice (Basic and form fields), and ADP's own connection
    /// libraries send exactly this (<https://github.com/adplabs/adp-connection-python>).
    async fn request_token(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(SecretString, Duration), ConnectorError> {
        let url = self.token_url.clone();
        // Asking for a token changes nothing on the server: safe to repeat.
        let call = Call::new(SYSTEM, Method::POST, self.token_url.path())
            .idempotent(true)
            .deadline(deadline);
        let secret = self.client_secret.expose_secret();
        let form = [("grant_type", "client_credentials")];
        let resp = self
            .send(&call, |c| {
                c.post(url.clone())
                    .basic_auth(&self.client_id, Some(secret))
                    .header(ACCEPT, "application/json")
                    .form(&form)
            })
            .await?;
        let bytes = http::read_body(&call, resp).await?;
        token_answer(&call, &bytes)
    }

    /// Execute with the shared retry layer, and make certificate problems read as such:
    /// - a TLS failure is examined once more outside the retry layer (whose error keeps only
    ///   the kind), so a refused client certificate reads "ADP refused the client certificate";
    /// - an HTTP error whose message is about the certificate (ADP answers `invalid_request:
    ///   proper client ssl certificate was not presented` when none was sent) reads the same.
    async fn send<B>(&self, call: &Call, build: B) -> Result<reqwest::Response, ConnectorError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        match self.http.execute(call, &build, error_message).await {
            Ok(resp) => Ok(resp),
            Err(e @ HttpError::Transport { .. }) => match build(&self.http.client).send().await {
                Ok(resp) if resp.status().as_u16() < 400 => Ok(resp),
                Ok(_) => Err(e.into()),
                Err(raw) => Err(match tls_problem(&raw) {
                    Some(message) => ConnectorError::invalid(SYSTEM, message),
                    None => e.into(),
                }),
            },
            Err(HttpError::Status {
                message: Some(m), ..
            }) if m.to_ascii_lowercase().contains("certificate") => Err(ConnectorError::invalid(
                SYSTEM,
                format!(
                    "ADP refused the client certificate ({m}); check that the certificate and key are the ones ADP issued for this client"
                ),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// Read a TLS failure from a transport error's chain (rustls's alert and verifier texts).
fn tls_problem(e: &reqwest::Error) -> Option<String> {
    let mut text = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        text.push_str(&s.to_string().to_ascii_lowercase());
        text.push(' ');
        source = s.source();
    }
    let alert = text.contains("alert");
    let about_client_cert = [
        "certificaterequired",
        "certificate required",
        "badcertificate",
        "bad certificate",
        "unknownca",
        "unknown ca",
        "certificateunknown",
        "certificate unknown",
        "certificateexpired",
        "certificate expired",
        "certificaterevoked",
        "accessdenied",
        "handshakefailure",
        "handshake failure",
    ]
    .iter()
    .any(|w| text.contains(w));
    if alert && about_client_cert {
        return Some(
            "ADP refused the client certificate (the TLS handshake was rejected); check that the certificate and key are the ones ADP issued for this client and that the certificate has not expired".to_string(),
        );
    }
    if text.contains("invalid peer certificate") {
        return Some(
            "the ADP server's certificate is not trusted (TLS verification failed); check the API and token URLs".to_string(),
        );
    }
    None
}

/// ADP's error bodies: OAuth `{"error","error_description"}` on the token endpoint;
/// `{"confirmMessage":{"processMessages":[{"userMessage":{"messageTxt"}}]}}` or
/// `{"response":{"applicationCode":{"message"}}}` on the APIs.
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        match v.get("error_description").and_then(|d| d.as_str()) {
            Some(d) => format!("{err}: {d}"),
            None => err.to_string(),
        }
    } else {
        v.pointer("/confirmMessage/processMessages/0/userMessage/messageTxt")
            .or_else(|| v.pointer("/response/applicationCode/message"))
            .and_then(|m| m.as_str())?
            .to_string()
    };
    Some(
        text.chars()
            .take(200)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}
