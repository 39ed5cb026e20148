//! alert-tickets: every Incydr session with alerts gets exactly one ticket per configured sink
//! (Jira, ServiceNow or both), and one comment each time it gains new data.
//!
//! Each run scans the whole lookback window (`on_or_after = now − lookback`, `before = run
//! start`) plus every `OPEN_NEW_DATA` session with no time bound, reads the sessions' work items
//! in batches, and decides per session: no item → create; `lastUpdated` newer than the one
//! handled → comment; otherwise skip (README.md, "How exactly-once works"). A finished item
//! the scan skips is renewed before it could expire; a session without an item that may have
//! had one (it began before `now − retention`) is searched for in each sink before any create.

use super::scan;
use super::steps::{mark_intents, record_intents, set_outcome};
use super::ticket_content::{comment_content, ticket_content};
use super::tickets::{
    Search, TicketPlan, create_ticket, dedup_key, plan_ticket, record_found, search_first,
    ticket_step,
};
use super::work_item::{self, Acted, Settled, StepError};
use super::{RunCtx, Timing};
use crate::domain::{
    AlertSession, ConnectionKind, Flow, ItemStatus, RunRecord, RunStatus, ScanMark, Step,
    TicketRef, WorkItem, severity_name,
};
use crate::http::slot::WorkSlots;
use crate::metrics::Unit;
use crate::ports::{AlertSource, SessionFilter, TicketSink};
use futures::StreamExt;
use std::sync::Arc;

const FLOW: Flow = Flow::AlertTickets;

/// Sessions that may wait out a rate limit per working slot. Waiting sessions send nothing (the
/// pacer bounds the rate); this only bounds the memory of sessions in flight.
const WAITING_PER_SLOT: usize = 3;

/// Settings of the flow, from the Incydr connection's settings.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub lookback_ms: i64,
    /// Sessions below this severity (0–4) are not ticketed.
    pub min_severity: u8,
    /// Only sessions whose current state is one of these (empty: any).
    pub states: Vec<String>,
    /// Only sessions with an alert of one of these rules (empty: any).
    pub rule_ids: Vec<String>,
    /// Write the ticket link back to the session as a note.
    pub write_back_note: bool,
    /// Sessions acted on at once.
    pub concurrency: usize,
    /// File events listed in a ticket.
    pub top_events: usize,
    /// A failed item is retried by later runs this many times, then left for a person.
    pub max_attempts: u32,
    /// Backfill: scan exactly `[from, to)` instead of the lookback window (no `OPEN_NEW_DATA`
    /// query, no scan mark).
    pub window: Option<(i64, i64)>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            lookback_ms: 7 * 86_400_000,
            min_severity: 1,
            states: Vec::new(),
            rule_ids: Vec::new(),
            write_back_note: false,
            concurrency: 8,
            top_events: 10,
            max_attempts: 5,
            window: None,
        }
    }
}

/// What the flow talks to.
pub struct AlertDeps {
    pub source: Arc<dyn AlertSource>,
    pub sinks: Vec<Arc<dyn TicketSink>>,
    pub settings: AlertSettings,
    pub timing: Timing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Waiting,
    Busy,
    Failed,
    Deferred,
    Planned,
}

/// Run the flow once.
pub async fn run(ctx: &RunCtx, deps: &AlertDeps) -> RunRecord {
    if deps.sinks.is_empty() {
        return ctx
            .finish(
                Some(RunStatus::Skipped),
                Some("no ticket system is connected (connect Jira or ServiceNow)".into()),
            )
            .await;
    }
    let lock = match ctx.lock(&deps.timing).await {
        Ok(l) => l,
        Err(record) => return record,
    };
    let status = scan_and_act(ctx, deps).await;
    ctx.unlock(lock).await;
    ctx.finish(status, None).await
}

