//! The state store's contract, run against every backend: memory, SQLite (a file in a temp
//! dir) and DynamoDB (the real AWS SDK against `moto_server`, one fresh table per test).
//!
//! Each case is one async function taking a [`Fixture`]; the `contract!` macro runs it as
//! `memory::<case>`, `sqlite::<case>` and `dynamodb::<case>`. The DynamoDB variants need the
//! emulator (see `riskflow::testing::aws_test_config`): without it they fail with instructions.
//!
//! The two-process claim race re-runs this test binary as a helper process (the ignored
//! `claim_worker` test, selected with `--ignored --exact claim_worker`).

use futures::StreamExt;
use riskflow::domain::{
    AuditEntry, ConnectionKind, ConnectionRecord, ConnectionStatus, Delivery, Departure, Flow,
    HistoryEntry, HrEventKind, HrSource, ItemStatus, Lease, PersonRecord, RunRecord, RunStatus,
    Step, StepRecord, WorkItem,
};
use riskflow::store::sqlite::SqliteItemStore;
use riskflow::store::{
    BackendError, Claim, Cond, DeliveryOutcome, ITEM_RETENTION_MS, ItemStore, Op, Query, RawItem,
    SCHEMA_VERSION, Store, StoreError,
};
use riskflow::testing::{TempDir, dynamo_store_for_table, dynamo_test_store};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A fixed "now" (2025-11-24T16:00:00Z): no test depends on the wall clock.
const NOW: i64 = 1_764_000_000_000;

/// A calendar date written as `YYYY-MM-DD`.
fn day(s: &str) -> riskflow::domain::Date {
    s.parse().unwrap()
}
/// Retention is kept to the second (DynamoDB's TTL attribute is epoch seconds): one second ago.
const EXPIRED: i64 = NOW - 1000;
const DAY: i64 = 86_400_000;
const LEASE_MS: i64 = 60_000;
const FLOW: Flow = Flow::AlertTickets;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Memory,
    Sqlite,
    Dynamo,
}

/// One backend under test and what a second process needs to reach the same state.
struct Fixture {
    kind: Kind,
    store: Store,
    /// SQLite: the database file (inside `_dir`).
    db_path: Option<PathBuf>,
    /// DynamoDB: the table.
    table: Option<String>,
    _dir: Option<TempDir>,
}

async fn fixture(kind: Kind) -> Fixture {
    match kind {
        Kind::Memory => Fixture {
            kind,
            store: Store::in_memory(),
            db_path: None,
            table: None,
            _dir: None,
        },
        Kind::Sqlite => {
            let dir = TempDir::new("riskflow-store");
            let path = dir.path().join("state.db");
            let backend = SqliteItemStore::open(&path).expect("open sqlite");
            Fixture {
                kind,
                store: Store::new(Arc::new(backend)),
                db_path: Some(path),
                table: None,
                _dir: Some(dir),
            }
        }
        Kind::Dynamo => {
            let (store, table) = dynamo_test_store().await;
            Fixture {
                kind,
                store,
                db_path: None,
                table: Some(table),
                _dir: None,
            }
        }
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::fixture(super::Kind::Memory).await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::fixture(super::Kind::Sqlite).await).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::fixture(super::Kind::Dynamo).await).await;
                }
            )*
        }
    };
}

contract!(
    fifty_concurrent_claims_from_two_processes_have_exactly_one_winner,
    a_live_lease_cannot_be_taken_and_a_passed_one_can,
    a_write_carrying_a_stale_lease_token_is_rejected,
    an_expired_item_is_absent_to_reads_and_conditions_though_still_stored,
    the_ttl_sweep_deletes_expired_items_and_keeps_live_ones,
    a_finished_item_is_renewed_past_half_its_retention_only_while_unchanged,
    a_delivery_is_recorded_with_its_pending_item_all_or_nothing,
    a_duplicate_delivery_changes_nothing,
    a_done_item_returns_its_stored_outcome_and_reopen_claims_it,
    runs_page_past_100_items_and_past_a_one_megabyte_backend_page,
    audit_entries_page_across_two_days_and_past_a_one_megabyte_page,
    connections_save_with_history_and_a_stale_save_conflicts,
    a_person_save_moves_the_departure_index,
    pending_and_failed_indexes_follow_fail_retry_and_complete,
    put_pending_creates_an_item_once_and_item_keys_page,
    the_flow_lock_is_exclusive_and_reacquirable_after_release_or_expiry,
    a_person_lease_is_exclusive_per_person_and_free_again_after_release_or_expiry,
    the_schema_version_is_written_once,
    batch_reads_return_every_live_item_across_chunks,
    a_transaction_checks_every_condition_before_writing_anything,
    a_transaction_over_100_operations_or_touching_one_item_twice_is_refused,
    queries_page_in_both_directions_with_prefixes_and_cursors,
    puts_and_deletes_honour_their_conditions,
    a_write_applied_but_answered_as_refused_is_recognised_as_applied,
    a_refused_write_that_names_no_writer_stays_refused,
    a_delivery_refused_transiently_is_tried_again_and_recorded_once,
    a_containment_is_open_once_per_membership_and_closes_with_its_audit_entry,
    an_item_over_400_kb_is_refused_by_put_batch_and_transaction_alike,
    a_20000_row_report_snapshot_is_stored_in_pages_and_replaced_whole,
    a_report_snapshot_replaced_concurrently_is_refused_and_the_stored_one_stays_whole,
    the_single_item_snapshot_of_older_versions_is_read_once_then_replaced,
);

// ---------------------------------------------------------------- helpers

async fn acquire(store: &Store, key: &str, now: i64) -> (Lease, WorkItem) {
    match store
        .claim(FLOW, key, None, false, LEASE_MS, now)
        .await
        .unwrap()
    {
        Claim::Acquired { lease, item } => (lease, item),
        other => panic!("expected to acquire {key}, got {other:?}"),
    }
}

fn delivery(id: &str, expires_at: i64) -> Delivery {
    Delivery {
        source: "bamboohr".into(),
        id: id.into(),
        received_at: NOW,
        body_sha256: "ab".repeat(32),
        expires_at,
    }
}

async fn index_keys(store: &Store, status: ItemStatus) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .item_keys(FLOW, status, after, 100, NOW)
            .await
            .unwrap();
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

fn raw(pk: &str, sk: &str, version: u64) -> RawItem {
    RawItem {
        pk: pk.into(),
        sk: sk.into(),
        version,
        expires_at: None,
        lease_until: None,
        lease_token: None,
        body: format!("{{\"pk\":\"{pk}\",\"sk\":\"{sk}\"}}"),
    }
}

fn work_item_raw(key: &str, status: ItemStatus, version: u64, expires_at: Option<i64>) -> RawItem {
    let mut item = WorkItem::new(FLOW, key, status, NOW - DAY);
    item.version = version;
    item.expires_at = expires_at;
    RawItem {
        pk: format!("item#{}#{key}", FLOW.as_str()),
        sk: "state".into(),
        version,
        expires_at,
        lease_until: None,
        lease_token: None,
        body: serde_json::to_string(&item).unwrap(),
    }
}

/// Text of about `n` bytes, so items are big enough to fill DynamoDB's 1 MB query pages.
fn filler(n: usize, seed: usize) -> String {
    let unit = format!("step {seed}: would comment on the ticket; ");
    unit.repeat(n / unit.len() + 1)[..n].to_string()
}

// ---------------------------------------------------------------- claims and leases

/// The helper process of the two-process race: opens the store named by the environment,
/// says it is ready, waits for "go" on stdin, makes `RISKFLOW_CLAIM_COUNT` concurrent claims
/// and prints what they got.
#[test]
#[ignore = "helper process of the two-process claim race; run by it, not on its own"]
fn claim_worker() {
    let backend = std::env::var("RISKFLOW_CLAIM_BACKEND")
        .expect("claim_worker runs only as the helper process of the two-process claim tests");
    let count: usize = std::env::var("RISKFLOW_CLAIM_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let key = std::env::var("RISKFLOW_CLAIM_KEY").unwrap();
    let target = std::env::var("RISKFLOW_CLAIM_TARGET").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // SQLite: one connection per claimer, so they contend on the file lock like separate
        // processes do. DynamoDB: one client, many concurrent requests.
        let mut stores = Vec::with_capacity(count);
        for _ in 0..count {
            let store = match backend.as_str() {
                "sqlite" => Store::new(Arc::new(SqliteItemStore::open(&target).unwrap())),
                "dynamodb" => match stores.first() {
                    Some(s) => Store::clone(s),
                    None => dynamo_store_for_table(&target).await,
                },
                other => panic!("unknown backend {other}"),
            };
            stores.push(store);
        }
        // libtest has already printed "test claim_worker ... " without a line end.
        println!("\nCLAIM_READY");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "go");
        let tasks: Vec<_> = stores
            .into_iter()
            .map(|s| {
                let key = key.clone();
                tokio::spawn(async move { s.claim(FLOW, &key, None, false, LEASE_MS, NOW).await })
            })
            .collect();
        let (mut acquired, mut busy, mut errors) = (0, 0, 0);
        let mut token = String::from("-");
        for t in tasks {
            match t.await.unwrap() {
                Ok(Claim::Acquired { lease, .. }) => {
                    acquired += 1;
                    token = lease.token;
                }
                Ok(Claim::Busy { .. }) => busy += 1,
                Ok(Claim::Done(_)) => errors += 1,
                Err(e) => {
                    eprintln!("claim error: {e}");
                    errors += 1;
                }
            }
        }
        println!("CLAIM_RESULT acquired={acquired} busy={busy} errors={errors} token={token}");
    });
}

struct WorkerResult {
    acquired: usize,
    busy: usize,
    errors: usize,
    token: Option<String>,
}

fn parse_result(line: &str) -> WorkerResult {
    let fields: BTreeMap<&str, &str> = line
        .split_once("CLAIM_RESULT ")
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect();
    WorkerResult {
        acquired: fields["acquired"].parse().unwrap(),
        busy: fields["busy"].parse().unwrap(),
        errors: fields["errors"].parse().unwrap(),
        token: Some(fields["token"].to_string()).filter(|t| t != "-"),
    }
}

