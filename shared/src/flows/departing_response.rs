//! departing-response: when an alert fires for someone on the Departing watchlist, add the
//! user to a low-permission group of the identity provider (Okta today), then open a ticket
//! (Jira today) with the alert details and the containment taken (or why none was, or its
//! failure).
//!
//! Each session is a work item with two steps, [`Step::Contain`] and [`Step::Ticket`]; a retry
//! does only the missing steps. A finished item the scan still sees is renewed before it could
//! expire; a session without an item that may have had one (it began before `now − retention`)
//! is searched for in the ticket system first, and a ticket found means its containment was
//! decided when the ticket was opened: it is recorded, never repeated. Otherwise a user already
//! in the group is left as they are. Group adds are capped per run and per day; protected users,
//! protected groups and the token's own account are never touched. Audit actions and counts
//! are named after the identity provider (`okta_group_add`, `okta_group_adds`).

use super::alert_tickets::AlertSettings;
use super::containment::{self, Decided};
use super::scan;
use super::steps::{record_intents, set_outcome};
use super::ticket_content::ticket_content;
use super::tickets::{
    Search, TicketPlan, create_ticket, dedup_key, plan_ticket, record_found, search_first,
    ticket_step,
};
use super::work_item::{self, Acted, Settled, StepError};
use super::{RunCtx, Timing};
use crate::domain::{
    AlertSession, Flow, ItemStatus, RunRecord, RunStatus, Step, WorkItem, severity_name,
};
use crate::ports::{AlertSource, IdentityProvider, TicketSink, UserLookup, WatchlistAdmin};
use futures::StreamExt;
use std::sync::Arc;

const FLOW: Flow = Flow::DepartingResponse;

/// Settings of the flow (the identity provider's connection settings plus the Incydr scan
/// settings).
#[derive(Debug, Clone)]
pub struct DepartingSettings {
    pub scan: AlertSettings,
    /// The low-permission group, by the identity provider's id (Okta: `00g…`).
    pub group_id: String,
    pub cap_per_run: u64,
    pub cap_per_day: u64,
    /// Logins (lower-case) never added to any group.
    pub protected_users: Vec<String>,
    /// Group ids never changed.
    pub protected_groups: Vec<String>,
    /// Undo a group add this many days after it was made (none: until undone otherwise).
    pub contain_for_days: Option<u32>,
}

/// What the flow talks to.
pub struct DepartingDeps {
    pub source: Arc<dyn AlertSource>,
    pub watchlists: Arc<dyn WatchlistAdmin>,
    pub idp: Arc<dyn IdentityProvider>,
    pub sink: Arc<dyn TicketSink>,
    pub settings: DepartingSettings,
    pub timing: Timing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Pending,
    Failed,
    Deferred,
}

/// Run the flow once.
pub async fn run(ctx: &RunCtx, deps: &DepartingDeps) -> RunRecord {
    if deps
        .settings
        .protected_groups
        .iter()
        .any(|g| g == &deps.settings.group_id)
    {
        ctx.error(format!(
            "{} group {} is protected; refusing to change it",
            deps.idp.kind().short_name(),
            deps.settings.group_id
        ));
        return ctx.finish(Some(RunStatus::Failed), None).await;
    }
    let lock = match ctx.lock(&deps.timing).await {
        Ok(l) => l,
        Err(record) => return record,
    };
    // Undos first: a cancelled departure or a passed time limit frees people before new work.
    let undo = containment::UndoDeps {
        idp: deps.idp.as_ref(),
        protected_groups: &deps.settings.protected_groups,
    };
    containment::undo_due(ctx, &undo).await;
    let status = scan_and_act(ctx, deps).await;
    ctx.unlock(lock).await;
    ctx.finish(status, None).await
}

async fn scan_and_act(ctx: &RunCtx, deps: &DepartingDeps) -> Option<RunStatus> {
    let wl = match deps
        .watchlists
        .departing_watchlist(false, Some(ctx.deadline))
        .await
    {
        Ok(Some(wl)) => wl,
        Ok(None) => {
            ctx.count("sessions_scanned", 0);
            return None;
        }
        Err(e) => return Some(ctx.cannot_continue("finding the Departing watchlist", &e)),
    };
    let token_owner = match deps.idp.token_owner(Some(ctx.deadline)).await {
        Ok(o) => o.map(|l| l.to_ascii_lowercase()),
        Err(e) => {
            let what = format!("{}: the API token's owner", deps.idp.kind().short_name());
            return Some(ctx.cannot_continue(&what, &e));
        }
    };
    let (mut window, mut new_data) = deps.settings.scan.scan_filters(ctx.now());
    window.watchlist_ids = vec![wl.clone()];
    new_data.watchlist_ids = vec![wl];
    let sessions = match scan::sessions(ctx, deps.source.as_ref(), &[&window, &new_data]).await {
        Ok(s) => s,
        Err(status) => return Some(status),
    };
    let Some(items) = scan::items(ctx, FLOW, &sessions).await else {
        return Some(RunStatus::Failed);
    };
    // Finished items the scan still sees never expire while it does.
    let done = items.values().filter(|i| i.status == ItemStatus::Done);
    scan::keep_seen_items(ctx, done, sessions.len()).await;
    let mut todo: Vec<(AlertSession, Option<WorkItem>)> = sessions
        .into_values()
        .filter_map(|s| {
            let it = items.get(&s.session_id).cloned();
            match &it {
                Some(i) if i.status == ItemStatus::Done => None,
                Some(i)
                    if i.status == ItemStatus::Failed
                        && i.attempts >= deps.settings.scan.max_attempts =>
                {
                    None
                }
                _ => Some((s, it)),
            }
        })
        .collect();
    todo.sort_by_key(|(s, _)| s.last_updated);
    let owner = token_owner.as_deref();
    // Group adds are counted against the caps, so sessions are handled one at a time.
    let results: Vec<Outcome> = futures::stream::iter(todo)
        .map(|(s, it)| act(ctx, deps, s, it, owner))
        .buffered(1)
        .collect()
        .await;
    if results.contains(&Outcome::Deferred) {
        ctx.count("deferred_to_next_run", 1);
    }
    None
}

