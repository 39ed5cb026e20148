//! The one outbound HTTP layer every connector uses.
//!
//! - [`build_client`]: one `reqwest` client per connection with connect and total timeouts, the
//!   `riskflow/<version>` user agent, proxies from the environment ignored, and the
//!   outbound-address guard installed as its DNS resolver ([`GuardedResolver`]), so every
//!   connection (first request, redirect hop, retry) is checked after resolution and DNS
//!   rebinding gains nothing. A URL whose host is an IP literal meets no resolver: [`Http`]
//!   checks it before every request it sends ([`check_address`]), so a stored URL is held to
//!   the rules each time it is used, not only when it was saved.
//! - [`read_body`], [`read_json`]: no answer is read past [`MAX_BODY_BYTES`].
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

use ::url::Url;
use futures::future::BoxFuture;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// `riskflow/<version>`.
pub const USER_AGENT: &str = concat!("riskflow/", env!("CARGO_PKG_VERSION"));

mod body;
mod error;
mod guard;
mod pacer;
mod retry;
pub mod slot;
mod url;

pub use self::url::*;
pub use body::*;
pub use error::*;
pub use guard::*;
pub use pacer::*;
pub use retry::*;

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
        assert_eq!(retry_after(429, &h, now), Some(Duration::from_secs(7)));

        let mut h = HeaderMap::new();
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert("retry-after", later.parse().unwrap());
        assert_eq!(retry_after(429, &h, now), Some(Duration::from_secs(30)));

        // Okta: reset is epoch seconds; the wait is measured from the server's Date, not ours.
        let mut h = HeaderMap::new();
        let server_now = now + Duration::from_secs(100);
        h.insert("date", httpdate::fmt_http_date(server_now).parse().unwrap());
        h.insert("x-rate-limit-reset", "1700000110".parse().unwrap());
        assert_eq!(retry_after(429, &h, now), Some(Duration::from_secs(11)));

        assert_eq!(retry_after(429, &HeaderMap::new(), now), None);
        // On a 5xx Okta's reset is the end of its rate window, not a wait: only Retry-After.
        let mut okta_500 = HeaderMap::new();
        okta_500.insert("x-rate-limit-reset", "1700000110".parse().unwrap());
        assert_eq!(retry_after(500, &okta_500, now), None);
        okta_500.insert("retry-after", "3".parse().unwrap());
        assert_eq!(
            retry_after(503, &okta_500, now),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn a_call_that_keeps_failing_backs_off_over_seconds_not_within_one() {
        let policy = RetryPolicy::default();
        let retries = policy.max_attempts - 1;
        // Full jitter waits at least half of each capped step.
        let least: Duration = (0..retries)
            .map(|n| policy.base.saturating_mul(1 << n).min(policy.max_wait) / 2)
            .sum();
        assert!(least >= Duration::from_secs(3), "{least:?}");
        for n in 0..retries {
            let b = policy.backoff(n);
            assert!(b <= policy.max_wait && b >= policy.base / 2, "{n}: {b:?}");
        }
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

    #[tokio::test]
    async fn a_private_ip_literal_is_refused_on_every_request_unless_private_urls_are_allowed() {
        let (url, hits) = scripted(vec![R200]).await;
        let guarded = Http::guarded(&ClientOptions::new(false)).unwrap();
        for target in [format!("{url}/x"), "http://[::1]:9/x".into()] {
            let call = Call::new("okta", Method::GET, "/x");
            let err = guarded
                .execute(&call, |c| c.get(&target), |_| None)
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "okta GET /x: URL not allowed: it resolves to a private address"
            );
            let once = guarded.send_once(&call, guarded.client.get(&target)).await;
            assert!(matches!(once, Err(HttpError::Blocked { .. })), "{once:?}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the server");
        // The sandbox switch lets the same request through.
        let open = Http::guarded(&ClientOptions::new(true)).unwrap();
        let call = Call::new("okta", Method::GET, "/x");
        let resp = open
            .execute(&call, |c| c.get(format!("{url}/x")), |_| None)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
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
        let mut http = Http::guarded(&ClientOptions::new(true)).unwrap();
        http.retry.base = Duration::from_millis(5);
        http
    }

    #[tokio::test]
    async fn one_attempt_never_outlives_the_calls_deadline() {
        // A server that accepts and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(sock);
            }
        });
        let started = std::time::Instant::now();
        let call = Call::new("test", Method::POST, "/create")
            .deadline(Some(std::time::Instant::now() + Duration::from_millis(300)));
        let err = quick()
            .execute(&call, |c| c.post(format!("http://{addr}/create")), |_| None)
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the 30 s client timeout was not cut to the deadline: {:?}",
            started.elapsed()
        );
        assert!(err.is_transient(), "{err}");
        // A deadline already passed sends nothing.
        let before = accepted.load(Ordering::SeqCst);
        let call = Call::new("test", Method::GET, "/x").deadline(Some(std::time::Instant::now()));
        let err = quick()
            .execute(&call, |c| c.get(format!("http://{addr}/x")), |_| None)
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert_eq!(accepted.load(Ordering::SeqCst), before);
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
    async fn a_read_answered_429_without_retry_after_five_times_is_still_read() {
        const BARE_429: &str =
            "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (url, hits) =
            scripted(vec![BARE_429, BARE_429, BARE_429, BARE_429, BARE_429, R200]).await;
        let call = Call::new("test", Method::GET, "/sessions");
        let resp = quick()
            .execute(&call, |c| c.get(format!("{url}/sessions")), |_| None)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn an_okta_5xx_is_retried_whenever_its_rate_window_ends() {
        // Okta's rate-limit headers ride on every answer; a reset 50 s away must neither be
        // waited for nor stop the retry of a 500.
        let reset = (crate::clock::now_ms() / 1000 + 50).to_string();
        let r500: &'static str = Box::leak(
            format!(
                "HTTP/1.1 500 Internal Server Error\r\nX-Rate-Limit-Limit: 600\r\nX-Rate-Limit-Remaining: 590\r\nX-Rate-Limit-Reset: {reset}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .into_boxed_str(),
        );
        let (url, hits) = scripted(vec![r500, R200]).await;
        let call = Call::new("okta", Method::GET, "/api/v1/users/me");
        let started = Instant::now();
        let resp = quick()
            .execute(&call, |c| c.get(format!("{url}/api/v1/users/me")), |_| None)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_retry_after_longer_than_the_usual_cap_is_waited_within_the_deadline() {
        const WAIT_1S: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (url, hits) = scripted(vec![WAIT_1S, R200]).await;
        let mut http = quick();
        http.retry.max_wait = Duration::from_millis(200);
        let call = Call::new("test", Method::GET, "/x")
            .deadline(Some(Instant::now() + Duration::from_secs(10)));
        let resp = http
            .execute(&call, |c| c.get(format!("{url}/x")), |_| None)
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_session_waiting_out_retry_after_gives_its_work_slot_to_another() {
        const WAIT_1S: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (slow, _) = scripted(vec![WAIT_1S, R200]).await;
        let (fast, _) = scripted(vec![R200]).await;
        let http = quick();
        let slots = slot::WorkSlots::new(1);
        let started = Instant::now();
        let deadline = Some(started + Duration::from_secs(10));
        let waiting = slots.run(async {
            let call = Call::new("test", Method::GET, "/a").deadline(deadline);
            let r = http.execute(&call, |c| c.get(format!("{slow}/a")), |_| None);
            r.await.unwrap();
            started.elapsed()
        });
        let other = slots.run(async {
            let call = Call::new("test", Method::GET, "/b").deadline(deadline);
            let r = http.execute(&call, |c| c.get(format!("{fast}/b")), |_| None);
            r.await.unwrap();
            started.elapsed()
        });
        let (a, b) = tokio::join!(waiting, other);
        assert!(a >= Duration::from_secs(1), "{a:?}");
        // The other session ran during the wait, not after it.
        assert!(b < Duration::from_millis(700), "{b:?}");
        assert_eq!(slots.available(), 1);
    }

    #[tokio::test]
    async fn a_429_for_one_resource_holds_that_path_only_and_leaves_the_client_unpaced() {
        const ISSUE_429: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nRateLimit-Reason: one-resource\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (url, hits) = scripted(vec![ISSUE_429, R200, R200]).await;
        let http = quick().with_scoped_limit(|h| {
            h.get("ratelimit-reason")
                .is_some_and(|v| v.as_bytes() == b"one-resource")
        });
        let started = Instant::now();
        let first = {
            let http = http.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let call = Call::new("test", Method::POST, "/issue/A/comment");
                let r = http
                    .execute(
                        &call,
                        |c| c.post(format!("{url}/issue/A/comment")),
                        |_| None,
                    )
                    .await;
                (r.map(|r| r.status().as_u16()).ok(), started.elapsed())
            })
        };
        // Once issue A is held, a write to issue B goes at once and the client is not paced.
        while hits.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let call = Call::new("test", Method::POST, "/issue/B/comment");
        let other = http
            .execute(
                &call,
                |c| c.post(format!("{url}/issue/B/comment")),
                |_| None,
            )
            .await
            .unwrap();
        assert_eq!(other.status(), 200);
        assert!(started.elapsed() < Duration::from_millis(700), "B waited");
        assert_eq!(http.pacer.rate(), None, "the client is not slowed");
        let (status, took) = first.await.unwrap();
        assert_eq!(status, Some(200));
        assert!(
            took >= Duration::from_millis(900),
            "A waited its Retry-After: {took:?}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_long_429_on_one_endpoint_family_holds_that_family_only() {
        const HOLD: &str = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let (url, hits) = scripted(vec![HOLD, R200, R200]).await;
        let http = quick().with_families(|m, p| format!("{m} {p}"));
        let started = Instant::now();
        let search = {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let call = Call::new("test", Method::GET, "/search");
                http.execute(&call, |c| c.get(format!("{url}/search")), |_| None)
                    .await
                    .map(|r| r.status().as_u16())
                    .ok()
            })
        };
        while hits.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let call = Call::new("test", Method::POST, "/create");
        let created = http
            .execute(&call, |c| c.post(format!("{url}/create")), |_| None)
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "create was held"
        );
        assert_eq!(search.await.unwrap(), Some(200));
        assert!(started.elapsed() >= Duration::from_millis(1900));
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

    /// A server answering every connection 200 with `len` bytes of JSON-ish filler, with a
    /// `Content-Length` or chunked (no length announced).
    async fn oversized(len: usize, chunked: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let head = if chunked {
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            .to_string()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                        )
                    };
                    if sock.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let piece = vec![b' '; 64 * 1024];
                    let mut sent = 0;
                    while sent < len {
                        let n = piece.len().min(len - sent);
                        let ok = if chunked {
                            let mut frame = format!("{n:x}\r\n").into_bytes();
                            frame.extend_from_slice(&piece[..n]);
                            frame.extend_from_slice(b"\r\n");
                            sock.write_all(&frame).await.is_ok()
                        } else {
                            sock.write_all(&piece[..n]).await.is_ok()
                        };
                        if !ok {
                            return; // the client stopped reading
                        }
                        sent += n;
                    }
                    if chunked {
                        let _ = sock.write_all(b"0\r\n\r\n").await;
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn an_answer_over_the_size_cap_is_refused_naming_the_system_and_the_cap() {
        for chunked in [false, true] {
            let url = oversized(MAX_BODY_BYTES + 1, chunked).await;
            let call = Call::new("jira", Method::GET, "/rest/api/3/search/jql");
            let resp = quick()
                .execute(
                    &call,
                    |c| c.get(format!("{url}/rest/api/3/search/jql")),
                    |_| None,
                )
                .await
                .unwrap();
            let err = read_json::<serde_json::Value>(&call, resp)
                .await
                .unwrap_err();
            assert!(
                matches!(err, HttpError::TooLarge { .. }),
                "{chunked}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                "jira GET /rest/api/3/search/jql: the answer is larger than 8 MiB, the most riskflow reads of one answer"
            );
            assert!(!err.is_transient() && err.outcome_unknown());
        }
        // At the cap exactly, the body is read (and here is no JSON: a decode error).
        let url = oversized(MAX_BODY_BYTES, true).await;
        let call = Call::new("jira", Method::GET, "/x");
        let resp = quick()
            .execute(&call, |c| c.get(format!("{url}/x")), |_| None)
            .await
            .unwrap();
        assert_eq!(read_body(&call, resp).await.unwrap().len(), MAX_BODY_BYTES);
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
