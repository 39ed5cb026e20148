//! The one outbound HTTP layer every connector uses.
//!
//! - [`build_client`]: one `reqwest` client per connection with connect and total timeouts, the
//!   `riskflow/<version>` user agent, proxies from the environment ignored, and the
//!   outbound-address guard installed as its DNS resolver ([`GuardedResolver`]), so every
//!   connection (first request, redirect hop, retry) is checked after resolution and DNS
//!   rebinding gains nothing.
//! - [`Http::execute`]: retries with jittered exponential backoff. Idempotent requests are
//!   retried on connection errors and 5xx; any request is retried on 429 (the server did not act)
//!   and on a failure to connect (nothing was sent). A request that creates something is never
//!   retried after it may have reached the server: the caller decides, using the state store.
//!   Waits honour `Retry-After` (seconds or HTTP date) and Okta's `X-Rate-Limit-Reset` (epoch
//!   seconds, against the response's `Date`), fall back to backoff when neither is present, and
//!   never sleep past the caller's deadline.
//! - [`check_user_url`], [`path_segment`], [`same_origin`], [`join`]: URL rules for what users
//!   and servers give us.
//!
//! `RISKFLOW_ALLOW_PRIVATE_URLS=true` (tests, the sandbox, `riskflow dev --sandbox`) lifts the
//! address rules and allows `http://`.

use futures::future::BoxFuture;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// `riskflow/<version>`.
pub const USER_AGENT: &str = concat!("riskflow/", env!("CARGO_PKG_VERSION"));

// ---------------------------------------------------------------------------------------------
// Outbound-address rules

/// Why an address or URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("URL not allowed: {0} is not a valid URL")]
    Invalid(String),
    #[error("URL not allowed: only https:// URLs are accepted")]
    NotHttps,
    #[error("URL not allowed: credentials in the URL are not accepted")]
    HasCredentials,
    #[error("URL not allowed: it has no host")]
    NoHost,
    #[error("URL not allowed: it resolves to a private address")]
    PrivateAddress,
    #[error("URL not allowed: {0} could not be resolved")]
    Unresolvable(String),
}

/// Whether an address is one the flows must never connect to: loopback, private, link-local
/// (incl. 169.254.169.254), CGNAT, unique-local, unspecified, multicast, broadcast, reserved,
/// documentation ranges, and IPv4-mapped / NAT64 / 6to4 forms of these.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // 0.0.0.0/8 "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 CGNAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] >= 240 // 240.0.0.0/4 reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let seg = ip.segments();
    // IPv4-compatible (deprecated) ::a.b.c.d
    if seg[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return forbidden_v4(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ));
    }
    // NAT64 64:ff9b::/96 embeds an IPv4 address
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        ));
    }
    // 6to4 2002::/16 embeds an IPv4 address in segments 1-2
    if seg[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        ));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (seg[0] & 0xffc0) == 0xfe80 // fe80::/10 link local
        || (seg[0] & 0xffc0) == 0xfec0 // fec0::/10 site local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
}

/// Check a URL a user gave: https only, no credentials in it, a host, and an IP-literal host
/// must not be forbidden. Names are checked when they are resolved ([`GuardedResolver`]).
pub fn check_user_url(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = Url::parse(raw.trim()).map_err(|_| UrlError::Invalid(raw.trim().to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(UrlError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::HasCredentials);
    }
    match url.host() {
        None => return Err(UrlError::NoHost),
        Some(url::Host::Ipv4(ip)) if !allow_private && is_forbidden(IpAddr::V4(ip)) => {
            return Err(UrlError::PrivateAddress);
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && is_forbidden(IpAddr::V6(ip)) => {
            return Err(UrlError::PrivateAddress);
        }
        _ => {}
    }
    Ok(url)
}

/// Resolve a URL's host now and refuse it when any address is forbidden. Used by the connect
/// route so the user reads a precise message before anything is sent.
pub async fn check_resolves(url: &Url, allow_private: bool) -> Result<(), UrlError> {
    if allow_private {
        return Ok(());
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(_) => return Ok(()), // IP literals were checked by check_user_url
        None => return Err(UrlError::NoHost),
    };
    let resolver = GuardedResolver::new(false);
    resolver
        .lookup(&host)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            ResolveError::Forbidden(_) => UrlError::PrivateAddress,
            ResolveError::Lookup(_) => UrlError::Unresolvable(host),
        })
}

