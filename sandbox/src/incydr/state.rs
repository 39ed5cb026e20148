//! Incydr state: sessions with their file events, actors, users, watchlists and the token
//! signing key; seeding and the control operations; the views `GET /_control/state` shows.

use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::TENANT_ID;
use super::model::{
    Actor, Note, Score, Session, SessionSeed, StateEntry, TriggeredAlert, User, WatchlistSeed,
};
use crate::util::{self, IdGen};

#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub actor_id: String,
    pub added_time: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Watchlist {
    pub id: String,
    pub list_type: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub included: Vec<Member>,
    pub excluded: Vec<Member>,
}

impl Watchlist {
    pub(crate) fn is_member(&self, actor_id: &str) -> bool {
        self.included.iter().any(|m| m.actor_id == actor_id)
            && !self.excluded.iter().any(|m| m.actor_id == actor_id)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct SessionRecord {
    pub session: Session,
    pub events: Vec<Value>,
}

/// Incydr state.
pub(crate) struct IncydrState {
    pub signing_key: Vec<u8>,
    pub token_generation: u64,
    pub sessions: Vec<SessionRecord>,
    pub actors: Vec<Actor>,
    pub users: Vec<User>,
    pub watchlists: Vec<Watchlist>,
    pub reorder_moves: Vec<String>,
    pub reorder_rng: StdRng,
}

impl IncydrState {
    pub(crate) fn new() -> IncydrState {
        IncydrState {
            signing_key: uuid::Uuid::new_v4().as_bytes().to_vec(),
            token_generation: 0,
            sessions: Vec::new(),
            actors: Vec::new(),
            users: Vec::new(),
            watchlists: Vec::new(),
            reorder_moves: Vec::new(),
            reorder_rng: StdRng::seed_from_u64(42),
        }
    }

    pub(crate) fn actor(&self, id: &str) -> Option<&Actor> {
        self.actors.iter().find(|a| a.actor_id == id)
    }

    pub(crate) fn actor_by_name(&self, name: &str) -> Option<&Actor> {
        self.actors
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| {
                self.actors.iter().find(|a| {
                    a.alternate_names
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(name))
                })
            })
    }

    pub(crate) fn parent_of<'a>(&'a self, a: &'a Actor) -> &'a Actor {
        a.parent_actor_id
            .as_deref()
            .and_then(|p| self.actor(p))
            .unwrap_or(a)
    }

    pub(crate) fn children_of(&self, parent_id: &str) -> Vec<Actor> {
        self.actors
            .iter()
            .filter(|a| a.parent_actor_id.as_deref() == Some(parent_id))
            .cloned()
            .collect()
    }

    pub(crate) fn actor_name(&self, id: &str) -> String {
        self.actor(id).map(|a| a.name.clone()).unwrap_or_default()
    }

    pub(crate) fn seed_session(&mut self, ids: &mut IdGen, seed: SessionSeed) -> String {
        let mut session = seed.session;
        if session.session_id.is_empty() {
            session.session_id = ids.uuid("session");
        }
        if session.tenant_id.is_none() {
            session.tenant_id = Some(TENANT_ID.to_string());
        }
        let now = util::now_ms();
        if session.begin_time == 0 {
            session.begin_time = now - 3_600_000;
        }
        if session.end_time == 0 {
            session.end_time = session.begin_time;
        }
        if session.first_observed == 0 {
            session.first_observed = session.begin_time;
        }
        if session.last_updated == 0 {
            session.last_updated = session.end_time;
        }
        if session.session_type.is_none() {
            session.session_type = Some("STANDARD".to_string());
        }
        if session.actor_name.is_none() {
            session.actor_name = self.actor(&session.actor_id).map(|a| a.name.clone());
        }
        if session.states.is_empty() {
            session.states.push(StateEntry {
                state: "OPEN".to_string(),
                state_v2: Some("OPEN".to_string()),
                source_timestamp: session.first_observed,
                user_id: None,
            });
        }
        for st in &mut session.states {
            if st.state_v2.is_none() {
                st.state_v2 = Some(st.state.clone());
            }
        }
        for a in &mut session.triggered_alerts {
            if a.alert_id.is_empty() {
                a.alert_id = ids.uuid("alert");
            }
        }
        let id = session.session_id.clone();
        self.sessions.retain(|r| r.session.session_id != id);
        self.sessions.push(SessionRecord {
            session,
            events: seed.events,
        });
        id
    }

