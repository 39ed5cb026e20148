//! ServiceNow state: the table records and the journal (work notes and comments); writing
//! records as the instance does (numbers, defaults, priority from urgency and impact); the
//! views `GET /_control/state` shows.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::schema::{Record, is_journal, max_length, reference_table, schema};
use crate::util::{self, IdGen};

#[derive(Clone, Debug)]
pub(crate) struct Journal {
    pub sys_id: String,
    pub element_id: String,
    pub element: String,
    pub table: String,
    pub value: String,
    pub created: String,
    pub created_by: String,
}

/// ServiceNow state.
pub(crate) struct SnowState {
    pub tables: BTreeMap<String, Vec<Record>>,
    pub journal: Vec<Journal>,
    pub next_number: u64,
    pub admin_sys_id: String,
}

impl SnowState {
    pub(crate) fn new(ids: &mut IdGen) -> SnowState {
        let mut s = SnowState {
            tables: BTreeMap::new(),
            journal: Vec::new(),
            next_number: 10001,
            admin_sys_id: ids.hex32("sys_user"),
        };
        let now = util::snow_time(Timestamp::now());
        let mut admin = empty_record("sys_user");
        for (k, v) in [
            ("sys_id", s.admin_sys_id.as_str()),
            ("user_name", "admin"),
            ("email", "admin@example.com"),
            ("first_name", "System"),
            ("last_name", "Administrator"),
            ("name", "System Administrator"),
            ("active", "true"),
            ("sys_created_on", now.as_str()),
            ("sys_updated_on", now.as_str()),
            ("sys_created_by", "system"),
            ("sys_updated_by", "system"),
            ("sys_mod_count", "0"),
        ] {
            admin.insert(k.to_string(), v.to_string());
        }
        s.tables.entry("sys_user".into()).or_default().push(admin);
        s.ensure_user(ids, crate::creds::SERVICENOW_ITIL_USER);
        let choices = super::lifecycle::choice_rows(ids, &now);
        s.tables.insert("sys_choice".into(), choices);
        s
    }

    /// The sys_id of a `sys_user` by user name.
    pub(crate) fn user_sys_id(&self, user_name: &str) -> Option<String> {
        self.tables.get("sys_user")?.iter().find_map(|r| {
            (r.get("user_name").map(String::as_str) == Some(user_name))
                .then(|| r.get("sys_id").cloned())
                .flatten()
        })
    }

    /// Make a `sys_user` with this user name unless there is one.
    pub(crate) fn ensure_user(&mut self, ids: &mut IdGen, user_name: &str) {
        if self.user_sys_id(user_name).is_some() {
            return;
        }
        let now = util::snow_time(Timestamp::now());
        let mut u = empty_record("sys_user");
        for (k, v) in [
            ("user_name", user_name),
            ("name", user_name),
            ("active", "true"),
            ("sys_created_on", now.as_str()),
            ("sys_updated_on", now.as_str()),
            ("sys_created_by", "system"),
            ("sys_updated_by", "system"),
            ("sys_mod_count", "0"),
            ("sys_class_name", "sys_user"),
        ] {
            u.insert(k.to_string(), v.to_string());
        }
        u.insert("sys_id".into(), ids.hex32("sys_user"));
        self.tables.entry("sys_user".into()).or_default().push(u);
    }

    pub(crate) fn find(&self, table: &str, sys_id: &str) -> Option<&Record> {
        self.tables
            .get(table)?
            .iter()
            .find(|r| r.get("sys_id").map(String::as_str) == Some(sys_id))
    }