/// Percent-encode user data for one URL path segment (everything but unreserved characters
/// and `@`, which RFC 3986 allows in a segment and Incydr expects as-is in actor names).
pub fn path_segment(s: &str) -> String {
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@');
    let encoded = utf8_percent_encode(s, SEGMENT).to_string();
    // "." and ".." are legal characters but would be path navigation as whole segments.
    match encoded.as_str() {
        "." => "%2E".to_string(),
        ".." => "%2E%2E".to_string(),
        _ => encoded,
    }
}

/// Whether a link a server returned (a next-page link) stays on the connection's origin.
pub fn same_origin(base: &Url, link: &Url) -> bool {
    base.scheme() == link.scheme()
        && base.host_str() == link.host_str()
        && base.port_or_known_default() == link.port_or_known_default()
}

/// Join a base URL (which may carry a path prefix, e.g. `http://127.0.0.1:9/jira`) and an
/// absolute API path (`/rest/api/3/myself`, possibly with a query string).
pub fn join(base: &Url, path_and_query: &str) -> Result<Url, UrlError> {
    let joined = format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        path_and_query.trim_start_matches('/')
    );
    Url::parse(&joined).map_err(|_| UrlError::Invalid(joined))
}

/// Errors of the guarded resolver.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0} resolves to a forbidden address")]
    Forbidden(String),
    #[error("could not resolve {0}")]
    Lookup(String),
}

type LookupFn =
    Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

/// DNS resolver that refuses every name with a forbidden address among its answers.
#[derive(Clone)]
pub struct GuardedResolver {
    allow_private: bool,
    lookup: LookupFn,
}

impl GuardedResolver {
    /// The system resolver, guarded (unless `allow_private`).
    pub fn new(allow_private: bool) -> Self {
        let lookup: LookupFn = Arc::new(|host: String| {
            Box::pin(async move {
                let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(addrs.map(|a| a.ip()).collect())
            })
        });
        GuardedResolver {
            allow_private,
            lookup,
        }
    }

    /// A guarded resolver over another lookup function (tests simulate DNS rebinding with it).
    pub fn with_lookup(allow_private: bool, lookup: LookupFn) -> Self {
        GuardedResolver {
            allow_private,
            lookup,
        }
    }

    /// Resolve and check.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let ips = (self.lookup)(host.to_string())
            .await
            .map_err(|_| ResolveError::Lookup(host.to_string()))?;
        if ips.is_empty() {
            return Err(ResolveError::Lookup(host.to_string()));
        }
        if !self.allow_private && ips.iter().any(|ip| is_forbidden(*ip)) {
            return Err(ResolveError::Forbidden(host.to_string()));
        }
        Ok(ips)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = this.lookup(&host).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// Options for one connection's client.
#[derive(Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// Total time for one attempt (connect + request + response body).
    pub timeout: Duration,
    pub allow_private: bool,
    /// PEM client certificate and key, for mutual TLS (ADP).
    pub identity_pem: Option<Vec<u8>>,
    /// Extra PEM root certificates to trust (the sandbox's CA in tests).
    pub extra_root_pem: Option<Vec<u8>>,
}

impl ClientOptions {
    pub fn new(allow_private: bool) -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            allow_private,
            identity_pem: None,
            extra_root_pem: None,
        }
    }
}

/// Build a guarded client.
pub fn build_client(opts: &ClientOptions) -> Result<reqwest::Client, HttpError> {
    let allow_private = opts.allow_private;
    let redirect = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.error("too many redirects");
        }
        // Names are checked by the resolver on connect; here: scheme and IP literals.
        match check_user_url(attempt.url().as_str(), allow_private) {
            Ok(_) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    });
    let mut b = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        .timeout(opts.timeout)
        .no_proxy()
        .redirect(redirect)
        .dns_resolver(GuardedResolver::new(opts.allow_private));
    if let Some(pem) = &opts.identity_pem {
        let id = reqwest::Identity::from_pem(pem).map_err(|_| HttpError::Config {
            detail: "the client certificate or key is not valid PEM".into(),
        })?;
        b = b.identity(id);
    }
    if let Some(pem) = &opts.extra_root_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|_| HttpError::Config {
            detail: "the extra root certificate is not valid PEM".into(),
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| HttpError::Config {
        detail: format!("cannot build HTTP client: {e}"),
    })
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An outbound call failed. Carries the system, method, path and status; never a secret, a
/// query string or a response body (only a message the connector extracted from a known error
/// envelope).
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{system} answered {status} to {method} {path}{}", fmt_msg(.message))]
    Status {
        system: &'static str,
        method: String,
        path: String,
        status: u16,
        message: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("{system} {method} {path}: {kind}")]
    Transport {
        system: &'static str,
        method: String,
        path: String,
        kind: TransportKind,
    },
    #[error("{system} {method} {path}: {reason}")]
    Blocked {
        system: &'static str,
        method: String,
        path: String,
        reason: UrlError,
    },
    #[error("{system} {method} {path}: unexpected response: {detail}")]
    Decode {
        system: &'static str,
        method: String,
        path: String,
        detail: String,
    },
    #[error("{detail}")]
    Config { detail: String },
}

