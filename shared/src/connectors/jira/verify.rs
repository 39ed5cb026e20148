//! Checking a Jira connection live: the token is accepted, and the project exists and is visible
//! to the account.

use super::sink::JiraSink;
use crate::ports::{LiveCheck, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for JiraSink {
    /// "Connected to Jira as …", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        let m = self
            .client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Jira", &e))?;
        // The project must exist: an empty search within it is a cheap check.
        self.client
            .search_jql(
                &format!("project = \"{}\"", self.project_key),
                &["summary"],
                1,
                deadline,
            )
            .await
            .map_err(|e| match e.status() {
                Some(400) | Some(404) => VerifyFailure::bad(format!(
                    "Jira project {} was not found or is not visible to this account",
                    self.project_key
                )),
                _ => VerifyFailure::from_connector("Jira", &e),
            })?;
        Ok(m)
    }
}
