//! The Data Sources page end to end in headless Chromium, driven over WebDriver (chromedriver):
//! a failed connect shows Jira's answer in the dialog, a good one the Connected badge and the
//! success banner, and Disconnect (after the confirm) the Disconnected badge.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`apt-get install chromium chromium-driver`);
//! without them this test fails and says so. `RISKFLOW_CHROMIUM` and `RISKFLOW_CHROMEDRIVER`
//! point at other binaries.

mod support;

use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{DevServer, TempDir};

const INSTALL: &str =
    "install them with: apt-get update && apt-get install -y chromium chromium-driver";

/// A program from an environment variable or the first of `names` on PATH.
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ends the browser session when dropped (also when the test fails), so no Chromium is left
/// behind: killing chromedriver alone would orphan it.
struct SessionGuard {
    driver_port: u16,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.driver_port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.id, self.driver_port
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
}

/// A WebDriver session (the few W3C commands this test needs).
struct Session {
    http: reqwest::Client,
    base: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Session {
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {v}"
        );
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.cmd(reqwest::Method::GET, path, None).await
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT].as_str().expect("an element id").to_string()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Wait until `script` returns something truthy (and not "") and return it.
    async fn wait_js(&self, what: &str, script: &str) -> Value {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.js(script).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > end {
                let body = self.js("return document.body.innerText").await;
                panic!("timed out waiting for {what}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn badge(&self, kind: &str) -> String {
        self.js(&format!(
            "const b = document.querySelector('#conn-{kind} .badge'); return b ? b.textContent : null"
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    async fn screenshot(&self, to: &Path) {
        let b64 = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 PNG"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(to, png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_sources_page_connects_reports_errors_and_disconnects_jira() {
    let chromium = find_program("RISKFLOW_CHROMIUM", &["chromium", "chromium-browser"])
        .unwrap_or_else(|| panic!("chromium is not installed; {INSTALL}"));
    let chromedriver = find_program("RISKFLOW_CHROMEDRIVER", &["chromedriver"])
        .unwrap_or_else(|| panic!("chromedriver is not installed; {INSTALL}"));

    let dir = TempDir::new("riskflow-page");
    let dev = DevServer::start(&dir.path().join("data"), 3600);
    // Start from a disconnected Jira, so each state change shows on its badge.
    let r = dev.request("DELETE", "/connections/jira", true, None);
    assert_eq!(r.status, 200, "{}", r.body);

    let port = free_port();
    let driver = Driver {
        child: Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver ({}) does not start: {e}; {INSTALL}",
                    chromedriver.display()
                )
            }),
        port,
    };
    let http = reqwest::Client::new();
    let status_url = format!("http://127.0.0.1:{}/status", driver.port);
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(&status_url).send().await
            && let Ok(v) = r.json::<Value>().await
            && v["value"]["ready"] == true
        {
            break;
        }
        assert!(Instant::now() < end, "chromedriver did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let profile = dir.path().join("chromium-profile");
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "unhandledPromptBehavior": "ignore",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--no-proxy-server", "--window-size=1100,1300",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    }}});
    let resp = http
        .post(format!("http://127.0.0.1:{}/session", driver.port))
        .json(&caps)
        .send()
        .await
        .expect("a new session");
    let v: Value = resp.json().await.unwrap();
    let id = v["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("chromium did not start under chromedriver: {v}; {INSTALL}"))
        .to_string();
    let _session = SessionGuard {
        driver_port: driver.port,
        id: id.clone(),
    };
    let s = Session {
        http: http.clone(),
        base: format!("http://127.0.0.1:{}/session/{id}", driver.port),
    };
    s.goto(&dev.page_url()).await;
    s.wait_js(
        "the list",
        "return document.querySelectorAll('#list .card').length === 8",
    )
    .await;
    let url = s.js("return location.href").await;
    assert!(
        !url.as_str().unwrap().contains("token"),
        "the token is taken out of the address bar: {url}"
    );
    assert_eq!(s.badge("jira").await, "Disconnected");
    assert_eq!(s.badge("incydr").await, "Connected");
    let title = s
        .js("return document.querySelector('#conn-jira h2').textContent")
        .await;
    assert_eq!(title, "Jira Cloud");

    // Bad credentials: Jira's answer in the dialog, which stays open.
    s.click("button[data-kind=jira]").await;
    assert_eq!(
        s.js("return document.getElementById('dialog').open").await,
        true
    );
    assert_eq!(
        s.js("return document.getElementById('dialog-title').textContent")
            .await,
        "Connect Jira Cloud"
    );
    let kept = s
        .js("return document.querySelector('#fields [name=url]').value")
        .await;
    assert!(
        kept.as_str().unwrap().ends_with("/jira"),
        "the kept settings fill the form: {kept}"
    );
    assert_eq!(
        s.js("return document.querySelector('#fields [name=api_token]').type")
            .await,
        "password"
    );
    s.type_into("#fields [name=api_token]", "not-the-token")
        .await;
    s.click("#save").await;
    let err = s
            .wait_js(
                "the error in the dialog",
                "const t = document.getElementById('dialog-error').textContent; return t === 'Verifying…' ? '' : t",
            )
            .await;
    assert_eq!(err, "Jira rejected the credentials (401)");
    assert_eq!(
        s.js("return document.getElementById('dialog').open").await,
        true,
        "the dialog stays open to fix the input"
    );
    // The refused attempt shows behind the dialog too.
    s.wait_js(
        "the Verification failed badge",
        "const b = document.querySelector('#conn-jira .badge'); return b && b.textContent === 'Verification failed'",
    )
    .await;
    s.screenshot(&support::target_dir().join("data-sources-dialog-error.png"))
        .await;

    // Good credentials: the dialog closes, the badge and the banner say so.
    s.type_into(
        "#fields [name=api_token]",
        riskflow_sandbox::creds::JIRA_API_TOKEN,
    )
    .await;
    s.click("#save").await;
    s.wait_js(
            "the Connected badge",
            "const b = document.querySelector('#conn-jira .badge'); return b && b.textContent === 'Connected'",
        )
        .await;
    assert_eq!(
        s.js("return document.getElementById('dialog').open").await,
        false
    );
    let banner = s
            .js("const b = document.getElementById('banner'); return [b.className, b.textContent, b.offsetHeight > 0]")
            .await;
    assert_eq!(banner[0], "ok");
    assert!(
        banner[1]
            .as_str()
            .unwrap()
            .starts_with("Connected to Jira as "),
        "{banner}"
    );
    assert_eq!(banner[2], true, "the banner is visible");
    let msg = s
        .js("return document.querySelector('#conn-jira .msg').textContent")
        .await;
    assert!(msg.as_str().unwrap().starts_with("Connected to Jira as "));
    s.screenshot(&support::target_dir().join("data-sources-page.png"))
        .await;

    // Disconnect, accepting the confirm dialog.
    s.click("button[data-disconnect=jira]").await;
    let text = s.get("/alert/text").await;
    assert!(
        text.as_str().unwrap().starts_with("Disconnect Jira Cloud?"),
        "{text}"
    );
    s.post("/alert/accept", json!({})).await;
    s.wait_js(
            "the Disconnected badge",
            "const b = document.querySelector('#conn-jira .badge'); return b && b.textContent === 'Disconnected'",
        )
        .await;
    let banner = s
        .js("return document.getElementById('banner').textContent")
        .await;
    assert!(
        banner
            .as_str()
            .unwrap()
            .starts_with("Disconnected Jira Cloud"),
        "{banner}"
    );
    assert_eq!(
        s.js("return document.querySelector('button[data-disconnect=jira]') === null")
            .await,
        true,
        "nothing left to disconnect"
    );
    // The server agrees.
    let r = dev.request("GET", "/connections/jira", true, None);
    assert_eq!(r.json()["status"], "disconnected");
    s.screenshot(&support::target_dir().join("data-sources-disconnected.png"))
        .await;
}
