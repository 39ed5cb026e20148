//! Fakes of the ports, for unit tests of each job's decisions: in memory, instant, and recording
//! every call, so a decision is tested in milliseconds without a sandbox or an emulator.

use crate::domain::{AlertSession, ConnectionKind, FileEventSummary, TicketContent, TicketRef};
use crate::ports::{AlertSource, ConnectorError, SessionFilter, TicketSink};
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::Instant;

/// Incydr as a list of sessions the test edits between runs, filtered as the sessions search
/// filters (begin time, state, severity, rule; watchlists are not modelled).
#[derive(Default)]
pub struct FakeAlerts {
    pub sessions: Mutex<Vec<AlertSession>>,
    /// When set, every page read fails with it (after the HTTP layer's retries).
    pub page_error: Mutex<Option<ConnectorError>>,
    /// Sessions every query also returns without a `sessionId`.
    pub without_id: Mutex<usize>,
}

/// An answer with this status to a `GET` of `path`, as the HTTP layer reports it.
pub fn status_error(system: &'static str, path: &str, status: u16) -> ConnectorError {
    ConnectorError::Http(crate::http::HttpError::Status {
        system,
        method: "GET".into(),
        path: path.into(),
        status,
        message: None,
        retry_after: None,
    })
}

impl FakeAlerts {
    /// A session with one alert, begun an hour before `now_ms`.
    pub fn session(id: &str, severity: u8, last_updated: i64) -> AlertSession {
        AlertSession {
            session_id: id.into(),
            actor_id: Some(format!("actor-{id}")),
            actor_name: Some(format!("{id}@example.com")),
            begin_time: Some(last_updated - 3_600_000),
            end_time: Some(last_updated),
            last_updated,
            severity,
            state: Some("OPEN".into()),
            risk_indicators: Vec::new(),
            triggered_alerts: Vec::new(),
            exfiltration_summary: None,
            context_summary: None,
        }
    }

    pub fn put(&self, s: AlertSession) {
        let mut all = self.sessions.lock().unwrap();
        all.retain(|x| x.session_id != s.session_id);
        all.push(s);
    }
}

#[async_trait]
impl AlertSource for FakeAlerts {
    async fn sessions(
        &self,
        filter: &SessionFilter,
        _deadline: Option<Instant>,
    ) -> Result<crate::ports::SessionList, ConnectorError> {
        if let Some(e) = self.page_error.lock().unwrap().clone() {
            return Err(e);
        }
        let sessions = self
            .sessions
            .lock()
            .unwrap()
            .iter()
            .filter(|s| {
                let began = s.begin_time.unwrap_or(0);
                filter.on_or_after.is_none_or(|t| began >= t)
                    && filter.before.is_none_or(|t| began < t)
                    && (filter.states.is_empty()
                        || s.state
                            .as_ref()
                            .is_some_and(|st| filter.states.contains(st)))
                    && (filter.severities.is_empty() || filter.severities.contains(&s.severity))
                    && (filter.rule_ids.is_empty()
                        || s.triggered_alerts
                            .iter()
                            .any(|a| filter.rule_ids.contains(&a.rule_id)))
            })
            .cloned()
            .collect();
        Ok(crate::ports::SessionList {
            sessions,
            without_id: *self.without_id.lock().unwrap(),
        })
    }

    async fn file_events(
        &self,
        _session_id: &str,
        _limit: usize,
        _deadline: Option<Instant>,
    ) -> Result<Vec<FileEventSummary>, ConnectorError> {
        Ok(Vec::new())
    }

