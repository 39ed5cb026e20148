//! The incident life cycle (`sync-apis.md` §3): states `1` New, `2` In Progress, `3` On
//! Hold, `6` Resolved, `7` Closed, `8` Canceled; who may write what; the data policy that
//! makes Resolution code and notes mandatory on Resolved and Closed; reopening; the
//! "Autoclose Incidents" job; the `sys_choice` rows an instance answers for `close_code`.
//!
//! Refused, as the instance refuses them:
//! - `state` 6 or 7 without `close_code` and `close_notes` (in the request or already on the
//!   record): 403 `Operation Failed` / `Data Policy Exception: The following fields are
//!   mandatory: Resolution code, Resolution notes` (only the missing ones named);
//! - `state` 7 by a user without `admin` (closing needs `itil_admin` or `admin`), and any write
//!   to a Closed incident by such a user: 403 `Operation Failed` / `ACL Exception Update
//!   Failed due to security constraints` (wording [unconfirmed]).
//!
//! Not refused, as on a real instance: a `close_code` that is not one of the choices (a choice
//! field stores any value; clients check against `sys_choice`), Canceled without close fields
//! (required fields for Canceled are [unconfirmed]).

use axum::http::StatusCode;
use axum::response::Response;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::errors::error;
use super::schema::Record;
use super::state::{SnowState, apply_values, priority_of};
use crate::util::{self, IdGen};

/// Who writes: the user name (`sys_updated_by`, journal author) and whether they have
/// `admin` (else `itil`).
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub user: String,
    pub admin: bool,
}

/// The OOB `close_code` choices of a current instance (value = label), in order.
pub const CLOSE_CODES: [&str; 10] = [
    "Duplicate",
    "Known error",
    "No resolution provided",
    "Resolved by caller",
    "Resolved by change",
    "Resolved by problem",
    "Resolved by request",
    "Solution provided",
    "Workaround provided",
    "User error",
];

/// The incident `state` choices (value, label).
pub const STATES: [(&str, &str); 6] = [
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
];

/// The `sys_choice` rows of a new instance: incident `state` and `close_code`.
pub(crate) fn choice_rows(ids: &mut IdGen, now: &str) -> Vec<Record> {
    let mut rows = Vec::new();
    let states = STATES.iter().map(|(v, l)| ("state", *v, *l));
    let codes = CLOSE_CODES.iter().map(|c| ("close_code", *c, *c));
    for (n, (element, value, label)) in states.chain(codes).enumerate() {
        let mut r = Record::new();
        for (k, v) in [
            ("name", "incident"),
            ("element", element),
            ("value", value),
            ("label", label),
            ("language", "en"),
            ("inactive", "false"),
            ("sys_created_on", now),
            ("sys_updated_on", now),
            ("sys_created_by", "system"),
            ("sys_updated_by", "system"),
            ("sys_mod_count", "0"),
            ("sys_class_name", "sys_choice"),
        ] {
            r.insert(k.to_string(), v.to_string());
        }
        r.insert("sys_id".into(), ids.hex32("sys_choice"));
        r.insert("sequence".into(), (n * 10).to_string());
        rows.push(r);
    }
    rows
}

fn forbidden(detail: &str) -> Response {
    error(StatusCode::FORBIDDEN, "Operation Failed", Some(detail))
}

const ACL_DETAIL: &str = "ACL Exception Update Failed due to security constraints";

fn get<'a>(r: &'a Record, k: &str) -> &'a str {
    r.get(k).map(String::as_str).unwrap_or("")
}

/// Check an incident update (`before` → `after`) against the ACLs and the data policy.
fn check(before: &Record, after: &Record, caller: &Caller) -> Result<(), String> {
    if get(before, "state") == "7" && !caller.admin {
        return Err(ACL_DETAIL.to_string());
    }
    let state = get(after, "state");
    if state == "7" && get(before, "state") != "7" && !caller.admin {
        return Err(ACL_DETAIL.to_string());
    }
    if matches!(state, "6" | "7") {
        let missing: Vec<&str> = [
            ("close_code", "Resolution code"),
            ("close_notes", "Resolution notes"),
        ]
        .iter()
        .filter(|(k, _)| get(after, k).trim().is_empty())
        .map(|(_, label)| *label)
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "Data Policy Exception: The following fields are mandatory: {}",
                missing.join(", ")
            ));
        }
    }
    Ok(())
}

/// Check a new incident against the ACLs and the data policy.
pub(crate) fn check_insert(rec: &Record, caller: &Caller) -> Result<(), Response> {
    check(&Record::new(), rec, caller).map_err(|d| forbidden(&d))
}

/// What the instance fills in when the state changes.
fn on_state_change(before: &Record, rec: &mut Record, caller_sys_id: &str, now: &str) {
    let from = get(before, "state").to_string();
    let to = get(rec, "state").to_string();
    if from == to {
        return;
    }
    rec.insert("incident_state".into(), to.clone());
    match to.as_str() {
        "6" => {
            rec.insert("resolved_at".into(), now.into());
            rec.insert("resolved_by".into(), caller_sys_id.into());
        }
        "7" => {
            rec.insert("closed_at".into(), now.into());
            rec.insert("closed_by".into(), caller_sys_id.into());
            rec.insert("active".into(), "false".into());
        }
        "8" => {
            rec.insert("active".into(), "false".into());
        }
        _ => {
            rec.insert("active".into(), "true".into());
        }
    }
    if from == "6" && matches!(to.as_str(), "1" | "2" | "3") {
        // Reopened: the close fields stay (no OOB rule clears them, [unconfirmed]).
        let n = get(rec, "reopen_count").parse::<u64>().unwrap_or(0) + 1;
        rec.insert("reopen_count".into(), n.to_string());
        rec.insert("reopened_by".into(), caller_sys_id.into());
        rec.insert("reopened_time".into(), now.into());
    }
}

