//! The per-system rate limiter (token buckets, and minute windows for the headers of
//! unlimited systems) and the request counts the fault layer keeps.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Rate-limit numbers for the headers of one response.
#[derive(Clone, Debug)]
pub(crate) struct RateInfo {
    /// Whether a limiter is configured for the system.
    pub limited: bool,
    /// Budget (requests per second when limited; per minute otherwise).
    pub limit: u64,
    /// Requests left in the budget.
    pub remaining: u64,
    /// When the budget is full again (epoch seconds).
    pub reset_epoch: i64,
    /// `Retry-After` to send on a 429 (`None` = leave the header out).
    pub retry_after: Option<u64>,
}

struct Bucket {
    rps: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn burst(&self) -> f64 {
        self.rps.max(1.0)
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rps).min(self.burst());
    }

    fn info(&self, retry_after: Option<u64>) -> RateInfo {
        let missing = (self.burst() - self.tokens).max(0.0);
        RateInfo {
            limited: true,
            limit: self.burst().round() as u64,
            remaining: self.tokens.max(0.0).floor() as u64,
            reset_epoch: crate::util::now_secs() + (missing / self.rps).ceil().max(1.0) as i64,
            retry_after,
        }
    }
}

const UNLIMITED_PER_MINUTE: u64 = 10_000;

/// Per-system token buckets plus minute windows for the headers of unlimited systems.
#[derive(Default)]
pub(crate) struct RateLimits {
    buckets: BTreeMap<String, Bucket>,
    windows: BTreeMap<String, (i64, u64)>,
}

impl RateLimits {
    pub(crate) fn set(&mut self, system: &str, rps: Option<f64>) {
        match rps {
            Some(rps) if rps > 0.0 => {
                let entry = self.buckets.entry(system.to_string()).or_insert(Bucket {
                    rps,
                    tokens: rps.max(1.0),
                    last: Instant::now(),
                });
                entry.refill();
                entry.rps = rps;
                entry.tokens = entry.tokens.min(entry.burst());
            }
            _ => {
                self.buckets.remove(system);
            }
        }
    }

    pub(crate) fn get(&self) -> BTreeMap<String, f64> {
        self.buckets
            .iter()
            .map(|(k, b)| (k.clone(), b.rps))
            .collect()
    }

    /// Take a token. `Err` when the system is over its limit.
    pub(super) fn check(&mut self, system: &str) -> Result<RateInfo, RateInfo> {
        if let Some(b) = self.buckets.get_mut(system) {
            b.refill();
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(b.info(None))
            } else {
                let wait = ((1.0 - b.tokens) / b.rps).ceil().max(1.0) as u64;
                Err(b.info(Some(wait)))
            }
        } else {
            let now = crate::util::now_secs();
            let minute = now - now.rem_euclid(60);
            let w = self
                .windows
                .entry(system.to_string())
                .or_insert((minute, 0));
            if w.0 != minute {
                *w = (minute, 0);
            }
            w.1 += 1;
            Ok(RateInfo {
                limited: false,
                limit: UNLIMITED_PER_MINUTE,
                remaining: UNLIMITED_PER_MINUTE.saturating_sub(w.1),
                reset_epoch: minute + 60,
                retry_after: None,
            })
        }
    }
}

/// Request counts by route and by status.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RequestCounts {
    /// `"<system> <METHOD> <route pattern>"` → requests received.
    pub routes: BTreeMap<String, u64>,
    /// system → status (`"200"`, `"429"`, `"dropped"`) → responses.
    pub statuses: BTreeMap<String, BTreeMap<String, u64>>,
}

impl RequestCounts {
    /// Requests for one route pattern, e.g. `("jira", "POST", "/rest/api/3/issue")`.
    pub fn route(&self, system: &str, method: &str, pattern: &str) -> u64 {
        self.routes
            .get(&format!(
                "{system} {} {pattern}",
                method.to_ascii_uppercase()
            ))
            .copied()
            .unwrap_or(0)
    }

    /// Every request to a system.
    pub fn system_total(&self, system: &str) -> u64 {
        let prefix = format!("{system} ");
        self.routes
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .sum()
    }

    /// Responses of a system with a given status (`"429"`, `"dropped"`).
    pub fn status(&self, system: &str, status: &str) -> u64 {
        self.statuses
            .get(system)
            .and_then(|m| m.get(status))
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn record_status(&mut self, system: &str, status: &str) {
        *self
            .statuses
            .entry(system.to_string())
            .or_default()
            .entry(status.to_string())
            .or_insert(0) += 1;
    }
}