impl AlertSettings {
    /// The two queries of a scan: the lookback window, and sessions with new data.
    pub fn scan_filters(&self, scan_start: i64) -> (SessionFilter, SessionFilter) {
        let settings = self;
        let severities: Vec<u8> = (settings.min_severity.min(4)..=4).collect();
        let window = SessionFilter {
            on_or_after: Some(scan_start - settings.lookback_ms),
            before: Some(scan_start),
            states: settings.states.clone(),
            severities: severities.clone(),
            rule_ids: settings.rule_ids.clone(),
            watchlist_ids: Vec::new(),
        };
        let new_data = SessionFilter {
            on_or_after: None,
            before: None,
            states: vec!["OPEN_NEW_DATA".into()],
            severities,
            rule_ids: settings.rule_ids.clone(),
            watchlist_ids: Vec::new(),
        };
        (window, new_data)
    }
}

async fn scan_and_act(ctx: &RunCtx, deps: &AlertDeps) -> Option<RunStatus> {
    let scan_start = ctx.now();
    let (mut window, new_data) = deps.settings.scan_filters(scan_start);
    if let Some((from, to)) = deps.settings.window {
        window.on_or_after = Some(from);
        window.before = Some(to);
    }
    let filters: Vec<&SessionFilter> = if deps.settings.window.is_some() {
        vec![&window]
    } else {
        vec![&window, &new_data]
    };
    let sessions = match scan::sessions(ctx, deps.source.as_ref(), &filters).await {
        Ok(s) => s,
        Err(status) => return Some(status),
    };
    let window_start = window
        .on_or_after
        .unwrap_or(scan_start - deps.settings.lookback_ms);

    let Some(items) = scan::items(ctx, FLOW, &sessions).await else {
        return Some(RunStatus::Failed);
    };

    let scanned = sessions.len();
    let mut todo: Vec<(AlertSession, Option<WorkItem>, Action)> = Vec::new();
    let mut skipped: Vec<WorkItem> = Vec::new();
    for (id, s) in sessions {
        let item = items.get(&id).cloned();
        let action = match &item {
            None => {
                if s.begin_time.is_some_and(|b| b < window_start) {
                    // Began before the window and was never seen: only OPEN_NEW_DATA revealed it.
                    ctx.count("blind_spot_sessions", 1);
                }
                Some(Action::Create)
            }
            Some(it) => match it.status {
                ItemStatus::Done => (s.last_updated > it.handled_last_updated.unwrap_or(0))
                    .then_some(Action::Comment),
                ItemStatus::Failed if it.attempts >= deps.settings.max_attempts => {
                    ctx.count("failed_items_left", 1);
                    None
                }
                _ => Some(Action::Create),
            },
        };
        match (action, item) {
            (Some(a), item) => todo.push((s, item, a)),
            (None, Some(it)) => skipped.push(it),
            (None, None) => {}
        }
    }
    // Finished items the scan still sees never expire while it does.
    scan::keep_seen_items(ctx, &skipped, scanned).await;
    // Oldest changes first, so lag shrinks in order.
    todo.sort_by_key(|(s, _, _)| s.last_updated);

    // `concurrency` sessions work at once; a session waiting out a vendor's Retry-After gives
    // its slot to another meanwhile, up to WAITING_PER_SLOT more sessions in flight per slot.
    let n = deps.settings.concurrency.max(1);
    let slots = WorkSlots::new(n);
    let slots = &slots;
    let results: Vec<(i64, Outcome)> = futures::stream::iter(todo)
        .map(|(s, item, action)| async move {
            let last = s.last_updated;
            (last, slots.run(act(ctx, deps, s, item, action)).await)
        })
        .buffer_unordered(n * (1 + WAITING_PER_SLOT))
        .collect()
        .await;

    let mut complete = true;
    let mut oldest_unprocessed: Option<i64> = None;
    for (last_updated, outcome) in &results {
        match outcome {
            Outcome::Done | Outcome::Planned => {}
            Outcome::Failed | Outcome::Waiting | Outcome::Busy | Outcome::Deferred => {
                if *outcome == Outcome::Deferred {
                    complete = false;
                }
                oldest_unprocessed =
                    Some(oldest_unprocessed.map_or(*last_updated, |o| o.min(*last_updated)));
            }
        }
    }
    let lag = oldest_unprocessed.map_or(0.0, |o| ((ctx.now() - o).max(0) / 1000) as f64);
    ctx.gauge("lag_seconds", Unit::Seconds, lag);
    if complete && !ctx.dry_run && deps.settings.window.is_none() {
        let mark = ScanMark {
            flow: FLOW,
            completed_scan_started_at: scan_start,
            completed_at: ctx.now(),
        };
        if let Err(e) = ctx.store.put_scan_mark(&mark).await {
            ctx.error(format!("state store: {e}"));
        }
    }
    if !complete {
        ctx.count("deferred_to_next_run", 1);
    }
    None
}

