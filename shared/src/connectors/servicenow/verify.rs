//! Checking a ServiceNow connection live.

use super::sink::ServiceNowSink;
use crate::ports::VerifyFailure;
use std::time::Instant;

impl ServiceNowSink {
    /// "Connected to ServiceNow as …", or why not.
    pub async fn verify_connection(
        &self,
        deadline: Option<Instant>,
    ) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("ServiceNow", &e))
    }
}