/// Two OS processes, 25 claimers each, released at the same moment.
async fn race_in_two_processes(backend: &str, target: &str, key: &str) -> Vec<WorkerResult> {
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    for _ in 0..2 {
        let mut child = tokio::process::Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "claim_worker",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RISKFLOW_CLAIM_BACKEND", backend)
            .env("RISKFLOW_CLAIM_TARGET", target)
            .env("RISKFLOW_CLAIM_KEY", key)
            .env("RISKFLOW_CLAIM_COUNT", "25")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            match lines.next_line().await.unwrap() {
                Some(l) if l.trim_end().ends_with("CLAIM_READY") => break,
                Some(_) => {}
                None => panic!(
                    "claim worker exited before it was ready: {:?}",
                    child.wait().await
                ),
            }
        }
        children.push((child, lines));
    }
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").await.unwrap();
        stdin.flush().await.unwrap();
    }
    let mut results = Vec::new();
    for (mut child, mut lines) in children {
        let mut result = None;
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains("CLAIM_RESULT ") {
                result = Some(parse_result(&l));
            }
        }
        let status = child.wait().await.unwrap();
        assert!(status.success(), "claim worker failed: {status}");
        results.push(result.expect("claim worker printed no result"));
    }
    results
}

async fn fifty_concurrent_claims_from_two_processes_have_exactly_one_winner(fx: Fixture) {
    let key = "race-1";
    let results = match fx.kind {
        Kind::Memory => {
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let s = fx.store.clone();
                    tokio::spawn(
                        async move { s.claim(FLOW, key, None, false, LEASE_MS, NOW).await },
                    )
                })
                .collect();
            let mut r = WorkerResult {
                acquired: 0,
                busy: 0,
                errors: 0,
                token: None,
            };
            for t in tasks {
                match t.await.unwrap().unwrap() {
                    Claim::Acquired { lease, .. } => {
                        r.acquired += 1;
                        r.token = Some(lease.token);
                    }
                    Claim::Busy { .. } => r.busy += 1,
                    Claim::Done(_) => r.errors += 1,
                }
            }
            vec![r]
        }
        Kind::Sqlite | Kind::Dynamo => {
            let (backend, target) = match fx.kind {
                Kind::Sqlite => (
                    "sqlite",
                    fx.db_path.as_ref().unwrap().to_str().unwrap().to_string(),
                ),
                _ => ("dynamodb", fx.table.clone().unwrap()),
            };
            // A hung helper fails the test (and is killed on drop) instead of hanging it.
            tokio::time::timeout(
                std::time::Duration::from_secs(120),
                race_in_two_processes(backend, &target, key),
            )
            .await
            .expect("the two-process race did not finish within 120 s")
        }
    };
    let acquired: usize = results.iter().map(|r| r.acquired).sum();
    let busy: usize = results.iter().map(|r| r.busy).sum();
    let errors: usize = results.iter().map(|r| r.errors).sum();
    assert_eq!(
        (acquired, busy, errors),
        (1, 49, 0),
        "exactly one of 50 claims wins"
    );
    let winner = results.iter().find_map(|r| r.token.clone()).unwrap();
    let stored = fx.store.item(FLOW, key, NOW).await.unwrap().unwrap();
    assert_eq!(stored.status, ItemStatus::InProgress);
    assert_eq!(stored.lease_token.as_deref(), Some(winner.as_str()));
    assert_eq!(stored.lease_until, Some(NOW + LEASE_MS));
    assert_eq!(stored.version, 1, "one write happened");
}

async fn a_live_lease_cannot_be_taken_and_a_passed_one_can(fx: Fixture) {
    let s = &fx.store;
    let (l1, _) = acquire(s, "k", NOW).await;
    assert_eq!(l1.until, NOW + LEASE_MS);
    for at in [NOW, NOW + 1, NOW + LEASE_MS - 1] {
        match s.claim(FLOW, "k", None, false, LEASE_MS, at).await.unwrap() {
            Claim::Busy { lease_until } => assert_eq!(lease_until, NOW + LEASE_MS),
            other => panic!("a live lease was taken at {at}: {other:?}"),
        }
    }
    // The lease has passed (it runs until, not including, `until`).
    let (l2, item2) = acquire(s, "k", NOW + LEASE_MS).await;
    assert_ne!(l2.token, l1.token);
    assert_eq!(item2.version, 2);
    let stored = s.item(FLOW, "k", NOW + LEASE_MS).await.unwrap().unwrap();
    assert_eq!(stored.lease_token.as_deref(), Some(l2.token.as_str()));
    // A stale `known` copy does not let a claimer past the live lease either.
    let stale = WorkItem::new(FLOW, "k", ItemStatus::Pending, NOW);
    let c = s
        .claim(FLOW, "k", Some(&stale), false, LEASE_MS, NOW + LEASE_MS + 1)
        .await
        .unwrap();
    assert!(
        matches!(c, Claim::Busy { lease_until } if lease_until == NOW + 2 * LEASE_MS),
        "{c:?}"
    );
}

async fn a_write_carrying_a_stale_lease_token_is_rejected(fx: Fixture) {
    let s = &fx.store;
    let (old_lease, old_item) = acquire(s, "k", NOW).await;
    // The old worker stalls past its lease; someone else claims.
    let later = NOW + LEASE_MS + 5;
    let (new_lease, new_item) = acquire(s, "k", later).await;
    let mut stale = old_item.clone();
    stale.steps.insert(
        "ticket".into(),
        StepRecord {
            fingerprint: Some("fp-old".into()),
            intent_at: Some(later),
            ..StepRecord::default()
        },
    );
    let err = s
        .save_item(&old_lease, &stale, later + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleLease { .. }), "{err:?}");
    let err = s.complete(&old_lease, &stale, later + 1).await.unwrap_err();
    assert!(matches!(err, StoreError::StaleLease { .. }), "{err:?}");
    let err = s
        .fail(&old_lease, &stale, "x", true, later + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleLease { .. }), "{err:?}");
    let err = s.release(&old_lease, &stale, later + 1).await.unwrap_err();
    assert!(matches!(err, StoreError::StaleLease { .. }), "{err:?}");
    // Nothing the old worker tried landed; the indexes were not touched either.
    let stored = s.item(FLOW, "k", later + 2).await.unwrap().unwrap();
    assert_eq!(stored, new_item);
    assert!(index_keys(s, ItemStatus::Pending).await.is_empty());
    // The current holder's writes go through.
    let mut next = new_item.clone();
    next.steps.insert(
        "ticket".into(),
        StepRecord {
            fingerprint: Some("fp-new".into()),
            intent_at: Some(later + 3),
            ..StepRecord::default()
        },
    );
    let saved = s.save_item(&new_lease, &next, later + 3).await.unwrap();
    assert_eq!(saved.version, new_item.version + 1);
    let stored = s.item(FLOW, "k", later + 4).await.unwrap().unwrap();
    assert_eq!(
        stored.steps["ticket"].fingerprint.as_deref(),
        Some("fp-new")
    );
    assert_eq!(
        stored.lease_token.as_deref(),
        Some(new_lease.token.as_str())
    );
}

async fn an_expired_item_is_absent_to_reads_and_conditions_though_still_stored(fx: Fixture) {
    let s = &fx.store;
    let b = s.backend();
    // A finished item whose retention passed, with a lease that looks live: still stored
    // (DynamoDB deletes late, the emulator never), but absent to everything.
    let mut old = work_item_raw("old", ItemStatus::Done, 7, Some(EXPIRED));
    old.lease_until = Some(NOW + 10 * LEASE_MS);
    old.lease_token = Some("ghost".into());
    b.put(old.clone(), Cond::Always).await.unwrap();
    assert_eq!(
        b.get(&old.pk, "state").await.unwrap(),
        Some(old.clone()),
        "still stored"
    );
    assert_eq!(s.item(FLOW, "old", NOW).await.unwrap(), None);
    assert!(
        s.items(FLOW, &["old".to_string()], NOW)
            .await
            .unwrap()
            .is_empty()
    );
    // A claim treats it as absent: a new item, version 1.
    let (_, item) = acquire(s, "old", NOW).await;
    assert_eq!(item.version, 1);
    assert!(item.steps.is_empty());
    let stored = b.get(&old.pk, "state").await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.expires_at, None);

    // The boundary: an item is live up to and including `expires_at`.
    let edge = work_item_raw("edge", ItemStatus::Done, 3, Some(NOW));
    b.put(edge, Cond::Always).await.unwrap();
    assert!(s.item(FLOW, "edge", NOW).await.unwrap().is_some());
    assert!(s.item(FLOW, "edge", NOW + 1).await.unwrap().is_none());
    assert!(matches!(
        s.claim(FLOW, "edge", None, false, LEASE_MS, NOW)
            .await
            .unwrap(),
        Claim::Done(_)
    ));
    let (_, item) = acquire(s, "edge", NOW + 1).await;
    assert_eq!(item.version, 1);

    // An expired delivery is no longer a duplicate.
    let mut d = RawItem {
        pk: "delivery#bamboohr#evt-old".into(),
        sk: "seen".into(),
        version: 1,
        expires_at: Some(EXPIRED),
        lease_until: None,
        lease_token: None,
        body: serde_json::to_string(&delivery("evt-old", NOW - 1)).unwrap(),
    };
    b.put(d.clone(), Cond::Always).await.unwrap();
    assert!(!s.delivery_seen("bamboohr", "evt-old", NOW).await.unwrap());
    let outcome = s
        .record_delivery(
            &delivery("evt-old", NOW + DAY),
            &WorkItem::new(Flow::HrDepartures, "evt-old", ItemStatus::Pending, NOW),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(outcome, DeliveryOutcome::Recorded);
    assert!(s.delivery_seen("bamboohr", "evt-old", NOW).await.unwrap());
    d.expires_at = Some(NOW + DAY);
    assert_eq!(
        b.get(&d.pk, "seen").await.unwrap().unwrap().expires_at,
        d.expires_at
    );

    // Expired runs drop out of listings.
    let mut run = run_record("expired", NOW - 31 * DAY, 0);
    s.put_run(&run).await.unwrap();
    run.id = "fresh".into();
    run.started_at = NOW - DAY;
    s.put_run(&run).await.unwrap();
    let page = s.list_runs(FLOW, 10, None, NOW).await.unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["fresh"]
    );
    assert_eq!(page.next, None);
}

