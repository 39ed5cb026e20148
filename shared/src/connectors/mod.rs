//! One client per outside system, each in its own folder with the same shape: `mod.rs` (what
//! the system is and which API version), `client.rs`, `model.rs`. Every client takes an
//! injectable base URL (which may carry a path prefix), sends through [`crate::http`], checks its
//! credentials for the connect route, and names the system and status in its errors.

pub mod adp;
pub mod bamboohr;
pub mod generic;
pub mod hr;
pub mod incydr;
pub mod jira;
pub mod okta;
pub mod servicenow;
pub mod workday;

/// Errors of a connector call: defined with the ports the connectors implement.
pub use crate::ports::ConnectorError;
