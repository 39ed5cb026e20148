//! ServiceNow as the ticket side of state-sync (`ports::TicketChanges`): riskflow's incidents
//! (`correlation_id` starting with riskflow's prefix) updated in a recent window. Resolved (6)
//! and Closed (7) are closed, and so is Canceled (8); the classification is `close_code`, whose
//! choices differ per instance (../shared/reference/sync-apis.md §3). Table API reads are
//! consistent, so no lag; times are UTC (`sys_updated_on`).

use crate::connectors::ConnectorError;
use crate::connectors::servicenow::ServiceNowSink;
use crate::connectors::servicenow::workflow::IncidentState;
use crate::domain::ConnectionKind;
use crate::ports::{TicketChanges, TicketState};
use async_trait::async_trait;
use std::time::Instant;

/// `sys_updated_on` (`2026-03-02 10:11:12`, UTC) in epoch ms.
pub fn parse_snow_time(s: &str) -> Option<i64> {
    let dt: jiff::civil::DateTime = s.trim().replace(' ', "T").parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// The label of an incident state code.
fn state_label(code: &str) -> String {
    match code {
        "1" => "New",
        "2" => "In Progress",
        "3" => "On Hold",
        "6" => "Resolved",
        "7" => "Closed",
        "8" => "Canceled",
        other => return format!("state {other}"),
    }
    .to_string()
}

/// An incident as state-sync reads it; `None` without an id, a correlation id or a time.
pub fn ticket_state(sink: &ServiceNowSink, r: IncidentState) -> Option<TicketState> {
    let closed = r.is_resolved() || r.is_closed();
    let sys_id = r.sys_id.filter(|s| !s.is_empty())?;
    let state = r.state.unwrap_or_default();
    Some(TicketState {
        url: Some(sink.client.incident_link(&sys_id)),
        key: r.number.unwrap_or(sys_id),
        dedup_key: r.correlation_id?,
        closed,
        resolution: r.close_code.filter(|c| closed && !c.is_empty()),
        status: state_label(&state),
        updated_at: parse_snow_time(r.sys_updated_on.as_deref()?)?,
        updated_by: r.sys_updated_by,
    })
}

#[async_trait]
impl TicketChanges for ServiceNowSink {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Servicenow
    }

    fn lag_ms(&self) -> i64 {
        0
    }

    async fn changed_within(
        &self,
        window_ms: i64,
        key_prefix: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<TicketState>, ConnectorError> {
        // The instance's clock and ours are both UTC; a minute more covers the seconds it drops.
        let since = jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_millis(window_ms.max(0) + 60_000))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        let records = self
            .client
            .changed_incidents(key_prefix, &since, deadline)
            .await?;
        let mut out: Vec<TicketState> = records
            .into_iter()
            .filter_map(|r| ticket_state(self, r))
            .collect();
        out.sort_by_key(|t| t.updated_at);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servicenow_times_are_utc_to_the_second() {
        assert_eq!(
            parse_snow_time("2026-03-02 10:11:12"),
            Some(1_772_446_272_000)
        );
        assert_eq!(parse_snow_time("yesterday"), None);
    }
}