fn fmt_msg(m: &Option<String>) -> String {
    m.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportKind {
    #[error("could not connect")]
    Connect,
    #[error("timed out")]
    Timeout,
    /// The connection broke after the request may have been sent.
    #[error("connection failed during the request")]
    Broken,
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the same call may succeed later (5xx, 429, transport). 4xx other than 429 are final.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Transport { .. } => true,
            _ => false,
        }
    }

    /// Whether a creating request may have been acted on by the server (its answer was lost).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status >= 500,
            HttpError::Transport { kind, .. } => *kind != TransportKind::Connect,
            HttpError::Decode { .. } => true,
            _ => false,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// A decode error for a call.
    pub fn decode(call: &Call, detail: impl Into<String>) -> Self {
        HttpError::Decode {
            system: call.system,
            method: call.method.to_string(),
            path: call.path.clone(),
            detail: detail.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Calls and retries

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

/// Paces the starts of one client's requests to the rate the server allows, so that a run
/// uses its whole budget without being answered 429. Shared by every task using the client,
/// so concurrency adapts as a whole (the flows' `concurrency` setting is only a ceiling).
///
/// - A server that states a window (`X-Rate-Limit-Reset` on Okta, `X-RateLimit-Reset` epoch
///   seconds on ServiceNow): near the end of the budget (remaining below 20 % of the limit) the
///   remaining requests are spread over the rest of the window.
/// - A token bucket without a window (Jira's burst limits: `X-RateLimit-Limit` and
///   `X-RateLimit-Remaining` only): the limit is first taken as a per-second rate, then the
///   rate is steered so that about half of the bucket stays in reserve: below half it slows,
///   above half it speeds up, in proportion to the gap. A bucket that neither empties nor
///   fills means every token the server adds is used. A lower limit than before (the server
///   tightened it) is adopted at once.
/// - A 429 cuts the rate by a quarter, once per second however many answers in flight come
///   back 429; the request answered 429 waits its `Retry-After`, and a `Retry-After` of two
///   seconds or more holds every request of the client until then.
/// - Answers without rate-limit headers let the rate grow back, and pacing stops once the
///   rate is well above what the client sends.
#[derive(Debug, Default)]
pub struct Pacer {
    state: std::sync::Mutex<PaceState>,
}

#[derive(Debug)]
struct PaceState {
    /// Earliest start of the next request.
    next: Option<Instant>,
    /// No request starts before this (a 429's `Retry-After`).
    hold_until: Option<Instant>,
    /// Requests per second; `None` = not paced.
    rate: Option<f64>,
    /// The last `X-RateLimit-Limit` seen.
    limit: Option<f64>,
    /// Proportional part of the steering: the paced rate is `rate × lean`, where `lean`
    /// follows how full the bucket was at the last answer (1 without a token bucket).
    lean: f64,
    /// The token bucket's measured refill rate (tokens per second).
    refill: Option<f64>,
    /// The start of the current refill measurement: when, and the tokens remaining then.
    probe: Option<(Instant, f64)>,
    /// Requests accepted since `probe`.
    spent: u32,
    last_cut: Option<Instant>,
    /// Requests started since `window_start`, to measure the rate actually sent.
    window_start: Option<Instant>,
    window_count: u32,
    sent_rate: f64,
}

impl Default for PaceState {
    fn default() -> Self {
        PaceState {
            next: None,
            hold_until: None,
            rate: None,
            limit: None,
            lean: 1.0,
            refill: None,
            probe: None,
            spent: 0,
            last_cut: None,
            window_start: None,
            window_count: 0,
            sent_rate: 0.0,
        }
    }
}

/// Lowest paced rate (one request per 5 s).
const MIN_RATE: f64 = 0.2;
/// A 429 whose `Retry-After` is at least this long holds every request of the client, not
/// only the one answered (shorter waits are the rate cut's job: a sporadic 429 must not stall
/// every request in flight).
const HOLD_ALL_FROM: Duration = Duration::from_secs(2);
/// Steering gain per answer (integral part): at an empty bucket the rate falls by 1 % per
/// answer.
const STEER: f64 = 0.01;
/// Proportional part: an empty bucket paces at 78 % of the rate, a full one at 128 %; it damps
/// the swing the integral part alone would keep up.
const LEAN: f64 = 0.5;

fn header_f64(h: &HeaderMap, names: &[&str]) -> Option<f64> {
    names
        .iter()
        .find_map(|n| h.get(*n))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// What a response says about the rate limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateSignal {
    pub status: u16,
    pub limit: Option<f64>,
    pub remaining: Option<f64>,
    /// Seconds until the server's window resets, when it states one.
    pub window: Option<f64>,
    pub retry_after: Option<Duration>,
}

impl RateSignal {
    pub fn from_response(status: u16, headers: &HeaderMap, retry_after: Option<Duration>) -> Self {
        let now_s = crate::clock::now_ms() as f64 / 1000.0;
        RateSignal {
            status,
            limit: header_f64(headers, &["x-ratelimit-limit", "x-rate-limit-limit"]),
            remaining: header_f64(
                headers,
                &["x-ratelimit-remaining", "x-rate-limit-remaining"],
            ),
            // Epoch seconds (Okta, ServiceNow); Jira's ISO time does not parse as a number.
            window: header_f64(headers, &["x-rate-limit-reset", "x-ratelimit-reset"])
                .map(|reset| reset - now_s)
                .filter(|w| *w > 0.0 && *w < 3600.0),
            retry_after,
        }
    }
}

impl Pacer {
    /// The current paced rate in requests per second (`None` = not paced).
    pub fn rate(&self) -> Option<f64> {
        self.state.lock().ok().and_then(|s| s.rate)
    }

    /// Wait for this request's turn. `false` when the turn comes after `deadline`.
    pub async fn acquire(&self, deadline: Option<Instant>) -> bool {
        let Some(slot) = self.reserve(Instant::now(), deadline) else {
            return false;
        };
        tokio::time::sleep_until(tokio::time::Instant::from_std(slot)).await;
        true
    }

    /// Take the next start slot at or after `now`; `None` when it falls at or after `deadline`.
    pub fn reserve(&self, now: Instant, deadline: Option<Instant>) -> Option<Instant> {
        let Ok(mut s) = self.state.lock() else {
            return Some(now);
        };
        let slot = [s.next, s.hold_until]
            .into_iter()
            .flatten()
            .fold(now, Instant::max);
        if deadline.is_some_and(|d| slot >= d) {
            return None;
        }
        s.next = Some(match s.rate {
            Some(r) => slot + Duration::from_secs_f64(1.0 / (r * s.lean)),
            None => slot,
        });
        // Measure the rate actually sent, over half-second windows.
        let start = *s.window_start.get_or_insert(now);
        s.window_count += 1;
        let span = now.saturating_duration_since(start).as_secs_f64();
        if span >= 0.5 {
            s.sent_rate = s.window_count as f64 / span;
            s.window_start = Some(now);
            s.window_count = 0;
        }
        Some(slot)
    }

    /// Learn from a response's status and rate-limit headers.
    pub fn observe(&self, status: u16, headers: &HeaderMap, retry_after: Option<Duration>) {
        self.observe_at(
            Instant::now(),
            RateSignal::from_response(status, headers, retry_after),
        );
    }

    /// [`Pacer::observe`] at a given time (simulations).
    pub fn observe_at(&self, now: Instant, sig: RateSignal) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let limit = sig.limit.filter(|l| *l > 0.0);
        // A tighter limit than before is adopted at once (as a per-second rate when the
        // server states no window).
        let tightened = matches!((limit, s.limit), (Some(l), Some(prev)) if l < prev * 0.9)
            && sig.window.is_none();
        if limit.is_some() {
            s.limit = limit;
        }
        if tightened && let Some(l) = limit {
            s.rate = Some(s.rate.map_or(l, |r| r.min(l)));
            s.refill = s.refill.map(|e| e.min(l));
            s.probe = None;
            s.lean = 1.0;
            if sig.status != 429 {
                return;
            }
        }
        // What the client sends (unknown until the first half-second has passed).
        let sent = if s.sent_rate > 0.0 {
            s.sent_rate
        } else {
            f64::INFINITY
        };
        if sig.status == 429 {
            // The request itself waits its Retry-After (the retry loop); a long wait means the
            // budget is gone for that long, so every request waits with it.
            if let Some(wait) = sig.retry_after.filter(|w| *w >= HOLD_ALL_FROM) {
                let until = now + wait.min(MAX_HOLD);
                s.hold_until = Some(s.hold_until.map_or(until, |h| h.max(until)));
            }
            s.lean = (LEAN * -0.5).exp();
            if s.last_cut
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
            {
                let base = s.rate.unwrap_or(sent).min(sent);
                let base = if base.is_finite() {
                    base
                } else {
                    s.limit.unwrap_or(10.0)
                };
                s.rate = Some((base * 0.75).max(MIN_RATE));
                s.refill = s.refill.map(|e| (e * 0.85).max(MIN_RATE));
                s.last_cut = Some(now);
            }
            return;
        }
        match (limit, sig.remaining) {
            (Some(l), Some(r)) => {
                let f = (r / l).clamp(0.0, 1.0);
                if let Some(window) = sig.window {
                    s.lean = 1.0;
                    if f < 0.2 {
                        s.rate = Some((r.max(1.0) / window).max(MIN_RATE));
                    } else if f > 0.5 {
                        s.rate = s.rate.map(|x| x * 1.1);
                    }
                } else {
                    s.lean = (LEAN * (f - 0.5)).exp();
                    // Measure the refill rate: tokens gained over at least a second, counting
                    // each accepted request as one token spent, while the bucket is not near
                    // full (a full bucket stops refilling).
                    s.spent += 1;
                    match s.probe {
                        None => {
                            s.probe = Some((now, r));
                            s.spent = 0;
                        }
                        Some((t1, r1)) => {
                            let dt = now.saturating_duration_since(t1).as_secs_f64();
                            if dt >= 1.0 {
                                if r.max(r1) < 0.9 * l {
                                    let sample = ((r - r1 + s.spent as f64) / dt).max(MIN_RATE);
                                    s.refill =
                                        Some(s.refill.map_or(sample, |e| 0.6 * e + 0.4 * sample));
                                }
                                s.probe = Some((now, r));
                                s.spent = 0;
                            }
                        }
                    }
                    match (s.refill, s.rate) {
                        (Some(refill), _) => s.rate = Some(refill.max(MIN_RATE)),
                        // Until measured: unpaced until half the bucket is gone, then the
                        // limit as a per-second rate (or what is sent, if lower), steered.
                        (None, None) if f < 0.5 => s.rate = Some(l.min(sent).max(MIN_RATE)),
                        (None, None) => {}
                        (None, Some(x)) => {
                            let steered = x * (STEER * (f - 0.5)).exp();
                            // Never far above what is sent: a bucket that fills while the
                            // client has nothing to send says nothing about the server's rate.
                            let ceiling = if sent.is_finite() { sent * 1.25 } else { l };
                            s.rate = Some(steered.min(ceiling.max(x)).max(MIN_RATE));
                        }
                    }
                }
            }
            // No rate-limit headers: grow back.
            _ => s.rate = s.rate.map(|x| x * 1.05),
        }
        if s.rate
            .is_some_and(|x| x > sent * 4.0 && s.hold_until.is_none_or(|h| h <= now))
        {
            s.rate = None;
        }
    }
}

/// The longest a 429 holds every request.
const MAX_HOLD: Duration = Duration::from_secs(60);

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

fn transport_error(call: &Call, e: &reqwest::Error) -> HttpError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }
    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse().unwrap())
    }

    #[test]
    fn every_forbidden_range_is_refused_and_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
        ] {
            assert!(is_forbidden(v4(ip)), "{ip} should be forbidden");
        }
        for ip in [
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
            "ff02::1",
        ] {
            assert!(is_forbidden(v6(ip)), "{ip} should be forbidden");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "52.94.1.1",
        ] {
            assert!(!is_forbidden(v4(ip)), "{ip} should be allowed");
        }
        for ip in ["2606:4700::1111", "::ffff:8.8.8.8", "2002:0808:0808::"] {
            assert!(!is_forbidden(v6(ip)), "{ip} should be allowed");
        }
    }

    #[test]
    fn user_urls_must_be_https_without_credentials_and_not_private_literals() {
        assert!(check_user_url("https://example.atlassian.net", false).is_ok());
        assert_eq!(
            check_user_url("http://example.com", false),
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            check_user_url("ftp://example.com", true),
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            check_user_url("https://u:p@example.com", false),
            Err(UrlError::HasCredentials)
        );
        assert_eq!(
            check_user_url("https://10.1.2.3/x", false),
            Err(UrlError::PrivateAddress)
        );
        assert_eq!(
            check_user_url("https://[::ffff:127.0.0.1]/", false),
            Err(UrlError::PrivateAddress)
        );
        assert_eq!(
            check_user_url("https://169.254.169.254/latest", false),
            Err(UrlError::PrivateAddress)
        );
        assert!(matches!(
            check_user_url("not a url", false),
            Err(UrlError::Invalid(_))
        ));
        // The sandbox switch lifts the address rules and allows http.
        assert!(check_user_url("http://127.0.0.1:8080/jira", true).is_ok());
    }

    #[test]
    fn path_segments_are_percent_encoded_but_keep_at_signs() {
        assert_eq!(path_segment("jane.doe@example.com"), "jane.doe@example.com");
        assert_eq!(path_segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("ünï"), "%C3%BCn%C3%AF");
    }

    #[test]
    fn next_page_links_must_stay_on_the_connection_origin() {
        let base = Url::parse("https://org.okta.com/api/v1/groups").unwrap();
        assert!(same_origin(
            &base,
            &Url::parse("https://org.okta.com:443/api/v1/groups?after=x").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("https://evil.example/api").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("http://org.okta.com/api").unwrap()
        ));
        assert!(!same_origin(
            &base,
            &Url::parse("https://org.okta.com:8443/api").unwrap()
        ));
    }

    #[test]
    fn base_urls_with_a_path_prefix_join_with_api_paths() {
        let base = Url::parse("http://127.0.0.1:9000/jira/").unwrap();
        assert_eq!(
            join(&base, "/rest/api/3/myself?x=1").unwrap().as_str(),
            "http://127.0.0.1:9000/jira/rest/api/3/myself?x=1"
        );
        let root = Url::parse("https://api.us.code42.com").unwrap();
        assert_eq!(
            join(&root, "/v1/oauth").unwrap().as_str(),
            "https://api.us.code42.com/v1/oauth"
        );
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_okta_resets_against_the_server_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));

        let mut h = HeaderMap::new();
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert("retry-after", later.parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));

        // Okta: reset is epoch seconds; the wait is measured from the server's Date, not ours.
        let mut h = HeaderMap::new();
        let server_now = now + Duration::from_secs(100);
        h.insert("date", httpdate::fmt_http_date(server_now).parse().unwrap());
        h.insert("x-rate-limit-reset", "1700000110".parse().unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(11)));

        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[tokio::test]
    async fn a_name_that_rebinds_from_public_to_loopback_is_refused() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let resolver = GuardedResolver::with_lookup(
            false,
            Arc::new(move |_host| {
                let n = c.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    Ok(if n == 0 {
                        vec![v4("93.184.216.34")]
                    } else {
                        vec![v4("127.0.0.1")]
                    })
                })
            }),
        );
        assert!(resolver.lookup("rebind.example").await.is_ok());
        assert!(matches!(
            resolver.lookup("rebind.example").await,
            Err(ResolveError::Forbidden(_))
        ));
        // Any forbidden address among several answers refuses the name.
        let mixed = GuardedResolver::with_lookup(
            false,
            Arc::new(|_| Box::pin(async { Ok(vec![v4("8.8.8.8"), v4("10.0.0.5")]) })),
        );
        assert!(mixed.lookup("mixed.example").await.is_err());
    }

    #[tokio::test]
    async fn the_guarded_client_refuses_to_connect_to_a_name_that_resolves_to_loopback() {
        let client = build_client(&ClientOptions::new(false)).unwrap();
        let http = Http::new(client);
        let call = Call::new("test", Method::GET, "/");
        let err = http
            .execute(&call, |c| c.get("http://localhost:9/"), |_| None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                HttpError::Blocked {
                    reason: UrlError::PrivateAddress,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    /// A one-shot-per-connection HTTP server answering scripted responses in order.
    async fn scripted(responses: Vec<&'static str>) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            for resp in responses {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let _ = sock.read(&mut buf).await;
                h.fetch_add(1, Ordering::SeqCst);
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (format!("http://{addr}"), hits)
    }

    const R429: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    const R500: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"error\":\"boom\"}\n";
    const R200: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

    fn quick() -> Http {
        let mut http = Http::new(build_client(&ClientOptions::new(true)).unwrap());
        http.retry.base = Duration::from_millis(5);
        http
    }

    #[tokio::test]
    async fn a_get_is_retried_after_429_and_5xx_until_it_succeeds() {
        let (url, hits) = scripted(vec![R429, R500, R200]).await;
        let call = Call::new("test", Method::GET, "/x");
        let resp = quick()
            .execute(&call, |c| c.get(format!("{url}/x")), |_| None)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_create_is_retried_after_429_but_never_after_a_5xx() {
        let (url, hits) = scripted(vec![R429, R500, R200]).await;
        let call = Call::new("test", Method::POST, "/create");
        let err = quick()
            .execute(
                &call,
                |c| c.post(format!("{url}/create")),
                |b| {
                    serde_json::from_slice::<serde_json::Value>(b)
                        .ok()
                        .and_then(|v| v["error"].as_str().map(String::from))
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(500));
        assert!(err.outcome_unknown());
        assert_eq!(err.to_string(), "test answered 500 to POST /create: boom");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn no_wait_sleeps_past_the_callers_deadline() {
        const SLOW: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (url, hits) = scripted(vec![SLOW, R200]).await;
        let mut http = quick();
        http.retry.max_wait = Duration::from_secs(60);
        let call = Call::new("test", Method::GET, "/x")
            .deadline(Some(Instant::now() + Duration::from_secs(2)));
        let started = Instant::now();
        let err = http
            .execute(&call, |c| c.get(format!("{url}/x")), |_| None)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(429));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        if let HttpError::Status { retry_after, .. } = err {
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
        }
    }

    #[test]
    fn errors_name_the_system_method_path_and_status_but_not_the_query() {
        let call = Call::new("jira", Method::GET, "/rest/api/3/search/jql?jql=secret");
        assert_eq!(call.path, "/rest/api/3/search/jql");
        let e = HttpError::Status {
            system: "jira",
            method: "GET".into(),
            path: call.path.clone(),
            status: 401,
            message: None,
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "jira answered 401 to GET /rest/api/3/search/jql"
        );
        assert!(e.is_unauthorized() && !e.is_transient());
    }
}

#[cfg(test)]
mod pacer_tests {
    use super::*;

    fn sig(status: u16, limit: f64, remaining: f64) -> RateSignal {
        RateSignal {
            status,
            limit: Some(limit),
            remaining: Some(remaining),
            ..Default::default()
        }
    }

    #[test]
    fn the_pacer_starts_from_the_limit_steers_to_half_a_bucket_and_adopts_a_lower_limit() {
        let p = Pacer::default();
        let t = Instant::now();
        // Plenty left: not paced.
        p.observe_at(t, sig(200, 200.0, 150.0));
        assert_eq!(p.rate(), None);
        // Below half of a 200-token bucket: paced at the limit as a per-second rate.
        p.observe_at(t, sig(200, 200.0, 90.0));
        assert_eq!(p.rate(), Some(200.0));
        // Emptying: slower; filling: faster.
        p.observe_at(t, sig(200, 200.0, 0.0));
        let slower = p.rate().unwrap();
        assert!(slower < 200.0, "{slower}");
        p.observe_at(t, sig(200, 200.0, 200.0));
        p.observe_at(t, sig(200, 200.0, 200.0));
        assert!(p.rate().unwrap() > slower);
        // The server tightened the limit to 50: adopted at once.
        p.observe_at(t, sig(200, 50.0, 40.0));
        assert_eq!(p.rate(), Some(50.0));
        // A 429 cuts the rate by a quarter, once however many in-flight answers are 429.
        p.observe_at(
            t,
            RateSignal {
                status: 429,
                retry_after: Some(Duration::from_secs(1)),
                ..Default::default()
            },
        );
        p.observe_at(
            t,
            RateSignal {
                status: 429,
                ..Default::default()
            },
        );
        assert_eq!(p.rate(), Some(37.5));
        // A short Retry-After is the answered request's own wait: the others go on.
        assert!(p.reserve(t, None).unwrap() < t + Duration::from_millis(100));
    }

    #[test]
    fn a_windowed_budget_is_spread_over_the_rest_of_the_window() {
        let p = Pacer::default();
        let t = Instant::now();
        p.observe_at(
            t,
            RateSignal {
                status: 200,
                limit: Some(600.0),
                remaining: Some(60.0),
                window: Some(30.0),
                retry_after: None,
            },
        );
        assert_eq!(p.rate(), Some(2.0));
    }

    /// A discrete-event simulation on virtual time: `workers` tasks send through the pacer to
    /// a token bucket that refills `rate(t)` tokens per second and holds `size(t)` (the
    /// sandbox's holds one second's worth), each call taking `latency` (the bucket is checked
    /// halfway); a request answered 429 is sent again after its `Retry-After`.
    /// Returns (accepted, answered 429, tokens the server made available).
    fn simulate(
        workers: usize,
        latency: Duration,
        secs: f64,
        rate: impl Fn(f64) -> f64,
        size: impl Fn(f64) -> f64,
    ) -> (u64, u64, f64) {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let p = Pacer::default();
        let t0 = Instant::now();
        let at = |x: f64| t0 + Duration::from_secs_f64(x);
        // Events: (time in µs, worker) when the worker wants to send its next request.
        let mut q: BinaryHeap<Reverse<(u64, usize)>> =
            (0..workers).map(|w| Reverse((0, w))).collect();
        let (mut tokens, mut last, mut cap) = (size(0.0), 0.0f64, size(0.0));
        let (mut ok, mut limited, mut allowed) = (0u64, 0u64, size(0.0));
        let mut seed = 42u64;
        while let Some(Reverse((us, w))) = q.pop() {
            let now = us as f64 / 1e6;
            if now >= secs {
                break;
            }
            let slot = p.reserve(at(now), None).unwrap();
            let sent = slot.duration_since(t0).as_secs_f64();
            // Each call's latency varies by ±40 % (a fixed pseudo-random sequence).
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let jitter = 0.6 + 0.8 * ((seed >> 33) as f64 / (1u64 << 31) as f64);
            let latency = latency.mul_f64(jitter);
            let arrive = sent + latency.as_secs_f64() / 2.0;
            if arrive >= secs {
                break;
            }
            // Refill up to `arrive` (events reach the bucket nearly in order).
            if arrive > last {
                let r = rate(arrive);
                if size(arrive) != cap {
                    cap = size(arrive);
                    tokens = tokens.min(cap);
                }
                tokens = (tokens + (arrive - last) * r).min(cap);
                allowed += (arrive - last) * r;
                last = arrive;
            }
            let answered = sent + latency.as_secs_f64();
            let signal = if tokens >= 1.0 {
                tokens -= 1.0;
                ok += 1;
                sig(200, cap, tokens.floor())
            } else {
                limited += 1;
                RateSignal {
                    status: 429,
                    limit: Some(cap),
                    remaining: Some(0.0),
                    window: None,
                    retry_after: Some(Duration::from_secs(
                        ((1.0 - tokens) / rate(arrive)).ceil().max(1.0) as u64,
                    )),
                }
            };
            p.observe_at(at(answered), signal);
            // A request answered 429 is retried after its Retry-After (the retry loop).
            let wait = signal.retry_after.map_or(0.0, |d| d.as_secs_f64());
            q.push(Reverse((((answered + wait) * 1e6) as u64, w)));
        }
        (ok, limited, allowed)
    }

    #[test]
    fn simulated_200_then_50_per_second_uses_over_90_percent_with_under_2_percent_429() {
        let r = |t: f64| if t < 20.0 { 200.0 } else { 50.0 };
        let (ok, limited, allowed) = simulate(64, Duration::from_millis(50), 60.0, r, r);
        let used = ok as f64 / allowed;
        let share = limited as f64 / (ok + limited) as f64;
        eprintln!("200 then 50/s: used {used:.3}, 429 share {share:.4}");
        assert!(
            used >= 0.9,
            "used {used:.3} of the allowed rate ({ok} of {allowed:.0})"
        );
        assert!(
            share <= 0.02,
            "429 share {share:.3} ({limited} of {})",
            ok + limited
        );
    }

    #[test]
    fn simulated_slow_bucket_is_found_without_a_429_storm() {
        // The limit header says 100 but the bucket refills 10/s: the pacer must learn it.
        let (ok, limited, allowed) =
            simulate(16, Duration::from_millis(50), 60.0, |_| 10.0, |_| 100.0);
        let used = ok as f64 / allowed;
        let share = limited as f64 / (ok + limited) as f64;
        eprintln!("10/s, size 100: used {used:.3}, 429 share {share:.4}");
        assert!(used >= 0.85, "used {used:.3} ({ok} of {allowed:.0})");
        assert!(
            share <= 0.05,
            "429 share {share:.3} ({limited} of {})",
            ok + limited
        );
    }

    #[tokio::test]
    async fn a_long_retry_after_holds_every_request_but_never_past_the_deadline() {
        let p = Pacer::default();
        let t = Instant::now();
        p.observe(429, &HeaderMap::new(), Some(Duration::from_secs(3)));
        assert!(p.reserve(t, Some(t + Duration::from_millis(100))).is_none());
        assert!(
            !p.acquire(Some(Instant::now() + Duration::from_millis(100)))
                .await
        );
        assert!(p.reserve(t, None).unwrap() >= t + Duration::from_millis(2900));
    }
}
