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
    /// Six attempts, backing off from 200 ms: the five waits of a call that keeps failing
    /// without a `Retry-After` add up to 3–6 s (as the vendors' SDKs back off over seconds,
    /// not within one). A wait the server asks for that is longer than `max_wait` is still
    /// waited when the caller's deadline allows it.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
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

/// The wait a response asks for: `Retry-After` (seconds or HTTP date), else, on a 429 only,
/// Okta's `X-Rate-Limit-Reset` (epoch seconds) measured against the response's `Date`. Okta
/// sends its rate-limit headers on every answer: on a 5xx the reset says when the rate window
/// ends, not when to try again, so a 5xx without `Retry-After` backs off instead.
pub fn retry_after(status: u16, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
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
    if status != 429 {
        return None;
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

/// Whether a 429 is for a limit narrower than the client's whole budget (one resource's),
/// from the answer's headers. The vendor's connector says how its service marks those.
pub type ScopedLimit = fn(&HeaderMap) -> bool;

/// The rate-limit family of a call (method and path): calls of one family share a pacer.
/// For a service that limits each endpoint on its own (Jira's burst limits are per endpoint
/// and method, Okta's per endpoint group), a 429 on one then slows only that one.
pub type Family = fn(&Method, &str) -> String;

/// A client for one system with the retry policy and the pacer.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    /// Lifts the outbound-address rules for a URL whose host is an IP literal (tests, the
    /// sandbox); names are checked by the client's resolver ([`build_client`]).
    allow_private: bool,
    pub retry: RetryPolicy,
    pub pacer: Arc<Pacer>,
    /// Tells a 429 for one resource (e.g. writes to one Jira issue) from one for the client:
    /// such a 429 neither slows nor holds the client, only later calls to the same path wait
    /// its `Retry-After`.
    pub scoped_limit: Option<ScopedLimit>,
    /// Paths held by a scoped 429, until when.
    held_paths: Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>,
    /// The vendor's rate-limit families; `None`: one pacer ([`Http::pacer`]) for every call.
    family: Option<Family>,
    /// The pacer of each family seen.
    family_pacers: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<Pacer>>>>,
    /// The most one attempt may take (the client's total timeout); an attempt of a call with
    /// a deadline takes at most what is left of it.
    attempt_timeout: Duration,
}

impl Http {
    /// A client over `client` that refuses every request to a forbidden IP-literal host (see
    /// [`Http::allow_private`]).
    pub fn new(client: reqwest::Client) -> Self {
        Http {
            client,
            allow_private: false,
            retry: RetryPolicy::default(),
            pacer: Arc::new(Pacer::default()),
            scoped_limit: None,
            held_paths: Arc::default(),
            family: None,
            family_pacers: Arc::default(),
            attempt_timeout: ClientOptions::new(false).timeout,
        }
    }

    /// A guarded client ([`build_client`]) with `opts`' address rules for IP literals too.
    pub fn guarded(opts: &ClientOptions) -> Result<Self, HttpError> {
        let mut http = Http::new(build_client(opts)?).allow_private(opts.allow_private);
        http.attempt_timeout = opts.timeout;
        Ok(http)
    }

    /// The same client, sending to private IP-literal hosts too when `yes`
    /// (`RISKFLOW_ALLOW_PRIVATE_URLS`).
    pub fn allow_private(mut self, yes: bool) -> Self {
        self.allow_private = yes;
        self
    }

    /// The request `rb` builds, once its URL passed the outbound-address rules: a stored URL
    /// whose host is an IP literal never meets the resolver, so it is checked here, on every
    /// request, and not only when it was saved.
    fn checked(
        &self,
        call: &Call,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::Request, HttpError> {
        let mut req = rb.build().map_err(|e| transport_error(call, &e))?;
        check_address(req.url(), self.allow_private).map_err(|reason| HttpError::Blocked {
            system: call.system,
            method: call.method.to_string(),
            path: call.path.clone(),
            reason,
        })?;
        // One attempt never outlives the caller's deadline (a work item's lease, a webhook's
        // answer budget): its timeout is what is left of it, within the client's own.
        if let Some(deadline) = call.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(HttpError::Transport {
                    system: call.system,
                    method: call.method.to_string(),
                    path: call.path.clone(),
                    kind: TransportKind::Timeout,
                });
            }
            let own = req.timeout().copied().unwrap_or(self.attempt_timeout);
            *req.timeout_mut() = Some(own.min(left));
        }
        Ok(req)
    }

    /// Send one request once, with no retry or pacing (a call with its own protocol, such as
    /// Okta's token request with its DPoP nonce), under the same address rules as
    /// [`Http::execute`].
    pub async fn send_once(
        &self,
        call: &Call,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, HttpError> {
        let req = self.checked(call, rb)?;
        self.client
            .execute(req)
            .await
            .map_err(|e| transport_error(call, &e))
    }

    /// The same client, pacing each rate-limit family of calls on its own.
    pub fn with_families(mut self, family: Family) -> Self {
        self.family = Some(family);
        self
    }

    /// The pacer a call with `method` and `path` goes through.
    pub fn pacer_for(&self, method: &Method, path: &str) -> Arc<Pacer> {
        let Some(family) = self.family else {
            return self.pacer.clone();
        };
        let key = family(method, path);
        match self.family_pacers.lock() {
            Ok(mut all) => all.entry(key).or_default().clone(),
            Err(_) => self.pacer.clone(),
        }
    }

    /// The same client, telling scoped 429s apart with `scoped`.
    pub fn with_scoped_limit(mut self, scoped: ScopedLimit) -> Self {
        self.scoped_limit = Some(scoped);
        self
    }

    /// When a scoped 429 on `path` lets the next call to it go (expired holds are dropped).
    fn path_hold(&self, path: &str, now: Instant) -> Option<Instant> {
        let mut held = self.held_paths.lock().ok()?;
        held.retain(|_, until| *until > now);
        held.get(path).copied()
    }

    fn hold_path(&self, path: &str, until: Instant) {
        if let Ok(mut held) = self.held_paths.lock() {
            let at = held.entry(path.to_string()).or_insert(until);
            *at = (*at).max(until);
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
        let pacer = self.pacer_for(&call.method, &call.path);
        let mut attempt = 0u32;
        loop {
            if let Some(until) = self.path_hold(&call.path, Instant::now()) {
                if call.deadline.is_some_and(|d| until >= d) {
                    return Err(HttpError::Status {
                        system: call.system,
                        method: call.method.to_string(),
                        path: call.path.clone(),
                        status: 429,
                        message: Some("rate limited on this resource past the deadline".into()),
                        retry_after: Some(until.saturating_duration_since(Instant::now())),
                    });
                }
                super::slot::sleep_released(tokio::time::Instant::from_std(until)).await;
            }
            if !pacer.acquire(call.deadline).await {
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
            let result = self
                .client
                .execute(self.checked(call, build(&self.client))?)
                .await;
            if let Ok(resp) = &result {
                let status = resp.status().as_u16();
                let hinted = retry_after(status, resp.headers(), SystemTime::now());
                let scoped = status == 429 && self.scoped_limit.is_some_and(|f| f(resp.headers()));
                if scoped {
                    let wait = hinted.unwrap_or_else(|| self.retry.backoff(attempt));
                    self.hold_path(&call.path, Instant::now() + wait);
                } else {
                    pacer.observe(status, resp.headers(), hinted);
                }
            }
            let (err, wait) = match result {
                Ok(resp) if resp.status().as_u16() < 400 => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let hinted = retry_after(status.as_u16(), resp.headers(), SystemTime::now());
                    let body = read_error_body(resp).await;
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
            // A wait longer than `max_wait` is waited only within a deadline that allows it.
            if attempt >= self.retry.max_attempts
                || (wait > self.retry.max_wait && call.deadline.is_none())
            {
                return Err(err);
            }
            if let Some(deadline) = call.deadline
                && Instant::now() + wait >= deadline
            {
                return Err(err);
            }
            tracing::debug!(system = call.system, method = %call.method, path = %call.path, attempt, wait_ms = wait.as_millis() as u64, "retrying");
            super::slot::sleep_released(tokio::time::Instant::now() + wait).await;
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
