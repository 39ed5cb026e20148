//! Records which AWS API operations the code calls, through an SDK interceptor: the IAM contract
//! test compares them with what each function's role allows, and the benchmark counts requests
//! per acted-on session with it.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts calls by (service, operation), e.g. `("dynamodb", "PutItem")`.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder {
    calls: Arc<Mutex<BTreeMap<(String, String), u64>>>,
}

impl CallRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every (service, operation) seen, with its count.
    pub fn calls(&self) -> BTreeMap<(String, String), u64> {
        self.calls.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The IAM action names (`dynamodb:PutItem`) of the calls seen.
    pub fn iam_actions(&self) -> std::collections::BTreeSet<String> {
        self.calls()
            .keys()
            .map(|(s, o)| format!("{}:{o}", iam_service(s)))
            .collect()
    }

    /// Calls of one service.
    pub fn count(&self, service: &str) -> u64 {
        self.calls()
            .iter()
            .filter(|((s, _), _)| iam_service(s) == service)
            .map(|(_, n)| *n)
            .sum()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.calls.lock() {
            m.clear();
        }
    }
}

/// The IAM service prefix of an SDK service name.
fn iam_service(sdk: &str) -> String {
    match sdk.to_ascii_lowercase().replace(' ', "").as_str() {
        "dynamodb" => "dynamodb".into(),
        "secretsmanager" => "secretsmanager".into(),
        "lambda" => "lambda".into(),
        other => other.to_string(),
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
            let svc = if svc.starts_with("DynamoDB") {
                "dynamodb"
            } else {
                svc
            };
            Some((svc.to_ascii_lowercase(), op.to_string()))
        });
        let key = from_target.or_else(|| {
            cfg.load::<Metadata>()
                .map(|m| (m.service().to_ascii_lowercase(), m.name().to_string()))
        });
        if let (Some(k), Ok(mut calls)) = (key, self.calls.lock()) {
            *calls.entry(k).or_default() += 1;
        }
        Ok(())
    }
}
