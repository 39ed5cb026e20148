//! HR facts: departures and cancellations, normalised from every source.

use super::ConnectionKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A calendar day (`YYYY-MM-DD` on the wire and in stored items).
pub use jiff::civil::Date;

/// Where an HR fact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HrSource {
    Workday,
    Adp,
    Bamboohr,
    Generic,
}

impl HrSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HrSource::Workday => "workday",
            HrSource::Adp => "adp",
            HrSource::Bamboohr => "bamboohr",
            HrSource::Generic => "generic",
        }
    }

    /// The name a person reads in run errors and plans (`Display` is the identifier).
    pub fn name(self) -> &'static str {
        match self {
            HrSource::Workday => "Workday",
            HrSource::Adp => "ADP",
            HrSource::Bamboohr => "BambooHR",
            HrSource::Generic => "the signed HR webhook",
        }
    }

    /// The connection the source is.
    pub fn kind(self) -> ConnectionKind {
        match self {
            HrSource::Workday => ConnectionKind::Workday,
            HrSource::Adp => ConnectionKind::Adp,
            HrSource::Bamboohr => ConnectionKind::Bamboohr,
            HrSource::Generic => ConnectionKind::Generic,
        }
    }
}

impl std::fmt::Display for HrSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HrEventKind {
    Departure,
    Cancellation,
}

/// A normalised HR fact: every source (Workday, ADP, BambooHR, generic webhook) is mapped to
/// this one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Departure {
    pub source: HrSource,
    pub kind: HrEventKind,
    /// The source's id for this event (delivery id, ADP eventID, report row key).
    pub source_event_id: String,
    /// When the source says the fact happened (epoch ms); the latest wins.
    pub event_time: i64,
    /// Work email, lower-cased.
    pub email: String,
    #[serde(default)]
    pub employee_id: Option<String>,
    /// The last working day; required for a departure. Stored as `YYYY-MM-DD`.
    #[serde(default)]
    pub departure_date: Option<Date>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `person#<email>` / `departure`: the latest HR fact about a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub email: String,
    pub latest: Departure,
    /// Incydr actor id, once resolved.
    #[serde(default)]
    pub actor_id: Option<String>,
    /// Whether riskflow put the person on the Departing watchlist (and so may take them off).
    #[serde(default)]
    pub added_by_riskflow: bool,
    /// The departure date currently indexed under `departure#<date>`.
    #[serde(default)]
    pub indexed_date: Option<Date>,
    /// riskflow sent an add to the Departing watchlist and has not seen it land (its answer
    /// was lost, or it is in flight): the next fact that finds the person listed records the
    /// add as made, once. Absent in records written before it existed (false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub add_unconfirmed: bool,
    pub updated_at: i64,
    /// Optimistic-concurrency counter, maintained by the store.
    #[serde(default)]
    pub version: u64,
}

/// A pending unit of HR work, stored as the work item's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HrWork {
    /// A complete fact (generic webhook, Workday report).
    Fact { fact: Departure },
    /// A BambooHR change: the payload names the employee; the API says what changed.
    BambooChange {
        employee_id: String,
        event_type: String,
        event_time: i64,
        #[serde(default)]
        fields: BTreeMap<String, String>,
        source_event_id: String,
    },
    /// An ADP termination event: the worker record has the email.
    AdpTermination {
        event_id: String,
        associate_oid: String,
        termination_date: Option<String>,
        event_time: i64,
        /// The event's reason (absent in items recorded before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl HrWork {
    /// A change to read back from the HR system that recorded it (the system's own rule then
    /// decides what it is), with that system; `None` for a complete fact.
    pub fn recorded_change(&self) -> Option<(HrSource, RecordedHrChange)> {
        match self {
            HrWork::Fact { .. } => None,
            HrWork::BambooChange {
                employee_id,
                event_time,
                source_event_id,
                fields,
                ..
            } => Some((
                HrSource::Bamboohr,
                RecordedHrChange {
                    employee_id: employee_id.clone(),
                    source_event_id: source_event_id.clone(),
                    event_time: *event_time,
                    fields: fields.clone(),
                    ..Default::default()
                },
            )),
            HrWork::AdpTermination {
                event_id,
                associate_oid,
                termination_date,
                event_time,
                reason,
            } => Some((
                HrSource::Adp,
                RecordedHrChange {
                    employee_id: associate_oid.clone(),
                    source_event_id: event_id.clone(),
                    event_time: *event_time,
                    termination_date: termination_date.clone(),
                    reason: reason.clone(),
                    ..Default::default()
                },
            )),
        }
    }
}

/// An HR change as riskflow recorded it from a webhook delivery or a queue message (the sender
/// is answered before the HR system is asked), to be turned into a fact by that HR system's
/// own rule over its current record of the employee.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordedHrChange {
    /// The employee's id in the HR system (BambooHR employee id, ADP associate OID).
    pub employee_id: String,
    pub source_event_id: String,
    /// When the change happened (epoch ms).
    pub event_time: i64,
    /// Field values the change carried (BambooHR's field-based format).
    pub fields: BTreeMap<String, String>,
    /// The termination date the message carried (ADP), `YYYY-MM-DD`.
    pub termination_date: Option<String>,
    /// The reason the message carried (ADP).
    pub reason: Option<String>,
}
