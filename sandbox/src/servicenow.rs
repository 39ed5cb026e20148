//! Fake ServiceNow Table API (see `reference/saas-apis.md` §2).
//!
//! Served under `/servicenow`. Basic auth `admin:snow-demo`, else 401
//! `{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}`.
//!
//! Paths: `/api/now/table/{table}` (latest = v2), `/api/now/v2/table/{table}` and
//! `/api/now/v1/table/{table}` (v1 answers an empty list with 404 "No Record found"), each with
//! `/{sys_id}`. Tables: `incident`, `sys_user`, `sys_user_group`, `sys_journal_field`
//! (read-only view of work notes and comments); others → 400 "Invalid table".
//!
//! - `POST` → 201 + `Location` + `{"result":{...}}`; every value is a string; incidents get
//!   `number` `INC0010001`…, a 32-hex `sys_id`, defaults (`state` "1", `urgency`/`impact` "3",
//!   `priority` derived from them), `opened_at`/`sys_*` times (`YYYY-MM-DD hh:mm:ss` UTC).
//!   Reference fields (`caller_id`, `opened_by`, `assigned_to`, `assignment_group`, `manager`)
//!   render as `{"link","value"}` or `""`, or plain strings with
//!   `sysparm_exclude_reference_link=true`. `sysparm_display_value=true|all`,
//!   `sysparm_input_display_value=true`, `sysparm_fields`, `X-no-response-body: true` work.
//! - `GET` list: `sysparm_query` (encoded query: `=`, `!=`, `LIKE`, `NOT LIKE`, `STARTSWITH`,
//!   `ENDSWITH`, `IN`, `NOT IN`, `ISEMPTY`, `ISNOTEMPTY`, `<`, `>`, `<=`, `>=`, `^`, `^OR`, `^NQ`,
//!   `ORDERBY`/`ORDERBYDESC`, one level of dot-walking on reference fields), `sysparm_fields`,
//!   `sysparm_limit` (default 10000), `sysparm_offset`, `sysparm_no_count`,
//!   `sysparm_suppress_pagination_header`; `X-Total-Count` and `Link` (first/prev/next/last).
//!   **A term naming an unknown field, or one that does not parse, is silently dropped** (so
//!   `correlation_idd=x` returns every incident), unless
//!   `servicenow_invalid_query_returns_no_rows` is set.
//! - `GET /{sys_id}` (404 envelope), `PATCH`/`PUT` (`work_notes` / `comments` append to the
//!   journal), `DELETE` → 204.
//! - 429 carries `Retry-After`, `X-RateLimit-Limit`, `X-RateLimit-Reset` (epoch seconds) and
//!   `X-RateLimit-Rule`; when a rate limit is configured every answer carries the last three.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::creds;
use crate::faults::RateInfo;
use crate::faults::VendorFaults;
use crate::state::{Inner, SandboxHandle, SnowIncidentView};
use crate::util::{self, IdGen, Query, Scheme};

const RATE_RULE_SYS_ID: &str = "d2ad1b7fdb8bd010b2ab9b7a0b961960";

type Record = BTreeMap<String, String>;

#[derive(Clone, Debug)]
struct Journal {
    sys_id: String,
    element_id: String,
    element: String,
    table: String,
    value: String,
    created: String,
    created_by: String,
}

/// ServiceNow state.
pub(crate) struct SnowState {
    tables: BTreeMap<String, Vec<Record>>,
    journal: Vec<Journal>,
    next_number: u64,
    admin_sys_id: String,
}

const INCIDENT_FIELDS: [&str; 42] = [
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

fn schema(table: &str) -> Option<&'static [&'static str]> {
    match table {
        "incident" => Some(&INCIDENT_FIELDS),
        "sys_user" => Some(&USER_FIELDS),
        "sys_user_group" => Some(&GROUP_FIELDS),
        "sys_journal_field" => Some(&JOURNAL_FIELDS),
        _ => None,
    }
}

