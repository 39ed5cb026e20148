//! ServiceNow Table API wire types: the incident to create, incidents as read back, and the
//! one deserializer every value goes through.
//!
//! The Table API sends every value as a string (`"impact":"2"`), a reference field as
//! `{"link": …, "value": <sys_id>}` or `""` when empty, or (with
//! `sysparm_exclude_reference_link=true`) as a plain string. [`snow_value`] takes all of these
//! (and numbers, booleans, `null`), mapping empty to `None`.

use serde::{Deserialize, Deserializer, Serialize};

/// One Table API value as an optional string: `"x"`, `{"value":"x",…}`, a number or a boolean
/// become `Some`, and `""`, `null`, `{}` or a missing `value` become `None`.
pub fn snow_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde_json::Value;
    let v = Option::<Value>::deserialize(d)?;
    let s = match v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Object(mut m)) => match m.remove("value") {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    };
    Ok(s.filter(|s| !s.is_empty()))
}

/// An incident to create (`POST /api/now/v2/table/incident`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIncident {
    /// One line; cut at 160 characters (the field's usual length).
    pub short_description: String,
    pub description: String,
    /// `"1"` high, `"2"` medium, `"3"` low.
    pub urgency: String,
    /// `"1"` high, `"2"` medium, `"3"` low.
    pub impact: String,
    /// The dedup key, e.g. `riskflow-alert-tickets-<sessionId>`; no `^ = & @` or newlines.
    pub correlation_id: String,
    /// e.g. `Code42 Incydr`.
    pub correlation_display: String,
    /// A `sys_user_group` sys_id.
    pub assignment_group: Option<String>,
    /// A `sys_user` sys_id.
    pub caller_id: Option<String>,
    pub category: Option<String>,
}

/// An incident as riskflow knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// 32 hex characters.
    pub sys_id: String,
    /// e.g. `INC0010002`.
    pub number: Option<String>,
    pub correlation_id: Option<String>,
    /// `1` = New, …
    pub state: Option<String>,
    /// A link a person can open: `<instance>/nav_to.do?uri=incident.do?sys_id=<sys_id>`.
    pub link: String,
}

/// An incident record as the Table API sends it (subset).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct IncidentRecord {
    #[serde(default, deserialize_with = "snow_value")]
    pub sys_id: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub number: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub correlation_id: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub state: Option<String>,
}

/// `{"result": {...}}` or `{"result": [...]}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Envelope<T> {
    pub result: T,
}

/// A `sys_user` record (subset).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct UserRecord {
    #[serde(default, deserialize_with = "snow_value")]
    pub sys_id: Option<String>,
    #[serde(default, deserialize_with = "snow_value")]
    pub email: Option<String>,
}

/// ServiceNow `(urgency, impact)` for an Incydr severity 0..=4 (above 4 counts as 4):
/// 4 → 1/1, 3 → 1/2, 2 → 2/2, 1 → 3/2, 0 → 3/3.
pub fn urgency_impact_for_severity(severity: u8) -> (&'static str, &'static str) {
    match severity {
        0 => ("3", "3"),
        1 => ("3", "2"),
        2 => ("2", "2"),
        3 => ("1", "2"),
        _ => ("1", "1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deserializer_reads_strings_reference_objects_and_empty_references() {
        let r: IncidentRecord = serde_json::from_str(
            r#"{"sys_id":{"link":"https://x/api/now/table/incident/abc","value":"abc"},
                "number":"INC0010002","correlation_id":"","state":1}"#,
        )
        .unwrap();
        assert_eq!(r.sys_id.as_deref(), Some("abc"));
        assert_eq!(r.number.as_deref(), Some("INC0010002"));
        assert_eq!(r.correlation_id, None);
        assert_eq!(r.state.as_deref(), Some("1"));
        let r: IncidentRecord = serde_json::from_str(r#"{"sys_id":null}"#).unwrap();
        assert_eq!(r.sys_id, None);
    }

    #[test]
    fn severities_map_to_urgency_and_impact() {
        assert_eq!(
            [0, 1, 2, 3, 4].map(urgency_impact_for_severity),
            [("3", "3"), ("3", "2"), ("2", "2"), ("1", "2"), ("1", "1")]
        );
    }
}
