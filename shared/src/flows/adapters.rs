//! Adapters from the connector clients to the role traits of [`crate::ports`], and the
//! settings each takes from its connection.

use crate::connectors::ConnectorError;
use crate::connectors::adp::AdpClient;
use crate::connectors::bamboohr::{self, BambooClient};
use crate::connectors::incydr::{self, IncydrClient, SessionQuery, SessionState, Severity};
use crate::connectors::jira::{self, JiraClient};
use crate::connectors::okta::OktaClient;
use crate::connectors::servicenow::{self, ServiceNowClient};
use crate::connectors::workday::{self, WorkdayClient};
use crate::domain::{AlertSession, FileEventSummary, TicketContent, TicketRef, TriggeredAlert};
use crate::ports::{
    ActorRef, AlertSource, HrDirectory, HrLookupError, HrQueue, HrReport, IdentityProvider,
    IdpUser, QueueMessage, RecordedHrChange, SessionFilter, TicketSink, WatchlistAdmin,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;
use url::Url;

// ---------------------------------------------------------------------------------------------
// Incydr

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

fn parse_date(s: &str) -> Result<jiff::civil::Date, ConnectorError> {
    s.parse::<jiff::civil::Date>().map_err(|_| {
        ConnectorError::invalid(incydr::SYSTEM, format!("'{s}' is not a date (YYYY-MM-DD)"))
    })
}

#[async_trait]
impl WatchlistAdmin for IncydrAdapter {
    async fn actor_by_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<ActorRef>, ConnectorError> {
        Ok(self
            .client
            .actor_by_name(email, deadline)
            .await?
            .and_then(|a| {
                Some(ActorRef {
                    id: a.actor_id.clone()?,
                    name: a.name.clone().unwrap_or_default(),
                })
            }))
    }

    async fn actor_by_id(
        &self,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<ActorRef>, ConnectorError> {
        Ok(self
            .client
            .actor_by_id(actor_id, deadline)
            .await?
            .and_then(|a| {
                Some(ActorRef {
                    id: a.actor_id.clone()?,
                    name: a.name.clone().unwrap_or_default(),
                })
            }))
    }

    async fn departing_watchlist(
        &self,
        create: bool,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        if create {
            self.client.departing_watchlist_id(deadline).await.map(Some)
        } else {
            self.client
                .find_watchlist_id("DEPARTING_EMPLOYEE", deadline)
                .await
        }
    }

    async fn is_included(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        Ok(self
            .client
            .included_actor(watchlist_id, actor_id, deadline)
            .await?
            .is_some())
    }

    async fn include(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client
            .add_included_actors(watchlist_id, &[actor_id.to_string()], deadline)
            .await
    }

    async fn exclude(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client
            .remove_included_actors(watchlist_id, &[actor_id.to_string()], deadline)
            .await
    }

    async fn set_end_date(
        &self,
        actor_id: &str,
        date: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let update = match date {
            Some(d) => incydr::ActorUpdate::end_date(parse_date(d)?),
            None => incydr::ActorUpdate::clear_end_date(),
        };
        self.client
            .update_actor(actor_id, &update, deadline)
            .await
            .map(|_| ())
    }
}

// ---------------------------------------------------------------------------------------------
// Jira

/// Jira as a ticket sink.
pub struct JiraSink {
    pub client: Arc<JiraClient>,
    pub site: Url,
    pub project_key: String,
    pub issue_type: String,
}

/// A ticket's content as an ADF document.
pub fn to_adf(content: &TicketContent) -> jira::adf::Doc {
    let mut doc = jira::adf::Doc::new();
    for (title, lines) in &content.sections {
        doc = doc.heading(3, title);
        doc = doc.bullet_list(lines.iter().map(|l| jira::adf::Paragraph::new().text(l)));
    }
    if let Some(link) = &content.link {
        doc = doc.paragraph(
            jira::adf::Paragraph::new()
                .text("Open in Incydr: ")
                .link(link, link),
        );
    }
    doc
}

#[async_trait]
impl TicketSink for JiraSink {
    fn name(&self) -> &'static str {
        "jira"
    }

    fn search_is_consistent(&self) -> bool {
        false
    }

    async fn find(
        &self,
        dedup_key: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<TicketRef>, ConnectorError> {
        Ok(self
            .client
            .find_by_label(&self.project_key, dedup_key, deadline)
            .await?
            .map(|i| self.ticket(i.id, i.key)))
    }

    async fn create(
        &self,
        content: &TicketContent,
        dedup_key: &str,
        deadline: Option<Instant>,
    ) -> Result<TicketRef, ConnectorError> {
        let issue = jira::NewIssue {
            project_key: self.project_key.clone(),
            issue_type: self.issue_type.clone(),
            summary: content.summary.clone(),
            description: to_adf(content),
            labels: vec!["incydr".into(), dedup_key.to_string()],
            priority_name: Some(jira::priority_for_severity(content.severity).to_string()),
        };
        let created = self.client.create_issue(&issue, deadline).await?;
        Ok(self.ticket(created.id, created.key))
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let doc = to_adf(content);
        self.client
            .add_comment(&ticket.key, &doc, deadline)
            .await
            .map(|_| ())
    }
}

impl JiraSink {
    fn ticket(&self, id: String, key: String) -> TicketRef {
        let url = crate::http::join(
            &self.site,
            &format!("/browse/{}", crate::http::path_segment(&key)),
        )
        .ok()
        .map(|u| u.to_string());
        TicketRef {
            system: "jira".into(),
            id,
            key,
            url,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ServiceNow

/// ServiceNow as a ticket sink: incidents keyed by `correlation_id`.
pub struct ServiceNowSink {
    pub client: Arc<ServiceNowClient>,
    pub assignment_group: Option<String>,
    pub caller_id: Option<String>,
}

fn incident_ref(i: servicenow::Incident) -> TicketRef {
    TicketRef {
        system: "servicenow".into(),
        key: i.number.clone().unwrap_or_else(|| i.sys_id.clone()),
        id: i.sys_id,
        url: Some(i.link),
    }
}

#[async_trait]
impl TicketSink for ServiceNowSink {
    fn name(&self) -> &'static str {
        "servicenow"
    }

    fn search_is_consistent(&self) -> bool {
        true
    }

    async fn find(
        &self,
        dedup_key: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<TicketRef>, ConnectorError> {
        Ok(self
            .client
            .find_by_correlation_id(dedup_key, deadline)
            .await?
            .map(incident_ref))
    }

    async fn create(
        &self,
        content: &TicketContent,
        dedup_key: &str,
        deadline: Option<Instant>,
    ) -> Result<TicketRef, ConnectorError> {
        let (urgency, impact) = servicenow::urgency_impact_for_severity(content.severity);
        let new = servicenow::NewIncident {
            short_description: content.summary.clone(),
            description: content.to_plain_text(),
            urgency: urgency.to_string(),
            impact: impact.to_string(),
            correlation_id: dedup_key.to_string(),
            correlation_display: "Code42 Incydr (riskflow)".into(),
            assignment_group: self.assignment_group.clone(),
            caller_id: self.caller_id.clone(),
            category: None,
        };
        Ok(incident_ref(
            self.client.create_incident(&new, deadline).await?,
        ))
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let text = format!("{}\n\n{}", content.summary, content.to_plain_text());
        self.client.add_work_note(&ticket.id, &text, deadline).await
    }
}

// ---------------------------------------------------------------------------------------------
// Okta

/// Okta as the identity provider for containment.
pub struct OktaIdp {
    pub client: Arc<OktaClient>,
}

#[async_trait]
impl IdentityProvider for OktaIdp {
    async fn token_owner(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        // `GET /api/v1/users/me` is the user behind the SSWS token.
        Ok(self
            .client
            .user_by_login("me", deadline)
            .await?
            .and_then(|u| u.profile.login))
    }

    async fn user_by_login(
        &self,
        login: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<IdpUser>, ConnectorError> {
        Ok(self
            .client
            .user_by_login(login, deadline)
            .await?
            .filter(|u| !u.id.is_empty())
            .map(|u| IdpUser {
                login: u.profile.login.clone().unwrap_or_else(|| login.to_string()),
                id: u.id,
            }))
    }

    async fn is_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        self.client.is_member(group_id, user_id, deadline).await
    }

    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client.add_member(group_id, user_id, deadline).await
    }
}

// ---------------------------------------------------------------------------------------------
// HR sources

/// BambooHR's employee lookup.
pub struct BambooDirectory {
    pub client: Arc<BambooClient>,
}

#[async_trait]
impl HrDirectory for BambooDirectory {
    async fn departure(
        &self,
        change: &RecordedHrChange,
        today: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<crate::domain::Departure>, HrLookupError> {
        let employee = match self.client.employee(&change.employee_id, deadline).await {
            Ok(e) => e,
            Err(e) if e.status() == Some(404) => {
                return Err(HrLookupError::Unusable(format!(
                    "BambooHR has no employee {}",
                    change.employee_id
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let recorded = bamboohr::RecordedChange {
            source_event_id: change.source_event_id.clone(),
            event_time: change.event_time,
            fields: change.fields.clone(),
        };
        bamboohr::departure_of(&employee, &recorded, today)
            .map_err(|e| HrLookupError::Unusable(e.to_string()))
    }
}

/// ADP's worker lookup and event-notification queue.
pub struct AdpSource {
    pub client: Arc<AdpClient>,
}

#[async_trait]
impl HrDirectory for AdpSource {
    async fn departure(
        &self,
        change: &RecordedHrChange,
        _today: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<crate::domain::Departure>, HrLookupError> {
        let worker = match self.client.worker(&change.employee_id, deadline).await {
            Ok(w) => w,
            Err(e) if e.status() == Some(404) => {
                return Err(HrLookupError::Unusable(format!(
                    "ADP has no worker {}",
                    change.employee_id
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let recorded = crate::connectors::adp::RecordedTermination {
            event_id: change.source_event_id.clone(),
            associate_oid: change.employee_id.clone(),
            termination_date: change.termination_date.clone(),
            event_time_ms: change.event_time,
            reason: change.reason.clone(),
        };
        crate::connectors::adp::termination_departure(&recorded, &worker)
            .map(Some)
            .map_err(|e| HrLookupError::Unusable(format!("ADP {e}")))
    }
}

#[async_trait]
impl HrQueue for AdpSource {
    async fn next(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<QueueMessage>, ConnectorError> {
        Ok(self
            .client
            .next_message(deadline)
            .await?
            .map(|m| QueueMessage {
                id: m.msg_id,
                body: m.body,
            }))
    }

    async fn ack(&self, id: &str, deadline: Option<Instant>) -> Result<(), ConnectorError> {
        self.client.ack(id, deadline).await
    }
}

/// Workday's RaaS report of upcoming departures.
pub struct WorkdayReport {
    pub client: Arc<WorkdayClient>,
    pub mapping: workday::FieldMapping,
}

#[async_trait]
impl HrReport for WorkdayReport {
    async fn snapshot(
        &self,
        deadline: Option<Instant>,
    ) -> Result<serde_json::Value, ConnectorError> {
        let rows = self.client.fetch_report(&self.mapping, deadline).await?;
        Ok(serde_json::to_value(rows).unwrap_or_default())
    }

    fn changes(
        &self,
        previous: Option<&serde_json::Value>,
        current: &serde_json::Value,
        today: &str,
        now_ms: i64,
    ) -> Result<Vec<crate::domain::Departure>, ConnectorError> {
        let read = |v: &serde_json::Value| -> Result<Vec<workday::WorkdayRow>, ConnectorError> {
            serde_json::from_value(v.clone()).map_err(|e| {
                ConnectorError::invalid(
                    "workday",
                    format!("stored report snapshot unreadable: {e}"),
                )
            })
        };
        let prev = match previous {
            Some(p) => read(p)?,
            None => Vec::new(),
        };
        Ok(workday::diff_snapshots(
            &prev,
            &read(current)?,
            today,
            now_ms,
        ))
    }
}