async fn act(
    ctx: &RunCtx,
    deps: &DepartingDeps,
    session: AlertSession,
    known: Option<WorkItem>,
    token_owner: Option<&str>,
) -> Outcome {
    let id = session.session_id.clone();
    if ctx.dry_run {
        ctx.plan(format!(
            "add the user of session {id} ({}) to {} group {}, then open a {} ticket",
            session.actor_name.as_deref().unwrap_or("unknown actor"),
            deps.idp.kind().short_name(),
            deps.settings.group_id,
            deps.sink.kind().short_name()
        ));
        return Outcome::Done;
    }
    if !deps.timing.can_claim(ctx) {
        return Outcome::Deferred;
    }
    let search = if known.is_none() && scan::item_may_have_expired(&session, ctx.now()) {
        Search::First
    } else {
        Search::WhenInDoubt
    };
    let label = format!("session {id}");
    let claim = ctx
        .store
        .claim(
            FLOW,
            &id,
            known.as_ref(),
            false,
            deps.timing.item_lease_ms,
            ctx.now(),
        )
        .await;
    let (lease, mut item) = match work_item::acquired(ctx, &label, claim) {
        Ok(acquired) => acquired,
        // Finished or held by another run: nothing for this run to do.
        Err(Some(Settled::Completed) | None) => return Outcome::Done,
        Err(Some(_)) => return Outcome::Failed,
    };
    let acted = act_claimed(ctx, deps, &session, &lease, &mut item, token_owner, search).await;
    if matches!(acted, Ok(Acted::Done)) {
        item.handled_last_updated = Some(session.last_updated);
    }
    match work_item::settle(ctx, &label, &lease, &item, acted).await {
        Settled::Completed => Outcome::Done,
        Settled::Released => Outcome::Pending,
        Settled::Failed => Outcome::Failed,
    }
}

/// What happened in the identity provider, as recorded on the item and told in the ticket.
fn containment_summary(outcome: &serde_json::Value) -> String {
    outcome["summary"]
        .as_str()
        .unwrap_or("no containment recorded")
        .to_string()
}

