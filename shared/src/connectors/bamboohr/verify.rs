//! Checking a BambooHR connection live: the API key reads its own record.

use super::directory::BambooDirectory;
use crate::ports::VerifyFailure;
use std::time::Instant;

impl BambooDirectory {
    /// "Connected to BambooHR", or why not.
    pub async fn verify_connection(
        &self,
        deadline: Option<Instant>,
    ) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("BambooHR", &e))
    }
}
