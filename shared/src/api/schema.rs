//! The fields each connection kind takes: what the connect form shows and what `PUT
//! /connections/{kind}` validates. Secret fields go to the secret store, the rest to the
//! connection's settings.

use crate::domain::ConnectionKind;
use serde::Serialize;

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// An https URL (checked by the outbound-address guard).
    Url,
    Text,
    /// Multi-line text (PEM certificates).
    Multiline,
    Integer,
    Boolean,
    /// Comma-separated values, stored as a list of strings.
    List,
    /// One of `choices`.
    Choice,
}

/// One field of a connection form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub secret: bool,
    pub required: bool,
    pub help: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<&'static str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub choices: &'static [&'static str],
}

const fn f(
    name: &'static str,
    label: &'static str,
    ty: FieldType,
    secret: bool,
    required: bool,
    help: &'static str,
) -> Field {
    Field {
        name,
        label,
        ty,
        secret,
        required,
        help,
        default: None,
        choices: &[],
    }
}

const fn d(mut field: Field, default: &'static str) -> Field {
    field.default = Some(default);
    field
}

const fn c(mut field: Field, choices: &'static [&'static str]) -> Field {
    field.choices = choices;
    field
}

use FieldType::*;

const INCYDR: &[Field] = &[
    f(
        "url",
        "API URL",
        Url,
        false,
        true,
        "The API gateway of your tenant, e.g. https://api.us.code42.com (console.us → api.us).",
    ),
    f(
        "client_id",
        "API client ID (service account username)",
        Text,
        false,
        true,
        "An Incydr API client's ID (Administration → Integrations → API clients).",
    ),
    f(
        "client_secret",
        "API client secret (service account password)",
        Text,
        true,
        true,
        "The API client's secret, shown once when the client was created.",
    ),
    f(
        "console_url",
        "Console URL",
        Url,
        false,
        false,
        "Used for links to sessions in tickets, e.g. https://console.us.code42.com.",
    ),
    d(
        c(
            f(
                "sink",
                "Open tickets in",
                Choice,
                false,
                false,
                "Where alert-tickets opens a ticket for each alert.",
            ),
            &["jira", "servicenow", "both"],
        ),
        "jira",
    ),
    d(
        f(
            "min_severity",
            "Minimum severity",
            Integer,
            false,
            false,
            "0 no risk, 1 low, 2 moderate, 3 high, 4 critical.",
        ),
        "1",
    ),
    f(
        "states",
        "States to forward",
        List,
        false,
        false,
        "Comma-separated session states (e.g. OPEN,OPEN_NEW_DATA); empty forwards all.",
    ),
    f(
        "rule_ids",
        "Rule IDs to forward",
        List,
        false,
        false,
        "Comma-separated alert rule IDs; empty forwards all.",
    ),
    d(
        f(
            "lookback_days",
            "Lookback (days)",
            Integer,
            false,
            false,
            "How far back each run scans sessions.",
        ),
        "7",
    ),
    d(
        f(
            "write_back_note",
            "Write ticket link back as a note",
            Boolean,
            false,
            false,
            "Add a note with the ticket link to the Incydr session.",
        ),
        "false",
    ),
    f(
        "cleanup_after_days",
        "Remove departed people after (days)",
        Integer,
        false,
        false,
        "Take people riskflow added off the Departing watchlist this many days after they left; empty keeps them.",
    ),
    d(
        f(
            "concurrency",
            "Sessions handled at once",
            Integer,
            false,
            false,
            "How many sessions a run acts on in parallel.",
        ),
        "8",
    ),
];

const JIRA: &[Field] = &[
    f(
        "url",
        "Site URL",
        Url,
        false,
        true,
        "e.g. https://your-site.atlassian.net",
    ),
    f(
        "email",
        "Account email",
        Text,
        false,
        true,
        "The Atlassian account the API token belongs to.",
    ),
    f(
        "api_token",
        "API token",
        Text,
        true,
        true,
        "Created at id.atlassian.com → Security → API tokens.",
    ),
    f(
        "project_key",
        "Project key",
        Text,
        false,
        true,
        "The project tickets are opened in, e.g. SEC.",
    ),
    d(
        f(
            "issue_type",
            "Issue type",
            Text,
            false,
            false,
            "The issue type of new tickets.",
        ),
        "Task",
    ),
];

const SERVICENOW: &[Field] = &[
    f(
        "url",
        "Instance URL",
        Url,
        false,
        true,
        "e.g. https://your-instance.service-now.com",
    ),
    f(
        "username",
        "Username",
        Text,
        false,
        true,
        "A user with the itil role and 'Web service access only' ticked.",
    ),
    f(
        "password",
        "Password",
        Text,
        true,
        true,
        "That user's password.",
    ),
    f(
        "assignment_group",
        "Assignment group sys_id",
        Text,
        false,
        false,
        "Incidents are assigned to this group.",
    ),
    f(
        "caller_id",
        "Caller sys_id",
        Text,
        false,
        false,
        "The caller set on incidents.",
    ),
];

