//! Workday state: the report rows.

use serde_json::Value;

/// Workday state.
#[derive(Default)]
pub(crate) struct WorkdayState {
    pub rows: Vec<Value>,
}
