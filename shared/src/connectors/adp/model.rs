//! ADP event-notification messages and worker records.

use crate::connectors::hr::{id_text, normalize_date, normalize_email, parse_instant_ms, quote};
use crate::domain::{Date, Departure, HrEventKind, HrSource};
use serde_json::Value;

/// Event names that mean "this worker leaves (or their leaving date moved)". Compared without
/// regard to case.
///
/// - `worker.terminate`: the WFN and RUN notifications (official samples).
/// - `worker.work-assignment.terminate`: the terminate *action* API's name; its notification
///   is expected to carry the same name (unconfirmed, so accepted).
/// - `worker.terminate-date.change`: RUN's "TerminateDate-Change" notification (official
///   sample; the new date is under `data.transform`).
/// - `worker.termination-date.change`, `worker.work-assignment.termination-date.change`,
///   `worker.work-assignment.terminate-date.change`: spellings of the same change seen in
///   integrator material; accepted so a rename does not silently drop terminations.
pub const TERMINATION_EVENTS: &[&str] = &[
    "worker.terminate",
    "worker.work-assignment.terminate",
    "worker.terminate-date.change",
    "worker.termination-date.change",
    "worker.work-assignment.termination-date.change",
    "worker.work-assignment.terminate-date.change",
];

/// A message from the event-notification queue. The body is kept as text, so a message that
/// cannot be parsed can still be recorded (with the reason) and acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdpMessage {
    /// The `adp-msg-msgid` header: what [`super::AdpClient::ack`] deletes. `None` when ADP sent
    /// none: the message cannot be deleted, so the queue stays blocked behind it.
    pub msg_id: Option<String>,
    /// The raw body.
    pub body: String,
}

impl AdpMessage {
    /// The body as an event.
    pub fn event(&self) -> Result<AdpEvent, AdpParseError> {
        parse_event(&self.body)
    }
}

/// A parsed event notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdpEvent {
    /// `eventID` / `_eventID`: the dedup key.
    pub event_id: String,
    /// `eventNameCode.codeValue`, e.g. `worker.terminate`.
    pub name: String,
    /// The worker the event is about.
    pub associate_oid: String,
    /// `YYYY-MM-DD`, when the payload carries one (see [`parse_event`]).
    pub termination_date: Option<Date>,
    /// When ADP recorded the event (epoch ms).
    pub event_time_ms: i64,
    /// Whether `name` is one of [`TERMINATION_EVENTS`].
    pub is_termination: bool,
    /// `eventReasonCode.shortName` (or `codeValue`), when present.
    pub reason: Option<String>,
}

/// Why a message is not a usable event. The message names the missing or bad field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdpParseError {
    pub message: String,
}

fn perr(message: impl AsRef<str>) -> AdpParseError {
    AdpParseError {
        message: format!("ADP message: {}", message.as_ref()),
    }
}