async fn act(
    ctx: &RunCtx,
    deps: &AlertDeps,
    session: AlertSession,
    known: Option<WorkItem>,
    action: Action,
) -> Outcome {
    let id = session.session_id.clone();
    if ctx.dry_run {
        for sink in &deps.sinks {
            let what = match action {
                Action::Create => "create a ticket",
                Action::Comment => "comment on the ticket",
            };
            ctx.plan(format!(
                "{what} in {} for session {id} ({} by {})",
                sink.kind(),
                severity_name(session.severity),
                session.actor_name.as_deref().unwrap_or("unknown actor"),
            ));
        }
        return Outcome::Planned;
    }
    if !deps.timing.can_claim(ctx) {
        return Outcome::Deferred;
    }
    let claim = match &known {
        // Seen absent by the batched read: claim without reading again, and record the intent
        // of every ticket in the same write.
        None => {
            let steps: Vec<Step> = deps.sinks.iter().map(|s| ticket_step(s.as_ref())).collect();
            let fingerprint = session.last_updated.to_string();
            let now = ctx.now();
            ctx.store
                .claim_new(FLOW, &id, deps.timing.item_lease_ms, now, |item, token| {
                    mark_intents(item, &steps, &fingerprint, token, now)
                })
                .await
        }
        Some(it) => {
            ctx.store
                .claim(
                    FLOW,
                    &id,
                    Some(it),
                    action == Action::Comment,
                    deps.timing.item_lease_ms,
                    ctx.now(),
                )
                .await
        }
    };
    let search = if known.is_none() && scan::item_may_have_expired(&session, ctx.now()) {
        Search::First
    } else {
        Search::WhenInDoubt
    };
    let label = format!("session {id}");
    let (lease, mut item) = match work_item::acquired(ctx, &label, claim) {
        Ok(acquired) => acquired,
        Err(Some(Settled::Completed)) => return Outcome::Done,
        Err(Some(_)) => return Outcome::Failed,
        Err(None) => return Outcome::Busy,
    };
    let deadline = Some(deps.timing.call_deadline(ctx, lease.until));
    let acted = act_claimed(ctx, deps, &session, &lease, &mut item, search, deadline).await;
    if matches!(acted, Ok(Acted::Done)) {
        item.handled_last_updated = Some(session.last_updated);
    }
    match work_item::settle(ctx, &label, &lease, &item, acted).await {
        Settled::Completed => Outcome::Done,
        Settled::Released => {
            ctx.count("waiting_for_search", 1);
            Outcome::Waiting
        }
        Settled::Failed => Outcome::Failed,
    }
}

