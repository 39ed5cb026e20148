//! `riskflow --api-url …` signs every request with SigV4 for `execute-api` from the standard
//! credential chain and shows the deployed API's answers.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;

/// `riskflow --api-url http://127.0.0.1:<port> <args>` with example AWS credentials.
fn remote(port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_riskflow"));
    cmd.arg("--api-url")
        .arg(format!("http://127.0.0.1:{port}"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL");
    cmd
}

/// A one-request HTTP server that records the request head and answers `body`.
fn one_shot(body: &'static str) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut sock, _)) = listener.accept() {
            let mut buf = vec![0u8; 16384];
            let n = sock.read(&mut buf).unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes());
        }
    });
    (port, rx)
}

#[test]
fn connections_list_against_a_deployed_api_is_signed_with_sigv4_for_execute_api() {
    let (port, rx) = one_shot(
        r#"{"connections":[{"kind":"jira","status":"connected","message":"Connected to Jira as Sec Bot"}],"last_runs":{}}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_riskflow"))
        .args([
            "--api-url",
            &format!("http://127.0.0.1:{port}"),
            "connections",
            "list",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("jira") && stdout.contains("Connected to Jira as Sec Bot"),
        "{stdout}"
    );
    let head = rx.recv().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /connections "), "{head}");
    assert!(
        head.contains("authorization: aws4-hmac-sha256 credential=akidexample/")
            && head.contains("/eu-west-1/execute-api/aws4_request"),
        "{head}"
    );
    assert!(head.contains("x-amz-date:"), "{head}");
    // The secret key itself never travels.
    assert!(!head.contains("wjalrxutnfemi"), "{head}");
}

#[test]
fn failed_items_are_listed_from_a_deployed_api_and_backfill_is_refused_with_a_clear_message() {
    let (port, rx) = one_shot(
        r#"{"items":[{"flow":"alert-tickets","key":"s-1","status":"failed","attempts":5,"last_error":"Jira answered 400","updated_at":"2026-12-01T00:00:00Z"}],"next":null}"#,
    );
    let out = remote(port, &["items", "list", "--flow", "alert-tickets"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Jira answered 400"), "{stdout}");
    let head = rx.recv().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /items?"), "{head}");
    assert!(
        head.contains("flow=alert-tickets") && head.contains("status=failed"),
        "{head}"
    );
    assert!(
        head.contains("authorization: aws4-hmac-sha256 credential=akidexample/"),
        "{head}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_riskflow"))
        .args([
            "--api-url",
            "https://abc.execute-api.eu-west-1.amazonaws.com",
            "backfill",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("works on a local data dir only"));
}

/// One whole request (head and `content-length` body), so the socket closes with nothing unread.
fn read_request(sock: &mut std::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&data).into_owned(),
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// A server answering its requests with `bodies` in turn (200, JSON), recording each request.
fn serve_pages(bodies: Vec<String>) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for body in bodies {
            let Ok((mut sock, _)) = listener.accept() else {
                break;
            };
            let _ = tx.send(read_request(&mut sock));
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes());
        }
    });
    (port, rx)
}

#[test]
fn audit_against_a_deployed_api_follows_the_cursor_through_empty_quarters_to_the_end() {
    let entry = r#"{"at":"2026-01-01T00:00:00Z","flow":"alert-tickets","system":"jira","action":"create_ticket","target":"SEC-1","reason":"session s-1","result":"ok"}"#;
    let last = r#"{"at":"2026-07-01T00:00:00Z","flow":"alert-tickets","system":"jira","action":"create_ticket","target":"SEC-2","reason":"session s-2","result":"ok"}"#;
    // The second quarter holds nothing: an empty page with a cursor is not the end.
    let (port, rx) = serve_pages(vec![
        format!(r#"{{"entries":[{entry}],"next":"Y3Vyc29yLTE"}}"#),
        r#"{"entries":[],"next":"Y3Vyc29yLTI"}"#.to_string(),
        format!(r#"{{"entries":[{last}],"next":null}}"#),
    ]);
    let args = [
        "audit",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-01",
        "--format",
        "csv",
    ];
    let out = remote(port, &args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(
        rows[0].contains("SEC-1") && rows[1].contains("SEC-2"),
        "{stdout}"
    );
    let heads: Vec<String> = rx.try_iter().collect();
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(!heads[0].contains("cursor="), "{}", heads[0]);
    assert!(heads[1].contains("cursor=Y3Vyc29yLTE"), "{}", heads[1]);
    assert!(heads[2].contains("cursor=Y3Vyc29yLTI"), "{}", heads[2]);
    for h in &heads {
        assert!(
            h.contains("from=2026-01-01") && h.contains("to=2026-12-01"),
            "{h}"
        );
    }
}

/// A server answering every request with `307 Temporary Redirect` to `/elsewhere` on itself,
/// and recording each request (head and body) it receives.
fn redirecting_server() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { break };
            let _ = tx.send(read_request(&mut sock));
            let resp = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{port}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = sock.write_all(resp.as_bytes());
        }
    });
    (port, rx)
}

#[test]
fn a_redirect_from_the_api_is_an_error_naming_its_location_and_nothing_is_sent_again() {
    let (port, rx) = redirecting_server();
    let args = [
        "connections",
        "connect",
        "jira",
        "--set",
        "url=https://acme.atlassian.net",
        "--set",
        "email=secops@acme.com",
        "--set",
        "project_key=SEC",
    ];
    let mut child = remote(port, &args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"api_token=redirect-canary-token\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("307") && stderr.contains(&format!("http://127.0.0.1:{port}/elsewhere")),
        "{stderr}"
    );
    // The server answered before the CLI could end: every request it got is recorded by now.
    let requests: Vec<String> = rx.try_iter().collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("PUT /connections/jira "),
        "{requests:?}"
    );
    assert!(!stderr.contains("redirect-canary-token"));
}
