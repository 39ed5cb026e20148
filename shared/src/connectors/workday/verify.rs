//! Checking a Workday connection live: the report can be read with the field mapping.

use super::report::WorkdayReport;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for WorkdayReport {
    /// "Connected to Workday …", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.client
            .verify(&self.mapping, deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Workday", &e))
    }
}
