//! Workday report rows, the customer's field mapping, and reading a RaaS answer row by row.

use crate::connectors::ConnectorError;
use crate::connectors::hr::{normalize_date, normalize_email, quote};
use crate::domain::{Date, Departure, HrEventKind, HrSource};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const SYSTEM: &str = "workday";

/// The connection setting that holds the mapping: an object with any of the keys below.
pub const MAPPING_SETTING: &str = "field_mapping";

/// Which report column (the column's XML alias) holds each fact. Column names differ between
/// tenants, so the customer gives them when connecting (Workday's own RaaS documentation,
/// which needs a customer login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// Work email (required in every row). Default `Email_-_Work`.
    pub email: String,
    /// Termination date (required in every row). Default `Termination_Date`.
    pub termination_date: String,
    /// Last day of work (optional column). Default `Last_Day_of_Work`.
    pub last_day: Option<String>,
    /// Employee ID (required in every row). Default `Employee_ID`.
    pub employee_id: String,
    /// Business-process event WID, for dedup (optional column). Default
    /// `Business_Process_Event_WID`.
    pub event_id: Option<String>,
    /// Termination reason (optional column). Default `Primary_Termination_Reason`.
    pub reason: Option<String>,
}

impl Default for FieldMapping {
    fn default() -> Self {
        FieldMapping {
            email: "Email_-_Work".into(),
            termination_date: "Termination_Date".into(),
            last_day: Some("Last_Day_of_Work".into()),
            employee_id: "Employee_ID".into(),
            event_id: Some("Business_Process_Event_WID".into()),
            reason: Some("Primary_Termination_Reason".into()),
        }
    }
}

impl FieldMapping {
    /// Read the mapping from a connection's settings: `settings["field_mapping"]` is an object
    /// whose keys are `email`, `termination_date`, `last_day`, `employee_id`, `event_id`,
    /// `reason` and whose values are column names. Keys left out keep their default; an
    /// optional column set to `null` or `""` is not read at all. No `field_mapping` at all means
    /// the defaults. An unknown key (a typo) or a non-text value is an error naming it.
    pub fn from_settings(
        settings: &BTreeMap<String, Value>,
    ) -> Result<FieldMapping, ConnectorError> {
        let mut m = FieldMapping::default();
        let obj = match settings.get(MAPPING_SETTING) {
            None | Some(Value::Null) => return Ok(m),
            Some(Value::Object(o)) => o,
            Some(_) => {
                return Err(ConnectorError::invalid(
                    SYSTEM,
                    "setting 'field_mapping' must be an object of column names",
                ));
            }
        };
        for (key, value) in obj {
            let column = match value {
                Value::Null => None,
                Value::String(s) if s.trim().is_empty() => None,
                Value::String(s) => Some(s.trim().to_string()),
                _ => {
                    return Err(ConnectorError::invalid(
                        SYSTEM,
                        format!("setting 'field_mapping.{key}' must be a column name (text)"),
                    ));
                }
            };
            let required = |c: Option<String>| {
                c.ok_or_else(|| {
                    ConnectorError::invalid(
                        SYSTEM,
                        format!("setting 'field_mapping.{key}' is required and cannot be empty"),
                    )
                })
            };
            match key.as_str() {
                "email" => m.email = required(column)?,
                "termination_date" => m.termination_date = required(column)?,
                "employee_id" => m.employee_id = required(column)?,
                "last_day" => m.last_day = column,
                "event_id" => m.event_id = column,
                "reason" => m.reason = column,
                other => {
                    return Err(ConnectorError::invalid(
                        SYSTEM,
                        format!(
                            "setting 'field_mapping' has an unknown key {} (expected email, termination_date, last_day, employee_id, event_id, reason)",
                            quote(other)
                        ),
                    ));
                }
            }
        }
        Ok(m)
    }
}

/// One row of the termination report, normalised. Serialisable, so a pull can be stored as
/// the snapshot the next pull is compared with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct WorkdayRow {
    pub employee_id: String,
    /// Lower-cased.
    pub email: String,
    /// `YYYY-MM-DD`.
    pub termination_date: Date,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub last_day: Option<Date>,
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

impl WorkdayRow {
    /// Map one `Report_Entry` object. `index` is 0-based; messages count rows from 1, as a
    /// person reading the report does.
    ///
    /// A required column that is absent or empty is an error naming the column, what it is
    /// mapped as, and the row. (Workday leaves empty fields out of the JSON altogether, so a
    /// person without a work email makes the whole pull fail with that message: better seen
    /// and fixed in the report than silently skipped.)
    pub fn from_entry(
        index: usize,
        entry: &Map<String, Value>,
        mapping: &FieldMapping,
    ) -> Result<WorkdayRow, ConnectorError> {
        let row = index + 1;
        let required = |column: &str, what: &str| -> Result<String, ConnectorError> {
            match cell(row, entry, column, what)? {
                Some(v) => Ok(v),
                None => Err(ConnectorError::invalid(
                    SYSTEM,
                    format!(
                        "Workday report row {row} has no column '{column}' (mapped as {what}); check the field mapping"
                    ),
                )),
            }
        };
        let optional =
            |column: &Option<String>, what: &str| -> Result<Option<String>, ConnectorError> {
                match column {
                    Some(c) => cell(row, entry, c, what),
                    None => Ok(None),
                }
            };

        let employee_id = required(&mapping.employee_id, "employee_id")?;
        let raw_email = required(&mapping.email, "email")?;
        let email = normalize_email(&raw_email).ok_or_else(|| {
            ConnectorError::invalid(
                SYSTEM,
                format!(
                    "Workday report row {row}: column '{}' (mapped as email) is not an email address, got {}",
                    mapping.email,
                    quote(&raw_email)
                ),
            )
        })?;
        let date = |column: &str, what: &str, raw: &str| {
            normalize_date(raw).map_err(|e| {
                ConnectorError::invalid(
                    SYSTEM,
                    format!("Workday report row {row}: column '{column}' (mapped as {what}): {e}"),
                )
            })
        };
        let raw_term = required(&mapping.termination_date, "termination_date")?;
        let termination_date = date(&mapping.termination_date, "termination_date", &raw_term)?;
        let last_day = match (&mapping.last_day, optional(&mapping.last_day, "last_day")?) {
            (Some(column), Some(raw)) => Some(date(column, "last_day", &raw)?),
            _ => None,
        };
        Ok(WorkdayRow {
            employee_id,
            email,
            termination_date,
            last_day,
            event_id: optional(&mapping.event_id, "event_id")?,
            reason: optional(&mapping.reason, "reason")?,
        })
    }

