//! ADP's event-notification queue (`ports::HrQueue`).

use crate::connectors::ConnectorError;
use crate::ports::{HrQueue, QueueMessage};
use async_trait::async_trait;
use std::time::Instant;

use super::directory::AdpSource;

#[async_trait]
impl HrQueue for AdpSource {
    async fn next(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<QueueMessage>, ConnectorError> {
        Ok(self
            .client
            .next_message(deadline)
            .await?
            .map(|m| QueueMessage {
                id: m.msg_id,
                body: m.body,
            }))
    }

    async fn ack(&self, id: &str, deadline: Option<Instant>) -> Result<(), ConnectorError> {
        self.client.ack(id, deadline).await
    }
}