fn reference_table(table: &str, field: &str) -> Option<&'static str> {
    match (table, field) {
        ("incident", "caller_id" | "opened_by" | "assigned_to") => Some("sys_user"),
        ("incident", "assignment_group") => Some("sys_user_group"),
        ("sys_user" | "sys_user_group", "manager") => Some("sys_user"),
        _ => None,
    }
}

fn is_journal(table: &str, field: &str) -> bool {
    table == "incident" && matches!(field, "work_notes" | "comments" | "comments_and_work_notes")
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
        s
    }

    fn find(&self, table: &str, sys_id: &str) -> Option<&Record> {
        self.tables
            .get(table)?
            .iter()
            .find(|r| r.get("sys_id").map(String::as_str) == Some(sys_id))
    }

    fn display_of(&self, table: &str, sys_id: &str) -> String {
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

    fn resolve_display(&self, table: &str, display: &str) -> Option<String> {
        self.tables.get(table)?.iter().find_map(|r| {
            let hit = ["name", "user_name", "email"]
                .iter()
                .any(|k| r.get(*k).is_some_and(|v| !v.is_empty() && v == display));
            if hit { r.get("sys_id").cloned() } else { None }
        })
    }

    fn journal_records(&self) -> Vec<Record> {
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

    fn journal_text(&self, sys_id: &str, field: &str) -> String {
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

fn priority_of(urgency: &str, impact: &str) -> &'static str {
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
fn apply_values(
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
        rec.insert(k.clone(), text);
    }
    journal
}

pub(crate) fn seed_record(
    s: &mut Inner,
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
        .unwrap_or_else(|| s.ids.hex32(table));
    let (rec, journal) = new_record(s, table, &sys_id, &body, false, "admin");
    store(s, table, rec, journal);
    Some(sys_id)
}

fn new_record(
    s: &mut Inner,
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
        let number = format!("INC{:07}", s.snow.next_number);
        s.snow.next_number += 1;
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
        rec.insert("opened_by".into(), s.snow.admin_sys_id.clone());
    } else if table == "sys_user" || table == "sys_user_group" {
        rec.insert("active".into(), "true".into());
    }
    let journal = apply_values(&s.snow, table, &mut rec, body, input_display);
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

fn store(s: &mut Inner, table: &str, rec: Record, journal: Vec<(String, String)>) {
    let sys_id = rec.get("sys_id").cloned().unwrap_or_default();
    add_journal(s, table, &sys_id, journal, "admin");
    let t = s.snow.tables.entry(table.to_string()).or_default();
    t.retain(|r| r.get("sys_id") != Some(&sys_id));
    t.push(rec);
}

fn add_journal(
    s: &mut Inner,
    table: &str,
    sys_id: &str,
    entries: Vec<(String, String)>,
    user: &str,
) {
    let now = util::snow_time(Timestamp::now());
    for (element, value) in entries {
        let jid = s.ids.hex32("sys_journal_field");
        s.snow.journal.push(Journal {
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

pub(crate) fn incident_views(s: &Inner) -> Vec<SnowIncidentView> {
    s.snow
        .tables
        .get("incident")
        .map(|t| {
            t.iter()
                .map(|r| {
                    let sys_id = r.get("sys_id").cloned().unwrap_or_default();
                    let notes = |el: &str| {
                        s.snow
                            .journal
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

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

/// `{"error":{"message","detail"},"status":"failure"}`.
pub(crate) fn error(status: StatusCode, message: &str, detail: Option<&str>) -> Response {
    #[derive(serde::Serialize)]
    struct Inner<'a> {
        message: &'a str,
        detail: Option<&'a str>,
    }
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        error: Inner<'a>,
        status: &'static str,
    }
    util::json_utf8(
        status,
        &Envelope {
            error: Inner { message, detail },
            status: "failure",
        },
    )
}

/// The 429 answer.
pub(crate) fn rate_limited(info: &RateInfo) -> Response {
    let mut resp = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
        Some("The request was rejected by the inbound REST API rate limit rule"),
    );
    decorate(&mut resp, info);
    resp
}

/// Rate-limit headers sent while a rule applies.
pub(crate) fn decorate(resp: &mut Response, info: &RateInfo) {
    util::set_header(resp, "x-ratelimit-limit", &info.limit.to_string());
    util::set_header(resp, "x-ratelimit-reset", &info.reset_epoch.to_string());
    util::set_header(resp, "x-ratelimit-rule", RATE_RULE_SYS_ID);
}

/// ServiceNow's answers to injected faults and its rate-limit headers.
pub(crate) struct Faults;

impl VendorFaults for Faults {
    fn system(&self) -> &'static str {
        "servicenow"
    }

    fn error(&self, status: StatusCode) -> Response {
        error(status, "Internal server error", None)
    }

    fn rate_limited(&self, info: &RateInfo) -> Response {
        rate_limited(info)
    }

    fn decorate(&self, resp: &mut Response, info: &RateInfo) {
        if info.limited {
            decorate(resp, info);
        }
    }

    fn is_creating(&self, method: &str, pattern: &str) -> bool {
        method == "POST"
            && (pattern == "/api/now/table/{table}"
                || pattern == "/api/now/{version}/table/{table}")
    }
}

fn unauthorized() -> Response {
    let mut resp = error(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        Some("Required to provide Auth information"),
    );
    util::set_header(&mut resp, "www-authenticate", "BASIC realm=\"Service-now\"");
    resp
}

fn record_not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    util::basic_auth(headers).is_some_and(|(u, p)| {
        util::ct_eq(&u, creds::SERVICENOW_USER) && util::ct_eq(&p, creds::SERVICENOW_PASSWORD)
    })
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

pub(crate) fn router() -> Router<SandboxHandle> {
    Router::new()
        .route("/api/now/table/{table}", get(list).post(create))
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(get_one).patch(update).put(update).delete(delete),
        )
        .route("/api/now/{version}/table/{table}", get(list).post(create))
        .route(
            "/api/now/{version}/table/{table}/{sys_id}",
            get(get_one).patch(update).put(update).delete(delete),
        )
        .fallback(fallback)
}

async fn fallback() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        None,
    )
}

struct Ctx {
    table: String,
    sys_id: Option<String>,
    v1: bool,
}

fn ctx(params: &HashMap<String, String>) -> Result<Ctx, Response> {
    let v1 = match params.get("version").map(String::as_str) {
        None | Some("v2") => false,
        Some("v1") => true,
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "Requested URI does not represent any resource",
                None,
            ));
        }
    };
    let table = params.get("table").cloned().unwrap_or_default();
    if schema(&table).is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid table {table}"),
            None,
        ));
    }
    Ok(Ctx {
        table,
        sys_id: params.get("sys_id").cloned(),
        v1,
    })
}