/// Deletion as DynamoDB's TTL performs it (the emulator never does): every backend deletes
/// exactly the items whose `expires_at` has passed, whatever they are, and keeps the rest.
async fn the_ttl_sweep_deletes_expired_items_and_keeps_live_ones(fx: Fixture) {
    let s = &fx.store;
    let b = s.backend();
    let gone = work_item_raw("gone", ItemStatus::Done, 2, Some(EXPIRED));
    let edge = work_item_raw("edge", ItemStatus::Done, 2, Some(NOW));
    let later = work_item_raw("later", ItemStatus::Done, 2, Some(NOW + DAY));
    let forever = work_item_raw("forever", ItemStatus::Pending, 2, None);
    let mut run = raw("run#alert-tickets", "old", 1);
    run.expires_at = Some(NOW - 31 * DAY);
    for it in [&gone, &edge, &later, &forever, &run] {
        b.put(it.clone(), Cond::Always).await.unwrap();
    }
    let stored = |it: &RawItem| {
        let (pk, sk) = (it.pk.clone(), it.sk.clone());
        async move { b.get(&pk, &sk).await.unwrap().is_some() }
    };

    assert_eq!(
        b.delete_expired(NOW).await.unwrap(),
        2,
        "gone and the old run"
    );
    assert!(!stored(&gone).await && !stored(&run).await);
    assert!(stored(&edge).await, "live up to and including expires_at");
    assert!(stored(&later).await && stored(&forever).await);
    assert_eq!(
        b.delete_expired(NOW).await.unwrap(),
        0,
        "nothing more to delete"
    );

    // An item whose retention moved into the future before the sweep is kept.
    let mut renewed = later.clone();
    renewed.version = 3;
    renewed.expires_at = Some(NOW + 400 * DAY);
    b.put(renewed.clone(), Cond::Always).await.unwrap();
    assert_eq!(b.delete_expired(NOW + 2 * DAY).await.unwrap(), 1, "edge");
    assert!(!stored(&edge).await);
    assert_eq!(b.get(&renewed.pk, "state").await.unwrap(), Some(renewed));
    assert!(
        stored(&forever).await,
        "an item without retention is never deleted"
    );
    // Once deleted, it is absent to reads and a claim makes a new item.
    assert_eq!(s.item(FLOW, "gone", NOW).await.unwrap(), None);
    let (_, item) = acquire(s, "gone", NOW).await;
    assert_eq!(item.version, 1);
}

/// The scan's renewal of a finished item: only past half its retention, to a full retention
/// from now, and only when the item is unchanged since it was read, so a concurrent claim,
/// completion or renewal is never overwritten, and an item already expired is not revived.
async fn a_finished_item_is_renewed_past_half_its_retention_only_while_unchanged(fx: Fixture) {
    let s = &fx.store;
    let b = s.backend();
    let finished_at = NOW - 100 * DAY;
    for key in ["renewed", "left", "claimed"] {
        let (lease, item) = acquire(s, key, finished_at).await;
        s.complete(&lease, &item, finished_at).await.unwrap();
    }
    let read = |key: &'static str, at: i64| async move {
        s.item(FLOW, key, at).await.unwrap().expect("a live item")
    };
    let item = read("renewed", NOW).await;
    assert_eq!(item.expires_at, Some(finished_at + ITEM_RETENTION_MS));
    assert!(
        !Store::needs_refresh(&item, finished_at + 80 * DAY),
        "more than half left"
    );
    assert!(Store::needs_refresh(&item, NOW), "80 of 180 days left");

    let renewed = s.refresh_item(&item, NOW).await.unwrap().expect("renewed");
    assert_eq!(renewed.expires_at, Some(NOW + ITEM_RETENTION_MS));
    assert_eq!(renewed.version, item.version + 1);
    let stored = read("renewed", NOW).await;
    assert_eq!(stored.expires_at, Some(NOW + ITEM_RETENTION_MS));
    assert_eq!(
        (stored.status, &stored.steps),
        (ItemStatus::Done, &item.steps)
    );
    assert!(!Store::needs_refresh(&stored, NOW));
    // A second renewal from the copy read before the first: refused, the first one stands.
    assert_eq!(s.refresh_item(&item, NOW + 1000).await.unwrap(), None);
    assert_eq!(read("renewed", NOW).await.version, renewed.version);

    // A claim between the read and the renewal wins: its lease is intact.
    let seen = read("claimed", NOW).await;
    let (lease, _) = match s
        .claim(FLOW, "claimed", Some(&seen), true, LEASE_MS, NOW)
        .await
        .unwrap()
    {
        Claim::Acquired { lease, item } => (lease, item),
        other => panic!("reopen claim: {other:?}"),
    };
    assert_eq!(s.refresh_item(&seen, NOW).await.unwrap(), None);
    let raw_claimed = b
        .get("item#alert-tickets#claimed", "state")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw_claimed.lease_token, Some(lease.token));
    assert_eq!(raw_claimed.expires_at, None);

    // An item that expired before its renewal is not revived, and TTL deletes it.
    let left = read("left", NOW).await;
    let past = finished_at + ITEM_RETENTION_MS + 1000;
    assert!(!Store::needs_refresh(&left, past), "expired, not renewable");
    assert_eq!(s.refresh_item(&left, past).await.unwrap(), None);
    assert_eq!(s.item(FLOW, "left", past).await.unwrap(), None);
    assert_eq!(b.delete_expired(past).await.unwrap(), 1, "left only");
    assert!(
        b.get("item#alert-tickets#left", "state")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.item(FLOW, "renewed", past).await.unwrap().is_some());
}

async fn a_delivery_is_recorded_with_its_pending_item_all_or_nothing(fx: Fixture) {
    let s = &fx.store;
    // The item's condition fails (it exists and is live): neither delivery nor item nor
    // index entry is written.
    let (held, before) = acquire(s, "taken", NOW).await;
    let out = s
        .record_delivery(
            &delivery("evt-1", NOW + DAY),
            &WorkItem::new(FLOW, "taken", ItemStatus::Pending, NOW),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(out, DeliveryOutcome::Duplicate);
    assert!(
        !s.delivery_seen("bamboohr", "evt-1", NOW).await.unwrap(),
        "delivery not written"
    );
    let after = s.item(FLOW, "taken", NOW).await.unwrap().unwrap();
    assert_eq!(after, before, "item unchanged");
    assert_eq!(after.lease_token.as_deref(), Some(held.token.as_str()));
    assert!(
        index_keys(s, ItemStatus::Pending).await.is_empty(),
        "no index entry"
    );

    // A fresh delivery: all three written.
    let mut item = WorkItem::new(FLOW, "fresh", ItemStatus::Pending, NOW);
    item.payload = serde_json::json!({"email": "ann@example.com"});
    let out = s
        .record_delivery(&delivery("evt-2", NOW + DAY), &item, NOW)
        .await
        .unwrap();
    assert_eq!(out, DeliveryOutcome::Recorded);
    assert!(s.delivery_seen("bamboohr", "evt-2", NOW).await.unwrap());
    let stored = s.item(FLOW, "fresh", NOW).await.unwrap().unwrap();
    assert_eq!(stored.status, ItemStatus::Pending);
    assert_eq!(stored.version, 1);
    assert_eq!(stored.payload, item.payload);
    assert_eq!(index_keys(s, ItemStatus::Pending).await, ["fresh"]);
    assert!(index_keys(s, ItemStatus::Failed).await.is_empty());
}

async fn a_duplicate_delivery_changes_nothing(fx: Fixture) {
    let s = &fx.store;
    let first = WorkItem::new(FLOW, "first", ItemStatus::Pending, NOW);
    assert_eq!(
        s.record_delivery(&delivery("evt-1", NOW + DAY), &first, NOW)
            .await
            .unwrap(),
        DeliveryOutcome::Recorded
    );
    let stored_first = s.item(FLOW, "first", NOW).await.unwrap().unwrap();
    // The same delivery again, even naming another item.
    let second = WorkItem::new(FLOW, "second", ItemStatus::Pending, NOW);
    assert_eq!(
        s.record_delivery(&delivery("evt-1", NOW + DAY), &second, NOW + 5)
            .await
            .unwrap(),
        DeliveryOutcome::Duplicate
    );
    assert_eq!(s.item(FLOW, "second", NOW).await.unwrap(), None);
    assert_eq!(
        s.item(FLOW, "first", NOW).await.unwrap().unwrap(),
        stored_first
    );
    assert_eq!(index_keys(s, ItemStatus::Pending).await, ["first"]);
    // The stored delivery still has its first receipt.
    let d = s
        .backend()
        .get("delivery#bamboohr#evt-1", "seen")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.version, 1);
    assert_eq!(d.expires_at, Some(NOW + DAY));
}

