//! The intent/outcome ledger of a work item (the heart of exactly-once outside effects): before
//! an effect, its intent is recorded on the item under the lease; after it, its outcome. An
//! attempt that finds an intent without an outcome knows the answer was lost and checks before
//! acting again. Steps are typed ([`Step`]); the item stores them by [`Step::key`].

use super::RunCtx;
use crate::domain::{Lease, Step, WorkItem};
use crate::store::StoreError;

/// Mark the intent of `steps` on an item in memory, under the lease `token`.
pub fn mark_intents(item: &mut WorkItem, steps: &[Step], fingerprint: &str, token: &str, now: i64) {
    for step in steps {
        let rec = item.steps.entry(step.key()).or_default();
        rec.fingerprint = Some(fingerprint.to_string());
        rec.intent_at = Some(now);
        rec.lease_token = Some(token.to_string());
        rec.done_at = None;
        rec.outcome = None;
    }
}

/// Record intents for every step in `steps` in one write; steps whose intent this lease
/// already recorded (at claim time) cost nothing.
pub async fn record_intents(
    ctx: &RunCtx,
    lease: &Lease,
    item: &mut WorkItem,
    steps: &[Step],
    fingerprint: &str,
) -> Result<(), StoreError> {
    let todo: Vec<Step> = steps
        .iter()
        .filter(|s| {
            item.step(**s).is_none_or(|r| {
                r.lease_token.as_deref() != Some(lease.token.as_str())
                    || r.intent_at.is_none()
                    || r.fingerprint.as_deref() != Some(fingerprint)
            })
        })
        .cloned()
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let now = ctx.now();
    mark_intents(item, &todo, fingerprint, &lease.token, now);
    *item = ctx.store.save_item(lease, item, now).await?;
    Ok(())
}

/// Put a step's outcome on the item in memory (written by the next save / complete).
pub fn set_outcome(item: &mut WorkItem, step: Step, outcome: serde_json::Value, now: i64) {
    let rec = item.steps.entry(step.key()).or_default();
    rec.done_at = Some(now);
    rec.outcome = Some(outcome);
}
