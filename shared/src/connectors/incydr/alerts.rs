//! Incydr as the flows' alert source (`ports::AlertSource`): sessions with alerts, their file
//! events, and the console link of a session.

use crate::connectors::ConnectorError;
use crate::connectors::incydr::{self, IncydrClient, SessionQuery, SessionState, Severity};
use crate::domain::{AlertSession, FileEventSummary, TriggeredAlert};
use crate::ports::{AlertSource, SessionFilter};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;
use url::Url;

/// Incydr as an alert source and the Departing watchlist's admin.
pub struct IncydrAdapter {
    pub client: Arc<IncydrClient>,
    /// The console, for links to sessions in tickets.
    pub console_url: Option<Url>,
}

pub(crate) fn to_alert_session(s: incydr::Session) -> Option<AlertSession> {
    let id = s.session_id.clone().filter(|i| !i.is_empty())?;
    let severity = s.current_severity().map(|v| v.as_number()).unwrap_or(0);
    let state = s.current_state().map(|st| st.as_str().to_string());
    Some(AlertSession {
        session_id: id,
        actor_id: s.actor_id.clone(),
        actor_name: s.actor_name.clone(),
        begin_time: s.begin_time,
        end_time: s.end_time,
        last_updated: s.last_updated.or(s.end_time).or(s.begin_time).unwrap_or(0),
        severity,
        state,
        risk_indicators: s
            .risk_indicators
            .iter()
            .filter_map(|r| {
                let name = r.name.clone().or_else(|| r.id.clone())?;
                Some((name, r.event_count.unwrap_or(0).max(0) as u64))
            })
            .collect(),
        triggered_alerts: s
            .triggered_alerts
            .iter()
            .map(|a| TriggeredAlert {
                alert_id: a.alert_id.clone().unwrap_or_default(),
                rule_id: a.rule_id.clone().unwrap_or_default(),
                rule_name: a.rule_name.clone(),
            })
            .collect(),
        exfiltration_summary: s.exfiltration_summary.clone(),
        context_summary: s.context_summary.clone(),
    })
}

/// What a ticket shows of one file event.
pub(crate) fn to_file_event_summary(e: &incydr::FileEvent) -> FileEventSummary {
    FileEventSummary {
        timestamp: e.timestamp.clone(),
        file_name: e.file_name().map(str::to_string),
        file_path: e.file_path(),
        file_size: e
            .file
            .as_ref()
            .and_then(|f| f.size_in_bytes)
            .map(|s| s.max(0) as u64),
        sha256: e.sha256().map(str::to_string),
        destination: e
            .destination
            .as_ref()
            .and_then(|d| d.category.clone().or_else(|| d.name.clone())),
        risk_severity: e.risk_severity().map(str::to_string),
    }
}

#[async_trait]
impl AlertSource for IncydrAdapter {
    async fn sessions(
        &self,
        filter: &SessionFilter,
        deadline: Option<Instant>,
    ) -> Result<crate::ports::SessionList, ConnectorError> {
        let q = SessionQuery {
            on_or_after: filter.on_or_after,
            before: filter.before,
            has_alerts: Some(true),
            states: filter
                .states
                .iter()
                .map(|s| SessionState::from(s.as_str()))
                .collect(),
            severities: filter
                .severities
                .iter()
                .filter_map(|s| Severity::from_number(i64::from(*s)))
                .collect(),
            rule_ids: filter.rule_ids.clone(),
            watchlist_ids: filter.watchlist_ids.clone(),
            ..SessionQuery::default()
        };
        let all = self.client.all_sessions(&q, deadline).await?;
        let returned = all.len();
        let sessions: Vec<AlertSession> = all.into_iter().filter_map(to_alert_session).collect();
        Ok(crate::ports::SessionList {
            without_id: returned - sessions.len(),
            sessions,
        })
    }

    async fn file_events(
        &self,
        session_id: &str,
        limit: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<FileEventSummary>, ConnectorError> {
        let events = self.client.session_events(session_id, deadline).await?;
        Ok(events
            .iter()
            .take(limit)
            .map(to_file_event_summary)
            .collect())
    }

    async fn add_note(
        &self,
        session_id: &str,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client.add_note(session_id, text, deadline).await
    }

    fn session_link(&self, session_id: &str) -> Option<String> {
        session_link(self.console_url.as_ref()?, session_id)
    }
}

/// The console page of a session: `{console}/app/#/alerts/review-alerts/{sessionId}`, the form
/// Code42's maintained XSOAR integration builds (not documented by the vendor, so the console
/// URL stays a setting; see docs/vendors/incydr.md).
fn session_link(console: &Url, session_id: &str) -> Option<String> {
    let path = format!(
        "/app/#/alerts/review-alerts/{}",
        crate::http::path_segment(session_id)
    );
    crate::http::join(console, &path)
        .ok()
        .map(|u| u.to_string())
}

/// The console of the tenant whose API gateway is `api`: the host with its leading `api.`
/// replaced by `console.` (`https://api.us2.code42.com` → `https://console.us2.code42.com`),
/// as the XSOAR integration derives it. `None` for a host that does not start with `api.`
/// (a proxy, a test double): then only the connection's console URL makes links.
pub fn console_of(api: &Url) -> Option<Url> {
    let rest = api.host_str()?.strip_prefix("api.")?;
    let mut console = api.clone();
    console.set_host(Some(&format!("console.{rest}"))).ok()?;
    console.set_path("/");
    console.set_query(None);
    Some(console)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn the_console_is_the_api_host_with_console_for_api() {
        for (api, console) in [
            (
                "https://api.us.code42.com",
                "https://console.us.code42.com/",
            ),
            (
                "https://api.us2.code42.com/",
                "https://console.us2.code42.com/",
            ),
            (
                "https://api.gov.code42.com/v1",
                "https://console.gov.code42.com/",
            ),
        ] {
            assert_eq!(console_of(&url(api)).unwrap().as_str(), console, "{api}");
        }
        assert_eq!(console_of(&url("https://incydr-proxy.example.com")), None);
        assert_eq!(console_of(&url("http://127.0.0.1:8042")), None);
    }

    #[test]
    fn a_session_link_is_the_review_alerts_page_with_the_id_as_one_segment() {
        let console = url("https://console.us.code42.com");
        assert_eq!(
            session_link(&console, "s-1").as_deref(),
            Some("https://console.us.code42.com/app/#/alerts/review-alerts/s-1")
        );
        let odd = session_link(&console, "a/b c").unwrap();
        assert!(odd.ends_with("/review-alerts/a%2Fb%20c"), "{odd}");
    }
}
