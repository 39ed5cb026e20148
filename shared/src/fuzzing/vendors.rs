//! Vendor answers: Incydr, Jira, ServiceNow and Okta, each decoded by the model types and
//! helpers its client uses (the whole input is one answer body).

use super::{assert_round_trips, assert_says_something};
use crate::connectors::incydr::alerts::{to_alert_session, to_file_event_summary};
use crate::connectors::incydr::model::{SessionEventsResponse, TokenResponse};
use crate::connectors::incydr::{self, Actor, Session, SessionPage, User, WatchlistPage};
use crate::connectors::jira::createmeta::{PriorityMapping, map_priorities};
use crate::connectors::jira::model::{CreateMetaPage, CreatedIssueWire, SearchPage, TenantInfo};
use crate::connectors::jira::{self, CommentRef, CreateMetaField, CreateMetaIssueType, Myself};
use crate::connectors::okta::oauth::AccessToken;
use crate::connectors::okta::{self, Group, RateLimit};
use crate::connectors::servicenow::model::{Envelope, IncidentRecord, UserRecord};
use crate::connectors::servicenow::{self, ServiceNowClient};
use crate::http::{self, Call, HttpError};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue, LINK};
use secrecy::SecretString;
use std::sync::OnceLock;
use std::time::Instant;

/// The answer decoded as `T` the way the client decodes it, or the decode error.
fn decode<T: serde::de::DeserializeOwned>(
    system: &'static str,
    path: &str,
    data: &[u8],
) -> Result<T, HttpError> {
    let decoded = http::decode_json(&Call::new(system, Method::GET, path), data);
    if let Err(e) = &decoded {
        assert_says_something(e);
    }
    decoded
}

/// An error body's message, as the client quotes it: short, and never empty.
#[track_caller]
fn check_error_message(message: Option<String>) {
    if let Some(m) = message {
        assert!(!m.trim().is_empty(), "an empty error message");
        assert!(
            m.chars().count() <= 301,
            "an error message of {} characters",
            m.chars().count()
        );
    }
}

/// Incydr: session pages (as the alert source turns them into the flows' sessions), a single
/// session, a session's file events (as a ticket shows them), watchlists, actors, users, the
/// token answer and an error body.
pub fn incydr_answers(data: &[u8]) {
    if let Ok(page) = decode::<SessionPage>(incydr::SYSTEM, "/v1/sessions", data) {
        for session in page.items {
            check_session(session);
        }
    }
    if let Ok(session) = decode::<Session>(incydr::SYSTEM, "/v1/sessions/s", data) {
        check_session(session);
    }
    if let Ok(events) =
        decode::<SessionEventsResponse>(incydr::SYSTEM, "/v1/sessions/s/events", data)
    {
        for e in events.into_events() {
            let summary = to_file_event_summary(&e);
            assert_round_trips(&summary);
        }
    }
    let _ = decode::<WatchlistPage>(incydr::SYSTEM, "/v2/watchlists", data);
    let _ = decode::<Actor>(incydr::SYSTEM, "/v1/actors/actor/id/a", data);
    let _ = decode::<User>(incydr::SYSTEM, "/v1/users/u", data);
    if let Ok(token) = decode::<TokenResponse>(incydr::SYSTEM, "/v1/oauth", data) {
        let _ = incydr::tenant_uid_from_jwt(&token.access_token);
    }
    check_error_message(incydr::client::error_message(data));
}

fn check_session(session: Session) {
    assert_round_trips(&session);
    let _ = (session.current_severity(), session.current_state());
    let had_id = session.session_id.as_deref().is_some_and(|i| !i.is_empty());
    match to_alert_session(session) {
        Some(alert) => {
            assert!(had_id && !alert.session_id.is_empty());
            assert!(alert.severity <= 4, "severity {}", alert.severity);
            assert_round_trips(&alert);
        }
        None => assert!(!had_id, "a session with an id was dropped"),
    }
}

