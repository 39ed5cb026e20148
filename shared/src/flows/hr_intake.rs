//! How HR facts come in, before hr-departures acts on them: a verified webhook delivery is
//! recorded with its pending work item in one write ([`record_webhook`]); a queue (ADP) is
//! drained, each message recorded before it is acknowledged ([`drain`]); a report (Workday) is
//! pulled and compared with the last snapshot ([`pull`]). Each fact becomes an [`HrWork`] item
//! that [`super::hr_departures`] processes.

use super::RunCtx;
pub use crate::domain::HrWork;
use crate::domain::{Delivery, Flow, HrSource, ItemStatus, WorkItem};
use crate::ports::{HrQueue, HrReport, QueueEvent};
use crate::store::{DeliveryOutcome, StoreError};

const FLOW: Flow = Flow::HrDepartures;
/// How long delivery records are kept: far longer than any signature replay window.
pub const DELIVERY_RETENTION_MS: i64 = 30 * 86_400_000;

/// The work-item key of a delivery.
pub fn item_key(source: &str, id: &str) -> String {
    format!("{source}:{id}")
}

/// The work-item key of a fact seen by a report pull at `pulled_at`:
/// `<source>:<source event id>@<pull time ms>`. Items recorded before the pull time was part of
/// the key (`<source>:<source event id>`) stay readable: a key is only ever looked up whole.
pub fn report_item_key(source: HrSource, source_event_id: &str, pulled_at: i64) -> String {
    item_key(source.as_str(), &format!("{source_event_id}@{pulled_at}"))
}

/// Record a verified webhook delivery with its pending work item, all or nothing.
pub async fn record_webhook(
    store: &crate::store::Store,
    source: &str,
    delivery_id: &str,
    body_sha256: String,
    work: &HrWork,
    now: i64,
) -> Result<(DeliveryOutcome, String), StoreError> {
    let key = item_key(source, delivery_id);
    let mut item = WorkItem::new(FLOW, key.clone(), ItemStatus::Pending, now);
    item.payload = serde_json::to_value(work).unwrap_or_default();
    let delivery = Delivery {
        source: source.to_string(),
        id: delivery_id.to_string(),
        received_at: now,
        body_sha256,
        expires_at: now + DELIVERY_RETENTION_MS,
    };
    let outcome = store.record_delivery(&delivery, &item, now).await?;
    Ok((outcome, key))
}

