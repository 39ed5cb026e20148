//! Exactly-once tickets (README.md, "How exactly-once works").
//!
//! Before a create, the intent is recorded on the work item under the lease; after it, the
//! outcome. An attempt that finds an intent without an outcome (the answer was lost) first looks
//! for the ticket by its dedup key. ServiceNow's lookup by `correlation_id` is consistent, so
//! "not found" means "create again". Jira's search lags, so until the intent is older than the
//! sink's consistency horizon ([`TicketSink::search_horizon_ms`], a connection setting) that
//! sink's ticket waits; past it, one more search, then a create. Each sink waits only for its
//! own doubt: the other sinks' tickets of the same session go ahead.
//!
//! A session whose work item may have expired (see [`super::scan::item_may_have_expired`]) is
//! searched for first, whatever the ledger of its new item says: a ticket found is recorded,
//! never created again. That search needs no horizon: an expired item was finished at least
//! the item retention ago, long past any search lag.

use super::RunCtx;
use super::steps::set_outcome;
use crate::domain::{Lease, Step, TicketContent, TicketRef, WorkItem};
use crate::ports::ConnectorError;
use crate::ports::TicketSink;
use std::time::Instant;

/// The dedup key of a flow's ticket for a session: Jira label and ServiceNow correlation_id.
/// Characters outside `[A-Za-z0-9._-]` become `_` (labels take no spaces; ServiceNow encoded
/// queries must not see `^`, `=`, `&` or `@`).
pub fn dedup_key(flow: crate::domain::Flow, session_id: &str) -> String {
    let clean: String = session_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("riskflow-{}-{}", flow.as_str(), clean)
}

/// The job and session a dedup key names (the inverse of [`dedup_key`] for session ids made of
/// `[A-Za-z0-9._-]`, which Incydr's are); `None` for a key riskflow did not make.
pub fn parse_dedup_key(key: &str) -> Option<(crate::domain::Flow, String)> {
    crate::domain::Flow::ALL.into_iter().find_map(|flow| {
        let rest = key.strip_prefix(&format!("riskflow-{}-", flow.as_str()))?;
        (!rest.is_empty()).then(|| (flow, rest.to_string()))
    })
}

/// The step of a sink's ticket on a work item.
pub fn ticket_step(sink: &dyn TicketSink) -> Step {
    Step::Ticket(sink.kind())
}

/// What to do about one sink's ticket, decided before any create.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketPlan {
    /// The ticket exists (recorded, or found by its dedup key).
    Exists(TicketRef),
    /// No ticket: create one (after recording the intent).
    Create,
    /// An earlier create may have succeeded but search cannot tell yet: try again later.
    Wait { retry_after_ms: i64 },
}

pub use super::work_item::StepError;

/// The recorded ticket of a step, if its outcome is stored.
pub fn recorded_ticket(item: &WorkItem, step: Step) -> Option<TicketRef> {
    item.step_outcome(step)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Whether a sink is searched before a create whatever the item's ledger says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Only when the ledger shows an intent without an outcome.
    WhenInDoubt,
    /// Always: the session's earlier item may have expired with its ticket recorded on it.
    First,
}

/// Record a ticket found by its dedup key on an item that recorded none, with its audit entry
/// (`recover_ticket`): after a lost create answer, the entry of the ticket that create made;
/// after the item expired, a note that the ticket made long before was found.
pub fn record_found(
    ctx: &RunCtx,
    sink: &dyn TicketSink,
    item: &mut WorkItem,
    ticket: &TicketRef,
    search: Search,
    reason: &str,
) {
    let v = serde_json::to_value(ticket).unwrap_or_default();
    set_outcome(item, ticket_step(sink), v, ctx.now());
    let how = match search {
        Search::First => "ok: found by dedup key (the session's work item had expired)",
        Search::WhenInDoubt => "ok: found by dedup key after a lost answer",
    };
    ctx.audit(sink.kind(), "recover_ticket", &ticket.key, reason, how);
}

