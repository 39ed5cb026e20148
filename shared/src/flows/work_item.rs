//! Acting on one work item, the part every job shares: after the item is claimed and acted on
//! under its lease, the run's audit is settled, then the item is completed, released back to
//! pending, or failed (retried by a later run or left for a person) — in that order, so an
//! item never finishes with its audit entries unwritten. The jobs differ only in how they act.

use super::RunCtx;
use crate::domain::{Lease, WorkItem};
use crate::ports::ConnectorError;
use crate::store::{Claim, StoreError};

/// Errors of acting on an item.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Retrying will not help (an unknown person, an unusable payload).
    #[error("{0}")]
    Final(String),
}

impl StepError {
    /// Whether a later run may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StepError::Connector(e) => e.is_transient(),
            StepError::Store(e) => e.is_transient() || matches!(e, StoreError::Backend(_)),
            StepError::Final(_) => false,
        }
    }
}

/// How acting on a claimed item ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acted {
    /// Everything is done: complete the item.
    Done,
    /// Something must wait for a later run (search to catch up, a cap): release the item.
    Waiting,
}

/// Where the item stands after [`settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Completed,
    Released,
    Failed,
}

/// The lease and item of a claim this run acquired; `Err` says why there is none
/// (`Ok(Settled::Completed)`: another run finished it, `Err(None)`: another run holds it, or
/// the state store failed and the error is reported under `label`).
pub fn acquired(
    ctx: &RunCtx,
    label: &str,
    claim: Result<Claim, StoreError>,
) -> Result<(Lease, WorkItem), Option<Settled>> {
    match claim {
        Ok(Claim::Acquired { lease, item }) => Ok((lease, item)),
        Ok(Claim::Done(_)) => Err(Some(Settled::Completed)),
        Ok(Claim::Busy { .. }) => Err(None),
        Err(e) => {
            ctx.error(format!("{label}: state store: {e}"));
            Err(Some(Settled::Failed))
        }
    }
}

/// Settle the audit, then complete, release or fail the item as `acted` says. Errors are
/// reported under `label` (`session s1`, the item key).
pub async fn settle(
    ctx: &RunCtx,
    label: &str,
    lease: &Lease,
    item: &WorkItem,
    acted: Result<Acted, StepError>,
) -> Settled {
    match acted {
        Ok(Acted::Waiting) => {
            ctx.settle_audit_or_note().await;
            if let Err(e) = ctx.store.release(lease, item, ctx.now()).await {
                ctx.error(format!("{label}: state store: {e}"));
            }
            Settled::Released
        }
        Ok(Acted::Done) => {
            ctx.settle_audit_or_note().await;
            match ctx.store.complete(lease, item, ctx.now()).await {
                Ok(_) => Settled::Completed,
                Err(e) => {
                    ctx.error(format!("{label}: state store: {e}"));
                    Settled::Failed
                }
            }
        }
        Err(e) => {
            ctx.count("actions_failed", 1);
            ctx.error(format!("{label}: {e}"));
            ctx.settle_audit_or_note().await;
            if let Err(se) = ctx
                .store
                .fail(lease, item, &e.to_string(), e.is_transient(), ctx.now())
                .await
            {
                ctx.error(format!("{label}: state store: {se}"));
            }
            Settled::Failed
        }
    }
}
