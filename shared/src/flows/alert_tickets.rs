//! alert-tickets: every Incydr session with alerts gets exactly one ticket per configured sink
//! (Jira, ServiceNow or both), and one comment each time it gains new data.
//!
//! Each run scans the whole lookback window (`on_or_after = now − lookback`, `before = run
//! start`) plus every `OPEN_NEW_DATA` session with no time bound, reads the sessions' work items
//! in batches, and decides per session: no item → create; `lastUpdated` newer than the one
//! handled → comment; otherwise skip (DESIGN.md, "Polling Incydr sessions").

use super::tickets::{
    StepError, TicketPlan, create_ticket, dedup_key, mark_intents, plan_ticket, record_intents,
    set_outcome, ticket_step,
};
use super::{RunCtx, Timing};
use crate::domain::{
    AlertSession, ConnectionKind, FileEventSummary, Flow, ItemStatus, RunRecord, RunStatus,
    ScanMark, TicketContent, TicketRef, WorkItem, severity_name,
};
use crate::metrics::Unit;
use crate::ports::{AlertSource, SessionFilter, TicketSink};
use crate::store::Claim;
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;

const FLOW: Flow = Flow::AlertTickets;

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
    /// How long Jira search may lag behind a create.
    pub consistency_horizon_ms: i64,
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
            consistency_horizon_ms: 10 * 60_000,
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

/// The two queries of a scan.
pub fn scan_filters(settings: &AlertSettings, scan_start: i64) -> (SessionFilter, SessionFilter) {
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

async fn scan_and_act(ctx: &RunCtx, deps: &AlertDeps) -> Option<RunStatus> {
    let scan_start = ctx.now();
    let (mut window, new_data) = scan_filters(&deps.settings, scan_start);
    if let Some((from, to)) = deps.settings.window {
        window.on_or_after = Some(from);
        window.before = Some(to);
    }
    let filters: Vec<&SessionFilter> = if deps.settings.window.is_some() {
        vec![&window]
    } else {
        vec![&window, &new_data]
    };
    let mut sessions: HashMap<String, AlertSession> = HashMap::new();
    for filter in filters {
        match deps.source.sessions(filter, Some(ctx.deadline)).await {
            Ok(list) => {
                for s in list {
                    match sessions.get(&s.session_id) {
                        Some(old) if old.last_updated >= s.last_updated => {}
                        _ => {
                            sessions.insert(s.session_id.clone(), s);
                        }
                    }
                }
            }
            Err(e) => {
                ctx.error(format!("reading Incydr sessions: {e}"));
                return Some(RunStatus::Failed);
            }
        }
    }
    ctx.count("sessions_scanned", sessions.len() as u64);
    let window_start = window
        .on_or_after
        .unwrap_or(scan_start - deps.settings.lookback_ms);

    let keys: Vec<String> = sessions.keys().cloned().collect();
    let items = match ctx.store.items(FLOW, &keys, ctx.now()).await {
        Ok(i) => i,
        Err(e) => {
            ctx.error(format!("state store: {e}"));
            return Some(RunStatus::Failed);
        }
    };

    let mut todo: Vec<(AlertSession, Option<WorkItem>, Action)> = Vec::new();
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
        if let Some(a) = action {
            todo.push((s, item, a));
        }
    }
    // Oldest changes first, so lag shrinks in order.
    todo.sort_by_key(|(s, _, _)| s.last_updated);

    let results: Vec<(i64, Outcome)> = futures::stream::iter(todo)
        .map(|(s, item, action)| async move {
            let last = s.last_updated;
            (last, act(ctx, deps, s, item, action).await)
        })
        .buffer_unordered(deps.settings.concurrency.max(1))
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
                sink.name(),
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
            let steps: Vec<String> = deps.sinks.iter().map(|s| ticket_step(s.as_ref())).collect();
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
    let (lease, mut item) = match claim {
        Ok(Claim::Acquired { lease, item }) => (lease, item),
        Ok(Claim::Done(_)) => return Outcome::Done,
        Ok(Claim::Busy { .. }) => return Outcome::Busy,
        Err(e) => {
            ctx.error(format!("session {id}: state store: {e}"));
            return Outcome::Failed;
        }
    };
    let deadline = Some(deps.timing.call_deadline(ctx, lease.until));
    match act_claimed(ctx, deps, &session, &lease, &mut item, deadline).await {
        Ok(Outcome::Waiting) => {
            ctx.settle_audit_or_note().await;
            if let Err(e) = ctx.store.release(&lease, &item, ctx.now()).await {
                ctx.error(format!("session {id}: state store: {e}"));
            }
            ctx.count("waiting_for_search", 1);
            Outcome::Waiting
        }
        Ok(_) => {
            item.handled_last_updated = Some(session.last_updated);
            ctx.settle_audit_or_note().await;
            match ctx.store.complete(&lease, &item, ctx.now()).await {
                Ok(_) => Outcome::Done,
                Err(e) => {
                    ctx.error(format!("session {id}: state store: {e}"));
                    Outcome::Failed
                }
            }
        }
        Err(e) => {
            ctx.count("actions_failed", 1);
            ctx.error(format!("session {id}: {e}"));
            let retry = e.is_transient();
            ctx.settle_audit_or_note().await;
            if let Err(se) = ctx
                .store
                .fail(&lease, &item, &e.to_string(), retry, ctx.now())
                .await
            {
                ctx.error(format!("session {id}: state store: {se}"));
            }
            Outcome::Failed
        }
    }
}