async fn act_claimed(
    ctx: &RunCtx,
    deps: &AlertDeps,
    session: &AlertSession,
    lease: &crate::domain::Lease,
    item: &mut WorkItem,
    search: Search,
    deadline: Option<std::time::Instant>,
) -> Result<Acted, StepError> {
    let id = &session.session_id;
    let key = dedup_key(FLOW, id);
    let updated = session.last_updated > item.handled_last_updated.unwrap_or(0)
        && item.handled_last_updated.is_some();

    let mut creates: Vec<&Arc<dyn TicketSink>> = Vec::new();
    // (sink, ticket, whether an earlier attempt may have posted this very comment).
    let mut comments: Vec<(&Arc<dyn TicketSink>, TicketRef, bool)> = Vec::new();
    let fingerprint = session.last_updated.to_string();
    let mut waiting = false;
    for sink in &deps.sinks {
        let had = super::tickets::recorded_ticket(item, ticket_step(sink.as_ref()));
        let plan = match search {
            Search::First => search_first(ctx, sink.as_ref(), item, &key, deadline).await?,
            Search::WhenInDoubt => {
                plan_ticket(ctx, sink.as_ref(), item, lease, &key, deadline).await?
            }
        };
        match plan {
            // This sink's create may have happened: it waits, the others go ahead.
            TicketPlan::Wait { .. } => waiting = true,
            TicketPlan::Create => creates.push(sink),
            TicketPlan::Exists(t) => {
                if had.is_none() {
                    // Found by its dedup key after a lost answer: record it.
                    let reason = format!("session {id}");
                    record_found(ctx, sink.as_ref(), item, &t, search, &reason);
                } else if updated && !commented(item, sink.kind(), session.last_updated) {
                    // A retry after another sink failed comments only where it is missing.
                    let doubt = item.step(Step::Comment(sink.kind())).is_some_and(|r| {
                        r.intent_at.is_some()
                            && r.outcome.is_none()
                            && r.fingerprint.as_deref() == Some(fingerprint.as_str())
                            && r.lease_token.as_deref() != Some(lease.token.as_str())
                    });
                    comments.push((sink, t, doubt));
                }
            }
        }
    }
    let acted = if waiting { Acted::Waiting } else { Acted::Done };
    if creates.is_empty() && comments.is_empty() {
        return Ok(acted);
    }

    let mut steps: Vec<Step> = creates.iter().map(|s| ticket_step(s.as_ref())).collect();
    steps.extend(comments.iter().map(|(s, _, _)| Step::Comment(s.kind())));
    record_intents(ctx, lease, item, &steps, &fingerprint).await?;

    let mut created: Vec<TicketRef> = Vec::new();
    if !creates.is_empty() {
        let events = match deps
            .source
            .file_events(id, deps.settings.top_events, deadline)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                ctx.error(format!("session {id}: file events unavailable: {e}"));
                Vec::new()
            }
        };
        let content = ticket_content(session, &events, deps.source.session_link(id));
        for sink in creates {
            match create_ticket(ctx, sink.as_ref(), item, &content, &key, deadline).await {
                Ok(t) => {
                    ctx.audit(
                        sink.kind(),
                        "create_ticket",
                        &t.key,
                        &format!("session {id} ({})", severity_name(session.severity)),
                        "ok",
                    );
                    created.push(t);
                }
                Err(e) => {
                    ctx.audit(
                        sink.kind(),
                        "create_ticket",
                        &key,
                        &format!("session {id}"),
                        format!("failed: {e}"),
                    );
                    return Err(e.into());
                }
            }
        }
    }
    if !comments.is_empty() {
        // The marker a lost comment is found by: the session's dedup key and this data's time.
        let marker = format!("{key}.{}", session.last_updated);
        let content = comment_content(session, &marker);
        for (sink, ticket, doubt) in comments {
            if doubt && sink.has_comment(&ticket, &marker, deadline).await? {
                // An earlier attempt posted it and its answer was lost: record it, once.
                set_outcome(
                    item,
                    Step::Comment(sink.kind()),
                    serde_json::json!({"last_updated": session.last_updated}),
                    ctx.now(),
                );
                ctx.count("comments_recovered", 1);
                ctx.audit(
                    sink.kind(),
                    "recover_comment",
                    &ticket.key,
                    &format!("session {id} gained new data"),
                    "ok: found by its marker after a lost answer",
                );
                continue;
            }
            match sink.comment(&ticket, &content, deadline).await {
                Ok(()) => {
                    set_outcome(
                        item,
                        Step::Comment(sink.kind()),
                        serde_json::json!({"last_updated": session.last_updated}),
                        ctx.now(),
                    );
                    ctx.count("comments_added", 1);
                    ctx.audit(
                        sink.kind(),
                        "add_comment",
                        &ticket.key,
                        &format!("session {id} gained new data"),
                        "ok",
                    );
                }
                Err(e) => {
                    ctx.audit(
                        sink.kind(),
                        "add_comment",
                        &ticket.key,
                        &format!("session {id}"),
                        format!("failed: {e}"),
                    );
                    return Err(e.into());
                }
            }
        }
    }
    if deps.settings.write_back_note && !created.is_empty() {
        let text: String = created
            .iter()
            .map(|t| match &t.url {
                Some(u) => format!("riskflow opened {} {} ({u})", t.system, t.key),
                None => format!("riskflow opened {} {}", t.system, t.key),
            })
            .collect::<Vec<_>>()
            .join("; ");
        let text: String = text.chars().take(2000).collect();
        match deps.source.add_note(id, &text, deadline).await {
            Ok(()) => ctx.audit(ConnectionKind::Incydr, "add_note", id, "ticket link", "ok"),
            Err(e) => {
                // The ticket exists; a missing note is reported, not retried into a second ticket.
                ctx.audit(
                    ConnectionKind::Incydr,
                    "add_note",
                    id,
                    "ticket link",
                    format!("failed: {e}"),
                );
                ctx.error(format!("session {id}: note not written: {e}"));
            }
        }
    }
    Ok(acted)
}

