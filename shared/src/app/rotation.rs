//! A connected system's client that picks up a secret rotated outside riskflow: when the
//! system answers a call with 401, [`Rotating`] reads the connection again past the secret
//! cache ([`super::connection::reload_after_refusal`]), rebuilds the client from the newer
//! credentials and makes that call once more. Once only: a second 401 is the call's answer,
//! and when there is nothing newer to try, the 401 stands without a retry (and later refusals
//! in the run do not read again until something changes).
//!
//! Retrying is safe for every call, creates included, because a 401 means the request was not
//! acted on, and in every port method that writes, the write is its last request (Jira and
//! ServiceNow create and comment, Incydr's note and new watchlist), so a 401 anywhere in it
//! means nothing was written. The retry happens inside the port call, so the step ledger sees
//! one call: one intent before it, one outcome after it, exactly as without a retry.

use super::BuildError;
use crate::connectors::ConnectorError;
use crate::domain::{ConnectionKind, FileEventSummary, TicketContent, TicketRef};
use crate::ports::*;
use async_trait::async_trait;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Rebuild the client after the credentials read at the given secret version were refused:
/// the new client and its secret version, or `None` when there is nothing newer.
pub type Reload<B> = Box<
    dyn Fn(String) -> BoxFuture<'static, Result<Option<(B, String)>, BuildError>> + Send + Sync,
>;

/// An error that may say the credentials were refused.
pub trait Refusal {
    fn credentials_refused(&self) -> bool;
}

impl Refusal for ConnectorError {
    fn credentials_refused(&self) -> bool {
        self.status() == Some(401)
    }
}

impl Refusal for HrLookupError {
    fn credentials_refused(&self) -> bool {
        matches!(self, HrLookupError::Connector(e) if e.credentials_refused())
    }
}

struct Current<B> {
    built: B,
    /// The secret version `built` was made from.
    version: String,
    /// Counts rebuilds, so that calls refused together rebuild once.
    generation: u64,
    /// A reload at this generation found nothing newer: refusals are final until a rebuild.
    exhausted: bool,
}

/// A system's client (`B`, what its settings build: `Arc<JiraSink>`, ...) in the roles it
/// plays, rebuilt once from a fresh secret when a call is refused with 401.
pub struct Rotating<B> {
    current: RwLock<Current<B>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    reload: Reload<B>,
}

impl<B: Clone + Send + Sync> Rotating<B> {
    pub fn new(built: B, version: String, reload: Reload<B>) -> Self {
        Rotating {
            current: RwLock::new(Current {
                built,
                version,
                generation: 0,
                exhausted: false,
            }),
            reloading: tokio::sync::Mutex::new(()),
            reload,
        }
    }

    fn current(&self) -> (B, u64) {
        let c = self.current.read().unwrap_or_else(|e| e.into_inner());
        (c.built.clone(), c.generation)
    }

    /// A client with newer credentials than the one of `generation`, or `None`.
    async fn renewed(&self, generation: u64) -> Option<B> {
        let _one = self.reloading.lock().await;
        let version = {
            let c = self.current.read().unwrap_or_else(|e| e.into_inner());
            if c.generation != generation {
                return Some(c.built.clone()); // renewed by a call refused at the same time
            }
            if c.exhausted {
                return None;
            }
            c.version.clone()
        };
        let reloaded = (self.reload)(version).await;
        let mut c = self.current.write().unwrap_or_else(|e| e.into_inner());
        match reloaded {
            Ok(Some((built, version))) => {
                tracing::info!("credentials refused; retrying with the secret's newer version");
                *c = Current {
                    built: built.clone(),
                    version,
                    generation: c.generation + 1,
                    exhausted: false,
                };
                Some(built)
            }
            Ok(None) => {
                c.exhausted = true;
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "credentials refused; the connection could not be read again");
                c.exhausted = true;
                None
            }
        }
    }

    /// Make a call with the current client; on a 401, once more with renewed credentials.
    pub async fn call<R, E, F, Fut>(&self, f: F) -> Result<R, E>
    where
        E: Refusal,
        F: Fn(B) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let (built, generation) = self.current();
        match f(built).await {
            Err(e) if e.credentials_refused() => match self.renewed(generation).await {
                Some(fresh) => f(fresh).await,
                None => Err(e),
            },
            answer => answer,
        }
    }

    /// The current client, for what makes no call.
    pub fn now(&self) -> B {
        self.current().0
    }
}

