//! One folder per outside system, each with the same shape: `mod.rs` (what the system is and
//! which API version), `client.rs` and `model.rs` (the wire), `settings.rs` (the connect form's
//! fields and defaults, written once, and the typed settings a run reads), the role it plays
//! for the flows (`sink.rs`, `alerts.rs`, `watchlist.rs`, `idp.rs`, `directory.rs`,
//! `queue.rs`, `report.rs`: the traits in [`crate::ports`]) and `verify.rs` (its live check).
//! Every client takes an injectable base URL (which may carry a path prefix), sends through
//! [`crate::http`] and names the system and status in its errors.
//!
//! This file is the registry: what each [`ConnectionKind`] asks for ([`fields`]) and how it is
//! checked ([`verify`]). Adding a system adds its folder and one arm to each function here.

pub mod adp;
pub mod bamboohr;
pub mod form;
pub mod generic;
pub mod hr;
pub mod incydr;
pub mod jira;
pub mod okta;
pub mod servicenow;
pub mod workday;

/// Errors of a connector call: defined with the ports the connectors implement.
pub use crate::ports::ConnectorError;

use crate::domain::ConnectionKind;
use crate::http::ClientOptions;
use crate::ports::{LiveCheck, Verified, VerifyFailure};
use form::{Field, VendorSettings};
use serde_json::{Map, Value};
use std::time::Instant;

/// The fields a kind's connect form asks for.
pub fn fields(kind: ConnectionKind) -> &'static [Field] {
    match kind {
        ConnectionKind::Incydr => incydr::settings::FIELDS,
        ConnectionKind::Jira => jira::settings::FIELDS,
        ConnectionKind::Servicenow => servicenow::settings::FIELDS,
        ConnectionKind::Okta => okta::settings::FIELDS,
        ConnectionKind::Workday => workday::settings::FIELDS,
        ConnectionKind::Adp => adp::settings::FIELDS,
        ConnectionKind::Bamboohr => bamboohr::settings::FIELDS,
        ConnectionKind::Generic => generic::settings::FIELDS,
    }
}

/// Check a connection live with these settings and secret fields, as a run would build it:
/// "Connected to …" and what the check learned that runs need, or why not. Settings that
/// cannot be read are a 400 naming the field.
pub async fn verify(
    kind: ConnectionKind,
    settings: &Map<String, Value>,
    secrets: &Map<String, Value>,
    opts: &ClientOptions,
    deadline: Option<Instant>,
) -> Result<Verified, VerifyFailure> {
    match kind {
        ConnectionKind::Incydr => {
            check::<incydr::settings::Settings>(settings, secrets, opts, deadline).await
        }
        ConnectionKind::Jira => {
            check::<jira::settings::Settings>(settings, secrets, opts, deadline).await
        }
        ConnectionKind::Servicenow => {
            check::<servicenow::settings::Settings>(settings, secrets, opts, deadline).await
        }
        ConnectionKind::Workday => {
            check::<workday::settings::Settings>(settings, secrets, opts, deadline).await
        }
        ConnectionKind::Adp => {
            check::<adp::settings::Settings>(settings, secrets, opts, deadline).await
        }
        ConnectionKind::Bamboohr => {
            // The webhook keys are checked before anything is asked of BambooHR.
            bamboohr::settings::Settings::read(settings, secrets)
                .map_err(bad)?
                .check_signing_keys()?;
            check::<bamboohr::settings::Settings>(settings, secrets, opts, deadline).await
        }
        ConnectionKind::Okta => {
            // The containment group is checked too, and refused when it is protected.
            let s = okta::settings::Settings::read(settings, secrets).map_err(bad)?;
            s.connect(opts)
                .map_err(bad)?
                .verify_connection(&s.group_id, &s.protected_groups, deadline)
                .await
                .map(Verified::from)
        }
        ConnectionKind::Generic => {
            let s = generic::settings::Settings::read(settings, secrets).map_err(bad)?;
            generic::verify_signing_secret(&s).map(Verified::from)
        }
    }
}

/// Read the settings, build the client, check it live.
async fn check<S: VendorSettings>(
    settings: &Map<String, Value>,
    secrets: &Map<String, Value>,
    opts: &ClientOptions,
    deadline: Option<Instant>,
) -> Result<Verified, VerifyFailure>
where
    S::Built: LiveCheck,
{
    S::read(settings, secrets)
        .map_err(bad)?
        .connect(opts)
        .map_err(bad)?
        .verify_and_learn(deadline)
        .await
}

/// Settings or a client that cannot be built: the request cannot be right as given (400).
fn bad(e: impl std::fmt::Display) -> VerifyFailure {
    VerifyFailure::bad(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_form_with_unique_field_names_and_a_required_field() {
        for kind in ConnectionKind::ALL {
            let f = fields(kind);
            let mut names: Vec<_> = f.iter().map(|f| f.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), f.len(), "{kind}");
            assert!(f.iter().any(|f| f.required), "{kind}");
            for field in f.iter().filter(|f| !f.choices.is_empty()) {
                let d = field.default.unwrap_or(field.choices[0]);
                assert!(field.choices.contains(&d), "{kind}.{}", field.name);
            }
        }
    }
}
