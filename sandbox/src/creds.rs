//! The demo credentials: what the demo data set, the tests and the local `riskflow dev` use
//! against the fakes.

/// Incydr API client id.
pub const INCYDR_CLIENT_ID: &str = "key-demo";
/// Incydr API client secret.
pub const INCYDR_CLIENT_SECRET: &str = "secret-demo";
/// Jira account email.
pub const JIRA_EMAIL: &str = "demo@example.com";
/// Jira API token (a classic one: it works at the site, not through Atlassian's API gateway).
pub const JIRA_API_TOKEN: &str = "jira-demo-token";
/// Jira API token with scopes, of the same account (as a service account's token always is):
/// it works only through Atlassian's API gateway, `/ex/jira/{cloudId}/rest/...`.
pub const JIRA_SCOPED_API_TOKEN: &str = "jira-demo-scoped-token";
/// ServiceNow user.
pub const SERVICENOW_USER: &str = "admin";
/// ServiceNow password.
pub const SERVICENOW_PASSWORD: &str = "snow-demo";
/// ServiceNow integration user with the `itil` role only (may resolve, may not close, may
/// not write a Closed incident).
pub const SERVICENOW_ITIL_USER: &str = "riskflow.integration";
/// Its password.
pub const SERVICENOW_ITIL_PASSWORD: &str = "snow-itil-demo";
/// Okta API token (`SSWS`).
pub const OKTA_API_TOKEN: &str = "okta-demo-token";
/// Workday integration system user.
pub const WORKDAY_USER: &str = "ISU_demo";
/// Workday password.
pub const WORKDAY_PASSWORD: &str = "workday-demo";
/// ADP client id.
pub const ADP_CLIENT_ID: &str = "adp-demo";
/// ADP client secret.
pub const ADP_CLIENT_SECRET: &str = "adp-demo-secret";
/// BambooHR API key (Basic user name, any password).
pub const BAMBOOHR_API_KEY: &str = "bamboo-demo";
/// BambooHR webhook signing key.
pub const BAMBOOHR_WEBHOOK_KEY: &str = "bamboo-webhook-demo";
