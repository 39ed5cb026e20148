//! BambooHR as the HR directory a recorded change is looked up in (`ports::HrDirectory`),
//! decided by [`super::departure_of`].

use crate::connectors::bamboohr::{self, BambooClient};
use crate::ports::{HrDirectory, HrLookupError, RecordedHrChange};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// BambooHR's employee lookup.
pub struct BambooDirectory {
    pub client: Arc<BambooClient>,
}

#[async_trait]
impl HrDirectory for BambooDirectory {
    async fn departure(
        &self,
        change: &RecordedHrChange,
        today: crate::domain::Date,
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
        bamboohr::departure_of(&employee, &recorded, today).map_err(|e| {
            if e.not_an_address {
                HrLookupError::NotAnAddress(e.message)
            } else {
                HrLookupError::Unusable(e.message)
            }
        })
    }
}
