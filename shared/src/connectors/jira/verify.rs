//! Checking a Jira connection live: the token is accepted (at the site, or through Atlassian's
//! API gateway for a token with scopes), the project exists and offers the issue type, and its
//! create screen needs nothing riskflow does not fill. Where the token works and what creating
//! needs (the issue type's id, the priorities by id) are returned to be stored with the
//! connection.

use super::sink::JiraSink;
use crate::ports::{LiveCheck, Verified, VerifyFailure};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl LiveCheck for JiraSink {
    /// "Connected to Jira as …; tickets are created in …", or why not.
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        self.verify_and_learn(deadline).await.map(|v| v.message)
    }

    /// The check, with the project's create facts to store.
    async fn verify_and_learn(&self, deadline: Option<Instant>) -> Result<Verified, VerifyFailure> {
        let m = self
            .client
            .verify(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Jira", &e))?;
        let route = self
            .client
            .route(deadline)
            .await
            .map_err(|e| VerifyFailure::from_connector("Jira", &e))?
            .clone();
        // Read again on every verification (the daily re-test too): the project may change.
        let facts = self
            .read_create_facts(deadline)
            .await
            .map_err(|e| match e.status() {
                Some(400) | Some(404) => VerifyFailure::bad(format!(
                    "Jira project {} was not found or is not visible to this account",
                    self.project_key
                )),
                _ => VerifyFailure::from_connector("Jira", &e),
            })?;
        let mut stored = facts.to_facts();
        route.add_to_facts(&mut stored);
        Ok(Verified {
            message: format!("{m} {}; {}", route.describe(), facts.describe()),
            facts: stored,
        })
    }
}
