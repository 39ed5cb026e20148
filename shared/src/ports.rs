//! The roles the flows need from outside systems, as small traits, and the error every
//! connector call answers with. Below the connectors: a connector implements a role, a flow
//! uses it (each connector's folder has its role: `incydr/alerts.rs`, `jira/sink.rs`,
//! `okta/idp.rs`, ...); unit tests use fakes.

use crate::domain::{AlertSession, FileEventSummary, TicketContent, TicketRef};
use crate::http::HttpError;
use async_trait::async_trait;
use std::time::Instant;

/// Errors of a connector call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The request or the settings are not acceptable (message for a person).
    #[error("{system}: {message}")]
    Invalid {
        system: &'static str,
        message: String,
    },
}

impl ConnectorError {
    pub fn invalid(system: &'static str, message: impl Into<String>) -> Self {
        ConnectorError::Invalid {
            system,
            message: message.into(),
        }
    }

    /// Whether the same call may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::Http(e) if e.is_transient())
    }

    /// Whether a creating call may have been acted on although it failed.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ConnectorError::Http(e) if e.outcome_unknown())
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Http(e) => e.status(),
            ConnectorError::Invalid { .. } => None,
        }
    }
}

/// A connected system's live check for the connect route: "Connected to … as …", or why not,
/// in the vendor's terms (each connector's `verify.rs`).
#[async_trait]
pub trait LiveCheck: Send + Sync {
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure>;

    /// The same check, with what it learned about the system that runs need (stored with the
    /// connection, see [`Verified::facts`]). Most systems learn nothing.
    async fn verify_and_learn(&self, deadline: Option<Instant>) -> Result<Verified, VerifyFailure> {
        self.verify_connection(deadline).await.map(Verified::from)
    }
}

#[async_trait]
impl<T: LiveCheck + ?Sized> LiveCheck for std::sync::Arc<T> {
    async fn verify_connection(&self, deadline: Option<Instant>) -> Result<String, VerifyFailure> {
        (**self).verify_connection(deadline).await
    }

    async fn verify_and_learn(&self, deadline: Option<Instant>) -> Result<Verified, VerifyFailure> {
        (**self).verify_and_learn(deadline).await
    }
}

/// A verification that succeeded: the message a person reads, and the facts about the system
/// it read that runs need (e.g. the ids a ticket is created with). The facts are stored with
/// the connection (no secret in them) and replaced by every successful verification, so a run
/// does not read them again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verified {
    pub message: String,
    pub facts: serde_json::Map<String, serde_json::Value>,
}

impl From<String> for Verified {
    fn from(message: String) -> Verified {
        Verified {
            message,
            facts: serde_json::Map::new(),
        }
    }
}

/// Why a live verification of a connection failed: the status to answer and a message a person
/// can act on. Each connector's `verify.rs` says it in its vendor's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyFailure {
    pub status: http::StatusCode,
    pub message: String,
}

impl VerifyFailure {
    /// The settings or credentials cannot be right as given (400).
    pub fn bad(message: impl Into<String>) -> VerifyFailure {
        VerifyFailure {
            status: http::StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// What `system` (its short name, e.g. "Jira") answered, in words: 400 for a refusal, 502
    /// when it could not be asked.
    pub fn from_connector(system: &str, e: &ConnectorError) -> VerifyFailure {
        let message = match e {
            ConnectorError::Http(h) => match h.status() {
                Some(401) => format!("{system} rejected the credentials (401)"),
                Some(403) => format!("{system} refused access with these credentials (403)"),
                Some(404) => format!("{system} answered 404: check the URL and the settings"),
                Some(s) => format!("{system} answered {s}: {h}"),
                None => match h {
                    HttpError::Blocked { reason, .. } => reason.to_string(),
                    _ => format!("{system} could not be reached: {h}"),
                },
            },
            ConnectorError::Invalid { message, .. } => message.clone(),
        };
        let status = match e {
            ConnectorError::Http(h) if h.is_transient() => http::StatusCode::BAD_GATEWAY,
            _ => http::StatusCode::BAD_REQUEST,
        };
        VerifyFailure { status, message }
    }

    /// Whether the check could not reach a verdict (the system answered 5xx or 429, or not in
    /// time): the credentials and settings may well be right.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.status,
            http::StatusCode::BAD_GATEWAY
                | http::StatusCode::SERVICE_UNAVAILABLE
                | http::StatusCode::GATEWAY_TIMEOUT
        )
    }
}