#[derive(PartialEq, Clone, Copy)]
enum DisplayMode {
    Value,
    Display,
    All,
}

struct RenderOpts {
    fields: Option<Vec<String>>,
    exclude_ref_link: bool,
    display: DisplayMode,
    base: String,
}

fn render_opts(q: &Query, base: String) -> RenderOpts {
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

fn render(st: &SnowState, table: &str, rec: &Record, o: &RenderOpts) -> Value {
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

// ---- encoded queries ---------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Cond {
    field: String,
    op: &'static str,
    value: String,
}

#[derive(Debug, Default)]
struct EncodedQuery {
    /// OR of queries (`^NQ`), each an AND of OR-groups (`^OR`).
    queries: Vec<Vec<Vec<Cond>>>,
    order: Vec<(String, bool)>,
    invalid: bool,
}

const OPS: [&str; 17] = [
    "ISNOTEMPTY",
    "ISEMPTY",
    "NOT LIKE",
    "NOTLIKE",
    "STARTSWITH",
    "ENDSWITH",
    "NOT IN",
    "NOTIN",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
    "ANYTHING",
];

fn field_known(table: &str, field: &str) -> bool {
    let Some(fields) = schema(table) else {
        return false;
    };
    match field.split_once('.') {
        None => fields.contains(&field),
        Some((head, rest)) => match reference_table(table, head) {
            Some(rt) => schema(rt).is_some_and(|f| f.contains(&rest)),
            None => false,
        },
    }
}

fn parse_cond(term: &str, table: &str) -> Option<Cond> {
    let end = term
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '.'))
        .map(|(i, _)| i)
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(end);
    if field.is_empty() || !field_known(table, field) {
        return None;
    }
    let op = OPS.iter().find(|op| rest.starts_with(**op))?;
    Some(Cond {
        field: field.to_string(),
        op,
        value: rest[op.len()..].to_string(),
    })
}

