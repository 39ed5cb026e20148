//! Workday report rows, the customer's field mapping, and the snapshot comparison that finds
//! departures and cancellations.

use crate::connectors::ConnectorError;
use crate::connectors::hr::{normalize_date, normalize_email, quote};
use crate::domain::{Date, Departure, HrEventKind, HrSource};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

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
    /// [`diff_snapshots`]); the departure date is the termination date.
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

/// Read a RaaS JSON body (`{"Report_Entry":[{...},...]}`) into rows.
pub fn parse_report(
    body: &[u8],
    mapping: &FieldMapping,
) -> Result<Vec<WorkdayRow>, ConnectorError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ConnectorError::invalid(
            SYSTEM,
            format!("the Workday report is not JSON ({e}); is the URL a RaaS report?"),
        )
    })?;
    let entries = match value.get("Report_Entry") {
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the Workday report's 'Report_Entry' is not a list",
            ));
        }
        None => {
            return Err(ConnectorError::invalid(
                SYSTEM,
                "the Workday answer has no 'Report_Entry' list; is the URL a RaaS report (customreport2) enabled as a web service?",
            ));
        }
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| match e {
            Value::Object(obj) => WorkdayRow::from_entry(i, obj, mapping),
            _ => Err(ConnectorError::invalid(
                SYSTEM,
                format!("Workday report row {} is not an object", i + 1),
            )),
        })
        .collect()
}

/// Compare two pulls of the report (Workday has no cancellation event, so a person who
/// vanishes from the report before their date is a cancellation).
///
/// - Every row in `current` that is not in `previous` exactly (a new person, or a changed date,
///   email, reason or event) is a **departure**.
/// - A person (by employee id) with rows in `previous` and none in `current`, whose latest
///   termination date has not passed (`> today`), is a **cancellation**: the
///   termination was rescinded. One whose date has passed simply aged out of the report's window.
///
/// This relies on the report listing every pending termination until its date passes (a
/// date-window prompt must reach far enough ahead).
///
/// **The event time** of a Workday fact is `now_ms`, the time of the pull that saw the change:
/// a RaaS report carries no time of its own for a row, and a change is known to have happened
/// only by the pull that shows it. It is riskflow's own clock, so never in the future. The output is
/// ordered: departures in report order, then cancellations by employee id. A cancellation's
/// `source_event_id` is `employee_id:termination_date:cancelled`.
pub fn diff_snapshots(
    previous: &[WorkdayRow],
    current: &[WorkdayRow],
    today: Date,
    now_ms: i64,
) -> Vec<Departure> {
    let before: BTreeSet<&WorkdayRow> = previous.iter().collect();
    let present: BTreeSet<&str> = current.iter().map(|r| r.employee_id.as_str()).collect();
    let mut out: Vec<Departure> = current
        .iter()
        .filter(|r| !before.contains(r))
        .map(|r| r.to_departure(now_ms))
        .collect();

    let mut gone: BTreeMap<&str, &WorkdayRow> = BTreeMap::new();
    for r in previous {
        if present.contains(r.employee_id.as_str()) {
            continue;
        }
        let slot = gone.entry(r.employee_id.as_str()).or_insert(r);
        if r.termination_date > slot.termination_date {
            *slot = r;
        }
    }
    for r in gone.into_values() {
        if r.termination_date > today {
            out.push(Departure {
                source: HrSource::Workday,
                kind: HrEventKind::Cancellation,
                source_event_id: format!("{}:{}:cancelled", r.employee_id, r.termination_date),
                event_time: now_ms,
                email: r.email.clone(),
                employee_id: Some(r.employee_id.clone()),
                departure_date: None,
                reason: None,
            });
        }
    }
    out
}
