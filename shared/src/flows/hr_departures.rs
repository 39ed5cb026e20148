//! hr-departures: an HR system reports a departure → the person is on Incydr's Departing
//! watchlist with their departure date; a cancellation takes them off again (only if riskflow
//! put them there); an optional clean-up removes people N days after they left.
//!
//! Facts arrive as webhook deliveries (BambooHR, generic signed webhooks), as ADP queue
//! messages and as Workday report snapshots. Each becomes a pending work item, recorded before
//! it is acknowledged, and is processed at once if possible, else by the next scheduled run
//! (so a failure after the acknowledgement loses nothing). The `person` record keeps the latest
//! fact by source event time, so out-of-order and repeated facts change nothing.

use super::hr_intake::{self, HrWork};
use super::steps::{record_intents, set_outcome};
use super::work_item::{self, Acted, Settled, StepError};
use super::{RunCtx, Timing};
use crate::domain::{
    ConnectionKind, Departure, Flow, HrEventKind, HrSource, ItemStatus, PersonRecord, RunRecord,
    Step, WorkItem,
};
use crate::ports::{HrDirectory, HrLookupError, HrQueue, HrReport, WatchlistAdmin};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

const FLOW: Flow = Flow::HrDepartures;
/// Settings of the flow.
#[derive(Debug, Clone)]
pub struct HrSettings {
    /// Remove people from the watchlist this many days after their departure date (None: never).
    pub cleanup_after_days: Option<u32>,
    /// A transient failure is retried by later runs until an item has failed this many times;
    /// then it is failed for good with the reason, for a person (`items list --status failed`).
    pub max_attempts: u32,
}

impl Default for HrSettings {
    fn default() -> Self {
        HrSettings {
            cleanup_after_days: None,
            max_attempts: 5,
        }
    }
}

/// What the flow talks to. Sources that are not connected are `None`.
pub struct HrDeps {
    pub watchlists: Arc<dyn WatchlistAdmin>,
    /// Where a recorded change is read back, by the source that recorded it.
    pub directories: BTreeMap<HrSource, Arc<dyn HrDirectory>>,
    /// Queues drained on each scheduled run.
    pub queues: Vec<(HrSource, Arc<dyn HrQueue>)>,
    /// Reports pulled on each scheduled run.
    pub reports: Vec<(HrSource, Arc<dyn HrReport>)>,
    pub settings: HrSettings,
    pub timing: Timing,
}

/// Run the scheduled flow: drain ADP, pull Workday, process pending work, clean up.
pub async fn run(ctx: &RunCtx, deps: &HrDeps) -> RunRecord {
    let lock = match ctx.lock(&deps.timing).await {
        Ok(l) => l,
        Err(record) => return record,
    };
    for (source, queue) in &deps.queues {
        hr_intake::drain(ctx, *source, queue.as_ref()).await;
    }
    for (source, report) in &deps.reports {
        hr_intake::pull(ctx, *source, report.as_ref()).await;
    }
    process_pending(ctx, deps).await;
    if let Some(days) = deps.settings.cleanup_after_days {
        cleanup(ctx, deps, days).await;
    }
    ctx.unlock(lock).await;
    ctx.finish(None, None).await
}

/// Process every pending item (oldest keys first), until the deadline nears.
pub async fn process_pending(ctx: &RunCtx, deps: &HrDeps) {
    let mut after = None;
    loop {
        let page = match ctx
            .store
            .item_keys(FLOW, ItemStatus::Pending, after.clone(), 100, ctx.now())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                ctx.error(format!("state store: {e}"));
                return;
            }
        };
        for key in &page.items {
            if !deps.timing.can_claim(ctx) {
                ctx.count("deferred_to_next_run", 1);
                return;
            }
            process_item(ctx, deps, key).await;
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return,
        }
    }
}

/// Process these items now (a webhook delivery's), one after the other, while the run's
/// budget lasts: once it is spent the rest are not claimed (claimed, they would only fail on
/// timeouts and use up attempts); they stay pending for the next scheduled run.
pub async fn process_items(ctx: &RunCtx, deps: &HrDeps, keys: &[String]) {
    for (i, k) in keys.iter().enumerate() {
        if !deps.timing.can_start(ctx) {
            ctx.count("deferred_to_next_run", 1);
            ctx.count("hr_items_deferred", (keys.len() - i) as u64);
            return;
        }
        process_item(ctx, deps, k).await;
    }
}

/// Process one pending item now. Returns whether it finished.
pub async fn process_item(ctx: &RunCtx, deps: &HrDeps, key: &str) -> bool {
    let now = ctx.now();
    let item = match ctx.store.item(FLOW, key, now).await {
        Ok(Some(i)) => i,
        Ok(None) => return false,
        Err(e) => {
            ctx.error(format!("{key}: state store: {e}"));
            return false;
        }
    };
    let work: Result<HrWork, String> = serde_json::from_value(item.payload.clone())
        .map_err(|e| format!("the stored HR work cannot be read: {e}"));
    if let Err(reason) = &work {
        ctx.count("hr_items_unreadable", 1);
        if ctx.dry_run {
            ctx.plan(format!("fail {key}: {reason}"));
            return false;
        }
    }
    if ctx.dry_run
        && let Ok(work) = &work
    {
        ctx.plan(format!("process {key}: {}", describe(work)));
        return false;
    }
    let claim = ctx
        .store
        .claim(
            FLOW,
            key,
            Some(&item),
            false,
            deps.timing.item_lease_ms,
            now,
        )
        .await;
    let (lease, mut item) = match work_item::acquired(ctx, key, claim) {
        Ok(acquired) => acquired,
        Err(settled) => return settled == Some(Settled::Completed),
    };
    let deadline = Some(deps.timing.call_deadline(ctx, lease.until));
    let acted = match &work {
        Ok(work) => apply(ctx, deps, &lease, &mut item, work, deadline).await,
        // Failed for good with the reason (the run's errors name the key), never skipped.
        Err(reason) => Err(StepError::Final(reason.clone())),
    };
    let acted = acted.map_err(|e| at_retry_cap(ctx, deps, &item, e));
    work_item::settle(ctx, key, &lease, &item, acted).await == Settled::Completed
}

/// A transient failure that is the item's `max_attempts`-th becomes final, with the reason.
fn at_retry_cap(ctx: &RunCtx, deps: &HrDeps, item: &WorkItem, e: StepError) -> StepError {
    let failures = item.attempts + 1;
    if !e.is_transient() || failures < deps.settings.max_attempts {
        return e;
    }
    ctx.count("hr_retries_exhausted", 1);
    StepError::Final(format!(
        "gave up after {failures} attempts (not retried): {e}"
    ))
}

fn describe(work: &HrWork) -> String {
    match work {
        HrWork::Fact { fact } => format!(
            "{:?} of {} ({})",
            fact.kind,
            fact.email,
            fact.departure_date
                .map_or("no date".to_string(), |d| d.to_string())
        ),
        _ => match work.recorded_change() {
            Some((source, change)) => {
                format!(
                    "{} change of employee {}",
                    source.name(),
                    change.employee_id
                )
            }
            None => "HR work".into(),
        },
    }
}