type Deadline = Option<Instant>;

#[async_trait]
impl<T: TicketSink + ?Sized> TicketSink for Rotating<Arc<T>> {
    fn kind(&self) -> ConnectionKind {
        self.now().kind()
    }
    fn search_horizon_ms(&self) -> i64 {
        self.now().search_horizon_ms()
    }
    async fn find(&self, key: &str, d: Deadline) -> Result<Option<TicketRef>, ConnectorError> {
        self.call(|s| async move { s.find(key, d).await }).await
    }
    async fn create(
        &self,
        content: &TicketContent,
        key: &str,
        d: Deadline,
    ) -> Result<TicketRef, ConnectorError> {
        self.call(|s| async move { s.create(content, key, d).await })
            .await
    }
    async fn comment(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
        d: Deadline,
    ) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.comment(ticket, content, d).await })
            .await
    }
    async fn has_comment(
        &self,
        ticket: &TicketRef,
        marker: &str,
        d: Deadline,
    ) -> Result<bool, ConnectorError> {
        self.call(|s| async move { s.has_comment(ticket, marker, d).await })
            .await
    }
}

#[async_trait]
impl<T: AlertSource + ?Sized> AlertSource for Rotating<Arc<T>> {
    async fn sessions(
        &self,
        filter: &SessionFilter,
        d: Deadline,
    ) -> Result<crate::ports::SessionList, ConnectorError> {
        self.call(|s| async move { s.sessions(filter, d).await })
            .await
    }
    async fn file_events(
        &self,
        session_id: &str,
        limit: usize,
        d: Deadline,
    ) -> Result<Vec<FileEventSummary>, ConnectorError> {
        self.call(|s| async move { s.file_events(session_id, limit, d).await })
            .await
    }
    async fn add_note(
        &self,
        session_id: &str,
        text: &str,
        d: Deadline,
    ) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.add_note(session_id, text, d).await })
            .await
    }
    fn session_link(&self, session_id: &str) -> Option<String> {
        self.now().session_link(session_id)
    }
}

#[async_trait]
impl<T: WatchlistAdmin + ?Sized> WatchlistAdmin for Rotating<Arc<T>> {
    async fn actor_by_email(
        &self,
        email: &str,
        d: Deadline,
    ) -> Result<Option<ActorRef>, ConnectorError> {
        self.call(|s| async move { s.actor_by_email(email, d).await })
            .await
    }
    async fn actor_by_id(&self, id: &str, d: Deadline) -> Result<Option<ActorRef>, ConnectorError> {
        self.call(|s| async move { s.actor_by_id(id, d).await })
            .await
    }
    async fn departing_watchlist(
        &self,
        create: bool,
        d: Deadline,
    ) -> Result<Option<String>, ConnectorError> {
        self.call(|s| async move { s.departing_watchlist(create, d).await })
            .await
    }
    async fn is_included(
        &self,
        list: &str,
        actor: &str,
        d: Deadline,
    ) -> Result<bool, ConnectorError> {
        self.call(|s| async move { s.is_included(list, actor, d).await })
            .await
    }
    async fn include(&self, list: &str, actor: &str, d: Deadline) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.include(list, actor, d).await })
            .await
    }
    async fn exclude(&self, list: &str, actor: &str, d: Deadline) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.exclude(list, actor, d).await })
            .await
    }
    async fn set_end_date(
        &self,
        actor: &str,
        date: Option<crate::domain::Date>,
        d: Deadline,
    ) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.set_end_date(actor, date, d).await })
            .await
    }
}

