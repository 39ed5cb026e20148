//! Workday's RaaS report of upcoming departures (`ports::HrReport`).

use crate::connectors::ConnectorError;
use crate::connectors::workday::{self, WorkdayClient};
use crate::ports::HrReport;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

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
        today: crate::domain::Date,
        now_ms: i64,
    ) -> Result<Vec<crate::domain::Departure>, ConnectorError> {
        snapshot_changes(previous, current, today, now_ms)
    }
}

/// The facts between two stored snapshots (lists of [`workday::WorkdayRow`]), as
/// [`workday::diff_snapshots`] finds them.
pub fn snapshot_changes(
    previous: Option<&serde_json::Value>,
    current: &serde_json::Value,
    today: crate::domain::Date,
    now_ms: i64,
) -> Result<Vec<crate::domain::Departure>, ConnectorError> {
    let read = |v: &serde_json::Value| -> Result<Vec<workday::WorkdayRow>, ConnectorError> {
        serde_json::from_value(v.clone()).map_err(|e| {
            ConnectorError::invalid("workday", format!("stored report snapshot unreadable: {e}"))
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
