//! Workday's RaaS report of upcoming departures (`ports::HrReport`).

use super::compare::{self, KeptRow};
use super::model::read_report;
use crate::connectors::ConnectorError;
use crate::connectors::workday::{self, WorkdayClient};
use crate::domain::Date;
use crate::ports::{HrReport, ReportAnswer, ReportChanges};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// Workday's RaaS report of upcoming departures.
pub struct WorkdayReport {
    pub client: Arc<WorkdayClient>,
    pub mapping: workday::FieldMapping,
    /// The `max_shrink_percent` setting (see [`compare::compare`]).
    pub max_shrink_percent: u8,
}

#[async_trait]
impl HrReport for WorkdayReport {
    async fn fetch(&self, deadline: Option<Instant>) -> Result<ReportAnswer, ConnectorError> {
        Ok(ReportAnswer {
            body: self.client.fetch_body(deadline).await?,
        })
    }

    fn changes(
        &self,
        previous: Option<&[serde_json::Value]>,
        answer: &ReportAnswer,
        today: Date,
        now_ms: i64,
    ) -> Result<ReportChanges, ConnectorError> {
        report_changes(
            previous,
            answer,
            &self.mapping,
            self.max_shrink_percent,
            today,
            now_ms,
        )
    }
}

/// A pulled answer read with `mapping` and compared with the stored snapshot rows by
/// [`compare::compare`]; the new snapshot as JSON rows for the store.
pub fn report_changes(
    previous: Option<&[serde_json::Value]>,
    answer: &ReportAnswer,
    mapping: &workday::FieldMapping,
    max_shrink_percent: u8,
    today: Date,
    now_ms: i64,
) -> Result<ReportChanges, ConnectorError> {
    let previous: Option<Vec<KeptRow>> = previous
        .map(|rows| {
            rows.iter()
                .map(|v| serde_json::from_value(v.clone()))
                .collect::<Result<_, _>>()
        })
        .transpose()
        .map_err(|e| {
            ConnectorError::invalid("workday", format!("stored report snapshot unreadable: {e}"))
        })?;
    let read = read_report(&answer.body, mapping)?;
    let unreadable = read.problems.len() as u64;
    let c = compare::compare(
        previous.as_deref(),
        &read,
        max_shrink_percent,
        today,
        now_ms,
    );
    Ok(ReportChanges {
        facts: c.facts,
        snapshot: c
            .snapshot
            .iter()
            .map(|k| serde_json::to_value(k).unwrap_or_default())
            .collect(),
        problems: c.problems,
        counts: vec![
            ("workday_rows_unreadable".into(), unreadable),
            ("workday_cancellations_held".into(), c.cancellations_held),
        ],
    })
}