    async fn add_note(
        &self,
        _session_id: &str,
        _text: &str,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn session_link(&self, session_id: &str) -> Option<String> {
        Some(format!("https://console.example/sessions/{session_id}"))
    }
}

/// A ticket system recording what was created and commented: ServiceNow with a consistent
/// search unless built with [`FakeSink::lagging`].
#[derive(Default)]
pub struct FakeSink {
    /// (dedup key, ticket) of every ticket created.
    pub created: Mutex<Vec<(String, TicketRef)>>,
    /// Keys of the tickets commented, one entry per comment.
    pub comments: Mutex<Vec<String>>,
    /// (ticket key, text) of every comment.
    pub comment_texts: Mutex<Vec<(String, String)>>,
    /// When set, comments are stored and then answered with it (a lost answer).
    pub comment_error: Mutex<Option<ConnectorError>>,
    /// Jira-like: search lags this long behind a create (0: ServiceNow-like, consistent).
    pub horizon_ms: i64,
    /// When set, creates fail with it without creating anything.
    pub create_error: Mutex<Option<ConnectorError>>,
    /// The next create is made and its answer lost (the caller sees a 502).
    pub lose_next_create_answer: std::sync::atomic::AtomicBool,
}

impl FakeSink {
    /// A Jira whose search lags `horizon_ms` behind a create.
    pub fn lagging(horizon_ms: i64) -> Self {
        FakeSink {
            horizon_ms,
            ..FakeSink::default()
        }
    }

    fn system(&self) -> ConnectionKind {
        if self.horizon_ms > 0 {
            ConnectionKind::Jira
        } else {
            ConnectionKind::Servicenow
        }
    }

    pub fn created_keys(&self) -> Vec<String> {
        self.created
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn comments(&self) -> Vec<String> {
        self.comments.lock().unwrap().clone()
    }
}

#[async_trait]
impl TicketSink for FakeSink {
    fn kind(&self) -> ConnectionKind {
        self.system()
    }

    fn search_horizon_ms(&self) -> i64 {
        self.horizon_ms
    }

    async fn find(
        &self,
        dedup_key: &str,
        _deadline: Option<Instant>,
    ) -> Result<Option<TicketRef>, ConnectorError> {
        Ok(self
            .created
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == dedup_key)
            .map(|(_, t)| t.clone()))
    }

    async fn create(
        &self,
        _content: &TicketContent,
        dedup_key: &str,
        _deadline: Option<Instant>,
    ) -> Result<TicketRef, ConnectorError> {
        if let Some(e) = self.create_error.lock().unwrap().clone() {
            return Err(e);
        }
        let mut created = self.created.lock().unwrap();
        let n = created.len() + 1;
        let t = TicketRef {
            system: self.system(),
            id: format!("sys-{n}"),
            key: format!("INC{n:07}"),
            url: None,
        };
        created.push((dedup_key.to_string(), t.clone()));
        if self
            .lose_next_create_answer
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(status_error("ticket system", "/ticket", 502));
        }
        Ok(t)
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.comments.lock().unwrap().push(ticket.key.clone());
        self.comment_texts
            .lock()
            .unwrap()
            .push((ticket.key.clone(), content.to_plain_text()));
        match self.comment_error.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn has_comment(
        &self,
        ticket: &TicketRef,
        marker: &str,
        _deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        Ok(self
            .comment_texts
            .lock()
            .unwrap()
            .iter()
            .any(|(k, t)| k == &ticket.key && t.contains(marker)))
    }
}

/// Incydr's actors and its Departing watchlist, in memory.
#[derive(Default)]
pub struct FakeWatchlists {
    /// (email, actor id) of the actors Incydr knows.
    pub actors: Mutex<Vec<(String, String)>>,
    /// Actor ids on the Departing watchlist.
    pub departing: Mutex<Vec<String>>,
    /// (actor id, end date) as last set.
    pub end_dates: Mutex<Vec<(String, Option<String>)>>,
    /// Actor ids whose removal from the watchlist fails (as a refused API call would).
    pub failing_excludes: Mutex<Vec<String>>,
    /// Incydr answers 503 to every actor look-up (an outage).
    pub unavailable: std::sync::atomic::AtomicBool,
    /// Actor ids of every removal made, in order (one entry per call that removed).
    pub excluded: Mutex<Vec<String>>,
    /// The next add or removal is made but its answer is lost (the caller sees a timeout).
    pub lose_next_answer: std::sync::atomic::AtomicBool,
}

impl FakeWatchlists {
    /// An actor for `email`, with id `actor-<email>`.
    pub fn with_actor(self, email: &str) -> Self {
        self.actors
            .lock()
            .unwrap()
            .push((email.to_string(), format!("actor-{email}")));
        self
    }

