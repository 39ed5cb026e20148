//! The jobs, as async functions over the state store and the role traits of
//! [`crate::ports`]:
//! [`alert_tickets`], [`hr_departures`], [`departing_response`] and [`state_sync`]. [`RunCtx`]
//! carries what every run shares: the clock, the deadline, dry-run mode, counters, the audit
//! buffer and the plan.

pub mod alert_tickets;
pub mod containment;
pub mod departing_response;
#[cfg(test)]
pub(crate) mod fakes;
pub mod hr_departures;
pub mod hr_intake;
pub mod scan;
pub mod state_sync;
pub mod steps;
pub mod ticket_content;
pub mod tickets;
pub mod work_item;

use crate::domain::{AuditEntry, ConnectionKind, Flow, Lease, RunRecord, RunStatus};
use crate::metrics::{Metrics, MetricsSink, Unit};
use crate::ports::ConnectorError;
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::Clock;

#[derive(Default)]
struct RunState {
    counts: BTreeMap<String, u64>,
    errors: Vec<String>,
    plan: Vec<String>,
    audit: Vec<AuditEntry>,
    /// Audit entries recorded so far, and how many of them are written.
    audit_recorded: u64,
    audit_written: u64,
    gauges: Vec<(String, Unit, f64)>,
    /// The run ended because another run held the flow's lock.
    overlapped: bool,
    /// Why the run's work waits for the next run (a transient fault of a call every item
    /// needs), see [`RunCtx::cannot_continue`].
    deferred: Option<String>,
}

/// What started a run: only scheduled and manual runs say whether a flow is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A schedule or a manual `run` (API, CLI).
    Run,
    /// Work items recorded by a webhook delivery, processed at once.
    Webhook,
    /// A backfill over a past range.
    Backfill,
}

/// What one run of a flow shares.
pub struct RunCtx {
    pub store: Store,
    pub flow: Flow,
    pub run_id: String,
    pub started_at: i64,
    /// When the invocation must have answered (the Lambda deadline).
    pub deadline: Instant,
    pub dry_run: bool,
    pub clock: Clock,
    pub audit_retention_ms: i64,
    /// Where the run's metric line goes (off unless the composition root sets one).
    pub metrics: MetricsSink,
    pub trigger: Trigger,
    state: Mutex<RunState>,
    /// One audit write at a time, so that concurrent settles share writes (group commit).
    audit_writer: tokio::sync::Mutex<()>,
}

/// How many errors a run record keeps (the rest are counted).
const MAX_ERRORS: usize = 50;
/// How many plan lines a dry-run record keeps.
const MAX_PLAN: usize = 500;

