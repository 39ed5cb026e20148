//! `riskflow dev --sandbox` as a person starts it: every job acts on the sandbox within the
//! first minute, and the local server keeps to its local-only rules (Host, Origin, token, the
//! data dir's modes).

mod support;

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use support::{DevServer, TempDir, http};

#[test]
fn dev_with_the_sandbox_runs_every_job_against_it_within_a_minute() {
    let dir = TempDir::new("riskflow-dev-jobs");
    let data = dir.path().join("data");
    let mut dev = DevServer::start(&data, 5);
    // Every system was connected at start.
    for kind in [
        "incydr",
        "jira",
        "servicenow",
        "okta",
        "workday",
        "adp",
        "bamboohr",
        "generic",
    ] {
        let line = dev.wait_for_line(&format!("connect {kind}: "), Duration::from_secs(5));
        assert!(
            line.contains("Connected") || line.contains("saved"),
            "{kind} connected at start: {line}\n{}",
            dev.output()
        );
    }
    let started = Instant::now();
    for needle in ["tickets_created=", "watchlist_adds=", "okta_group_adds="] {
        let left = Duration::from_secs(60).saturating_sub(started.elapsed());
        dev.wait_for_line(needle, left);
    }

    // The runs are there through the API, each flow with what it did.
    let r = dev.request("GET", "/runs?limit=50", true, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let runs = r.json()["runs"].as_array().cloned().unwrap();
    let acted = |flow: &str, count: &str| {
        runs.iter()
            .any(|run| run["flow"] == flow && run["counts"][count].as_u64().unwrap_or(0) > 0)
    };
    assert!(acted("alert-tickets", "tickets_created"), "{runs:#?}");
    assert!(acted("hr-departures", "watchlist_adds"), "{runs:#?}");
    assert!(acted("departing-response", "okta_group_adds"), "{runs:#?}");
    let r = dev.request("GET", "/runs?flow=departing-response&limit=1", true, None);
    assert_eq!(r.json()["runs"].as_array().unwrap().len(), 1);

    // And the sandbox holds the results.
    let port: u16 = dev
        .sandbox_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the sandbox port");
    let state = http(
        port,
        "GET",
        "/_control/state",
        &[("Host", &format!("127.0.0.1:{port}"))],
        "",
    )
    .json();
    assert!(
        !state["jira_issues"].as_array().unwrap().is_empty(),
        "Jira issues were created"
    );
    assert!(
        !state["servicenow_incidents"].as_array().unwrap().is_empty(),
        "ServiceNow incidents were created"
    );
    let departing = state["okta_group_members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g.to_string()
                .contains(riskflow_sandbox::OKTA_DEPARTING_GROUP_ID)
        })
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        departing
            .to_string()
            .contains(riskflow_sandbox::OKTA_DEPARTING_USER_ID),
        "the departing user is in the low-permission group: {departing}"
    );
    // The audit trail saw it.
    let audit = dev.request("GET", "/audit", true, None).json();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"create_ticket"), "{actions:?}");
    assert!(actions.contains(&"okta_group_add"), "{actions:?}");
}

