//! Pacing each client's requests to the rate the server allows.

use super::*;

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
/// - A 429 the rate explains cuts the rate by a quarter (at most once per second however many
///   answers in flight come back 429): one that follows an answer showing the budget nearly
///   spent (under a fifth left), or one of many (more than [`CONFIRM_SHARE`] of recent answers
///   are 429s). A 429 nothing confirms (a server that answers a few 429s at random, whatever
///   the rate) cuts nothing: cutting would slow every request and never make those 429s rarer.
///   The request answered 429 always waits its own `Retry-After`; one of two seconds or more
///   holds every request of the client until then.
/// - After a cut, answers without rate-limit headers let the rate grow back additively (a
///   fiftieth of the rate before the cut per answer: AIMD), and pacing stops once the rate is
///   well above what the client sends.
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
    /// The additive step of recovery after a cut (requests per second per answer).
    step: Option<f64>,
    /// Share of recent answers that were 429 (exponentially weighted over about 20 answers).
    share_429: f64,
    /// When the last answer with rate-limit headers came, and the share of the budget left.
    last_fill: Option<(Instant, f64)>,
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
            step: None,
            share_429: 0.0,
            last_fill: None,
            window_start: None,
            window_count: 0,
            sent_rate: 0.0,
        }
    }
}

/// A 429 confirms a cut when more than this share of recent answers were 429s. A server that
/// answers 5 % of requests 429 at random stays below it (by four standard deviations of the
/// weighted share); a client well over a limit quickly passes it.
pub const CONFIRM_SHARE: f64 = 0.2;
/// Weight of each answer in `share_429`.
const SHARE_WEIGHT: f64 = 0.05;

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
        let is_429 = sig.status == 429;
        s.share_429 = s.share_429 * (1.0 - SHARE_WEIGHT) + if is_429 { SHARE_WEIGHT } else { 0.0 };
        if is_429 {
            // The request itself waits its Retry-After (the retry loop); a long wait means the
            // budget is gone for that long, so every request waits with it.
            if let Some(wait) = sig.retry_after.filter(|w| *w >= HOLD_ALL_FROM) {
                let until = now + wait.min(MAX_HOLD);
                s.hold_until = Some(s.hold_until.map_or(until, |h| h.max(until)));
            }
            let nearly_spent = s.last_fill.is_some_and(|(at, left)| {
                left < 0.2 && now.saturating_duration_since(at) < Duration::from_secs(2)
            });
            if !nearly_spent && s.share_429 <= CONFIRM_SHARE {
                return;
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
                s.step = Some((base * 0.02).max(0.05));
                s.refill = s.refill.map(|e| (e * 0.85).max(MIN_RATE));
                s.last_cut = Some(now);
            }
            return;
        }
        match (limit, sig.remaining) {
            (Some(l), Some(r)) => {
                let f = (r / l).clamp(0.0, 1.0);
                s.last_fill = Some((now, f));
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
            // No rate-limit headers: grow back, additively after a cut.
            _ => {
                let step = s.step;
                s.rate = s.rate.map(|x| step.map_or(x * 1.05, |a| x + a));
            }
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

#[cfg(test)]
mod tests {
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
        // A 429 right after an answer with most of the budget left is not the rate's doing
        // (nor does the 429 share say so): no cut.
        let rate_429 = RateSignal {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        p.observe_at(t, rate_429);
        assert_eq!(p.rate(), Some(50.0));
        // After an answer showing the budget nearly spent, a 429 cuts the rate by a quarter,
        // once however many in-flight answers are 429.
        p.observe_at(t, sig(200, 50.0, 5.0));
        let before = p.rate().unwrap();
        p.observe_at(t, rate_429);
        p.observe_at(t, rate_429);
        assert_eq!(p.rate(), Some(before * 0.75));
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

    /// What the simulated server does besides its token bucket.
    #[derive(Clone, Copy)]
    struct Server {
        /// Share of requests answered 429 (`Retry-After: 1`, remaining 0) at random,
        /// whatever the rate.
        spurious: f64,
        /// Whether answers carry rate-limit headers.
        headers: bool,
    }

    /// A server whose 429s all come from its bucket, with rate-limit headers on every answer.
    const CLEAN: Server = Server {
        spurious: 0.0,
        headers: true,
    };

    /// A discrete-event simulation on virtual time: `workers` tasks send through the pacer to
    /// a token bucket that refills `rate(t)` tokens per second and holds `size(t)` (the
    /// sandbox's holds one second's worth), each call taking `latency` (the bucket is checked
    /// halfway); a request answered 429 is sent again after its `Retry-After`.
    /// Returns (accepted, answered 429, tokens the server made available).
    /// The server may also answer at random (`server`); requests go through the pacer or
    /// (`paced: false`) not.
    fn simulate(
        workers: usize,
        latency: Duration,
        secs: f64,
        rate: impl Fn(f64) -> f64,
        size: impl Fn(f64) -> f64,
        server: Server,
        paced: bool,
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
            let slot = if paced {
                p.reserve(at(now), None).unwrap()
            } else {
                at(now)
            };
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
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unlucky = ((seed >> 33) as f64 / (1u64 << 31) as f64) < server.spurious;
            // The bucket's 429 asks for the time its next token takes; a random one for 1 s.
            let refused = |wait: f64| RateSignal {
                status: 429,
                limit: Some(cap),
                remaining: Some(0.0),
                window: None,
                retry_after: Some(Duration::from_secs(wait.ceil().max(1.0) as u64)),
            };
            let mut signal = if unlucky {
                limited += 1;
                refused(1.0)
            } else if tokens >= 1.0 {
                tokens -= 1.0;
                ok += 1;
                sig(200, cap, tokens.floor())
            } else {
                limited += 1;
                refused((1.0 - tokens) / rate(arrive))
            };
            if !server.headers {
                (signal.limit, signal.remaining) = (None, None);
            }
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
        let (ok, limited, allowed) =
            simulate(64, Duration::from_millis(50), 60.0, r, r, CLEAN, true);
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
        let (ok, limited, allowed) = simulate(
            16,
            Duration::from_millis(50),
            60.0,
            |_| 10.0,
            |_| 100.0,
            CLEAN,
            true,
        );
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

    #[test]
    fn random_429s_the_rate_does_not_explain_do_not_slow_the_client() {
        // A bucket far above what 8 workers at 20 ms send (400/s), and 5 % of answers 429
        // (Retry-After: 1) at random: pacing cannot make those rarer, so it must not slow the
        // client. Compared with the same run sent without the pacer.
        let big = |_: f64| 5_000.0;
        for headers in [false, true] {
            let server = Server {
                spurious: 0.05,
                headers,
            };
            let latency = Duration::from_millis(20);
            let (paced, limited, _) = simulate(8, latency, 60.0, big, big, server, true);
            let (free, ..) = simulate(8, latency, 60.0, big, big, server, false);
            let ratio = paced as f64 / free as f64;
            eprintln!(
                "5 % random 429s, headers {headers}: {paced} vs {free} unpaced, {limited} 429s"
            );
            assert!(
                ratio >= 0.9,
                "headers {headers}: {paced} vs {free} ({ratio:.2})"
            );
        }
    }

    #[test]
    fn a_real_limit_without_rate_limit_headers_is_found_by_the_429_share() {
        // 50/s, no headers: only the 429s tell, and when many of them come, each one cut
        // confirms the rate is the cause.
        let r = |_: f64| 50.0;
        let server = Server {
            spurious: 0.0,
            headers: false,
        };
        let (ok, limited, allowed) =
            simulate(16, Duration::from_millis(50), 60.0, r, r, server, true);
        let used = ok as f64 / allowed;
        let share = limited as f64 / (ok + limited) as f64;
        eprintln!("50/s without headers: used {used:.3}, 429 share {share:.4}");
        assert!(used >= 0.85, "used {used:.3} ({ok} of {allowed:.0})");
        assert!(share <= 0.25, "429 share {share:.3}");
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
