//! DynamoDB and Secrets Manager misbehaving under alert-tickets (faults injected at the SDK's
//! HTTP layer in front of the emulator, see `riskflow::testing::aws_faults`): a run whose state
//! store or secrets are unavailable fails cleanly before any outside effect; throttling and
//! lost answers mid-run leave work for later runs; once AWS recovers, the runs settle with
//! exactly one ticket per session and nothing left over.

use riskflow::app::App;
use riskflow::domain::{ConnectionKind, Flow, RunStatus};
use riskflow::secrets::secrets_manager::SecretsManagerStore;
use riskflow::testing::aws_faults::{AwsFault, AwsFaults, DYNAMODB, SECRETS_MANAGER};
use riskflow_e2e::{Options, Secrets, World, count, found_nothing_to_do};
use serde_json::json;
use std::sync::Arc;

const FLOW: Flow = Flow::AlertTickets;
const SESSIONS: usize = 120;
/// Past the item leases and Jira's consistency horizon.
const LATER_MS: i64 = 11 * 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_store_and_secrets_failures_fail_runs_cleanly_and_lose_nothing() {
    let faults = AwsFaults::new(7);
    let w = World::start_with(Options {
        secrets: Secrets::SecretsManager,
        aws_faults: Some(faults.clone()),
        ..Options::default()
    })
    .await;
    w.connect(ConnectionKind::Incydr, json!({"write_back_note": true}))
        .await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    let ids = w.seed_alert_sessions("awsfault", SESSIONS);

    // The state store refuses everything: the run fails, naming it, and touches nothing outside.
    faults.add(DYNAMODB, 1.0, AwsFault::Throttle);
    let rec = w.run(FLOW).await;
    assert_eq!(rec.status, RunStatus::Failed, "{rec:#?}");
    assert!(
        rec.errors.iter().any(|e| e.contains("state store")),
        "{:?}",
        rec.errors
    );
    assert!(w.sb().jira_issues().is_empty());
    faults.clear();

    // Secrets Manager refuses everything and nothing is cached (a cold start): the run fails,
    // naming the credentials, and touches nothing outside.
    let sdk = faults.config(&riskflow::testing::aws_test_config().await);
    let mut cold = App::new(
        w.env.store.clone(),
        Arc::new(SecretsManagerStore::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
        )),
        w.env.secret_prefix.clone(),
        true,
    );
    cold.clock = w.clock.as_clock();
    cold.timing = w.env.timing.clone();
    faults.add(SECRETS_MANAGER, 1.0, AwsFault::Throttle);
    let rec = cold
        .run_flow(FLOW, false, std::time::Instant::now() + w.run_budget)
        .await;
    assert_eq!(rec.status, RunStatus::Failed, "{rec:#?}");
    assert!(
        rec.errors.iter().any(|e| e.contains("credentials")),
        "{:?}",
        rec.errors
    );
    assert!(w.sb().jira_issues().is_empty());
    faults.clear();

    // Throttling and answers lost after the write was applied, mid-run, on both services (the
    // SDK retries three times; some calls still fail): runs go partly through.
    faults.add(DYNAMODB, 0.25, AwsFault::Throttle);
    faults.add(DYNAMODB, 0.10, AwsFault::AppliedThen500);
    faults.add(SECRETS_MANAGER, 0.5, AwsFault::Throttle);
    let mut under_faults = Vec::new();
    for _ in 0..3 {
        let rec = cold
            .run_flow(FLOW, false, std::time::Instant::now() + w.run_budget)
            .await;
        under_faults.push((rec.status, count(&rec, "tickets_created"), rec.errors.len()));
        w.clock.advance(LATER_MS);
    }
    let injected = (faults.injected(DYNAMODB), faults.injected(SECRETS_MANAGER));
    faults.clear();
    eprintln!("runs under faults: {under_faults:?}; faults injected (DynamoDB, SM): {injected:?}");
    assert!(injected.0 > 50, "DynamoDB faults injected: {injected:?}");

    // AWS recovers: the runs settle with exactly one ticket per session.
    let mut settled = false;
    for _ in 0..6 {
        let rec = cold
            .run_flow(FLOW, false, std::time::Instant::now() + w.run_budget)
            .await;
        if found_nothing_to_do(&rec) && w.open_items(FLOW).await.is_empty() {
            settled = true;
            break;
        }
        w.clock.advance(LATER_MS);
    }
    assert!(settled, "the runs did not settle once AWS recovered");
    w.assert_one_jira_ticket_each(FLOW, &ids);
    w.assert_items_record_their_jira_tickets(FLOW, &ids, w.clock.now())
        .await;
}
