//! A helper process for the multi-process tests: builds the same `App` as the test (the same
//! DynamoDB table in the emulator, the same secrets file, a given clock offset), runs one flow
//! through `App::run_flow`, and prints the run record as one JSON line on stdout.
//!
//! Configured by the environment (see `riskflow_e2e::worker_env`) plus the emulator's
//! `AWS_ENDPOINT_URL`.

use riskflow::domain::Flow;
use riskflow_e2e::{RUN_BUDGET, worker_env, worker_env_from_environment};
use std::time::Instant;

#[tokio::main]
async fn main() {
    // Logs (when RUST_LOG is set) go to stderr: stdout carries the run record.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let flow: Flow = std::env::var(worker_env::FLOW)
        .unwrap_or_else(|_| "alert-tickets".into())
        .parse()
        .expect("a flow name");
    let env = worker_env_from_environment().await;
    let rec = env.run_flow(flow, false, Instant::now() + RUN_BUDGET).await;
    println!(
        "{}",
        serde_json::to_string(&rec).expect("a run record serialises")
    );
}