    pub(crate) fn display_of(&self, table: &str, sys_id: &str) -> String {
        self.find(table, sys_id)
            .map(|r| {
                r.get("name")
                    .filter(|n| !n.is_empty())
                    .or_else(|| r.get("user_name"))
                    .cloned()
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    pub(crate) fn resolve_display(&self, table: &str, display: &str) -> Option<String> {
        self.tables.get(table)?.iter().find_map(|r| {
            let hit = ["name", "user_name", "email"]
                .iter()
                .any(|k| r.get(*k).is_some_and(|v| !v.is_empty() && v == display));
            if hit { r.get("sys_id").cloned() } else { None }
        })
    }

    pub(crate) fn journal_records(&self) -> Vec<Record> {
        self.journal
            .iter()
            .map(|j| {
                let mut r = Record::new();
                r.insert("sys_id".into(), j.sys_id.clone());
                r.insert("element".into(), j.element.clone());
                r.insert("element_id".into(), j.element_id.clone());
                r.insert("name".into(), j.table.clone());
                r.insert("value".into(), j.value.clone());
                r.insert("sys_created_on".into(), j.created.clone());
                r.insert("sys_created_by".into(), j.created_by.clone());
                r
            })
            .collect()
    }

    pub(crate) fn journal_text(&self, sys_id: &str, field: &str) -> String {
        self.journal
            .iter()
            .rev()
            .filter(|j| {
                j.element_id == sys_id && (j.element == field || field == "comments_and_work_notes")
            })
            .map(|j| {
                let label = if j.element == "work_notes" {
                    "Work notes"
                } else {
                    "Additional comments"
                };
                format!(
                    "{} - System Administrator ({label})\n{}\n\n",
                    j.created, j.value
                )
            })
            .collect()
    }
}

fn empty_record(table: &str) -> Record {
    schema(table)
        .unwrap_or(&[])
        .iter()
        .map(|f| (f.to_string(), String::new()))
        .collect()
}

pub(crate) fn priority_of(urgency: &str, impact: &str) -> &'static str {
    let u: i64 = urgency.parse().unwrap_or(3);
    let i: i64 = impact.parse().unwrap_or(3);
    match u + i {
        2 => "1",
        3 => "2",
        4 => "3",
        5 => "4",
        _ => "5",
    }
}

fn stringify(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => o
            .get("value")
            .or_else(|| o.get("sys_id"))
            .map(stringify)
            .unwrap_or_default(),
        Value::Array(a) => a.iter().map(stringify).collect::<Vec<_>>().join(","),
    }
}

/// Apply written values to a record; journal entries are returned separately.
pub(crate) fn apply_values(
    st: &SnowState,
    table: &str,
    rec: &mut Record,
    body: &Map<String, Value>,
    input_display: bool,
) -> Vec<(String, String)> {
    let Some(fields) = schema(table) else {
        return Vec::new();
    };
    let mut journal = Vec::new();
    for (k, v) in body {
        if !fields.contains(&k.as_str()) || k.starts_with("sys_") || k == "number" {
            // Unknown fields and system fields are ignored on write.
            continue;
        }
        let mut text = stringify(v);
        if is_journal(table, k) {
            if !text.trim().is_empty() && k != "comments_and_work_notes" {
                journal.push((k.clone(), text));
            }
            continue;
        }
        if let Some(rt) = reference_table(table, k) {
            if input_display && !text.is_empty() && st.find(rt, &text).is_none() {
                if let Some(id) = st.resolve_display(rt, &text) {
                    text = id;
                }
            }
        }
        if let Some(max) = max_length(table, k) {
            text = text.chars().take(max).collect();
        }
        rec.insert(k.clone(), text);
    }
    journal
}

impl SnowState {
    pub(crate) fn seed_record(
        &mut self,
        ids: &mut IdGen,
        table: &str,
        body: BTreeMap<String, Value>,
    ) -> Option<String> {
        schema(table)?;
        if table == "sys_journal_field" {
            return None;
        }
        let body: Map<String, Value> = body.into_iter().collect();
        let sys_id = body
            .get("sys_id")
            .map(stringify)
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| ids.hex32(table));
        let (rec, journal) = self.new_record(table, &sys_id, &body, false, "admin");
        self.store(ids, table, rec, journal, "admin");
        Some(sys_id)
    }

