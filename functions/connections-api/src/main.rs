//! The `connections-api` Lambda function: `/connections`, `/runs`, `/audit`, `/health` behind
//! API Gateway with IAM authorisation, and the daily re-test of every connection. Wiring only.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskflow::app::App;
use riskflow::config::Config;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let cfg = Config::from_env()?;
    // One SDK configuration for the state, the secrets and the run invoker.
    let sdk = riskflow::app::aws::aws_sdk_config().await;
    let env = App::aws_with(&cfg, &sdk, None);
    let api = riskflow::app::aws::aws_connections_api(&env, &cfg, &sdk);
    lambda_runtime::run(service_fn(|ev: LambdaEvent<Value>| {
        riskflow::lambda::api_event(&api, ev)
    }))
    .await
}
