//! A Workday connection: its form fields and defaults (the report's column names), written
//! once, and the typed settings a run reads them into.

use super::client::WorkdayClient;
use super::model::FieldMapping;
use super::report::WorkdayReport;
use crate::connectors::form::{self, Field, FieldType::*, VendorSettings};
use crate::http::{ClientOptions, Http};
use crate::ports::ConnectorError;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use url::Url;

pub const FIELDS: &[Field] = &[
    Field::new(
        "report_url",
        "RaaS report URL",
        Url,
        false,
        true,
        "The report's JSON web-service URL: the report → Related Actions → Web Service → View URLs → JSON (…/ccx/service/customreport2/<tenant>/<owner>/<report>).",
    ),
    Field::new(
        "username",
        "Integration system user",
        Text,
        false,
        true,
        "The integration system user the report is shared with (task Create Integration System User), as ISU_name@tenant; a name without @ gets the report URL's tenant.",
    ),
    Field::new(
        "password",
        "Password",
        Text,
        true,
        true,
        "The integration system user's password.",
    ),
    Field::new(
        "email_field",
        "Email column",
        Text,
        false,
        false,
        "The report column (its XML alias) with the work email.",
    )
    .default("Email_-_Work"),
    Field::new(
        "termination_date_field",
        "Termination date column",
        Text,
        false,
        false,
        "The report column (XML alias) with the termination date.",
    )
    .default("Termination_Date"),
    Field::new(
        "employee_id_field",
        "Employee ID column",
        Text,
        false,
        false,
        "The report column (XML alias) with the employee ID.",
    )
    .default("Employee_ID"),
    Field::new(
        "last_day_field",
        "Last day of work column",
        Text,
        false,
        false,
        "The report column (XML alias) with the last day of work.",
    )
    .default("Last_Day_of_Work"),
    Field::new(
        "event_id_field",
        "Event ID column",
        Text,
        false,
        false,
        "The report column (XML alias) with the business-process event WID, if the report has one.",
    )
    .default("Business_Process_Event_WID"),
    Field::new(
        "max_shrink_percent",
        "Largest drop read as cancellations (%)",
        Integer,
        false,
        false,
        "A pull that no longer lists more than this share of the people the previous pull listed infers no cancellation until the next pull confirms it (1 to 100; 100 turns the guard off).",
    )
    .default("20"),
];

/// A connected Workday report and its column names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(deserialize_with = "form::url")]
    pub report_url: Url,
    pub username: String,
    pub password: SecretString,
    pub email_field: String,
    pub termination_date_field: String,
    pub employee_id_field: String,
    pub last_day_field: String,
    pub event_id_field: String,
    /// A pull that lost more than this share (%) of the people the previous pull listed
    /// infers no cancellation until the next pull confirms it. 1 to 100, default 20.
    #[serde(deserialize_with = "percent")]
    pub max_shrink_percent: u8,
}

/// A whole number from 1 to 100.
fn percent<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = u64::deserialize(d)?;
    u8::try_from(n)
        .ok()
        .filter(|p| (1..=100).contains(p))
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "the setting 'max_shrink_percent' must be a whole number from 1 to 100, not {n}"
            ))
        })
}

impl Settings {
    /// The report's columns, as the rows are read.
    pub fn mapping(&self) -> FieldMapping {
        FieldMapping {
            email: self.email_field.clone(),
            termination_date: self.termination_date_field.clone(),
            employee_id: self.employee_id_field.clone(),
            last_day: Some(self.last_day_field.clone()),
            event_id: Some(self.event_id_field.clone()),
            ..FieldMapping::default()
        }
    }
}

impl VendorSettings for Settings {
    const FIELDS: &'static [Field] = FIELDS;
    type Built = Arc<WorkdayReport>;

    /// The client, as the HR report hr-departures pulls.
    fn connect(&self, opts: &ClientOptions) -> Result<Arc<WorkdayReport>, ConnectorError> {
        let client = WorkdayClient::new(
            self.report_url.clone(),
            self.username.clone(),
            self.password.clone(),
            Http::guarded(opts)?,
        );
        Ok(Arc::new(WorkdayReport {
            client: Arc::new(client),
            mapping: self.mapping(),
            max_shrink_percent: self.max_shrink_percent,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_form_defaults_deserialise_to_the_default_columns() {
        let s: Settings = form::defaults();
        assert_eq!(s.mapping(), FieldMapping::default());
        assert_eq!(
            s.max_shrink_percent,
            super::super::compare::DEFAULT_MAX_SHRINK_PERCENT
        );
    }

    #[test]
    fn max_shrink_percent_is_read_from_1_to_100_and_refused_outside() {
        let (mut settings, secrets) = form::required_only(FIELDS);
        for (given, want) in [(json!(1), 1), (json!("100"), 100), (json!(35), 35)] {
            settings.insert("max_shrink_percent".into(), given);
            let s = Settings::read(&settings, &secrets).unwrap();
            assert_eq!(s.max_shrink_percent, want);
        }
        for bad in [json!(0), json!(101), json!(1000)] {
            settings.insert("max_shrink_percent".into(), bad.clone());
            let err = Settings::read(&settings, &secrets).unwrap_err().to_string();
            assert!(
                err.contains("'max_shrink_percent' must be a whole number from 1 to 100"),
                "{bad}: {err}"
            );
        }
        settings.insert("max_shrink_percent".into(), json!("a fifth"));
        let err = Settings::read(&settings, &secrets).unwrap_err().to_string();
        assert_eq!(
            err,
            "the setting 'max_shrink_percent' is not a whole number"
        );
    }
}
