//! Okta as the identity provider containment acts on (`ports::IdentityProvider`).

use crate::connectors::ConnectorError;
use crate::connectors::okta::OktaClient;
use crate::domain::ConnectionKind;
use crate::ports::{IdentityProvider, IdpUser};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// Okta as the identity provider for containment.
pub struct OktaIdp {
    pub client: Arc<OktaClient>,
}

#[async_trait]
impl IdentityProvider for OktaIdp {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Okta
    }

    async fn token_owner(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        // `GET /api/v1/users/me` is the user behind the SSWS token.
        Ok(self
            .client
            .user_by_login("me", deadline)
            .await?
            .and_then(|u| u.profile.login))
    }

    async fn user_by_login(
        &self,
        login: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<IdpUser>, ConnectorError> {
        Ok(self
            .client
            .user_by_login(login, deadline)
            .await?
            .filter(|u| !u.id.is_empty())
            .map(|u| IdpUser {
                login: u.profile.login.clone().unwrap_or_else(|| login.to_string()),
                id: u.id,
            }))
    }

    async fn is_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        self.client.is_member(group_id, user_id, deadline).await
    }

    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client.add_member(group_id, user_id, deadline).await
    }
}
