//! Fault injection, per-system rate limiting and request counting.
//!
//! Everything here runs in one axum middleware in front of every system route (not in front
//! of `/_control`). For each request, in this order:
//!
//! 1. it is counted under `"<system> <METHOD> <route pattern>"` (the pattern is axum's
//!    matched route without the system prefix, e.g. `jira POST /rest/api/3/issue`;
//!    unknown paths count as `(unmatched)`; a vendor serving one route at two paths counts it
//!    once, see [`VendorFaults::route_path`]), and its final status under the system;
//! 2. the system's **rate limiter** (a token bucket: `rps` tokens per second, burst = `rps`,
//!    changeable at runtime) answers 429 with that system's headers when it is empty;
//! 3. a **hold** the test armed for this request ([`Hold`], in-process only) keeps it waiting
//!    until the test releases it, for deterministic interleavings of concurrent workers;
//! 4. the **fault rules** whose `system` / `method` / `path_prefix` match are rolled, each
//!    with its own `StdRng` seeded from the fault seed and the rule's index, so a run with
//!    the same seed and the same request sequence gets the same faults;
//! 5. the handler runs; for the "stored then …" kinds the answer is replaced (500) or the
//!    connection dropped **after** the object was stored, on creating routes only.
//!
//! ## Fault rule JSON
//!
//! ```json
//! {"system": "jira", "method": "POST", "path_prefix": "/rest/api/3/issue",
//!  "rate": 0.25, "max_hits": 3, "kind": "error", "status": 503}
//! ```
//!
//! `system` is `incydr`, `jira`, `servicenow`, `okta`, `workday`, `adp`, `bamboohr` or `*`;
//! `method` and `path_prefix` (relative to the system, e.g. `/v1/sessions` or
//! `/api/now/table/incident`) are optional; `rate` defaults to 1; `max_hits` caps how often the
//! rule fires. A Jira rule on `/rest/api/3/issue` also matches the same route through the API
//! gateway (`/ex/jira/{cloudId}/rest/api/3/issue`). Kinds and their extra fields:
//!
//! | kind | fields | effect |
//! |---|---|---|
//! | `latency` | `ms` | sleep, then go on (several latency rules add up) |
//! | `error` | `status`, `retry_after`? | answer `status` with the system's error envelope |
//! | `rate_limit` | `retry_after`? | answer 429 with the system's headers; without `retry_after` the `Retry-After` header (and Okta's `X-Rate-Limit-Reset`) is left out |
//! | `timeout` | `ms` | hang `ms`, then drop the connection unanswered |
//! | `drop` | `after_ms`? | drop the connection unanswered (after an optional delay) |
//! | `stored_then_error` | `status`? (500) | run the handler (the object is created), then answer 500 |
//! | `stored_then_drop` | — | run the handler, then drop the connection unanswered |
//!
//! The stored-then kinds only apply to creating routes: Jira create issue, ServiceNow create
//! record (`POST .../table/{table}`), Okta group add (`PUT /api/v1/groups/{g}/users/{u}`) and
//! Incydr watchlist add (`POST /v2/watchlists/{id}/included-actors/add`).
//!
//! `PUT /_control/faults` takes either a bare list of rules or `{"seed": 42, "rules": [...]}`
//! (default seed 0). Setting the rules resets every rule's RNG.
//!
//! How a connection is dropped: see [`crate::net`].

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::net::{ConnKill, ForcedSystem};

mod hold;
mod limits;
pub use hold::Hold;
pub(crate) use hold::Holds;
pub use limits::RequestCounts;
pub(crate) use limits::{RateInfo, RateLimits};

/// Every system the sandbox fakes, as used in paths, fault rules and counts.
pub const SYSTEMS: [&str; 7] = [
    "incydr",
    "jira",
    "servicenow",
    "okta",
    "workday",
    "adp",
    "bamboohr",
];

fn default_rate() -> f64 {
    1.0
}

fn default_500() -> u16 {
    500
}

/// One fault rule (see the module docs for the JSON shape).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    /// System name or `*`.
    pub system: String,
    /// HTTP method to match (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path prefix relative to the system prefix (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Probability 0..1 that a matching request is hit.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Fire at most this many times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hits: Option<u64>,
    /// What happens.
    #[serde(flatten)]
    pub kind: FaultKind,
}

