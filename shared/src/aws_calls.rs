//! Records which AWS API operations the code calls, through an SDK interceptor: the IAM contract
//! test compares them with what each function's role allows, and the benchmark counts requests
//! per acted-on session with it.
//!
//! Besides the SDK operations it records the **IAM authorisations** each request needs, which are
//! not the operations one to one (<https://docs.aws.amazon.com/service-authorization/latest/reference/>):
//! - `TransactWriteItems` is not an IAM action: IAM checks each item of the transaction as the
//!   operation it performs (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`), with
//!   the condition key `dynamodb:EnclosingOperation` = `TransactWriteItems`
//!   (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html>);
//! - the SDK's Lambda `Invoke` is authorised as `lambda:InvokeFunction`;
//! - Secrets Manager calls are recorded with the secret they name, so a role can be checked per
//!   secret; Lambda invokes with the function they start.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// One authorisation IAM evaluates for a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IamCheck {
    /// The IAM action, e.g. `dynamodb:DeleteItem`.
    pub action: String,
    /// What it acts on, as the request names it: the table name, the secret id, the function
    /// name. Empty when the request names none.
    pub resource: String,
    /// The operation enclosing it (`dynamodb:EnclosingOperation`), e.g. `TransactWriteItems`.
    pub enclosing: Option<String>,
}

#[derive(Debug, Default)]
struct Seen {
    calls: BTreeMap<(String, String), u64>,
    checks: BTreeSet<IamCheck>,
}

/// Counts calls by (service, operation), e.g. `("dynamodb", "PutItem")`, and records the IAM
/// authorisations they need.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder {
    seen: Arc<Mutex<Seen>>,
}

impl CallRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every (service, operation) seen, with its count.
    pub fn calls(&self) -> BTreeMap<(String, String), u64> {
        self.seen
            .lock()
            .map(|m| m.calls.clone())
            .unwrap_or_default()
    }

    /// Every IAM authorisation the calls seen needed.
    pub fn iam_checks(&self) -> BTreeSet<IamCheck> {
        self.seen
            .lock()
            .map(|m| m.checks.clone())
            .unwrap_or_default()
    }

    /// The IAM action names (`dynamodb:PutItem`) the calls seen needed.
    pub fn iam_actions(&self) -> BTreeSet<String> {
        self.iam_checks().into_iter().map(|c| c.action).collect()
    }

    /// Calls of one service.
    pub fn count(&self, service: &str) -> u64 {
        self.calls()
            .iter()
            .filter(|((s, _), _)| s == service)
            .map(|(_, n)| *n)
            .sum()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.seen.lock() {
            *m = Seen::default();
        }
    }

    fn record(&self, service: &str, operation: &str, checks: Vec<IamCheck>) {
        if let Ok(mut m) = self.seen.lock() {
            *m.calls
                .entry((service.to_string(), operation.to_string()))
                .or_default() += 1;
            m.checks.extend(checks);
        }
    }
}

/// The IAM service prefix of an SDK service name or `X-Amz-Target` prefix.
fn iam_service(sdk: &str) -> String {
    let s = sdk.to_ascii_lowercase().replace(' ', "");
    if s.starts_with("dynamodb") {
        "dynamodb".into()
    } else {
        s
    }
}

