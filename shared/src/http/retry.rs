//! One logical call ([`Call`]), the retry policy, `Retry-After`, and the client that executes
//! calls with both and the pacer ([`Http`]).

use super::*;

/// Describes one logical call, for retries and error messages.
#[derive(Debug, Clone)]
pub struct Call {
    pub system: &'static str,
    pub method: Method,
    /// The URL path without the query string (for messages).
    pub path: String,
    /// Safe to repeat: GET, PUT of a fixed state, DELETE.
    pub idempotent: bool,
    /// No wait sleeps past this instant.
    pub deadline: Option<Instant>,
}

impl Call {
    pub fn new(system: &'static str, method: Method, path: impl Into<String>) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let mut path: String = path.into();
        if let Some(i) = path.find('?') {
            path.truncate(i);
        }
        Call {
            system,
            method,
            path,
            idempotent,
            deadline: None,
        }
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub fn deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }
}

/// Retry policy.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(200),
            max_wait: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// Full-jitter exponential backoff for attempt `n` (0-based).
    pub fn backoff(&self, n: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32 << n.min(16))
            .min(self.max_wait);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(rand::random_range(ms / 2..=ms.max(1)))
    }
}

/// The wait a 429/503 response asks for: `Retry-After` (seconds or HTTP date), else Okta's
/// `X-Rate-Limit-Reset` (epoch seconds) measured against the response's `Date`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(v) = get("retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    if let Some(reset) = get("x-rate-limit-reset").and_then(|v| v.parse::<u64>().ok()) {
        let server_now = get("date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .unwrap_or(now);
        let reset_at = SystemTime::UNIX_EPOCH + Duration::from_secs(reset);
        return Some(
            reset_at
                .duration_since(server_now)
                .unwrap_or(Duration::ZERO)
                + Duration::from_secs(1),
        );
    }
    None
}

/// A client for one system with the retry policy and the pacer.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub retry: RetryPolicy,
    pub pacer: Arc<Pacer>,
}

impl Http {
    pub fn new(client: reqwest::Client) -> Self {
        Http {
            client,
            retry: RetryPolicy::default(),
            pacer: Arc::new(Pacer::default()),
        }
    }

    /// Send a request built by `build` (called once per attempt), retrying as the module doc
    /// says. Answers any response below 400 (the caller reads it), and turns ≥ 400 into
    /// [`HttpError::Status`] with the message `error_message` extracts from the body.
    pub async fn execute<B, E>(
        &self,
        call: &Call,
        build: B,
        error_message: E,
    ) -> Result<reqwest::Response, HttpError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        E: Fn(&[u8]) -> Option<String>,
    {
        let mut attempt = 0u32;
        loop {
            if !self.pacer.acquire(call.deadline).await {
                return Err(HttpError::Status {
                    system: call.system,
                    method: call.method.to_string(),
                    path: call.path.clone(),
                    status: 429,
                    message: Some(
                        "rate limited: the next allowed request is past the deadline".into(),
                    ),
                    retry_after: None,
                });
            }
            let result = build(&self.client).send().await;
            if let Ok(resp) = &result {
                let hinted = retry_after(resp.headers(), SystemTime::now());
                self.pacer
                    .observe(resp.status().as_u16(), resp.headers(), hinted);
            }
            let (err, wait) = match result {
                Ok(resp) if resp.status().as_u16() < 400 => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let hinted = retry_after(resp.headers(), SystemTime::now());
                    let body = resp.bytes().await.unwrap_or_default();
                    let err = HttpError::Status {
                        system: call.system,
                        method: call.method.to_string(),
                        path: call.path.clone(),
                        status: status.as_u16(),
                        message: error_message(&body),
                        retry_after: hinted,
                    };
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || (call.idempotent && status.is_server_error());
                    if !retryable {
                        return Err(err);
                    }
                    let wait = hinted.unwrap_or_else(|| self.retry.backoff(attempt));
                    (err, wait)
                }
                Err(e) => {
                    let err = transport_error(call, &e);
                    let retryable = match &err {
                        HttpError::Transport { kind, .. } => {
                            call.idempotent || *kind == TransportKind::Connect
                        }
                        _ => false,
                    };
                    if !retryable {
                        return Err(err);
                    }
                    (err, self.retry.backoff(attempt))
                }
            };
            attempt += 1;
            if attempt >= self.retry.max_attempts || wait > self.retry.max_wait {
                return Err(err);
            }
            if let Some(deadline) = call.deadline
                && Instant::now() + wait >= deadline
            {
                return Err(err);
            }
            tracing::debug!(system = call.system, method = %call.method, path = %call.path, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

pub(crate) fn transport_error(call: &Call, e: &reqwest::Error) -> HttpError {
    // A refusal by the guarded resolver or the redirect policy is a policy error, not a fault.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<ResolveError>()
            .is_some_and(|r| matches!(r, ResolveError::Forbidden(_)))
        {
            return HttpError::Blocked {
                system: call.system,
                method: call.method.to_string(),
                path: call.path.clone(),
                reason: UrlError::PrivateAddress,
            };
        }
        if let Some(u) = s.downcast_ref::<UrlError>() {
            return HttpError::Blocked {
                system: call.system,
                method: call.method.to_string(),
                path: call.path.clone(),
                reason: u.clone(),
            };
        }
        source = s.source();
    }
    let kind = if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Broken
    };
    HttpError::Transport {
        system: call.system,
        method: call.method.to_string(),
        path: call.path.clone(),
        kind,
    }
}

/// Read a JSON body, or a [`HttpError::Decode`] naming the call.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    call: &Call,
    resp: reqwest::Response,
) -> Result<T, HttpError> {
    let bytes = resp.bytes().await.map_err(|e| transport_error(call, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| HttpError::decode(call, e.to_string()))
}
