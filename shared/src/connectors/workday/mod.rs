//! Workday: terminations are pulled from a customer-built *Advanced* custom report exposed as
//! a web service (Report-as-a-Service, RaaS), `GET …/ccx/service/customreport2/<tenant>/
//! <owner>/<Report_Name>?format=json`, Basic auth with an Integration System User. The
//! answer is always `{"Report_Entry":[{…}]}` with column names the tenant chose, so the
//! customer supplies a [`FieldMapping`]. There is no paging and no API version in the URL
//! (RaaS is versionless: the report URL carries no version).
//!
//! - [`WorkdayClient::fetch_report`]: pull and map the rows (report prompts in the URL are kept).
//! - [`WorkdayRow::to_departure`]: a row as a departure (event id = the business-process WID,
//!   else `employee_id:termination_date`; departure date = the termination date).
//! - [`read_report`]: the answer row by row (a row that cannot be read is a problem named by
//!   its number; an object without `Report_Entry`, as Workday answers for a report without
//!   rows, reads as empty).
//! - [`compare()`]: Workday sends no cancellation, so consecutive pulls are compared: new or
//!   changed rows are departures, and a person who vanished before their date is a
//!   cancellation, unless the pull may have left people out (an unreadable row, no
//!   `Report_Entry`, a drop of more than `max_shrink_percent`): then the next pull confirms.

mod client;
pub mod compare;
mod model;
mod report;
pub mod settings;
pub mod verify;

pub use client::WorkdayClient;
pub use compare::{KeptRow, compare, diff_snapshots};
pub use model::{
    FieldMapping, MAPPING_SETTING, ReportRead, RowProblem, WorkdayRow, parse_report, read_report,
};
pub use report::{WorkdayReport, report_changes};
