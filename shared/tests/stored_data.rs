//! Stored data stays readable: items written by riskflow 0.1 (`fixtures/stored-0.1.json`: an
//! in-flight ticket intent without outcome, a finished item, a contained session, an HR item
//! with a watchlist intent, a person, a delivery, the Workday report snapshot as one item) are put raw into each backend (memory,
//! SQLite, DynamoDB through the emulator), then read and acted on by today's code as 0.1 did.
//! An in-flight intent misread would become a duplicate ticket, so that case is acted on.

use async_trait::async_trait;
use riskflow::connectors::ConnectorError;
use riskflow::connectors::workday;
use riskflow::domain::{
    ConnectionKind, Flow, HrEventKind, HrSource, ItemStatus, Step, TicketContent, TicketRef,
};
use riskflow::flows::RunCtx;
use riskflow::flows::tickets::{TicketPlan, plan_ticket, recorded_ticket};
use riskflow::ports::{ReportAnswer, TicketSink};
use riskflow::store::sqlite::SqliteItemStore;
use riskflow::store::{Claim, Cond, RawItem, Store};
use riskflow::testing::{TempDir, dynamo_test_store};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// After every fixture's lease passed, before the delivery's retention ends.
const NOW: i64 = 1_764_000_000_000;
const HORIZON_MS: i64 = 120_000;

async fn load(store: &Store) {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/stored-0.1.json")).unwrap();
    for it in doc["items"].as_array().unwrap() {
        let raw = RawItem {
            pk: it["pk"].as_str().unwrap().into(),
            sk: it["sk"].as_str().unwrap().into(),
            version: it["version"].as_u64().unwrap(),
            expires_at: it["expires_at"].as_i64(),
            lease_until: it["lease_until"].as_i64(),
            lease_token: it["lease_token"].as_str().map(String::from),
            body: it["body"].to_string(),
        };
        store.backend().put(raw, Cond::Always).await.unwrap();
    }
}

/// Jira as 0.1 met it: search lags, and nothing is found by the dedup key.
struct LaggingJira {
    finds: AtomicUsize,
}

#[async_trait]
impl TicketSink for LaggingJira {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Jira
    }
    fn search_horizon_ms(&self) -> i64 {
        HORIZON_MS
    }
    async fn find(
        &self,
        _dedup_key: &str,
        _deadline: Option<Instant>,
    ) -> Result<Option<TicketRef>, ConnectorError> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    }
    async fn create(
        &self,
        _content: &TicketContent,
        _dedup_key: &str,
        _deadline: Option<Instant>,
    ) -> Result<TicketRef, ConnectorError> {
        unreachable!("planning never creates")
    }
    async fn comment(
        &self,
        _ticket: &TicketRef,
        _content: &TicketContent,
        _deadline: Option<Instant>,
    ) -> Result<(), ConnectorError> {
        unreachable!("planning never comments")
    }
    async fn has_comment(
        &self,
        _ticket: &TicketRef,
        _marker: &str,
        _deadline: Option<Instant>,
    ) -> Result<bool, ConnectorError> {
        unreachable!("planning never comments")
    }
}

fn ctx(store: &Store, flow: Flow, now: i64) -> RunCtx {
    RunCtx::new(
        store.clone(),
        flow,
        Instant::now() + Duration::from_secs(30),
        false,
        Arc::new(move || now),
    )
}

