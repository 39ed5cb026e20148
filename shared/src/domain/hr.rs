//! HR facts: departures and cancellations, normalised from every source.

use serde::{Deserialize, Serialize};

/// Where an HR fact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// `YYYY-MM-DD`; required for a departure.
    #[serde(default)]
    pub departure_date: Option<String>,
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
    pub indexed_date: Option<String>,
    pub updated_at: i64,
    /// Optimistic-concurrency counter, maintained by the store.
    #[serde(default)]
    pub version: u64,
}