impl FaultRule {
    /// A rule for `system` with rate 1 and no other filter.
    pub fn new(system: &str, kind: FaultKind) -> FaultRule {
        FaultRule {
            system: system.to_string(),
            method: None,
            path_prefix: None,
            rate: 1.0,
            max_hits: None,
            kind,
        }
    }

    /// Only for this HTTP method.
    pub fn method(mut self, method: &str) -> FaultRule {
        self.method = Some(method.to_string());
        self
    }

    /// Only for paths (relative to the system) starting with `prefix`.
    pub fn path_prefix(mut self, prefix: &str) -> FaultRule {
        self.path_prefix = Some(prefix.to_string());
        self
    }

    /// Probability of firing.
    pub fn rate(mut self, rate: f64) -> FaultRule {
        self.rate = rate;
        self
    }

    /// Fire at most `n` times.
    pub fn max_hits(mut self, n: u64) -> FaultRule {
        self.max_hits = Some(n);
        self
    }
}

/// The kinds of fault.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Added latency.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// An error status with the system's error body.
    Error {
        /// HTTP status (e.g. 500, 503).
        status: u16,
        /// Optional `Retry-After` seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// 429 with the system's rate-limit headers; `retry_after: null` leaves `Retry-After` out.
    RateLimit {
        /// `Retry-After` seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// 429 for a limit narrower than the client's budget, named in `RateLimit-Reason` (Jira's
    /// `jira-per-issue-on-write`: writes to one issue too close together); the budget headers
    /// say what they would anyway.
    ScopedRateLimit {
        /// The `RateLimit-Reason` value.
        reason: String,
        /// `Retry-After` seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// Hang `ms`, then drop the connection.
    Timeout {
        /// Milliseconds.
        ms: u64,
    },
    /// Drop the connection without an answer.
    Drop {
        /// Optional delay before dropping.
        #[serde(default)]
        after_ms: u64,
    },
    /// Create the object, then answer with an error (default 500).
    StoredThenError {
        /// HTTP status.
        #[serde(default = "default_500")]
        status: u16,
    },
    /// Create the object, then drop the connection.
    StoredThenDrop,
}

/// The body of `PUT /_control/faults`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct FaultConfig {
    /// RNG seed.
    #[serde(default)]
    pub seed: u64,
    /// Rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum FaultConfigInput {
    List(Vec<FaultRule>),
    Full(FaultConfig),
}

impl From<FaultConfigInput> for FaultConfig {
    fn from(v: FaultConfigInput) -> FaultConfig {
        match v {
            FaultConfigInput::List(rules) => FaultConfig { seed: 0, rules },
            FaultConfigInput::Full(c) => c,
        }
    }
}

struct ActiveRule {
    rule: FaultRule,
    rng: StdRng,
    hits: u64,
}

/// Active fault rules.
#[derive(Default)]
pub(crate) struct FaultState {
    seed: u64,
    rules: Vec<ActiveRule>,
}

/// What the rolled rules decided for one request.
#[derive(Default, Debug)]
pub(crate) struct FaultPlan {
    latency_ms: u64,
    pre: Option<FaultKind>,
    post: Option<FaultKind>,
}

impl FaultState {
    pub(crate) fn set(&mut self, cfg: FaultConfig) {
        self.seed = cfg.seed;
        self.rules = cfg
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| ActiveRule {
                rule,
                rng: StdRng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64),
                hits: 0,
            })
            .collect();
    }

    pub(crate) fn add(&mut self, rule: FaultRule) {
        let i = self.rules.len() as u64;
        self.rules.push(ActiveRule {
            rule,
            rng: StdRng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i),
            hits: 0,
        });
    }

    pub(crate) fn config(&self) -> FaultConfig {
        FaultConfig {
            seed: self.seed,
            rules: self.rules.iter().map(|r| r.rule.clone()).collect(),
        }
    }

    /// Per-rule hit counts, in rule order.
    pub(crate) fn hits(&self) -> Vec<u64> {
        self.rules.iter().map(|r| r.hits).collect()
    }

    fn roll(&mut self, system: &str, method: &str, rel: &str, creating: bool) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for r in &mut self.rules {
            let rule = &r.rule;
            if rule.system != "*" && rule.system != system {
                continue;
            }
            if rule
                .method
                .as_ref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            if rule
                .path_prefix
                .as_ref()
                .is_some_and(|p| !rel.starts_with(p.as_str()))
            {
                continue;
            }
            let is_post = matches!(
                rule.kind,
                FaultKind::StoredThenError { .. } | FaultKind::StoredThenDrop
            );
            if is_post && !creating {
                continue;
            }
            if rule.max_hits.is_some_and(|max| r.hits >= max) {
                continue;
            }
            let fire = rule.rate >= 1.0 || (rule.rate > 0.0 && r.rng.random::<f64>() < rule.rate);
            if !fire {
                continue;
            }
            match &rule.kind {
                FaultKind::Latency { ms } => {
                    plan.latency_ms += ms;
                    r.hits += 1;
                }
                k if is_post => {
                    if plan.post.is_none() {
                        plan.post = Some(k.clone());
                        r.hits += 1;
                    }
                }
                k => {
                    if plan.pre.is_none() {
                        plan.pre = Some(k.clone());
                        r.hits += 1;
                    }
                }
            }
        }
        plan
    }
}