    pub(crate) fn seed_actor(&mut self, ids: &mut IdGen, mut actor: Actor) -> String {
        if actor.actor_id.is_empty() {
            actor.actor_id = ids.uuid("actor");
        }
        let id = actor.actor_id.clone();
        self.actors.retain(|a| a.actor_id != id);
        self.actors.push(actor);
        id
    }

    pub(crate) fn seed_user(&mut self, ids: &mut IdGen, mut user: User) -> String {
        if user.user_id.is_empty() {
            user.user_id = ids.hex32("user")[..18].to_string();
        }
        if user.legacy_user_id.is_empty() {
            user.legacy_user_id = format!("{}", 900_000 + self.users.len());
        }
        if user.org_id.is_empty() {
            user.org_id = "1000000".to_string();
            user.legacy_org_id = "2000".to_string();
            user.org_guid = "sandbox-org-guid".to_string();
            user.org_name = "Sandbox Org".to_string();
        }
        if user.creation_date.is_empty() {
            user.creation_date = "2022-07-14T16:49:11.166000Z".to_string();
        }
        if user.modification_date.is_empty() {
            user.modification_date = user.creation_date.clone();
        }
        let id = user.user_id.clone();
        self.users.retain(|u| u.user_id != id);
        self.users.push(user);
        id
    }

    pub(crate) fn seed_watchlist(&mut self, ids: &mut IdGen, seed: WatchlistSeed) -> String {
        let id = seed
            .watchlist_id
            .clone()
            .unwrap_or_else(|| ids.uuid("watchlist"));
        let added = util::iso_micros(Timestamp::now());
        let included = seed
            .included_actors
            .iter()
            .map(|a| {
                let actor_id = self
                    .actor(a)
                    .or_else(|| self.actor_by_name(a))
                    .map(|x| x.actor_id.clone())
                    .unwrap_or_else(|| a.clone());
                Member {
                    actor_id,
                    added_time: added.clone(),
                }
            })
            .collect();
        self.watchlists.retain(|w| w.id != id);
        self.watchlists.push(Watchlist {
            id: id.clone(),
            list_type: seed.list_type,
            title: seed.title,
            description: seed.description,
            included,
            excluded: Vec::new(),
        });
        id
    }

    pub(crate) fn touch_session(
        &mut self,
        ids: &mut IdGen,
        id: &str,
        t: TouchSession,
    ) -> Option<Session> {
        let alert_id = ids.uuid("alert");
        let rec = self
            .sessions
            .iter_mut()
            .find(|r| r.session.session_id == id)?;
        let now = util::now_ms().max(rec.session.last_updated + 1);
        let sess = &mut rec.session;
        sess.last_updated = now;
        sess.end_time = sess.end_time.max(now);
        if let Some(mut a) = t.add_alert {
            if a.alert_id.is_empty() {
                a.alert_id = alert_id;
            }
            sess.triggered_alerts.push(a);
        }
        if let Some(sev) = t.severity {
            sess.scores.push(Score {
                score: t.score.unwrap_or(sev * 10),
                severity: sev,
                source_timestamp: now,
            });
            match sev {
                0 => sess.no_risk_events += 1,
                1 => sess.low_events += 1,
                2 => sess.moderate_events += 1,
                3 => sess.high_events += 1,
                _ => sess.critical_events += 1,
            }
        }
        if let Some(ev) = t.add_event {
            rec.events.push(ev);
        }
        let state = t.state.unwrap_or_else(|| "OPEN_NEW_DATA".to_string());
        rec.session.states.push(StateEntry {
            state: state.clone(),
            state_v2: Some(state),
            source_timestamp: now,
            user_id: None,
        });
        Some(rec.session.clone())
    }
}