/// Drain a queue: record every message (HR work as pending items, anything else as ignored
/// with the reason), then acknowledge it, so the queue never blocks.
pub(super) async fn drain(ctx: &RunCtx, source: HrSource, queue: &dyn HrQueue) {
    let deadline = Some(ctx.deadline);
    let name = source.name();
    loop {
        if ctx.remaining() < std::time::Duration::from_secs(10) {
            ctx.count("deferred_to_next_run", 1);
            return;
        }
        let msg = match queue.next(deadline).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                ctx.error(format!("{name} queue: {e}"));
                return;
            }
        };
        ctx.count(&format!("{source}_messages"), 1);
        let read_at = ctx.now();
        let event = queue.interpret(&msg, read_at);
        let label = msg.label();
        if ctx.dry_run {
            match &event {
                QueueEvent::Work { dedup_id, what, .. } => ctx.plan(format!(
                    "record {name} {what} {dedup_id} and acknowledge message {label}"
                )),
                QueueEvent::Ignored { reason, .. } => ctx.plan(format!(
                    "ignore {name} message {label} ({reason}) and acknowledge it"
                )),
            }
            // Nothing is acknowledged in a dry run, so the same message would come back: stop.
            return;
        }
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(msg.body.as_bytes()));
        let now = ctx.now();
        let recorded = match &event {
            QueueEvent::Work { dedup_id, work, .. } => {
                record_webhook(&ctx.store, source.as_str(), dedup_id, sha, work, now)
                    .await
                    .map(|_| ())
            }
            QueueEvent::Ignored { dedup_id, reason } => {
                // Recorded as an ignored delivery (done item with the reason), then acknowledged.
                let mut item = WorkItem::new(
                    FLOW,
                    item_key(source.as_str(), dedup_id),
                    ItemStatus::Done,
                    now,
                );
                item.payload = serde_json::json!({"ignored": reason, "message_id": label});
                item.expires_at = Some(now + DELIVERY_RETENTION_MS);
                let d = Delivery {
                    source: source.as_str().into(),
                    id: dedup_id.clone(),
                    received_at: now,
                    body_sha256: sha,
                    expires_at: now + DELIVERY_RETENTION_MS,
                };
                ctx.store.record_delivery(&d, &item, now).await.map(|_| ())
            }
        };
        if let Err(e) = recorded {
            ctx.error(format!(
                "{name} message {label} not recorded (left in the queue): {e}"
            ));
            return;
        }
        if let QueueEvent::Work {
            dedup_id,
            clamped_from: Some(given),
            ..
        } = &event
        {
            ctx.count("hr_event_times_clamped", 1);
            ctx.audit(
                source.kind(),
                "clamp_event_time",
                dedup_id,
                &format!(
                    "{name} event time {} is in the future",
                    crate::clock::rfc3339_of_ms(*given)
                ),
                format!("clamped to {}", crate::clock::rfc3339_of_ms(read_at)),
            );
        }
        if let QueueEvent::Ignored { reason, .. } = &event {
            ctx.count(&format!("{source}_ignored"), 1);
            ctx.audit(
                source.kind(),
                "ignore_message",
                &label,
                &format!("{name} event notification"),
                format!("ignored: {reason}"),
            );
        }
        let Some(id) = &msg.id else {
            // Deleting a message needs its id: this one stays at the head and every later
            // message waits behind it. Its content is recorded (above, once), and every run
            // says so until the vendor removes it.
            ctx.count(&format!("{source}_messages_without_id"), 1);
            ctx.error(format!(
                "{name} queue blocked: message {label} came without its id (adp-msg-msgid), so \
                 it cannot be deleted and later messages wait behind it; its content is \
                 recorded; ask {name} support to remove it"
            ));
            return;
        };
        match queue.ack(id, deadline).await {
            Ok(()) => ctx.audit(source.kind(), "ack_message", id, "recorded", "ok"),
            Err(e) => {
                ctx.error(format!(
                    "{name} message {id} recorded but not acknowledged: {e}"
                ));
                return;
            }
        }
    }
}