#[test]
fn the_local_server_answers_only_its_own_host_and_origin_and_only_with_the_token() {
    let dir = TempDir::new("riskflow-dev-guard");
    let data = dir.path().join("data");
    // A data dir that exists with broader bits is narrowed to 0700.
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dev = DevServer::start(&data, 3600);
    let port = dev.port;
    let own = format!("127.0.0.1:{port}");
    let bearer = format!("Bearer {}", dev.token);

    // The right host, origin and token: answered.
    let r = dev.request("GET", "/connections", true, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["connections"].as_array().unwrap().len(), 8);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let local = format!("localhost:{port}");
    let r = http(
        port,
        "GET",
        "/connections",
        &[("Host", &local), ("Authorization", &bearer)],
        "",
    );
    assert_eq!(r.status, 200, "localhost:<port> is the same server");
    let origin = format!("http://127.0.0.1:{port}");
    let r = http(
        port,
        "GET",
        "/connections",
        &[
            ("Host", &own),
            ("Origin", &origin),
            ("Authorization", &bearer),
        ],
        "",
    );
    assert_eq!(r.status, 200, "its own origin is accepted");

    // A run started through the API runs in the background of the server.
    dev.dry_run("hr-departures");

    // A foreign Host (DNS rebinding) is refused, even with the token.
    for host in [
        format!("evil.example:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        String::new(),
    ] {
        let r = http(
            port,
            "GET",
            "/connections",
            &[("Host", &host), ("Authorization", &bearer)],
            "",
        );
        assert!(
            r.status >= 400 && r.status < 500,
            "Host '{host}' is refused: {} {}",
            r.status,
            r.body
        );
        assert!(
            !r.body.contains("connections\""),
            "no data for Host '{host}'"
        );
        let page = http(port, "GET", "/", &[("Host", &host)], "");
        assert!(page.status >= 400, "no page for Host '{host}'");
    }
    let r = http(
        port,
        "GET",
        "/connections",
        &[
            ("Host", &format!("evil.example:{port}")),
            ("Authorization", &bearer),
        ],
        "",
    );
    assert_eq!(r.status, 421, "{}", r.body);
    assert_eq!(
        r.json()["message"],
        "this server only answers to 127.0.0.1 or localhost on its own port"
    );

    // A foreign Origin is refused with 403, on the API and on the webhook.
    for origin in [
        "http://evil.example".to_string(),
        format!("http://evil.example:{port}"),
        format!("https://127.0.0.1:{port}"),
        "null".to_string(),
    ] {
        let r = http(
            port,
            "PUT",
            "/connections/jira",
            &[
                ("Host", &own),
                ("Origin", &origin),
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            "{}",
        );
        assert_eq!(r.status, 403, "Origin '{origin}': {}", r.body);
        assert_eq!(r.json()["message"], "cross-origin requests are refused");
    }
    let r = http(
        port,
        "POST",
        "/webhooks/hr/generic",
        &[("Host", &own), ("Origin", "http://evil.example")],
        "{}",
    );
    assert_eq!(r.status, 403);

    // No token, a wrong one, or the token elsewhere than the Authorization header: 401.
    let wrong = format!("Bearer {}", "0".repeat(dev.token.len()));
    let basic = format!("Basic {}", dev.token);
    let cases: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/connections".into(), vec![("Host", &own)]),
        (
            "/connections".into(),
            vec![("Host", &own), ("Authorization", &wrong)],
        ),
        (
            "/connections".into(),
            vec![("Host", &own), ("Authorization", &basic)],
        ),
        (
            "/connections".into(),
            vec![("Host", &own), ("Authorization", &dev.token)],
        ),
        (
            format!("/connections?token={}", dev.token),
            vec![("Host", &own)],
        ),
        ("/runs".into(), vec![("Host", &own)]),
        ("/audit".into(), vec![("Host", &own)]),
        ("/connections/jira".into(), vec![("Host", &own)]),
    ];
    for (path, headers) in &cases {
        let r = http(port, "GET", path, headers, "");
        assert_eq!(r.status, 401, "{path} {headers:?}: {}", r.body);
        assert_eq!(
            r.json()["message"],
            "send the token printed at start as 'Authorization: Bearer <token>'"
        );
    }
    let r = http(port, "DELETE", "/connections/jira", &[("Host", &own)], "");
    assert_eq!(r.status, 401, "a change without the token is refused");
    assert_eq!(
        dev.request("GET", "/connections/jira", true, None).json()["status"],
        "connected",
        "and changed nothing"
    );

    // The page and the health check need no token; the page carries none.
    let page = dev.request("GET", "/", false, None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>riskflow · Data Sources</title>"));
    assert!(
        !page.body.contains(&dev.token),
        "the token is not in the page"
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let health = dev.request("GET", "/health", false, None);
    assert_eq!(health.status, 200);
    assert_eq!(health.body, r#"{"status":"ok"}"#);

    // Only 127.0.0.1 listens.
    assert!(
        std::net::TcpStream::connect(("::1", port)).is_err(),
        "nothing answers on [::1]:{port}"
    );

    // The data dir is 0700, the secrets file 0600, and it holds the connections' secrets.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir mode");
    let secrets = data.join("secrets.json");
    assert_eq!(mode(&secrets), 0o600, "secrets file mode");
    assert!(
        std::fs::read_to_string(&secrets)
            .unwrap()
            .contains(riskflow_sandbox::creds::JIRA_API_TOKEN)
    );
    // No secret is in the state database.
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "secrets.json" {
            continue;
        }
        let bytes = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).to_string();
        for secret in [
            riskflow_sandbox::creds::JIRA_API_TOKEN,
            riskflow_sandbox::creds::INCYDR_CLIENT_SECRET,
            riskflow_sandbox::creds::OKTA_API_TOKEN,
            riskflow_sandbox::creds::SERVICENOW_PASSWORD,
        ] {
            assert!(!bytes.contains(secret), "{secret} in {}", path.display());
        }
    }
    // Nor in anything the server printed.
    let out = dev.output();
    for secret in [
        riskflow_sandbox::creds::JIRA_API_TOKEN,
        riskflow_sandbox::creds::INCYDR_CLIENT_SECRET,
        riskflow_sandbox::creds::OKTA_API_TOKEN,
    ] {
        assert!(!out.contains(secret), "{secret} printed:\n{out}");
    }
}
