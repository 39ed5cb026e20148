//! Jira as a ticket sink (`ports::TicketSink`).

use crate::connectors::ConnectorError;
use crate::connectors::jira::createmeta::{self, CreateFacts, PriorityMapping};
use crate::connectors::jira::{self, JiraClient};
use crate::domain::{ConnectionKind, TicketContent, TicketRef};
use crate::ports::TicketSink;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OnceCell;
use url::Url;

/// Jira as a ticket sink.
pub struct JiraSink {
    pub client: Arc<JiraClient>,
    pub site: Url,
    pub project_key: String,
    /// The issue type's name (the setting).
    pub issue_type: String,
    /// Which priority each severity sends (the setting).
    pub priorities: PriorityMapping,
    /// What creating needs: stored by the last verification, or read from Jira on the first
    /// create when none is stored (a connection verified by an older version).
    pub facts: OnceCell<CreateFacts>,
    /// How long Jira's search may take to show a new issue (the `search_lag_minutes` setting).
    pub search_horizon_ms: i64,
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
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Jira
    }

    fn search_horizon_ms(&self) -> i64 {
        self.search_horizon_ms
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
        let facts = self.create_facts(deadline).await?;
        let issue = jira::NewIssue {
            project_key: self.project_key.clone(),
            issue_type_id: facts.issue_type.id.clone(),
            summary: content.summary.clone(),
            description: to_adf(content),
            labels: vec!["incydr".into(), dedup_key.to_string()],
            priority_id: facts.priority_for(content.severity).map(|p| p.id.clone()),
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

    async fn has_comment(
        &self,
        ticket: &TicketRef,
        marker: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        self.client
            .comments_contain(&ticket.key, marker, deadline)
            .await
    }
}

impl JiraSink {
    /// What creating needs: the stored facts, or (none stored) read from Jira once.
    pub async fn create_facts(
        &self,
        deadline: Option<Instant>,
    ) -> Result<&CreateFacts, ConnectorError> {
        self.facts
            .get_or_try_init(|| self.read_create_facts(deadline))
            .await
    }

    /// Read what creating needs from the project's create metadata.
    pub async fn read_create_facts(
        &self,
        deadline: Option<Instant>,
    ) -> Result<CreateFacts, ConnectorError> {
        createmeta::learn(
            &self.client,
            &self.project_key,
            &self.issue_type,
            &self.priorities,
            deadline,
        )
        .await
    }

    fn ticket(&self, id: String, key: String) -> TicketRef {
        let url = crate::http::join(
            &self.site,
            &format!("/browse/{}", crate::http::path_segment(&key)),
        )
        .ok()
        .map(|u| u.to_string());
        TicketRef {
            system: ConnectionKind::Jira,
            id,
            key,
            url,
        }
    }
}
