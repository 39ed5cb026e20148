//! ADP Workforce Now / Marketplace APIs (`https://api.adp.com`, event notifications
//! `core/v1`, workers `hr/v2`). Terminations are **pulled**: ADP puts event notifications in
//! a per-client queue that riskflow drains on a schedule (ADP's "ADP Event APIs and Event
//! Notification Guide" on developers.adp.com).
//!
//! - Auth: OAuth2 client credentials at `https://accounts.adp.com/auth/oauth/v2/token` over
//!   **mutual TLS** (ADP issues an x.509 client certificate and key; every call presents it).
//!   Tokens are cached until 60 s before they expire; a 401 fetches a new one once.
//! - Queue: [`AdpClient::next_message`] (`GET /core/v1/event-notification-messages`: 200 +
//!   `adp-msg-msgid`, or 204 when empty) and [`AdpClient::ack`] (`DELETE …/{msgid}`). The body
//!   is kept as text so even an unparseable message is recorded and acknowledged and never
//!   blocks the queue.
//! - [`parse_event`]: both notification envelopes (classic `events[0].eventID` and the
//!   next-gen `_eventID` / `_subjects` form) into an [`AdpEvent`]; [`TERMINATION_EVENTS`]
//!   lists the names that count as terminations.
//! - The payload carries no email: [`AdpClient::worker`] (`GET /hr/v2/workers/{aoid}`) gives
//!   the business email, and [`AdpEvent::to_departure`] joins the two.
//! - ADP has no documented "termination reversed" notification; a moved date arrives as a
//!   termination-date change and is a new departure fact with the new date.

pub(crate) mod client;
mod directory;
mod model;
mod queue;
pub mod settings;
pub mod verify;

pub use client::{AdpClient, AdpCredentials, MESSAGES_PATH};
pub use directory::AdpSource;
pub use model::{
    AdpEvent, AdpMessage, AdpParseError, RecordedTermination, TERMINATION_EVENTS, Worker,
    parse_event, termination_departure,
};
