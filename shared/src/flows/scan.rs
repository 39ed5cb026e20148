//! Reading the sessions a run acts on, the part the jobs that scan Incydr share: every query's
//! sessions merged by id (the newest `lastUpdated` kept when two queries return the same
//! session), then the work items of all of them in one batched read.
//!
//! Retention over months: a finished item whose session a scan still sees is renewed once less
//! than half its retention is left ([`keep_seen_items`]), so it never expires while the
//! session is visible; a session without an item that began before `now − retention` may have
//! had one that expired ([`item_may_have_expired`]), so its ticket is searched for before any
//! create.

use super::RunCtx;
use crate::domain::{AlertSession, Flow, RunStatus, WorkItem};
use crate::ports::{AlertSource, SessionFilter};
use crate::store::{ITEM_RETENTION_MS, Store};
use std::collections::HashMap;

/// Clock skew allowed between Incydr's session times and riskflow's clock when deciding
/// whether a session's item may have expired.
const EXPIRY_SKEW_MS: i64 = 86_400_000;

/// The sessions of every filter, merged by id. A failed query ends the scan, with the status
/// the run ends with ([`RunCtx::cannot_continue`]: a transient fault defers the run's work):
/// a partial scan must not pass for a complete one.
pub async fn sessions(
    ctx: &RunCtx,
    source: &dyn AlertSource,
    filters: &[&SessionFilter],
) -> Result<HashMap<String, AlertSession>, RunStatus> {
    let mut sessions: HashMap<String, AlertSession> = HashMap::new();
    // Sessions without an id cannot be told apart across queries: the most one query returned.
    let mut without_id = 0;
    for filter in filters {
        match source.sessions(filter, Some(ctx.deadline)).await {
            Ok(list) => {
                without_id = without_id.max(list.without_id);
                for s in list.sessions {
                    match sessions.get(&s.session_id) {
                        Some(old) if old.last_updated >= s.last_updated => {}
                        _ => {
                            sessions.insert(s.session_id.clone(), s);
                        }
                    }
                }
            }
            Err(e) => return Err(ctx.cannot_continue("reading Incydr sessions", &e)),
        }
    }
    ctx.count("sessions_scanned", sessions.len() as u64);
    if without_id > 0 {
        ctx.count("sessions_without_id", without_id as u64);
        ctx.error(format!(
            "Incydr returned {without_id} session(s) without a sessionId: they cannot be tracked, so they were not acted on"
        ));
    }
    Ok(sessions)
}

/// The work items of these sessions, in one batched read (`None`: the store failed, reported).
pub async fn items(
    ctx: &RunCtx,
    flow: Flow,
    sessions: &HashMap<String, AlertSession>,
) -> Option<HashMap<String, WorkItem>> {
    let keys: Vec<String> = sessions.keys().cloned().collect();
    match ctx.store.items(flow, &keys, ctx.now()).await {
        Ok(i) => Some(i),
        Err(e) => {
            ctx.error(format!("state store: {e}"));
            None
        }
    }
}

/// Whether the work item of a session seen without one may have existed and expired. Every item
/// is written after its session began and only expires [`ITEM_RETENTION_MS`] after it was
/// finished (or last renewed), so a session that began after `now − retention` (less a day for
/// clock skew) cannot have had an expired item: it is new. An older session, or one without a
/// begin time, may have had one: its ticket is searched for by dedup key before any create,
/// and nothing is created blind.
pub fn item_may_have_expired(session: &AlertSession, now: i64) -> bool {
    session
        .begin_time
        .is_none_or(|b| b < now - ITEM_RETENTION_MS + EXPIRY_SKEW_MS)
}

/// Renewals per scanned session a run makes at most (the budget of state-store requests per
/// scanned unchanged session is 0.01).
const RENEWALS_PER_SCANNED: usize = 100;

/// Renew the retention of the finished items among `seen` (items of sessions this scan saw and
/// will not act on) that are past half of it, each with a write conditional on the item being
/// unchanged. Each item needs this once per half retention (90 days); so that a cohort of items
/// finished together does not make one run pay for all of them, a run of `scanned` sessions
/// renews at most one item per hundred scanned (at least one), the soonest to expire first, and
/// leaves the rest to the next runs, months before they could expire. Nothing is written in a
/// dry run. A failed renewal is counted and logged, not fatal: the item stays live for weeks,
/// and a session whose item did expire is searched for before anything is created.
pub async fn keep_seen_items<'a>(
    ctx: &RunCtx,
    seen: impl IntoIterator<Item = &'a WorkItem>,
    scanned: usize,
) {
    if ctx.dry_run {
        return;
    }
    let now = ctx.now();
    let mut due: Vec<&WorkItem> = seen
        .into_iter()
        .filter(|it| Store::needs_refresh(it, now))
        .collect();
    due.sort_by_key(|it| it.expires_at);
    let budget = scanned.div_ceil(RENEWALS_PER_SCANNED).max(1);
    if due.len() > budget {
        ctx.count("items_retention_renewals_left", (due.len() - budget) as u64);
        due.truncate(budget);
    }
    for item in due {
        match ctx.store.refresh_item(item, now).await {
            Ok(Some(_)) => ctx.count("items_retention_renewed", 1),
            // Changed since it was read: that write set its retention.
            Ok(None) => {}
            Err(e) => {
                ctx.count("items_retention_renewal_failed", 1);
                tracing::warn!(flow = %item.flow, key = %item.key, error = %e, "renewing a work item's retention failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::fakes::FakeAlerts;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn sessions_without_an_id_are_counted_and_reported_not_dropped_silently() {
        let store = Store::in_memory();
        let ctx = RunCtx::new(
            store,
            Flow::AlertTickets,
            Instant::now() + Duration::from_secs(60),
            false,
            Arc::new(|| 1_780_000_000_000),
        );
        let source = FakeAlerts::default();
        source.put(FakeAlerts::session("s1", 3, 1_779_999_000_000));
        *source.without_id.lock().unwrap() = 2;
        let filter = SessionFilter::default();
        // Two queries both return the same two id-less sessions.
        let found = sessions(&ctx, &source, &[&filter, &filter]).await.unwrap();
        assert_eq!(found.len(), 1);
        let rec = ctx.finish(None, None).await;
        assert_eq!(rec.counts.get("sessions_without_id"), Some(&2), "{rec:?}");
        assert!(
            rec.errors.iter().any(|e| e.contains("without a sessionId")),
            "{rec:?}"
        );
    }
}