/// Whether the sink already took the comment for this `lastUpdated` (recorded outcome).
fn commented(item: &WorkItem, sink: ConnectionKind, last_updated: i64) -> bool {
    item.step_outcome(Step::Comment(sink))
        .and_then(|v| v["last_updated"].as_i64())
        .is_some_and(|done| done >= last_updated)
}

#[cfg(test)]
mod decision_tests {
    //! One fast test per decision of the job, over the fakes of the ports and the in-memory
    //! store: create, skip when unchanged, comment when the session gained data, ignore below
    //! the minimum severity.

    use super::*;
    use crate::flows::fakes::{FakeAlerts, FakeSink};
    use crate::store::Store;
    use std::time::Duration;

    struct Job {
        store: Store,
        alerts: Arc<FakeAlerts>,
        sink: Arc<FakeSink>,
        now: i64,
    }

    impl Job {
        fn new() -> Job {
            Job {
                store: Store::in_memory(),
                alerts: Arc::new(FakeAlerts::default()),
                sink: Arc::new(FakeSink::default()),
                now: crate::clock::now_ms(),
            }
        }

        async fn run(&self) -> RunRecord {
            let now = self.now;
            let ctx = RunCtx::new(
                self.store.clone(),
                Flow::AlertTickets,
                std::time::Instant::now() + Duration::from_secs(600),
                false,
                Arc::new(move || now),
            );
            let deps = AlertDeps {
                source: self.alerts.clone(),
                sinks: vec![self.sink.clone()],
                settings: AlertSettings::default(),
                timing: Timing::default(),
            };
            run(&ctx, &deps).await
        }
    }

    #[tokio::test]
    async fn a_new_session_gets_one_ticket_and_an_unchanged_one_nothing_more() {
        let job = Job::new();
        job.alerts
            .put(FakeAlerts::session("s-1", 3, job.now - 60_000));
        let rec = job.run().await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(job.sink.created_keys(), ["riskflow-alert-tickets-s-1"]);
        let again = job.run().await;
        assert_eq!(again.counts.get("tickets_created"), None, "{again:?}");
        assert_eq!(job.sink.created_keys().len(), 1);
        assert!(job.sink.comments().is_empty());
    }

