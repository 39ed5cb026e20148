//! Incydr as the admin of the Departing watchlist (`ports::WatchlistAdmin`).

use crate::connectors::ConnectorError;
use crate::connectors::incydr;
use crate::ports::{ActorRef, WatchlistAdmin};
use async_trait::async_trait;
use std::time::Instant;

use super::alerts::IncydrAdapter;

#[async_trait]
impl WatchlistAdmin for IncydrAdapter {
    async fn actor_by_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<ActorRef>, ConnectorError> {
        Ok(self
            .client
            .actor_by_name(email, deadline)
            .await?
            .and_then(|a| {
                Some(ActorRef {
                    id: a.actor_id.clone()?,
                    name: a.name.clone().unwrap_or_default(),
                })
            }))
    }

    async fn actor_by_id(
        &self,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<ActorRef>, ConnectorError> {
        Ok(self
            .client
            .actor_by_id(actor_id, deadline)
            .await?
            .and_then(|a| {
                Some(ActorRef {
                    id: a.actor_id.clone()?,
                    name: a.name.clone().unwrap_or_default(),
                })
            }))
    }

    async fn departing_watchlist(
        &self,
        create: bool,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        if create {
            self.client.departing_watchlist_id(deadline).await.map(Some)
        } else {
            self.client
                .find_watchlist_id("DEPARTING_EMPLOYEE", deadline)
                .await
        }
    }

    async fn is_included(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        Ok(self
            .client
            .included_actor(watchlist_id, actor_id, deadline)
            .await?
            .is_some())
    }

    async fn include(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client
            .add_included_actors(watchlist_id, &[actor_id.to_string()], deadline)
            .await
    }

    async fn exclude(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client
            .remove_included_actors(watchlist_id, &[actor_id.to_string()], deadline)
            .await
    }

    async fn set_end_date(
        &self,
        actor_id: &str,
        date: Option<crate::domain::Date>,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let update = match date {
            Some(d) => incydr::ActorUpdate::end_date(d),
            None => incydr::ActorUpdate::clear_end_date(),
        };
        self.client
            .update_actor(actor_id, &update, deadline)
            .await
            .map(|_| ())
    }
}
