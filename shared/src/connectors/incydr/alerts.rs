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

fn to_alert_session(s: incydr::Session) -> Option<AlertSession> {
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

#[async_trait]
impl AlertSource for IncydrAdapter {
    async fn sessions(
        &self,
        filter: &SessionFilter,
        deadline: Option<Instant>,
    ) -> Result<Vec<AlertSession>, ConnectorError> {
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
        Ok(all.into_iter().filter_map(to_alert_session).collect())
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
            .map(|e| FileEventSummary {
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
            })
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
        let base = self.console_url.as_ref()?;
        crate::http::join(
            base,
            &format!(
                "/app/#/alerts/sessions/{}",
                crate::http::path_segment(session_id)
            ),
        )
        .ok()
        .map(|u| u.to_string())
    }
}
