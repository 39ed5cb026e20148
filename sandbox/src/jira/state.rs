//! Jira state: projects and issues with their comments and properties; seeding and the
//! views `GET /_control/state` shows.

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::util;

/// A Jira project.
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
}

#[derive(Clone, Debug)]
pub(crate) struct JiraComment {
    pub id: u64,
    pub body: Value,
    pub created: Timestamp,
}

#[derive(Clone, Debug)]
pub(crate) struct JiraIssue {
    pub id: u64,
    pub key: String,
    pub project_key: String,
    pub issue_type: String,
    pub summary: String,
    pub description: Value,
    pub labels: Vec<String>,
    pub priority: String,
    pub status: String,
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
            projects: vec![JiraProject {
                key: "SEC".to_string(),
                name: "Security".to_string(),
                id: "10000".to_string(),
            }],
            issues: Vec::new(),
            next_issue_id: 10001,
            next_comment_id: 10100,
            counters: BTreeMap::new(),
        }
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

    pub(crate) fn issue(&self, id_or_key: &str) -> Option<&JiraIssue> {
        self.issues
            .iter()
            .find(|i| i.key.eq_ignore_ascii_case(id_or_key) || i.id.to_string() == id_or_key)
    }
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
                issue_type: i.issue_type.clone(),
                summary: i.summary.clone(),
                description: i.description.clone(),
                labels: i.labels.clone(),
                priority: i.priority.clone(),
                created: util::jira_time(i.created),
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
    /// Comments.
    pub comments: Vec<JiraCommentView>,
    /// Other fields sent on create.
    pub other_fields: BTreeMap<String, Value>,
}