/// Turn a pending unit of work into a fact: a complete one as it is; a recorded change by asking
/// the HR system that recorded it, whose connector's rule decides (departure, cancellation, or
/// nothing).
async fn to_fact(
    ctx: &RunCtx,
    deps: &HrDeps,
    work: &HrWork,
    deadline: Option<Instant>,
) -> Result<Option<Departure>, StepError> {
    if let HrWork::Fact { fact } = work {
        return Ok(Some(fact.clone()));
    }
    let Some((source, change)) = work.recorded_change() else {
        return Ok(None);
    };
    let directory = deps.directories.get(&source).ok_or_else(|| {
        StepError::Final(format!(
            "{} is not connected: cannot look up the employee",
            source.name()
        ))
    })?;
    directory
        .departure(&change, crate::clock::date_of_ms(ctx.now()), deadline)
        .await
        .map_err(|e| match e {
            HrLookupError::Connector(c) => StepError::Connector(c),
            HrLookupError::Unusable(m) => StepError::Final(m),
            HrLookupError::NotAnAddress(m) => {
                ctx.count("hr_emails_not_addresses", 1);
                StepError::Final(m)
            }
        })
}

/// How often a fact is re-applied when the person's record changed while it acted (a lease
/// that ran out, a clean-up) before the item is left for a later run.
const MAX_RECHECKS: usize = 3;

/// Apply one unit of HR work: resolve it to a fact, then, holding the person's lease (one fact
/// about a person at a time), apply the latest fact about them. A fact that finds the person's
/// lease held waits, pending, for a later run.
async fn apply(
    ctx: &RunCtx,
    deps: &HrDeps,
    lease: &crate::domain::Lease,
    item: &mut WorkItem,
    work: &HrWork,
    deadline: Option<Instant>,
) -> Result<Acted, StepError> {
    let Some(fact) = to_fact(ctx, deps, work, deadline).await? else {
        // The HR system's rule says this change is neither a departure nor a cancellation.
        ctx.count("hr_changes_not_departures", 1);
        return Ok(Acted::Done);
    };
    let owner = format!("{FLOW}#{}#{}", item.key, ctx.run_id);
    let Some(person_lease) = ctx
        .store
        .acquire_person_lease(&fact.email, &owner, deps.timing.item_lease_ms, ctx.now())
        .await?
    else {
        // Another fact about this person is being applied: this one stays pending.
        ctx.count("hr_person_busy", 1);
        return Ok(Acted::Waiting);
    };
    let applied = apply_latest(ctx, deps, lease, item, &fact, deadline).await;
    if let Err(e) = ctx.store.release_lock(&person_lease, ctx.now()).await {
        // The lease runs out by itself; the next fact about the person waits for it.
        ctx.error(format!(
            "releasing the lease on {}: state store: {e}",
            fact.email
        ));
    }
    applied.map(|()| Acted::Done)
}

