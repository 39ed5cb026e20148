//! The tables the fake knows (`incident`, `sys_user`, `sys_user_group`, `sys_choice`, the
//! read-only `sys_journal_field`), their fields and their reference and journal fields.

use std::collections::BTreeMap;

pub(crate) type Record = BTreeMap<String, String>;

const INCIDENT_FIELDS: [&str; 46] = [
    "resolved_by",
    "closed_by",
    "reopened_by",
    "reopened_time",
    "number",
    "sys_id",
    "short_description",
    "description",
    "urgency",
    "impact",
    "priority",
    "state",
    "incident_state",
    "category",
    "subcategory",
    "contact_type",
    "caller_id",
    "opened_by",
    "assigned_to",
    "assignment_group",
    "correlation_id",
    "correlation_display",
    "active",
    "opened_at",
    "resolved_at",
    "closed_at",
    "close_code",
    "close_notes",
    "severity",
    "work_notes",
    "comments",
    "comments_and_work_notes",
    "company",
    "location",
    "cmdb_ci",
    "escalation",
    "reopen_count",
    "knowledge",
    "made_sla",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
    "sys_class_name",
    "sys_domain",
];

const USER_FIELDS: [&str; 17] = [
    "sys_id",
    "user_name",
    "email",
    "first_name",
    "last_name",
    "name",
    "active",
    "title",
    "department",
    "manager",
    "phone",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
    "sys_class_name",
];

const GROUP_FIELDS: [&str; 13] = [
    "sys_id",
    "name",
    "description",
    "active",
    "email",
    "manager",
    "type",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
    "sys_class_name",
];

const JOURNAL_FIELDS: [&str; 7] = [
    "sys_id",
    "element",
    "element_id",
    "name",
    "value",
    "sys_created_on",
    "sys_created_by",
];

const CHOICE_FIELDS: [&str; 13] = [
    "sys_id",
    "name",
    "element",
    "value",
    "label",
    "sequence",
    "language",
    "inactive",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
];

pub(crate) fn schema(table: &str) -> Option<&'static [&'static str]> {
    match table {
        "incident" => Some(&INCIDENT_FIELDS),
        "sys_user" => Some(&USER_FIELDS),
        "sys_user_group" => Some(&GROUP_FIELDS),
        "sys_journal_field" => Some(&JOURNAL_FIELDS),
        "sys_choice" => Some(&CHOICE_FIELDS),
        _ => None,
    }
}

pub(crate) fn reference_table(table: &str, field: &str) -> Option<&'static str> {
    match (table, field) {
        (
            "incident",
            "caller_id" | "opened_by" | "assigned_to" | "resolved_by" | "closed_by" | "reopened_by",
        ) => Some("sys_user"),
        ("incident", "assignment_group") => Some("sys_user_group"),
        ("sys_user" | "sys_user_group", "manager") => Some("sys_user"),
        _ => None,
    }
}

/// The dictionary's `max_length` of a string column the instance cuts silently on insert and
/// update (no error, no warning: the stored value is just shorter). `task.correlation_id` and
/// `correlation_display` are 100 characters, `short_description` 160.
pub(crate) fn max_length(table: &str, field: &str) -> Option<usize> {
    match (table, field) {
        ("incident", "correlation_id" | "correlation_display") => Some(100),
        ("incident", "short_description") => Some(160),
        ("incident", "number" | "category" | "subcategory" | "close_code") => Some(40),
        _ => None,
    }
}

pub(crate) fn is_journal(table: &str, field: &str) -> bool {
    table == "incident" && matches!(field, "work_notes" | "comments" | "comments_and_work_notes")
}
