//! The `hr-departures` Lambda function: HR webhooks (`POST /webhooks/hr/{source}` through API
//! Gateway) and its schedule (pending work, the Workday report, the ADP queue). Wiring only.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskflow::app::App;
use riskflow::config::Config;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let cfg = Config::from_env()?;
    let env = App::aws(&cfg).await;
    lambda_runtime::run(service_fn(|ev: LambdaEvent<Value>| {
        riskflow::lambda::hr_event(&env, ev)
    }))
    .await
}