/// What `POST /_control/incydr/sessions/{id}/touch` does to a session.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TouchSession {
    /// Add an alert with this rule (id, name).
    pub add_alert: Option<TriggeredAlert>,
    /// Add a score entry with this severity (0..4).
    pub severity: Option<i64>,
    /// Score for the new entry (default 10 × severity).
    pub score: Option<i64>,
    /// Add this file event.
    pub add_event: Option<Value>,
    /// New state (default `OPEN_NEW_DATA`).
    pub state: Option<String>,
}

/// One actor on a watchlist.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WatchlistMemberView {
    /// Watchlist id.
    pub watchlist_id: String,
    /// `DEPARTING_EMPLOYEE`, ...
    pub list_type: String,
    /// Title.
    pub title: Option<String>,
    /// Actor id.
    pub actor_id: String,
    /// Actor name.
    pub actor_name: String,
    /// ISO time.
    pub added_time: String,
}

/// A watchlist summary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WatchlistView {
    /// Id.
    pub watchlist_id: String,
    /// Type.
    pub list_type: String,
    /// Title.
    pub title: Option<String>,
}

/// An actor's dates and notes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActorDatesView {
    /// Actor id.
    pub actor_id: String,
    /// Name.
    pub name: String,
    /// Start date.
    pub start_date: Option<String>,
    /// End date (departure).
    pub end_date: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// Notes on one Incydr session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionNotesView {
    /// Session id.
    pub session_id: String,
    /// Notes.
    pub notes: Vec<Note>,
}

/// Current state of one Incydr session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionStateView {
    /// Session id.
    pub session_id: String,
    /// Current state.
    pub state: String,
    /// `lastUpdated`.
    pub last_updated: i64,
}

impl IncydrState {
    /// Every watchlist.
    pub(crate) fn watchlist_views(&self) -> Vec<WatchlistView> {
        self.watchlists
            .iter()
            .map(|w| WatchlistView {
                watchlist_id: w.id.clone(),
                list_type: w.list_type.clone(),
                title: w.title.clone(),
            })
            .collect()
    }

    /// The included actors of every watchlist.
    pub(crate) fn watchlist_member_views(&self) -> Vec<WatchlistMemberView> {
        self.watchlists
            .iter()
            .flat_map(|w| {
                w.included.iter().map(|m| WatchlistMemberView {
                    watchlist_id: w.id.clone(),
                    list_type: w.list_type.clone(),
                    title: w.title.clone(),
                    actor_id: m.actor_id.clone(),
                    actor_name: self
                        .actor(&m.actor_id)
                        .map(|a| a.name.clone())
                        .unwrap_or_default(),
                    added_time: m.added_time.clone(),
                })
            })
            .collect()
    }

    /// The dates and notes of every actor.
    pub(crate) fn actor_date_views(&self) -> Vec<ActorDatesView> {
        self.actors
            .iter()
            .map(|a| ActorDatesView {
                actor_id: a.actor_id.clone(),
                name: a.name.clone(),
                start_date: a.start_date.clone(),
                end_date: a.end_date.clone(),
                notes: a.notes.clone(),
            })
            .collect()
    }

    /// The notes of every session that has some.
    pub(crate) fn session_notes_views(&self) -> Vec<SessionNotesView> {
        self.sessions
            .iter()
            .filter(|r| !r.session.notes.is_empty())
            .map(|r| SessionNotesView {
                session_id: r.session.session_id.clone(),
                notes: r.session.notes.clone(),
            })
            .collect()
    }

    /// The current state of every session.
    pub(crate) fn session_state_views(&self) -> Vec<SessionStateView> {
        self.sessions
            .iter()
            .map(|r| SessionStateView {
                session_id: r.session.session_id.clone(),
                state: r.session.current_state().to_string(),
                last_updated: r.session.last_updated,
            })
            .collect()
    }
}
