//! Generic signed HR webhook: any HR system (or an HR team's script, a Rippling "Trigger a
//! Webhook" step, an iPaaS flow) that can POST a small JSON body signed with the
//! [Standard Webhooks](https://www.standardwebhooks.com) scheme, version `v1` (Svix-compatible,
//! HMAC-SHA256). It is an inbound scheme of our own, so there is no API
//! to call and no client: [`verify`] checks the headers, [`parse`] turns the body into a
//! [`crate::domain::Departure`], [`sign`] produces the header a sender must set.
//!
//! ```text
//! POST /webhooks/hr/generic
//! webhook-id: msg_2mXq...            (unique per delivery; the dedup key)
//! webhook-timestamp: 1774950000      (epoch seconds; ±5 minutes by default)
//! webhook-signature: v1,K5oZ...=     (base64 HMAC-SHA256 of "{id}.{timestamp}.{body}")
//!
//! {"event_type":"departure","email":"jane.doe@example.com","departure_date":"2026-03-31"}
//! ```
//!
//! What every HR connector shares (errors, normalisation) is in [`crate::connectors::hr`]; the
//! names this module's API answers with are re-exported here.

mod model;
pub mod settings;
pub mod verify;
mod webhook;

pub use crate::connectors::hr::{
    PayloadError, SignatureError, normalize_date, normalize_email, parse_instant_ms, plain_date,
    quote,
};
pub use model::parse;
pub use verify::verify_signing_secret;
pub use webhook::{DEFAULT_WINDOW_MS, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify};
