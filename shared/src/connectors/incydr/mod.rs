//! Code42 Incydr REST API client (the API gateway at `https://api.<region>.code42.com`).
//!
//! API versions used: `/v1/oauth` (API-client credentials, 15-minute bearer tokens),
//! `/v1/sessions` (what the console calls alerts; `/v1/alerts` stopped working on 2026-02-28
//! and is never called), `/v2/watchlists` (actor ids; `/v1/watchlists` is gone too),
//! `/v1/actors` (lookup by email, departure date) and `/v1/users`. Wire facts, query-string
//! order and bodies follow the official `incydr` Python SDK (<https://developer.code42.com/sdk>)
//! and its tests (`tests/` in the `code42/incydr_python` repository on GitHub).

pub(crate) mod alerts;
pub(crate) mod client;
pub(crate) mod model;
pub mod settings;
pub(crate) mod states;
pub mod verify;
mod watchlist;

pub use alerts::IncydrAdapter;
pub use client::{IncydrClient, MAX_IDS_PER_REQUEST, MAX_NOTE_CHARS, SYSTEM, tenant_uid_from_jwt};
pub use model::{
    Actor, ActorUpdate, ContentInspectionResults, ContentInspectionStatus, EventDestination,
    EventDestinationEmail, EventDestinationUser, EventFile, EventFileHash, EventInfo,
    EventRemovableMedia, EventRisk, EventRiskIndicator, EventSource, EventUser, FieldUpdate,
    FileEvent, MAX_SESSION_PAGE_SIZE, Session, SessionNote, SessionOrderBy, SessionPage,
    SessionQuery, SessionRiskIndicator, SessionScore, SessionState, SessionStateEntry, Severity,
    SortDirection, TriggeredAlert, User, Watchlist, WatchlistActor, WatchlistPage, WatchlistStats,
    WatchlistType,
};