/// Update one record as `caller`, as `PATCH`/`PUT` does: the life-cycle rules for incidents,
/// the journal, `sys_updated_on`/`sys_updated_by`/`sys_mod_count`. Answers the stored record
/// or the refusal.
pub(crate) fn update_record(
    st: &mut SnowState,
    ids: &mut IdGen,
    table: &str,
    sys_id: &str,
    obj: &Map<String, Value>,
    input_display: bool,
    caller: &Caller,
) -> Result<Record, Response> {
    let Some(before) = st.find(table, sys_id).cloned() else {
        return Err(super::errors::record_not_found());
    };
    let mut rec = before.clone();
    let journal = apply_values(st, table, &mut rec, obj, input_display);
    let now = util::snow_time(Timestamp::now());
    if table == "incident" {
        if !obj.contains_key("priority")
            && (obj.contains_key("urgency") || obj.contains_key("impact"))
        {
            let p = priority_of(get(&rec, "urgency"), get(&rec, "impact"));
            rec.insert("priority".into(), p.into());
        }
        check(&before, &rec, caller).map_err(|d| forbidden(&d))?;
        let caller_id = st.user_sys_id(&caller.user).unwrap_or_default();
        on_state_change(&before, &mut rec, &caller_id, &now);
    }
    let count = get(&rec, "sys_mod_count").parse::<u64>().unwrap_or(0) + 1;
    rec.insert("sys_mod_count".into(), count.to_string());
    rec.insert("sys_updated_on".into(), now);
    rec.insert("sys_updated_by".into(), caller.user.clone());
    st.add_journal(ids, table, sys_id, journal, &caller.user);
    if let Some(t) = st.tables.get_mut(table) {
        for r in t.iter_mut() {
            if r.get("sys_id").map(String::as_str) == Some(sys_id) {
                *r = rec.clone();
            }
        }
    }
    Ok(rec)
}

/// What an analyst does in the UI (`SandboxHandle::servicenow_analyst_update`): write
/// `fields` (e.g. `{"state":"6","close_code":"Solution provided","close_notes":"..."}`) to an
/// incident (sys_id or number) as `user`, with `admin` rights unless `admin` is false.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnowAnalystUpdate {
    /// Field values, as a PATCH body.
    pub fields: Map<String, Value>,
    /// User name (`sys_updated_by`), default `analyst.one`.
    #[serde(default = "default_analyst")]
    pub user: String,
    /// Whether the user has `admin` (may close); default true.
    #[serde(default = "yes")]
    pub admin: bool,
}

fn default_analyst() -> String {
    "analyst.one".into()
}

fn yes() -> bool {
    true
}

/// The incident's sys_id, given its sys_id or number.
pub(crate) fn incident_id(st: &SnowState, id_or_number: &str) -> Option<String> {
    st.tables.get("incident")?.iter().find_map(|r| {
        (get(r, "sys_id") == id_or_number || get(r, "number") == id_or_number)
            .then(|| get(r, "sys_id").to_string())
    })
}

/// Perform an analyst's update; the error says why the instance would refuse it.
pub(crate) fn analyst_update(
    st: &mut SnowState,
    ids: &mut IdGen,
    id_or_number: &str,
    u: &SnowAnalystUpdate,
) -> Result<String, String> {
    let sys_id =
        incident_id(st, id_or_number).ok_or_else(|| format!("no incident {id_or_number}"))?;
    st.ensure_user(ids, &u.user);
    let caller = Caller {
        user: u.user.clone(),
        admin: u.admin,
    };
    update_record(st, ids, "incident", &sys_id, &u.fields, false, &caller).map_err(|resp| {
        let _ = resp;
        check_text(st, &sys_id, &u.fields, &caller)
    })?;
    Ok(sys_id)
}

/// The refusal's text, for the control API (the same check as [`update_record`]).
fn check_text(
    st: &SnowState,
    sys_id: &str,
    fields: &Map<String, Value>,
    caller: &Caller,
) -> String {
    let Some(before) = st.find("incident", sys_id).cloned() else {
        return format!("no incident {sys_id}");
    };
    let mut after = before.clone();
    let _ = apply_values(st, "incident", &mut after, fields, false);
    check(&before, &after, caller).err().unwrap_or_default()
}

/// The "Autoclose Incidents" job: close every Resolved incident resolved at least `days`
/// days ago (`glide.ui.autoclose.time`, 7 by default; 0 closes every Resolved one), as
/// `system`. Answers the numbers closed.
pub(crate) fn autoclose(st: &mut SnowState, ids: &mut IdGen, days: u64) -> Vec<String> {
    let cutoff = Timestamp::now()
        .checked_sub(Span::new().hours(24 * days as i64))
        .map(util::snow_time)
        .unwrap_or_default();
    let due: Vec<(String, String)> = st
        .tables
        .get("incident")
        .into_iter()
        .flatten()
        .filter(|r| get(r, "state") == "6" && get(r, "resolved_at") <= cutoff.as_str())
        .map(|r| (get(r, "sys_id").to_string(), get(r, "number").to_string()))
        .collect();
    let system = Caller {
        user: "system".into(),
        admin: true,
    };
    let mut closed = Vec::new();
    for (sys_id, number) in due {
        let mut body = Map::new();
        body.insert("state".into(), Value::String("7".into()));
        if update_record(st, ids, "incident", &sys_id, &body, false, &system).is_ok() {
            closed.push(number);
        }
    }
    closed
}
