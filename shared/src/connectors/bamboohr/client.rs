//! The BambooHR API client: one employee read (the enrich step) and the credentials check.

use super::model::Employee;
use crate::connectors::ConnectorError;
use crate::connectors::hr::quote;
use crate::http::{self, Call, Http};
use reqwest::Method;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use std::time::Instant;
use url::Url;

const SYSTEM: &str = "bamboohr";

/// The path the credentials check reads: employee `0`, which BambooHR documents as "the
/// employee the API key belongs to". Without `fields` only the id comes back, so it is the
/// smallest read there is and works for every key, whereas the employee directory can be
/// switched off by the account owner (403) and `/v1/meta/*` lists can be large.
pub const VERIFY_PATH: &str = "/v1/employees/0";

/// BambooHR API client over one company's gateway URL.
#[derive(Clone)]
pub struct BambooClient {
    http: Http,
    base: Url,
    api_key: SecretString,
}

impl std::fmt::Debug for BambooClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BambooClient")
            .field("base", &self.base.as_str())
            .field("api_key", &"[REDACTED]")
            .finish()
    }
}

impl BambooClient {
    /// `base_url` is the company's gateway, e.g.
    /// `https://api.bamboohr.com/api/gateway.php/<company>`; the API key is sent as Basic
    /// `<api_key>:x`, as BambooHR documents.
    pub fn new(base_url: Url, api_key: SecretString, http: Http) -> Self {
        BambooClient {
            http,
            base: base_url,
            api_key,
        }
    }

    /// `GET /v1/employees/{id}?fields=workEmail,status,terminationDate&onlyCurrent=false`:
    /// without `onlyCurrent=false` BambooHR answers only current values of its history-table
    /// fields, so a future-dated termination would not be seen before its date
    /// (<https://documentation.bamboohr.com/reference/get-employee>).
    pub async fn employee(
        &self,
        id: &str,
        deadline: Option<Instant>,
    ) -> Result<Employee, ConnectorError> {
        let path = format!("/v1/employees/{}", http::path_segment(id));
        let url = self.url(&format!(
            "{path}?fields=workEmail,status,terminationDate&onlyCurrent=false"
        ))?;
        let call = Call::new(SYSTEM, Method::GET, path).deadline(deadline);
        let resp = self
            .http
            .execute(&call, |c| self.get(c, &url), error_message)
            .await?;
        let body: serde_json::Value = http::read_json(&call, resp).await?;
        Employee::from_json(id, &body).map_err(|e| {
            ConnectorError::invalid(SYSTEM, format!("BambooHR employee {}: {e}", quote(id)))
        })
    }

    /// Check the URL and API key by reading [`VERIFY_PATH`]; answers "Connected to BambooHR".
    pub async fn verify(&self, deadline: Option<Instant>) -> Result<String, ConnectorError> {
        let url = self.url(VERIFY_PATH)?;
        let call = Call::new(SYSTEM, Method::GET, VERIFY_PATH).deadline(deadline);
        let resp = self
            .http
            .execute(&call, |c| self.get(c, &url), error_message)
            .await?;
        // The answer must be JSON: a wrong base URL often lands on an HTML page with 200.
        let _: serde_json::Value = http::read_json(&call, resp).await?;
        Ok("Connected to BambooHR".to_string())
    }

    fn get(&self, c: &reqwest::Client, url: &Url) -> reqwest::RequestBuilder {
        c.get(url.clone())
            .basic_auth(self.api_key.expose_secret(), Some("x"))
            // BambooHR answers XML unless asked for JSON.
            .header(ACCEPT, "application/json")
    }

    fn url(&self, path_and_query: &str) -> Result<Url, ConnectorError> {
        http::join(&self.base, path_and_query)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))
    }
}

/// BambooHR puts its error text in the `X-BambooHR-Error-Message` header, which the shared
/// layer does not pass on; a JSON body with `message` or `error` is read when present.
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let msg = v
        .get("message")
        .or_else(|| v.get("error"))
        .and_then(|m| m.as_str())?;
    Some(msg.chars().take(200).collect())
}
