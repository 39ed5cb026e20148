//! [`ServiceNowClient`]: credentials check, create incident, find by `correlation_id`, work
//! notes, caller lookup.

use super::model::*;
use crate::connectors::ConnectorError;
use crate::http::{self, Call, Http, HttpError};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::fmt;
use std::time::Instant;
use url::Url;

/// The system name in errors and logs.
pub const SYSTEM: &str = "servicenow";

/// The pinned Table API path (v2: an empty match is `200 {"result":[]}`, not v1's 404).
pub(super) const TABLE: &str = "/api/now/v2/table";

/// The usual length of `incident.short_description`.
pub const MAX_SHORT_DESCRIPTION_CHARS: usize = 160;

/// `task.correlation_id` is a 100-character column that the instance truncates silently on
/// insert: a longer id would be stored cut, and the exact-match lookup would never find it
/// again (a duplicate incident on every run). Ids longer than this are shortened by
/// [`correlation_id`]; see docs/vendors/servicenow.md.
pub const MAX_CORRELATION_ID_CHARS: usize = 90;

/// The `correlation_id` riskflow writes and looks up for a dedup key: the key itself when it
/// fits in [`MAX_CORRELATION_ID_CHARS`], else its first characters, `~` and 16 hex digits of
/// its SHA-256: deterministic, within the column, and distinct for keys sharing a prefix.
pub fn correlation_id(key: &str) -> String {
    if key.chars().count() <= MAX_CORRELATION_ID_CHARS {
        return key.to_string();
    }
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    let keep = MAX_CORRELATION_ID_CHARS - 17;
    let prefix: String = key.chars().take(keep).collect();
    format!("{prefix}~{}", &digest[..16])
}

/// Read ServiceNow's error envelope `{"error":{"message","detail"},"status":"failure"}` into
/// one short line. Nothing else of the body is kept.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let err = v.get("error")?;
    let text = |k: &str| {
        err.get(k)
            .and_then(|s| s.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let msg = match (text("message"), text("detail")) {
        (Some(m), Some(d)) if m != d => format!("{m} ({d})"),
        (Some(m), _) => m.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => return None,
    };
    Some(match msg.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &msg[..i]),
        None => msg,
    })
}

/// Whether a value may go into an encoded query (`field=value`): no `^` (AND), `=`, `&`,
/// `@`, newlines or other control characters, and not empty.
fn query_safe(s: &str, allow_at: bool) -> bool {
    !s.trim().is_empty()
        && !s
            .chars()
            .any(|c| c == '^' || c == '=' || c == '&' || (c == '@' && !allow_at) || c.is_control())
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Control characters except newlines and tabs removed.
pub(super) fn clean_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect()
}

#[derive(Serialize)]
struct CreateIncidentBody<'a> {
    short_description: String,
    description: String,
    urgency: &'a str,
    impact: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignment_group: Option<&'a str>,
    correlation_id: &'a str,
    correlation_display: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
}

/// A `sys_journal_field` row (a work note or comment of a record).
#[derive(Debug, serde::Deserialize)]
struct JournalRecord {
    #[serde(default)]
    element_id: Option<String>,
    #[serde(default)]
    value: String,
}

#[derive(Serialize)]
struct WorkNoteBody<'a> {
    work_notes: &'a str,
}

/// A client of one ServiceNow instance with Basic auth (a "web service access only" user).
pub struct ServiceNowClient {
    http: Http,
    base: Url,
    username: String,
    password: SecretString,
}

