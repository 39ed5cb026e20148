//! BambooHR: pushes signed webhooks when an employee changes; riskflow reads the employee
//! back through the REST API (`https://api.bamboohr.com/api/gateway.php/<company>/v1/…`,
//! API v1, Basic auth with the API key as user name and `x` as password). See
//! <https://documentation.bamboohr.com/docs/webhooks> and
//! <https://documentation.bamboohr.com/docs/event-based-webhooks>.
//!
//! - [`verify_signature`] / [`verify_signature_any`] / [`verify_headers`]: hex HMAC-SHA256 of
//!   `raw body ‖ X-BambooHR-Timestamp` with the webhook's private key, constant-time, within
//!   a replay window; two keys may be configured while one is rotated.
//! - [`parse_payload`]: both body formats (event-based JSON or form-encoded; the legacy
//!   field-based `employees` list) into [`BambooChange`]s, each with a [`BambooChange::dedup_key`]
//!   (BambooHR sends no event id).
//! - [`BambooClient::employee`]: `GET /v1/employees/{id}?fields=workEmail,status,terminationDate`
//!   (the event-based format carries no values, so every change is enriched this way; a
//!   field-based change that already carries them needs no call:
//!   [`BambooChange::employee_from_fields`]).
//! - [`departure_of`] (and [`to_departure`] from a whole change): **the rule**, which the
//!   hr-departures flow runs through its `HrDirectory` port. A change that touches a status or termination field (or
//!   names no fields) is a *departure* when the employee is `Inactive`, or has a termination
//!   date today or later; it is a *cancellation* when the employee is `Active` with no
//!   termination date (or only a past one, left over from an earlier employment). Deletions
//!   and changes to other fields are ignored. History-tracked fields fire on the effective
//!   date, so a future-dated termination usually arrives as `status` → `Inactive` on the day.

mod client;
mod directory;
mod model;
pub mod settings;
pub mod verify;
mod webhook;

pub use client::{BambooClient, VERIFY_PATH};
pub use directory::BambooDirectory;
pub use model::{BambooChange, Employee, RecordedChange, departure_of, to_departure};
pub use webhook::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, event_time, parse_payload, verify_headers,
    verify_signature, verify_signature_any,
};
