//! Checking an ADP connection live: a token over mutual TLS with the issued certificate.

use super::directory::AdpSource;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for AdpSource {
    /// "Connected to ADP …", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("ADP", &e))
    }
}