async fn a_done_item_returns_its_stored_outcome_and_reopen_claims_it(fx: Fixture) {
    let s = &fx.store;
    let (lease, mut item) = acquire(s, "sess-1", NOW).await;
    item.steps.insert(
        Step::Ticket(ConnectionKind::Jira).key(),
        StepRecord {
            fingerprint: Some("fp".into()),
            intent_at: Some(NOW + 1),
            done_at: Some(NOW + 2),
            outcome: Some(serde_json::json!({"key": "SEC-42", "id": "10042"})),
            lease_token: Some(lease.token.clone()),
        },
    );
    item.handled_last_updated = Some(NOW - 500);
    let item = s.save_item(&lease, &item, NOW + 2).await.unwrap();
    let done = s.complete(&lease, &item, NOW + 3).await.unwrap();
    assert_eq!(done.status, ItemStatus::Done);
    assert_eq!(done.expires_at, Some(NOW + 3 + ITEM_RETENTION_MS));

    let later = NOW + LEASE_MS * 10;
    match s
        .claim(FLOW, "sess-1", None, false, LEASE_MS, later)
        .await
        .unwrap()
    {
        Claim::Done(it) => {
            assert_eq!(it.status, ItemStatus::Done);
            assert_eq!(
                it.step_outcome(Step::Ticket(ConnectionKind::Jira)),
                Some(&serde_json::json!({"key": "SEC-42", "id": "10042"}))
            );
            assert_eq!(it.steps["ticket:jira"].fingerprint.as_deref(), Some("fp"));
            assert_eq!(it.handled_last_updated, Some(NOW - 500));
            assert_eq!(it.lease_token, None);
            assert_eq!(it.version, done.version);
        }
        other => panic!("a done item was claimed again: {other:?}"),
    }
    // reopen: claimed, with its history intact, no longer expiring.
    match s
        .claim(FLOW, "sess-1", None, true, LEASE_MS, later)
        .await
        .unwrap()
    {
        Claim::Acquired { lease, item } => {
            assert_eq!(item.status, ItemStatus::InProgress);
            assert_eq!(
                item.step_outcome(Step::Ticket(ConnectionKind::Jira)),
                done.step_outcome(Step::Ticket(ConnectionKind::Jira))
            );
            assert_eq!(item.version, done.version + 1);
            assert_eq!(item.expires_at, None);
            assert_eq!(lease.until, later + LEASE_MS);
            let stored = s.item(FLOW, "sess-1", later).await.unwrap().unwrap();
            assert_eq!(stored.lease_token.as_deref(), Some(lease.token.as_str()));
            assert_eq!(stored.expires_at, None);
        }
        other => panic!("reopen did not claim: {other:?}"),
    }
}

// ---------------------------------------------------------------- listings

fn run_record(id: &str, started_at: i64, plan_bytes: usize) -> RunRecord {
    RunRecord {
        flow: FLOW,
        id: id.into(),
        started_at,
        finished_at: started_at + 1_000,
        status: RunStatus::Succeeded,
        dry_run: true,
        counts: BTreeMap::from([("sessions_scanned".to_string(), 3)]),
        errors: Vec::new(),
        message: None,
        plan: if plan_bytes == 0 {
            Vec::new()
        } else {
            vec![filler(plan_bytes, started_at as usize)]
        },
    }
}

async fn runs_page_past_100_items_and_past_a_one_megabyte_backend_page(fx: Fixture) {
    let s = &fx.store;
    // 250 runs of ~12 KB: 100 of them are ~1.2 MB, more than one DynamoDB query page.
    let runs: Vec<RunRecord> = (0..250)
        .map(|i| run_record(&format!("r{i:03}"), NOW - 60_000 * i as i64, 12_000))
        .collect();
    futures::stream::iter(runs.iter().map(|r| s.put_run(r)))
        .buffer_unordered(8)
        .for_each(|r| async move { r.unwrap() })
        .await;
    // Another flow's runs never show up.
    let mut other = run_record("other", NOW + 1_000, 0);
    other.flow = Flow::HrDepartures;
    s.put_run(&other).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s.list_runs(FLOW, 100, cursor, NOW).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 100);
        if page.next.is_some() {
            assert_eq!(page.items.len(), 100, "a page with a next cursor is full");
        }
        seen.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert!(pages >= 3);
    let ids: Vec<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    let expected: Vec<String> = (0..250).map(|i| format!("r{i:03}")).collect();
    assert_eq!(ids, expected, "newest first, each once");
    assert_eq!(seen[17], runs[17], "records read back whole");

    let recent = s.recent_runs(5, NOW).await.unwrap();
    assert_eq!(recent.len(), 5);
    assert_eq!(recent[0].id, "other");
}

async fn audit_entries_page_across_two_days_and_past_a_one_megabyte_page(fx: Fixture) {
    let s = &fx.store;
    let day1 = NOW - NOW.rem_euclid(DAY);
    let day2 = day1 + DAY;
    let entry = |at: i64, i: usize| AuditEntry {
        at,
        id: format!("a{i:03}"),
        flow: Some(FLOW),
        system: ConnectionKind::Jira,
        action: "create_ticket".into(),
        target: format!("SEC-{i}"),
        reason: filler(12_000, i),
        result: "ok".into(),
    };
    let mut all: Vec<AuditEntry> = Vec::new();
    for i in 0..130 {
        all.push(entry(day1 + 1_000 * i as i64, i));
        all.push(entry(day2 + 1_000 * i as i64, 200 + i));
    }
    // Written in batches (of 25 on DynamoDB), out of order.
    for chunk in all.chunks(60) {
        s.append_audit(chunk, 400 * DAY).await.unwrap();
    }
    // Bounds: from excludes day1's first entry, to excludes day2's last.
    let from = day1 + 500;
    let to = day2 + 1_000 * 129;
    let mut expected: Vec<&AuditEntry> = all.iter().filter(|e| e.at >= from && e.at < to).collect();
    expected.sort_by_key(|e| e.at);
    assert_eq!(expected.len(), 258);

    let mut seen: Vec<AuditEntry> = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s.list_audit(from, to, 100, cursor, NOW).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 100);
        seen.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert!(pages >= 3);
    let got: Vec<(i64, &str)> = seen.iter().map(|e| (e.at, e.id.as_str())).collect();
    let want: Vec<(i64, &str)> = expected.iter().map(|e| (e.at, e.id.as_str())).collect();
    assert_eq!(got, want, "oldest first, each once, within [from, to)");
    assert_eq!(&seen[0], expected[0], "entries read back whole");
}

// ---------------------------------------------------------------- connections, people, indexes

