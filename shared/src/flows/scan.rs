//! Reading the sessions a run acts on, the part the jobs that scan Incydr share: every query's
//! sessions merged by id (the newest `lastUpdated` kept when two queries return the same
//! session), then the work items of all of them in one batched read.

use super::RunCtx;
use crate::domain::{AlertSession, Flow, RunStatus, WorkItem};
use crate::ports::{AlertSource, SessionFilter};
use std::collections::HashMap;

/// The sessions of every filter, merged by id. A failed query ends the scan, with the status
/// the run ends with ([`RunCtx::cannot_continue`]: a transient fault defers the run's work):
/// a partial scan must not pass for a complete one.
pub async fn sessions(
    ctx: &RunCtx,
    source: &dyn AlertSource,
    filters: &[&SessionFilter],
) -> Result<HashMap<String, AlertSession>, RunStatus> {
    let mut sessions: HashMap<String, AlertSession> = HashMap::new();
    for filter in filters {
        match source.sessions(filter, Some(ctx.deadline)).await {
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
            Err(e) => return Err(ctx.cannot_continue("reading Incydr sessions", &e)),
        }
    }
    ctx.count("sessions_scanned", sessions.len() as u64);
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