    #[tokio::test]
    async fn a_session_that_gained_data_gets_one_comment_on_its_ticket() {
        let job = Job::new();
        job.alerts
            .put(FakeAlerts::session("s-2", 2, job.now - 60_000));
        job.run().await;
        job.alerts
            .put(FakeAlerts::session("s-2", 2, job.now - 1_000));
        let rec = job.run().await;
        assert_eq!(rec.counts.get("comments_added"), Some(&1), "{rec:?}");
        assert_eq!(job.sink.comments(), ["INC0000001"]);
        job.run().await;
        assert_eq!(
            job.sink.comments().len(),
            1,
            "the same data is commented once"
        );
        assert_eq!(job.sink.created_keys().len(), 1);
    }

    const DAY: i64 = 86_400_000;

    /// A session in `OPEN_NEW_DATA` (every scan returns it) that began `days_ago` days ago.
    fn open_new_data(id: &str, now: i64, days_ago: i64) -> AlertSession {
        let mut s = FakeAlerts::session(id, 3, now - days_ago * DAY);
        s.state = Some("OPEN_NEW_DATA".into());
        s
    }

    #[tokio::test]
    async fn a_finished_item_the_scan_sees_is_renewed_once_past_half_its_retention() {
        let mut job = Job::new();
        job.alerts.put(open_new_data("s-4", job.now, 1));
        job.run().await;
        let finished = job.now;
        job.now += 89 * DAY;
        let early = job.run().await;
        assert_eq!(
            early.counts.get("items_retention_renewed"),
            None,
            "{early:?}"
        );
        job.now = finished + 91 * DAY;
        let renewed = job.run().await;
        assert_eq!(
            renewed.counts.get("items_retention_renewed"),
            Some(&1),
            "{renewed:?}"
        );
        let item = job.store.item(FLOW, "s-4", job.now).await.unwrap().unwrap();
        assert_eq!(
            item.expires_at,
            Some(job.now + crate::store::ITEM_RETENTION_MS)
        );
        let next = job.run().await;
        assert_eq!(
            next.counts.get("items_retention_renewed"),
            None,
            "once: {next:?}"
        );
        assert_eq!(job.sink.created_keys().len(), 1);
    }

    #[tokio::test]
    async fn items_aging_together_are_renewed_one_per_hundred_scanned_sessions_per_run() {
        let mut job = Job::new();
        for i in 0..250 {
            job.alerts
                .put(open_new_data(&format!("s-many-{i}"), job.now, 1));
        }
        job.run().await;
        job.now += 100 * DAY;
        // 250 due, 3 renewed a run (one per hundred scanned), the rest left to later runs.
        for left in [247, 244] {
            let rec = job.run().await;
            let renewals = (
                rec.counts.get("items_retention_renewed"),
                rec.counts.get("items_retention_renewals_left"),
            );
            assert_eq!(renewals, (Some(&3), Some(&left)), "{rec:?}");
        }
    }

    #[tokio::test]
    async fn an_old_session_whose_item_expired_and_was_deleted_is_searched_for_not_ticketed_again()
    {
        let mut job = Job::new();
        job.alerts.put(open_new_data("s-5", job.now, 30));
        job.run().await;
        assert_eq!(job.sink.created_keys(), ["riskflow-alert-tickets-s-5"]);
        // No run for 400 days: the item expired and DynamoDB's TTL deleted it.
        job.now += 400 * DAY;
        let gone = job.store.backend().delete_expired(job.now).await.unwrap();
        assert!(gone >= 1, "the item was deleted");
        let rec = job.run().await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(
            rec.counts.get("tickets_found_after_expiry"),
            Some(&1),
            "{rec:?}"
        );
        assert_eq!(job.sink.created_keys().len(), 1, "no second ticket");
        let item = job.store.item(FLOW, "s-5", job.now).await.unwrap().unwrap();
        assert_eq!(item.status, ItemStatus::Done);
        assert_eq!(
            super::super::tickets::recorded_ticket(&item, Step::Ticket(ConnectionKind::Servicenow))
                .map(|t| t.key),
            Some("INC0000001".to_string())
        );
    }

