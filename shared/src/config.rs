//! Typed configuration, read once from the environment at cold start.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `RISKFLOW_TABLE` | DynamoDB table name (required on AWS) | — |
//! | `RISKFLOW_SECRET_PREFIX` | prefix of every connection secret's name | `riskflow/` |
//! | `RISKFLOW_DRY_RUN` | `true`: read everything, change nothing outside | `false` |
//! | `RISKFLOW_ALLOW_PRIVATE_URLS` | `true`: lift the outbound-address rules (tests, sandbox) | `false` |
//! | `RISKFLOW_FUNCTION_NAMES` | connections-api only: `flow=function-name,...` for `POST /runs/{flow}` | — |
//! | `RISKFLOW_AUDIT_RETENTION_DAYS` | how long audit entries are kept | `400` |
//! | `RISKFLOW_DEPLOYMENT` | the deployment's name: the `deployment` dimension of every metric | `riskflow` |
//! | `RISKFLOW_KMS_KEY_ARN` | customer-managed KMS key the connection secrets are created with; empty: Secrets Manager's default key | — |
//!
//! A missing or malformed value fails with a message that names the variable.

use std::collections::BTreeMap;

/// A configuration error; its message names the variable and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set; {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} has an invalid value {value:?}: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The configuration of a deployed function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table: String,
    pub secret_prefix: String,
    pub dry_run: bool,
    pub allow_private_urls: bool,
    pub function_names: BTreeMap<String, String>,
    pub audit_retention_days: u32,
    /// The deployment's name (the Terraform module's `name`).
    pub deployment: String,
    /// The KMS key new connection secrets are encrypted with.
    pub kms_key_arn: Option<String>,
}

/// Parse a boolean setting strictly: `true`/`false`/`1`/`0` (any case); anything else is an error.
pub fn parse_bool(name: &'static str, value: Option<&str>) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "false" || v == "0" => Ok(false),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) => Err(ConfigError::Invalid {
            name,
            value: v,
            expected: "expected true or false",
        }),
    }
}