/// Find the system and the system-relative path of a request path.
pub(crate) fn classify(path: &str, forced: Option<ForcedSystem>) -> Option<(&'static str, &str)> {
    if let Some(f) = forced {
        let rel = path
            .strip_prefix("/adp")
            .filter(|r| r.is_empty() || r.starts_with('/'));
        return Some((f.0, rel.unwrap_or(path)));
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let first = trimmed.split('/').next().unwrap_or("");
    for s in SYSTEMS {
        if first == s {
            return Some((s, &path[s.len() + 1..]));
        }
    }
    if path.starts_with("/v1/") || path.starts_with("/v2/") || path == "/v1" || path == "/v2" {
        return Some(("incydr", path));
    }
    None
}

fn strip_system(pattern: &str, system: &str) -> String {
    let prefix = format!("/{system}");
    match pattern.strip_prefix(&prefix) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => pattern.to_string(),
    }
}

/// What the fault layer needs from one fake: how that vendor answers an injected error, how
/// it answers when over its rate limit, the headers it puts on every answer and which of its
/// routes create objects. Each vendor implements it in its own folder; [`middleware`] gets
/// them through [`FaultLayer`], so this module knows no vendor.
pub(crate) trait VendorFaults: Sync {
    /// The system name, as in paths, fault rules and counts (one of [`SYSTEMS`]).
    fn system(&self) -> &'static str;

    /// The vendor's error answer for an injected `status` (before any `Retry-After`).
    fn error(&self, status: StatusCode) -> Response;

    /// The vendor's 429 answer: status, headers and body (before any `Retry-After`).
    fn rate_limited(&self, info: &RateInfo) -> Response;

    /// Headers the vendor sends on every answer (e.g. rate-limit headers); none by default.
    fn decorate(&self, _resp: &mut Response, _info: &RateInfo) {}

    /// Set the headers of an injected `rate_limit` fault's 429 from the injected numbers
    /// (`remaining` 0, the rule's `retry_after`). Returns `false` (the default) to have the
    /// answer decorated with the live numbers like any other answer instead.
    fn decorate_injected_429(&self, _resp: &mut Response, _injected: &RateInfo) -> bool {
        false
    }

    /// Whether a route (method upper-case, axum pattern relative to the system) creates an
    /// object, so the stored-then kinds apply to it.
    fn is_creating(&self, _method: &str, _pattern: &str) -> bool {
        false
    }

    /// The route a system-relative path (or axum pattern) stands for, where the vendor serves
    /// one route at two paths (Jira's API gateway); the path itself by default.
    fn route_path<'a>(&self, path: &'a str) -> &'a str {
        path
    }
}