impl RunCtx {
    pub fn new(store: Store, flow: Flow, deadline: Instant, dry_run: bool, clock: Clock) -> Self {
        let started_at = clock();
        RunCtx {
            store,
            flow,
            run_id: crate::store::short_id(),
            started_at,
            deadline,
            dry_run,
            clock,
            audit_retention_ms: crate::store::AUDIT_RETENTION_MS,
            metrics: MetricsSink::Off,
            trigger: Trigger::Run,
            state: Mutex::new(RunState::default()),
            audit_writer: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn count(&self, name: &str, n: u64) {
        *self.state().counts.entry(name.to_string()).or_default() += n;
    }

    pub fn counted(&self, name: &str) -> u64 {
        self.state().counts.get(name).copied().unwrap_or(0)
    }

    pub fn gauge(&self, name: &str, unit: Unit, value: f64) {
        let mut s = self.state();
        s.gauges.retain(|(k, _, _)| k != name);
        s.gauges.push((name.to_string(), unit, value));
    }

    /// Record an error for the run record (and the log).
    pub fn error(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!(flow = %self.flow, run = %self.run_id, error = %message, "run error");
        let mut s = self.state();
        *s.counts.entry("errors".into()).or_default() += 1;
        if s.errors.len() < MAX_ERRORS {
            s.errors.push(message);
        }
    }

    /// A call that every item of the run needs (a page of sessions, the Departing watchlist,
    /// the identity provider's token owner) failed after the HTTP layer's retries: the status
    /// the run ends with. A transient failure (5xx, 429, timeout, broken connection) defers the
    /// run's work to the next run: the run ends `partial` with the reason as its message and
    /// counts `deferred_to_next_run`; it emits `runs_deferred`, not `runs_succeeded`, so a fault
    /// that lasts a whole schedule interval still trips the no-successful-run alarm, and the
    /// function answers normally (no retry of the invocation). Any other failure (401, 403,
    /// 404, a refused request) fails the run.
    pub fn cannot_continue(&self, what: &str, e: &ConnectorError) -> RunStatus {
        if !e.is_transient() {
            self.error(format!("{what}: {e}"));
            return RunStatus::Failed;
        }
        let reason = format!("deferred to the next run: {what}: {e}");
        tracing::warn!(flow = %self.flow, run = %self.run_id, reason = %reason, "run deferred");
        self.count("deferred_to_next_run", 1);
        self.state().deferred = Some(reason);
        RunStatus::Partial
    }

    /// Record what a dry run would do.
    pub fn plan(&self, line: impl Into<String>) {
        let mut s = self.state();
        if s.plan.len() < MAX_PLAN {
            s.plan.push(line.into());
        }
    }

    /// Record an outside action for the audit trail (written in batches at the end of the run).
    pub fn audit(
        &self,
        system: ConnectionKind,
        action: &str,
        target: &str,
        reason: &str,
        result: impl Into<String>,
    ) {
        let entry = AuditEntry {
            at: self.now(),
            id: crate::store::short_id(),
            flow: Some(self.flow),
            system,
            action: action.to_string(),
            target: target.to_string(),
            reason: reason.to_string(),
            result: result.into(),
        };
        tracing::info!(flow = %self.flow, system = %entry.system, action = %entry.action, target = %entry.target, result = %entry.result, "audit");
        let mut s = self.state();
        s.audit.push(entry);
        s.audit_recorded += 1;
    }

    /// Write buffered audit entries now (also done by [`RunCtx::finish`]).
    pub async fn flush_audit(&self) -> Result<(), crate::store::StoreError> {
        let _one_writer = self.audit_writer.lock().await;
        self.write_buffered_audit().await
    }

    /// Make every audit entry recorded so far durable before the caller records an item as
    /// finished, so a process killed right after cannot leave a finished action without its
    /// audit entry. Callers finishing at the same time share writes: whoever writes takes every
    /// entry buffered by then, and a caller whose entries were taken by that write returns
    /// without writing.
    pub async fn settle_audit(&self) -> Result<(), crate::store::StoreError> {
        let target = self.state().audit_recorded;
        let _one_writer = self.audit_writer.lock().await;
        if self.state().audit_written >= target {
            return Ok(());
        }
        self.write_buffered_audit().await
    }

    async fn write_buffered_audit(&self) -> Result<(), crate::store::StoreError> {
        let (entries, upto) = {
            let mut s = self.state();
            (std::mem::take(&mut s.audit), s.audit_recorded)
        };
        if entries.is_empty() {
            return Ok(());
        }
        if let Err(e) = self
            .store
            .append_audit(&entries, self.audit_retention_ms)
            .await
        {
            // Keep them for the next write.
            self.state().audit.splice(0..0, entries);
            return Err(e);
        }
        let mut s = self.state();
        s.audit_written = s.audit_written.max(upto);
        Ok(())
    }

    /// [`RunCtx::settle_audit`], recording a failure as a run error (the entries stay buffered
    /// for the end of the run).
    pub async fn settle_audit_or_note(&self) {
        if let Err(e) = self.settle_audit().await {
            self.error(format!("audit entries could not be written yet: {e}"));
        }
    }

    /// Finish the run: flush the audit trail, write the run record, print the EMF metrics.
    pub async fn finish(&self, status: Option<RunStatus>, message: Option<String>) -> RunRecord {
        if let Err(e) = self.flush_audit().await {
            self.error(format!("audit entries could not be written: {e}"));
        }
        let finished_at = self.now();
        let (counts, errors, plan, gauges, overlapped, deferred) = {
            let s = self.state();
            (
                s.counts.clone(),
                s.errors.clone(),
                s.plan.clone(),
                s.gauges.clone(),
                s.overlapped,
                s.deferred.clone(),
            )
        };
        let deferred = deferred.filter(|_| status == Some(RunStatus::Partial));
        // A run that had errors but finished is partial: its failed items are retried later.
        let status = status.unwrap_or(if counts.get("errors").copied().unwrap_or(0) == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Partial
        });
        let record = RunRecord {
            flow: self.flow,
            id: self.run_id.clone(),
            started_at: self.started_at,
            finished_at,
            status,
            dry_run: self.dry_run,
            counts: counts.clone(),
            errors,
            message: message.or_else(|| deferred.clone()),
            plan,
        };
        if let Err(e) = self.store.put_run(&record).await {
            tracing::error!(flow = %self.flow, run = %self.run_id, error = %e, "run record could not be written");
        }
        let mut m = Metrics::new();
        for (k, v) in &counts {
            m.count(k, *v);
        }
        for (k, u, v) in gauges {
            m.gauge(&k, u, v);
        }
        m.gauge(
            "duration_ms",
            Unit::Milliseconds,
            (finished_at - self.started_at) as f64,
        );
        if self.trigger == Trigger::Run {
            let outcome = match status {
                RunStatus::Partial if deferred.is_some() => "runs_deferred",
                RunStatus::Succeeded | RunStatus::Partial => "runs_succeeded",
                RunStatus::Skipped if overlapped => "runs_overlapped",
                RunStatus::Skipped => "runs_skipped",
                RunStatus::Failed => "runs_failed",
            };
            m.count(outcome, 1);
        }
        self.metrics.run(self.flow.as_str(), &m, finished_at);
        record
    }
}

impl RunCtx {
    /// Take the flow's lock for the run (none in a dry run, which writes nothing). `Err` holds
    /// the finished run record when the run must end here: another run holds the lock
    /// (`skipped`), or the state store failed.
    pub async fn lock(&self, timing: &Timing) -> Result<Option<Lease>, RunRecord> {
        if self.dry_run {
            return Ok(None);
        }
        match self
            .store
            .acquire_lock(self.flow, &self.run_id, timing.lock_ttl_ms, self.now())
            .await
        {
            Ok(Some(l)) => Ok(Some(l)),
            Ok(None) => Err({
                self.state().overlapped = true;
                self.finish(
                    Some(RunStatus::Skipped),
                    Some(format!("another run of {} holds the lock", self.flow)),
                )
                .await
            }),
            Err(e) => {
                self.error(format!("state store: {e}"));
                Err(self.finish(Some(RunStatus::Failed), None).await)
            }
        }
    }

