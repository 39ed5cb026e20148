//! ADP as the HR directory a recorded termination is looked up in (`ports::HrDirectory`),
//! decided by [`super::termination_departure`].

use crate::connectors::adp::AdpClient;
use crate::connectors::hr::normalize_date;
use crate::domain::Date;
use crate::ports::{HrDirectory, HrLookupError, RecordedHrChange};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// ADP's worker lookup and event-notification queue.
pub struct AdpSource {
    pub client: Arc<AdpClient>,
}

#[async_trait]
impl HrDirectory for AdpSource {
    async fn departure(
        &self,
        change: &RecordedHrChange,
        _today: Date,
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
        let termination_date = match change.termination_date.as_deref() {
            Some(raw) => Some(normalize_date(raw).map_err(|e| {
                HrLookupError::Unusable(format!(
                    "ADP event {}: the recorded termination date: {e}",
                    change.source_event_id
                ))
            })?),
            None => None,
        };
        let recorded = crate::connectors::adp::RecordedTermination {
            event_id: change.source_event_id.clone(),
            associate_oid: change.employee_id.clone(),
            termination_date,
            event_time_ms: change.event_time,
            reason: change.reason.clone(),
        };
        crate::connectors::adp::termination_departure(&recorded, &worker)
            .map(Some)
            .map_err(|e| HrLookupError::Unusable(format!("ADP {e}")))
    }
}