async fn act_claimed(
    ctx: &RunCtx,
    deps: &DepartingDeps,
    session: &AlertSession,
    lease: &crate::domain::Lease,
    item: &mut WorkItem,
    token_owner: Option<&str>,
    search: Search,
) -> Result<Acted, StepError> {
    let deadline = Some(deps.timing.call_deadline(ctx, lease.until));
    let id = &session.session_id;
    let group = &deps.settings.group_id;
    let idp = deps.idp.kind();
    let sink = deps.sink.as_ref();
    let key = dedup_key(FLOW, id);

    // Decide the ticket first (a lost create answer must be resolved before anything else).
    let plan = match search {
        Search::First => search_first(ctx, sink, item, &key, deadline).await?,
        Search::WhenInDoubt => plan_ticket(ctx, sink, item, lease, &key, deadline).await?,
    };
    if matches!(plan, TicketPlan::Wait { .. }) {
        ctx.count("waiting_for_search", 1);
        return Ok(Acted::Waiting);
    }
    if let (Search::First, TicketPlan::Exists(t)) = (search, &plan) {
        // The ticket is opened only after the containment step is decided, so an earlier
        // (expired) item took or declined the containment: it is never taken a second time,
        // even when the user has left the group since (an admin may have removed them).
        if item.step_outcome(Step::Contain(idp)).is_none() {
            ctx.audit(
                idp,
                &format!("{idp}_group_add"),
                session
                    .actor_name
                    .as_deref()
                    .or(session.actor_id.as_deref())
                    .unwrap_or("unknown actor"),
                &format!("session {id}"),
                format!("skipped: decided when ticket {} was opened", t.key),
            );
            let summary = format!(
                "decided when ticket {} was opened (the session's work item had expired); not repeated",
                t.key
            );
            set_outcome(
                item,
                Step::Contain(idp),
                serde_json::json!({ "summary": summary }),
                ctx.now(),
            );
        }
    }

    // Step 1: containment.
    if item.step_outcome(Step::Contain(idp)).is_none() {
        let outcome = contain(ctx, deps, session, lease, item, token_owner, deadline).await?;
        match outcome {
            Some(o) => set_outcome(item, Step::Contain(idp), o, ctx.now()),
            None => return Ok(Acted::Waiting),
        }
    }
    let contained = item
        .step_outcome(Step::Contain(idp))
        .map(containment_summary)
        .unwrap_or_default();

    // Step 2: the ticket.
    match plan {
        TicketPlan::Exists(t) => {
            if super::tickets::recorded_ticket(item, ticket_step(sink)).is_none() {
                // Found by its dedup key (after a lost create answer, or the item expired):
                // recorded with its audit entry, as alert-tickets does.
                let reason = format!("departing employee session {id}");
                record_found(ctx, sink, item, &t, search, &reason);
            }
            Ok(Acted::Done)
        }
        TicketPlan::Create => {
            record_intents(
                ctx,
                lease,
                item,
                &[ticket_step(sink)],
                &session.last_updated.to_string(),
            )
            .await?;
            let events = deps
                .source
                .file_events(id, deps.settings.scan.top_events, deadline)
                .await
                .unwrap_or_default();
            let mut content = ticket_content(session, &events, deps.source.session_link(id));
            content.summary = format!(
                "Departing employee {} alert: {}",
                severity_name(session.severity).to_lowercase(),
                session.actor_name.as_deref().unwrap_or("unknown actor")
            );
            content.sections.insert(
                0,
                (
                    "Containment".into(),
                    vec![format!("{} group {group}: {contained}", idp.short_name())],
                ),
            );
            match create_ticket(ctx, sink, item, &content, &key, deadline).await {
                Ok(t) => {
                    ctx.audit(
                        sink.kind(),
                        "create_ticket",
                        &t.key,
                        &format!("departing employee session {id}"),
                        "ok",
                    );
                    Ok(Acted::Done)
                }
                Err(e) => {
                    ctx.audit(
                        sink.kind(),
                        "create_ticket",
                        &key,
                        &format!("departing employee session {id}"),
                        format!("failed: {e}"),
                    );
                    Err(e.into())
                }
            }
        }
        TicketPlan::Wait { .. } => Ok(Acted::Waiting),
    }
}

/// Why the account `login` is never touched, if it is not: (the audit result, the rest of the
/// sentence after the login).
fn guarded(
    deps: &DepartingDeps,
    token_owner: Option<&str>,
    login: &str,
) -> Option<(&'static str, String)> {
    if deps
        .settings
        .protected_users
        .iter()
        .any(|p| p.eq_ignore_ascii_case(login))
    {
        return Some(("skipped: protected user", "is a protected user".into()));
    }
    if token_owner.is_some_and(|o| o.eq_ignore_ascii_case(login)) {
        return Some((
            "skipped: the API token's own account",
            format!("owns the {} API token", deps.idp.kind().short_name()),
        ));
    }
    None
}