async fn reads_and_acts_as_0_1(store: Store) {
    load(&store).await;

    // An in-flight ticket intent whose answer was lost: claimed again, it is not created again
    // while Jira's search may lag, and past the horizon only after searching again.
    let item = store
        .item(Flow::AlertTickets, "sess-inflight", NOW)
        .await
        .unwrap()
        .expect("the in-flight item reads");
    let step = item.step(Step::Ticket(ConnectionKind::Jira)).unwrap();
    assert_eq!(step.intent_at, Some(1_763_999_950_000));
    assert!(recorded_ticket(&item, Step::Ticket(ConnectionKind::Jira)).is_none());
    let (lease, item) = match store
        .claim(
            Flow::AlertTickets,
            "sess-inflight",
            Some(&item),
            false,
            60_000,
            NOW,
        )
        .await
        .unwrap()
    {
        Claim::Acquired { lease, item } => (lease, item),
        other => panic!("the passed lease is taken over: {other:?}"),
    };
    let jira = LaggingJira {
        finds: AtomicUsize::new(0),
    };
    let key = "riskflow-alert-tickets-sess-inflight";
    let plan = plan_ticket(
        &ctx(&store, Flow::AlertTickets, NOW),
        &jira,
        &item,
        &lease,
        key,
        None,
    )
    .await
    .unwrap();
    assert!(matches!(plan, TicketPlan::Wait { .. }), "{plan:?}");
    let later = 1_763_999_950_000 + HORIZON_MS + 1;
    let plan = plan_ticket(
        &ctx(&store, Flow::AlertTickets, later),
        &jira,
        &item,
        &lease,
        key,
        None,
    )
    .await
    .unwrap();
    assert_eq!(plan, TicketPlan::Create);
    // Searched by its label on each attempt, and once more past the horizon, before a create.
    assert_eq!(jira.finds.load(Ordering::SeqCst), 3);

    // A finished item: its tickets and its comment are read as recorded.
    let done = store
        .item(Flow::AlertTickets, "sess-done", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, ItemStatus::Done);
    let t = recorded_ticket(&done, Step::Ticket(ConnectionKind::Jira)).unwrap();
    assert_eq!(
        (t.system, t.key.as_str(), t.id.as_str()),
        (ConnectionKind::Jira, "SEC-42", "10042")
    );
    let t = recorded_ticket(&done, Step::Ticket(ConnectionKind::Servicenow)).unwrap();
    assert_eq!(
        (t.system, t.key.as_str()),
        (ConnectionKind::Servicenow, "INC0010001")
    );
    assert_eq!(
        done.step_outcome(Step::Comment(ConnectionKind::Jira))
            .and_then(|o| o["last_updated"].as_i64()),
        Some(1_763_995_000_000)
    );
    match store
        .claim(Flow::AlertTickets, "sess-done", None, false, 60_000, NOW)
        .await
        .unwrap()
    {
        Claim::Done(it) => assert_eq!(it.handled_last_updated, Some(1_763_995_000_000)),
        other => panic!("a finished item stays finished: {other:?}"),
    }

    // A contained session: the containment is recorded, so a retry does not contain again.
    let contained = store
        .item(Flow::DepartingResponse, "sess-contained", NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(
        contained
            .step_outcome(Step::Contain(ConnectionKind::Okta))
            .and_then(|o| o["summary"].as_str())
            .is_some_and(|s| s.contains("00g1departing"))
    );
    assert!(
        contained
            .step(Step::Ticket(ConnectionKind::Jira))
            .is_some_and(|s| s.intent_at.is_some() && s.outcome.is_none())
    );

    // An HR item: its fact and its watchlist intent (the person counts as added by riskflow).
    let hr = store
        .item(Flow::HrDepartures, "generic:msg_2mXq", NOW)
        .await
        .unwrap()
        .unwrap();
    let work: riskflow::flows::hr_intake::HrWork =
        serde_json::from_value(hr.payload.clone()).unwrap();
    match work {
        riskflow::flows::hr_intake::HrWork::Fact { fact } => {
            assert_eq!(fact.source, HrSource::Generic);
            assert_eq!(fact.kind, HrEventKind::Departure);
            assert_eq!(fact.departure_date, Some(jiff::civil::date(2025, 12, 31)));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        hr.step(Step::WatchlistAdd)
            .is_some_and(|s| s.intent_at.is_some())
    );

    // A person and a delivery.
    let person = store
        .person("Jane.Doe@example.com", NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(person.added_by_riskflow);
    assert_eq!(person.actor_id.as_deref(), Some("actor-jane"));
    assert_eq!(person.latest.reason.as_deref(), Some("Resignation"));
    assert!(
        store
            .delivery_seen("generic", "msg_2mXq", NOW)
            .await
            .unwrap()
    );

    // The Workday report snapshot 0.1 kept as one item: read once as the previous snapshot by
    // Workday's rule (a person gone from the next pull is cancelled, the other unchanged), then
    // replaced by the paged snapshot.
    let previous = store
        .report_snapshot("workday", NOW)
        .await
        .unwrap()
        .expect("the single-item snapshot reads");
    let body = serde_json::json!({"Report_Entry": [{"Employee_ID": "21004",
        "Email_-_Work": "jdoe@example.com", "Termination_Date": "2030-03-31",
        "Last_Day_of_Work": "2030-03-28", "Business_Process_Event_WID": "9f1c6a2b",
        "Primary_Termination_Reason": "Resignation"}]});
    let answer = ReportAnswer {
        body: body.to_string().into_bytes(),
    };
    // One of two people gone is a 50 % drop: the shrink guard (off here) would hold it.
    let changes = workday::report_changes(
        Some(&previous.rows),
        &answer,
        &workday::FieldMapping::default(),
        100,
        jiff::civil::date(2025, 11, 24),
        NOW,
    )
    .unwrap();
    let facts: Vec<(HrEventKind, &str)> = changes
        .facts
        .iter()
        .map(|f| (f.kind, f.source_event_id.as_str()))
        .collect();
    assert_eq!(
        facts,
        [(HrEventKind::Cancellation, "21007:2030-04-30:cancelled")]
    );
    // Replaced once (the contract suite checks the single item goes with the flip).
    let pages = store
        .put_report_snapshot("workday", Some(&previous), &changes.snapshot, NOW)
        .await
        .unwrap();
    let stored = store.report_snapshot("workday", NOW).await.unwrap();
    assert_eq!(
        stored.map(|s| (s.rows, s.pages)),
        Some((changes.snapshot, pages))
    );
}

#[tokio::test]
async fn memory() {
    reads_and_acts_as_0_1(Store::in_memory()).await;
}

#[tokio::test]
async fn sqlite() {
    let dir = TempDir::new("riskflow-stored");
    let backend = SqliteItemStore::open(dir.path().join("state.db")).unwrap();
    reads_and_acts_as_0_1(Store::new(Arc::new(backend))).await;
}

#[tokio::test]
async fn dynamodb() {
    let (store, _table) = dynamo_test_store().await;
    reads_and_acts_as_0_1(store).await;
}
