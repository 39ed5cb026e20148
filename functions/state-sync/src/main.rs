//! The `state-sync` Lambda function: runs the state-sync flow on its EventBridge schedule (or when
//! invoked with `{"dry_run": true}`). Wiring only; the flow lives in `riskflow::flows`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use riskflow::app::App;
use riskflow::app::StateSyncJob;
use riskflow::config::Config;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let cfg = Config::from_env()?;
    let env = App::aws(&cfg).await;
    lambda_runtime::run(service_fn(|ev: LambdaEvent<Value>| {
        riskflow::lambda::scheduled::<StateSyncJob>(&env, ev)
    }))
    .await
}
