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
    /// The issue type's id in this project (issue types are per project: two projects'
    /// "Task" may have different ids, so a name is not enough).
    pub issue_type_id: String,
    /// One line, at most 255 characters (longer summaries are cut, newlines become spaces).
    pub summary: String,
    pub description: Doc,
    /// No whitespace in a label (Jira splits on it); e.g. `riskflow-alert-tickets-<sessionId>`.
    pub labels: Vec<String>,
    /// The priority's id; `None` sends no priority (the project's default applies). Only sent
    /// when the project's create screen has Priority.
    pub priority_id: Option<String>,
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

impl CreatedIssueWire {
    /// The created issue, or `None` when the answer names no key (nothing to record).
    pub(crate) fn into_created(self) -> Option<CreatedIssue> {
        let key = self.key.filter(|k| !k.is_empty())?;
        Some(CreatedIssue {
            id: self.id.unwrap_or_default(),
            key,
            self_url: self.self_url,
        })
    }
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

/// `GET <site>/_edge/tenant_info`: `{"cloudId": "…"}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TenantInfo {
    #[serde(default, rename = "cloudId")]
    pub cloud_id: Option<String>,
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
    /// `null` while unresolved (a done status may still have none).
    #[serde(default)]
    pub resolution: Option<NamedRef>,
}

/// A `{"name": …}` object (status, priority, resolution).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// A status's category (`new`, `indeterminate`, `done`): stable across sites, unlike names.
    #[serde(
        default,
        rename = "statusCategory",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_category: Option<StatusCategory>,
}

/// `status.statusCategory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCategory {
    #[serde(default)]
    pub key: Option<String>,
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

/// An `{"id","name"}` pair (an issue type, a priority).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdName {
    pub id: String,
    pub name: String,
}

/// One issue type of `GET /rest/api/3/issue/createmeta/{project}/issuetypes`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateMetaIssueType {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Sub-task types need a parent: not usable for a new ticket.
    #[serde(default)]
    pub subtask: bool,
}

/// One field of the create screen, `GET /rest/api/3/issue/createmeta/{project}/issuetypes/{id}`
/// (FieldCreateMetadata).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMetaField {
    #[serde(default)]
    pub field_id: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub has_default_value: bool,
    /// For Priority: the priorities of the project's scheme (`{"id","name",…}`).
    #[serde(default, deserialize_with = "null_default")]
    pub allowed_values: Vec<NamedRef>,
}

impl CreateMetaField {
    /// The field's id (`fieldId`, or `key` when a server sends only that).
    pub fn id(&self) -> &str {
        if self.field_id.is_empty() {
            &self.key
        } else {
            &self.field_id
        }
    }
}

/// One page of create metadata: issue types (PageOfCreateMetaIssueTypes names the list
/// `issueTypes` and also lists `createMetaIssueType`) or create-screen fields
/// (PageOfCreateMetaIssueTypeWithField: `fields`, also listed as `results`); Data Center
/// answers `values`. Whichever list is not empty is the page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", bound = "T: Deserialize<'de>")]
pub(crate) struct CreateMetaPage<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    issue_types: Vec<T>,
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    create_meta_issue_type: Vec<T>,
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    fields: Vec<T>,
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    results: Vec<T>,
    #[serde(default = "Vec::new", deserialize_with = "null_default")]
    values: Vec<T>,
    /// Items in all pages.
    #[serde(default)]
    pub total: Option<u64>,
}

impl<T> CreateMetaPage<T> {
    /// The page's items.
    pub fn items(self) -> Vec<T> {
        [
            self.issue_types,
            self.create_meta_issue_type,
            self.fields,
            self.results,
            self.values,
        ]
        .into_iter()
        .find(|l| !l.is_empty())
        .unwrap_or_default()
    }
}
