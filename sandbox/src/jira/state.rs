//! Jira state: projects and issues with their comments and properties; seeding and the
//! views `GET /_control/state` shows.

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::workflow::{JiraWorkflow, status_of};
use crate::util;

/// A Jira project, with what its schemes say about creating issues in it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraProject {
    /// Key, e.g. `SEC`.
    pub key: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Numeric id (generated when empty).
    #[serde(default)]
    pub id: String,
    /// The project's own issue types (a team-managed project has its own "Task", with its own
    /// id); empty: the site's shared types ([`super::ISSUE_TYPES`]), as a company-managed
    /// project has.
    #[serde(default)]
    pub issue_types: Vec<JiraIdName>,
    /// The priorities of the project's priority scheme, the default first; empty: Jira's
    /// default scheme ([`super::PRIORITIES`], default Medium).
    #[serde(default)]
    pub priorities: Vec<JiraIdName>,
    /// Whether Priority is on the project's create screen.
    #[serde(default = "on_screen")]
    pub priority_on_screen: bool,
    /// Fields the create screen requires, with no default value, besides Jira's own.
    #[serde(default)]
    pub required_fields: Vec<JiraRequiredField>,
    /// The project's workflow; `None`: Jira's simplified workflow ([`JiraWorkflow::simple`]).
    #[serde(default)]
    pub workflow: Option<JiraWorkflow>,
}

fn on_screen() -> bool {
    true
}

/// An issue type or a priority: its id and name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraIdName {
    /// Id, e.g. `10001`.
    pub id: String,
    /// Name, e.g. `Task`.
    pub name: String,
}

/// A field a project's create screen requires.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraRequiredField {
    /// Field id, e.g. `customfield_10060`.
    pub id: String,
    /// Field name, e.g. `Affected system`.
    pub name: String,
    /// The issue type ids it is required for; empty: every type.
    #[serde(default)]
    pub issue_types: Vec<String>,
}

fn pairs(table: &[(&str, &str)]) -> Vec<JiraIdName> {
    table
        .iter()
        .map(|(id, name)| JiraIdName {
            id: id.to_string(),
            name: name.to_string(),
        })
        .collect()
}

impl JiraProject {
    /// A company-managed project: the shared issue types, the default priority scheme,
    /// Priority on the create screen, nothing else required.
    pub fn new(key: &str, name: &str, id: &str) -> JiraProject {
        JiraProject {
            key: key.to_string(),
            name: name.to_string(),
            id: id.to_string(),
            issue_types: Vec::new(),
            priorities: Vec::new(),
            priority_on_screen: true,
            required_fields: Vec::new(),
            workflow: None,
        }
    }

    /// The issue types one can create in the project.
    pub(crate) fn types(&self) -> Vec<JiraIdName> {
        if self.issue_types.is_empty() {
            pairs(&super::ISSUE_TYPES)
        } else {
            self.issue_types.clone()
        }
    }

    /// The priorities of the project's scheme, the default first.
    pub(crate) fn scheme(&self) -> Vec<JiraIdName> {
        if self.priorities.is_empty() {
            let mut p = pairs(&super::PRIORITIES);
            // Jira's default scheme defaults to Medium.
            p.rotate_left(2);
            p
        } else {
            self.priorities.clone()
        }
    }

    /// The fields the create screen requires for an issue type, besides Jira's own.
    pub(crate) fn required_for(&self, type_id: &str) -> Vec<&JiraRequiredField> {
        self.required_fields
            .iter()
            .filter(|f| f.issue_types.is_empty() || f.issue_types.iter().any(|t| t == type_id))
            .collect()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct JiraComment {
    pub id: u64,
    pub body: Value,
    pub created: Timestamp,
}

/// One changelog entry: who changed what, when.
#[derive(Clone, Debug)]
pub(crate) struct JiraHistory {
    pub author: String,
    pub created: Timestamp,
    pub items: Vec<Value>,
}

#[derive(Clone, Debug)]
pub(crate) struct JiraIssue {
    pub id: u64,
    pub key: String,
    pub project_key: String,
    pub issue_type: JiraIdName,
    pub summary: String,
    pub description: Value,
    pub labels: Vec<String>,
    pub priority: JiraIdName,
    pub status_id: String,
    pub resolution: Option<JiraIdName>,
    pub resolution_date: Option<Timestamp>,
    pub status_category_changed: Timestamp,
    pub history: Vec<JiraHistory>,
    pub created: Timestamp,
    pub created_at: Instant,
    pub updated: Timestamp,
    pub comments: Vec<JiraComment>,
    pub other: BTreeMap<String, Value>,
    pub properties: BTreeMap<String, Value>,
}

/// Jira state.
pub(crate) struct JiraState {
    pub projects: Vec<JiraProject>,
    pub issues: Vec<JiraIssue>,
    pub next_issue_id: u64,
    pub next_comment_id: u64,
    pub counters: BTreeMap<String, u64>,
}

impl JiraState {
    pub(crate) fn new() -> JiraState {
        JiraState {
            projects: default_projects(),
            issues: Vec::new(),
            next_issue_id: 10001,
            next_comment_id: 10100,
            counters: BTreeMap::new(),
        }
    }

    /// Every issue type and priority of the site (shared and per project), to tell "not in
    /// this project" from "unknown".
    pub(crate) fn site_types(&self) -> Vec<JiraIdName> {
        let mut all = pairs(&super::ISSUE_TYPES);
        all.extend(self.projects.iter().flat_map(|p| p.issue_types.clone()));
        all
    }

    /// Every priority of the site, in order (Jira's defaults, then other schemes').
    pub(crate) fn site_priorities(&self) -> Vec<JiraIdName> {
        let mut all = pairs(&super::PRIORITIES);
        for p in self.projects.iter().flat_map(|p| p.priorities.iter()) {
            if !all.iter().any(|a| a.id == p.id) {
                all.push(p.clone());
            }
        }
        all
    }

    pub(crate) fn project(&self, key_or_id: &str) -> Option<&JiraProject> {
        self.projects.iter().find(|p| {
            p.key.eq_ignore_ascii_case(key_or_id) || p.id == key_or_id || p.name == key_or_id
        })
    }

    pub(crate) fn issue_mut(&mut self, id_or_key: &str) -> Option<&mut JiraIssue> {
        self.issues
            .iter_mut()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key) || i.id.to_string() == id_or_key)
    }

