//! Helpers shared by the HTTP tests.

use riskflow_sandbox::{Sandbox, creds, seed_demo};
use serde_json::Value;

/// A sandbox on a free port with the demo data loaded.
pub async fn demo() -> Sandbox {
    let sb = Sandbox::start(0).await.expect("start sandbox");
    seed_demo(&sb.state());
    sb
}

/// A plain HTTP client (no proxies from the environment).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// Fetch an Incydr bearer token from `base` (root or `/incydr`).
pub async fn incydr_token(c: &reqwest::Client, base: &str) -> String {
    let v: Value = c
        .post(format!("{base}/v1/oauth"))
        .basic_auth(creds::INCYDR_CLIENT_ID, Some(creds::INCYDR_CLIENT_SECRET))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// Send a request and read its answer as JSON (panics on a transport or JSON error).
pub async fn json_of(rb: reqwest::RequestBuilder) -> Value {
    rb.send().await.unwrap().json().await.unwrap()
}

/// A header as a string.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Minimal ADF document with one paragraph.
pub fn adf(text: &str) -> Value {
    serde_json::json!({"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":text}]}]})
}
