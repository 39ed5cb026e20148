//! Incydr as the session side of state-sync (`ports::SessionStates`): a session's current
//! state and notes (`GET /v1/sessions/{id}`), `POST /v1/sessions/change-state` (at most 100 ids
//! a request, each carrying only its own) and `POST /v1/sessions/{id}/add-note` (a second call:
//! change-state carries no note). See ../shared/reference/sync-apis.md §1.

use crate::connectors::ConnectorError;
use crate::connectors::incydr::SessionState;
use crate::connectors::incydr::alerts::IncydrAdapter;
use crate::ports::{SessionNow, SessionStates};
use async_trait::async_trait;
use std::time::Instant;

#[async_trait]
impl SessionStates for IncydrAdapter {
    async fn session_now(
        &self,
        session_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<SessionNow>, ConnectorError> {
        let Some(s) = self.client.get_session(session_id, deadline).await? else {
            return Ok(None);
        };
        Ok(Some(SessionNow {
            // A session with no state history has never been triaged.
            state: s
                .current_state()
                .map_or_else(|| "OPEN".to_string(), |st| st.as_str().to_string()),
            last_updated: s.last_updated.or(s.end_time).or(s.begin_time).unwrap_or(0),
            notes: s.notes.iter().filter_map(|n| n.content.clone()).collect(),
        }))
    }

    async fn change_state(
        &self,
        session_ids: &[String],
        state: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let state = SessionState::from(state.to_string());
        self.client
            .change_state(session_ids, &state, deadline)
            .await
    }

    async fn add_note(
        &self,
        session_id: &str,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.client.add_note(session_id, text, deadline).await
    }
}