/// Jira: a created issue, a search page, create metadata (issue types, fields and the
/// priority mapping read from them), the account, the tenant, a comment and an error body.
pub fn jira_answers(data: &[u8]) {
    if let Ok(wire) = decode::<CreatedIssueWire>(jira::SYSTEM, "/rest/api/3/issue", data)
        && let Some(created) = wire.into_created()
    {
        assert!(!created.key.is_empty());
    }
    if let Ok(page) = decode::<SearchPage>(jira::SYSTEM, "/rest/api/3/search/jql", data) {
        page.issues.iter().for_each(assert_round_trips);
    }
    let path = "/rest/api/3/issue/createmeta/SEC/issuetypes";
    if let Ok(page) = decode::<CreateMetaPage<CreateMetaIssueType>>(jira::SYSTEM, path, data) {
        let _ = page.items();
    }
    if let Ok(page) = decode::<CreateMetaPage<CreateMetaField>>(jira::SYSTEM, path, data) {
        for field in page.items() {
            let _ = field.id();
            if let Err(e) = map_priorities("SEC", &field, &PriorityMapping::defaults()) {
                assert_says_something(&e);
            }
        }
    }
    let _ = decode::<Myself>(jira::SYSTEM, "/rest/api/3/myself", data);
    let _ = decode::<TenantInfo>(jira::SYSTEM, "/_edge/tenant_info", data);
    // A comment's answer is tolerated when it is not JSON, as the client does.
    let _: CommentRef = serde_json::from_slice(data).unwrap_or_default();
    check_error_message(jira::client::error_message(data));
}

/// ServiceNow: a created incident (as the client makes its link), a correlation-id search,
/// a user search, the check's listing and an error body.
pub fn servicenow_answers(data: &[u8]) {
    static CLIENT: OnceLock<ServiceNowClient> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        ServiceNowClient::new(
            url::Url::parse("https://acme.service-now.com").expect("a URL"),
            "riskflow".into(),
            SecretString::from("password".to_string()),
            http::Http::new(reqwest::Client::new()),
        )
    });
    let path = "/api/now/table/incident";
    if let Ok(env) = decode::<Envelope<IncidentRecord>>(servicenow::SYSTEM, path, data)
        && let Some(incident) = client.incident(env.result)
    {
        assert!(incident.link.starts_with("https://acme.service-now.com/"));
        assert_round_trips(&incident);
    }
    if let Ok(env) = decode::<Envelope<Vec<IncidentRecord>>>(servicenow::SYSTEM, path, data) {
        for r in env.result {
            let _ = client.incident(r);
        }
    }
    let _ =
        decode::<Envelope<Vec<UserRecord>>>(servicenow::SYSTEM, "/api/now/table/sys_user", data);
    let _ = decode::<Envelope<Vec<serde_json::Value>>>(servicenow::SYSTEM, path, data);
    check_error_message(servicenow::client::error_message(data));
}

/// Okta: user and group listings and records, the token answer (and the token's renewal time),
/// an error body, and each line of the input as a `Link` and `X-Rate-Limit-*` header.
pub fn okta_answers(data: &[u8]) {
    if let Ok(users) = decode::<Vec<okta::User>>(okta::SYSTEM, "/api/v1/users", data) {
        users.iter().for_each(assert_round_trips);
    }
    if let Ok(groups) = decode::<Vec<Group>>(okta::SYSTEM, "/api/v1/groups", data) {
        for g in &groups {
            let _ = g.name();
            assert_round_trips(g);
        }
    }
    let _ = decode::<okta::User>(okta::SYSTEM, "/api/v1/users/u", data);
    let call = Call::new(okta::SYSTEM, Method::POST, "/oauth2/v1/token");
    if let Err(e) = AccessToken::from_answer(&call, data, Instant::now()) {
        assert_says_something(&e);
    }
    check_error_message(okta::client::error_message(data));
    for line in data.split(|b| *b == b'\n') {
        let Ok(value) = HeaderValue::from_bytes(line) else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.append(LINK, value.clone());
        for name in [
            "x-rate-limit-limit",
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
        ] {
            headers.insert(name, value.clone());
        }
        if let Some(next) = okta::next_link(&headers) {
            assert!(
                !next.is_empty(),
                "an empty next link would re-read the same page"
            );
            assert!(line.windows(next.len()).any(|w| w == next.as_bytes()));
        }
        let _ = RateLimit::from_headers(&headers);
    }
}