/// Apply `fact` unless the person's record holds a later one (then it changes nothing and says
/// so), and save the record, version-checked. When the record changed while the fact acted
/// (the save conflicts), read it again and re-apply whichever fact is now the latest, so the
/// watchlist ends as the latest fact says.
async fn apply_latest(
    ctx: &RunCtx,
    deps: &HrDeps,
    lease: &crate::domain::Lease,
    item: &mut WorkItem,
    fact: &Departure,
    deadline: Option<Instant>,
) -> Result<(), StepError> {
    let mut done = DoneHere::default();
    for attempt in 0..MAX_RECHECKS {
        let now = ctx.now();
        let person = ctx.store.person(&fact.email, now).await?;
        let later = person
            .as_ref()
            .filter(|p| p.latest.event_time > fact.event_time)
            .map(|p| p.latest.clone());
        let target = match later {
            Some(_) if attempt == 0 => {
                ctx.count("hr_stale_facts", 1);
                ctx.audit(
                    ConnectionKind::Incydr,
                    "hr_fact",
                    &fact.email,
                    &describe_fact(fact),
                    "ignored: a later fact about this person is already applied",
                );
                set_outcome(
                    item,
                    Step::Applied,
                    serde_json::json!({"ignored": "stale"}),
                    now,
                );
                return Ok(());
            }
            // A later fact was saved while this one acted: make the watchlist match it.
            Some(latest) => latest,
            None => fact.clone(),
        };
        let known = person.is_some();
        let mut record = person.unwrap_or(PersonRecord {
            email: fact.email.clone(),
            latest: target.clone(),
            actor_id: None,
            added_by_riskflow: false,
            indexed_date: None,
            add_unconfirmed: false,
            updated_at: now,
            version: 0,
        });
        let previous_date = record.indexed_date;
        record.latest = target.clone();
        // What this worker did to the watchlist stays true whatever the record now says.
        record.added_by_riskflow |= done.added;
        let step = Effect {
            ctx,
            deps,
            lease,
            reason: describe_fact(&target),
            deadline,
        };
        step.converge(item, &mut record, known, previous_date, &mut done)
            .await?;
        match ctx
            .store
            .save_person(&record, previous_date, ctx.now())
            .await
        {
            Ok(_) => return Ok(()),
            Err(crate::store::StoreError::Conflict { .. }) => {
                ctx.count("hr_person_rechecks", 1);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StepError::Store(crate::store::StoreError::Conflict {
        what: format!("person {}", fact.email),
    }))
}

/// `<source> <event id> (<kind>)`, the reason of a fact's audit entries.
fn describe_fact(fact: &Departure) -> String {
    format!(
        "{} {} ({:?})",
        fact.source.as_str(),
        fact.source_event_id,
        fact.kind
    )
}

/// What this worker changed in Incydr while applying a fact, so that a re-check that finds a
/// later fact also undoes it (the record it re-reads does not know).
#[derive(Debug, Default, Clone, Copy)]
struct DoneHere {
    /// Put the person on the Departing watchlist.
    added: bool,
    /// Set the person's end date.
    end_date_set: bool,
}

/// The audit result of a change an earlier attempt made whose answer was lost, recorded by the
/// attempt that finds it made.
const LOST_ANSWER: &str = "ok (made by an earlier attempt whose answer was lost; recorded now)";

/// The outside effect of one fact on the watchlist, under the work item's lease.
struct Effect<'a> {
    ctx: &'a RunCtx,
    deps: &'a HrDeps,
    lease: &'a crate::domain::Lease,
    reason: String,
    deadline: Option<Instant>,
}

impl Effect<'_> {
    /// Bring the watchlist to what `record.latest` says and update `record` to match; `done`
    /// gathers what this worker changed.
    async fn converge(
        &self,
        item: &mut WorkItem,
        record: &mut PersonRecord,
        known: bool,
        previous_date: Option<crate::domain::Date>,
        done: &mut DoneHere,
    ) -> Result<(), StepError> {
        let (ctx, deps, deadline, reason) = (self.ctx, self.deps, self.deadline, &self.reason);
        let fact = record.latest.clone();
        let actor = match record.actor_id.clone() {
            Some(id) => Some(id),
            None => deps
                .watchlists
                .actor_by_email(&fact.email, deadline)
                .await?
                .map(|a| a.id),
        };
        let Some(actor_id) = actor else {
            if fact.kind == HrEventKind::Cancellation {
                // Nobody to take off; remember the cancellation so a late departure stays out.
                record.indexed_date = None;
                return Ok(());
            }
            ctx.count("unknown_people", 1);
            ctx.audit(
                ConnectionKind::Incydr,
                "resolve_actor",
                &fact.email,
                reason,
                "failed: Incydr knows no actor with this email",
            );
            return Err(StepError::Final(format!(
                "Incydr knows no actor with the email {}",
                fact.email
            )));
        };
        record.actor_id = Some(actor_id.clone());
        match fact.kind {
            HrEventKind::Departure => {
                let date = fact.departure_date.ok_or_else(|| {
                    StepError::Final(format!("the departure of {} has no date", fact.email))
                })?;
                self.add(item, record, &actor_id, done).await?;
                deps.watchlists
                    .set_end_date(&actor_id, Some(date), deadline)
                    .await
                    .inspect_err(|e| {
                        ctx.audit(
                            ConnectionKind::Incydr,
                            "set_end_date",
                            &fact.email,
                            reason,
                            format!("failed: {e}"),
                        );
                    })?;
                ctx.audit(
                    ConnectionKind::Incydr,
                    "set_end_date",
                    &fact.email,
                    reason,
                    format!("ok: {date}"),
                );
                done.end_date_set = true;
                record.indexed_date = Some(date);
            }
            HrEventKind::Cancellation => {
                self.remove(item, record, &actor_id, known).await?;
                // Taken off (or never on by riskflow): nothing of this worker's to undo.
                done.added = false;
                if previous_date.is_some() || done.end_date_set {
                    deps.watchlists
                        .set_end_date(&actor_id, None, deadline)
                        .await?;
                    done.end_date_set = false;
                    ctx.audit(
                        ConnectionKind::Incydr,
                        "set_end_date",
                        &fact.email,
                        reason,
                        "ok: cleared",
                    );
                }
                record.indexed_date = None;
            }
        }
        Ok(())
    }

    /// Count and audit a change of the watchlist that was made (`action`: `watchlist_add` or
    /// `watchlist_remove`, counted as `<action>s`).
    fn made(&self, action: &str, email: &str, result: &str) {
        self.ctx.count(&format!("{action}s"), 1);
        self.ctx
            .audit(ConnectionKind::Incydr, action, email, &self.reason, result);
    }

    /// Put the person on the Departing watchlist unless they are on it.
    async fn add(
        &self,
        item: &mut WorkItem,
        record: &mut PersonRecord,
        actor_id: &str,
        done: &mut DoneHere,
    ) -> Result<(), StepError> {
        let (ctx, deps, deadline, reason) = (self.ctx, self.deps, self.deadline, &self.reason);
        let email = record.email.clone();
        let wl = deps
            .watchlists
            .departing_watchlist(true, deadline)
            .await?
            .ok_or_else(|| {
                StepError::Final("the Departing watchlist could not be created".into())
            })?;
        // An earlier attempt that recorded its intent to add (and maybe added) counts as ours;
        // Some(recorded): whether it recorded its outcome (and audit entry) too.
        let intended = item
            .step(Step::WatchlistAdd)
            .filter(|s| s.intent_at.is_some())
            .map(|s| s.done_at.is_some());
        let included = deps.watchlists.is_included(&wl, actor_id, deadline).await?;
        if !included {
            if !record.add_unconfirmed {
                // Durable before the add: should its answer be lost, a fact applied before
                // this item's retry must know riskflow may have listed the person (to take
                // them off, and to record the add as made).
                record.added_by_riskflow = true;
                record.add_unconfirmed = true;
                let now = ctx.now();
                record.version = ctx
                    .store
                    .save_person(record, record.indexed_date, now)
                    .await?
                    .version;
            }
            record_intents(ctx, self.lease, item, &[Step::WatchlistAdd], actor_id).await?;
            match deps.watchlists.include(&wl, actor_id, deadline).await {
                Ok(()) => {
                    record.add_unconfirmed = false;
                    self.made("watchlist_add", &email, "ok");
                }
                Err(e) => {
                    ctx.audit(
                        ConnectionKind::Incydr,
                        "watchlist_add",
                        &email,
                        reason,
                        format!("failed: {e}"),
                    );
                    return Err(e.into());
                }
            }
            record.added_by_riskflow = true;
            done.added = true;
        } else if record.add_unconfirmed || intended.is_some() {
            if record.add_unconfirmed || intended == Some(false) {
                // An earlier add of riskflow's was made and its answer lost: record it, once.
                self.made("watchlist_add", &email, LOST_ANSWER);
                record.add_unconfirmed = false;
            }
            record.added_by_riskflow = true;
        }
        set_outcome(
            item,
            Step::WatchlistAdd,
            serde_json::json!({"watchlist": wl, "actor": actor_id}),
            ctx.now(),
        );
        Ok(())
    }

    /// Take the person off the Departing watchlist if riskflow put them there (or may have:
    /// an add whose answer was lost), exactly once. Only someone on the list is removed, and
    /// the intent is durable before the removal. A person an earlier attempt removed (the
    /// person's record could not be saved after it, or the answer was lost) is found off the
    /// list and not removed again; the removal gets its audit entry (and count) then only if
    /// the earlier attempt recorded no outcome for it.
    async fn remove(
        &self,
        item: &mut WorkItem,
        record: &mut PersonRecord,
        actor_id: &str,
        known: bool,
    ) -> Result<(), StepError> {
        let (ctx, deps, deadline, reason) = (self.ctx, self.deps, self.deadline, &self.reason);
        let email = record.email.clone();
        if !record.added_by_riskflow {
            if known {
                ctx.audit(
                    ConnectionKind::Incydr,
                    "watchlist_remove",
                    &email,
                    reason,
                    "skipped: riskflow did not add this person",
                );
            }
            return Ok(());
        }
        let Some(wl) = deps.watchlists.departing_watchlist(false, deadline).await? else {
            // No Departing watchlist: nobody is on it.
            record.added_by_riskflow = false;
            return Ok(());
        };
        // Some(recorded): an earlier removal of this item, whose outcome (and audit entry) was
        // recorded or not.
        let earlier = item
            .step(Step::WatchlistRemove)
            .filter(|s| s.intent_at.is_some())
            .map(|s| s.done_at.is_some());
        let outcome = serde_json::json!({"watchlist": wl, "actor": actor_id});
        let included = deps.watchlists.is_included(&wl, actor_id, deadline).await?;
        if std::mem::take(&mut record.add_unconfirmed) && included {
            // riskflow's add whose answer was lost did land: record it before undoing it.
            self.made("watchlist_add", &email, LOST_ANSWER);
        }
        if !included {
            match earlier {
                Some(true) => {}
                Some(false) => self.made("watchlist_remove", &email, LOST_ANSWER),
                None => ctx.audit(
                    ConnectionKind::Incydr,
                    "watchlist_remove",
                    &email,
                    reason,
                    "skipped: not on the Departing watchlist",
                ),
            }
            set_outcome(item, Step::WatchlistRemove, outcome, ctx.now());
            record.added_by_riskflow = false;
            return Ok(());
        }
        record_intents(ctx, self.lease, item, &[Step::WatchlistRemove], actor_id).await?;
        deps.watchlists
            .exclude(&wl, actor_id, deadline)
            .await
            .inspect_err(|e| {
                ctx.audit(
                    ConnectionKind::Incydr,
                    "watchlist_remove",
                    &email,
                    reason,
                    format!("failed: {e}"),
                );
            })?;
        self.made("watchlist_remove", &email, "ok");
        set_outcome(item, Step::WatchlistRemove, outcome, ctx.now());
        record.added_by_riskflow = false;
        Ok(())
    }
}