    fn actor(&self, matches: impl Fn(&(String, String)) -> bool) -> Option<crate::ports::ActorRef> {
        self.actors
            .lock()
            .unwrap()
            .iter()
            .find(|a| matches(a))
            .map(|(e, id)| crate::ports::ActorRef {
                id: id.clone(),
                name: e.clone(),
            })
    }

    pub fn on_list(&self, email: &str) -> bool {
        self.departing
            .lock()
            .unwrap()
            .contains(&format!("actor-{email}"))
    }

    /// The answer to a change of the watchlist that was made: lost (a timeout) when
    /// [`Self::lose_next_answer`] is set.
    fn answer(&self, watchlist_id: &str, change: &str) -> Result<(), ConnectorError> {
        if self
            .lose_next_answer
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(crate::http::HttpError::Transport {
                system: "Incydr",
                method: "POST".into(),
                path: format!("/v2/watchlists/{watchlist_id}/included-actors/{change}"),
                kind: crate::http::TransportKind::Timeout,
            }
            .into());
        }
        Ok(())
    }

    pub fn end_date(&self, email: &str) -> Option<String> {
        let id = format!("actor-{email}");
        self.end_dates
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(a, _)| *a == id)
            .and_then(|(_, d)| d.clone())
    }
}

#[async_trait]
impl crate::ports::WatchlistAdmin for FakeWatchlists {
    async fn actor_by_email(
        &self,
        email: &str,
        _deadline: Option<Instant>,
    ) -> Result<Option<crate::ports::ActorRef>, ConnectorError> {
        if self.unavailable.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(crate::http::HttpError::Status {
                system: "Incydr",
                method: "GET".into(),
                path: "/v1/actors/actor".into(),
                status: 503,
                message: None,
                retry_after: None,
            }
            .into());
        }
        Ok(self.actor(|(e, _)| e == email))
    }

    async fn actor_by_id(
        &self,
        actor_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<Option<crate::ports::ActorRef>, ConnectorError> {
        Ok(self.actor(|(_, id)| id == actor_id))
    }

    async fn departing_watchlist(
        &self,
        _create: bool,
        _deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        Ok(Some("wl-departing".into()))
    }

    async fn is_included(
        &self,
        _watchlist_id: &str,
        actor_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        Ok(self.departing.lock().unwrap().iter().any(|a| a == actor_id))
    }

    async fn include(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        {
            let mut l = self.departing.lock().unwrap();
            if !l.iter().any(|a| a == actor_id) {
                l.push(actor_id.to_string());
            }
        }
        self.answer(watchlist_id, "add")
    }

    async fn exclude(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        if self
            .failing_excludes
            .lock()
            .unwrap()
            .iter()
            .any(|a| a == actor_id)
        {
            return Err(ConnectorError::invalid(
                "incydr",
                format!("removing {actor_id} from the watchlist was refused"),
            ));
        }
        self.departing.lock().unwrap().retain(|a| a != actor_id);
        self.excluded.lock().unwrap().push(actor_id.to_string());
        self.answer(watchlist_id, "delete")
    }

    async fn set_end_date(
        &self,
        actor_id: &str,
        date: Option<crate::domain::Date>,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        self.end_dates
            .lock()
            .unwrap()
            .push((actor_id.to_string(), date.map(|d| d.to_string())));
        Ok(())
    }
}