    /// The workflow of a project (Jira's simplified one when the project has none).
    pub(crate) fn workflow_of(&self, project_key: &str) -> JiraWorkflow {
        self.project(project_key)
            .and_then(|p| p.workflow.clone())
            .unwrap_or_else(JiraWorkflow::simple)
    }

    pub(crate) fn issue(&self, id_or_key: &str) -> Option<&JiraIssue> {
        self.issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key) || i.id.to_string() == id_or_key)
    }
}

/// The site's projects: `SEC` (company-managed: the shared issue types, Jira's default
/// priorities), `OPS` (team-managed: its own Task and Bug, no Priority on the create screen)
/// and `IR` (its own Task and Incident, priorities P1–P4; Incident requires "Affected system").
fn default_projects() -> Vec<JiraProject> {
    let ops = JiraProject {
        issue_types: pairs(&[("10100", "Task"), ("10101", "Bug")]),
        priority_on_screen: false,
        workflow: Some(JiraWorkflow::team_managed()),
        ..JiraProject::new("OPS", "IT Operations", "10010")
    };
    let ir = JiraProject {
        issue_types: pairs(&[("10200", "Task"), ("10201", "Incident")]),
        // P3 first: the scheme's default.
        priorities: pairs(&[
            ("10003", "P3"),
            ("10001", "P1"),
            ("10002", "P2"),
            ("10004", "P4"),
        ]),
        required_fields: vec![JiraRequiredField {
            id: "customfield_10060".to_string(),
            name: "Affected system".to_string(),
            issue_types: vec!["10201".to_string()],
        }],
        workflow: Some(JiraWorkflow::incident()),
        ..JiraProject::new("IR", "Incident Response", "10020")
    };
    vec![JiraProject::new("SEC", "Security", "10000"), ops, ir]
}

impl JiraState {
    pub(crate) fn seed_project(&mut self, mut p: JiraProject) {
        if p.id.is_empty() {
            p.id = (10000 + self.projects.len()).to_string();
        }
        if p.name.is_empty() {
            p.name = p.key.clone();
        }
        self.projects.retain(|x| x.key != p.key);
        self.projects.push(p);
    }

    pub(crate) fn views(&self) -> Vec<JiraIssueView> {
        self.issues
            .iter()
            .map(|i| JiraIssueView {
                id: i.id.to_string(),
                key: i.key.clone(),
                project: i.project_key.clone(),
                issue_type: i.issue_type.name.clone(),
                summary: i.summary.clone(),
                description: i.description.clone(),
                labels: i.labels.clone(),
                priority: i.priority.name.clone(),
                created: util::jira_time(i.created),
                status: status_of(self, i).name,
                status_category: status_of(self, i).category,
                resolution: i.resolution.as_ref().map(|r| r.name.clone()),
                updated: util::jira_time(i.updated),
                comments: i
                    .comments
                    .iter()
                    .map(|c| JiraCommentView {
                        id: c.id.to_string(),
                        body: c.body.clone(),
                        created: util::jira_time(c.created),
                    })
                    .collect(),
                other_fields: i.other.clone(),
            })
            .collect()
    }
}

/// A Jira comment as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraCommentView {
    /// Comment id.
    pub id: String,
    /// ADF body.
    pub body: Value,
    /// Jira time.
    pub created: String,
}

/// A Jira issue as stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JiraIssueView {
    /// Numeric id.
    pub id: String,
    /// Key, e.g. `SEC-1`.
    pub key: String,
    /// Project key.
    pub project: String,
    /// Issue type name.
    pub issue_type: String,
    /// Summary.
    pub summary: String,
    /// ADF description (or null).
    pub description: Value,
    /// Labels.
    pub labels: Vec<String>,
    /// Priority name.
    pub priority: String,
    /// Jira time.
    pub created: String,
    /// Status name.
    #[serde(default)]
    pub status: String,
    /// Status category key (`new`, `indeterminate`, `done`).
    #[serde(default)]
    pub status_category: String,
    /// Resolution name, if any.
    #[serde(default)]
    pub resolution: Option<String>,
    /// Jira time of the last change.
    #[serde(default)]
    pub updated: String,
    /// Comments.
    pub comments: Vec<JiraCommentView>,
    /// Other fields sent on create.
    pub other_fields: BTreeMap<String, Value>,
}
