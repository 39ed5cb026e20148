//! Checking a ServiceNow connection live.

use super::sink::ServiceNowSink;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for ServiceNowSink {
    /// "Connected to ServiceNow as …", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("ServiceNow", &e))
    }
}
