//! Jira Cloud REST API v3 client (`https://<site>.atlassian.net/rest/api/3/...`), Basic auth
//! with an Atlassian account email and API token. A token with scopes (a service account's
//! always has them) is used through Atlassian's API gateway,
//! `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`, found out at verification
//! ([`route`]).
//!
//! Rich text (descriptions, comments) must be Atlassian Document Format in v3: see [`adf`].
//! Search uses `GET /rest/api/3/search/jql` with `nextPageToken`/`isLast` (the old
//! `/rest/api/3/search` is removed) and is eventually consistent, so "search, then create" is
//! not idempotent on its own (README.md, "How exactly-once works"). Issues are created with
//! the issue type and priority by id, read from the project's create metadata when the
//! connection is verified ([`createmeta`]). Wire facts (docs/vendors/jira.md) follow
//! Atlassian's documentation: Basic auth
//! <https://developer.atlassian.com/cloud/jira/service-desk/basic-auth-for-rest-apis/>, ADF
//! <https://developer.atlassian.com/cloud/jira/platform/apis/document/structure>, search
//! consistency <https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile>,
//! rate limits <https://developer.atlassian.com/cloud/jira/platform/rate-limiting/>.

pub mod adf;
mod changes;
pub(crate) mod client;
pub mod createmeta;
pub(crate) mod model;
pub mod route;
pub mod settings;
mod sink;
pub mod verify;
pub mod workflow;

pub use changes::{parse_jira_time, ticket_state};
pub use client::{
    JiraClient, MAX_LABEL_CHARS, MAX_SUMMARY_CHARS, SYSTEM, clean_summary, valid_project_key,
};
pub use model::{
    CommentRef, CreateMetaField, CreateMetaIssueType, CreatedIssue, IdName, Issue, IssueFields,
    IssueRef, Myself, NamedRef, NewIssue, StatusCategory,
};
pub use sink::{JiraSink, to_adf};
pub use workflow::{
    IssueState, JiraStatus, ScreenField, Transition, TransitionError, TransitionOutcome,
    TransitionRequest, choose_transition,
};
