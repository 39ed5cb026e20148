//! Containments and their undo. departing-response records every group add it decides as a
//! durable [`Containment`] ([`record`]), and it is the one job that undoes them ([`undo_due`]),
//! under its run lock, so each containment has one writer; the API only records a request.
//!
//! An undo is due when a person asked for it, when the person's departure was cancelled (their
//! latest HR fact, saved after the containment began), or when the restriction's time limit
//! (`contain_for_days`) passed. It removes only a membership riskflow added: a person who was a
//! member before is never removed, and while any active rule of the identity provider assigns
//! users to the group the membership is reported and left (removing a rule-made membership
//! would put the person on the rule's exclusion list). Each undo records its intent first
//! (`undoing`), and its end, with its audit entry, in one write: a crash or a lost answer
//! never removes twice, audits twice, or loses the audit of a removal that was made.

use super::RunCtx;
use super::work_item::StepError;
use crate::domain::{
    AuditEntry, Closed, ConnectionKind, Containment, ContainmentStatus, HrEventKind, UndoReason,
};
use crate::ports::IdentityProvider;
use crate::store::StoreError;
use std::time::Instant;

const DAY_MS: i64 = 86_400_000;
/// Open containments read per page when looking for due undos.
const PAGE: usize = 100;

/// What containment found, for [`record`].
pub(super) struct Decided<'a> {
    pub session_id: &'a str,
    /// The email the alert named (lower-case).
    pub email: &'a str,
    /// The account's login (lower-case).
    pub login: &'a str,
    pub group_id: &'a str,
    pub user_id: &'a str,
    /// Riskflow added the membership (now, or by an earlier attempt whose answer was lost).
    pub added: bool,
    pub contain_for_days: Option<u32>,
}