impl Config {
    /// Read from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read through a lookup function (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let table = get("RISKFLOW_TABLE")
            .filter(|v| !v.trim().is_empty())
            .ok_or(ConfigError::Missing {
                name: "RISKFLOW_TABLE",
                hint: "set it to the DynamoDB table the Terraform module created",
            })?;
        if !table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            || table.len() < 3
            || table.len() > 255
        {
            return Err(ConfigError::Invalid {
                name: "RISKFLOW_TABLE",
                value: table,
                expected: "a DynamoDB table name: 3-255 characters of a-z, A-Z, 0-9, _ - .",
            });
        }
        let secret_prefix = get("RISKFLOW_SECRET_PREFIX").unwrap_or_else(|| "riskflow/".into());
        if !secret_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
        {
            return Err(ConfigError::Invalid {
                name: "RISKFLOW_SECRET_PREFIX",
                value: secret_prefix,
                expected: "characters allowed in a Secrets Manager name: a-z A-Z 0-9 / _ + = . @ -",
            });
        }
        let dry_run = parse_bool("RISKFLOW_DRY_RUN", get("RISKFLOW_DRY_RUN").as_deref())?;
        let allow_private_urls = parse_bool(
            "RISKFLOW_ALLOW_PRIVATE_URLS",
            get("RISKFLOW_ALLOW_PRIVATE_URLS").as_deref(),
        )?;
        let mut function_names = BTreeMap::new();
        if let Some(raw) = get("RISKFLOW_FUNCTION_NAMES") {
            for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (flow, name) = pair.split_once('=').ok_or(ConfigError::Invalid {
                    name: "RISKFLOW_FUNCTION_NAMES",
                    value: raw.clone(),
                    expected: "comma-separated flow=function-name pairs",
                })?;
                function_names.insert(flow.trim().to_string(), name.trim().to_string());
            }
        }
        let audit_retention_days =
            match get("RISKFLOW_AUDIT_RETENTION_DAYS") {
                None => 400,
                Some(v) => v.trim().parse::<u32>().ok().filter(|d| *d >= 1).ok_or(
                    ConfigError::Invalid {
                        name: "RISKFLOW_AUDIT_RETENTION_DAYS",
                        value: v,
                        expected: "a whole number of days, at least 1",
                    },
                )?,
            };
        let deployment = get("RISKFLOW_DEPLOYMENT")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "riskflow".into());
        if deployment.len() > 64
            || !deployment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::Invalid {
                name: "RISKFLOW_DEPLOYMENT",
                value: deployment,
                expected: "the deployment's name: up to 64 letters, digits, - and _",
            });
        }
        let kms_key_arn = get("RISKFLOW_KMS_KEY_ARN")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        if let Some(k) = &kms_key_arn
            && !(k.starts_with("arn:") && k.contains(":kms:"))
        {
            return Err(ConfigError::Invalid {
                name: "RISKFLOW_KMS_KEY_ARN",
                value: k.clone(),
                expected: "a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>) or empty",
            });
        }
        Ok(Config {
            table,
            secret_prefix,
            dry_run,
            allow_private_urls,
            function_names,
            audit_retention_days,
            deployment,
            kms_key_arn,
        })
    }

    /// The secret name of a connection kind.
    pub fn secret_name(&self, kind: crate::domain::ConnectionKind) -> String {
        format!("{}{}", self.secret_prefix, kind.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn a_missing_table_fails_with_the_variable_name() {
        let e = cfg(&[]).unwrap_err();
        assert!(
            e.to_string().starts_with("RISKFLOW_TABLE is not set"),
            "{e}"
        );
    }

    #[test]
    fn malformed_values_name_the_variable_and_what_was_expected() {
        let e = cfg(&[("RISKFLOW_TABLE", "tbl"), ("RISKFLOW_DRY_RUN", "yes")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "RISKFLOW_DRY_RUN has an invalid value \"yes\": expected true or false"
        );
        let e = cfg(&[("RISKFLOW_TABLE", "bad table!")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("RISKFLOW_TABLE has an invalid value")
        );
        let e = cfg(&[("RISKFLOW_TABLE", "tbl"), ("RISKFLOW_FUNCTION_NAMES", "x")]).unwrap_err();
        assert!(e.to_string().starts_with("RISKFLOW_FUNCTION_NAMES"));
        let e = cfg(&[
            ("RISKFLOW_TABLE", "tbl"),
            ("RISKFLOW_AUDIT_RETENTION_DAYS", "0"),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("RISKFLOW_AUDIT_RETENTION_DAYS"));
    }

    #[test]
    fn defaults_apply_and_values_are_read() {
        let c = cfg(&[
            ("RISKFLOW_TABLE", "riskflow-prod"),
            ("RISKFLOW_DRY_RUN", "TRUE"),
            (
                "RISKFLOW_FUNCTION_NAMES",
                "alert-tickets=rf-alert, hr-departures=rf-hr",
            ),
        ])
        .unwrap();
        assert_eq!(c.secret_prefix, "riskflow/");
        assert!(c.dry_run && !c.allow_private_urls);
        assert_eq!(c.function_names["hr-departures"], "rf-hr");
        assert_eq!(c.audit_retention_days, 400);
        assert_eq!(c.deployment, "riskflow");
        assert_eq!(c.kms_key_arn, None);
        let c = cfg(&[
            ("RISKFLOW_TABLE", "t-1"),
            ("RISKFLOW_DEPLOYMENT", "rf-staging"),
            (
                "RISKFLOW_KMS_KEY_ARN",
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
        ])
        .unwrap();
        assert_eq!(c.deployment, "rf-staging");
        assert!(
            c.kms_key_arn
                .as_deref()
                .is_some_and(|k| k.ends_with("567890ab"))
        );
        let e = cfg(&[
            ("RISKFLOW_TABLE", "t-1"),
            ("RISKFLOW_KMS_KEY_ARN", "alias/aws/sns"),
        ])
        .unwrap_err();
        assert!(e.to_string().starts_with("RISKFLOW_KMS_KEY_ARN"), "{e}");
        let e = cfg(&[("RISKFLOW_TABLE", "t-1"), ("RISKFLOW_DEPLOYMENT", "a b")]).unwrap_err();
        assert!(e.to_string().starts_with("RISKFLOW_DEPLOYMENT"), "{e}");
        assert_eq!(
            c.secret_name(crate::domain::ConnectionKind::Jira),
            "riskflow/jira"
        );
    }
}
