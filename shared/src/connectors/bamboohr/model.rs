//! BambooHR records: one webhook change, one employee, and the rule that turns them into a
//! departure or a cancellation.

use crate::clock::date_of_ms;
use crate::connectors::hr::{PayloadError, id_text, normalize_date, normalize_email, quote};
use crate::domain::{Date, Departure, HrEventKind, HrSource};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One employee change from a webhook delivery (either format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BambooChange {
    pub employee_id: String,
    /// `employee.created` / `employee.updated` / `employee.deleted`, or
    /// `employee_with_fields.<action>` for the legacy field-based format.
    pub event_type: String,
    /// The delivery's timestamp as sent.
    pub timestamp: String,
    pub changed_fields: Vec<String>,
    /// Field values (field-based format only; the event-based format carries none).
    pub fields: BTreeMap<String, String>,
}

impl BambooChange {
    /// The dedup key: hex SHA-256 over (employeeId, type, timestamp, changedFields sorted),
    /// encoded as a JSON array so no separator inside a value can make two keys collide.
    /// BambooHR sends no event id
    /// (<https://documentation.bamboohr.com/docs/event-based-webhooks>).
    pub fn dedup_key(&self) -> String {
        let mut fields = self.changed_fields.clone();
        fields.sort();
        let material =
            serde_json::json!([self.employee_id, self.event_type, self.timestamp, fields]);
        hex::encode(Sha256::digest(material.to_string().as_bytes()))
    }

    /// Whether the change can concern a departure: an employee created or updated whose
    /// changed fields are unknown or include a status or termination field. Deletions are
    /// ignored (the record, and its email, are gone).
    pub fn may_concern_departure(&self) -> bool {
        if self.event_type.ends_with(".deleted") {
            return false;
        }
        self.changed_fields.is_empty()
            || self.changed_fields.iter().any(|f| {
                let f = f.to_ascii_lowercase();
                f.contains("status") || f.contains("termination")
            })
    }

    /// The employee record the field-based format already carries, when it holds a work
    /// email and a status or termination date (then no API call is needed).
    pub fn employee_from_fields(&self) -> Option<Employee> {
        let email = self.fields.get("workEmail")?;
        let status = self.fields.get("status").cloned();
        let term = self.fields.get("terminationDate").cloned();
        if status.is_none() && term.is_none() {
            return None;
        }
        Employee::from_parts(&self.employee_id, Some(email), status, term).ok()
    }
}

/// The employee fields riskflow reads
/// (`GET /v1/employees/{id}?fields=workEmail,status,terminationDate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub id: String,
    /// Lower-cased; `None` when empty or not an email address.
    pub work_email: Option<String>,
    /// `Active` / `Inactive`.
    pub status: Option<String>,
    /// `YYYY-MM-DD`; `None` for empty and BambooHR's `0000-00-00`.
    pub termination_date: Option<Date>,
}

impl Employee {
    /// Read the API's JSON answer. Unknown fields are ignored; `id` may be a string or a number.
    pub fn from_json(requested_id: &str, v: &Value) -> Result<Employee, String> {
        let obj = v
            .as_object()
            .ok_or("the employee record is not a JSON object")?;
        let id = match obj.get("id").map(id_text) {
            Some(Ok(Some(id))) => id,
            _ => requested_id.to_string(),
        };
        let text = |name: &str| -> Result<Option<String>, String> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("'{name}' is not text")),
            }
        };
        Employee::from_parts(
            &id,
            text("workEmail")?.as_deref(),
            text("status")?,
            text("terminationDate")?,
        )
    }

    fn from_parts(
        id: &str,
        email: Option<&str>,
        status: Option<String>,
        termination: Option<String>,
    ) -> Result<Employee, String> {
        let termination_date = match termination.as_deref().map(str::trim) {
            None | Some("") | Some("0000-00-00") => None,
            Some(d) => Some(
                normalize_date(d).map_err(|e| format!("'terminationDate' is not a date: {e}"))?,
            ),
        };
        Ok(Employee {
            id: id.to_string(),
            work_email: email.and_then(normalize_email),
            status: status
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            termination_date,
        })
    }
}

/// Turn a change and the employee's current record into an HR fact, or `None` when it is not
/// one: [`departure_of`] for a change that may concern a departure
/// ([`BambooChange::may_concern_departure`]), with the change's dedup key, the delivery's
/// event time ([`super::event_time`]) and `today` = the UTC date of `now_ms`.
pub fn to_departure(
    change: &BambooChange,
    employee: &Employee,
    event_time: i64,
    now_ms: i64,
) -> Result<Option<Departure>, PayloadError> {
    if !change.may_concern_departure() {
        return Ok(None);
    }
    departure_of(
        employee,
        &RecordedChange {
            source_event_id: change.dedup_key(),
            event_time,
            fields: change.fields.clone(),
        },
        date_of_ms(now_ms),
    )
}

/// What riskflow keeps of a change when it records a webhook delivery (it answers BambooHR
/// before reading the employee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedChange {
    /// [`BambooChange::dedup_key`].
    pub source_event_id: String,
    /// When the change happened (epoch ms).
    pub event_time: i64,
    /// The field values the field-based format carried (none for the event-based one).
    pub fields: BTreeMap<String, String>,
}

/// **The rule**: a recorded change and the employee's current record as an HR fact, or `None`
/// when it is not one:
///
/// - **Departure** when the status is `Inactive`, or a termination date is set that is today
///   or later (a future-dated termination, status still `Active`), or a termination date is
///   set and the status is unknown. The departure date is the termination date, else the
///   change's own date.
/// - **Cancellation** when the status is `Active` and there is no termination date, or only
///   one in the past (BambooHR keeps an old termination date when a person is rehired).
/// - Otherwise (no status and no date) nothing.
///
/// The person is the record's work email, else the `workEmail` the change carried; either is
/// normalised (trimmed, lower-cased) and must be an address. A departure or cancellation for
/// someone without one is an error (nobody to put on or take off the watchlist).
pub fn departure_of(
    employee: &Employee,
    change: &RecordedChange,
    today: Date,
) -> Result<Option<Departure>, PayloadError> {
    let status = employee.status.as_deref().map(str::to_ascii_lowercase);
    let date = employee.termination_date;
    let kind = match (status.as_deref(), date) {
        (Some("inactive"), _) => HrEventKind::Departure,
        (Some("active"), Some(d)) if d >= today => HrEventKind::Departure,
        (Some("active"), _) => HrEventKind::Cancellation,
        (_, Some(_)) => HrEventKind::Departure,
        (_, None) => return Ok(None),
    };
    let email = match (&employee.work_email, change.fields.get("workEmail")) {
        (Some(e), _) => e.clone(),
        (None, Some(raw)) => normalize_email(raw).ok_or_else(|| {
            PayloadError::not_an_address(format!(
                "BambooHR employee {} has no work email, and the change's workEmail {} is not an address",
                quote(&employee.id),
                quote(raw)
            ))
        })?,
        (None, None) => {
            return Err(PayloadError::new(format!(
                "BambooHR employee {} has no work email, so riskflow cannot act on them",
                quote(&employee.id)
            )));
        }
    };
    let departure_date = match kind {
        HrEventKind::Departure => Some(date.unwrap_or_else(|| date_of_ms(change.event_time))),
        HrEventKind::Cancellation => None,
    };
    Ok(Some(Departure {
        source: HrSource::Bamboohr,
        kind,
        source_event_id: change.source_event_id.clone(),
        event_time: change.event_time,
        email,
        employee_id: Some(employee.id.clone()),
        departure_date,
        reason: None,
    }))
}
