//! The Workday RaaS client: pull one custom report as JSON.

use super::model::{FieldMapping, WorkdayRow, parse_report, read_report};
use crate::connectors::ConnectorError;
use crate::http::{self, Call, Http};
use reqwest::Method;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use std::time::Instant;
use url::Url;

const SYSTEM: &str = "workday";
/// The largest report answer read: a RaaS report has no paging, and 20,000 rows of a dozen
/// columns are about 8 MB of JSON (more than the 8 MB other vendors' answers are held to).
pub const MAX_REPORT_BYTES: usize = 32 * 1024 * 1024;

/// Client for one Report-as-a-Service URL, with the Integration System User's credentials.
#[derive(Clone)]
pub struct WorkdayClient {
    http: Http,
    report_url: Url,
    username: String,
    password: SecretString,
}

impl std::fmt::Debug for WorkdayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkdayClient")
            .field("report_url", &self.report_url.path())
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl WorkdayClient {
    /// `report_url` is the report's web-service URL,
    /// `https://<wd-host>/ccx/service/customreport2/<tenant>/<owner>/<Report_Name>`, possibly
    /// with prompt parameters (`?Effective_as_of_Date=…`), which are kept. `username` is the
    /// integration system user's; Workday authenticates it as `ISU_name@tenant`, so a bare
    /// name gets `@<tenant>` from the report URL (see [`WorkdayClient::basic_user`]).
    pub fn new(report_url: Url, username: String, password: SecretString, http: Http) -> Self {
        WorkdayClient {
            http,
            report_url,
            username,
            password,
        }
    }

    /// The user name sent with HTTP Basic: Workday's web services authenticate an integration
    /// system user as `user@tenant` and refuse the bare name with 401 (Workday's integration
    /// documentation is behind the Workday Community login; docs/vendors/workday.md), so a
    /// name without `@` gets the tenant of the report URL
    /// (`/ccx/service/customreport2/<tenant>/…`); a name with `@` is sent as typed.
    pub fn basic_user(&self) -> String {
        if self.username.contains('@') {
            return self.username.clone();
        }
        let tenant = self.report_url.path_segments().and_then(|mut s| {
            s.find(|seg| *seg == "customreport2")?;
            s.next().filter(|t| !t.is_empty())
        });
        match tenant {
            Some(t) => format!("{}@{t}", self.username),
            None => self.username.clone(),
        }
    }

    /// The URL actually requested: the report URL with `format=json` (replacing any other
    /// `format`), every other query parameter kept in order.
    pub fn request_url(&self) -> Url {
        let kept: Vec<(String, String)> = self
            .report_url
            .query_pairs()
            .filter(|(k, _)| k != "format")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut url = self.report_url.clone();
        url.set_query(None);
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            q.append_pair("format", "json");
        }
        url
    }

    /// `GET <report_url>?…&format=json` with Basic auth: the answer's body, at most
    /// [`MAX_REPORT_BYTES`].
    pub async fn fetch_body(&self, deadline: Option<Instant>) -> Result<Vec<u8>, ConnectorError> {
        let url = self.request_url();
        let call = Call::new(SYSTEM, Method::GET, self.report_url.path()).deadline(deadline);
        let user = self.basic_user();
        let resp = self
            .http
            .execute(
                &call,
                |c| {
                    c.get(url.clone())
                        .basic_auth(&user, Some(self.password.expose_secret()))
                        .header(ACCEPT, "application/json")
                },
                error_message,
            )
            .await?;
        Ok(http::read_body_within(&call, resp, MAX_REPORT_BYTES).await?)
    }

    /// The report pulled and read strictly ([`parse_report`]: every row must read).
    pub async fn fetch_report(
        &self,
        mapping: &FieldMapping,
        deadline: Option<Instant>,
    ) -> Result<Vec<WorkdayRow>, ConnectorError> {
        parse_report(&self.fetch_body(deadline).await?, mapping)
    }

    /// Check the URL, the credentials and the mapping by pulling the report once; answers
    /// "Connected to Workday: report has N rows", saying how many rows cannot be read and why
    /// the first cannot (a bad row is the report's to fix; the pulls report it, row by row,
    /// and keep the employee's previous entry). An answer that is not a RaaS report is refused.
    pub async fn verify(
        &self,
        mapping: &FieldMapping,
        deadline: Option<Instant>,
    ) -> Result<String, ConnectorError> {
        let body = self.fetch_body(deadline).await?;
        let read = read_report(&body, mapping)?;
        if read
            .without_report_entry
            .is_some_and(|keys| !keys.is_empty())
        {
            // `{}` is an empty report; another object is not a RaaS report at all.
            parse_report(&body, mapping)?;
        }
        let n = read.rows.len() + read.problems.len();
        let mut msg = format!(
            "Connected to Workday: report has {n} row{}",
            if n == 1 { "" } else { "s" }
        );
        if let Some(first) = read.problems.first() {
            msg.push_str(&format!(
                "; {} cannot be read (first: {})",
                read.problems.len(),
                first.problem
            ));
        }
        Ok(msg)
    }
}

/// Workday's REST-style errors carry `{"error": "..."}` (sometimes with `errors[]`); SOAP
/// faults and HTML pages yield nothing.
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let msg = v.get("error").and_then(|m| m.as_str())?;
    Some(msg.chars().take(200).collect())
}