/// Where clean-up records the last departure date all of whose people were handled.
const CLEANUP_MARKER: (&str, &str) = ("cleanup#hr-departures", "done_through");
/// Days looked back, beyond `cleanup_after_days`, on the first clean-up (no marker yet).
pub const CLEANUP_FIRST_LOOKBACK_DAYS: i64 = 30;
/// At most this many departure dates per run; a longer backlog continues on the next run.
pub const CLEANUP_MAX_DATES_PER_RUN: i64 = 40;

/// Remove people riskflow added, `days` after their departure date: every date since the
/// last complete clean-up (the marker), up to `today − days`, so a day without a successful
/// run is caught up later. The marker moves only over dates whose every person was handled.
async fn cleanup(ctx: &RunCtx, deps: &HrDeps, days: u32) {
    let now = ctx.now();
    let target = crate::clock::date_of_ms(now - i64::from(days) * 86_400_000);
    let (pk, sk) = CLEANUP_MARKER;
    let done_through = match ctx.store.get_doc(pk, sk, now).await {
        Ok(Some(doc)) => match doc
            .get("date")
            .and_then(|d| d.as_str())
            .map(str::parse::<crate::domain::Date>)
        {
            Some(Ok(d)) => Some(d),
            _ => {
                ctx.error(format!("clean-up marker unreadable: {doc}"));
                return;
            }
        },
        Ok(None) => None,
        Err(e) => {
            ctx.error(format!("state store: {e}"));
            return;
        }
    };
    let first = match done_through {
        Some(d) => match d.tomorrow() {
            Ok(t) => t,
            Err(_) => return,
        },
        None => target.saturating_sub(jiff::Span::new().days(CLEANUP_FIRST_LOOKBACK_DAYS)),
    };
    let mut complete_through = done_through;
    let mut all_complete = true;
    let mut wl: Option<Option<String>> = None;
    let mut date = first;
    for _ in 0..CLEANUP_MAX_DATES_PER_RUN {
        if date > target {
            break;
        }
        let done = cleanup_date(ctx, deps, &mut wl, days, date).await;
        all_complete &= done;
        if all_complete {
            complete_through = Some(date);
        }
        match date.tomorrow() {
            Ok(t) => date = t,
            Err(_) => break,
        }
    }
    if date <= target {
        ctx.count("cleanup_dates_deferred", 1);
    }
    if ctx.dry_run || complete_through == done_through {
        return;
    }
    if let Some(d) = complete_through {
        let doc = serde_json::json!({ "date": d.to_string() });
        if let Err(e) = ctx.store.put_doc(pk, sk, &doc).await {
            ctx.error(format!("state store: {e}"));
        }
    }
}

/// Clean up the people indexed on one departure date. Returns whether every one of them was
/// handled (removed, or no longer due), so the marker may move past the date.
async fn cleanup_date(
    ctx: &RunCtx,
    deps: &HrDeps,
    wl: &mut Option<Option<String>>,
    days: u32,
    date: crate::domain::Date,
) -> bool {
    let emails = match ctx.store.departures_on(date, ctx.now()).await {
        Ok(e) => e,
        Err(e) => {
            ctx.error(format!("state store: {e}"));
            return false;
        }
    };
    if emails.is_empty() {
        return true;
    }
    let wl = match wl {
        Some(w) => w.clone(),
        None => match deps
            .watchlists
            .departing_watchlist(false, Some(ctx.deadline))
            .await
        {
            Ok(found) => wl.insert(found).clone(),
            Err(e) => {
                ctx.error(format!("finding the Departing watchlist: {e}"));
                return false;
            }
        },
    };
    // No Departing watchlist: nobody is on it, so nobody is left to remove.
    let Some(wl) = wl else { return true };
    let mut complete = true;
    for email in emails {
        if ctx.dry_run {
            if let Ok(Some(p)) = ctx.store.person(&email, ctx.now()).await
                && p.actor_id.is_some()
                && p.added_by_riskflow
            {
                ctx.plan(format!(
                    "remove {email} from the Departing watchlist ({days} days after {date})"
                ));
            }
            continue;
        }
        if !deps.timing.can_claim(ctx) {
            ctx.count("deferred_to_next_run", 1);
            return false;
        }
        // Under the person's lease, so no HR fact about them is applied at the same time.
        let owner = format!("{FLOW}#cleanup#{}", ctx.run_id);
        let lease_ms = deps.timing.item_lease_ms;
        let person_lease = match ctx
            .store
            .acquire_person_lease(&email, &owner, lease_ms, ctx.now())
            .await
        {
            Ok(Some(l)) => l,
            Ok(None) => {
                ctx.count("hr_person_busy", 1);
                ctx.error(format!(
                    "clean-up of {email}: an HR fact about them is being applied; not removed"
                ));
                complete = false;
                continue;
            }
            Err(e) => {
                ctx.error(format!("state store: {e}"));
                complete = false;
                continue;
            }
        };
        complete &= cleanup_one(ctx, deps, &wl, &email, days, date).await;
        if let Err(e) = ctx.store.release_lock(&person_lease, ctx.now()).await {
            ctx.error(format!("releasing the lease on {email}: state store: {e}"));
        }
    }
    complete
}

