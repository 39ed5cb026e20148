//! Checking an ADP connection live: a token over mutual TLS with the issued certificate.

use super::directory::AdpSource;
use crate::ports::VerifyFailure;
use std::time::Instant;

impl AdpSource {
    /// "Connected to ADP …", or why not.
    pub async fn verify_connection(
        &self,
        deadline: Option<Instant>,
    ) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("ADP", &e))
    }
}