async fn connections_save_with_history_and_a_stale_save_conflicts(fx: Fixture) {
    let s = &fx.store;
    let c0 = s.connection(ConnectionKind::Jira, NOW).await.unwrap();
    assert_eq!(c0.status, ConnectionStatus::NeverConnected);
    assert_eq!(c0.version, 0);

    let mut rec = c0.clone();
    rec.status = ConnectionStatus::Connected;
    rec.settings.insert(
        "base_url".into(),
        serde_json::json!("https://acme.atlassian.net"),
    );
    rec.secret_id = Some("riskflow-jira".into());
    rec.secret_version = Some("v-1".into());
    rec.verified_at = Some(NOW);
    rec.updated_at = NOW;
    let hist = |at: i64, status: ConnectionStatus, msg: &str| HistoryEntry {
        kind: ConnectionKind::Jira,
        at,
        status,
        by: "local".into(),
        message: msg.into(),
    };
    let saved = s
        .save_connection(
            &rec,
            &hist(NOW, ConnectionStatus::Connected, "connected"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(
        s.connection(ConnectionKind::Jira, NOW).await.unwrap(),
        saved
    );

    // Someone saves from the stale read (version 0): refused, and its history entry with it.
    let err = s
        .save_connection(
            &rec,
            &hist(NOW + 5, ConnectionStatus::Connected, "again"),
            NOW + 5,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(
        s.connection_history(ConnectionKind::Jira, 10, NOW)
            .await
            .unwrap()
            .len(),
        1
    );

    let mut off = saved.clone();
    off.status = ConnectionStatus::Disconnected;
    off.secret_id = None;
    off.secret_version = None;
    let saved2 = s
        .save_connection(
            &off,
            &hist(NOW + 10, ConnectionStatus::Disconnected, "disconnected"),
            NOW + 10,
        )
        .await
        .unwrap();
    assert_eq!(saved2.version, 2);

    let history = s
        .connection_history(ConnectionKind::Jira, 10, NOW + 10)
        .await
        .unwrap();
    let msgs: Vec<&str> = history.iter().map(|h| h.message.as_str()).collect();
    assert_eq!(msgs, ["disconnected", "connected"], "newest first");
    let newest = s
        .connection_history(ConnectionKind::Jira, 1, NOW + 10)
        .await
        .unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].message, "disconnected");
    assert!(
        s.connection_history(ConnectionKind::Okta, 10, NOW)
            .await
            .unwrap()
            .is_empty()
    );

    let all = s.connections(NOW + 10).await.unwrap();
    assert_eq!(all.len(), ConnectionKind::ALL.len());
    for c in &all {
        if c.kind == ConnectionKind::Jira {
            assert_eq!(c, &saved2);
        } else {
            assert_eq!(c, &ConnectionRecord::never_connected(c.kind));
        }
    }
}

fn person(email: &str, date: Option<&str>, version: u64) -> PersonRecord {
    PersonRecord {
        email: email.into(),
        latest: Departure {
            source: HrSource::Bamboohr,
            kind: if date.is_some() {
                HrEventKind::Departure
            } else {
                HrEventKind::Cancellation
            },
            source_event_id: "evt".into(),
            event_time: NOW,
            email: email.to_ascii_lowercase(),
            employee_id: Some("e-1".into()),
            departure_date: date.map(day),
            reason: None,
        },
        actor_id: None,
        added_by_riskflow: true,
        indexed_date: date.map(day),
        add_unconfirmed: false,
        updated_at: NOW,
        version,
    }
}

async fn a_person_save_moves_the_departure_index(fx: Fixture) {
    let s = &fx.store;
    let v1 = s
        .save_person(&person("Ann@Example.com", Some("2026-12-01"), 0), None, NOW)
        .await
        .unwrap();
    assert_eq!(v1.email, "ann@example.com");
    assert_eq!(v1.version, 1);
    s.save_person(&person("bob@example.com", Some("2026-12-01"), 0), None, NOW)
        .await
        .unwrap();
    assert_eq!(
        s.departures_on(day("2026-12-01"), NOW).await.unwrap(),
        ["ann@example.com", "bob@example.com"]
    );
    assert_eq!(s.person("ANN@example.com", NOW).await.unwrap().unwrap(), v1);

    // The date moves.
    let mut moved = v1.clone();
    moved.indexed_date = Some(day("2026-12-15"));
    let v2 = s
        .save_person(&moved, Some(day("2026-12-01")), NOW + 1)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        s.departures_on(day("2026-12-01"), NOW).await.unwrap(),
        ["bob@example.com"]
    );
    assert_eq!(
        s.departures_on(day("2026-12-15"), NOW).await.unwrap(),
        ["ann@example.com"]
    );

    // A save from a stale read is refused and moves nothing.
    let mut stale = v1.clone();
    stale.indexed_date = Some(day("2026-12-20"));
    let err = s
        .save_person(&stale, Some(day("2026-12-01")), NOW + 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(
        s.departures_on(day("2026-12-20"), NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.departures_on(day("2026-12-15"), NOW).await.unwrap(),
        ["ann@example.com"]
    );

    // A cancellation takes them out of the index.
    let mut cancelled = v2.clone();
    cancelled.indexed_date = None;
    let v3 = s
        .save_person(&cancelled, Some(day("2026-12-15")), NOW + 3)
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    assert!(
        s.departures_on(day("2026-12-15"), NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.person("ann@example.com", NOW)
            .await
            .unwrap()
            .unwrap()
            .indexed_date,
        None
    );
}

async fn pending_and_failed_indexes_follow_fail_retry_and_complete(fx: Fixture) {
    let s = &fx.store;
    let item = WorkItem::new(FLOW, "k", ItemStatus::Pending, NOW);
    assert_eq!(
        s.record_delivery(&delivery("evt-k", NOW + DAY), &item, NOW)
            .await
            .unwrap(),
        DeliveryOutcome::Recorded
    );
    assert_eq!(index_keys(s, ItemStatus::Pending).await, ["k"]);

    let (l1, it1) = acquire(s, "k", NOW).await;
    let failed = s
        .fail(&l1, &it1, "jira said 400", false, NOW + 1)
        .await
        .unwrap();
    assert_eq!(failed.status, ItemStatus::Failed);
    assert_eq!(failed.attempts, 1);
    assert!(index_keys(s, ItemStatus::Pending).await.is_empty());
    assert_eq!(index_keys(s, ItemStatus::Failed).await, ["k"]);
    let stored = s.item(FLOW, "k", NOW + 1).await.unwrap().unwrap();
    assert_eq!(stored.last_error.as_deref(), Some("jira said 400"));
    assert_eq!(stored.lease_token, None);

    let (l2, it2) = acquire(s, "k", NOW + 2).await;
    let retry = s.fail(&l2, &it2, "timeout", true, NOW + 3).await.unwrap();
    assert_eq!(retry.status, ItemStatus::Pending);
    assert_eq!(retry.attempts, 2);
    assert_eq!(index_keys(s, ItemStatus::Pending).await, ["k"]);
    assert!(index_keys(s, ItemStatus::Failed).await.is_empty());

    let (l3, it3) = acquire(s, "k", NOW + 4).await;
    let released = s.release(&l3, &it3, NOW + 5).await.unwrap();
    assert_eq!(released.status, ItemStatus::Pending);
    assert_eq!(index_keys(s, ItemStatus::Pending).await, ["k"]);

    let (l4, it4) = acquire(s, "k", NOW + 6).await;
    let done = s.complete(&l4, &it4, NOW + 7).await.unwrap();
    assert_eq!(done.status, ItemStatus::Done);
    assert_eq!(done.last_error, None);
    assert!(index_keys(s, ItemStatus::Pending).await.is_empty());
    assert!(index_keys(s, ItemStatus::Failed).await.is_empty());
}

async fn put_pending_creates_an_item_once_and_item_keys_page(fx: Fixture) {
    let s = &fx.store;
    for i in [3, 1, 4, 0, 2] {
        let item = WorkItem::new(FLOW, format!("p{i}"), ItemStatus::Pending, NOW);
        assert!(s.put_pending(&item, NOW).await.unwrap());
    }
    // Again from the same (version 0) read: it exists now.
    let item = WorkItem::new(FLOW, "p1", ItemStatus::Pending, NOW);
    assert!(!s.put_pending(&item, NOW).await.unwrap());
    let stored = s.item(FLOW, "p1", NOW).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.status, ItemStatus::Pending);

    let p1 = s
        .item_keys(FLOW, ItemStatus::Pending, None, 2, NOW)
        .await
        .unwrap();
    assert_eq!(p1.items, ["p0", "p1"]);
    let p2 = s
        .item_keys(FLOW, ItemStatus::Pending, p1.next.clone(), 2, NOW)
        .await
        .unwrap();
    assert_eq!(p2.items, ["p2", "p3"]);
    let p3 = s
        .item_keys(FLOW, ItemStatus::Pending, p2.next.clone(), 2, NOW)
        .await
        .unwrap();
    assert_eq!(p3.items, ["p4"]);
    assert_eq!(p3.next, None);
    assert!(
        s.item_keys(Flow::HrDepartures, ItemStatus::Pending, None, 10, NOW)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// The leases that tasks racing for one lock or lease came away with.
async fn winners(
    tasks: Vec<tokio::task::JoinHandle<Result<Option<Lease>, StoreError>>>,
) -> Vec<Lease> {
    let mut held = Vec::new();
    for t in tasks {
        if let Some(l) = t.await.unwrap().unwrap() {
            held.push(l);
        }
    }
    held
}

async fn a_person_lease_is_exclusive_per_person_and_free_again_after_release_or_expiry(
    fx: Fixture,
) {
    let s = &fx.store;
    let ttl = 10_000;
    // Ten facts about one person at once (the email's case does not matter): one holds it.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            let email = if i % 2 == 0 {
                "pat@example.com"
            } else {
                "Pat@Example.com"
            };
            tokio::spawn(async move {
                s.acquire_person_lease(email, &format!("fact-{i}"), ttl, NOW)
                    .await
            })
        })
        .collect();
    let mut held = winners(tasks).await;
    assert_eq!(held.len(), 1, "exactly one fact holds the person");
    let l1 = held.pop().unwrap();
    // Another person, and the flow lock, are not held by it.
    assert!(
        s.acquire_person_lease("sam@example.com", "other", ttl, NOW + 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.acquire_lock(Flow::HrDepartures, "run", ttl, NOW + 1)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.acquire_person_lease("pat@example.com", "late", ttl, NOW + 2)
            .await
            .unwrap()
            .is_none()
    );
    // Free after release; a late release of the first holder frees nobody else's lease.
    s.release_lock(&l1, NOW + 3).await.unwrap();
    let l2 = s
        .acquire_person_lease("pat@example.com", "second", ttl, NOW + 4)
        .await
        .unwrap()
        .expect("free after release");
    s.release_lock(&l1, NOW + 5).await.unwrap();
    assert!(
        s.acquire_person_lease("pat@example.com", "third", ttl, NOW + 6)
            .await
            .unwrap()
            .is_none()
    );
    // Free once its lease has passed, though never released.
    let l3 = s
        .acquire_person_lease("pat@example.com", "after-expiry", ttl, l2.until)
        .await
        .unwrap()
        .expect("free after expiry");
    assert_ne!(l3.token, l2.token);
    // The person record itself is untouched by its lease.
    assert!(s.person("pat@example.com", NOW).await.unwrap().is_none());
}

async fn the_flow_lock_is_exclusive_and_reacquirable_after_release_or_expiry(fx: Fixture) {
    let s = &fx.store;
    let ttl = 900_000;
    // Ten runs start at once: one gets the lock.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.acquire_lock(FLOW, &format!("run-{i}"), ttl, NOW).await })
        })
        .collect();
    let mut held = winners(tasks).await;
    assert_eq!(held.len(), 1, "exactly one run holds the lock");
    let l1 = held.pop().unwrap();
    assert!(
        s.acquire_lock(FLOW, "late", ttl, NOW + 1)
            .await
            .unwrap()
            .is_none()
    );
    // Other flows have their own lock.
    assert!(
        s.acquire_lock(Flow::HrDepartures, "hr", ttl, NOW)
            .await
            .unwrap()
            .is_some()
    );

    s.release_lock(&l1, NOW + 2).await.unwrap();
    let l2 = s
        .acquire_lock(FLOW, "second", ttl, NOW + 3)
        .await
        .unwrap()
        .expect("free after release");
    assert!(
        s.acquire_lock(FLOW, "third", ttl, NOW + 4)
            .await
            .unwrap()
            .is_none()
    );
    // The first holder's late release does not free the second holder's lock.
    s.release_lock(&l1, NOW + 5).await.unwrap();
    assert!(
        s.acquire_lock(FLOW, "third", ttl, NOW + 6)
            .await
            .unwrap()
            .is_none()
    );

    // Past its ttl, the lock is free even though never released.
    let l3 = s
        .acquire_lock(FLOW, "after-expiry", ttl, l2.until)
        .await
        .unwrap()
        .expect("free after expiry");
    assert_ne!(l3.token, l2.token);
    // The expired holder cannot release the new holder's lock.
    s.release_lock(&l2, l2.until + 1).await.unwrap();
    assert!(
        s.acquire_lock(FLOW, "fourth", ttl, l2.until + 2)
            .await
            .unwrap()
            .is_none()
    );
}

async fn the_schema_version_is_written_once(fx: Fixture) {
    let s = &fx.store;
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.ensure_schema(NOW).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), SCHEMA_VERSION);
    }
    assert_eq!(s.ensure_schema(NOW + 1_000).await.unwrap(), SCHEMA_VERSION);
    let raw = s
        .backend()
        .get("meta#schema", "version")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw.version, 1, "written once");
    let body: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    assert_eq!(body["version"], SCHEMA_VERSION);
    assert_eq!(
        body["written_at"], NOW,
        "the second call did not overwrite it"
    );
}

// ---------------------------------------------------------------- the backend primitive