    /// The key a departure from this row carries: the business-process event WID when the
    /// report has one, else `employee_id:termination_date`.
    pub fn event_key(&self) -> String {
        self.event_id
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.employee_id, self.termination_date))
    }

    /// This row as a departure, dated `now_ms`, the time of the pull that saw it (see
    /// [`super::compare`]); the departure date is the termination date.
    pub fn to_departure(&self, now_ms: i64) -> Departure {
        Departure {
            source: HrSource::Workday,
            kind: HrEventKind::Departure,
            source_event_id: self.event_key(),
            event_time: now_ms,
            email: self.email.clone(),
            employee_id: Some(self.employee_id.clone()),
            departure_date: Some(self.termination_date),
            reason: self.reason.clone(),
        }
    }
}

/// One cell as text: strings are trimmed, numbers written out, `null` and `""` are absent.
/// A list or an object (a multi-instance field) is an error: the report column should be a
/// single value.
fn cell(
    row: usize,
    entry: &Map<String, Value>,
    column: &str,
    what: &str,
) -> Result<Option<String>, ConnectorError> {
    match entry.get(column) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(ConnectorError::invalid(
            SYSTEM,
            format!(
                "Workday report row {row}: column '{column}' (mapped as {what}) is not a single value; make it a single-instance field in the report"
            ),
        )),
    }
}

/// A row of the report that could not be read: its number (from 1, as a person reading the
/// report counts), its employee id when that much could be read, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub row: usize,
    pub employee_id: Option<String>,
    pub problem: String,
}

/// A RaaS answer read row by row: the rows that could be read and the problems of the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportRead {
    pub rows: Vec<WorkdayRow>,
    pub problems: Vec<RowProblem>,
    /// The answer was a JSON object without `Report_Entry`: the keys it had instead (none for
    /// `{}`, which is how Workday answers for a report without rows). Read as no rows.
    pub without_report_entry: Option<Vec<String>>,
}

/// Read a RaaS JSON body (`{"Report_Entry":[{...},...]}`) row by row: a row that cannot be
/// read is a [`RowProblem`], the others are read. Only an answer that is not a JSON object,
/// or whose `Report_Entry` is not a list, is an error; an object without `Report_Entry` reads
/// as no rows ([`ReportRead::without_report_entry`]).
pub fn read_report(body: &[u8], mapping: &FieldMapping) -> Result<ReportRead, ConnectorError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ConnectorError::invalid(
            SYSTEM,
            format!("the Workday report is not JSON ({e}); is the URL a RaaS report?"),
        )
    })?;
    let Value::Object(obj) = &value else {
        return Err(ConnectorError::invalid(
            SYSTEM,
            "the Workday answer is not a JSON object; is the URL a RaaS report (customreport2) enabled as a web service?",
        ));
    };
    let entries = match obj.get("Report_Entry") {
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the Workday report's 'Report_Entry' is not a list",
            ));
        }
        None => {
            return Ok(ReportRead {
                without_report_entry: Some(obj.keys().cloned().collect()),
                ..ReportRead::default()
            });
        }
    };
    let mut read = ReportRead::default();
    for (i, e) in entries.iter().enumerate() {
        let result = match e {
            Value::Object(obj) => WorkdayRow::from_entry(i, obj, mapping),
            _ => Err(ConnectorError::invalid(
                SYSTEM,
                format!("Workday report row {} is not an object", i + 1),
            )),
        };
        match result {
            Ok(row) => read.rows.push(row),
            Err(err) => read.problems.push(RowProblem {
                row: i + 1,
                employee_id: e
                    .as_object()
                    .and_then(|obj| cell(i + 1, obj, &mapping.employee_id, "employee_id").ok())
                    .flatten(),
                problem: match err {
                    ConnectorError::Invalid { message, .. } => message,
                    other => other.to_string(),
                },
            }),
        }
    }
    Ok(read)
}

/// Read a RaaS JSON body strictly, as a connection is verified: every row must read (the
/// first problem is the error), and an object without `Report_Entry` must be `{}` (another
/// object is not a RaaS report).
pub fn parse_report(
    body: &[u8],
    mapping: &FieldMapping,
) -> Result<Vec<WorkdayRow>, ConnectorError> {
    let read = read_report(body, mapping)?;
    if read
        .without_report_entry
        .is_some_and(|keys| !keys.is_empty())
    {
        return Err(ConnectorError::invalid(
            SYSTEM,
            "the Workday answer has no 'Report_Entry' list; is the URL a RaaS report (customreport2) enabled as a web service?",
        ));
    }
    match read.problems.into_iter().next() {
        Some(p) => Err(ConnectorError::invalid(SYSTEM, p.problem)),
        None => Ok(read.rows),
    }
}
