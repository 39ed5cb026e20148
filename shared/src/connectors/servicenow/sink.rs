//! ServiceNow as a ticket sink (`ports::TicketSink`).

use crate::connectors::ConnectorError;
use crate::connectors::servicenow::{self, ServiceNowClient};
use crate::domain::{ConnectionKind, TicketContent, TicketRef};
use crate::ports::TicketSink;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// ServiceNow as a ticket sink: incidents keyed by `correlation_id`.
pub struct ServiceNowSink {
    pub client: Arc<ServiceNowClient>,
    pub assignment_group: Option<String>,
    pub caller_id: Option<String>,
}

fn incident_ref(i: servicenow::Incident) -> TicketRef {
    TicketRef {
        system: ConnectionKind::Servicenow,
        key: i.number.clone().unwrap_or_else(|| i.sys_id.clone()),
        id: i.sys_id,
        url: Some(i.link),
    }
}

#[async_trait]
impl TicketSink for ServiceNowSink {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Servicenow
    }

    fn search_horizon_ms(&self) -> i64 {
        0
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

    async fn has_comment(
        &self,
        ticket: &TicketRef,
        marker: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        self.client
            .work_note_contains(&ticket.id, marker, deadline)
            .await
    }
}
