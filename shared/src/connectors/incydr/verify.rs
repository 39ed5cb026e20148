//! Checking an Incydr connection live: the API client's credentials get a token and can read.

use super::alerts::IncydrAdapter;
use crate::ports::VerifyFailure;
use std::time::Instant;

impl IncydrAdapter {
    /// "Connected to Incydr …", or why not.
    pub async fn verify_connection(
        &self,
        deadline: Option<Instant>,
    ) -> Result<String, VerifyFailure> {
        self.client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Incydr", &e))
    }
}