    /// Release the flow's lock taken by [`RunCtx::lock`].
    pub async fn unlock(&self, lock: Option<Lease>) {
        if let Some(l) = &lock
            && let Err(e) = self.store.release_lock(l, self.now()).await
        {
            self.error(format!("lock release: {e}"));
        }
    }
}

/// The least time worth starting an item with: one outside call's worth.
const MIN_ITEM_TIME: Duration = Duration::from_secs(2);

/// Flow settings shared by the scheduling: leases and margins.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How long a claimed item is held; covers the worst case of one step.
    pub item_lease_ms: i64,
    /// Margin for clock skew between workers.
    pub skew_margin_ms: i64,
    /// How long the flow lock is held (≥ the function timeout).
    pub lock_ttl_ms: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            item_lease_ms: 120_000,
            skew_margin_ms: 5_000,
            lock_ttl_ms: 16 * 60_000,
        }
    }
}

impl Timing {
    /// Whether there is time to claim one more item before the deadline.
    pub fn can_claim(&self, ctx: &RunCtx) -> bool {
        ctx.remaining() > Duration::from_millis((self.item_lease_ms + self.skew_margin_ms) as u64)
    }

    /// Whether the run's budget leaves time to start one more item at all (a webhook's few
    /// seconds are shorter than a lease, so [`Self::can_claim`] does not fit there).
    pub fn can_start(&self, ctx: &RunCtx) -> bool {
        ctx.remaining() > MIN_ITEM_TIME
    }