async fn act_claimed(
    ctx: &RunCtx,
    deps: &AlertDeps,
    session: &AlertSession,
    lease: &crate::domain::Lease,
    item: &mut WorkItem,
    deadline: Option<std::time::Instant>,
) -> Result<Outcome, StepError> {
    let id = &session.session_id;
    let key = dedup_key(FLOW, id);
    let updated = session.last_updated > item.handled_last_updated.unwrap_or(0)
        && item.handled_last_updated.is_some();

    let mut creates: Vec<&Arc<dyn TicketSink>> = Vec::new();
    let mut comments: Vec<(&Arc<dyn TicketSink>, TicketRef)> = Vec::new();
    for sink in &deps.sinks {
        let had = super::tickets::recorded_ticket(item, &ticket_step(sink.as_ref()));
        match plan_ticket(
            ctx,
            sink.as_ref(),
            item,
            lease,
            &key,
            deps.settings.consistency_horizon_ms,
            deadline,
        )
        .await?
        {
            TicketPlan::Wait { .. } => return Ok(Outcome::Waiting),
            TicketPlan::Create => creates.push(sink),
            TicketPlan::Exists(t) => {
                if had.is_none() {
                    // Found by its dedup key after a lost answer: record it.
                    let v = serde_json::to_value(&t).unwrap_or_default();
                    set_outcome(item, &ticket_step(sink.as_ref()), v, ctx.now());
                    ctx.audit(
                        sink_kind(sink.name()),
                        "recover_ticket",
                        &t.key,
                        &format!("session {id}"),
                        "ok: found by dedup key after a lost answer",
                    );
                } else if updated && !commented(item, sink.name(), session.last_updated) {
                    // A retry after another sink failed comments only where it is missing.
                    comments.push((sink, t));
                }
            }
        }
    }
    if creates.is_empty() && comments.is_empty() {
        return Ok(Outcome::Done);
    }

    let fingerprint = session.last_updated.to_string();
    let mut steps: Vec<String> = creates.iter().map(|s| ticket_step(s.as_ref())).collect();
    steps.extend(
        comments
            .iter()
            .map(|(s, _)| format!("comment:{}", s.name())),
    );
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
                        sink_kind(sink.name()),
                        "create_ticket",
                        &t.key,
                        &format!("session {id} ({})", severity_name(session.severity)),
                        "ok",
                    );
                    created.push(t);
                }
                Err(e) => {
                    ctx.audit(
                        sink_kind(sink.name()),
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
        let content = comment_content(session);
        for (sink, ticket) in comments {
            match sink.comment(&ticket, &content, deadline).await {
                Ok(()) => {
                    set_outcome(
                        item,
                        &format!("comment:{}", sink.name()),
                        serde_json::json!({"last_updated": session.last_updated}),
                        ctx.now(),
                    );
                    ctx.count("comments_added", 1);
                    ctx.audit(
                        sink_kind(sink.name()),
                        "add_comment",
                        &ticket.key,
                        &format!("session {id} gained new data"),
                        "ok",
                    );
                }
                Err(e) => {
                    ctx.audit(
                        sink_kind(sink.name()),
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
    Ok(Outcome::Done)
}

/// Whether the sink already took the comment for this `lastUpdated` (recorded outcome).
fn commented(item: &WorkItem, sink: &str, last_updated: i64) -> bool {
    item.step_outcome(&format!("comment:{sink}"))
        .and_then(|v| v["last_updated"].as_i64())
        .is_some_and(|done| done >= last_updated)
}

fn sink_kind(name: &str) -> ConnectionKind {
    if name == "servicenow" {
        ConnectionKind::Servicenow
    } else {
        ConnectionKind::Jira
    }
}

fn fmt_time(ms: Option<i64>) -> String {
    ms.map(crate::clock::rfc3339_of_ms)
        .unwrap_or_else(|| "unknown".into())
}

/// The ticket for a session: actor, severity, alerts with rule names, risk indicators,
/// summaries, top file events and the console link.
pub fn ticket_content(
    s: &AlertSession,
    events: &[FileEventSummary],
    link: Option<String>,
) -> TicketContent {
    let actor = s
        .actor_name
        .clone()
        .unwrap_or_else(|| s.actor_id.clone().unwrap_or_else(|| "unknown actor".into()));
    let rules: Vec<String> = s
        .triggered_alerts
        .iter()
        .map(|a| a.rule_name.clone().unwrap_or_else(|| a.rule_id.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let what = if rules.is_empty() {
        "alert".to_string()
    } else {
        rules.join(", ")
    };
    let mut summary = format!(
        "Incydr {} alert: {what} ({actor})",
        severity_name(s.severity).to_lowercase()
    );
    if summary.chars().count() > 250 {
        summary = summary.chars().take(249).collect::<String>() + "…";
    }
    let mut sections = vec![(
        "Alert".to_string(),
        vec![
            format!("Actor: {actor}"),
            format!("Severity: {} ({})", severity_name(s.severity), s.severity),
            format!("State: {}", s.state.as_deref().unwrap_or("unknown")),
            format!("Session: {}", s.session_id),
            format!("Began: {}", fmt_time(s.begin_time)),
            format!("Last updated: {}", fmt_time(Some(s.last_updated))),
        ],
    )];
    if !s.triggered_alerts.is_empty() {
        sections.push((
            "Triggered alerts".into(),
            s.triggered_alerts
                .iter()
                .map(|a| match &a.rule_name {
                    Some(n) => format!("{n} (rule {}, alert {})", a.rule_id, a.alert_id),
                    None => format!("rule {} (alert {})", a.rule_id, a.alert_id),
                })
                .collect(),
        ));
    }
    if !s.risk_indicators.is_empty() {
        sections.push((
            "Risk indicators".into(),
            s.risk_indicators
                .iter()
                .map(|(n, c)| format!("{n}: {c} event(s)"))
                .collect(),
        ));
    }
    if let Some(x) = s
        .exfiltration_summary
        .as_ref()
        .filter(|x| !x.trim().is_empty())
    {
        sections.push(("Exfiltration summary".into(), vec![x.clone()]));
    }
    if let Some(x) = s.context_summary.as_ref().filter(|x| !x.trim().is_empty()) {
        sections.push(("Context summary".into(), vec![x.clone()]));
    }
    if !events.is_empty() {
        sections.push((
            "Top file events".into(),
            events
                .iter()
                .map(|e| {
                    let mut parts = vec![
                        e.timestamp.clone().unwrap_or_else(|| "?".into()),
                        e.file_name
                            .clone()
                            .unwrap_or_else(|| "(unnamed file)".into()),
                    ];
                    if let Some(sz) = e.file_size {
                        parts.push(format!("{sz} bytes"));
                    }
                    if let Some(d) = &e.destination {
                        parts.push(format!("to {d}"));
                    }
                    if let Some(r) = &e.risk_severity {
                        parts.push(r.clone());
                    }
                    if let Some(h) = &e.sha256 {
                        parts.push(format!("sha256 {h}"));
                    }
                    parts.join(" · ")
                })
                .collect(),
        ));
    }
    TicketContent {
        summary,
        severity: s.severity,
        sections,
        link,
    }
}

/// The comment for a session that gained new data.
pub fn comment_content(s: &AlertSession) -> TicketContent {
    let mut lines = vec![
        format!("Severity: {} ({})", severity_name(s.severity), s.severity),
        format!("State: {}", s.state.as_deref().unwrap_or("unknown")),
        format!("Last updated: {}", fmt_time(Some(s.last_updated))),
        format!("Alerts: {}", s.triggered_alerts.len()),
    ];
    for a in &s.triggered_alerts {
        lines.push(format!(
            "{} (alert {})",
            a.rule_name.clone().unwrap_or_else(|| a.rule_id.clone()),
            a.alert_id
        ));
    }
    TicketContent {
        summary: format!("Incydr session {} gained new data", s.session_id),
        severity: s.severity,
        sections: vec![("The Incydr session gained new data".into(), lines)],
        link: None,
    }
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

    #[tokio::test]
    async fn a_session_below_the_minimum_severity_gets_no_ticket() {
        let job = Job::new();
        job.alerts
            .put(FakeAlerts::session("s-3", 0, job.now - 60_000));
        let rec = job.run().await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert!(job.sink.created_keys().is_empty());
    }
}