/// Decide what to do for one sink of a session whose earlier item may have expired
/// ([`Search::First`]): the ticket recorded on this item, else the one its dedup key finds,
/// else a create (may search; writes nothing).
pub async fn search_first(
    ctx: &RunCtx,
    sink: &dyn TicketSink,
    item: &WorkItem,
    key: &str,
    deadline: Option<Instant>,
) -> Result<TicketPlan, ConnectorError> {
    if let Some(t) = recorded_ticket(item, ticket_step(sink)) {
        return Ok(TicketPlan::Exists(t));
    }
    Ok(match sink.find(key, deadline).await? {
        Some(t) => {
            ctx.count("tickets_found_after_expiry", 1);
            TicketPlan::Exists(t)
        }
        None => TicketPlan::Create,
    })
}

/// Decide what to do for one sink from the item's ledger (may search it; writes nothing).
pub async fn plan_ticket(
    ctx: &RunCtx,
    sink: &dyn TicketSink,
    item: &WorkItem,
    lease: &Lease,
    key: &str,
    deadline: Option<Instant>,
) -> Result<TicketPlan, ConnectorError> {
    let step = ticket_step(sink);
    if let Some(t) = recorded_ticket(item, step) {
        return Ok(TicketPlan::Exists(t));
    }
    let Some(rec) = item.step(step) else {
        return Ok(TicketPlan::Create);
    };
    let Some(intent_at) = rec.intent_at else {
        return Ok(TicketPlan::Create);
    };
    if rec.lease_token.as_deref() == Some(lease.token.as_str()) {
        // Recorded by this very claim (claim and intent in one write): nothing was sent yet.
        return Ok(TicketPlan::Create);
    }
    // An earlier attempt recorded its intent but not the outcome: its answer may have been lost.
    if let Some(t) = sink.find(key, deadline).await? {
        ctx.count("tickets_recovered", 1);
        return Ok(TicketPlan::Exists(t));
    }
    let horizon_ms = sink.search_horizon_ms();
    if horizon_ms <= 0 {
        return Ok(TicketPlan::Create);
    }
    let age = ctx.now() - intent_at;
    if age < horizon_ms {
        return Ok(TicketPlan::Wait {
            retry_after_ms: horizon_ms - age,
        });
    }
    // Past the horizon the search has caught up with anything created before the intent's age.
    match sink.find(key, deadline).await? {
        Some(t) => {
            ctx.count("tickets_recovered", 1);
            Ok(TicketPlan::Exists(t))
        }
        None => Ok(TicketPlan::Create),
    }
}

/// Create the ticket in a sink whose intent is recorded, and put the outcome on the item.
pub async fn create_ticket(
    ctx: &RunCtx,
    sink: &dyn TicketSink,
    item: &mut WorkItem,
    content: &TicketContent,
    key: &str,
    deadline: Option<Instant>,
) -> Result<TicketRef, ConnectorError> {
    let created = sink.create(content, key, deadline).await?;
    let value = serde_json::to_value(&created).unwrap_or(serde_json::Value::Null);
    set_outcome(item, ticket_step(sink), value, ctx.now());
    ctx.count("tickets_created", 1);
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Flow;

    #[test]
    fn dedup_keys_are_per_flow_and_safe_for_labels_and_encoded_queries() {
        assert_eq!(
            dedup_key(Flow::AlertTickets, "123-session-1"),
            "riskflow-alert-tickets-123-session-1"
        );
        assert_ne!(
            dedup_key(Flow::AlertTickets, "s1"),
            dedup_key(Flow::DepartingResponse, "s1")
        );
        assert_eq!(
            dedup_key(Flow::AlertTickets, "a b^c=d&e@f"),
            "riskflow-alert-tickets-a_b_c_d_e_f"
        );
    }

    #[test]
    fn a_dedup_key_names_its_job_and_session_again() {
        for flow in [Flow::AlertTickets, Flow::DepartingResponse] {
            let key = dedup_key(flow, "8f3e-session.1");
            assert_eq!(parse_dedup_key(&key), Some((flow, "8f3e-session.1".into())));
        }
        assert_eq!(parse_dedup_key("incydr"), None);
        assert_eq!(parse_dedup_key("riskflow-alert-tickets-"), None);
    }
}
