//! How a record renders: `sysparm_fields`, `sysparm_display_value` (`true`/`all`),
//! `sysparm_exclude_reference_link`, reference links and choice labels.

use serde_json::{Map, Value, json};

use super::schema::{Record, is_journal, reference_table};
use super::state::SnowState;
use crate::util::Query;

#[derive(PartialEq, Clone, Copy)]
enum DisplayMode {
    Value,
    Display,
    All,
}

pub(super) struct RenderOpts {
    fields: Option<Vec<String>>,
    exclude_ref_link: bool,
    display: DisplayMode,
    base: String,
}

pub(super) fn render_opts(q: &Query, base: String) -> RenderOpts {
    let fields = q.get("sysparm_fields").map(|f| {
        f.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
    });
    RenderOpts {
        fields,
        exclude_ref_link: q
            .get("sysparm_exclude_reference_link")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        display: match q
            .get("sysparm_display_value")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("true") => DisplayMode::Display,
            Some("all") => DisplayMode::All,
            _ => DisplayMode::Value,
        },
        base,
    }
}

fn choice_label(table: &str, field: &str, v: &str) -> Option<&'static str> {
    if table != "incident" {
        return None;
    }
    Some(match (field, v) {
        ("urgency" | "impact", "1") => "1 - High",
        ("urgency" | "impact", "2") => "2 - Medium",
        ("urgency" | "impact", "3") => "3 - Low",
        ("priority", "1") => "1 - Critical",
        ("priority", "2") => "2 - High",
        ("priority", "3") => "3 - Moderate",
        ("priority", "4") => "4 - Low",
        ("priority", "5") => "5 - Planning",
        ("state" | "incident_state", "1") => "New",
        ("state" | "incident_state", "2") => "In Progress",
        ("state" | "incident_state", "3") => "On Hold",
        ("state" | "incident_state", "6") => "Resolved",
        ("state" | "incident_state", "7") => "Closed",
        ("state" | "incident_state", "8") => "Canceled",
        _ => return None,
    })
}

pub(super) fn render(st: &SnowState, table: &str, rec: &Record, o: &RenderOpts) -> Value {
    let mut out = Map::new();
    let sys_id = rec.get("sys_id").cloned().unwrap_or_default();
    for (k, v) in rec {
        if let Some(f) = &o.fields {
            if !f.iter().any(|x| x == k) {
                continue;
            }
        }
        let value_form = |v: &str| -> Value {
            if let Some(rt) = reference_table(table, k) {
                if v.is_empty() {
                    json!("")
                } else if o.exclude_ref_link {
                    json!(v)
                } else {
                    json!({"link": format!("{}/api/now/table/{rt}/{v}", o.base), "value": v})
                }
            } else {
                json!(v)
            }
        };
        let display = || -> String {
            if let Some(rt) = reference_table(table, k) {
                st.display_of(rt, v)
            } else if is_journal(table, k) {
                st.journal_text(&sys_id, k)
            } else {
                choice_label(table, k, v)
                    .map(str::to_string)
                    .unwrap_or_else(|| v.clone())
            }
        };
        let rendered = match o.display {
            DisplayMode::Value => value_form(v),
            DisplayMode::Display => {
                if let Some(rt) = reference_table(table, k) {
                    if v.is_empty() || o.exclude_ref_link {
                        json!(display())
                    } else {
                        json!({"display_value": display(), "link": format!("{}/api/now/table/{rt}/{v}", o.base)})
                    }
                } else {
                    json!(display())
                }
            }
            DisplayMode::All => {
                let mut m = Map::new();
                m.insert("display_value".into(), json!(display()));
                m.insert("value".into(), json!(v));
                if let Some(rt) = reference_table(table, k) {
                    if !v.is_empty() && !o.exclude_ref_link {
                        m.insert(
                            "link".into(),
                            json!(format!("{}/api/now/table/{rt}/{v}", o.base)),
                        );
                    }
                }
                Value::Object(m)
            }
        };
        out.insert(k.clone(), rendered);
    }
    Value::Object(out)
}
