//! How HR facts come in, before hr-departures acts on them: a verified webhook delivery is
//! recorded with its pending work item in one write ([`record_webhook`]); the ADP queue is
//! drained, each message recorded before it is acknowledged ([`drain_adp`]); the Workday report
//! is pulled and compared with the last snapshot ([`pull_workday`]). Each fact becomes an
//! [`HrWork`] item that [`super::hr_departures`] processes.

use super::RunCtx;
use crate::domain::{ConnectionKind, Delivery, Departure, Flow, ItemStatus, WorkItem};
use crate::ports::{HrQueue, HrReport};
use crate::store::{DeliveryOutcome, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const FLOW: Flow = Flow::HrDepartures;
/// How long delivery records are kept: far longer than any signature replay window.
pub const DELIVERY_RETENTION_MS: i64 = 30 * 86_400_000;

/// A pending unit of HR work, stored as the work item's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HrWork {
    /// A complete fact (generic webhook, Workday report).
    Fact { fact: Departure },
    /// A BambooHR change: the payload names the employee; the API says what changed.
    BambooChange {
        employee_id: String,
        event_type: String,
        event_time: i64,
        #[serde(default)]
        fields: BTreeMap<String, String>,
        source_event_id: String,
    },
    /// An ADP termination event: the worker record has the email.
    AdpTermination {
        event_id: String,
        associate_oid: String,
        termination_date: Option<String>,
        event_time: i64,
        /// The event's reason (absent in items recorded before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// The work-item key of a delivery.
pub fn item_key(source: &str, id: &str) -> String {
    format!("{source}:{id}")
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

/// Drain the ADP queue: record every message (terminations as pending work, anything else as
/// ignored with the reason), then acknowledge it, so the queue never blocks.
pub(super) async fn drain_adp(ctx: &RunCtx, queue: &dyn HrQueue) {
    let deadline = Some(ctx.deadline);
    loop {
        if ctx.remaining() < std::time::Duration::from_secs(10) {
            ctx.count("deferred_to_next_run", 1);
            return;
        }
        let msg = match queue.next(deadline).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                ctx.error(format!("ADP queue: {e}"));
                return;
            }
        };
        ctx.count("adp_messages", 1);
        let parsed = crate::connectors::adp::parse_event(&msg.body);
        let (work, dedup_id, ignored) = match parsed {
            Ok(ev) if ev.is_termination => (
                Some(HrWork::AdpTermination {
                    event_id: ev.event_id.clone(),
                    associate_oid: ev.associate_oid.clone(),
                    termination_date: ev.termination_date.clone(),
                    event_time: ev.event_time_ms,
                    reason: ev.reason.clone(),
                }),
                ev.event_id,
                None,
            ),
            Ok(ev) => (
                None,
                ev.event_id.clone(),
                Some(format!("not a termination ({})", ev.name)),
            ),
            Err(e) => (None, msg.id.clone(), Some(format!("unparseable: {e}"))),
        };
        if ctx.dry_run {
            match &ignored {
                None => ctx.plan(format!(
                    "record ADP termination event {dedup_id} and acknowledge message {}",
                    msg.id
                )),
                Some(r) => ctx.plan(format!(
                    "ignore ADP message {} ({r}) and acknowledge it",
                    msg.id
                )),
            }
            // Nothing is acknowledged in a dry run, so the same message would come back: stop.
            return;
        }
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(msg.body.as_bytes()));
        let now = ctx.now();
        let recorded = match &work {
            Some(w) => record_webhook(&ctx.store, "adp", &dedup_id, sha, w, now)
                .await
                .map(|_| ()),
            None => {
                // Recorded as an ignored delivery (done item with the reason), then acknowledged.
                let mut item =
                    WorkItem::new(FLOW, item_key("adp", &dedup_id), ItemStatus::Done, now);
                item.payload = serde_json::json!({"ignored": ignored.clone().unwrap_or_default(), "message_id": msg.id});
                item.expires_at = Some(now + DELIVERY_RETENTION_MS);
                let d = Delivery {
                    source: "adp".into(),
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
                "ADP message {} not recorded (left in the queue): {e}",
                msg.id
            ));
            return;
        }
        if let Some(reason) = &ignored {
            ctx.count("adp_ignored", 1);
            ctx.audit(
                ConnectionKind::Adp,
                "ignore_message",
                &msg.id,
                "ADP event notification",
                format!("ignored: {reason}"),
            );
        }
        match queue.ack(&msg.id, deadline).await {
            Ok(()) => ctx.audit(
                ConnectionKind::Adp,
                "ack_message",
                &msg.id,
                "recorded",
                "ok",
            ),
            Err(e) => {
                ctx.error(format!(
                    "ADP message {} recorded but not acknowledged: {e}",
                    msg.id
                ));
                return;
            }
        }
    }
}

/// Pull the Workday report, turn its differences from the previous snapshot into pending work,
/// then store the new snapshot.
pub(super) async fn pull_workday(ctx: &RunCtx, report: &dyn HrReport) {
    const PK: &str = "snapshot#workday";
    let now = ctx.now();
    let current = match report.snapshot(Some(ctx.deadline)).await {
        Ok(s) => s,
        Err(e) => {
            ctx.error(format!("Workday report: {e}"));
            return;
        }
    };
    let previous = match ctx.store.get_doc(PK, "last", now).await {
        Ok(p) => p,
        Err(e) => {
            ctx.error(format!("state store: {e}"));
            return;
        }
    };
    let today = crate::clock::date_of_ms(now);
    let changes = match report.changes(previous.as_ref(), &current, &today, now) {
        Ok(c) => c,
        Err(e) => {
            ctx.error(format!("Workday report: {e}"));
            return;
        }
    };
    ctx.count("workday_changes", changes.len() as u64);
    for fact in changes {
        if ctx.dry_run {
            ctx.plan(format!(
                "{:?} of {} on {} (Workday)",
                fact.kind,
                fact.email,
                fact.departure_date.as_deref().unwrap_or("-")
            ));
            continue;
        }
        let key = item_key("workday", &fact.source_event_id);
        let mut item = WorkItem::new(FLOW, key, ItemStatus::Pending, now);
        item.payload = serde_json::to_value(HrWork::Fact { fact }).unwrap_or_default();
        if let Err(e) = ctx.store.put_pending(&item, now).await {
            ctx.error(format!("state store: {e}"));
            return;
        }
    }
    if !ctx.dry_run
        && let Err(e) = ctx.store.put_doc(PK, "last", &current).await
    {
        ctx.error(format!("state store: {e}"));
    }
}