/// Remove one person riskflow added, if the record still says so. Returns whether they were
/// handled (removed, or no longer due for this date).
async fn cleanup_one(
    ctx: &RunCtx,
    deps: &HrDeps,
    wl: &str,
    email: &str,
    days: u32,
    date: crate::domain::Date,
) -> bool {
    let now = ctx.now();
    let mut p = match ctx.store.person(email, now).await {
        Ok(Some(p)) => p,
        Ok(None) => return true,
        Err(e) => {
            ctx.error(format!("clean-up of {email}: state store: {e}"));
            return false;
        }
    };
    let (Some(actor), true) = (p.actor_id.clone(), p.added_by_riskflow) else {
        return true;
    };
    if p.indexed_date != Some(date) {
        // A later fact moved their date (or cancelled) since the index was read.
        return true;
    }
    match deps
        .watchlists
        .exclude(wl, &actor, Some(ctx.deadline))
        .await
    {
        Ok(()) => {
            ctx.count("watchlist_removes", 1);
            ctx.audit(
                ConnectionKind::Incydr,
                "watchlist_remove",
                email,
                &format!("clean-up {days} days after {date}"),
                "ok",
            );
            let prev = p.indexed_date;
            p.added_by_riskflow = false;
            p.indexed_date = None;
            match ctx.store.save_person(&p, prev, now).await {
                Ok(_) => true,
                Err(e) => {
                    ctx.error(format!("clean-up of {email}: state store: {e}"));
                    false
                }
            }
        }
        Err(e) => {
            ctx.error(format!("clean-up of {email}: {e}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adp_termination_recorded_before_reasons_were_kept_still_reads() {
        // As an item written by the previous release stores it.
        let old = r#"{"type":"adp_termination","event_id":"ev-1","associate_oid":"G3K","termination_date":"2026-03-31","event_time":1772366400000}"#;
        let work: HrWork = serde_json::from_str(old).unwrap();
        assert_eq!(
            work,
            HrWork::AdpTermination {
                event_id: "ev-1".into(),
                associate_oid: "G3K".into(),
                termination_date: Some("2026-03-31".into()),
                event_time: 1_772_366_400_000,
                reason: None,
            }
        );
        // And an item without a reason is written exactly as before.
        assert_eq!(serde_json::to_string(&work).unwrap(), old);
    }
}

#[cfg(test)]
mod decision_tests {
    //! One fast test per decision of the job over the fakes: a departure puts the person on the
    //! list with their date; a cancellation takes off only someone riskflow put there; a
    //! cancellation that arrives before its (older) departure keeps the person off.

    use super::*;
    use crate::domain::HrSource;
    use crate::flows::fakes::FakeWatchlists;
    use crate::flows::hr_intake::record_webhook;
    use crate::store::Store;
    use std::time::Duration;

    const NOW: i64 = 1_780_000_000_000;

    fn fact(kind: HrEventKind, id: &str, at: i64, date: Option<&str>) -> HrWork {
        HrWork::Fact {
            fact: Departure {
                source: HrSource::Generic,
                kind,
                source_event_id: id.into(),
                event_time: at,
                email: "pat@example.com".into(),
                employee_id: None,
                departure_date: date.map(|d| d.parse().unwrap()),
                reason: None,
            },
        }
    }

    fn run_ctx(store: &Store) -> RunCtx {
        ctx_at(store, NOW)
    }

    /// A run whose clock reads `at`.
    fn ctx_at(store: &Store, at: i64) -> RunCtx {
        RunCtx::new(
            store.clone(),
            Flow::HrDepartures,
            std::time::Instant::now() + Duration::from_secs(600),
            false,
            Arc::new(move || at),
        )
    }

    async fn deliver(store: &Store, deps: &HrDeps, id: &str, work: HrWork) -> RunRecord {
        let (_, key) = record_webhook(store, "generic", id, "sha".into(), &work, NOW)
            .await
            .unwrap();
        let ctx = run_ctx(store);
        process_item(&ctx, deps, &key).await;
        ctx.finish(None, None).await
    }

    /// Deliver pat's departure (m1, for 2030-01-31) and process it.
    async fn depart(store: &Store, d: &HrDeps) -> RunRecord {
        let work = fact(
            HrEventKind::Departure,
            "m1",
            NOW - 2_000,
            Some("2030-01-31"),
        );
        deliver(store, d, "m1", work).await
    }

    /// Deliver pat's later cancellation (m2) and process it.
    async fn cancel(store: &Store, d: &HrDeps) -> RunRecord {
        let work = fact(HrEventKind::Cancellation, "m2", NOW - 1_000, None);
        deliver(store, d, "m2", work).await
    }

    /// What the next scheduled run does with the pending items.
    async fn next_run(store: &Store, d: &HrDeps) -> RunRecord {
        let ctx = run_ctx(store);
        process_pending(&ctx, d).await;
        ctx.finish(None, None).await
    }

    fn deps(w: Arc<FakeWatchlists>) -> HrDeps {
        HrDeps {
            watchlists: w,
            directories: Default::default(),
            queues: Vec::new(),
            reports: Vec::new(),
            settings: HrSettings::default(),
            timing: Timing::default(),
        }
    }

    #[tokio::test]
    async fn a_departure_lists_the_person_with_the_date_and_its_cancellation_takes_them_off() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        let rec = deliver(
            &store,
            &d,
            "m1",
            fact(
                HrEventKind::Departure,
                "m1",
                NOW - 2_000,
                Some("2030-01-31"),
            ),
        )
        .await;
        assert_eq!(rec.counts.get("watchlist_adds"), Some(&1), "{rec:?}");
        assert!(w.on_list("pat@example.com"));
        assert_eq!(w.end_date("pat@example.com").as_deref(), Some("2030-01-31"));
        deliver(
            &store,
            &d,
            "m2",
            fact(HrEventKind::Cancellation, "m2", NOW - 1_000, None),
        )
        .await;
        assert!(!w.on_list("pat@example.com"));
    }

    #[tokio::test]
    async fn a_cancellation_before_its_older_departure_keeps_the_person_off() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        deliver(
            &store,
            &d,
            "m2",
            fact(HrEventKind::Cancellation, "m2", NOW - 1_000, None),
        )
        .await;
        let rec = deliver(
            &store,
            &d,
            "m1",
            fact(
                HrEventKind::Departure,
                "m1",
                NOW - 2_000,
                Some("2030-01-31"),
            ),
        )
        .await;
        assert_eq!(rec.counts.get("watchlist_adds"), None, "{rec:?}");
        assert!(!w.on_list("pat@example.com"));
    }

    #[tokio::test]
    async fn a_fact_about_a_person_another_fact_holds_stays_pending_until_the_lease_is_free() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        let other = store
            .acquire_person_lease("pat@example.com", "another worker", 60_000, NOW)
            .await
            .unwrap()
            .expect("free");
        let depart = fact(
            HrEventKind::Departure,
            "m1",
            NOW - 2_000,
            Some("2030-01-31"),
        );
        let rec = deliver(&store, &d, "m1", depart).await;
        assert_eq!(rec.counts.get("hr_person_busy"), Some(&1), "{rec:?}");
        assert!(!w.on_list("pat@example.com"));
        let pending = store
            .item_keys(FLOW, ItemStatus::Pending, None, 10, NOW)
            .await
            .unwrap()
            .items;
        assert_eq!(pending, vec!["generic:m1".to_string()], "kept, not dropped");

        store.release_lock(&other, NOW).await.unwrap();
        assert!(process_item(&run_ctx(&store), &d, "generic:m1").await);
        assert!(w.on_list("pat@example.com"));
    }

    #[tokio::test]
    async fn a_pending_item_whose_payload_no_longer_reads_is_counted_reported_and_failed() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        // As a later release might have written it, or a damaged record reads.
        let mut item = WorkItem::new(FLOW, "generic:m9", ItemStatus::Pending, NOW);
        item.payload = serde_json::json!({"type": "from_the_future", "x": 1});
        store.put_pending(&item, NOW).await.unwrap();
        let ctx = run_ctx(&store);
        process_pending(&ctx, &d).await;
        let rec = ctx.finish(None, None).await;
        assert_eq!(rec.counts.get("hr_items_unreadable"), Some(&1), "{rec:?}");
        assert!(
            rec.errors.iter().any(|e| e.contains("generic:m9")),
            "{rec:?}"
        );
        let stored = store.item(FLOW, "generic:m9", NOW).await.unwrap().unwrap();
        assert_eq!(stored.status, ItemStatus::Failed);
        assert!(
            stored
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("cannot be read")),
            "{stored:?}"
        );
    }

    #[tokio::test]
    async fn items_a_spent_budget_cannot_reach_are_not_claimed_and_stay_pending() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        let mut keys = Vec::new();
        for id in ["m1", "m2"] {
            let depart = fact(HrEventKind::Departure, id, NOW - 2_000, Some("2030-01-31"));
            let (_, key) = record_webhook(&store, "generic", id, "sha".into(), &depart, NOW)
                .await
                .unwrap();
            keys.push(key);
        }
        // The webhook's budget is already spent.
        let ctx = RunCtx::new(
            store.clone(),
            Flow::HrDepartures,
            std::time::Instant::now(),
            false,
            Arc::new(|| NOW),
        );
        process_items(&ctx, &d, &keys).await;
        let rec = ctx.finish(None, None).await;
        assert_eq!(rec.counts.get("hr_items_deferred"), Some(&2), "{rec:?}");
        assert_eq!(rec.counts.get("deferred_to_next_run"), Some(&1), "{rec:?}");
        assert!(!w.on_list("pat@example.com"), "nothing acted on");
        for key in &keys {
            let item = store.item(FLOW, key, NOW).await.unwrap().unwrap();
            assert_eq!(item.status, ItemStatus::Pending, "{item:?}");
            assert_eq!(
                (item.attempts, item.lease_token),
                (0, None),
                "never claimed"
            );
        }
    }

    #[tokio::test]
    async fn an_item_that_keeps_failing_transiently_is_failed_for_good_at_the_retry_cap() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        w.unavailable
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut d = deps(w.clone());
        d.settings.max_attempts = 3;
        let depart = fact(
            HrEventKind::Departure,
            "m1",
            NOW - 2_000,
            Some("2030-01-31"),
        );
        deliver(&store, &d, "m1", depart).await;
        for run in 2..=4 {
            let ctx = run_ctx(&store);
            process_pending(&ctx, &d).await;
            let rec = ctx.finish(None, None).await;
            let item = store.item(FLOW, "generic:m1", NOW).await.unwrap().unwrap();
            if run < 3 {
                assert_eq!(item.status, ItemStatus::Pending, "retried: {item:?}");
            } else if run == 3 {
                assert_eq!(item.status, ItemStatus::Failed, "{item:?}");
                assert_eq!(item.attempts, 3);
                let reason = item.last_error.unwrap_or_default();
                assert!(reason.contains("503"), "{reason}");
                assert!(reason.contains("3 attempts"), "{reason}");
                assert_eq!(rec.counts.get("hr_retries_exhausted"), Some(&1), "{rec:?}");
            } else {
                assert_eq!(
                    rec.counts.get("actions_failed"),
                    None,
                    "left alone: {rec:?}"
                );
            }
        }
    }

    /// An HR directory whose only email for the employee is not an address.
    struct NoAddress;

    #[async_trait::async_trait]
    impl crate::ports::HrDirectory for NoAddress {
        async fn departure(
            &self,
            change: &crate::ports::RecordedHrChange,
            _today: crate::domain::Date,
            _deadline: Option<Instant>,
        ) -> Result<Option<Departure>, HrLookupError> {
            Err(HrLookupError::NotAnAddress(format!(
                "BambooHR employee '{}' has no work email, and the change's workEmail 'pat at example' is not an address",
                change.employee_id
            )))
        }
    }

    #[tokio::test]
    async fn a_change_whose_only_email_is_not_an_address_is_counted_and_failed_with_the_reason() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default());
        let mut d = deps(w);
        d.directories
            .insert(HrSource::Bamboohr, Arc::new(NoAddress));
        let work = HrWork::BambooChange {
            employee_id: "7".into(),
            event_type: "employee.updated".into(),
            event_time: NOW - 1_000,
            fields: Default::default(),
            source_event_id: "chg-7".into(),
        };
        let (_, key) = record_webhook(&store, "bamboohr", "d7", "sha".into(), &work, NOW)
            .await
            .unwrap();
        let ctx = run_ctx(&store);
        process_item(&ctx, &d, &key).await;
        let rec = ctx.finish(None, None).await;
        assert_eq!(
            rec.counts.get("hr_emails_not_addresses"),
            Some(&1),
            "{rec:?}"
        );
        assert!(
            rec.errors.iter().any(|e| e.contains("is not an address")),
            "{rec:?}"
        );
        let item = store.item(FLOW, &key, NOW).await.unwrap().unwrap();
        assert_eq!(item.status, ItemStatus::Failed, "{item:?}");
    }

    #[tokio::test]
    async fn a_cancellation_never_removes_someone_riskflow_did_not_add() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        // Put on the list by an analyst, not by riskflow.
        w.departing
            .lock()
            .unwrap()
            .push("actor-pat@example.com".into());
        let d = deps(w.clone());
        depart(&store, &d).await;
        cancel(&store, &d).await;
        assert!(
            w.on_list("pat@example.com"),
            "riskflow found them listed, so it leaves them"
        );
    }

    /// A memory store whose next `failures` saves of a person record fail as an unavailable
    /// DynamoDB would (not a conflict: the save is not retried in the same attempt).
    struct PersonSavesFail {
        inner: crate::store::memory::MemoryItemStore,
        failures: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl crate::store::ItemStore for PersonSavesFail {
        async fn get(
            &self,
            pk: &str,
            sk: &str,
        ) -> Result<Option<crate::store::RawItem>, crate::store::BackendError> {
            self.inner.get(pk, sk).await
        }
        async fn batch_get(
            &self,
            keys: &[(String, String)],
        ) -> Result<Vec<crate::store::RawItem>, crate::store::BackendError> {
            self.inner.batch_get(keys).await
        }
        async fn put(
            &self,
            item: crate::store::RawItem,
            cond: crate::store::Cond,
        ) -> Result<(), crate::store::BackendError> {
            self.transact(vec![crate::store::Op::Put(item, cond)]).await
        }
        async fn put_many(
            &self,
            items: Vec<crate::store::RawItem>,
        ) -> Result<(), crate::store::BackendError> {
            self.inner.put_many(items).await
        }
        async fn delete(
            &self,
            pk: &str,
            sk: &str,
            cond: crate::store::Cond,
        ) -> Result<(), crate::store::BackendError> {
            self.inner.delete(pk, sk, cond).await
        }
        async fn transact(
            &self,
            ops: Vec<crate::store::Op>,
        ) -> Result<(), crate::store::BackendError> {
            use std::sync::atomic::Ordering::SeqCst;
            let saves_person = ops.iter().any(
                |op| matches!(op, crate::store::Op::Put(it, _) if it.pk.starts_with("person#")),
            );
            if saves_person
                && self
                    .failures
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                return Err(crate::store::BackendError::Unavailable(
                    "DynamoDB: ProvisionedThroughputExceededException".into(),
                ));
            }
            self.inner.transact(ops).await
        }
        async fn query(
            &self,
            q: &crate::store::Query,
        ) -> Result<(Vec<crate::store::RawItem>, Option<String>), crate::store::BackendError>
        {
            self.inner.query(q).await
        }
        async fn delete_expired(&self, now: i64) -> Result<u64, crate::store::BackendError> {
            self.inner.delete_expired(now).await
        }
    }

    #[tokio::test]
    async fn a_removal_whose_person_save_failed_is_not_made_counted_or_audited_again_on_retry() {
        let faulty = Arc::new(PersonSavesFail {
            inner: crate::store::memory::MemoryItemStore::new(),
            failures: 0.into(),
        });
        let store = Store::new(faulty.clone());
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        depart(&store, &d).await;
        assert!(w.on_list("pat@example.com"));

        // The cancellation removes the person, then the person's record cannot be saved.
        faulty
            .failures
            .store(1, std::sync::atomic::Ordering::SeqCst);
        let first = cancel(&store, &d).await;
        assert!(!w.on_list("pat@example.com"));
        let item = store.item(FLOW, "generic:m2", NOW).await.unwrap().unwrap();
        assert_eq!(item.status, ItemStatus::Pending, "retried: {item:?}");
        // The retry, by the next scheduled run.
        let second = next_run(&store, &d).await;
        let item = store.item(FLOW, "generic:m2", NOW).await.unwrap().unwrap();
        assert_eq!(item.status, ItemStatus::Done, "{item:?}");

        assert_eq!(
            *w.excluded.lock().unwrap(),
            vec!["actor-pat@example.com".to_string()],
            "removed once"
        );
        let counted = [&first, &second]
            .iter()
            .filter_map(|r| r.counts.get("watchlist_removes"))
            .sum::<u64>();
        assert_eq!(counted, 1, "{first:?} {second:?}");
        assert_eq!(removals(&store, "pat@example.com").await, 1, "audited once");
        let person = store.person("pat@example.com", NOW).await.unwrap().unwrap();
        assert!(!person.added_by_riskflow, "{person:?}");
    }

    #[tokio::test]
    async fn a_removal_whose_answer_was_lost_is_audited_once_by_the_retry_and_not_made_again() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        depart(&store, &d).await;
        w.lose_next_answer
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let first = cancel(&store, &d).await;
        assert_eq!(first.counts.get("watchlist_removes"), None, "{first:?}");
        assert!(!w.on_list("pat@example.com"), "made, answer lost");
        let second = next_run(&store, &d).await;
        assert_eq!(
            second.counts.get("watchlist_removes"),
            Some(&1),
            "{second:?}"
        );
        assert_eq!(w.excluded.lock().unwrap().len(), 1, "removed once");
        assert_eq!(removals(&store, "pat@example.com").await, 1, "audited once");
        let item = store.item(FLOW, "generic:m2", NOW).await.unwrap().unwrap();
        assert_eq!(item.status, ItemStatus::Done, "{item:?}");
    }

    #[tokio::test]
    async fn an_add_whose_answer_was_lost_is_audited_once_by_the_retry_and_not_made_again() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        w.lose_next_answer
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let first = depart(&store, &d).await;
        assert_eq!(first.counts.get("watchlist_adds"), None, "{first:?}");
        assert!(w.on_list("pat@example.com"), "made, answer lost");
        let second = next_run(&store, &d).await;
        assert_eq!(second.counts.get("watchlist_adds"), Some(&1), "{second:?}");
        let page = store
            .list_audit(NOW - 86_400_000, NOW + 86_400_000, 100, None, NOW)
            .await
            .unwrap();
        let adds: Vec<&str> = page
            .items
            .iter()
            .filter(|a| a.action == "watchlist_add")
            .map(|a| a.result.as_str())
            .collect();
        let n = |p: &str| adds.iter().filter(|r| r.starts_with(p)).count();
        assert_eq!(
            (n("failed"), n("ok")),
            (1, 1),
            "the failure, the add made: {adds:?}"
        );
        // Riskflow's add: the cancellation takes them off again.
        cancel(&store, &d).await;
        assert!(!w.on_list("pat@example.com"));
    }

    #[tokio::test]
    async fn a_cancellation_before_the_retry_of_an_add_whose_answer_was_lost_takes_them_off() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        w.lose_next_answer
            .store(true, std::sync::atomic::Ordering::SeqCst);
        depart(&store, &d).await;
        assert!(w.on_list("pat@example.com"), "made, answer lost");
        // The later cancellation is applied before the departure's retry.
        let rec = cancel(&store, &d).await;
        assert!(
            !w.on_list("pat@example.com"),
            "riskflow's own add is undone: {rec:?}"
        );
        assert_eq!(rec.counts.get("watchlist_removes"), Some(&1), "{rec:?}");
        assert_eq!(
            rec.counts.get("watchlist_adds"),
            Some(&1),
            "the add that landed is recorded: {rec:?}"
        );
        // The departure's retry is stale, and nothing changes.
        let rec = next_run(&store, &d).await;
        assert_eq!(rec.counts.get("hr_stale_facts"), Some(&1), "{rec:?}");
        assert!(!w.on_list("pat@example.com"));
        assert_eq!(removals(&store, "pat@example.com").await, 1);
    }

    /// A run of the whole flow at `at` with clean-up after 7 days.
    async fn run_at(store: &Store, w: &Arc<FakeWatchlists>, at: i64) -> RunRecord {
        let mut d = deps(w.clone());
        d.settings.cleanup_after_days = Some(7);
        let ctx = ctx_at(store, at);
        run(&ctx, &d).await
    }

    async fn marker(store: &Store) -> Option<String> {
        let (pk, sk) = CLEANUP_MARKER;
        let doc = store.get_doc(pk, sk, NOW).await.unwrap()?;
        Some(doc["date"].as_str().unwrap().to_string())
    }

    async fn removals(store: &Store, email: &str) -> usize {
        let page = store
            .list_audit(
                NOW - 30 * 86_400_000,
                NOW + 120 * 86_400_000,
                1000,
                None,
                NOW,
            )
            .await
            .unwrap();
        page.items
            .iter()
            .filter(|a| {
                a.action == "watchlist_remove" && a.target == email && a.result.starts_with("ok")
            })
            .count()
    }

    fn ms_of(date: &str) -> i64 {
        let d: crate::domain::Date = date.parse().unwrap();
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_millisecond()
            + 12 * 3_600_000
    }

    #[tokio::test]
    async fn clean_up_catches_up_on_every_date_missed_and_keeps_its_marker_before_a_failure() {
        let store = Store::in_memory();
        let people = [
            ("ann@example.com", "2026-06-01"),
            ("bob@example.com", "2026-06-02"),
            ("cat@example.com", "2026-06-03"),
            ("dan@example.com", "2026-06-05"),
        ];
        let mut w = FakeWatchlists::default();
        for (email, _) in people {
            w = w.with_actor(email);
        }
        let w = Arc::new(w);
        let d = deps(w.clone());
        for (i, (email, date)) in people.iter().enumerate() {
            let mut work = fact(HrEventKind::Departure, email, NOW - 1_000, Some(date));
            if let HrWork::Fact { fact } = &mut work {
                fact.email = email.to_string();
            }
            deliver(&store, &d, &format!("d{i}"), work).await;
            assert!(w.on_list(email));
        }
        // Removing cat fails; no run happened for days: on 2026-06-14, 06-01..06-07 are due.
        w.failing_excludes
            .lock()
            .unwrap()
            .push("actor-cat@example.com".into());
        let rec = run_at(&store, &w, ms_of("2026-06-14")).await;
        assert_eq!(rec.counts.get("watchlist_removes"), Some(&3), "{rec:?}");
        for email in ["ann@example.com", "bob@example.com", "dan@example.com"] {
            assert!(!w.on_list(email), "{email}");
        }
        assert!(w.on_list("cat@example.com"));
        assert!(!rec.errors.is_empty(), "the failure is reported: {rec:?}");
        assert_eq!(marker(&store).await.as_deref(), Some("2026-06-02"));

        // Still failing the next day: the marker stays before cat's date.
        run_at(&store, &w, ms_of("2026-06-15")).await;
        assert_eq!(marker(&store).await.as_deref(), Some("2026-06-02"));

        // Repaired; three more days without a run.
        w.failing_excludes.lock().unwrap().clear();
        let rec = run_at(&store, &w, ms_of("2026-06-18")).await;
        assert_eq!(rec.counts.get("watchlist_removes"), Some(&1), "{rec:?}");
        assert!(!w.on_list("cat@example.com"));
        assert_eq!(marker(&store).await.as_deref(), Some("2026-06-11"));
        run_at(&store, &w, ms_of("2026-06-19")).await;
        for (email, _) in people {
            assert_eq!(removals(&store, email).await, 1, "{email} audited once");
        }
    }

    #[tokio::test]
    async fn a_long_outage_is_caught_up_a_bounded_number_of_dates_per_run() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let d = deps(w.clone());
        deliver(
            &store,
            &d,
            "m1",
            fact(
                HrEventKind::Departure,
                "m1",
                NOW - 1_000,
                Some("2026-07-20"),
            ),
        )
        .await;
        // A first run: the look-back (31 dates) fits in one run.
        run_at(&store, &w, ms_of("2026-06-08")).await;
        assert_eq!(marker(&store).await.as_deref(), Some("2026-06-01"));
        // No successful run for two months (61 dates due): CLEANUP_MAX_DATES_PER_RUN a run.
        let rec = run_at(&store, &w, ms_of("2026-08-08")).await;
        assert_eq!(
            rec.counts.get("cleanup_dates_deferred"),
            Some(&1),
            "{rec:?}"
        );
        assert_eq!(marker(&store).await.as_deref(), Some("2026-07-11"));
        assert!(
            w.on_list("pat@example.com"),
            "2026-07-20 is not reached yet"
        );
        let rec = run_at(&store, &w, ms_of("2026-08-08")).await;
        assert_eq!(rec.counts.get("cleanup_dates_deferred"), None, "{rec:?}");
        assert_eq!(marker(&store).await.as_deref(), Some("2026-08-01"));
        assert!(!w.on_list("pat@example.com"));
        assert_eq!(removals(&store, "pat@example.com").await, 1);
    }

    /// A report source (as Workday's) listing the employees leaving, which the test changes
    /// between pulls: a row that appears is a departure, one that vanishes a cancellation (ids
    /// `<employee>:<date>` and `…:cancelled`, as Workday's rule names them).
    struct Report(std::sync::Mutex<Vec<Row>>);

    type Row = (String, String, crate::domain::Date);

    #[async_trait::async_trait]
    impl HrReport for Report {
        async fn fetch(
            &self,
            _deadline: Option<Instant>,
        ) -> Result<crate::ports::ReportAnswer, crate::ports::ConnectorError> {
            Ok(crate::ports::ReportAnswer {
                body: serde_json::to_vec(&*self.0.lock().unwrap()).unwrap(),
            })
        }

        fn changes(
            &self,
            previous: Option<&[serde_json::Value]>,
            answer: &crate::ports::ReportAnswer,
            _today: crate::domain::Date,
            now_ms: i64,
        ) -> Result<crate::ports::ReportChanges, crate::ports::ConnectorError> {
            let prev: Vec<Row> = previous
                .unwrap_or_default()
                .iter()
                .map(|v| serde_json::from_value(v.clone()).unwrap())
                .collect();
            let cur: Vec<Row> = serde_json::from_slice(&answer.body).unwrap();
            let fact = |(id, email, date): &Row, gone: bool| Departure {
                source: HrSource::Workday,
                kind: if gone {
                    HrEventKind::Cancellation
                } else {
                    HrEventKind::Departure
                },
                source_event_id: format!("{id}:{date}{}", if gone { ":cancelled" } else { "" }),
                event_time: now_ms,
                email: email.clone(),
                employee_id: Some(id.clone()),
                departure_date: (!gone).then_some(*date),
                reason: None,
            };
            let mut facts: Vec<Departure> = cur
                .iter()
                .filter(|r| !prev.contains(r))
                .map(|r| fact(r, false))
                .collect();
            facts.extend(
                prev.iter()
                    .filter(|r| !cur.contains(r))
                    .map(|r| fact(r, true)),
            );
            Ok(crate::ports::ReportChanges {
                facts,
                snapshot: cur
                    .iter()
                    .map(|r| serde_json::to_value(r).unwrap())
                    .collect(),
                ..Default::default()
            })
        }
    }

    fn terminated() -> Row {
        (
            "E1".into(),
            "pat@example.com".into(),
            "2030-01-31".parse().unwrap(),
        )
    }

    async fn pull_at(store: &Store, d: &HrDeps, at: i64) -> RunRecord {
        let ctx = ctx_at(store, at);
        run(&ctx, d).await
    }

    /// Whether the Workday fact `id` seen by the pull at `at` was recorded and applied.
    async fn applied(store: &Store, id: &str, at: i64) -> bool {
        let key = hr_intake::report_item_key(HrSource::Workday, id, at);
        store
            .item(FLOW, &key, NOW)
            .await
            .unwrap()
            .is_some_and(|i| i.status == ItemStatus::Done)
    }

    #[tokio::test]
    async fn a_workday_re_termination_after_a_cancellation_is_applied_not_dropped() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let report = Arc::new(Report(std::sync::Mutex::new(vec![terminated()])));
        let mut d = deps(w.clone());
        d.reports = vec![(HrSource::Workday, report.clone() as Arc<dyn HrReport>)];

        pull_at(&store, &d, NOW).await;
        assert!(w.on_list("pat@example.com"));
        report.0.lock().unwrap().clear();
        pull_at(&store, &d, NOW + 86_400_000).await;
        assert!(!w.on_list("pat@example.com"), "cancelled");
        report.0.lock().unwrap().push(terminated());
        let rec = pull_at(&store, &d, NOW + 2 * 86_400_000).await;
        assert!(rec.errors.is_empty(), "{rec:?}");
        assert!(w.on_list("pat@example.com"), "terminated again: departing");
        let day = 86_400_000;
        assert!(applied(&store, "E1:2030-01-31", NOW).await);
        assert!(applied(&store, "E1:2030-01-31:cancelled", NOW + day).await);
        assert!(applied(&store, "E1:2030-01-31", NOW + 2 * day).await);

        // The same report pulled again adds nothing.
        let rec = pull_at(&store, &d, NOW + 3 * 86_400_000).await;
        assert!(rec.errors.is_empty(), "{rec:?}");
        assert_eq!(rec.counts.get("workday_changes"), Some(&0), "{rec:?}");
        assert!(!applied(&store, "E1:2030-01-31", NOW + 3 * day).await);
        assert!(w.on_list("pat@example.com"));
    }

    #[tokio::test]
    async fn a_workday_fact_whose_key_holds_another_fact_is_an_error_in_the_run_record() {
        let store = Store::in_memory();
        let w = Arc::new(FakeWatchlists::default().with_actor("pat@example.com"));
        let report = Arc::new(Report(std::sync::Mutex::new(vec![terminated()])));
        let mut d = deps(w.clone());
        d.reports = vec![(HrSource::Workday, report.clone() as Arc<dyn HrReport>)];
        // Another fact already holds the key this pull's departure gets.
        let key = hr_intake::report_item_key(HrSource::Workday, "E1:2030-01-31", NOW);
        let mut other = WorkItem::new(FLOW, key.clone(), ItemStatus::Pending, NOW);
        other.payload =
            serde_json::to_value(fact(HrEventKind::Cancellation, "x", NOW - 5, None)).unwrap();
        assert!(store.put_pending(&other, NOW).await.unwrap());

        let rec = pull_at(&store, &d, NOW).await;
        assert!(
            rec.errors
                .iter()
                .any(|e| e.contains(&key) && e.contains("not recorded")),
            "{rec:?}"
        );
        // The snapshot is kept, so the next pull records the departure under its own key.
        let rec = pull_at(&store, &d, NOW + 1_000).await;
        assert!(rec.errors.is_empty(), "{rec:?}");
        assert!(w.on_list("pat@example.com"));
    }
}
