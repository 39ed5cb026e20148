//! Checking an Incydr connection live: the API client's credentials get a token and can read.

use super::alerts::IncydrAdapter;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for IncydrAdapter {
    /// "Connected to Incydr …", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Incydr", &e))
    }
}