/// The sessions a query returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionList {
    pub sessions: Vec<AlertSession>,
    /// Sessions returned without a `sessionId`: nothing can be recorded about them, so they are
    /// not acted on; the run counts and reports them.
    pub without_id: usize,
}

/// Which sessions to read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFilter {
    /// Sessions that began at or after (epoch ms).
    pub on_or_after: Option<i64>,
    /// Sessions that began before (epoch ms).
    pub before: Option<i64>,
    /// Only these current states (empty: any).
    pub states: Vec<String>,
    /// Only these severities (empty: any).
    pub severities: Vec<u8>,
    pub rule_ids: Vec<String>,
    pub watchlist_ids: Vec<String>,
}

/// Incydr sessions with alerts.
#[async_trait]
pub trait AlertSource: Send + Sync {
    /// Every session with alerts that matches, all pages.
    async fn sessions(
        &self,
        filter: &SessionFilter,
        deadline: Option<Instant>,
    ) -> Result<SessionList, ConnectorError>;
    /// The first `limit` file events of a session.
    async fn file_events(
        &self,
        session_id: &str,
        limit: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<FileEventSummary>, ConnectorError>;
    /// Add a note to a session (≤ 2000 characters).
    async fn add_note(
        &self,
        session_id: &str,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    /// The link to a session in the console.
    fn session_link(&self, session_id: &str) -> Option<String>;
}

/// A session as it is now, for state-sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionNow {
    /// The current state (`stateV2` of the latest history entry), e.g. `OPEN`, `CLOSED_FP`.
    pub state: String,
    /// When it last gained data or changed (epoch ms).
    pub last_updated: i64,
    /// The text of every note on it.
    pub notes: Vec<String>,
}

/// Reading and changing a session's triage state (state-sync).
#[async_trait]
pub trait SessionStates: Send + Sync {
    /// The session now; `None` when Incydr does not know it.
    async fn session_now(
        &self,
        session_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<SessionNow>, ConnectorError>;
    /// Set every one of `session_ids` to `state` (requests of at most 100 ids).
    async fn change_state(
        &self,
        session_ids: &[String],
        state: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    /// Add a note to a session (≤ 2000 characters).
    async fn add_note(
        &self,
        session_id: &str,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
}

/// A ticket riskflow opened, as its system shows it now (state-sync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    /// Jira issue key, ServiceNow incident number.
    pub key: String,
    pub url: Option<String>,
    /// The dedup key riskflow gave it (Jira label, ServiceNow `correlation_id`): it names the
    /// job that opened it and the session.
    pub dedup_key: String,
    /// Resolved or closed (Jira: status category done; ServiceNow: Resolved or Closed).
    pub closed: bool,
    /// What the analyst's classification is called there: Jira's resolution (else the status
    /// name), ServiceNow's `close_code`.
    pub resolution: Option<String>,
    /// The status as the system names it.
    pub status: String,
    /// When it last changed (epoch ms), and by whom when the system says.
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// The tickets riskflow opened that changed recently (state-sync reads them).
#[async_trait]
pub trait TicketChanges: Send + Sync {
    fn kind(&self) -> crate::domain::ConnectionKind;
    /// How long a change may take to show in [`TicketChanges::changed_within`] (Jira's search
    /// lags; ServiceNow's does not): each pass reads again from this far before the last one.
    fn lag_ms(&self) -> i64;
    /// riskflow's tickets (dedup keys starting with `key_prefix`) changed in the last
    /// `window_ms` by the system's own clock, every page, oldest first.
    async fn changed_within(
        &self,
        window_ms: i64,
        key_prefix: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<TicketState>, ConnectorError>;
}

/// An Incydr actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRef {
    pub id: String,
    pub name: String,
}

/// Incydr's Departing watchlist and actor end dates.
#[async_trait]
pub trait WatchlistAdmin: Send + Sync {
    async fn actor_by_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<ActorRef>, ConnectorError>;
    async fn actor_by_id(
        &self,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<ActorRef>, ConnectorError>;
    /// The Departing watchlist's id, creating the list when it does not exist (unless `create` is false).
    async fn departing_watchlist(
        &self,
        create: bool,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError>;
    async fn is_included(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError>;
    async fn include(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    async fn exclude(
        &self,
        watchlist_id: &str,
        actor_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    /// Set (`Some("YYYY-MM-DD")`) or clear (`None`) the actor's end date.
    async fn set_end_date(
        &self,
        actor_id: &str,
        date: Option<crate::domain::Date>,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
}

/// Where tickets are opened (Jira, ServiceNow).
#[async_trait]
pub trait TicketSink: Send + Sync {
    /// Which ticket system this is (its steps on a work item are keyed by it).
    fn kind(&self) -> crate::domain::ConnectionKind;
    /// How long after a create [`TicketSink::find`] may still miss the ticket (0: it sees it
    /// at once, as ServiceNow's table query does; Jira's search lags, by a per-connection
    /// setting). A create whose answer was lost waits this long before it is tried again.
    fn search_horizon_ms(&self) -> i64;
    /// The ticket carrying `dedup_key` (Jira label / ServiceNow correlation_id), if any.
    async fn find(
        &self,
        dedup_key: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<TicketRef>, ConnectorError>;
    /// Open a ticket carrying `dedup_key`. Never retried blindly by the sink.
    async fn create(
        &self,
        content: &TicketContent,
        dedup_key: &str,
        deadline: Option<Instant>,
    ) -> Result<TicketRef, ConnectorError>;
    /// Add a comment to an existing ticket.
    async fn comment(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    /// Whether a comment of the ticket holds `marker` (written into a comment's text by the
    /// flow): how a comment whose answer was lost is found again instead of repeated. `marker`
    /// is made of `[A-Za-z0-9._-]` only.
    async fn has_comment(
        &self,
        ticket: &TicketRef,
        marker: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError>;
}

/// An identity-provider user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpUser {
    pub id: String,
    pub login: String,
}

/// Who answers to an email address in the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    /// Exactly one account: the one whose login is the address, or else the one active
    /// account whose email is.
    One(IdpUser),
    /// No account.
    None,
    /// Several active accounts carry the address and none has it as login: none is chosen.
    Ambiguous { matches: usize },
}

/// The identity provider (Okta today) for containment.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Which identity provider this is (its containment step on a work item is keyed by it).
    fn kind(&self) -> crate::domain::ConnectionKind;
    /// The login of the account the credentials act as (never touched); `None` when no
    /// account stands behind them (a service app).
    async fn token_owner(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Option<String>, ConnectorError>;
    /// The account of the person with this email: by login first, then by email (an address
    /// the provider cannot search for is refused before any request).
    async fn user_by_email(
        &self,
        email: &str,
        deadline: Option<Instant>,
    ) -> Result<UserLookup, ConnectorError>;
    async fn is_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError>;
    /// Add a user to a group (idempotent on the server: a member stays one member).
    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    /// Take a user out of a group (idempotent on the server: a non-member stays one).
    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        deadline: Option<Instant>,
    ) -> Result<(), ConnectorError>;
    /// The names of the provider's active rules that put users into this group automatically.
    /// A membership such a rule made is never removed by riskflow (Okta would put the person
    /// on the rule's exclusion list), so while any exists an undo reports and leaves it.
    async fn rules_assigning(
        &self,
        group_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, ConnectorError>;
}

pub use crate::domain::RecordedHrChange;

/// Why a recorded change did not become a fact.
#[derive(Debug, thiserror::Error)]
pub enum HrLookupError {
    /// The HR system could not be asked: a later attempt may succeed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    /// The answer makes the change unusable (no such employee, no email, no date): retrying
    /// does not help. The message names the employee and what is missing.
    #[error("{0}")]
    Unusable(String),
    /// The only email the HR system gave for the person is not an address (counted by the
    /// run as `hr_emails_not_addresses`). The message names the employee and the value.
    #[error("{0}")]
    NotAnAddress(String),
}

/// An HR system that is asked about the employee a recorded change names (BambooHR by
/// employee id, ADP by associate OID). The rule that decides departure, cancellation or
/// nothing is the connector's, never the flow's.
#[async_trait]
pub trait HrDirectory: Send + Sync {
    /// The fact `change` amounts to, by the HR system's rule (`None`: neither a departure nor a
    /// cancellation). `today` is the UTC date.
    async fn departure(
        &self,
        change: &RecordedHrChange,
        today: crate::domain::Date,
        deadline: Option<Instant>,
    ) -> Result<Option<crate::domain::Departure>, HrLookupError>;
}

/// One message of a pull queue (ADP event notifications).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// What acknowledging deletes; `None` when the vendor sent none (ADP's `adp-msg-msgid`
    /// missing): such a message cannot be deleted and blocks the queue until the vendor removes
    /// it.
    pub id: Option<String>,
    pub body: String,
}

impl QueueMessage {
    /// The message id, or a stand-in derived from the body for one that has none.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(self.body.as_bytes()))
            ),
        }
    }
}

/// What a queue message is, by the vendor's reading of it.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueEvent {
    /// HR work to record under `dedup_id` (the vendor's event id); `what` says it in a plan.
    Work {
        dedup_id: String,
        work: crate::domain::HrWork,
        what: String,
        /// The event time as the message gave it, when it lay in the future and was clamped
        /// ([`crate::connectors::hr::pulled_event_time`]); recorded in the run.
        clamped_from: Option<i64>,
    },
    /// Nothing for riskflow (another event, an unreadable body): recorded as ignored, with why.
    Ignored { dedup_id: String, reason: String },
}

/// A pull queue that must be drained and acknowledged message by message.
#[async_trait]
pub trait HrQueue: Send + Sync {
    async fn next(&self, deadline: Option<Instant>)
    -> Result<Option<QueueMessage>, ConnectorError>;
    async fn ack(&self, id: &str, deadline: Option<Instant>) -> Result<(), ConnectorError>;
    /// What a message read at `now_ms` is (never fails: an unreadable one is
    /// [`QueueEvent::Ignored`], so it is recorded and acknowledged and never blocks the queue).
    fn interpret(&self, msg: &QueueMessage, now_ms: i64) -> QueueEvent;
}

/// A report's answer as pulled, not yet read: what [`HrReport::changes`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAnswer {
    pub body: Vec<u8>,
}

/// What one pull of a report amounts to against the snapshot the previous pull kept, by the
/// source's rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportChanges {
    /// Departures and cancellations to record, dated by the pull.
    pub facts: Vec<crate::domain::Departure>,
    /// The rows to keep as the snapshot the next pull is compared with (JSON, in the source's
    /// order; the store pages them).
    pub snapshot: Vec<serde_json::Value>,
    /// What the run record must say: rows that could not be read (their number and problem),
    /// cancellations held and why.
    pub problems: Vec<String>,
    /// Named counts for the run record and its metrics (`<source>_rows_unreadable`, ...).
    pub counts: Vec<(String, u64)>,
}

/// A report of upcoming departures pulled on a schedule (Workday RaaS). It has no
/// cancellation event: each pull is compared with the snapshot the previous one kept, and the
/// rule that reads a vanishing as a cancellation is the source's, never the flow's.
#[async_trait]
pub trait HrReport: Send + Sync {
    /// Pull the report (the answer as it came).
    async fn fetch(&self, deadline: Option<Instant>) -> Result<ReportAnswer, ConnectorError>;
    /// What `answer`, pulled at `now_ms`, amounts to against `previous` (the snapshot rows the
    /// last pull kept; `None` before the first pull). An error means the answer as a whole
    /// cannot be read: nothing is recorded and the previous snapshot stays.
    fn changes(
        &self,
        previous: Option<&[serde_json::Value]>,
        answer: &ReportAnswer,
        today: crate::domain::Date,
        now_ms: i64,
    ) -> Result<ReportChanges, ConnectorError>;
}
