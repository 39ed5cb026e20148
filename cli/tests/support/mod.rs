//! Shared helpers of the `riskflow` binary's tests: a `riskflow dev` child process that is
//! killed when dropped, a raw HTTP/1.1 client (so a test can send any `Host` header), and
//! running one-shot CLI commands.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use riskflow::testing::TempDir;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_riskflow")
}

/// The cargo target dir (where screenshots go): the binary sits in `<target>/<profile>/`.
pub fn target_dir() -> PathBuf {
    Path::new(bin())
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in <target>/<profile>/")
        .to_path_buf()
}

/// A running `riskflow dev --sandbox`, killed (and reaped) when dropped, also when a test
/// fails half-way.
pub struct DevServer {
    child: Child,
    pub port: u16,
    pub token: String,
    /// The sandbox's base URL, as printed at start.
    pub sandbox_url: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(r: impl Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => into.lock().unwrap().push(l),
                Err(_) => break,
            }
        }
    });
}

impl DevServer {
    /// Start `riskflow dev --sandbox --port 0 --interval <interval>` on `data_dir` and wait
    /// until it prints its page URL (port and token).
    pub fn start(data_dir: &Path, interval: u64) -> DevServer {
        let interval = interval.to_string();
        DevServer::start_with(data_dir, &["--sandbox", "--interval", &interval])
    }

    /// Start `riskflow dev --port 0 <args>` on `data_dir`, without RISKFLOW_ALLOW_PRIVATE_URLS,
    /// and wait until it prints its page URL (and the sandbox's, with `--sandbox`).
    pub fn start_with(data_dir: &Path, args: &[&str]) -> DevServer {
        let mut child = Command::new(bin())
            .args(["dev", "--port", "0"])
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("RISKFLOW_DATA_DIR")
            .env_remove("RISKFLOW_ALLOW_PRIVATE_URLS")
            .env("RISKFLOW_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("riskflow dev starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), stdout.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        let mut server = DevServer {
            child,
            port: 0,
            token: String::new(),
            sandbox_url: String::new(),
            stdout,
            stderr,
        };
        let line = server.wait_for_line("Data Sources page: ", Duration::from_secs(60));
        let url = line
            .split_once("Data Sources page: ")
            .map(|(_, u)| u.trim().to_string())
            .unwrap();
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("the page URL is on 127.0.0.1: {url}"));
        let (port, token) = rest
            .split_once("/#token=")
            .unwrap_or_else(|| panic!("the page URL carries the token in its fragment: {url}"));
        server.port = port.parse().expect("a port");
        server.token = token.to_string();
        assert!(server.token.len() >= 32, "a long token: {url}");
        if !args.contains(&"--sandbox") {
            return server;
        }
        let sb = server.wait_for_line("sandbox: ", Duration::from_secs(5));
        server.sandbox_url = sb
            .rsplit_once(" at ")
            .map(|(_, u)| u.trim().to_string())
            .expect("the sandbox URL");
        server
    }

    pub fn page_url(&self) -> String {
        format!("http://127.0.0.1:{}/#token={}", self.port, self.token)
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }

    /// The first stdout line containing `needle`, waiting up to `timeout`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "riskflow dev exited ({status}) before printing '{needle}'\n{}",
                    self.output()
                );
            }
            if Instant::now() > end {
                panic!(
                    "riskflow dev did not print '{needle}' within {timeout:?}\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A request with the right Host header and, when `auth`, the token.
    pub fn request(&self, method: &str, path: &str, auth: bool, body: Option<&str>) -> Reply {
        let host = format!("127.0.0.1:{}", self.port);
        let bearer = format!("Bearer {}", self.token);
        let mut headers: Vec<(&str, &str)> = vec![("Host", &host)];
        if auth {
            headers.push(("Authorization", &bearer));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        http(self.port, method, path, &headers, body.unwrap_or(""))
    }

    /// Start a dry run of `flow` through `POST /runs/{flow}` (answered 202 in the background)
    /// and wait until it is recorded; returns `GET /runs?flow=<flow>`.
    pub fn dry_run(&self, flow: &str) -> serde_json::Value {
        let r = self.request(
            "POST",
            &format!("/runs/{flow}"),
            true,
            Some(r#"{"dry_run": true}"#),
        );
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.json()["message"], format!("{flow} started (dry run)"));
        let end = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let runs = self
                .request("GET", &format!("/runs?flow={flow}"), true, None)
                .json();
            if runs["runs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["dry_run"] == true)
            {
                return runs;
            }
            assert!(
                std::time::Instant::now() < end,
                "the dry run was recorded: {runs}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request to 127.0.0.1:port with exactly the headers given (none added but
/// `Content-Length` and `Connection: close`).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP answer: {text}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The result of a one-shot CLI command.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run `riskflow --data-dir <dir> <args>` with `stdin` as standard input, private URLs allowed
/// (the sandbox is on loopback).
pub fn riskflow(dir: &Path, args: &[&str], stdin: &str) -> Run {
    riskflow_with(dir, args, stdin, Some("true"))
}

/// [`riskflow`] with `RISKFLOW_ALLOW_PRIVATE_URLS` set to `allow_private`, or unset.
pub fn riskflow_with(dir: &Path, args: &[&str], stdin: &str, allow_private: Option<&str>) -> Run {
    let mut cmd = Command::new(bin());
    match allow_private {
        Some(v) => cmd.env("RISKFLOW_ALLOW_PRIVATE_URLS", v),
        None => cmd.env_remove("RISKFLOW_ALLOW_PRIVATE_URLS"),
    };
    let mut child = cmd
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("RISKFLOW_DATA_DIR")
        .env("RISKFLOW_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("riskflow starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("riskflow ends");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// Like [`riskflow`], asserting success.
pub fn riskflow_ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let r = riskflow(dir, args, stdin);
    assert!(
        r.ok,
        "riskflow {args:?} failed\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}
