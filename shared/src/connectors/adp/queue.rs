//! ADP's event-notification queue (`ports::HrQueue`): what a message is, by ADP's rule
//! ([`super::TERMINATION_EVENTS`]).

use crate::connectors::ConnectorError;
use crate::domain::HrWork;
use crate::ports::{HrQueue, QueueEvent, QueueMessage};
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

    fn interpret(&self, msg: &QueueMessage) -> QueueEvent {
        interpret(msg)
    }
}

/// A termination is HR work (the worker record has the email); any other event, or a body that
/// cannot be read, is ignored with the reason.
fn interpret(msg: &QueueMessage) -> QueueEvent {
    match super::parse_event(&msg.body) {
        Ok(ev) if ev.is_termination => QueueEvent::Work {
            dedup_id: ev.event_id.clone(),
            work: HrWork::AdpTermination {
                event_id: ev.event_id,
                associate_oid: ev.associate_oid,
                termination_date: ev.termination_date.map(|d| d.to_string()),
                event_time: ev.event_time_ms,
                reason: ev.reason,
            },
            what: "termination event".into(),
        },
        Ok(ev) => QueueEvent::Ignored {
            dedup_id: ev.event_id,
            reason: format!("not a termination ({})", ev.name),
        },
        Err(e) => QueueEvent::Ignored {
            dedup_id: msg.id.clone(),
            reason: format!("unparseable: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> QueueMessage {
        QueueMessage {
            id: "m1".into(),
            body: body.into(),
        }
    }

    #[test]
    fn an_unreadable_message_is_ignored_under_its_message_id() {
        match interpret(&msg("not json")) {
            QueueEvent::Ignored { dedup_id, reason } => {
                assert_eq!(dedup_id, "m1");
                assert!(reason.starts_with("unparseable: "), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