async fn batch_reads_return_every_live_item_across_chunks(fx: Fixture) {
    let s = &fx.store;
    // 250 items in one batched write (chunks of 25 on DynamoDB); every tenth expired.
    let raws: Vec<RawItem> = (0..250)
        .map(|i| {
            let exp = if i % 10 == 0 { Some(EXPIRED) } else { None };
            work_item_raw(&format!("k{i:03}"), ItemStatus::Pending, 1, exp)
        })
        .collect();
    s.backend().put_many(raws).await.unwrap();
    // 300 keys (50 never written), some asked for twice.
    let mut keys: Vec<String> = (0..300).map(|i| format!("k{i:03}")).collect();
    keys.extend(["k001".to_string(), "k002".to_string()]);
    let found = s.items(FLOW, &keys, NOW).await.unwrap();
    let expected: HashSet<String> = (0..250)
        .filter(|i| i % 10 != 0)
        .map(|i| format!("k{i:03}"))
        .collect();
    assert_eq!(found.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(
        found
            .values()
            .all(|it| it.version == 1 && it.status == ItemStatus::Pending)
    );
    let raws = s
        .backend()
        .batch_get(&[("nope".into(), "state".into())])
        .await
        .unwrap();
    assert!(raws.is_empty());
    // put_many replaces.
    let mut again = work_item_raw("k001", ItemStatus::Done, 9, None);
    again.body = again.body.replace("\"pending\"", "\"done\"");
    s.backend().put_many(vec![again]).await.unwrap();
    assert_eq!(s.item(FLOW, "k001", NOW).await.unwrap().unwrap().version, 9);
}

async fn a_transaction_checks_every_condition_before_writing_anything(fx: Fixture) {
    let b = fx.store.backend();
    b.put(raw("t", "a", 1), Cond::Always).await.unwrap();
    b.put(raw("t", "c", 1), Cond::Always).await.unwrap();
    let mut d = raw("t", "d", 1);
    d.lease_token = Some("tok".into());
    b.put(d.clone(), Cond::Always).await.unwrap();

    let failing = vec![
        Op::Put(raw("t", "x", 1), Cond::Always),
        Op::Put(
            raw("t", "a", 2),
            Cond::Version {
                expected: 1,
                now: NOW,
            },
        ),
        Op::Put(raw("t", "c", 2), Cond::Absent { now: NOW }),
        Op::Delete {
            pk: "t".into(),
            sk: "d".into(),
            cond: Cond::Token("wrong".into()),
        },
    ];
    let err = b.transact(failing).await.unwrap_err();
    assert!(
        matches!(err, BackendError::ConditionFailed { index: 2 }),
        "{err:?}"
    );
    assert_eq!(b.get("t", "x").await.unwrap(), None);
    assert_eq!(b.get("t", "a").await.unwrap().unwrap().version, 1);
    assert_eq!(b.get("t", "d").await.unwrap(), Some(d.clone()));

    let ok = vec![
        Op::Put(raw("t", "x", 1), Cond::Absent { now: NOW }),
        Op::Put(
            raw("t", "a", 2),
            Cond::Version {
                expected: 1,
                now: NOW,
            },
        ),
        Op::Put(
            raw("t", "c", 2),
            Cond::Version {
                expected: 1,
                now: NOW,
            },
        ),
        Op::Delete {
            pk: "t".into(),
            sk: "d".into(),
            cond: Cond::Token("tok".into()),
        },
    ];
    b.transact(ok).await.unwrap();
    assert_eq!(b.get("t", "x").await.unwrap(), Some(raw("t", "x", 1)));
    assert_eq!(b.get("t", "a").await.unwrap().unwrap().version, 2);
    assert_eq!(b.get("t", "c").await.unwrap().unwrap().version, 2);
    assert_eq!(b.get("t", "d").await.unwrap(), None);
    b.transact(Vec::new()).await.unwrap();
}

async fn a_transaction_over_100_operations_or_touching_one_item_twice_is_refused(fx: Fixture) {
    let b = fx.store.backend();
    let many: Vec<Op> = (0..101)
        .map(|i| Op::Put(raw("t", &format!("s{i}"), 1), Cond::Always))
        .collect();
    let err = b.transact(many).await.unwrap_err();
    assert!(matches!(err, BackendError::Other(_)), "{err:?}");
    assert!(b.get("t", "s0").await.unwrap().is_none());
    let twice = vec![
        Op::Put(raw("t", "a", 1), Cond::Always),
        Op::Delete {
            pk: "t".into(),
            sk: "a".into(),
            cond: Cond::Always,
        },
    ];
    let err = b.transact(twice).await.unwrap_err();
    assert!(matches!(err, BackendError::Other(_)), "{err:?}");
    assert!(b.get("t", "a").await.unwrap().is_none());
    // Exactly 100 is fine.
    let hundred: Vec<Op> = (0..100)
        .map(|i| Op::Put(raw("t", &format!("s{i:03}"), 1), Cond::Always))
        .collect();
    b.transact(hundred).await.unwrap();
    let (items, _) = b
        .query(&Query {
            pk: "t".into(),
            limit: 500,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(items.len(), 100);
}

async fn queries_page_in_both_directions_with_prefixes_and_cursors(fx: Fixture) {
    let b = fx.store.backend();
    for sk in ["a#1", "a#2", "a#3", "b#1", "b#2", "c"] {
        b.put(raw("q", sk, 1), Cond::Always).await.unwrap();
    }
    // Neighbouring partitions never leak in.
    b.put(raw("q#x", "a#1", 1), Cond::Always).await.unwrap();
    b.put(raw("p", "a#1", 1), Cond::Always).await.unwrap();

    let run = |prefix: Option<&str>, after: Option<&str>, descending: bool, limit: usize| {
        let q = Query {
            pk: "q".into(),
            sk_prefix: prefix.map(str::to_string),
            after: after.map(str::to_string),
            descending,
            limit,
        };
        async move {
            let (items, next) = b.query(&q).await.unwrap();
            (items.into_iter().map(|i| i.sk).collect::<Vec<_>>(), next)
        }
    };
    let (page, next) = run(Some("a#"), None, false, 2).await;
    assert_eq!(page, ["a#1", "a#2"]);
    assert_eq!(next.as_deref(), Some("a#2"));
    assert_eq!(
        run(Some("a#"), Some("a#2"), false, 2).await,
        (vec!["a#3".to_string()], None)
    );
    let (page, next) = run(Some("a#"), None, true, 2).await;
    assert_eq!(page, ["a#3", "a#2"]);
    assert_eq!(next.as_deref(), Some("a#2"));
    assert_eq!(
        run(Some("a#"), Some("a#2"), true, 2).await,
        (vec!["a#1".to_string()], None)
    );
    assert_eq!(
        run(None, Some("a#3"), false, 10).await.0,
        ["b#1", "b#2", "c"]
    );
    assert_eq!(
        run(None, Some("b#1"), true, 10).await.0,
        ["a#3", "a#2", "a#1"]
    );
    assert_eq!(
        run(None, None, true, 10).await.0,
        ["c", "b#2", "b#1", "a#3", "a#2", "a#1"]
    );
    // Cursors outside the prefix's range.
    assert_eq!(
        run(Some("b#"), Some("a#9"), false, 10).await.0,
        ["b#1", "b#2"]
    );
    assert!(run(Some("b#"), Some("a#9"), true, 10).await.0.is_empty());
    assert_eq!(
        run(Some("a#"), Some("zz"), true, 10).await.0,
        ["a#3", "a#2", "a#1"]
    );
    assert!(run(Some("a#"), Some("zz"), false, 10).await.0.is_empty());
    // Cursors that match no stored key.
    assert_eq!(run(None, Some("a#25"), false, 2).await.0, ["a#3", "b#1"]);
    assert_eq!(run(None, Some(""), false, 1).await.0, ["a#1"]);
    assert!(run(None, Some(""), true, 1).await.0.is_empty());
    assert!(run(Some("zz"), None, false, 10).await.0.is_empty());
    let (all, _) = run(None, None, false, 6).await;
    assert_eq!(all.len(), 6);
    assert!(
        b.query(&Query {
            pk: "nobody".into(),
            limit: 5,
            ..Query::default()
        })
        .await
        .unwrap()
        .0
        .is_empty()
    );
}

async fn puts_and_deletes_honour_their_conditions(fx: Fixture) {
    let b = fx.store.backend();
    b.put(raw("c", "1", 1), Cond::Absent { now: NOW })
        .await
        .unwrap();
    let err = b
        .put(raw("c", "1", 2), Cond::Absent { now: NOW })
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::ConditionFailed { index: 0 }),
        "{err:?}"
    );
    let err = b
        .put(
            raw("c", "1", 2),
            Cond::Version {
                expected: 0,
                now: NOW,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ConditionFailed { .. }));
    let err = b
        .put(
            raw("c", "1", 3),
            Cond::Version {
                expected: 2,
                now: NOW,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ConditionFailed { .. }));
    b.put(
        raw("c", "1", 2),
        Cond::Version {
            expected: 1,
            now: NOW,
        },
    )
    .await
    .unwrap();
    // Token conditions compare the lease token, whatever the version.
    let err = b
        .put(raw("c", "1", 3), Cond::Token("t".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ConditionFailed { .. }));
    let mut leased = raw("c", "1", 3);
    leased.lease_token = Some("t".into());
    leased.lease_until = Some(NOW + 5);
    b.put(leased.clone(), Cond::Always).await.unwrap();
    b.put(raw("c", "1", 4), Cond::Token("t".into()))
        .await
        .unwrap();
    assert_eq!(
        b.get("c", "1").await.unwrap(),
        Some(raw("c", "1", 4)),
        "the lease attributes are gone"
    );
    // Version conditions treat an expired item as absent.
    let mut expired = raw("c", "2", 5);
    expired.expires_at = Some(EXPIRED);
    b.put(expired.clone(), Cond::Always).await.unwrap();
    let err = b
        .put(
            raw("c", "2", 6),
            Cond::Version {
                expected: 5,
                now: NOW,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ConditionFailed { .. }));
    b.put(
        raw("c", "2", 1),
        Cond::Version {
            expected: 0,
            now: NOW,
        },
    )
    .await
    .unwrap();
    // Deletes.
    let err = b
        .delete(
            "c",
            "1",
            Cond::Version {
                expected: 3,
                now: NOW,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ConditionFailed { index: 0 }));
    b.delete(
        "c",
        "1",
        Cond::Version {
            expected: 4,
            now: NOW,
        },
    )
    .await
    .unwrap();
    assert_eq!(b.get("c", "1").await.unwrap(), None);
    b.delete("c", "absent", Cond::Always).await.unwrap();
    let err = b
        .delete("c", "absent", Cond::Token("t".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::ConditionFailed { .. }));
    // Conditions on an absent item.
    b.delete("c", "absent", Cond::Absent { now: NOW })
        .await
        .unwrap();
}

// ---------------------------------------------------------------- backend-specific

#[tokio::test]
async fn sqlite_state_survives_reopening_the_file_and_the_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("riskflow-reopen");
    let path = dir.path().join("state.db");
    {
        let s = Store::new(Arc::new(SqliteItemStore::open(&path).unwrap()));
        let (lease, item) = acquire(&s, "k", NOW).await;
        s.complete(&lease, &item, NOW + 1).await.unwrap();
        s.ensure_schema(NOW).await.unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "state file mode {mode:o}");
    let s = Store::new(Arc::new(SqliteItemStore::open(&path).unwrap()));
    let item = s.item(FLOW, "k", NOW + 2).await.unwrap().unwrap();
    assert_eq!(item.status, ItemStatus::Done);
    assert!(matches!(
        s.claim(FLOW, "k", None, false, LEASE_MS, NOW + 3)
            .await
            .unwrap(),
        Claim::Done(_)
    ));
}

