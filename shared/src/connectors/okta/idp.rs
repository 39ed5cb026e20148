//! Okta as the identity provider containment acts on (`ports::IdentityProvider`).

use crate::connectors::ConnectorError;
use crate::connectors::okta::client::searchable_email;
use crate::connectors::okta::{OktaClient, User};
use crate::domain::ConnectionKind;
use crate::ports::{IdentityProvider, IdpUser, UserLookup};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;

/// Okta as the identity provider for containment.
#[derive(Debug)]
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
        // `GET /api/v1/users/me` is the user behind the SSWS token; a service app has none
        // (the protected-users list guards its admins).
        if !self.client.acts_as_a_user() {
            return Ok(None);
        }
        Ok(self
            .client
            .user_by_login("me", deadline)
            .await?
            .and_then(|u| u.profile.login))
    }

    /// `GET /api/v1/users/{email}` (an exact login, cheap); on 404 the active users whose
    /// `profile.email` is the address ([`OktaClient::active_users_with_email`]): one is the
    /// user, several are [`UserLookup::Ambiguous`]. A quote, backslash or control character
    /// is refused before the first request.
    async fn user_by_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<UserLookup, ConnectorError> {
        searchable_email(email)?;
        let idp_user = |u: User| IdpUser {
            login: u.profile.login.clone().unwrap_or_else(|| email.to_string()),
            id: u.id,
        };
        if let Some(u) = self
            .client
            .user_by_login(email, deadline)
            .await?
            .filter(|u| !u.id.is_empty())
        {
            return Ok(UserLookup::One(idp_user(u)));
        }
        let mut found = self.client.active_users_with_email(email, deadline).await?;
        Ok(match found.len() {
            0 => UserLookup::None,
            1 => UserLookup::One(idp_user(found.remove(0))),
            matches => UserLookup::Ambiguous { matches },
        })
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

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client.remove_member(group_id, user_id, deadline).await
    }

    async fn rules_assigning(
        &self,
        group_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, ConnectorError> {
        self.client.rules_assigning(group_id, deadline).await
    }
}
