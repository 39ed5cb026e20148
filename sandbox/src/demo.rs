//! The demo data set ([`crate::seed_demo`]): six Incydr sessions with alerts of various
//! severities (one for the departing employee `departing.dev@example.com`, who is an actor, a
//! user and an Okta user), matching actors and users, a Departing watchlist (optional), the
//! Okta group `Departing-Restricted` (`00gdeparting0restricted`) plus an `APP_GROUP`, the Jira
//! project `SEC`, ServiceNow users and an assignment group, a Workday report with one upcoming
//! departure, one ADP terminate message and BambooHR employees (employee `0`, the API key's
//! owner, is the HR administrator `40400`).

use jiff::{Span, Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::adp::{AdpWorker, terminate_event};
use crate::bamboohr::BambooEmployee;
use crate::incydr::{
    Actor, ContentInspectionResults, RiskIndicator, Score, Session, SessionSeed, StateEntry,
    TriggeredAlert, User, WatchlistSeed, sample_file_event,
};
use crate::okta::{OktaGroupSeed, OktaMembership, OktaUserSeed};
use crate::state::{SandboxHandle, SeedData};

/// The departing employee of the demo.
pub const DEPARTING_EMAIL: &str = "departing.dev@example.com";
/// Actor id of the departing employee.
pub const DEPARTING_ACTOR_ID: &str = "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e01";
/// Session id of the departing employee's session.
pub const DEPARTING_SESSION_ID: &str = "5e55-demo-departing-0001";
/// Okta group to restrict departing employees.
pub const OKTA_DEPARTING_GROUP_ID: &str = "00gdeparting0restricted";
/// An Okta `APP_GROUP` (memberships cannot be changed through the API).
pub const OKTA_APP_GROUP_ID: &str = "00gappgroup0adeng00001";
/// Okta user id of the departing employee.
pub const OKTA_DEPARTING_USER_ID: &str = "00udepartingdev000001";
/// ServiceNow assignment group of the demo.
pub const SNOW_SECOPS_GROUP_SYS_ID: &str = "a715cd759f2002002920bde8132e7018";
/// ADP associate OID in the demo terminate message.
pub const ADP_TERMINATED_AOID: &str = "G3KXNKXW8VT5Q5M0";

/// Options of the demo data set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DemoOptions {
    /// Create the `DEPARTING_EMPLOYEE` watchlist (default true). With false, clients must
    /// create it themselves.
    pub departing_watchlist: bool,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            departing_watchlist: true,
        }
    }
}

struct Person {
    email: &'static str,
    first: &'static str,
    last: &'static str,
    actor_id: &'static str,
    user_id: &'static str,
    okta_id: &'static str,
    title: &'static str,
    department: &'static str,
}

const PEOPLE: [Person; 6] = [
    Person {
        email: DEPARTING_EMAIL,
        first: "Devon",
        last: "Parting",
        actor_id: DEPARTING_ACTOR_ID,
        user_id: "1067934873256453001",
        okta_id: OKTA_DEPARTING_USER_ID,
        title: "Senior Engineer",
        department: "Engineering",
    },
    Person {
        email: "alice.analyst@example.com",
        first: "Alice",
        last: "Analyst",
        actor_id: "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e02",
        user_id: "1067934873256453002",
        okta_id: "00ualiceanalyst000002",
        title: "Financial Analyst",
        department: "Finance",
    },
    Person {
        email: "bob.builder@example.com",
        first: "Bob",
        last: "Builder",
        actor_id: "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e03",
        user_id: "1067934873256453003",
        okta_id: "00ubobbuilder00000003",
        title: "Build Engineer",
        department: "Engineering",
    },
    Person {
        email: "carol.contractor@example.com",
        first: "Carol",
        last: "Contractor",
        actor_id: "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e04",
        user_id: "1067934873256453004",
        okta_id: "00ucarolcontractor004",
        title: "Contractor",
        department: "Marketing",
    },
    Person {
        email: "dan.designer@example.com",
        first: "Dan",
        last: "Designer",
        actor_id: "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e05",
        user_id: "1067934873256453005",
        okta_id: "00udandesigner0000005",
        title: "Product Designer",
        department: "Design",
    },
    Person {
        email: "erin.exec@example.com",
        first: "Erin",
        last: "Exec",
        actor_id: "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e06",
        user_id: "1067934873256453006",
        okta_id: "00uerinexec0000000006",
        title: "VP Sales",
        department: "Sales",
    },
];

