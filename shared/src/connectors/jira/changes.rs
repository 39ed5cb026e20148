//! Jira as the ticket side of state-sync (`ports::TicketChanges`): riskflow's issues (label
//! `incydr` plus its dedup label) changed in a recent window, by JQL on `updated` with a
//! relative date (absolute JQL dates are read in the API user's time zone, to the minute; see
//! ../shared/reference/sync-apis.md §2.2). Closed means status category `done` (a done issue may
//! have no resolution, §2.1); the classification is the resolution's name, else the status's.

use crate::connectors::ConnectorError;
use crate::connectors::jira::sink::JiraSink;
use crate::connectors::jira::{Issue, SYSTEM};
use crate::domain::ConnectionKind;
use crate::ports::{TicketChanges, TicketState};
use async_trait::async_trait;
use std::time::Instant;

/// The most issues one pass reads (riskflow's issues changed within a few minutes).
const MAX_CHANGED: u32 = 5_000;

/// Jira's `updated` (`2026-03-02T10:11:12.345+0000`) in epoch ms.
pub fn parse_jira_time(s: &str) -> Option<i64> {
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .ok()?
        .to_timestamp()
        .ok()
        .map(|t| t.as_millisecond())
}

/// An issue as state-sync reads it; `None` when it carries no dedup label of riskflow's or no
/// readable `updated`.
pub fn ticket_state(issue: &Issue, site: &url::Url, key_prefix: &str) -> Option<TicketState> {
    let key = issue.key.clone().filter(|k| !k.is_empty())?;
    let f = &issue.fields;
    let dedup_key = f
        .labels
        .as_ref()?
        .iter()
        .find(|l| l.starts_with(key_prefix))?
        .clone();
    let status = f.status.clone().unwrap_or_default();
    let closed = status
        .status_category
        .as_ref()
        .and_then(|c| c.key.as_deref())
        == Some("done");
    let status_name = status.name.clone().unwrap_or_default();
    let resolution = f
        .resolution
        .as_ref()
        .and_then(|r| r.name.clone())
        .or_else(|| closed.then(|| status_name.clone()));
    Some(TicketState {
        url: site
            .join(&format!("browse/{key}"))
            .ok()
            .map(|u| u.to_string()),
        key,
        dedup_key,
        closed,
        resolution,
        status: status_name,
        updated_at: parse_jira_time(f.updated.as_deref()?)?,
        updated_by: None,
    })
}

#[async_trait]
impl TicketChanges for JiraSink {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Jira
    }

    fn lag_ms(&self) -> i64 {
        self.search_horizon_ms
    }

    /// `project = "<KEY>" AND labels = "incydr" AND updated >= "-<n>m" ORDER BY updated ASC`,
    /// fields `labels,status,resolution,updated`, every page.
    async fn changed_within(
        &self,
        window_ms: i64,
        key_prefix: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<TicketState>, ConnectorError> {
        if !crate::connectors::jira::valid_project_key(&self.project_key) {
            return Err(ConnectorError::invalid(
                SYSTEM,
                format!("{:?} is not a Jira project key", self.project_key),
            ));
        }
        // Whole minutes, rounded up, and one more for the minute JQL truncates to.
        let minutes = (window_ms.max(0) + 59_999) / 60_000 + 1;
        let jql = format!(
            "project = \"{}\" AND labels = \"incydr\" AND updated >= \"-{minutes}m\" ORDER BY updated ASC",
            self.project_key
        );
        let issues = self
            .client
            .search_jql(
                &jql,
                &["labels", "status", "resolution", "updated"],
                MAX_CHANGED,
                deadline,
            )
            .await?;
        let mut out: Vec<TicketState> = issues
            .iter()
            .filter_map(|i| ticket_state(i, &self.site, key_prefix))
            .collect();
        out.sort_by_key(|t| t.updated_at);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(v: serde_json::Value) -> Issue {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_done_issue_is_closed_with_its_resolution_or_else_its_status_name() {
        let site = url::Url::parse("https://acme.atlassian.net/").unwrap();
        let done = issue(serde_json::json!({"id": "1", "key": "SEC-1", "fields": {
            "labels": ["incydr", "riskflow-alert-tickets-s1"],
            "status": {"name": "Done", "statusCategory": {"id": 3, "key": "done"}},
            "resolution": {"name": "Not a bug"},
            "updated": "2026-03-02T10:11:12.345+0000"}}));
        let t = ticket_state(&done, &site, "riskflow-").unwrap();
        assert!(t.closed);
        assert_eq!(t.resolution.as_deref(), Some("Not a bug"));
        assert_eq!(t.dedup_key, "riskflow-alert-tickets-s1");
        assert_eq!(t.updated_at, 1_772_446_272_345);
        assert_eq!(
            t.url.as_deref(),
            Some("https://acme.atlassian.net/browse/SEC-1")
        );
        let mut unresolved = done.clone();
        unresolved.fields.resolution = None;
        let t = ticket_state(&unresolved, &site, "riskflow-").unwrap();
        assert_eq!(t.resolution.as_deref(), Some("Done"));
        let mut open = unresolved.clone();
        open.fields.status = Some(crate::connectors::jira::NamedRef {
            name: Some("In Progress".into()),
            status_category: Some(crate::connectors::jira::StatusCategory {
                key: Some("indeterminate".into()),
            }),
            ..Default::default()
        });
        let t = ticket_state(&open, &site, "riskflow-").unwrap();
        assert!(!t.closed && t.resolution.is_none());
        let mut foreign = done.clone();
        foreign.fields.labels = Some(vec!["incydr".into()]);
        assert!(ticket_state(&foreign, &site, "riskflow-").is_none());
    }
}