    pub(crate) fn new_record(
        &mut self,
        table: &str,
        sys_id: &str,
        body: &Map<String, Value>,
        input_display: bool,
        user: &str,
    ) -> (Record, Vec<(String, String)>) {
        let now = util::snow_time(Timestamp::now());
        let mut rec = empty_record(table);
        rec.insert("sys_id".into(), sys_id.to_string());
        rec.insert("sys_created_on".into(), now.clone());
        rec.insert("sys_updated_on".into(), now.clone());
        rec.insert("sys_created_by".into(), user.to_string());
        rec.insert("sys_updated_by".into(), user.to_string());
        rec.insert("sys_mod_count".into(), "0".into());
        rec.insert("sys_class_name".into(), table.to_string());
        if table == "incident" {
            let number = format!("INC{:07}", self.next_number);
            self.next_number += 1;
            for (k, v) in [
                ("number", number.as_str()),
                ("state", "1"),
                ("incident_state", "1"),
                ("active", "true"),
                ("urgency", "3"),
                ("impact", "3"),
                ("severity", "3"),
                ("category", "inquiry"),
                ("escalation", "0"),
                ("reopen_count", "0"),
                ("knowledge", "false"),
                ("made_sla", "true"),
                ("sys_domain", "global"),
                ("opened_at", now.as_str()),
            ] {
                rec.insert(k.into(), v.into());
            }
            rec.insert("opened_by".into(), self.admin_sys_id.clone());
        } else if table == "sys_user" || table == "sys_user_group" {
            rec.insert("active".into(), "true".into());
        }
        let journal = apply_values(self, table, &mut rec, body, input_display);
        if table == "incident" {
            let explicit = body.contains_key("priority");
            if !explicit {
                let p = priority_of(
                    rec.get("urgency").map(String::as_str).unwrap_or("3"),
                    rec.get("impact").map(String::as_str).unwrap_or("3"),
                );
                rec.insert("priority".into(), p.into());
            }
            if body.get("state").is_some() {
                let st = rec.get("state").cloned().unwrap_or_default();
                rec.insert("incident_state".into(), st);
            }
        }
        if table == "sys_user" && rec.get("name").is_none_or(String::is_empty) {
            let name = format!(
                "{} {}",
                rec.get("first_name").cloned().unwrap_or_default(),
                rec.get("last_name").cloned().unwrap_or_default()
            );
            rec.insert("name".into(), name.trim().to_string());
        }
        (rec, journal)
    }

    pub(crate) fn store(
        &mut self,
        ids: &mut IdGen,
        table: &str,
        rec: Record,
        journal: Vec<(String, String)>,
        user: &str,
    ) {
        let sys_id = rec.get("sys_id").cloned().unwrap_or_default();
        self.add_journal(ids, table, &sys_id, journal, user);
        let t = self.tables.entry(table.to_string()).or_default();
        t.retain(|r| r.get("sys_id") != Some(&sys_id));
        t.push(rec);
    }

    pub(crate) fn add_journal(
        &mut self,
        ids: &mut IdGen,
        table: &str,
        sys_id: &str,
        entries: Vec<(String, String)>,
        user: &str,
    ) {
        let now = util::snow_time(Timestamp::now());
        for (element, value) in entries {
            let jid = ids.hex32("sys_journal_field");
            self.journal.push(Journal {
                sys_id: jid,
                element_id: sys_id.to_string(),
                element,
                table: table.to_string(),
                value,
                created: now.clone(),
                created_by: user.to_string(),
            });
        }
    }

    pub(crate) fn incident_views(&self) -> Vec<SnowIncidentView> {
        self.tables
            .get("incident")
            .map(|t| {
                t.iter()
                    .map(|r| {
                        let sys_id = r.get("sys_id").cloned().unwrap_or_default();
                        let notes = |el: &str| {
                            self.journal
                                .iter()
                                .filter(|j| j.element_id == sys_id && j.element == el)
                                .map(|j| j.value.clone())
                                .collect()
                        };
                        SnowIncidentView {
                            number: r.get("number").cloned().unwrap_or_default(),
                            fields: r.clone(),
                            work_notes: notes("work_notes"),
                            comments: notes("comments"),
                            sys_id,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A ServiceNow incident as stored, with its journal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnowIncidentView {
    /// 32-hex id.
    pub sys_id: String,
    /// `INC00100xx`.
    pub number: String,
    /// Every field (strings).
    pub fields: BTreeMap<String, String>,
    /// Work notes, oldest first.
    pub work_notes: Vec<String>,
    /// Comments, oldest first.
    pub comments: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_follows_the_urgency_impact_matrix() {
        assert_eq!(priority_of("1", "1"), "1");
        assert_eq!(priority_of("2", "2"), "3");
        assert_eq!(priority_of("3", "3"), "5");
        assert_eq!(priority_of("1", "3"), "3");
    }
}