/// Okta as users by login and one group's members, in memory; the token belongs to
/// `token_owner`.
#[derive(Default)]
pub struct FakeIdp {
    pub token_owner: Option<String>,
    /// When set, the token-owner lookup fails with it.
    pub token_owner_error: Mutex<Option<ConnectorError>>,
    /// (login, email, user id), every one active.
    pub users: Mutex<Vec<(String, String, String)>>,
    /// (group id, user id) memberships.
    pub members: Mutex<Vec<(String, String)>>,
    /// Every add, in order: (group id, user id).
    pub adds: Mutex<Vec<(String, String)>>,
    /// When set, an add is applied and then answered with it (a lost answer).
    pub add_error: Mutex<Option<ConnectorError>>,
    /// Every removal, in order: (group id, user id).
    pub removes: Mutex<Vec<(String, String)>>,
    /// When set, a removal is applied and then answered with it (a lost answer).
    pub remove_error: Mutex<Option<ConnectorError>>,
    /// (rule name, group id): active rules that assign users to a group.
    pub rules: Mutex<Vec<(String, String)>>,
}

impl FakeIdp {
    /// A user whose login is their email.
    pub fn with_user(self, login: &str) -> Self {
        self.with_user_email(login, login)
    }

    /// A user with a login and an email (`00u-<login>`).
    pub fn with_user_email(self, login: &str, email: &str) -> Self {
        self.users.lock().unwrap().push((
            login.to_string(),
            email.to_string(),
            format!("00u-{login}"),
        ));
        self
    }

    pub fn adds(&self) -> usize {
        self.adds.lock().unwrap().len()
    }

    /// The user ids added, in order.
    pub fn added_users(&self) -> Vec<String> {
        self.adds
            .lock()
            .unwrap()
            .iter()
            .map(|(_, u)| u.clone())
            .collect()
    }
}

#[async_trait]
impl crate::ports::IdentityProvider for FakeIdp {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Okta
    }

    async fn token_owner(
        &self,
        _deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError> {
        if let Some(e) = self.token_owner_error.lock().unwrap().clone() {
            return Err(e);
        }
        Ok(self.token_owner.clone())
    }

    /// By login first, then by email, as the port says.
    async fn user_by_email(
        &self,
        email: &str,
        _deadline: Option<Instant>,
    ) -> Result<crate::ports::UserLookup, ConnectorError> {
        use crate::ports::{IdpUser, UserLookup};
        let users = self.users.lock().unwrap();
        let user = |(l, _, id): &(String, String, String)| IdpUser {
            id: id.clone(),
            login: l.clone(),
        };
        if let Some(u) = users.iter().find(|(l, _, _)| l.eq_ignore_ascii_case(email)) {
            return Ok(UserLookup::One(user(u)));
        }
        let found: Vec<_> = users
            .iter()
            .filter(|(_, e, _)| e.eq_ignore_ascii_case(email))
            .collect();
        Ok(match found[..] {
            [] => UserLookup::None,
            [u] => UserLookup::One(user(u)),
            _ => UserLookup::Ambiguous {
                matches: found.len(),
            },
        })
    }

    async fn is_member(
        &self,
        group_id: &str,
        user_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        Ok(self
            .members
            .lock()
            .unwrap()
            .iter()
            .any(|(g, u)| g == group_id && u == user_id))
    }

    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let m = (group_id.to_string(), user_id.to_string());
        self.adds.lock().unwrap().push(m.clone());
        let mut members = self.members.lock().unwrap();
        if !members.contains(&m) {
            members.push(m);
        }
        match self.add_error.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        let m = (group_id.to_string(), user_id.to_string());
        self.removes.lock().unwrap().push(m.clone());
        self.members.lock().unwrap().retain(|x| x != &m);
        match self.remove_error.lock().unwrap().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn rules_assigning(
        &self,
        group_id: &str,
        _deadline: Option<Instant>,
    ) -> Result<Vec<String>, ConnectorError> {
        Ok(self
            .rules
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, g)| g == group_id)
            .map(|(n, _)| n.clone())
            .collect())
    }
}