/// Parse an event-notification body. Both envelopes are read:
///
/// - **classic** (WFN / RUN): `{"events":[{"eventID", "eventNameCode":{"codeValue"},
///   "recordDateTime", "creationDateTime", "effectiveDateTime", "eventReasonCode",
///   "data":{"eventContext":{"worker":{"associateOID"}}, "output"|"transform":{"worker":{
///   "associateOID", "workerDates":{"terminationDate"}, "workerStatus":{"effectiveDate"}}}}}]}`;
/// - **underscore-prefixed** (next-gen): the same names with a leading `_` (`_eventID`,
///   `_eventNameCode`, `_recordDateTime`, `_output`, …) and the worker in
///   `_subjects[{associateOID, …}]`, either at the top level or inside `events[0]`.
///
/// Rules:
/// - The worker is the first non-empty of `_subjects[0].associateOID`,
///   `data.output.worker.associateOID`, `data.transform.worker.associateOID`,
///   `data.eventContext.worker.associateOID` (samples leave some of them `""`).
/// - The termination date is the worker's `workerDates.terminationDate`, else (for a
///   termination) `workerStatus.effectiveDate`, else the event's `effectiveDateTime`;
///   normalised to `YYYY-MM-DD` (date-times such as `2019-05-27T04:00:00.000+0000` keep their
///   written date). A date in another format is an error, not a guess.
/// - **The event time** (the latest fact about a person wins) is the message's own time: the
///   first readable of `recordDateTime`, `creationDateTime`; an event with neither is an error.
///   `effectiveDateTime` is when the change takes effect (often the future last day), not when
///   it happened, so it never dates the event. One in the future is clamped when the message
///   is read (see `queue.rs`).
pub fn parse_event(raw: &str) -> Result<AdpEvent, AdpParseError> {
    let root: Value =
        serde_json::from_str(raw).map_err(|e| perr(format!("the body is not JSON ({e})")))?;
    let root = root
        .as_object()
        .ok_or_else(|| perr("the body is not a JSON object"))?;
    let ev = match root.get("events") {
        Some(Value::Array(list)) => match list.first() {
            Some(Value::Object(e)) => e,
            Some(_) => return Err(perr("'events[0]' is not an object")),
            None => return Err(perr("'events' is empty")),
        },
        Some(_) => return Err(perr("'events' is not a list")),
        None if get(root, "eventID").is_some() => root,
        None => {
            return Err(perr(
                "not an ADP event notification (no 'events' list and no '_eventID')",
            ));
        }
    };

    let event_id = match get(ev, "eventID").map(id_text) {
        Some(Ok(Some(id))) => id,
        Some(Err(got)) => return Err(perr(format!("'eventID' must be text, got {got}"))),
        _ => return Err(perr("'eventID' is missing")),
    };
    let name = get(ev, "eventNameCode")
        .and_then(|c| match c {
            Value::Object(o) => o.get("codeValue").and_then(Value::as_str),
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            perr(format!(
                "event {} has no 'eventNameCode.codeValue'",
                quote(&event_id)
            ))
        })?
        .to_string();
    let is_termination = TERMINATION_EVENTS
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&name));

    let data = get(ev, "data").and_then(Value::as_object);
    let worker_of = |section: &str| -> Option<&serde_json::Map<String, Value>> {
        data.and_then(|d| d.get(section))
            .or_else(|| get(ev, section))
            .and_then(|s| s.get("worker"))
            .and_then(Value::as_object)
    };
    let workers: Vec<&serde_json::Map<String, Value>> = ["output", "transform"]
        .iter()
        .filter_map(|s| worker_of(s))
        .collect();

    let subject_oid = get(ev, "subjects")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
        .and_then(|s| s.get("associateOID"));
    let context_oid = data
        .and_then(|d| d.get("eventContext"))
        .and_then(|c| c.get("worker"))
        .and_then(|w| w.get("associateOID"));
    let associate_oid = std::iter::once(subject_oid)
        .chain(workers.iter().map(|w| w.get("associateOID")))
        .chain(std::iter::once(context_oid))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::trim)
        .find(|s| !s.is_empty())
        .ok_or_else(|| {
            perr(format!(
                "event {} ({name}) names no worker (no associateOID)",
                quote(&event_id)
            ))
        })?
        .to_string();

    let mut date_source: Option<(&str, &str)> = None;
    for w in &workers {
        if let Some(d) = w
            .get("workerDates")
            .and_then(|d| d.get("terminationDate"))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
        {
            date_source = Some(("workerDates.terminationDate", d));
            break;
        }
    }
    if date_source.is_none() && is_termination {
        date_source = workers
            .iter()
            .find_map(|w| {
                w.get("workerStatus")
                    .and_then(|s| s.get("effectiveDate"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
            })
            .map(|d| ("workerStatus.effectiveDate", d))
            .or_else(|| {
                get(ev, "effectiveDateTime")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(|d| ("effectiveDateTime", d))
            });
    }
    let termination_date = match date_source {
        Some((field, raw_date)) => Some(
            normalize_date(raw_date)
                .map_err(|e| perr(format!("event {}: '{field}': {e}", quote(&event_id))))?,
        ),
        None => None,
    };

    // The event time is when the event was recorded, never when it takes effect: a
    // termination's effectiveDateTime is usually the (future) last day.
    let event_time_ms = ["recordDateTime", "creationDateTime"]
        .iter()
        .filter_map(|f| get(ev, f).and_then(Value::as_str))
        .find_map(parse_instant_ms)
        .ok_or_else(|| {
            perr(format!(
                "event {} has no readable 'recordDateTime' or 'creationDateTime'",
                quote(&event_id)
            ))
        })?;

    let reason = get(ev, "eventReasonCode")
        .and_then(|r| r.get("shortName").or_else(|| r.get("codeValue")))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from);

    Ok(AdpEvent {
        event_id,
        name,
        associate_oid,
        termination_date,
        event_time_ms,
        is_termination,
        reason,
    })
}

/// A field under its classic name or its underscore-prefixed next-gen name.
fn get<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name)
        .filter(|v| !v.is_null())
        .or_else(|| obj.get(&format!("_{name}")).filter(|v| !v.is_null()))
}