fn parse_query(raw: &str, table: &str) -> EncodedQuery {
    let mut q = EncodedQuery::default();
    let mut current: Vec<Vec<Cond>> = Vec::new();
    for piece in raw.split('^') {
        let piece = piece.trim();
        if piece.is_empty() || piece == "EQ" {
            continue;
        }
        if let Some(rest) = piece.strip_prefix("NQ") {
            q.queries.push(std::mem::take(&mut current));
            if !rest.is_empty() {
                match parse_cond(rest, table) {
                    Some(c) => current.push(vec![c]),
                    None => q.invalid = true,
                }
            }
            continue;
        }
        if let Some(f) = piece.strip_prefix("ORDERBYDESC") {
            if field_known(table, f) {
                q.order.push((f.to_string(), true));
            }
            continue;
        }
        if let Some(f) = piece.strip_prefix("ORDERBY") {
            if field_known(table, f) {
                q.order.push((f.to_string(), false));
            }
            continue;
        }
        if let Some(rest) = piece.strip_prefix("OR") {
            match (parse_cond(rest, table), current.last_mut()) {
                (Some(c), Some(group)) => group.push(c),
                (Some(c), None) => current.push(vec![c]),
                (None, _) => q.invalid = true,
            }
            continue;
        }
        match parse_cond(piece, table) {
            Some(c) => current.push(vec![c]),
            None => q.invalid = true,
        }
    }
    q.queries.push(current);
    q
}

fn field_value(st: &SnowState, table: &str, rec: &Record, field: &str) -> String {
    match field.split_once('.') {
        None => rec.get(field).cloned().unwrap_or_default(),
        Some((head, rest)) => {
            let Some(rt) = reference_table(table, head) else {
                return String::new();
            };
            let id = rec.get(head).cloned().unwrap_or_default();
            st.find(rt, &id)
                .and_then(|r| r.get(rest).cloned())
                .unwrap_or_default()
        }
    }
}

fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn cond_matches(st: &SnowState, table: &str, rec: &Record, c: &Cond) -> bool {
    let v = field_value(st, table, rec, &c.field);
    let lv = v.to_lowercase();
    let lw = c.value.to_lowercase();
    match c.op {
        "=" => v == c.value,
        "!=" => v != c.value,
        "LIKE" => lv.contains(&lw),
        "NOT LIKE" | "NOTLIKE" => !lv.contains(&lw),
        "STARTSWITH" => lv.starts_with(&lw),
        "ENDSWITH" => lv.ends_with(&lw),
        "IN" => c.value.split(',').any(|x| x == v),
        "NOT IN" | "NOTIN" => !c.value.split(',').any(|x| x == v),
        "ISEMPTY" => v.is_empty(),
        "ISNOTEMPTY" => !v.is_empty(),
        ">" => cmp_values(&v, &c.value).is_gt(),
        "<" => cmp_values(&v, &c.value).is_lt(),
        ">=" => cmp_values(&v, &c.value).is_ge(),
        "<=" => cmp_values(&v, &c.value).is_le(),
        _ => true,
    }
}

fn query_matches(st: &SnowState, table: &str, rec: &Record, q: &EncodedQuery) -> bool {
    q.queries.iter().any(|and_groups| {
        and_groups
            .iter()
            .all(|or_group| or_group.iter().any(|c| cond_matches(st, table, rec, c)))
    })
}

