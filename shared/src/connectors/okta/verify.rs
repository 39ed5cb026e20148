//! Checking an Okta connection live: the token is accepted and the containment group can be
//! changed; a group listed as protected is refused before anything is asked.

use super::idp::OktaIdp;
use crate::ports::VerifyFailure;
use std::time::Instant;

impl OktaIdp {
    /// "Connected to Okta …", or why not.
    pub async fn verify_connection(
        &self,
        group_id: &str,
        protected_groups: &[String],
        deadline: Option<Instant>,
    ) -> Result<String, VerifyFailure> {
        if protected_groups.iter().any(|g| g == group_id) {
            return Err(VerifyFailure::bad(format!(
                "Okta group {group_id} is listed as protected; choose another group"
            )));
        }
        self.client
            .verify(Some(group_id), deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Okta", &e))
    }
}
