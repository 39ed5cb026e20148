//! Jira Cloud v3 wire types: the issue to create, created issues, search results, the
//! severity → priority mapping.

use super::adf::Doc;
use serde::{Deserialize, Deserializer, Serialize};

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An issue to create (`POST /rest/api/3/issue`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewIssue {
    /// e.g. `SEC`.
    pub project_key: String,
    /// e.g. `Task`; issue types are per project.
    pub issue_type: String,
    /// One line, at most 255 characters (longer summaries are cut, newlines become spaces).
    pub summary: String,
    pub description: Doc,
    /// No whitespace in a label (Jira splits on it); e.g. `riskflow-alert-tickets-<sessionId>`.
    pub labels: Vec<String>,
    /// e.g. `High`; `None` leaves the project's default.
    pub priority_name: Option<String>,
}

/// `201 {"id","key","self"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
    /// The issue's REST URL (`self`).
    pub self_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CreatedIssueWire {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default, rename = "self")]
    pub self_url: Option<String>,
}

/// A created comment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    #[serde(default)]
    pub id: Option<String>,
}

/// An issue's id and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    pub id: String,
    pub key: String,
}

/// `GET /rest/api/3/myself`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// May be empty because of profile privacy settings.
    #[serde(default)]
    pub email_address: Option<String>,
}

/// A search hit. Only the fields asked for are filled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default, rename = "self")]
    pub self_url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub fields: IssueFields,
}

/// The fields riskflow reads. Everything else is ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IssueFields {
    #[serde(default)]
    pub summary: Option<String>,
    /// `None` when the field was not asked for.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub status: Option<NamedRef>,
    #[serde(default)]
    pub priority: Option<NamedRef>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
}

/// A `{"name": …}` object (status, priority).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// One page of `GET /rest/api/3/search/jql`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchPage {
    #[serde(default, deserialize_with = "null_default")]
    pub issues: Vec<Issue>,
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub is_last: Option<bool>,
}

/// Jira priority names for Incydr severities 0..=4, configurable per connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityMap {
    /// Index = severity (0 no risk … 4 critical).
    pub names: [String; 5],
}

impl Default for PriorityMap {
    fn default() -> Self {
        PriorityMap {
            names: [0u8, 1, 2, 3, 4].map(|s| priority_for_severity(s).to_string()),
        }
    }
}

impl PriorityMap {
    /// The priority for a severity; above 4 counts as 4.
    pub fn name_for(&self, severity: u8) -> &str {
        &self.names[usize::from(severity.min(4))]
    }
}

/// The default mapping: 4 Highest, 3 High, 2 Medium, 1 Low, 0 Lowest (above 4 counts as 4).
pub fn priority_for_severity(severity: u8) -> &'static str {
    match severity {
        0 => "Lowest",
        1 => "Low",
        2 => "Medium",
        3 => "High",
        _ => "Highest",
    }
}