fn truthy(q: &Query, key: &str) -> bool {
    q.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

async fn list(
    State(h): State<SandboxHandle>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base.clone());
    let limit = q
        .get("sysparm_limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10000);
    let offset = q
        .get("sysparm_offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let encoded = parse_query(q.get("sysparm_query").unwrap_or(""), &c.table);
    h.with(|s| {
        let st = &s.snow;
        let records: Vec<Record> = if c.table == "sys_journal_field" {
            st.journal_records()
        } else {
            st.tables.get(&c.table).cloned().unwrap_or_default()
        };
        let mut hits: Vec<&Record> =
            if encoded.invalid && s.config.servicenow_invalid_query_returns_no_rows {
                Vec::new()
            } else {
                records
                    .iter()
                    .filter(|r| query_matches(st, &c.table, r, &encoded))
                    .collect()
            };
        for (field, desc) in encoded.order.iter().rev() {
            hits.sort_by(|a, b| {
                let o = cmp_values(
                    &field_value(st, &c.table, a, field),
                    &field_value(st, &c.table, b, field),
                );
                if *desc { o.reverse() } else { o }
            });
        }
        let total = hits.len();
        if c.v1 && (total == 0 || offset >= total) {
            return error(
                StatusCode::NOT_FOUND,
                "No Record found",
                Some("Records not found"),
            );
        }
        let page: Vec<Value> = hits
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| render(st, &c.table, r, &opts))
            .collect();
        let mut resp = util::json_utf8(StatusCode::OK, &json!({"result": page}));
        if !truthy(&q, "sysparm_no_count") {
            util::set_header(&mut resp, "x-total-count", &total.to_string());
        }
        if !truthy(&q, "sysparm_suppress_pagination_header") {
            let host = util::host_of(&headers, &uri);
            let scheme_s = scheme.as_deref().map(|s| s.0).unwrap_or("http");
            let link = |off: usize| {
                format!(
                    "<{scheme_s}://{host}{}?{}>",
                    uri.path(),
                    q.with(&[
                        ("sysparm_offset", off.to_string()),
                        ("sysparm_limit", limit.to_string())
                    ])
                )
            };
            let mut parts = vec![format!("{};rel=\"first\"", link(0))];
            if offset > 0 {
                parts.push(format!(
                    "{};rel=\"prev\"",
                    link(offset.saturating_sub(limit))
                ));
            }
            if offset + limit < total {
                parts.push(format!("{};rel=\"next\"", link(offset + limit)));
            }
            let last = if total == 0 {
                0
            } else {
                ((total - 1) / limit) * limit
            };
            parts.push(format!("{};rel=\"last\"", link(last)));
            util::set_header(&mut resp, "link", &parts.join(","));
        }
        resp
    })
}

async fn get_one(
    State(h): State<SandboxHandle>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base);
    let sys_id = c.sys_id.unwrap_or_default();
    h.with(|s| {
        let rec = if c.table == "sys_journal_field" {
            s.snow
                .journal_records()
                .into_iter()
                .find(|r| r.get("sys_id") == Some(&sys_id))
        } else {
            s.snow.find(&c.table, &sys_id).cloned()
        };
        match rec {
            Some(r) => util::json_utf8(
                StatusCode::OK,
                &json!({"result": render(&s.snow, &c.table, &r, &opts)}),
            ),
            None => record_not_found(),
        }
    })
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match util::parse_json(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not a JSON object."),
        )),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not valid JSON."),
        )),
    }
}

async fn create(
    State(h): State<SandboxHandle>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if c.table == "sys_journal_field" {
        return error(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            Some("Error during insert of sys_journal_field"),
        );
    }
    let obj = match body_object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base.clone());
    let input_display = truthy(&q, "sysparm_input_display_value");
    let no_body = headers
        .get("x-no-response-body")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    h.with(|s| {
        let sys_id = s.ids.hex32(&c.table);
        let (rec, journal) = new_record(
            s,
            &c.table,
            &sys_id,
            &obj,
            input_display,
            creds::SERVICENOW_USER,
        );
        let rendered = render(&s.snow, &c.table, &rec, &opts);
        store(s, &c.table, rec, journal);
        let location = format!("{base}/api/now/table/{}/{sys_id}", c.table);
        let mut resp = if no_body {
            StatusCode::CREATED.into_response()
        } else {
            // Re-render so journal-backed display values include the new entries.
            let rendered = s
                .snow
                .find(&c.table, &sys_id)
                .map(|r| render(&s.snow, &c.table, r, &opts))
                .unwrap_or(rendered);
            util::json_utf8(StatusCode::CREATED, &json!({"result": rendered}))
        };
        util::set_header(&mut resp, "location", &location);
        resp
    })
}