#[async_trait]
impl<T: crate::ports::TicketChanges + ?Sized> crate::ports::TicketChanges for Rotating<Arc<T>> {
    fn kind(&self) -> ConnectionKind {
        self.now().kind()
    }
    fn lag_ms(&self) -> i64 {
        self.now().lag_ms()
    }
    async fn changed_within(
        &self,
        window_ms: i64,
        prefix: &str,
        d: Deadline,
    ) -> Result<Vec<crate::ports::TicketState>, ConnectorError> {
        self.call(|s| async move { s.changed_within(window_ms, prefix, d).await })
            .await
    }
}

#[async_trait]
impl<T: crate::ports::SessionStates + ?Sized> crate::ports::SessionStates for Rotating<Arc<T>> {
    async fn session_now(
        &self,
        id: &str,
        d: Deadline,
    ) -> Result<Option<crate::ports::SessionNow>, ConnectorError> {
        self.call(|s| async move { s.session_now(id, d).await })
            .await
    }
    async fn change_state(
        &self,
        ids: &[String],
        state: &str,
        d: Deadline,
    ) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.change_state(ids, state, d).await })
            .await
    }
    async fn add_note(&self, id: &str, text: &str, d: Deadline) -> Result<(), ConnectorError> {
        self.call(|s| async move { crate::ports::SessionStates::add_note(&*s, id, text, d).await })
            .await
    }
}

#[async_trait]
impl<T: IdentityProvider + ?Sized> IdentityProvider for Rotating<Arc<T>> {
    fn kind(&self) -> ConnectionKind {
        self.now().kind()
    }
    async fn token_owner(&self, d: Deadline) -> Result<Option<String>, ConnectorError> {
        self.call(|s| async move { s.token_owner(d).await }).await
    }
    async fn user_by_email(&self, email: &str, d: Deadline) -> Result<UserLookup, ConnectorError> {
        self.call(|s| async move { s.user_by_email(email, d).await })
            .await
    }
    async fn is_member(
        &self,
        group: &str,
        user: &str,
        d: Deadline,
    ) -> Result<bool, ConnectorError> {
        self.call(|s| async move { s.is_member(group, user, d).await })
            .await
    }
    async fn add_member(&self, group: &str, user: &str, d: Deadline) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.add_member(group, user, d).await })
            .await
    }
    async fn remove_member(
        &self,
        group: &str,
        user: &str,
        d: Deadline,
    ) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.remove_member(group, user, d).await })
            .await
    }
    async fn rules_assigning(
        &self,
        group: &str,
        d: Deadline,
    ) -> Result<Vec<String>, ConnectorError> {
        self.call(|s| async move { s.rules_assigning(group, d).await })
            .await
    }
}

#[async_trait]
impl<T: HrDirectory + ?Sized> HrDirectory for Rotating<Arc<T>> {
    async fn departure(
        &self,
        change: &RecordedHrChange,
        today: crate::domain::Date,
        d: Deadline,
    ) -> Result<Option<crate::domain::Departure>, HrLookupError> {
        self.call(|s| async move { s.departure(change, today, d).await })
            .await
    }
}

#[async_trait]
impl<T: HrQueue + ?Sized> HrQueue for Rotating<Arc<T>> {
    async fn next(&self, d: Deadline) -> Result<Option<QueueMessage>, ConnectorError> {
        self.call(|s| async move { s.next(d).await }).await
    }
    async fn ack(&self, id: &str, d: Deadline) -> Result<(), ConnectorError> {
        self.call(|s| async move { s.ack(id, d).await }).await
    }
    fn interpret(&self, msg: &QueueMessage, now_ms: i64) -> QueueEvent {
        self.now().interpret(msg, now_ms)
    }
}