const OKTA: &[Field] = &[
    f(
        "url",
        "Org URL",
        Url,
        false,
        true,
        "e.g. https://your-org.okta.com",
    ),
    f(
        "api_token",
        "API token",
        Text,
        true,
        true,
        "An SSWS API token of an admin allowed to manage the group.",
    ),
    f(
        "group_id",
        "Low-permission group ID",
        Text,
        false,
        true,
        "The OKTA_GROUP (00g…) departing employees are added to when an alert fires.",
    ),
    d(
        f(
            "cap_per_run",
            "Most group adds per run",
            Integer,
            false,
            false,
            "Past it the flow stops adding and raises an alarm.",
        ),
        "10",
    ),
    d(
        f(
            "cap_per_day",
            "Most group adds per day",
            Integer,
            false,
            false,
            "Past it the flow stops adding and raises an alarm.",
        ),
        "25",
    ),
    f(
        "protected_users",
        "Protected users",
        List,
        false,
        false,
        "Comma-separated logins never added to any group.",
    ),
    f(
        "protected_groups",
        "Protected groups",
        List,
        false,
        false,
        "Comma-separated group IDs never changed.",
    ),
];

const WORKDAY: &[Field] = &[
    f(
        "report_url",
        "RaaS report URL",
        Url,
        false,
        true,
        "…/ccx/service/customreport2/<tenant>/<owner>/<report> (format=json is added).",
    ),
    f(
        "username",
        "Integration system user",
        Text,
        false,
        true,
        "e.g. ISU_riskflow@tenant",
    ),
    f(
        "password",
        "Password",
        Text,
        true,
        true,
        "The ISU's password.",
    ),
    d(
        f(
            "email_field",
            "Email column",
            Text,
            false,
            false,
            "The report column with the work email.",
        ),
        "Email_-_Work",
    ),
    d(
        f(
            "termination_date_field",
            "Termination date column",
            Text,
            false,
            false,
            "",
        ),
        "Termination_Date",
    ),
    d(
        f(
            "employee_id_field",
            "Employee ID column",
            Text,
            false,
            false,
            "",
        ),
        "Employee_ID",
    ),
    d(
        f(
            "last_day_field",
            "Last day of work column",
            Text,
            false,
            false,
            "",
        ),
        "Last_Day_of_Work",
    ),
    d(
        f(
            "event_id_field",
            "Event ID column",
            Text,
            false,
            false,
            "A business-process event WID, if the report has one.",
        ),
        "Business_Process_Event_WID",
    ),
];

const ADP: &[Field] = &[
    d(
        f("api_url", "API URL", Url, false, false, ""),
        "https://api.adp.com",
    ),
    d(
        f("token_url", "Token URL", Url, false, false, ""),
        "https://accounts.adp.com/auth/oauth/v2/token",
    ),
    f(
        "client_id",
        "Client ID",
        Text,
        false,
        true,
        "From your ADP Marketplace project.",
    ),
    f("client_secret", "Client secret", Text, true, true, ""),
    f(
        "certificate_pem",
        "Client certificate (PEM)",
        Multiline,
        true,
        true,
        "ADP requires mutual TLS with the certificate it issued.",
    ),
    f(
        "private_key_pem",
        "Client certificate key (PEM)",
        Multiline,
        true,
        true,
        "",
    ),
];

const BAMBOOHR: &[Field] = &[
    f(
        "url",
        "API URL",
        Url,
        false,
        true,
        "https://api.bamboohr.com/api/gateway.php/<company>",
    ),
    f(
        "api_key",
        "API key",
        Text,
        true,
        true,
        "Used to read the employee a webhook names.",
    ),
    f(
        "webhook_key",
        "Webhook private key",
        Text,
        true,
        true,
        "Shown once when the webhook was created; signs each delivery.",
    ),
    f(
        "previous_webhook_key",
        "Previous webhook key",
        Text,
        true,
        false,
        "Also accepted while you rotate the key.",
    ),
];

const GENERIC: &[Field] = &[
    f(
        "signing_secret",
        "Signing secret",
        Text,
        true,
        true,
        "Standard Webhooks secret (whsec_…) your HR system signs deliveries with.",
    ),
    f(
        "previous_signing_secret",
        "Previous signing secret",
        Text,
        true,
        false,
        "Also accepted while you rotate the secret.",
    ),
];

/// The fields of a kind.
pub fn fields(kind: ConnectionKind) -> &'static [Field] {
    match kind {
        ConnectionKind::Incydr => INCYDR,
        ConnectionKind::Jira => JIRA,
        ConnectionKind::Servicenow => SERVICENOW,
        ConnectionKind::Okta => OKTA,
        ConnectionKind::Workday => WORKDAY,
        ConnectionKind::Adp => ADP,
        ConnectionKind::Bamboohr => BAMBOOHR,
        ConnectionKind::Generic => GENERIC,
    }
}

/// The field that holds the system's host, for the "another host needs the secret again" rule.
pub fn host_field(kind: ConnectionKind) -> Option<&'static str> {
    match kind {
        ConnectionKind::Workday => Some("report_url"),
        ConnectionKind::Adp => Some("api_url"),
        ConnectionKind::Generic => None,
        _ => Some("url"),
    }
}