fn today_plus(days: i64) -> String {
    let today = Timestamp::now().to_zoned(TimeZone::UTC).date();
    today
        .checked_add(Span::new().days(days))
        .unwrap_or(today)
        .to_string()
}

struct DemoSession {
    id: &'static str,
    person: usize,
    hours_ago: i64,
    severity: i64,
    score: i64,
    state: &'static str,
    rule: Option<(&'static str, &'static str)>,
    summary: &'static str,
    indicator: (&'static str, &'static str),
    files: &'static [(&'static str, &'static str)],
}

const SESSIONS: [DemoSession; 6] = [
    DemoSession {
        id: DEPARTING_SESSION_ID,
        person: 0,
        hours_ago: 3,
        severity: 4,
        score: 42,
        state: "OPEN",
        rule: Some(("rule-departing-exfil", "Departing employee exfiltration")),
        summary: "source code archive(s) uploaded to personal Dropbox",
        indicator: ("remote-storage", "Personal cloud storage"),
        files: &[
            ("platform-src.zip", "Dropbox"),
            ("customer-list.xlsx", "Dropbox"),
            ("roadmap-2027.pdf", "Dropbox"),
        ],
    },
    DemoSession {
        id: "5e55-demo-alice-0002",
        person: 1,
        hours_ago: 5,
        severity: 2,
        score: 14,
        state: "OPEN",
        rule: Some(("rule-public-link", "File shared via public link")),
        summary: "document file(s) shared via link from corporate Box",
        indicator: ("public-link", "Public link share"),
        files: &[("q3-forecast.xlsx", "Box")],
    },
    DemoSession {
        id: "5e55-demo-bob-0003",
        person: 2,
        hours_ago: 8,
        severity: 3,
        score: 27,
        state: "IN_PROGRESS",
        rule: Some(("rule-removable-media", "Removable media exfiltration")),
        summary: "file(s) copied to removable media",
        indicator: ("removable-media", "Removable media"),
        files: &[
            ("build-keys.tar", "SanDisk USB"),
            ("release-notes.md", "SanDisk USB"),
        ],
    },
    DemoSession {
        id: "5e55-demo-carol-0004",
        person: 3,
        hours_ago: 12,
        severity: 1,
        score: 6,
        state: "OPEN",
        rule: Some(("rule-webmail", "Upload to personal webmail")),
        summary: "document file(s) attached to personal webmail",
        indicator: ("webmail", "Personal webmail"),
        files: &[("brand-guidelines.pdf", "Gmail")],
    },
    DemoSession {
        id: "5e55-demo-dan-0005",
        person: 4,
        hours_ago: 20,
        severity: 0,
        score: 0,
        state: "OPEN",
        rule: None,
        summary: "file(s) opened in a design tool",
        indicator: ("file-read", "File read"),
        files: &[("mockups.fig", "Figma")],
    },
    DemoSession {
        id: "5e55-demo-erin-0006",
        person: 5,
        hours_ago: 30,
        severity: 3,
        score: 31,
        state: "OPEN_NEW_DATA",
        rule: Some(("rule-crm-export", "Bulk CRM export")),
        summary: "spreadsheet(s) exported from Salesforce and emailed externally",
        indicator: ("crm-export", "Bulk export from CRM"),
        files: &[
            ("pipeline-export.csv", "Outlook"),
            ("accounts.csv", "Outlook"),
        ],
    },
];

fn severity_name(sev: i64) -> &'static str {
    match sev {
        0 => "NO_RISK",
        1 => "LOW",
        2 => "MODERATE",
        3 => "HIGH",
        _ => "CRITICAL",
    }
}

/// Seed the demo data set (with the Departing watchlist).
pub fn seed_demo(handle: &SandboxHandle) {
    seed_demo_with(handle, &DemoOptions::default());
}