/// The IAM authorisations one request needs, from its service, operation, URI and JSON body.
pub fn iam_checks_of(
    service: &str,
    operation: &str,
    uri: &str,
    body: Option<&serde_json::Value>,
) -> Vec<IamCheck> {
    let text = |k: &str| {
        body.and_then(|b| b.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let check = |action: String, resource: String, enclosing: Option<&str>| IamCheck {
        action,
        resource,
        enclosing: enclosing.map(str::to_string),
    };
    match (service, operation) {
        ("dynamodb", "TransactWriteItems") => body
            .and_then(|b| b.get("TransactItems"))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, op) = item.as_object()?.iter().next()?;
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    other => other,
                };
                let table = op.get("TableName")?.as_str()?.to_string();
                Some(check(
                    format!("dynamodb:{action}"),
                    table,
                    Some("TransactWriteItems"),
                ))
            })
            .collect(),
        ("dynamodb", "BatchGetItem" | "BatchWriteItem") => body
            .and_then(|b| b.get("RequestItems"))
            .and_then(|v| v.as_object())
            .into_iter()
            .flat_map(|m| m.keys())
            .map(|t| check(format!("dynamodb:{operation}"), t.clone(), None))
            .collect(),
        ("dynamodb", _) => vec![check(
            format!("dynamodb:{operation}"),
            text("TableName"),
            None,
        )],
        ("secretsmanager", "CreateSecret") => {
            vec![check(
                format!("secretsmanager:{operation}"),
                text("Name"),
                None,
            )]
        }
        ("secretsmanager", _) => vec![check(
            format!("secretsmanager:{operation}"),
            text("SecretId"),
            None,
        )],
        // POST /2015-03-31/functions/{FunctionName}/invocations
        ("lambda", "Invoke") => {
            let name = uri
                .split("/functions/")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .map(|n| {
                    percent_encoding::percent_decode_str(n)
                        .decode_utf8_lossy()
                        .to_string()
                })
                .unwrap_or_default();
            vec![check("lambda:InvokeFunction".into(), name, None)]
        }
        (s, op) => vec![check(format!("{s}:{op}"), String::new(), None)],
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "riskflow.CallRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request();
        // awsJson protocols (DynamoDB, Secrets Manager) name the operation in X-Amz-Target,
        // e.g. `DynamoDB_20120810.PutItem`; otherwise the operation metadata names it.
        let from_target = req.headers().get("x-amz-target").and_then(|t| {
            let (svc, op) = t.split_once('.')?;
            Some((iam_service(svc), op.to_string()))
        });
        let key = from_target.or_else(|| {
            cfg.load::<Metadata>()
                .map(|m| (iam_service(m.service()), m.name().to_string()))
        });
        if let Some((service, operation)) = key {
            let body: Option<serde_json::Value> = req
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok());
            let checks = iam_checks_of(&service, &operation, req.uri(), body.as_ref());
            self.record(&service, &operation, checks);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_transaction_needs_the_action_of_each_item_inside_its_enclosing_operation() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {}}},
            {"Update": {"TableName": "t", "Key": {}}},
            {"Delete": {"TableName": "t", "Key": {}}},
            {"ConditionCheck": {"TableName": "t", "Key": {}}},
        ]});
        let got: Vec<String> = iam_checks_of("dynamodb", "TransactWriteItems", "/", Some(&body))
            .into_iter()
            .map(|c| {
                assert_eq!(c.enclosing.as_deref(), Some("TransactWriteItems"));
                assert_eq!(c.resource, "t");
                c.action
            })
            .collect();
        assert_eq!(
            got,
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem"
            ]
        );
        let alone = iam_checks_of(
            "dynamodb",
            "DeleteItem",
            "/",
            Some(&json!({"TableName": "t"})),
        );
        assert_eq!(alone[0].enclosing, None);
    }

    #[test]
    fn invoke_is_invoke_function_on_the_named_function_and_secrets_name_their_secret() {
        let c = iam_checks_of(
            "lambda",
            "Invoke",
            "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/rf-alert-tickets/invocations",
            None,
        );
        assert_eq!(c[0].action, "lambda:InvokeFunction");
        assert_eq!(c[0].resource, "rf-alert-tickets");
        let s = iam_checks_of(
            "secretsmanager",
            "GetSecretValue",
            "/",
            Some(&json!({"SecretId": "rf/jira"})),
        );
        assert_eq!(
            (s[0].action.as_str(), s[0].resource.as_str()),
            ("secretsmanager:GetSecretValue", "rf/jira")
        );
        let s = iam_checks_of(
            "secretsmanager",
            "CreateSecret",
            "/",
            Some(&json!({"Name": "rf/okta"})),
        );
        assert_eq!(s[0].resource, "rf/okta");
    }
}
