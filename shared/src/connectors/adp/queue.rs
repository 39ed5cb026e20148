//! ADP's event-notification queue (`ports::HrQueue`): what a message is, by ADP's rule
//! ([`super::TERMINATION_EVENTS`]).

use crate::connectors::ConnectorError;
use crate::connectors::hr::pulled_event_time;
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

    fn interpret(&self, msg: &QueueMessage, now_ms: i64) -> QueueEvent {
        interpret(msg, now_ms)
    }
}

/// A termination is HR work (the worker record has the email); any other event, or a body that
/// cannot be read, is ignored with the reason. The event time is the message's own
/// ([`super::parse_event`]), clamped to `now_ms` when it lies in the future
/// ([`pulled_event_time`]).
fn interpret(msg: &QueueMessage, now_ms: i64) -> QueueEvent {
    match super::parse_event(&msg.body) {
        Ok(ev) if ev.is_termination => {
            let at = pulled_event_time(ev.event_time_ms, now_ms);
            QueueEvent::Work {
                dedup_id: ev.event_id.clone(),
                work: HrWork::AdpTermination {
                    event_id: ev.event_id,
                    associate_oid: ev.associate_oid,
                    termination_date: ev.termination_date.map(|d| d.to_string()),
                    event_time: at.at_ms,
                    reason: ev.reason,
                },
                what: "termination event".into(),
                clamped_from: at.clamped_from,
            }
        }
        Ok(ev) => QueueEvent::Ignored {
            dedup_id: ev.event_id,
            reason: format!("not a termination ({})", ev.name),
        },
        Err(e) => QueueEvent::Ignored {
            dedup_id: msg.label(),
            reason: format!("unparseable: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-01T12:00:00Z.
    const NOW_MS: i64 = 1_772_366_400_000;

    fn msg(body: &str) -> QueueMessage {
        QueueMessage {
            id: Some("m1".into()),
            body: body.into(),
        }
    }

    #[test]
    fn an_unreadable_message_is_ignored_under_its_message_id() {
        match interpret(&msg("not json"), NOW_MS) {
            QueueEvent::Ignored { dedup_id, reason } => {
                assert_eq!(dedup_id, "m1");
                assert!(reason.starts_with("unparseable: "), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    fn termination(record_date_time: &str) -> QueueMessage {
        msg(&serde_json::json!({"events": [{
            "eventID": "ev-1",
            "eventNameCode": {"codeValue": "worker.terminate"},
            "recordDateTime": record_date_time,
            "effectiveDateTime": "2026-06-30T04:00:00.000+0000",
            "data": {"output": {"worker": {"associateOID": "G3K",
                "workerDates": {"terminationDate": "2026-06-30"}}}}
        }]})
        .to_string())
    }

    fn event_time(event: &QueueEvent) -> (i64, Option<i64>) {
        match event {
            QueueEvent::Work {
                work: HrWork::AdpTermination { event_time, .. },
                clamped_from,
                ..
            } => (*event_time, *clamped_from),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_termination_is_dated_by_its_record_time_not_by_when_it_takes_effect() {
        // Recorded an hour ago, effective at the end of June: the fact is an hour old.
        let event = interpret(&termination("2026-03-01T11:00:00Z"), NOW_MS);
        assert_eq!(event_time(&event), (NOW_MS - 3_600_000, None));
    }

    #[test]
    fn a_termination_recorded_in_the_future_is_clamped_to_when_it_was_read_and_says_so() {
        let event = interpret(&termination("2026-03-02T12:00:00Z"), NOW_MS);
        assert_eq!(event_time(&event), (NOW_MS, Some(NOW_MS + 86_400_000)));
        // Within the clock-skew allowance the time is kept.
        let event = interpret(&termination("2026-03-01T12:05:00Z"), NOW_MS);
        assert_eq!(event_time(&event), (NOW_MS + 300_000, None));
    }
}