/// Seed the demo data set with options.
pub fn seed_demo_with(handle: &SandboxHandle, opts: &DemoOptions) {
    let now = crate::util::now_ms();
    let mut data = SeedData::default();

    for p in &PEOPLE {
        data.actors.push(Actor {
            actor_id: p.actor_id.to_string(),
            name: p.email.to_string(),
            active: true,
            alternate_names: vec![p.email.to_string()],
            in_scope: true,
            first_name: Some(p.first.to_string()),
            last_name: Some(p.last.to_string()),
            title: Some(p.title.to_string()),
            department: Some(p.department.to_string()),
            employee_type: Some(
                if p.title == "Contractor" {
                    "Contractor"
                } else {
                    "Full-time"
                }
                .to_string(),
            ),
            country: Some("US".to_string()),
            start_date: Some("2021-03-01".to_string()),
            ..Default::default()
        });
        data.users.push(User {
            user_id: p.user_id.to_string(),
            username: p.email.to_string(),
            first_name: Some(p.first.to_string()),
            last_name: Some(p.last.to_string()),
            active: true,
            ..Default::default()
        });
        data.okta_users.push(OktaUserSeed {
            id: Some(p.okta_id.to_string()),
            login: p.email.to_string(),
            email: Some(p.email.to_string()),
            first_name: Some(p.first.to_string()),
            last_name: Some(p.last.to_string()),
            status: Some("ACTIVE".to_string()),
        });
        let mut rec = std::collections::BTreeMap::new();
        rec.insert(
            "user_name".to_string(),
            json!(p.email.split('@').next().unwrap_or(p.email)),
        );
        rec.insert("email".to_string(), json!(p.email));
        rec.insert("first_name".to_string(), json!(p.first));
        rec.insert("last_name".to_string(), json!(p.last));
        rec.insert("title".to_string(), json!(p.title));
        rec.insert("sys_id".to_string(), json!(format!("{:0>32}", p.user_id)));
        data.servicenow
            .entry("sys_user".to_string())
            .or_default()
            .push(rec);
    }
    // A child actor (cloud alias) of the departing employee.
    data.actors.push(Actor {
        actor_id: "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e11".to_string(),
        name: "devon.parting@example-corp.onmicrosoft.com".to_string(),
        active: true,
        in_scope: true,
        first_name: Some("Devon".to_string()),
        last_name: Some("Parting".to_string()),
        parent_actor_id: Some(DEPARTING_ACTOR_ID.to_string()),
        ..Default::default()
    });

    let mut group = std::collections::BTreeMap::new();
    group.insert("sys_id".to_string(), json!(SNOW_SECOPS_GROUP_SYS_ID));
    group.insert("name".to_string(), json!("Security Operations"));
    group.insert("description".to_string(), json!("Insider risk triage"));
    data.servicenow
        .entry("sys_user_group".to_string())
        .or_default()
        .push(group);

    for (n, d) in SESSIONS.iter().enumerate() {
        let p = &PEOPLE[d.person];
        let begin = now - d.hours_ago * 3_600_000;
        let end = begin + 40 * 60_000;
        let events: Vec<Value> = d
            .files
            .iter()
            .enumerate()
            .map(|(i, (file, dest))| {
                sample_file_event(
                    &format!("0_demo-event-{n}-{i}"),
                    begin + i as i64 * 60_000,
                    p.email,
                    file,
                    severity_name(d.severity),
                    dest,
                )
            })
            .collect();
        let count = events.len() as i64;
        let mut session = Session {
            session_id: d.id.to_string(),
            actor_id: p.actor_id.to_string(),
            actor_name: Some(p.email.to_string()),
            user_id: Some(p.user_id.to_string()),
            begin_time: begin,
            end_time: end,
            first_observed: begin + 60_000,
            last_updated: end + 120_000,
            context_summary: Some(format!("{} {}: {}", p.first, p.last, d.summary)),
            exfiltration_summary: Some(d.summary.to_string()),
            content_inspection_results: Some(ContentInspectionResults {
                detected_on_alerts: if d.severity >= 3 {
                    vec!["PII".to_string()]
                } else {
                    Vec::new()
                },
            }),
            risk_indicators: vec![RiskIndicator {
                id: d.indicator.0.to_string(),
                name: d.indicator.1.to_string(),
                weight: d.score / 4,
                event_count: count,
            }],
            scores: vec![Score {
                score: d.score,
                severity: d.severity,
                source_timestamp: end,
            }],
            states: vec![StateEntry {
                state: d.state.to_string(),
                state_v2: Some(d.state.to_string()),
                source_timestamp: end + 60_000,
                user_id: None,
            }],
            triggered_alerts: d
                .rule
                .iter()
                .map(|(rule_id, rule_name)| TriggeredAlert {
                    alert_id: format!("alert-demo-{n}"),
                    rule_id: rule_id.to_string(),
                    rule_name: Some(rule_name.to_string()),
                    lesson_id: None,
                })
                .collect(),
            ..Default::default()
        };
        match d.severity {
            0 => session.no_risk_events = count,
            1 => session.low_events = count,
            2 => session.moderate_events = count,
            3 => session.high_events = count,
            _ => session.critical_events = count,
        }
        data.sessions.push(SessionSeed { session, events });
    }

    if opts.departing_watchlist {
        data.watchlists.push(WatchlistSeed {
            watchlist_id: Some("1c7dd799-1aa0-4f3a-bae8-1d3242fc2af6".to_string()),
            list_type: "DEPARTING_EMPLOYEE".to_string(),
            ..Default::default()
        });
    }
    data.watchlists.push(WatchlistSeed {
        watchlist_id: Some("2d8ee8aa-2bb1-4a4b-8bf9-2e4353fd3b07".to_string()),
        list_type: "HIGH_IMPACT_EMPLOYEE".to_string(),
        included_actors: vec![PEOPLE[5].actor_id.to_string()],
        ..Default::default()
    });
    data.watchlists.push(WatchlistSeed {
        watchlist_id: Some("3e9ff9bb-3cc2-4b5c-9c0a-3f5464ae4c18".to_string()),
        list_type: "CUSTOM".to_string(),
        title: Some("Contractors".to_string()),
        description: Some("Everyone on a contract".to_string()),
        included_actors: vec![PEOPLE[3].actor_id.to_string()],
    });

    data.okta_groups.push(OktaGroupSeed {
        id: Some(OKTA_DEPARTING_GROUP_ID.to_string()),
        name: "Departing-Restricted".to_string(),
        description: Some("Low-permission group for departing employees".to_string()),
        group_type: Some("OKTA_GROUP".to_string()),
    });
    data.okta_groups.push(OktaGroupSeed {
        id: Some(OKTA_APP_GROUP_ID.to_string()),
        name: "AD-Engineering".to_string(),
        description: Some("Imported from Active Directory".to_string()),
        group_type: Some("APP_GROUP".to_string()),
    });
    data.okta_memberships.push(OktaMembership {
        group_id: OKTA_APP_GROUP_ID.to_string(),
        user: DEPARTING_EMAIL.to_string(),
    });
    data.okta_memberships.push(OktaMembership {
        group_id: OKTA_APP_GROUP_ID.to_string(),
        user: "bob.builder@example.com".to_string(),
    });

    data.workday_rows = Some(vec![json!({
        "Employee_ID": "21004",
        "Worker": "Devon Parting",
        "Email_-_Work": DEPARTING_EMAIL,
        "Termination_Date": today_plus(14),
        "Last_Day_of_Work": today_plus(12),
        "Primary_Termination_Reason": "Resignation",
        "Business_Process_Event_WID": "9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
    })]);

    let carol_leaves = today_plus(7);
    data.adp_messages.push(terminate_event(
        "f0be1d5b-1077-4f2f-ade9-e95a62165131",
        ADP_TERMINATED_AOID,
        "GN4IKM9XR",
        &carol_leaves,
    ));
    data.adp_workers.push(AdpWorker {
        associate_oid: ADP_TERMINATED_AOID.to_string(),
        worker_id: "GN4IKM9XR".to_string(),
        given_name: "Carol".to_string(),
        family_name: "Contractor".to_string(),
        business_email: Some("carol.contractor@example.com".to_string()),
        personal_email: Some("carol.c@personal.example".to_string()),
        hire_date: Some("2021-03-01".to_string()),
        termination_date: Some(carol_leaves),
        status_code: "T".to_string(),
    });

    // The BambooHR API key belongs to an HR administrator: `GET .../employees/0` reads her.
    let key_owner = ("40400", "Harper", "Resources", "hr.admin@example.com");
    let devon = &PEOPLE[0];
    let dan = &PEOPLE[4];
    for ((id, first, last, email), status, term) in [
        (key_owner, "Active", None),
        (
            ("40401", devon.first, devon.last, devon.email),
            "Active",
            None,
        ),
        (
            ("67890", dan.first, dan.last, dan.email),
            "Inactive",
            Some(today_plus(10)),
        ),
    ] {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("firstName".to_string(), json!(first));
        fields.insert("lastName".to_string(), json!(last));
        fields.insert("workEmail".to_string(), json!(email));
        fields.insert("status".to_string(), json!(status));
        fields.insert(
            "terminationDate".to_string(),
            term.map(Value::String).unwrap_or(Value::Null),
        );
        data.bamboohr_employees.push(BambooEmployee {
            id: id.to_string(),
            fields,
        });
    }

    data.bamboohr_api_key_employee = Some(key_owner.0.to_string());

    handle.seed(data);
}