#[tokio::test]
async fn dynamodb_error_messages_never_include_item_bodies() {
    let (store, _) = dynamo_test_store().await;
    let marker = "MARKER-7f3a-do-not-log";
    let mut big = raw("big", "1", 1);
    // Past DynamoDB's 400 KB item limit: refused by the service.
    big.body = format!(
        "{{\"secret\":\"{marker}\",\"pad\":\"{}\"}}",
        "x".repeat(420_000)
    );
    let err = store
        .backend()
        .put(big.clone(), Cond::Always)
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, BackendError::Other(_)), "{shown}");
    assert!(!shown.contains(marker), "{shown}");
    assert!(
        !shown.contains("xxxxxxxx"),
        "{}",
        &shown[..shown.len().min(400)]
    );
    let err = store
        .backend()
        .put_many(vec![big.clone()])
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(marker));
    let err = store
        .backend()
        .transact(vec![Op::Put(big, Cond::Absent { now: NOW })])
        .await
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(marker));
}

#[tokio::test]
async fn dynamodb_unreachable_is_unavailable_and_transient() {
    // Needs no emulator: nothing listens on the discard port.
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .build();
    let backend = riskflow::store::dynamodb::DynamoItemStore::new(
        aws_sdk_dynamodb::Client::from_conf(conf),
        "t",
    );
    let err = backend.get("a", "b").await.unwrap_err();
    assert!(matches!(err, BackendError::Unavailable(_)), "{err:?}");
    let store = Store::new(Arc::new(backend));
    let err = store.item(FLOW, "k", NOW).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

// ---------------------------------------------------------------- ambiguous writes

/// A backend whose next `refusals` conditional writes are applied and then answered as
/// refused (what an SDK retry after a lost answer sees), and whose next `unavailable`
/// transactions are answered as unavailable, applied or not as `apply_unavailable` says.
struct LostAnswers {
    inner: Arc<dyn ItemStore>,
    refusals: std::sync::atomic::AtomicUsize,
    unavailable: std::sync::atomic::AtomicUsize,
    apply_unavailable: bool,
}

impl LostAnswers {
    fn over(fx: &Fixture, refusals: usize, unavailable: usize, apply_unavailable: bool) -> Store {
        Store::new(Arc::new(LostAnswers {
            inner: fx.store.backend().clone(),
            refusals: refusals.into(),
            unavailable: unavailable.into(),
            apply_unavailable,
        }))
    }

    fn take(n: &std::sync::atomic::AtomicUsize) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        n.fetch_update(SeqCst, SeqCst, |v| v.checked_sub(1)).is_ok()
    }
}

#[async_trait::async_trait]
impl ItemStore for LostAnswers {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<RawItem>, BackendError> {
        self.inner.get(pk, sk).await
    }
    async fn batch_get(&self, keys: &[(String, String)]) -> Result<Vec<RawItem>, BackendError> {
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: RawItem, cond: Cond) -> Result<(), BackendError> {
        self.transact(vec![Op::Put(item, cond)]).await
    }
    async fn put_many(&self, items: Vec<RawItem>) -> Result<(), BackendError> {
        self.inner.put_many(items).await
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), BackendError> {
        self.inner.delete(pk, sk, cond).await
    }
    async fn transact(&self, ops: Vec<Op>) -> Result<(), BackendError> {
        let conditional = ops.iter().any(|op| !matches!(op, Op::Put(_, Cond::Always)));
        let apply = |ops: Vec<Op>| async move {
            match ops.as_slice() {
                [Op::Put(raw, cond)] => self.inner.put(raw.clone(), cond.clone()).await,
                _ => self.inner.transact(ops).await,
            }
        };
        if Self::take(&self.unavailable) {
            if self.apply_unavailable {
                apply(ops).await?;
            }
            return Err(BackendError::Unavailable(
                "DynamoDB TransactWriteItems: TransactionConflictException".into(),
            ));
        }
        if conditional && Self::take(&self.refusals) {
            apply(ops).await?;
            return Err(BackendError::ConditionFailed { index: 0 });
        }
        apply(ops).await
    }
    async fn query(&self, q: &Query) -> Result<(Vec<RawItem>, Option<String>), BackendError> {
        self.inner.query(q).await
    }
    async fn delete_expired(&self, now: i64) -> Result<u64, BackendError> {
        self.inner.delete_expired(now).await
    }
}

async fn a_write_applied_but_answered_as_refused_is_recognised_as_applied(fx: Fixture) {
    // A claim, a save under the lease, the completion and the flow lock: each applied, each
    // answered as refused. Each is recognised as applied, so nobody is left holding an item
    // or a lock that its writer believes it lost.
    let s = LostAnswers::over(&fx, usize::MAX, 0, false);
    let Claim::Acquired { lease, item } = s
        .claim_new(FLOW, "lost-1", LEASE_MS, NOW, |_, _| {})
        .await
        .unwrap()
    else {
        panic!("the applied claim is the caller's");
    };
    let Claim::Acquired { lease: l2, .. } = s
        .claim(FLOW, "lost-2", None, false, LEASE_MS, NOW)
        .await
        .unwrap()
    else {
        panic!("the applied claim is the caller's");
    };
    let mut next = item.clone();
    next.last_error = Some("step one done".into());
    let saved = s.save_item(&lease, &next, NOW + 1).await.unwrap();
    let done = s.complete(&lease, &saved, NOW + 2).await.unwrap();
    assert_eq!(done.status, ItemStatus::Done);
    let stored = fx
        .store
        .item(FLOW, "lost-1", NOW + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, ItemStatus::Done);
    assert_eq!(stored.version, done.version);
    // The other claim's lease is the caller's: its writes under it go through.
    let it2 = fx.store.item(FLOW, "lost-2", NOW).await.unwrap().unwrap();
    assert_eq!(it2.lease_token.as_deref(), Some(l2.token.as_str()));
    let lock = s
        .acquire_lock(FLOW, "run-1", LEASE_MS, NOW)
        .await
        .unwrap()
        .expect("the applied lock is the caller's");
    // The lock is held: a second run is refused.
    assert!(
        fx.store
            .acquire_lock(FLOW, "run-2", LEASE_MS, NOW + 1)
            .await
            .unwrap()
            .is_none()
    );
    s.release_lock(&lock, NOW + 2).await.unwrap();
    assert!(
        fx.store
            .acquire_lock(FLOW, "run-2", LEASE_MS, NOW + 3)
            .await
            .unwrap()
            .is_some()
    );
}

async fn a_refused_write_that_names_no_writer_stays_refused(fx: Fixture) {
    // A real refusal is not mistaken for an applied write: another run holds the item.
    let (_held, _) = acquire(&fx.store, "busy", NOW).await;
    let s = LostAnswers::over(&fx, 0, 0, false);
    assert!(matches!(
        s.claim(FLOW, "busy", None, false, LEASE_MS, NOW + 1)
            .await
            .unwrap(),
        Claim::Busy { .. }
    ));
    // A stale lease stays stale.
    let (lease, item) = acquire(&fx.store, "stale", NOW).await;
    let (_taken, _) = acquire(&fx.store, "stale", NOW + LEASE_MS + 1).await;
    assert!(matches!(
        s.save_item(&lease, &item, NOW + LEASE_MS + 2).await,
        Err(StoreError::StaleLease { .. })
    ));
    // A write that names no writer (a pending item, as a webhook records it) is not confirmed
    // by reading it back: an equal item may have been written by someone else.
    let s = LostAnswers::over(&fx, 1, 0, false);
    let pending = WorkItem::new(FLOW, "pend", ItemStatus::Pending, NOW);
    assert!(!s.put_pending(&pending, NOW).await.unwrap());
}

async fn a_delivery_refused_transiently_is_tried_again_and_recorded_once(fx: Fixture) {
    // Refused as a transaction conflict, not applied: tried again, recorded.
    let s = LostAnswers::over(&fx, 0, 2, false);
    let item = WorkItem::new(FLOW, "d-1", ItemStatus::Pending, NOW);
    assert_eq!(
        s.record_delivery(&delivery("evt-c1", NOW + DAY), &item, NOW)
            .await
            .unwrap(),
        DeliveryOutcome::Recorded
    );
    // Applied, answered as unavailable: the repeat finds it recorded.
    let s = LostAnswers::over(&fx, 0, 1, true);
    let item = WorkItem::new(FLOW, "d-2", ItemStatus::Pending, NOW);
    assert_eq!(
        s.record_delivery(&delivery("evt-c2", NOW + DAY), &item, NOW)
            .await
            .unwrap(),
        DeliveryOutcome::Duplicate
    );
    assert!(
        fx.store
            .delivery_seen("bamboohr", "evt-c2", NOW)
            .await
            .unwrap()
    );
    let mut keys = index_keys(&fx.store, ItemStatus::Pending).await;
    keys.sort();
    assert_eq!(keys, ["d-1", "d-2"]);
    // Unavailable for longer than the retries: the error reaches the caller (503).
    let s = LostAnswers::over(&fx, 0, 10, false);
    let item = WorkItem::new(FLOW, "d-3", ItemStatus::Pending, NOW);
    assert!(matches!(
        s.record_delivery(&delivery("evt-c3", NOW + DAY), &item, NOW)
            .await,
        Err(e) if e.is_transient()
    ));
}