/// What [`middleware`] needs from the sandbox it runs in: the fault rules, rate limits and
/// counts. The sandbox implements it over its one state lock, so this module does not depend
/// on how the sandbox is composed.
pub(crate) trait FaultHost: Clone + Send + Sync + 'static {
    /// Run `f` with the state locked.
    fn with_faults<R>(&self, f: impl FnOnce(&mut FaultCtx<'_>) -> R) -> R;
}

/// The part of the sandbox state [`middleware`] reads and changes.
pub(crate) struct FaultCtx<'a> {
    /// The fault rules and their RNGs.
    pub faults: &'a mut FaultState,
    /// The rate limiters.
    pub limits: &'a mut RateLimits,
    /// The request counts.
    pub counts: &'a mut RequestCounts,
    /// Requests to keep waiting until the test releases them.
    pub holds: &'a mut Holds,
}

/// The state of [`middleware`]: the sandbox and the [`VendorFaults`] of every system.
#[derive(Clone)]
pub(crate) struct FaultLayer<H> {
    /// The sandbox state (rules, limits, counts).
    pub handle: H,
    /// One entry per system.
    pub vendors: &'static [&'static dyn VendorFaults],
}

impl<H> FaultLayer<H> {
    fn vendor(&self, system: &str) -> Option<&'static dyn VendorFaults> {
        self.vendors.iter().copied().find(|v| v.system() == system)
    }
}

/// The system's error answer for an injected status.
fn error_response(
    vendor: Option<&dyn VendorFaults>,
    status: u16,
    retry_after: Option<u64>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match vendor {
        Some(v) => v.error(status),
        None => status.into_response(),
    };
    if let Some(s) = retry_after {
        crate::util::set_header(&mut resp, "retry-after", &s.to_string());
    }
    resp
}

/// The system's 429 answer.
fn rate_limited_response(vendor: Option<&dyn VendorFaults>, info: &RateInfo) -> Response {
    let mut resp = match vendor {
        Some(v) => v.rate_limited(info),
        None => StatusCode::TOO_MANY_REQUESTS.into_response(),
    };
    if let Some(s) = info.retry_after {
        crate::util::set_header(&mut resp, "retry-after", &s.to_string());
    }
    resp
}

/// Headers a system sends on every answer.
fn decorate(vendor: Option<&dyn VendorFaults>, resp: &mut Response, info: &RateInfo) {
    if let Some(v) = vendor {
        v.decorate(resp, info);
    }
}

async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(k) => {
            k.kill();
            std::future::pending::<Response>().await
        }
        // Not served by the sandbox's own loop (e.g. called in-process): nothing to close.
        None => (
            StatusCode::BAD_GATEWAY,
            "sandbox: connection would be dropped",
        )
            .into_response(),
    }
}