/// Pull a report, turn its differences from the previous snapshot into pending work (by the
/// source's rule, which also says what the run record must report), then store the new
/// snapshot (in pages: [`crate::store::Store::put_report_snapshot`]).
pub(super) async fn pull(ctx: &RunCtx, source: HrSource, report: &dyn HrReport) {
    let name = source.name();
    let answer = match report.fetch(Some(ctx.deadline)).await {
        Ok(a) => a,
        Err(e) => {
            ctx.error(format!("{name} report: {e}"));
            return;
        }
    };
    // The pull time: what the report's facts are dated by (the connector's rule).
    let now = ctx.now();
    let previous = match ctx.store.report_snapshot(source.as_str(), now).await {
        Ok(p) => p,
        Err(e) => {
            ctx.error(format!("state store: {e}"));
            return;
        }
    };
    let today = crate::clock::date_of_ms(now);
    let changes = match report.changes(
        previous.as_ref().map(|p| p.rows.as_slice()),
        &answer,
        today,
        now,
    ) {
        Ok(c) => c,
        Err(e) => {
            ctx.error(format!("{name} report: {e}"));
            return;
        }
    };
    for problem in changes.problems {
        ctx.error(format!("{name} report: {problem}"));
    }
    for (count, n) in &changes.counts {
        ctx.count(count, *n);
    }
    ctx.count(&format!("{source}_changes"), changes.facts.len() as u64);
    for fact in changes.facts {
        if ctx.dry_run {
            ctx.plan(format!(
                "{:?} of {} on {} ({name})",
                fact.kind,
                fact.email,
                fact.departure_date
                    .map_or("-".to_string(), |d| d.to_string())
            ));
            continue;
        }
        // The key names the fact *and* the pull that observed it: a re-termination or a
        // second cancellation repeats the source's own id, never the pull time.
        let key = report_item_key(source, &fact.source_event_id, now);
        let mut item = WorkItem::new(FLOW, key.clone(), ItemStatus::Pending, now);
        item.payload = serde_json::to_value(HrWork::Fact { fact }).unwrap_or_default();
        match ctx.store.put_pending(&item, now).await {
            Ok(true) => {}
            Ok(false) => match ctx.store.item(FLOW, &key, now).await {
                // The very same fact, already recorded: a duplicate, nothing to add.
                Ok(Some(held)) if held.payload == item.payload => {
                    ctx.count("hr_duplicate_facts", 1);
                }
                Ok(_) => {
                    // Another fact holds the key: refuse loudly, and keep the previous
                    // snapshot so the next pull finds this change again.
                    ctx.error(format!(
                        "{name} fact {key} not recorded: the key holds another fact; the report snapshot is kept for the next pull"
                    ));
                    return;
                }
                Err(e) => {
                    ctx.error(format!("{name} fact {key} not recorded: state store: {e}"));
                    return;
                }
            },
            Err(e) => {
                ctx.error(format!("{name} fact {key} not recorded: state store: {e}"));
                return;
            }
        }
    }
    if ctx.dry_run {
        return;
    }
    match ctx
        .store
        .put_report_snapshot(source.as_str(), previous.as_ref(), &changes.snapshot, now)
        .await
    {
        Ok(pages) => ctx.count(&format!("{source}_snapshot_pages"), u64::from(pages)),
        Err(e) => ctx.error(format!(
            "{name} report snapshot not stored (the next pull compares with the previous one): state store: {e}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Departure, HrEventKind};
    use crate::ports::QueueMessage;
    use crate::store::Store;
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const NOW: i64 = 1_780_000_000_000;

    /// A queue whose head is a termination sent without a message id: reading it again gives
    /// it again; deleting it is impossible.
    #[derive(Default)]
    struct HeadWithoutId {
        reads: AtomicUsize,
    }

    #[async_trait]
    impl HrQueue for HeadWithoutId {
        async fn next(
            &self,
            _deadline: Option<Instant>,
        ) -> Result<Option<QueueMessage>, crate::ports::ConnectorError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(Some(QueueMessage {
                id: None,
                body: "termination of pat".into(),
            }))
        }

        async fn ack(
            &self,
            id: &str,
            _deadline: Option<Instant>,
        ) -> Result<(), crate::ports::ConnectorError> {
            panic!("nothing to delete without an id, yet {id} was acknowledged")
        }

        fn interpret(&self, _msg: &QueueMessage, now_ms: i64) -> QueueEvent {
            QueueEvent::Work {
                dedup_id: "ev-1".into(),
                work: HrWork::Fact {
                    fact: Departure {
                        source: HrSource::Adp,
                        kind: HrEventKind::Departure,
                        source_event_id: "ev-1".into(),
                        event_time: now_ms,
                        email: "pat@example.com".into(),
                        employee_id: None,
                        departure_date: Some("2030-01-31".parse().unwrap()),
                        reason: None,
                    },
                },
                what: "termination event".into(),
                clamped_from: None,
            }
        }
    }

    #[tokio::test]
    async fn a_message_without_an_id_is_recorded_counted_and_reported_every_run_not_looped_on() {
        let store = Store::in_memory();
        let queue = HeadWithoutId::default();
        for run in 1..=2 {
            let ctx = RunCtx::new(
                store.clone(),
                FLOW,
                Instant::now() + Duration::from_secs(600),
                false,
                Arc::new(|| NOW),
            );
            drain(&ctx, HrSource::Adp, &queue).await;
            let rec = ctx.finish(None, None).await;
            assert_eq!(queue.reads.load(Ordering::SeqCst), run, "read once a run");
            assert_eq!(
                rec.counts.get("adp_messages_without_id"),
                Some(&1),
                "{rec:?}"
            );
            assert!(
                rec.errors
                    .iter()
                    .any(|e| e.contains("queue blocked") && e.contains("adp-msg-msgid")),
                "{rec:?}"
            );
        }
        let pending = store
            .item_keys(FLOW, ItemStatus::Pending, None, 10, NOW)
            .await
            .unwrap()
            .items;
        assert_eq!(
            pending,
            vec!["adp:ev-1".to_string()],
            "its work is kept, once"
        );
    }
}