impl AdpEvent {
    /// A termination event and the worker's record as a departure ([`termination_departure`]).
    pub fn to_departure(&self, worker: &Worker) -> Result<Departure, AdpParseError> {
        if !self.is_termination {
            return Err(perr(format!(
                "event {} ({}) is not a termination",
                quote(&self.event_id),
                self.name
            )));
        }
        termination_departure(&self.recorded(), worker)
    }

    /// What riskflow keeps of the event when it records the message.
    pub fn recorded(&self) -> RecordedTermination {
        RecordedTermination {
            event_id: self.event_id.clone(),
            associate_oid: self.associate_oid.clone(),
            termination_date: self.termination_date,
            event_time_ms: self.event_time_ms,
            reason: self.reason.clone(),
        }
    }
}

/// A termination event as riskflow records it (ADP's message is acknowledged before the
/// worker is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTermination {
    pub event_id: String,
    pub associate_oid: String,
    pub termination_date: Option<Date>,
    pub event_time_ms: i64,
    pub reason: Option<String>,
}

/// **The rule**: a termination and the worker's record as a departure. The date is the
/// event's, else the worker record's; the email is the worker's business email; the reason is
/// the event's. The departure is dated by the event time; its id is the `eventID`.
pub fn termination_departure(
    t: &RecordedTermination,
    worker: &Worker,
) -> Result<Departure, AdpParseError> {
    let email = worker.business_email.clone().ok_or_else(|| {
        perr(format!(
            "worker {} has no business email, so riskflow cannot act on them",
            quote(&worker.associate_oid)
        ))
    })?;
    let date = t
        .termination_date
        .or(worker.termination_date)
        .ok_or_else(|| {
            perr(format!(
                "neither event {} nor worker {} has a termination date",
                quote(&t.event_id),
                quote(&worker.associate_oid)
            ))
        })?;
    Ok(Departure {
        source: HrSource::Adp,
        kind: HrEventKind::Departure,
        source_event_id: t.event_id.clone(),
        event_time: t.event_time_ms,
        email,
        employee_id: Some(t.associate_oid.clone()),
        departure_date: Some(date),
        reason: t.reason.clone(),
    })
}

/// The worker fields riskflow reads from `GET /hr/v2/workers/{aoid}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    pub associate_oid: String,
    /// `businessCommunication.emails[]` whose `nameCode.codeValue` is `Business`, else the
    /// first business email; lower-cased. The personal address (`person.communication`) is
    /// never used.
    pub business_email: Option<String>,
    /// `workerDates.terminationDate`, `YYYY-MM-DD`.
    pub termination_date: Option<Date>,
    /// `workerStatus.statusCode.codeValue` (`A` active, `T` terminated, …).
    pub status_code: Option<String>,
}

impl Worker {
    /// Whether ADP shows the worker as terminated (`T`).
    pub fn is_terminated(&self) -> bool {
        self.status_code
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("T"))
    }

    /// Read the `{"workers":[{…}]}` answer. Unknown fields are ignored.
    pub fn from_response(requested_aoid: &str, v: &Value) -> Result<Worker, String> {
        let w = v
            .get("workers")
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .and_then(Value::as_object)
            .ok_or_else(|| format!("ADP returned no worker for {}", quote(requested_aoid)))?;
        let associate_oid = w
            .get("associateOID")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(requested_aoid)
            .to_string();

        let emails: &[Value] = w
            .get("businessCommunication")
            .and_then(|b| b.get("emails"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let uri = |e: &Value| {
            e.get("emailUri")
                .and_then(Value::as_str)
                .and_then(normalize_email)
        };
        let is_business = |e: &Value| {
            e.get("nameCode")
                .and_then(|n| n.get("codeValue"))
                .and_then(Value::as_str)
                .is_some_and(|c| c.eq_ignore_ascii_case("business"))
        };
        let business_email = emails
            .iter()
            .filter(|e| is_business(e))
            .find_map(uri)
            .or_else(|| emails.iter().find_map(uri));

        let termination_date = match w
            .get("workerDates")
            .and_then(|d| d.get("terminationDate"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(d) => Some(normalize_date(d).map_err(|e| {
                format!(
                    "worker {}: 'workerDates.terminationDate': {e}",
                    quote(&associate_oid)
                )
            })?),
            None => None,
        };
        let status_code = w
            .get("workerStatus")
            .and_then(|s| s.get("statusCode"))
            .and_then(|c| c.get("codeValue"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from);
        Ok(Worker {
            associate_oid,
            business_email,
            termination_date,
            status_code,
        })
    }
}