    /// The deadline for outside calls made under a lease taken at `now`.
    pub fn call_deadline(&self, ctx: &RunCtx, lease_until: i64) -> Instant {
        let left = (lease_until - ctx.now() - self.skew_margin_ms).max(0) as u64;
        ctx.deadline
            .min(Instant::now() + Duration::from_millis(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(store: &Store, trigger: Trigger, sink: &MetricsSink) -> RunCtx {
        let mut c = RunCtx::new(
            store.clone(),
            Flow::AlertTickets,
            Instant::now() + Duration::from_secs(60),
            false,
            crate::clock::system_clock(),
        );
        c.trigger = trigger;
        c.metrics = sink.clone();
        c
    }

    /// The `runs_*` metrics of the lines a sink holds, with their deployment.
    fn outcomes(sink: &MetricsSink) -> Vec<(String, String)> {
        sink.lines()
            .iter()
            .flat_map(|l| {
                let dep = l["deployment"].as_str().unwrap_or_default().to_string();
                l.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with("runs_"))
                    .map(move |(k, _)| (k.clone(), dep.clone()))
            })
            .collect()
    }

    #[tokio::test]
    async fn only_a_scheduled_or_manual_run_that_did_its_work_counts_as_a_successful_run() {
        let store = Store::in_memory();
        let sink = MetricsSink::memory("rf-prod");
        ctx(&store, Trigger::Run, &sink).finish(None, None).await;
        let c = ctx(&store, Trigger::Run, &sink);
        c.error("one item failed");
        c.finish(None, None).await;
        assert_eq!(
            outcomes(&sink),
            [
                ("runs_succeeded".to_string(), "rf-prod".to_string()),
                ("runs_succeeded".to_string(), "rf-prod".to_string())
            ]
        );
        // Every line carries the deployment and the flow as its dimensions.
        for l in sink.lines() {
            assert_eq!(
                l["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                serde_json::json!([["deployment", "flow"]])
            );
            assert_eq!(l["flow"], "alert-tickets");
        }

        // A webhook batch or a backfill never keeps a schedule looking alive.
        let sink = MetricsSink::memory("rf-prod");
        ctx(&store, Trigger::Webhook, &sink)
            .finish(None, None)
            .await;
        ctx(&store, Trigger::Backfill, &sink)
            .finish(None, None)
            .await;
        assert_eq!(sink.lines().len(), 2);
        assert!(outcomes(&sink).is_empty(), "{:?}", sink.lines());

        // Failed and skipped runs are their own metrics.
        let sink = MetricsSink::memory("rf-prod");
        ctx(&store, Trigger::Run, &sink)
            .finish(Some(RunStatus::Failed), None)
            .await;
        ctx(&store, Trigger::Run, &sink)
            .finish(
                Some(RunStatus::Skipped),
                Some("Jira Cloud is not connected".into()),
            )
            .await;
        let got: Vec<String> = outcomes(&sink).into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, ["runs_failed", "runs_skipped"]);
    }

    #[tokio::test]
    async fn a_transient_fault_of_a_needed_call_defers_the_run_and_is_never_counted_healthy() {
        let store = Store::in_memory();
        let sink = MetricsSink::memory("rf");
        let c = ctx(&store, Trigger::Run, &sink);
        let status = c.cannot_continue(
            "reading Incydr sessions",
            &fakes::status_error("incydr", "/v1/sessions/search", 503),
        );
        assert_eq!(status, RunStatus::Partial);
        let rec = c.finish(Some(status), None).await;
        assert_eq!(rec.status, RunStatus::Partial);
        assert!(rec.errors.is_empty(), "{rec:?}");
        assert_eq!(rec.counts.get("deferred_to_next_run"), Some(&1));
        let msg = rec.message.unwrap_or_default();
        assert!(
            msg.starts_with(
                "deferred to the next run: reading Incydr sessions: incydr answered 503"
            ),
            "{msg}"
        );
        let got: Vec<String> = outcomes(&sink).into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, ["runs_deferred"], "never runs_succeeded");

        // A definitive answer fails the run.
        let sink = MetricsSink::memory("rf");
        let c = ctx(&store, Trigger::Run, &sink);
        let status = c.cannot_continue(
            "reading Incydr sessions",
            &fakes::status_error("incydr", "/v1/sessions/search", 403),
        );
        assert_eq!(status, RunStatus::Failed);
        let rec = c.finish(Some(status), None).await;
        assert_eq!(rec.errors.len(), 1, "{rec:?}");
        assert_eq!(rec.counts.get("deferred_to_next_run"), None);
        let got: Vec<String> = outcomes(&sink).into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, ["runs_failed"]);
    }

    #[tokio::test]
    async fn a_run_that_finds_the_lock_held_is_an_overlap_not_a_skip() {
        let store = Store::in_memory();
        let sink = MetricsSink::memory("rf");
        let timing = Timing::default();
        let first = ctx(&store, Trigger::Run, &sink);
        let held = first.lock(&timing).await.unwrap();
        let second = ctx(&store, Trigger::Run, &sink);
        let rec = second.lock(&timing).await.unwrap_err();
        assert_eq!(rec.status, RunStatus::Skipped);
        first.unlock(held).await;
        let got: Vec<String> = outcomes(&sink).into_iter().map(|(k, _)| k).collect();
        assert_eq!(got, ["runs_overlapped"]);
    }
}