/// Record a containment decision and answer the containment's id: a membership riskflow added
/// becomes an open containment (or joins the open one of the same membership, when another
/// session contained the person first); a membership that was there before riskflow acted is
/// recorded as not reversible.
pub(super) async fn record(
    ctx: &RunCtx,
    idp: ConnectionKind,
    d: &Decided<'_>,
) -> Result<String, StepError> {
    for _ in 0..3 {
        let now = ctx.now();
        if let Some(mut open) = ctx
            .store
            .open_containment_for(idp, d.group_id, d.user_id, now)
            .await?
        {
            if !open.add_session(d.session_id) {
                return Ok(open.id);
            }
            match ctx.store.save_containment(&open, now).await {
                Ok(saved) => return Ok(saved.id),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let mut c = Containment {
            id: crate::store::short_id(),
            idp,
            group_id: d.group_id.to_string(),
            user_id: d.user_id.to_string(),
            login: d.login.to_string(),
            email: d.email.to_string(),
            was_member: !d.added,
            sessions: vec![d.session_id.to_string()],
            more_sessions: 0,
            contained_at: now,
            until: d
                .contain_for_days
                .map(|days| now + i64::from(days) * DAY_MS),
            status: ContainmentStatus::Active,
            undo_request: None,
            undoing: None,
            last_error: None,
            closed: None,
            version: 0,
        };
        if !d.added {
            c.until = None;
            c.status = ContainmentStatus::NotReversible;
            c.closed = Some(Closed {
                at: now,
                why: format!("session {}", d.session_id),
                result: "nothing changed: already a member before riskflow acted".into(),
            });
        }
        match ctx.store.create_containment(&c, now).await {
            Ok(saved) => return Ok(saved.id),
            // Another session of the same person recorded the membership first: join it.
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StepError::Store(StoreError::Conflict {
        what: format!("containment of {} in group {}", d.login, d.group_id),
    }))
}

/// Why an undo request was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum UndoRequestError {
    #[error("no containment {0}")]
    NotFound(String),
    /// Not reversible, or already closed: the message says which.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Record a person's request to undo containment `id` (`riskflow undo`, `POST
/// /containments/{id}/undo`), with an audit entry naming them in the same write;
/// departing-response carries it out on its next run. Asking again for an open one keeps the
/// first request.
pub async fn request_undo(
    store: &crate::store::Store,
    id: &str,
    by: &str,
    note: Option<String>,
    audit_retention_ms: i64,
    now: i64,
) -> Result<Containment, UndoRequestError> {
    for _ in 0..3 {
        let mut c = store
            .containment(id, now)
            .await?
            .ok_or_else(|| UndoRequestError::NotFound(id.to_string()))?;
        if let Some(why) = c.refuses_undo() {
            return Err(UndoRequestError::Refused(why));
        }
        if c.undo_request.is_some() {
            return Ok(c);
        }
        let note = note.clone().filter(|n| !n.trim().is_empty());
        let audit = AuditEntry {
            at: now,
            id: crate::store::short_id(),
            flow: None,
            system: c.idp,
            action: "undo_requested".into(),
            target: c.login.clone(),
            reason: format!("containment {}", c.id),
            result: match &note {
                Some(n) => format!("recorded: by {by}: {n}"),
                None => format!("recorded: by {by}"),
            },
        };
        c.undo_request = Some(crate::domain::UndoRequest {
            by: by.to_string(),
            at: now,
            note,
        });
        match store
            .save_containment_audited(&c, Some(&audit), audit_retention_ms, now)
            .await
        {
            Ok(saved) => return Ok(saved),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(UndoRequestError::Store(StoreError::Conflict {
        what: format!("containment {id}"),
    }))
}

/// What undo reads and acts on.
pub(super) struct UndoDeps<'a> {
    pub idp: &'a dyn IdentityProvider,
    pub protected_groups: &'a [String],
}

/// Undo every open containment that is due, within the run's deadline.
pub(super) async fn undo_due(ctx: &RunCtx, deps: &UndoDeps<'_>) {
    let mut cursor = None;
    loop {
        let now = ctx.now();
        let page = match ctx.store.open_containments(cursor, PAGE, now).await {
            Ok(p) => p,
            Err(e) => {
                ctx.error(format!("containments could not be read: state store: {e}"));
                return;
            }
        };
        let emails: Vec<String> = page.items.iter().map(|c| c.email.clone()).collect();
        let people = match ctx.store.people(&emails, now).await {
            Ok(p) => p,
            Err(e) => {
                ctx.error(format!(
                    "containments could not be checked: state store: {e}"
                ));
                return;
            }
        };
        ctx.count("containments_open", page.items.len() as u64);
        for c in page.items {
            let cancelled = people.get(&c.email).filter(|p| {
                p.latest.kind == HrEventKind::Cancellation && p.updated_at >= c.contained_at
            });
            let reason = match (&c.undoing, &c.undo_request, c.until) {
                (Some(r), _, _) => r.clone(),
                (None, Some(req), _) => UndoReason::Requested {
                    by: req.by.clone(),
                    note: req.note.clone(),
                },
                (None, None, Some(until)) if until <= now => UndoReason::TimeLimit {
                    days: ((until - c.contained_at) / DAY_MS) as u32,
                },
                _ => match cancelled {
                    Some(p) => UndoReason::DepartureCancelled {
                        fact: format!("{} {}", p.latest.source.as_str(), p.latest.source_event_id),
                    },
                    None => continue,
                },
            };
            if Instant::now() >= ctx.deadline {
                ctx.error("containment undos deferred to the next run: the run's time is spent");
                return;
            }
            undo_one(ctx, deps, c, reason).await;
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => return,
        }
    }
}

/// Undo one due containment; failures are reported and leave it open for the next run.
async fn undo_one(ctx: &RunCtx, deps: &UndoDeps<'_>, mut c: Containment, reason: UndoReason) {
    let idp = deps.idp.kind();
    let what = format!(
        "remove {} from {} group {} (containment {}: {reason})",
        c.login,
        idp.short_name(),
        c.group_id,
        c.id
    );
    if ctx.dry_run {
        ctx.plan(what);
        return;
    }
    if c.idp != idp {
        ctx.error(format!(
            "containment {} was made in {}, which is not the identity provider connected now; not undone",
            c.id,
            c.idp.short_name()
        ));
        return;
    }
    if deps.protected_groups.iter().any(|g| g == &c.group_id) {
        ctx.error(format!(
            "containment {}: group {} is protected now; not undone",
            c.id, c.group_id
        ));
        return;
    }
    let deadline = Some(ctx.deadline);
    let earlier = c.status == ContainmentStatus::Undoing;
    if !earlier {
        // The intent is durable before anything changes.
        c.status = ContainmentStatus::Undoing;
        c.undoing = Some(reason.clone());
        c = match ctx.store.save_containment(&c, ctx.now()).await {
            Ok(saved) => saved,
            Err(e) => {
                ctx.error(format!("containment {}: state store: {e}", c.id));
                return;
            }
        };
    }
    let why = format!("containment {}: {reason}", c.id);
    let rules = match deps.idp.rules_assigning(&c.group_id, deadline).await {
        Ok(r) => r,
        Err(e) => return keep_trying(ctx, c, format!("reading group rules: {e}")).await,
    };
    if !rules.is_empty() {
        let result = format!(
            "skipped: group {} is assigned by {} group rule(s) {}; a membership a rule made is never removed (the rule would exclude the user); remove it by hand if right",
            c.group_id,
            idp.short_name(),
            rules.join(", ")
        );
        ctx.count("containments_kept", 1);
        return close(ctx, c, ContainmentStatus::Kept, why, result).await;
    }
    match deps.idp.is_member(&c.group_id, &c.user_id, deadline).await {
        Ok(true) => {}
        Ok(false) => {
            let result = if earlier {
                "ok (not a member any more: removed by an earlier attempt whose answer was lost, or by someone else)"
            } else {
                "skipped: not a member any more (removed outside riskflow)"
            };
            ctx.count("containments_undone", 1);
            return close(ctx, c, ContainmentStatus::Undone, why, result.into()).await;
        }
        Err(e) if e.status() == Some(404) => {
            let result = format!("skipped: the user or group no longer exists ({e})");
            ctx.count("containments_kept", 1);
            return close(ctx, c, ContainmentStatus::Kept, why, result).await;
        }
        Err(e) => return keep_trying(ctx, c, format!("checking membership: {e}")).await,
    }
    match deps
        .idp
        .remove_member(&c.group_id, &c.user_id, deadline)
        .await
    {
        Ok(()) => {
            ctx.count(&format!("{idp}_group_removes"), 1);
            ctx.count("containments_undone", 1);
            close(ctx, c, ContainmentStatus::Undone, why, "ok".into()).await;
        }
        Err(e) => keep_trying(ctx, c, format!("removing the membership: {e}")).await,
    }
}

/// Leave the containment open (undoing) with the failure recorded, for the next run.
async fn keep_trying(ctx: &RunCtx, mut c: Containment, problem: String) {
    ctx.error(format!(
        "containment {} of {}: not undone yet: {problem}",
        c.id, c.login
    ));
    c.last_error = Some(problem);
    if let Err(e) = ctx.store.save_containment(&c, ctx.now()).await {
        ctx.error(format!("containment {}: state store: {e}", c.id));
    }
}

/// Close the containment and write its audit entry with it, in one write.
async fn close(
    ctx: &RunCtx,
    mut c: Containment,
    status: ContainmentStatus,
    why: String,
    result: String,
) {
    let now = ctx.now();
    let idp = c.idp;
    let audit = AuditEntry {
        at: now,
        id: crate::store::short_id(),
        flow: Some(ctx.flow),
        system: idp,
        action: format!("{idp}_group_remove"),
        target: c.login.clone(),
        reason: why.clone(),
        result: result.clone(),
    };
    c.status = status;
    c.last_error = None;
    c.closed = Some(Closed {
        at: now,
        why,
        result,
    });
    match ctx
        .store
        .close_containment(&c, Some(&audit), ctx.audit_retention_ms, now)
        .await
    {
        Ok(_) => tracing::info!(
            containment = %c.id, target = %audit.target, result = %audit.result, "audit"
        ),
        Err(e) => ctx.error(format!(
            "containment {} of {}: {} but not recorded yet: state store: {e}",
            c.id, c.login, audit.result
        )),
    }
}