impl fmt::Debug for ServiceNowClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceNowClient")
            .field("base", &self.base.as_str())
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ServiceNowClient {
    /// A client for the instance at `base_url` (e.g. `https://acme.service-now.com`; a path
    /// prefix is kept). No request is made yet.
    pub fn new(base_url: Url, username: String, password: SecretString, http: Http) -> Self {
        ServiceNowClient {
            http,
            base: base_url,
            username,
            password,
        }
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The link a person opens for an incident.
    pub fn incident_link(&self, sys_id: &str) -> String {
        let path = format!(
            "/nav_to.do?uri=incident.do?sys_id={}",
            http::path_segment(sys_id)
        );
        http::join(&self.base, &path)
            .map(|u| u.to_string())
            .unwrap_or(path)
    }

    pub(super) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        idempotent: bool,
        deadline: Option<Instant>,
    ) -> Result<(Call, reqwest::Response), ConnectorError> {
        let url = http::join(&self.base, path_and_query)
            .map_err(|e| ConnectorError::invalid(SYSTEM, e.to_string()))?;
        let call = Call::new(SYSTEM, method.clone(), path_and_query)
            .idempotent(idempotent)
            .deadline(deadline);
        let resp = self
            .http
            .execute(
                &call,
                |c| {
                    let rb = c
                        .request(method.clone(), url.clone())
                        .basic_auth(&self.username, Some(self.password.expose_secret()))
                        .header(reqwest::header::ACCEPT, "application/json")
                        .header(reqwest::header::CONTENT_TYPE, "application/json");
                    match &body {
                        Some(b) => rb.body(b.clone()),
                        None => rb,
                    }
                },
                error_message,
            )
            .await?;
        Ok((call, resp))
    }

    pub(super) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, ConnectorError> {
        serde_json::to_vec(v)
            .map_err(|e| ConnectorError::invalid(SYSTEM, format!("cannot encode the request: {e}")))
    }

    pub(crate) fn incident(&self, r: IncidentRecord) -> Option<Incident> {
        let sys_id = r.sys_id?;
        Some(Incident {
            link: self.incident_link(&sys_id),
            sys_id,
            number: r.number,
            correlation_id: r.correlation_id,
            state: r.state,
        })
    }

    /// Check the credentials and read access to incidents:
    /// `GET …/incident?sysparm_limit=1&sysparm_fields=sys_id&sysparm_no_count=true`.
    /// Answers `Connected to ServiceNow as <username>`.
    pub async fn verify(&self, deadline: Option<Instant>) -> Result<String, ConnectorError> {
        let path =
            format!("{TABLE}/incident?sysparm_limit=1&sysparm_fields=sys_id&sysparm_no_count=true");
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let _: Envelope<Vec<serde_json::Value>> = http::read_json(&call, resp).await?;
        Ok(format!("Connected to ServiceNow as {}", self.username))
    }

    /// `POST /api/now/v2/table/incident` → 201 `{"result":{…}}`. Checks urgency/impact
    /// (`"1"`..`"3"`) and the correlation id first. Never repeated after it may have reached
    /// the instance: on an unknown outcome the caller looks for the `correlation_id` first.
    pub async fn create_incident(
        &self,
        new: &NewIncident,
        deadline: Option<Instant>,
    ) -> Result<Incident, ConnectorError> {
        for (name, v) in [("urgency", &new.urgency), ("impact", &new.impact)] {
            if !matches!(v.as_str(), "1" | "2" | "3") {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    format!("{name} must be \"1\", \"2\" or \"3\", not {v:?}"),
                ));
            }
        }
        let cid = correlation_id(&new.correlation_id);
        Self::check_correlation_id(&cid)?;
        let short: String = one_line(&new.short_description)
            .chars()
            .take(MAX_SHORT_DESCRIPTION_CHARS)
            .collect();
        if short.is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the short description is empty",
            ));
        }
        let nonempty = |o: &Option<String>| -> Option<String> {
            o.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (caller, group, category) = (
            nonempty(&new.caller_id),
            nonempty(&new.assignment_group),
            nonempty(&new.category),
        );
        let body = Self::encode(&CreateIncidentBody {
            short_description: short,
            description: clean_text(&new.description),
            urgency: &new.urgency,
            impact: &new.impact,
            caller_id: caller.as_deref(),
            assignment_group: group.as_deref(),
            correlation_id: &cid,
            correlation_display: &new.correlation_display,
            category: category.as_deref(),
        })?;
        let path = format!("{TABLE}/incident");
        let (call, resp) = self
            .send(Method::POST, &path, Some(body), false, deadline)
            .await?;
        let env: Envelope<IncidentRecord> = http::read_json(&call, resp).await?;
        self.incident(env.result)
            .ok_or_else(|| HttpError::decode(&call, "the created incident has no sys_id").into())
    }

    fn check_correlation_id(cid: &str) -> Result<(), ConnectorError> {
        if !query_safe(cid, false) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "a correlation id must not be empty or contain ^ = & @ or line breaks",
            ));
        }
        Ok(())
    }

    /// The incident created for dedup key `key`, whose `correlation_id` is exactly
    /// [`correlation_id`]`(key)` (`cid`):
    /// `GET …/incident?sysparm_query=correlation_id=<cid>&sysparm_fields=sys_id,number,correlation_id,state&sysparm_limit=10`.
    /// Only records whose returned `correlation_id` equals `cid` count, because the instance
    /// silently ignores a query part it does not understand and would return any incidents.
    pub async fn find_by_correlation_id(
        &self,
        key: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Incident>, ConnectorError> {
        let cid = correlation_id(key);
        let cid = cid.as_str();
        Self::check_correlation_id(cid)?;
        // The serializer is not Send: finish it before any await.
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("sysparm_query", &format!("correlation_id={cid}"));
            q.append_pair("sysparm_fields", "sys_id,number,correlation_id,state");
            q.append_pair("sysparm_limit", "10");
            q.finish()
        };
        let path = format!("{TABLE}/incident?{query}");
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let env: Envelope<Vec<IncidentRecord>> = http::read_json(&call, resp).await?;
        Ok(env
            .result
            .into_iter()
            .filter(|r| r.correlation_id.as_deref() == Some(cid))
            .find_map(|r| self.incident(r)))
    }

    /// Incidents whose `correlation_id` starts with `prefix` updated at or after `since` (UTC,
    /// `YYYY-MM-DD HH:MM:SS`), oldest first, every page:
    /// `GET …/incident?sysparm_query=correlation_idSTARTSWITH<prefix>^sys_updated_on>=<since>^ORDERBYsys_updated_on`
    /// with `sysparm_offset` paging until `X-Total-Count` is reached (a short page is not the
    /// end: the limit applies before ACLs, sync-apis.md §3.3). Each record's `correlation_id`
    /// is checked again (a query part the instance does not understand silently matches all).
    pub async fn changed_incidents(
        &self,
        prefix: &str,
        since: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<super::workflow::IncidentState>, ConnectorError> {
        Self::check_correlation_id(prefix)?;
        const PAGE: usize = 100;
        let mut out: Vec<super::workflow::IncidentState> = Vec::new();
        let mut offset = 0usize;
        for _ in 0..1_000 {
            let query = {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair(
                    "sysparm_query",
                    &format!(
                        "correlation_idSTARTSWITH{prefix}^sys_updated_on>={since}^ORDERBYsys_updated_on"
                    ),
                );
                q.append_pair(
                    "sysparm_fields",
                    "sys_id,number,state,close_code,correlation_id,sys_updated_on,sys_updated_by",
                );
                q.append_pair("sysparm_exclude_reference_link", "true");
                q.append_pair("sysparm_limit", &PAGE.to_string());
                q.append_pair("sysparm_offset", &offset.to_string());
                q.finish()
            };
            let path = format!("{TABLE}/incident?{query}");
            let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
            let total = resp
                .headers()
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<usize>().ok());
            let env: Envelope<Vec<super::workflow::IncidentState>> =
                http::read_json(&call, resp).await?;
            let got = env.result.len();
            out.extend(env.result.into_iter().filter(|r| {
                r.correlation_id
                    .as_deref()
                    .is_some_and(|c| c.starts_with(prefix))
            }));
            offset += PAGE;
            match total {
                Some(t) if offset < t => continue,
                None if got == PAGE => continue,
                _ => return Ok(out),
            }
        }
        Err(ConnectorError::invalid(
            SYSTEM,
            "the list of changed incidents did not end after 1,000 pages",
        ))
    }

    /// Whether a work note of the incident contains `needle` (a marker riskflow wrote into it):
    /// `GET …/sys_journal_field?sysparm_query=element_id={sys_id}^element=work_notes^valueLIKE{needle}`,
    /// each answer checked for the needle itself (an encoded query with a part the instance does
    /// not understand silently matches more). The needle must be free of `^`, `=`, `&` and `@`.
    pub async fn work_note_contains(
        &self,
        sys_id: &str,
        needle: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        if needle.is_empty() || needle.contains(['^', '=', '&', '@']) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("a work-note marker cannot be searched for: {needle:?}"),
            ));
        }
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair(
                "sysparm_query",
                &format!("element_id={sys_id}^element=work_notes^valueLIKE{needle}"),
            );
            q.append_pair("sysparm_fields", "sys_id,element_id,value");
            q.append_pair("sysparm_limit", "10");
            q.finish()
        };
        let path = format!("{TABLE}/sys_journal_field?{query}");
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let env: Envelope<Vec<JournalRecord>> = http::read_json(&call, resp).await?;
        Ok(env
            .result
            .iter()
            .any(|r| r.element_id.as_deref() == Some(sys_id) && r.value.contains(needle)))
    }

    /// Add a work note: `PATCH …/incident/{sys_id}` `{"work_notes": text}`. Not repeated after
    /// it may have arrived (a second attempt would add the note twice).
    pub async fn add_work_note(
        &self,
        sys_id: &str,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        if sys_id.trim().is_empty() {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the incident sys_id is empty",
            ));
        }
        let text = clean_text(text);
        if text.trim().is_empty() {
            return Err(ConnectorError::invalid(SYSTEM, "the work note is empty"));
        }
        let body = Self::encode(&WorkNoteBody { work_notes: &text })?;
        let path = format!("{TABLE}/incident/{}", http::path_segment(sys_id));
        self.send(Method::PATCH, &path, Some(body), false, deadline)
            .await?;
        Ok(())
    }

    /// The `sys_user` sys_id for an email (for `caller_id`), matched exactly (ignoring case)
    /// on the returned record for the same reason as [`Self::find_by_correlation_id`].
    pub async fn user_sys_id_by_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        if !query_safe(email, true) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "an email must not be empty or contain ^ = & or line breaks",
            ));
        }
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("sysparm_query", &format!("email={email}"));
            q.append_pair("sysparm_fields", "sys_id,email");
            q.append_pair("sysparm_limit", "10");
            q.finish()
        };
        let path = format!("{TABLE}/sys_user?{query}");
        let (call, resp) = self.send(Method::GET, &path, None, true, deadline).await?;
        let env: Envelope<Vec<UserRecord>> = http::read_json(&call, resp).await?;
        Ok(env.result.into_iter().find_map(|u| {
            u.email
                .filter(|e| e.eq_ignore_ascii_case(email))
                .and(u.sys_id)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_envelope_becomes_message_and_detail() {
        let b = br#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#;
        assert_eq!(
            error_message(b).as_deref(),
            Some("User Not Authenticated (Required to provide Auth information)")
        );
        let b = br#"{"error":{"message":"Insufficient rights to query records","detail":null},"status":"failure"}"#;
        assert_eq!(
            error_message(b).as_deref(),
            Some("Insufficient rights to query records")
        );
        assert_eq!(error_message(b"<html/>"), None);
    }

    #[test]
    fn correlation_ids_that_would_change_the_query_are_refused() {
        for bad in ["a^b", "a=b", "a&b", "a@b", "a\nb", "", "  "] {
            assert!(
                ServiceNowClient::check_correlation_id(bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(ServiceNowClient::check_correlation_id("riskflow-alert-tickets-123").is_ok());
    }

    #[test]
    fn a_long_key_becomes_a_correlation_id_that_fits_the_column_and_stays_distinct() {
        let short = "riskflow-alert-tickets-123";
        assert_eq!(correlation_id(short), short);
        let exact = "k".repeat(MAX_CORRELATION_ID_CHARS);
        assert_eq!(correlation_id(&exact), exact);
        let long_a = format!("riskflow-alert-tickets-{}", "a".repeat(120));
        let long_b = format!("{long_a}b");
        let (a, b) = (correlation_id(&long_a), correlation_id(&long_b));
        assert_eq!(a.chars().count(), MAX_CORRELATION_ID_CHARS);
        assert_eq!(a, correlation_id(&long_a), "deterministic");
        assert_ne!(a, b, "keys sharing the first 100 characters stay apart");
        assert!(a.starts_with("riskflow-alert-tickets-aaa"), "{a}");
        assert!(ServiceNowClient::check_correlation_id(&a).is_ok());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = ServiceNowClient::new(
            Url::parse("https://acme.service-now.com").unwrap(),
            "admin".into(),
            SecretString::from("pw-secret-9"),
            Http::new(reqwest::Client::new()),
        );
        assert!(!format!("{c:?}").contains("pw-secret-9"));
        assert_eq!(
            c.incident_link("abc123"),
            "https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id=abc123"
        );
    }
}
