//! One client per outside system, each in its own folder with the same shape: `mod.rs` (what
//! the system is and which API version), `client.rs`, `model.rs`. Every client takes an
//! injectable base URL (which may carry a path prefix), sends through [`crate::http`], checks its
//! credentials for the connect route, and names the system and status in its errors.

pub mod adp;
pub mod bamboohr;
pub mod generic;
pub mod incydr;
pub mod jira;
pub mod okta;
pub mod servicenow;
pub mod workday;

use crate::http::HttpError;

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