/// The containment step. `Ok(Some(outcome))` when decided (added, already a member, skipped with a
/// reason, or failed for good); `Ok(None)` to try again later; `Err` for a transient failure.
async fn contain(
    ctx: &RunCtx,
    deps: &DepartingDeps,
    session: &AlertSession,
    lease: &crate::domain::Lease,
    item: &mut WorkItem,
    token_owner: Option<&str>,
    deadline: Option<std::time::Instant>,
) -> Result<Option<serde_json::Value>, StepError> {
    // An earlier attempt recorded its intent to add and no outcome: its add may have been
    // applied before it crashed or lost the answer.
    let step = Step::Contain(deps.idp.kind());
    let earlier_intent = item.step(step).is_some_and(|r| {
        r.intent_at.is_some()
            && r.outcome.is_none()
            && r.lease_token.as_deref() != Some(lease.token.as_str())
    });
    let id = &session.session_id;
    let group = &deps.settings.group_id;
    let idp = deps.idp.kind();
    let (idp_name, action, adds) = (
        idp.short_name(),
        format!("{idp}_group_add"),
        format!("{idp}_group_adds"),
    );
    let outcome = |summary: String| Some(serde_json::json!({ "summary": summary }));
    let email = match (&session.actor_name, &session.actor_id) {
        (Some(n), _) if n.contains('@') => n.to_ascii_lowercase(),
        (_, Some(actor)) => match deps.watchlists.actor_by_id(actor, deadline).await? {
            Some(a) => a.name.to_ascii_lowercase(),
            None => {
                return Ok(outcome(format!(
                    "not changed: Incydr actor {actor} not found"
                )));
            }
        },
        _ => return Ok(outcome("not changed: the session names no actor".into())),
    };
    if let Some((audit, why)) = guarded(deps, token_owner, &email) {
        ctx.audit(idp, &action, &email, &format!("session {id}"), audit);
        return Ok(outcome(format!("not changed: {email} {why}")));
    }
    let skip = |result: String, count: &str| {
        ctx.count(&format!("{idp}_{count}"), 1);
        ctx.audit(idp, &action, &email, &format!("session {id}"), result);
    };
    let user = match deps.idp.user_by_email(&email, deadline).await {
        Ok(UserLookup::One(u)) => u,
        Ok(UserLookup::None) => {
            skip(format!("skipped: no {idp_name} user"), "users_not_found");
            return Ok(outcome(format!(
                "not changed: no {idp_name} user with login or email {email}"
            )));
        }
        Ok(UserLookup::Ambiguous { matches }) => {
            skip(
                format!("skipped: no unique {idp_name} user ({matches} matches)"),
                "users_not_unique",
            );
            return Ok(outcome(format!(
                "not changed: no unique {idp_name} user for {email} ({matches} matches)"
            )));
        }
        Err(e) if !e.is_transient() || item.attempts + 1 >= deps.settings.scan.max_attempts => {
            ctx.audit(
                idp,
                &action,
                &email,
                &format!("session {id}"),
                format!("failed: {e}"),
            );
            return Ok(outcome(format!("failed: {e}")));
        }
        Err(e) => return Err(e.into()),
    };
    // The account found by email may have another login: the guards hold for it too.
    let login = user.login.to_ascii_lowercase();
    if let Some((audit, why)) = guarded(deps, token_owner, &login) {
        ctx.audit(idp, &action, &email, &format!("session {id}"), audit);
        return Ok(outcome(format!("not changed: {login} {why}")));
    }
    let decided = |added: bool| Decided {
        session_id: id,
        email: &email,
        login: &login,
        group_id: group,
        user_id: &user.id,
        added,
        contain_for_days: deps.settings.contain_for_days,
    };
    match deps.idp.is_member(group, &user.id, deadline).await {
        Ok(true) if earlier_intent => {
            // The member is there because riskflow's earlier attempt added them: record the
            // add that was made, with its audit entry, so it is known (and undone) as riskflow's.
            let containment = containment::record(ctx, idp, &decided(true)).await?;
            ctx.count(&adds, 1);
            ctx.audit(
                idp,
                &action,
                &email,
                &format!("session {id}"),
                "ok (made by an earlier attempt whose answer was lost; recorded now)",
            );
            return Ok(Some(serde_json::json!({
                "summary": format!("{email} was added to the group (containment {containment})"),
                "user_id": user.id,
                "was_member": false,
                "containment": containment,
            })));
        }
        Ok(true) => {
            // Already in the group: by an open containment of riskflow's (another session of
            // the same person), which this session joins, or from before riskflow acted.
            let containment = containment::record(ctx, idp, &decided(false)).await?;
            return Ok(Some(serde_json::json!({
                "summary": format!("{email} was already a member; nothing changed (containment {containment})"),
                "user_id": user.id,
                "was_member": true,
                "containment": containment,
            })));
        }
        Ok(false) => {}
        Err(e) if !e.is_transient() => return Ok(outcome(format!("failed: {e}"))),
        Err(e) => return Err(e.into()),
    }
    if ctx.counted(&adds) >= deps.settings.cap_per_run {
        ctx.count("cap_reached", 1);
        ctx.audit(
            idp,
            &action,
            &email,
            &format!("session {id}"),
            format!(
                "skipped: cap of {} adds per run reached",
                deps.settings.cap_per_run
            ),
        );
        return Ok(outcome(format!(
            "not changed: the cap of {} group adds per run was reached",
            deps.settings.cap_per_run
        )));
    }
    let day = crate::clock::date_of_ms(ctx.now());
    match ctx
        .store
        .take_quota(&adds, day, deps.settings.cap_per_day, ctx.now())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            ctx.count("cap_reached", 1);
            ctx.audit(
                idp,
                &action,
                &email,
                &format!("session {id}"),
                format!(
                    "skipped: cap of {} adds per day reached",
                    deps.settings.cap_per_day
                ),
            );
            return Ok(outcome(format!(
                "not changed: the cap of {} group adds per day was reached",
                deps.settings.cap_per_day
            )));
        }
        Err(e) => return Err(e.into()),
    }
    // The intent is durable before the add: a retry after a crash or a lost answer knows the
    // membership it then finds may be riskflow's own.
    record_intents(ctx, lease, item, &[step], &session.last_updated.to_string()).await?;
    match deps.idp.add_member(group, &user.id, deadline).await {
        Ok(()) => {
            // Recorded before it is audited: if the record fails, the retry finds the member
            // and the intent, and records and audits the add once.
            let containment = containment::record(ctx, idp, &decided(true)).await?;
            ctx.count(&adds, 1);
            ctx.audit(idp, &action, &email, &format!("session {id}"), "ok");
            Ok(Some(serde_json::json!({
                "summary": format!("{email} was added to the group (containment {containment})"),
                "user_id": user.id,
                "was_member": false,
                "containment": containment,
            })))
        }
        Err(e) => {
            ctx.audit(
                idp,
                &action,
                &email,
                &format!("session {id}"),
                format!("failed: {e}"),
            );
            if e.is_transient() && item.attempts + 1 < deps.settings.scan.max_attempts {
                Err(e.into())
            } else {
                Ok(outcome(format!("failed: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod decision_tests {
    //! One fast test per decision of the job over the fakes: contain and open a ticket; stop at
    //! the cap per run (and say so in the ticket); never touch a protected user or the token's
    //! own account; leave a member as they are.

    use super::*;
    use crate::domain::ConnectionKind;
    use crate::flows::fakes::{FakeAlerts, FakeIdp, FakeSink, FakeWatchlists};
    use crate::store::Store;
    use std::time::Duration;

    const GROUP: &str = "00g-restricted";
    const AUDIT: i64 = crate::store::AUDIT_RETENTION_MS;

    struct Job {
        store: Store,
        alerts: Arc<FakeAlerts>,
        idp: Arc<FakeIdp>,
        jira: Arc<FakeSink>,
        now: i64,
    }

    impl Job {
        /// Departing employees `a`, `b` and `c` (`<x>@example.com`), each with a session, and
        /// `svc@example.com` owning the Okta token.
        fn new() -> Job {
            let now = crate::clock::now_ms();
            let alerts = Arc::new(FakeAlerts::default());
            let mut idp = FakeIdp {
                token_owner: Some("svc@example.com".into()),
                ..FakeIdp::default()
            };
            for x in ["a", "b", "c", "svc"] {
                alerts.put(FakeAlerts::session(x, 3, now - 60_000));
                idp = idp.with_user(&format!("{x}@example.com"));
            }
            Job {
                store: Store::in_memory(),
                alerts,
                idp: Arc::new(idp),
                jira: Arc::new(FakeSink::default()),
                now,
            }
        }

        async fn run(&self, settings: impl FnOnce(&mut DepartingSettings)) -> RunRecord {
            let now = self.now;
            let ctx = RunCtx::new(
                self.store.clone(),
                Flow::DepartingResponse,
                std::time::Instant::now() + Duration::from_secs(600),
                false,
                Arc::new(move || now),
            );
            let mut s = DepartingSettings {
                scan: AlertSettings::default(),
                group_id: GROUP.into(),
                cap_per_run: 10,
                cap_per_day: 25,
                protected_users: Vec::new(),
                protected_groups: Vec::new(),
                contain_for_days: None,
            };
            settings(&mut s);
            let deps = DepartingDeps {
                source: self.alerts.clone(),
                watchlists: Arc::new(FakeWatchlists::default()),
                idp: self.idp.clone(),
                sink: self.jira.clone(),
                settings: s,
                timing: Timing::default(),
            };
            run(&ctx, &deps).await
        }
    }

    #[tokio::test]
    async fn each_departing_session_is_contained_once_with_one_ticket_but_never_the_token_owner() {
        let job = Job::new();
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(rec.counts.get("okta_group_adds"), Some(&3), "{rec:?}");
        assert_eq!(
            job.idp.adds(),
            3,
            "a, b and c; never svc, who owns the token"
        );
        assert_eq!(
            job.jira.created_keys().len(),
            4,
            "a ticket for every session"
        );
        job.run(|_| {}).await;
        assert_eq!(job.idp.adds(), 3, "a second run contains nobody again");
        assert_eq!(job.jira.created_keys().len(), 4);
    }

    #[tokio::test]
    async fn a_session_whose_item_expired_adds_nobody_again_even_after_an_admin_removed_them() {
        const DAY: i64 = 86_400_000;
        let mut job = Job::new();
        let mut old = FakeAlerts::session("a", 3, job.now - 30 * DAY);
        old.state = Some("OPEN_NEW_DATA".into());
        job.alerts.put(old);
        job.run(|_| {}).await;
        assert_eq!(job.idp.adds(), 3);
        // An admin takes everyone out of the group; 400 days pass with no run, and the TTL
        // deletes the finished items.
        job.idp.members.lock().unwrap().clear();
        job.now += 400 * DAY;
        job.store.backend().delete_expired(job.now).await.unwrap();
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(
            rec.counts.get("tickets_found_after_expiry"),
            Some(&1),
            "{rec:?}"
        );
        assert_eq!(job.idp.adds(), 3, "nobody added again: {rec:?}");
        assert_eq!(job.jira.created_keys().len(), 4);
        let item = job.store.item(FLOW, "a", job.now).await.unwrap().unwrap();
        let contained = item
            .step_outcome(Step::Contain(ConnectionKind::Okta))
            .unwrap();
        assert!(
            containment_summary(contained).contains("not repeated"),
            "{contained}"
        );
    }

    #[tokio::test]
    async fn a_ticket_whose_create_answer_was_lost_is_found_and_audited_once() {
        let job = Job::new();
        job.jira
            .lose_next_create_answer
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let first = job.run(|_| {}).await;
        assert_eq!(first.counts.get("actions_failed"), Some(&1), "{first:?}");
        let second = job.run(|_| {}).await;
        assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
        let tickets = job.jira.created.lock().unwrap().clone();
        assert_eq!(tickets.len(), 4, "one ticket each, none twice");
        let page = job
            .store
            .list_audit(job.now - 60_000, job.now + 60_000, 100, None, job.now)
            .await
            .unwrap();
        for (_, t) in &tickets {
            let made: Vec<&str> = page
                .items
                .iter()
                .filter(|e| e.target == t.key && e.result.starts_with("ok"))
                .filter(|e| e.action == "create_ticket" || e.action == "recover_ticket")
                .map(|e| e.result.as_str())
                .collect();
            assert_eq!(made.len(), 1, "{}: {made:?}", t.key);
        }
    }

    #[tokio::test]
    async fn the_cap_per_run_stops_containment_but_not_the_tickets() {
        let job = Job::new();
        let rec = job.run(|s| s.cap_per_run = 2).await;
        assert_eq!(job.idp.adds(), 2);
        assert_eq!(rec.counts.get("cap_reached"), Some(&1), "{rec:?}");
        assert_eq!(job.jira.created_keys().len(), 4);
    }

    #[tokio::test]
    async fn a_protected_user_or_a_member_is_left_as_they_are() {
        let job = Job::new();
        job.idp
            .members
            .lock()
            .unwrap()
            .push((GROUP.into(), "00u-b@example.com".into()));
        job.run(|s| s.protected_users = vec!["a@example.com".into()])
            .await;
        let added = job.idp.added_users();
        assert_eq!(added, ["00u-c@example.com"]);
    }

    /// The audit results of the group adds tried on `email`.
    async fn audited(job: &Job, email: &str) -> Vec<String> {
        let page = job
            .store
            .list_audit(job.now - 60_000, job.now + 60_000, 100, None, job.now)
            .await
            .unwrap();
        page.items
            .into_iter()
            .filter(|e| e.action == "okta_group_add" && e.target == email)
            .map(|e| e.result)
            .collect()
    }

    #[tokio::test]
    async fn a_user_found_by_email_is_contained_unless_their_login_is_protected() {
        let mut job = Job::new();
        let idp = FakeIdp::default()
            .with_user_email("a.login@corp.example", "a@example.com")
            .with_user_email("b.login@corp.example", "B@example.com");
        job.idp = Arc::new(idp);
        let rec = job
            .run(|s| s.protected_users = vec!["b.login@corp.example".into()])
            .await;
        let added = job.idp.added_users();
        assert_eq!(added, ["00u-a.login@corp.example"], "{rec:?}");
        assert_eq!(
            audited(&job, "b@example.com").await,
            ["skipped: protected user"]
        );
        assert_eq!(
            rec.counts.get("okta_users_not_found"),
            Some(&2),
            "c and svc: {rec:?}"
        );
    }

    #[tokio::test]
    async fn two_users_sharing_an_email_contain_nobody_and_are_audited_and_counted() {
        let mut job = Job::new();
        let idp = FakeIdp::default()
            .with_user_email("a.one@corp.example", "a@example.com")
            .with_user_email("a.two@corp.example", "a@example.com");
        job.idp = Arc::new(idp);
        let rec = job.run(|_| {}).await;
        assert_eq!(job.idp.adds(), 0);
        assert_eq!(rec.counts.get("okta_users_not_unique"), Some(&1), "{rec:?}");
        assert_eq!(
            audited(&job, "a@example.com").await,
            ["skipped: no unique Okta user (2 matches)"]
        );
        assert_eq!(
            job.jira.created_keys().len(),
            4,
            "every session still has its ticket"
        );
    }

    #[tokio::test]
    async fn a_transient_fault_of_the_token_owner_lookup_defers_the_run_a_refusal_fails_it() {
        use crate::flows::fakes::status_error;
        let job = Job::new();
        *job.idp.token_owner_error.lock().unwrap() =
            Some(status_error("okta", "/api/v1/users/me", 500));
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Partial, "{rec:?}");
        assert_eq!(rec.counts.get("deferred_to_next_run"), Some(&1), "{rec:?}");
        assert!(rec.errors.is_empty(), "{rec:?}");
        assert!(
            rec.message
                .as_deref()
                .is_some_and(|m| m.contains("Okta: the API token's owner") && m.contains("500")),
            "{rec:?}"
        );
        assert_eq!(job.idp.adds(), 0, "nothing contained without the owner");
        assert_eq!(job.jira.created_keys().len(), 0);

        // The fault passes: the next run does the deferred work.
        *job.idp.token_owner_error.lock().unwrap() = None;
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(job.idp.adds(), 3);

        // A refused lookup fails the run.
        *job.idp.token_owner_error.lock().unwrap() =
            Some(status_error("okta", "/api/v1/users/me", 403));
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Failed, "{rec:?}");
    }

    #[tokio::test]
    async fn a_transient_fault_of_a_session_page_defers_the_run() {
        use crate::flows::fakes::status_error;
        let job = Job::new();
        *job.alerts.page_error.lock().unwrap() =
            Some(status_error("incydr", "/v1/sessions/search", 503));
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Partial, "{rec:?}");
        assert_eq!(rec.counts.get("deferred_to_next_run"), Some(&1), "{rec:?}");
        assert_eq!(job.idp.adds(), 0);
    }

    #[tokio::test]
    async fn an_add_whose_answer_was_lost_is_recorded_as_riskflows_own_and_a_prior_member_is_not() {
        use crate::flows::fakes::status_error;
        let job = Job::new();
        // `b` was in the group before riskflow saw them.
        job.idp
            .members
            .lock()
            .unwrap()
            .push((GROUP.into(), "00u-b@example.com".into()));
        // Okta applies the adds, and the answers are lost.
        *job.idp.add_error.lock().unwrap() =
            Some(status_error("okta", "/api/v1/groups/g/users/u", 503));
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.counts.get("okta_group_adds"), None, "{rec:?}");
        *job.idp.add_error.lock().unwrap() = None;
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(
            rec.counts.get("okta_group_adds"),
            Some(&2),
            "a and c: {rec:?}"
        );
        assert_eq!(job.idp.adds(), 2, "each add was made once");
        for (who, was_member) in [("a", false), ("b", true), ("c", false)] {
            let it = job.store.item(FLOW, who, job.now).await.unwrap().unwrap();
            let o = it
                .step_outcome(Step::Contain(ConnectionKind::Okta))
                .unwrap();
            assert_eq!(o["was_member"], was_member, "{who}: {o}");
            assert_eq!(o["user_id"], format!("00u-{who}@example.com"), "{who}: {o}");
        }
    }

    /// The open containments, by login.
    async fn open(job: &Job) -> Vec<crate::domain::Containment> {
        let mut all = job
            .store
            .open_containments(None, 100, job.now)
            .await
            .unwrap()
            .items;
        all.sort_by(|a, b| a.login.cmp(&b.login));
        all
    }

    /// The audit results of group removals of `login`.
    async fn removals_audited(job: &Job, login: &str) -> Vec<String> {
        job.store
            .list_audit(
                job.now - 7 * 86_400_000,
                job.now + 86_400_000,
                1000,
                None,
                job.now,
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|a| a.action == "okta_group_remove" && a.target == login)
            .map(|a| a.result)
            .collect()
    }

    fn removes(job: &Job) -> Vec<String> {
        job.idp
            .removes
            .lock()
            .unwrap()
            .iter()
            .map(|(_, u)| u.clone())
            .collect()
    }

    #[tokio::test]
    async fn each_add_is_a_containment_two_sessions_share_one_and_a_requested_undo_removes_once() {
        let job = Job::new();
        let mut second = FakeAlerts::session("a2", 3, job.now - 30_000);
        second.actor_name = Some("a@example.com".into());
        job.alerts.put(second);
        job.run(|_| {}).await;
        let open_now = open(&job).await;
        assert_eq!(open_now.len(), 3, "a, b, c: {open_now:#?}");
        let a = &open_now[0];
        assert_eq!(a.login, "a@example.com");
        assert!(!a.was_member);
        let mut sessions = a.sessions.clone();
        sessions.sort();
        assert_eq!(sessions, vec!["a".to_string(), "a2".to_string()], "{a:#?}");

        let asked = containment::request_undo(
            &job.store,
            &a.id,
            "analyst",
            Some("FP".into()),
            AUDIT,
            job.now,
        )
        .await
        .unwrap();
        assert!(asked.undo_request.is_some());
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.counts.get("okta_group_removes"), Some(&1), "{rec:?}");
        assert_eq!(removes(&job), vec!["00u-a@example.com".to_string()]);
        let done = job
            .store
            .containment(&a.id, job.now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            done.status,
            crate::domain::ContainmentStatus::Undone,
            "{done:#?}"
        );
        assert_eq!(
            removals_audited(&job, "a@example.com").await,
            vec!["ok".to_string()]
        );
        // Nothing more: a second run, and a second request, change nothing.
        job.run(|_| {}).await;
        assert_eq!(removes(&job).len(), 1);
        let again =
            containment::request_undo(&job.store, &a.id, "analyst", None, AUDIT, job.now).await;
        assert!(
            matches!(&again, Err(containment::UndoRequestError::Refused(m)) if m.contains("already closed")),
            "{again:?}"
        );
        assert_eq!(open(&job).await.len(), 2);
    }

    #[tokio::test]
    async fn a_prior_member_is_recorded_as_not_reversible_and_never_removed() {
        let job = Job::new();
        job.idp
            .members
            .lock()
            .unwrap()
            .push((GROUP.into(), "00u-b@example.com".into()));
        job.run(|s| s.contain_for_days = Some(1)).await;
        let b = job
            .store
            .closed_containments(None, 10, job.now)
            .await
            .unwrap()
            .items;
        assert_eq!(b.len(), 1, "{b:#?}");
        assert_eq!(b[0].status, crate::domain::ContainmentStatus::NotReversible);
        assert!(b[0].was_member);
        let refused =
            containment::request_undo(&job.store, &b[0].id, "analyst", None, AUDIT, job.now).await;
        assert!(
            matches!(&refused, Err(containment::UndoRequestError::Refused(m)) if m.contains("not reversible")),
            "{refused:?}"
        );
        // The time limit passes: a and c are released, b stays in the group.
        let mut job = job;
        job.now += 86_400_000 + 1;
        let rec = job.run(|s| s.contain_for_days = Some(1)).await;
        assert_eq!(rec.counts.get("okta_group_removes"), Some(&2), "{rec:?}");
        let mut removed = removes(&job);
        removed.sort();
        assert_eq!(removed, vec!["00u-a@example.com", "00u-c@example.com"]);
        assert!(open(&job).await.is_empty());
        assert_eq!(
            job.idp.adds(),
            2,
            "the sessions already handled add nobody again"
        );
    }

    #[tokio::test]
    async fn a_cancelled_departure_releases_the_person_and_an_older_cancellation_does_not() {
        use crate::domain::{Departure, HrEventKind, HrSource, PersonRecord};
        let mut job = Job::new();
        let person = |email: &str, at: i64| PersonRecord {
            email: email.into(),
            latest: Departure {
                source: HrSource::Generic,
                kind: HrEventKind::Cancellation,
                source_event_id: format!("cancel-{email}"),
                event_time: at,
                email: email.into(),
                employee_id: None,
                departure_date: None,
                reason: None,
            },
            actor_id: None,
            added_by_riskflow: false,
            add_unconfirmed: false,
            indexed_date: None,
            updated_at: at,
            version: 0,
        };
        // c's cancellation was saved before the containment (a watchlist entry made by hand).
        job.store
            .save_person(
                &person("c@example.com", job.now - 1000),
                None,
                job.now - 1000,
            )
            .await
            .unwrap();
        job.run(|_| {}).await;
        job.now += 60_000;
        job.store
            .save_person(&person("a@example.com", job.now), None, job.now)
            .await
            .unwrap();
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.counts.get("okta_group_removes"), Some(&1), "{rec:?}");
        assert_eq!(removes(&job), vec!["00u-a@example.com".to_string()]);
        let results = removals_audited(&job, "a@example.com").await;
        assert_eq!(results, vec!["ok".to_string()]);
        let left: Vec<String> = open(&job).await.into_iter().map(|c| c.login).collect();
        assert_eq!(left, vec!["b@example.com", "c@example.com"]);
    }

    #[tokio::test]
    async fn a_group_a_rule_assigns_to_is_reported_and_its_members_left_in_it() {
        let job = Job::new();
        job.run(|_| {}).await;
        job.idp
            .rules
            .lock()
            .unwrap()
            .push(("Engineering".into(), GROUP.into()));
        let a = open(&job).await.remove(0);
        containment::request_undo(&job.store, &a.id, "analyst", None, AUDIT, job.now)
            .await
            .unwrap();
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.counts.get("containments_kept"), Some(&1), "{rec:?}");
        assert!(removes(&job).is_empty());
        let kept = job
            .store
            .containment(&a.id, job.now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.status, crate::domain::ContainmentStatus::Kept);
        let audited = removals_audited(&job, "a@example.com").await;
        assert!(
            audited.len() == 1 && audited[0].contains("group rule(s) Engineering"),
            "{audited:?}"
        );
    }

    #[tokio::test]
    async fn a_removal_whose_answer_was_lost_is_recorded_and_audited_once_on_the_next_run() {
        use crate::flows::fakes::status_error;
        let job = Job::new();
        job.run(|_| {}).await;
        let a = open(&job).await.remove(0);
        containment::request_undo(&job.store, &a.id, "analyst", None, AUDIT, job.now)
            .await
            .unwrap();
        // Okta removes the member, and the answer is lost.
        *job.idp.remove_error.lock().unwrap() =
            Some(status_error("okta", "/api/v1/groups/g/users/u", 503));
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Partial, "{rec:?}");
        let undoing = job
            .store
            .containment(&a.id, job.now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(undoing.status, crate::domain::ContainmentStatus::Undoing);
        assert!(undoing.last_error.is_some(), "{undoing:#?}");
        assert!(removals_audited(&job, "a@example.com").await.is_empty());
        let rec = job.run(|_| {}).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:?}");
        assert_eq!(removes(&job).len(), 1, "removed once");
        let audited = removals_audited(&job, "a@example.com").await;
        assert!(
            audited.len() == 1 && audited[0].starts_with("ok (not a member any more"),
            "{audited:?}"
        );
        let done = job
            .store
            .containment(&a.id, job.now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.status, crate::domain::ContainmentStatus::Undone);
    }
}