async fn update(
    State(h): State<SandboxHandle>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    scheme: Option<axum::Extension<Scheme>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let obj = match body_object(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let q = Query::parse(raw.as_deref());
    let base = util::external_base(&headers, &uri, scheme.as_deref(), "servicenow");
    let opts = render_opts(&q, base);
    let input_display = truthy(&q, "sysparm_input_display_value");
    let sys_id = c.sys_id.clone().unwrap_or_default();
    h.with(|s| {
        let Some(mut rec) = s.snow.find(&c.table, &sys_id).cloned() else {
            return record_not_found();
        };
        let journal = apply_values(&s.snow, &c.table, &mut rec, &obj, input_display);
        if c.table == "incident"
            && !obj.contains_key("priority")
            && (obj.contains_key("urgency") || obj.contains_key("impact"))
        {
            let p = priority_of(
                rec.get("urgency").map(String::as_str).unwrap_or("3"),
                rec.get("impact").map(String::as_str).unwrap_or("3"),
            );
            rec.insert("priority".into(), p.into());
        }
        if c.table == "incident" && obj.contains_key("state") {
            let st = rec.get("state").cloned().unwrap_or_default();
            rec.insert("incident_state".into(), st);
        }
        let count = rec
            .get("sys_mod_count")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        rec.insert("sys_mod_count".into(), count.to_string());
        rec.insert("sys_updated_on".into(), util::snow_time(Timestamp::now()));
        rec.insert("sys_updated_by".into(), creds::SERVICENOW_USER.into());
        add_journal(s, &c.table, &sys_id, journal, creds::SERVICENOW_USER);
        if let Some(t) = s.snow.tables.get_mut(&c.table) {
            for r in t.iter_mut() {
                if r.get("sys_id") == Some(&sys_id) {
                    *r = rec.clone();
                }
            }
        }
        util::json_utf8(
            StatusCode::OK,
            &json!({"result": render(&s.snow, &c.table, &rec, &opts)}),
        )
    })
}

async fn delete(
    State(h): State<SandboxHandle>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers) {
        return unauthorized();
    }
    let c = match ctx(&params) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sys_id = c.sys_id.unwrap_or_default();
    h.with(|s| {
        let Some(t) = s.snow.tables.get_mut(&c.table) else {
            return record_not_found();
        };
        let before = t.len();
        t.retain(|r| r.get("sys_id") != Some(&sys_id));
        if t.len() == before {
            record_not_found()
        } else {
            StatusCode::NO_CONTENT.into_response()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_in_encoded_queries_are_dropped() {
        let q = parse_query("correlation_idd=x", "incident");
        assert!(q.invalid);
        assert!(q.queries.iter().all(Vec::is_empty));
    }

    #[test]
    fn encoded_queries_with_or_and_order_parse() {
        let q = parse_query(
            "correlation_id=incydr-1^ORcorrelation_id=incydr-2^active=true^ORDERBYDESCnumber",
            "incident",
        );
        assert!(!q.invalid);
        assert_eq!(q.queries.len(), 1);
        assert_eq!(q.queries[0].len(), 2);
        assert_eq!(q.queries[0][0].len(), 2);
        assert_eq!(q.order, vec![("number".to_string(), true)]);
        let q = parse_query(
            "short_descriptionLIKEexfil^caller_id.email=a@b.c",
            "incident",
        );
        assert!(!q.invalid);
        assert_eq!(q.queries[0][0][0].op, "LIKE");
    }

    #[test]
    fn priority_follows_the_urgency_impact_matrix() {
        assert_eq!(priority_of("1", "1"), "1");
        assert_eq!(priority_of("2", "2"), "3");
        assert_eq!(priority_of("3", "3"), "5");
        assert_eq!(priority_of("1", "3"), "3");
    }
}
