//! Workday state: the report rows, and how a report without rows is answered.

use serde_json::Value;

/// Workday state.
#[derive(Default)]
pub(crate) struct WorkdayState {
    pub rows: Vec<Value>,
    /// A JSON pull of the report while it has no rows answers `{}` (as Workday does, by
    /// several accounts) instead of `{"Report_Entry":[]}`.
    pub empty_without_report_entry: bool,
}