async fn a_containment_is_open_once_per_membership_and_closes_with_its_audit_entry(fx: Fixture) {
    use riskflow::domain::{AuditEntry, Closed, ConnectionKind, Containment, ContainmentStatus};
    let s = &fx.store;
    let open = |id: &str, user: &str| Containment {
        id: id.into(),
        idp: ConnectionKind::Okta,
        group_id: "00g1".into(),
        user_id: user.into(),
        login: format!("{user}@example.com"),
        email: format!("{user}@example.com"),
        was_member: false,
        sessions: vec!["s1".into()],
        more_sessions: 0,
        contained_at: NOW,
        until: None,
        status: ContainmentStatus::Active,
        undo_request: None,
        undoing: None,
        last_error: None,
        closed: None,
        version: 0,
    };
    let a = s.create_containment(&open("ca", "u1"), NOW).await.unwrap();
    s.create_containment(&open("cb", "u2"), NOW).await.unwrap();
    // A second containment of the same membership is refused: the first is joined instead.
    let twice = s.create_containment(&open("cc", "u1"), NOW).await;
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "{twice:?}"
    );
    assert!(
        s.containment("cc", NOW).await.unwrap().is_none(),
        "nothing of it written"
    );
    let found = s
        .open_containment_for(ConnectionKind::Okta, "00g1", "u1", NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id.as_str(), found.version), ("ca", 1));
    // A save from a stale read conflicts.
    let mut joined = found.clone();
    joined.add_session("s2");
    let joined = s.save_containment(&joined, NOW).await.unwrap();
    let stale = s.save_containment(&found, NOW).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    // Closing writes the record, both indexes and the audit entry together.
    let mut closing = joined.clone();
    closing.status = ContainmentStatus::Undone;
    closing.closed = Some(Closed {
        at: NOW + 5,
        why: "requested".into(),
        result: "ok".into(),
    });
    let entry = AuditEntry {
        at: NOW + 5,
        id: "undo1".into(),
        flow: None,
        system: ConnectionKind::Okta,
        action: "okta_group_remove".into(),
        target: "u1@example.com".into(),
        reason: "containment ca".into(),
        result: "ok".into(),
    };
    s.close_containment(&closing, Some(&entry), 86_400_000, NOW + 5)
        .await
        .unwrap();
    // Closing from the stale version again is refused, and writes no second audit entry.
    let again = s
        .close_containment(&closing, Some(&entry), 86_400_000, NOW + 6)
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    let open_now = s.open_containments(None, 10, NOW + 6).await.unwrap().items;
    assert_eq!(
        open_now.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["cb"]
    );
    let closed = s
        .closed_containments(None, 10, NOW + 6)
        .await
        .unwrap()
        .items;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].status, ContainmentStatus::Undone);
    assert_eq!(closed[0].sessions, ["s1", "s2"]);
    let audit = s
        .list_audit(NOW, NOW + 100, 10, None, NOW + 6)
        .await
        .unwrap()
        .items;
    assert_eq!(audit.len(), 1, "{audit:?}");
    // The membership can be contained again, as a new containment.
    s.create_containment(&open("cd", "u1"), NOW + 7)
        .await
        .unwrap();
    assert!(a.version == 1);
    // A closed containment is kept for its retention, then expires.
    let gone = NOW + 5 + riskflow::domain::CLOSED_RETENTION_MS + 2000;
    assert!(s.containment("ca", gone).await.unwrap().is_none());
    assert!(
        s.closed_containments(None, 10, gone)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// DynamoDB refuses an item over 400 KB (attribute names and values together); memory and
/// SQLite refuse it too, so code tested on them does not fail on DynamoDB.
async fn an_item_over_400_kb_is_refused_by_put_batch_and_transaction_alike(fx: Fixture) {
    let b = fx.store.backend();
    let sized = |sk: &str, bytes: usize| RawItem {
        body: "x".repeat(bytes),
        ..raw("big", sk, 1)
    };
    b.put(sized("fits", 380_000), Cond::Always).await.unwrap();
    assert_eq!(
        b.get("big", "fits").await.unwrap().unwrap().body.len(),
        380_000
    );

    let refusals = [
        b.put(sized("put", 420_000), Cond::Always).await,
        b.put_many(vec![sized("batch", 420_000)]).await,
        b.transact(vec![
            Op::Put(raw("big", "small", 1), Cond::Always),
            Op::Put(sized("transact", 420_000), Cond::Always),
        ])
        .await,
    ];
    for res in refusals {
        assert!(
            matches!(res, Err(BackendError::Other(_))),
            "{:?}: {res:?}",
            fx.kind
        );
    }
    for sk in ["put", "batch", "transact", "small"] {
        assert!(b.get("big", sk).await.unwrap().is_none(), "{sk} stored");
    }
}

/// 20,000 report rows as a Workday pull stores them (about 180 bytes each: 3.6 MB).
fn report_rows(n: usize, tag: &str) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "employee_id": format!("{i:06}"),
                "email": format!("person{i}@example.com"),
                "termination_date": "2030-01-31",
                "last_day": "2030-01-30",
                "event_id": format!("{tag}-9f1c6a2b1e3d4f5a8b7c6d5e4f3a2b1c-{i}"),
                "reason": "Resignation > Personal"
            })
        })
        .collect()
}

/// The Workday snapshot stored at `now` (there is one).
async fn stored_snapshot(store: &Store, now: i64) -> riskflow::store::Snapshot {
    store
        .report_snapshot("workday", now)
        .await
        .unwrap()
        .unwrap()
}

/// Every item of a snapshot partition, by sort key.
async fn snapshot_items(store: &Store, source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let (items, next) = store
            .backend()
            .query(&Query {
                pk: format!("snapshot#{source}"),
                after,
                limit: 1000,
                ..Query::default()
            })
            .await
            .unwrap();
        out.extend(items.into_iter().map(|it| it.sk));
        match next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

async fn a_20000_row_report_snapshot_is_stored_in_pages_and_replaced_whole(fx: Fixture) {
    let store = &fx.store;
    assert_eq!(store.report_snapshot("workday", NOW).await.unwrap(), None);
    let first = report_rows(20_000, "a");
    let pages = store
        .put_report_snapshot("workday", None, &first, NOW)
        .await
        .unwrap();
    // 3.6 MB of rows in pages of at most 200 KB.
    assert!((18..=25).contains(&pages), "{pages} pages");
    let read = stored_snapshot(store, NOW).await;
    assert_eq!(read.pages, pages);
    assert!(read.rows == first, "the rows read back in order");

    let second = report_rows(19_990, "b");
    let pages2 = store
        .put_report_snapshot("workday", Some(&read), &second, NOW + DAY)
        .await
        .unwrap();
    let again = stored_snapshot(store, NOW + DAY).await;
    assert!(again.rows == second);
    // The replaced generation's pages went with the flip: the head and the new pages remain.
    let items = snapshot_items(store, "workday").await;
    assert_eq!(items.len(), pages2 as usize + 1, "{items:?}");
    assert!(items.contains(&"head".to_string()));
    // Every page (and the head) expires with the snapshot's retention, renewed by each pull.
    fx.store
        .backend()
        .delete_expired(NOW + DAY + riskflow::store::SNAPSHOT_RETENTION_MS - 1)
        .await
        .unwrap();
    assert_eq!(snapshot_items(store, "workday").await.len(), items.len());
    fx.store
        .backend()
        .delete_expired(NOW + DAY + riskflow::store::SNAPSHOT_RETENTION_MS + 1000)
        .await
        .unwrap();
    assert!(snapshot_items(store, "workday").await.is_empty());
}

async fn a_report_snapshot_replaced_concurrently_is_refused_and_the_stored_one_stays_whole(
    fx: Fixture,
) {
    let store = &fx.store;
    let rows = report_rows(3_000, "a");
    store
        .put_report_snapshot("workday", None, &rows, NOW)
        .await
        .unwrap();
    let read = stored_snapshot(store, NOW).await;
    // Another pull replaced it meanwhile; this one's pages are written, its flip refused.
    let theirs = report_rows(2_000, "b");
    store
        .put_report_snapshot("workday", Some(&read), &theirs, NOW + 1)
        .await
        .unwrap();
    let err = store
        .put_report_snapshot("workday", Some(&read), &report_rows(1_000, "c"), NOW + 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    // A writer that saw no snapshot at all is refused too.
    let err = store
        .put_report_snapshot("workday", None, &report_rows(10, "d"), NOW + 3)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let now = stored_snapshot(store, NOW + 4).await;
    assert!(now.rows == theirs, "the snapshot that won is read whole");
}

async fn the_single_item_snapshot_of_older_versions_is_read_once_then_replaced(fx: Fixture) {
    let store = &fx.store;
    let legacy = report_rows(3, "old");
    store
        .put_doc(
            "snapshot#workday",
            "last",
            &serde_json::Value::Array(legacy.clone()),
        )
        .await
        .unwrap();
    let read = stored_snapshot(store, NOW).await;
    assert_eq!((read.rows.clone(), read.pages), (legacy, 0));
    let rows = report_rows(2, "new");
    store
        .put_report_snapshot("workday", Some(&read), &rows, NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_doc("snapshot#workday", "last", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(stored_snapshot(store, NOW).await.rows, rows);
}