#[async_trait]
impl<T: HrReport + ?Sized> HrReport for Rotating<Arc<T>> {
    async fn fetch(&self, d: Deadline) -> Result<crate::ports::ReportAnswer, ConnectorError> {
        self.call(|s| async move { s.fetch(d).await }).await
    }
    fn changes(
        &self,
        previous: Option<&[serde_json::Value]>,
        answer: &crate::ports::ReportAnswer,
        today: crate::domain::Date,
        now_ms: i64,
    ) -> Result<crate::ports::ReportChanges, ConnectorError> {
        self.now().changes(previous, answer, today, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A system that accepts only the credentials of one version.
    struct Fake {
        version: String,
        accepts: Arc<RwLock<String>>,
        calls: Arc<AtomicUsize>,
    }

    impl Fake {
        async fn ping(&self) -> Result<(), ConnectorError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await; // an answer takes a while: calls overlap
            if *self.accepts.read().unwrap() == self.version {
                return Ok(());
            }
            Err(HttpError::Status {
                system: "fake",
                method: "POST".into(),
                path: "/x".into(),
                status: 401,
                message: None,
                retry_after: None,
            }
            .into())
        }
    }

    /// A rotating fake whose store holds `stored` (the newest version the reload finds).
    fn rotating(
        stored: Arc<RwLock<String>>,
        accepts: Arc<RwLock<String>>,
        calls: Arc<AtomicUsize>,
        reloads: Arc<AtomicUsize>,
    ) -> Rotating<Arc<Fake>> {
        let fake = move |version: String| Fake {
            version,
            accepts: accepts.clone(),
            calls: calls.clone(),
        };
        let first = Arc::new(fake("v1".into()));
        let make = fake.clone();
        let reload: Reload<Arc<Fake>> = Box::new(move |refused: String| {
            reloads.fetch_add(1, Ordering::SeqCst);
            let newest = stored.read().unwrap().clone();
            let built = (newest != refused).then(|| (Arc::new(make(newest.clone())), newest));
            Box::pin(async move { Ok(built) })
        });
        Rotating::new(first, "v1".into(), reload)
    }

    fn shared(s: &str) -> Arc<RwLock<String>> {
        Arc::new(RwLock::new(s.to_string()))
    }

    #[tokio::test]
    async fn a_refused_call_is_made_once_more_with_the_rotated_secret() {
        let (calls, reloads) = (Arc::default(), Arc::default());
        let r = rotating(
            shared("v2"),
            shared("v2"),
            Arc::clone(&calls),
            Arc::clone(&reloads),
        );
        r.call(|s| async move { s.ping().await }).await.unwrap();
        assert_eq!(
            (calls.load(Ordering::SeqCst), reloads.load(Ordering::SeqCst)),
            (2, 1)
        );
        // The renewed client stays: the next call goes through at once.
        r.call(|s| async move { s.ping().await }).await.unwrap();
        assert_eq!(
            (calls.load(Ordering::SeqCst), reloads.load(Ordering::SeqCst)),
            (3, 1)
        );
    }

    #[tokio::test]
    async fn a_second_401_is_the_answer_and_nothing_newer_means_no_retry() {
        let (calls, reloads) = (Arc::default(), Arc::default());
        // The store has v2, but the system accepts neither: one retry, then the 401.
        let r = rotating(
            shared("v2"),
            shared("v3"),
            Arc::clone(&calls),
            Arc::clone(&reloads),
        );
        let err = r.call(|s| async move { s.ping().await }).await.unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert_eq!(
            (calls.load(Ordering::SeqCst), reloads.load(Ordering::SeqCst)),
            (2, 1)
        );
        // Now nothing newer is stored: the next refusal reads once, then no more.
        for _ in 0..3 {
            let err = r.call(|s| async move { s.ping().await }).await.unwrap_err();
            assert_eq!(err.status(), Some(401));
        }
        assert_eq!(
            (calls.load(Ordering::SeqCst), reloads.load(Ordering::SeqCst)),
            (5, 2)
        );
    }

    #[tokio::test]
    async fn calls_refused_together_reload_once() {
        let (calls, reloads) = (Arc::default(), Arc::default());
        let r = rotating(
            shared("v2"),
            shared("v2"),
            Arc::clone(&calls),
            Arc::clone(&reloads),
        );
        let all = (0..8).map(|_| r.call(|s| async move { s.ping().await }));
        for answer in futures::future::join_all(all).await {
            answer.unwrap();
        }
        assert_eq!(reloads.load(Ordering::SeqCst), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 16);
    }
}