/// The middleware described in the module docs.
pub(crate) async fn middleware<H: FaultHost>(
    State(layer): State<FaultLayer<H>>,
    req: Request,
    next: Next,
) -> Response {
    let h = &layer.handle;
    let forced = req.extensions().get::<ForcedSystem>().copied();
    let path = req.uri().path().to_string();
    let Some((system, rel)) = classify(&path, forced) else {
        return next.run(req).await;
    };
    let vendor = layer.vendor(system);
    let route_path = |p: &str| vendor.map_or(p, |v| v.route_path(p)).to_string();
    let rel = route_path(rel);
    let pattern = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| route_path(&strip_system(m.as_str(), system)))
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = req.method().as_str().to_ascii_uppercase();
    let kill = req.extensions().get::<ConnKill>().cloned();
    let creating = vendor.is_some_and(|v| v.is_creating(&method, &pattern));

    let (rate, plan, hold) = h.with_faults(|s| {
        *s.counts
            .routes
            .entry(format!("{system} {method} {pattern}"))
            .or_insert(0) += 1;
        let hold = s.holds.take(system, &method, &rel);
        let rate = s.limits.check(system);
        let plan = if rate.is_ok() {
            s.faults.roll(system, &method, &rel, creating)
        } else {
            FaultPlan::default()
        };
        (rate, plan, hold)
    });
    if let Some(hold) = hold {
        hold::wait(hold).await;
    }

    let info = match rate {
        Ok(info) => info,
        Err(info) => {
            let mut resp = rate_limited_response(vendor, &info);
            decorate(vendor, &mut resp, &info);
            h.with_faults(|s| s.counts.record_status(system, "429"));
            return resp;
        }
    };

    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }

    if let Some(pre) = plan.pre {
        let resp = match pre {
            FaultKind::Error {
                status,
                retry_after,
            } => error_response(vendor, status, retry_after),
            FaultKind::RateLimit { retry_after } => {
                let mut i = info.clone();
                i.retry_after = retry_after;
                i.remaining = 0;
                let mut resp = rate_limited_response(vendor, &i);
                if vendor.is_some_and(|v| v.decorate_injected_429(&mut resp, &i)) {
                    h.with_faults(|s| s.counts.record_status(system, "429"));
                    return resp;
                }
                resp
            }
            FaultKind::ScopedRateLimit {
                reason,
                retry_after,
            } => {
                let mut i = info.clone();
                i.retry_after = retry_after;
                let mut resp = rate_limited_response(vendor, &i);
                crate::util::set_header(&mut resp, "ratelimit-reason", &reason);
                resp
            }
            FaultKind::Timeout { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                h.with_faults(|s| s.counts.record_status(system, "dropped"));
                return drop_connection(kill).await;
            }
            FaultKind::Drop { after_ms } => {
                if after_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(after_ms)).await;
                }
                h.with_faults(|s| s.counts.record_status(system, "dropped"));
                return drop_connection(kill).await;
            }
            _ => next.run(req).await,
        };
        let mut resp = resp;
        decorate(vendor, &mut resp, &info);
        h.with_faults(|s| s.counts.record_status(system, resp.status().as_str()));
        return resp;
    }

    let mut resp = next.run(req).await;

    if let Some(post) = plan.post.filter(|_| resp.status().is_success()) {
        match post {
            FaultKind::StoredThenError { status } => {
                resp = error_response(vendor, status, None);
            }
            _ => {
                h.with_faults(|s| s.counts.record_status(system, "dropped"));
                return drop_connection(kill).await;
            }
        }
    }
    decorate(vendor, &mut resp, &info);
    h.with_faults(|s| s.counts.record_status(system, resp.status().as_str()));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rules_parse_from_the_documented_json() {
        let v: FaultConfigInput = serde_json::from_str(
            r#"[{"system":"jira","method":"POST","path_prefix":"/rest/api/3/issue","rate":0.5,"kind":"error","status":503},
                {"system":"okta","kind":"rate_limit"},
                {"system":"*","kind":"drop"},
                {"system":"servicenow","kind":"stored_then_error"}]"#,
        )
        .unwrap();
        let cfg: FaultConfig = v.into();
        assert_eq!(cfg.rules.len(), 4);
        assert_eq!(
            cfg.rules[0].kind,
            FaultKind::Error {
                status: 503,
                retry_after: None
            }
        );
        assert_eq!(cfg.rules[2].kind, FaultKind::Drop { after_ms: 0 });
        assert_eq!(
            cfg.rules[3].kind,
            FaultKind::StoredThenError { status: 500 }
        );
        assert_eq!(cfg.rules[1].rate, 1.0);
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let rule = FaultRule::new(
            "jira",
            FaultKind::Error {
                status: 500,
                retry_after: None,
            },
        )
        .rate(0.3);
        let run = |seed| {
            let mut f = FaultState::default();
            f.set(FaultConfig {
                seed,
                rules: vec![rule.clone()],
            });
            (0..200)
                .map(|_| f.roll("jira", "GET", "/x", false).pre.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|x| **x).count();
        assert!((30..90).contains(&hits), "{hits}");
    }

    #[test]
    fn paths_are_classified_by_system_prefix_or_incydr_root() {
        assert_eq!(
            classify("/jira/rest/api/3/issue", None),
            Some(("jira", "/rest/api/3/issue"))
        );
        assert_eq!(
            classify("/v1/sessions", None),
            Some(("incydr", "/v1/sessions"))
        );
        assert_eq!(classify("/_control/state", None), None);
        assert_eq!(
            classify("/auth/oauth/v2/token", Some(ForcedSystem("adp"))),
            Some(("adp", "/auth/oauth/v2/token"))
        );
    }
}
