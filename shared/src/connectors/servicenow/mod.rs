//! ServiceNow Table API client, pinned to `/api/now/v2/table/...` (v2 answers an empty match
//! with `200 {"result":[]}`; v1 answers 404), Basic auth, JSON in and out.
//!
//! Incidents are deduplicated on `correlation_id`. The instance silently ignores query parts it
//! does not understand, so every lookup re-checks the returned value. Values come back as
//! strings and reference fields as `{link,value}` or `""`; see [`snow_value`]. Wire facts
//! follow ServiceNow's Table API reference (`markdown/api-reference/rest-apis/c_TableAPI.md` in
//! the ServiceNow/ServiceNowDocs repository on GitHub) and its "Inbound REST API rate
//! limiting" page.

mod changes;
pub(crate) mod client;
pub(crate) mod model;
pub mod settings;
mod sink;
pub mod verify;
pub mod workflow;

pub use client::{
    MAX_CORRELATION_ID_CHARS, MAX_SHORT_DESCRIPTION_CHARS, SYSTEM, ServiceNowClient, correlation_id,
};
pub use model::{Incident, NewIncident, snow_value, urgency_impact_for_severity};
pub use sink::ServiceNowSink;
pub use workflow::{CloseCode, IncidentState, Resolution, SnowWorkflowError, check_close_code};