    #[tokio::test]
    async fn a_session_too_young_to_have_had_an_expired_item_is_created_without_a_search() {
        let job = Job::new();
        let young = open_new_data("s-6", job.now, 170);
        assert!(!scan::item_may_have_expired(&young, job.now));
        assert!(scan::item_may_have_expired(
            &open_new_data("s-7", job.now, 180),
            job.now
        ));
        let mut unknown = young.clone();
        unknown.begin_time = None;
        assert!(scan::item_may_have_expired(&unknown, job.now));
    }

    #[tokio::test]
    async fn a_session_below_the_minimum_severity_gets_no_ticket() {
        let job = Job::new();
        job.alerts
            .put(FakeAlerts::session("s-3", 0, job.now - 60_000));
        let rec = job.run().await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert!(job.sink.created_keys().is_empty());
    }

    #[tokio::test]
    async fn a_session_page_that_keeps_failing_with_503_defers_the_run_and_the_next_run_catches_up()
    {
        let job = Job::new();
        job.alerts
            .put(FakeAlerts::session("s-4", 3, job.now - 60_000));
        *job.alerts.page_error.lock().unwrap() = Some(crate::flows::fakes::status_error(
            "incydr",
            "/v1/sessions/search",
            503,
        ));
        let rec = job.run().await;
        assert_eq!(rec.status, RunStatus::Partial, "{rec:?}");
        assert_eq!(rec.counts.get("deferred_to_next_run"), Some(&1), "{rec:?}");
        assert!(job.sink.created_keys().is_empty());
        *job.alerts.page_error.lock().unwrap() = None;
        let rec = job.run().await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(job.sink.created_keys(), ["riskflow-alert-tickets-s-4"]);
    }

    #[tokio::test]
    async fn a_lost_jira_create_waits_out_its_own_horizon_without_holding_the_servicenow_ticket() {
        use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
        let store = Store::in_memory();
        let alerts = Arc::new(FakeAlerts::default());
        let horizon = 10 * 60_000;
        let jira = Arc::new(FakeSink::lagging(horizon));
        let snow = Arc::new(FakeSink::default());
        let clock = Arc::new(AtomicI64::new(crate::clock::now_ms()));
        alerts.put(FakeAlerts::session("s-5", 3, clock.load(SeqCst) - 60_000));
        let run = || {
            let c = clock.clone();
            let ctx = RunCtx::new(
                store.clone(),
                Flow::AlertTickets,
                std::time::Instant::now() + Duration::from_secs(600),
                false,
                Arc::new(move || c.load(SeqCst)),
            );
            let deps = AlertDeps {
                source: alerts.clone(),
                sinks: vec![jira.clone(), snow.clone()],
                settings: AlertSettings::default(),
                timing: Timing::default(),
            };
            async move { run(&ctx, &deps).await }
        };
        // Jira's answer to the create is lost (a 503 after it may have acted).
        *jira.create_error.lock().unwrap() = Some(crate::flows::fakes::status_error(
            "jira",
            "/rest/api/3/issue",
            503,
        ));
        run().await;
        *jira.create_error.lock().unwrap() = None;
        // The next run: Jira's ticket waits for its search to catch up, ServiceNow's does not.
        clock.fetch_add(60_000, SeqCst);
        let rec = run().await;
        assert_eq!(rec.counts.get("waiting_for_search"), Some(&1), "{rec:?}");
        assert_eq!(
            snow.created_keys(),
            ["riskflow-alert-tickets-s-5"],
            "{rec:?}"
        );
        assert!(jira.created_keys().is_empty());
        // Past Jira's horizon: one more search, then the create; ServiceNow is not touched again.
        clock.fetch_add(horizon, SeqCst);
        let rec = run().await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(jira.created_keys().len(), 1);
        assert_eq!(snow.created_keys().len(), 1);
        assert!(snow.comments().is_empty());
        let rec = run().await;
        assert_eq!(rec.counts.get("tickets_created"), None, "{rec:?}");
    }
}
