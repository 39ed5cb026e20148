//! Checking a BambooHR connection live: the API key reads its own record.

use super::directory::BambooDirectory;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for BambooDirectory {
    /// "Connected to BambooHR", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("BambooHR", &e))
    }
}
