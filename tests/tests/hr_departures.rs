//! hr-departures end to end: signed generic webhooks through the webhook receiver (then
//! processed at once, as the dev server and the Lambda handler do), the ADP queue over mutual
//! TLS, the sandbox's Incydr watchlists, state in DynamoDB (moto).

use riskflow::api::ApiResponse;
use riskflow::domain::{ConnectionKind, Flow, RunRecord, RunStatus};
use riskflow_e2e::{Options, World, count, date_in_days, now_secs, signed_headers};
use riskflow_sandbox::adp::{AdpWorker, terminate_event};
use riskflow_sandbox::{FaultKind, FaultRule};
use serde_json::json;
use std::time::{Duration, Instant};

const FLOW: Flow = Flow::HrDepartures;
const WATCHLIST_ADD: (&str, &str, &str) = (
    "incydr",
    "POST",
    "/v2/watchlists/{watchlist_id}/included-actors/add",
);

async fn hr_world() -> World {
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({})).await;
    w.connect(ConnectionKind::Generic, json!({})).await;
    w
}

fn watchlist_adds(w: &World) -> u64 {
    w.sb()
        .count(WATCHLIST_ADD.0, WATCHLIST_ADD.1, WATCHLIST_ADD.2)
}

fn on_departing_list(w: &World, actor_id: &str) -> usize {
    w.sb()
        .watchlist_actor_ids("DEPARTING_EMPLOYEE")
        .iter()
        .filter(|a| *a == actor_id)
        .count()
}

/// Deliver a generic webhook and process what it recorded at once, as the handlers do.
async fn deliver(w: &World, id: &str, ts: i64, body: &[u8]) -> (ApiResponse, Option<RunRecord>) {
    let headers = signed_headers(id, ts, body);
    deliver_with(w, "generic", &headers, body).await
}

/// Deliver a webhook from `source` and process what it recorded at once, as the handlers do.
async fn deliver_with(
    w: &World,
    source: &str,
    headers: &http::HeaderMap,
    body: &[u8],
) -> (ApiResponse, Option<RunRecord>) {
    let accepted = w
        .env
        .webhook_receiver()
        .receive(source, headers, body)
        .await;
    let rec = w
        .env
        .process_hr_items(
            &accepted.new_items,
            Instant::now() + Duration::from_secs(30),
        )
        .await;
    (accepted.response, rec)
}

fn departure(email: &str, date: &str, occurred_at: Option<&str>) -> Vec<u8> {
    let mut v = json!({"event_type": "departure", "email": email, "departure_date": date});
    if let Some(t) = occurred_at {
        v["occurred_at"] = json!(t);
    }
    v.to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_generic_webhook_delivered_ten_times_adds_the_person_to_the_watchlist_once() {
    let w = hr_world().await;
    let actor = w.seed_actor("actor-leaver", "leaver@example.com");
    let date = date_in_days(14);
    let body = departure("Leaver@Example.com", &date, None);
    let ts = now_secs();

    // Ten deliveries of one message at once (a sender retrying eagerly).
    let answers =
        futures::future::join_all((0..10).map(|_| deliver(&w, "msg_leaver_1", ts, &body))).await;
    let statuses: Vec<u16> = answers.iter().map(|(r, _)| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        9,
        "{statuses:?}"
    );
    let processed: Vec<&RunRecord> = answers.iter().filter_map(|(_, r)| r.as_ref()).collect();
    assert_eq!(processed.len(), 1);
    assert_eq!(
        processed[0].status,
        RunStatus::Succeeded,
        "{:#?}",
        processed[0]
    );
    assert_eq!(count(processed[0], "watchlist_adds"), 1);

    assert_eq!(watchlist_adds(&w), 1);
    assert_eq!(on_departing_list(&w, &actor), 1);
    assert_eq!(w.sb().actor(&actor).and_then(|a| a.end_date), Some(date));

    // An eleventh, later, and a scheduled run: nothing more.
    let (again, rec) = deliver(&w, "msg_leaver_1", ts, &body).await;
    assert_eq!(again.status.as_u16(), 200);
    assert!(rec.is_none());
    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(count(&run, "watchlist_adds"), 0);
    assert_eq!(watchlist_adds(&w), 1);
    assert!(w.open_items(FLOW).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_bad_webhook_delivery_gets_its_status_and_records_nothing() {
    let w = hr_world().await;
    w.seed_actor("actor-x", "x@example.com");
    let date = date_in_days(10);
    let good = departure("x@example.com", &date, None);
    let now = now_secs();

    let mut wrong_sig = signed_headers("msg_badsig", now, b"{\"another\":\"body\"}");
    wrong_sig.insert("content-type", "application/json".parse().unwrap());
    let mut no_sig = signed_headers("msg_nosig", now, &good);
    no_sig.remove("webhook-signature");
    let stale = signed_headers("msg_stale", now - 600, &good);
    let no_email = br#"{"event_type":"departure","departure_date":"2030-01-31"}"#.to_vec();
    let not_json = b"event_type=departure&email=x@example.com".to_vec();
    let bad_date = departure("x@example.com", "31/01/2030", None);
    // An hour ahead (3658-3660 s by the time it is checked): it would outrank every later fact.
    let future_time = riskflow::clock::rfc3339_of_ms((now + 3_660) * 1000);
    let future = departure("x@example.com", &date, Some(&future_time));
    let mut huge = departure("x@example.com", &date, None);
    huge.pop();
    huge.extend(format!(",\"padding\":\"{}\"}}", "x".repeat(257 * 1024)).into_bytes());

    let cases: Vec<(&str, http::HeaderMap, Vec<u8>, u16, &str)> = vec![
        (
            "msg_badsig",
            wrong_sig,
            good.clone(),
            401,
            "signature does not match",
        ),
        (
            "msg_nosig",
            no_sig,
            good.clone(),
            401,
            "'webhook-signature' header is missing",
        ),
        (
            "msg_stale",
            stale,
            good.clone(),
            401,
            "outside the 300 s window",
        ),
        (
            "msg_noemail",
            signed_headers("msg_noemail", now, &no_email),
            no_email.clone(),
            400,
            "'email' is missing",
        ),
        (
            "msg_notjson",
            signed_headers("msg_notjson", now, &not_json),
            not_json.clone(),
            400,
            "not JSON",
        ),
        (
            "msg_baddate",
            signed_headers("msg_baddate", now, &bad_date),
            bad_date.clone(),
            400,
            "'departure_date' must be YYYY-MM-DD",
        ),
        (
            "msg_future",
            signed_headers("msg_future", now, &future),
            future.clone(),
            400,
            "'occurred_at' is 36",
        ),
        (
            "msg_huge",
            signed_headers("msg_huge", now, &huge),
            huge.clone(),
            413,
            "larger than 256 KiB",
        ),
    ];
    let incydr_before = w.sb().counts().system_total("incydr");
    for (id, headers, body, status, says) in &cases {
        let (r, rec) = deliver_with(&w, "generic", headers, body).await;
        assert_eq!(r.status.as_u16(), *status, "{id}: {}", r.body);
        let msg = r.message().unwrap_or_default();
        assert!(
            msg.contains(says),
            "{id}: the message names the problem: {msg}"
        );
        assert!(rec.is_none(), "{id}: nothing processed");
        let now_ms = w.clock.now();
        assert!(
            !w.store()
                .delivery_seen("generic", id, now_ms)
                .await
                .unwrap(),
            "{id}: no delivery"
        );
        let key = format!("generic:{id}");
        assert!(
            w.store().item(FLOW, &key, now_ms).await.unwrap().is_none(),
            "{id}: no item"
        );
    }
    assert!(w.open_items(FLOW).await.is_empty());
    assert_eq!(watchlist_adds(&w), 0);
    assert_eq!(
        w.sb().counts().system_total("incydr"),
        incydr_before,
        "Incydr was not called"
    );

    // The same message, well formed, is accepted afterwards: the refusals left no trace.
    let (ok, rec) = deliver(&w, "msg_stale", now, &good).await;
    assert_eq!(ok.status.as_u16(), 202, "{}", ok.body);
    assert_eq!(rec.map(|r| count(&r, "watchlist_adds")), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_handled_while_incydr_fails_puts_the_person_on_the_watchlist_at_the_next_scheduled_run()
 {
    let w = hr_world().await;
    let actor = w.seed_actor("actor-later", "later@example.com");
    let date = date_in_days(21);
    w.sb().add_fault(FaultRule::new(
        "incydr",
        FaultKind::Error {
            status: 500,
            retry_after: None,
        },
    ));

    let (r, rec) = deliver(
        &w,
        "msg_during_outage",
        now_secs(),
        &departure("later@example.com", &date, None),
    )
    .await;
    assert_eq!(
        r.status.as_u16(),
        202,
        "recorded, then answered: {}",
        r.body
    );
    let rec = rec.expect("processed at once");
    assert!(count(&rec, "actions_failed") == 1, "{rec:#?}");
    assert_eq!(on_departing_list(&w, &actor), 0);
    assert_eq!(
        w.open_items(FLOW).await,
        vec!["generic:msg_during_outage".to_string()]
    );

    w.sb().clear_faults();
    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(count(&run, "watchlist_adds"), 1);
    assert_eq!(on_departing_list(&w, &actor), 1);
    assert_eq!(watchlist_adds(&w), 1);
    assert_eq!(w.sb().actor(&actor).and_then(|a| a.end_date), Some(date));
    assert!(w.open_items(FLOW).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancellation_delivered_before_its_departure_keeps_the_person_off_the_watchlist() {
    let w = hr_world().await;
    let stays = w.seed_actor("actor-stays", "changed.mind@example.com");
    let date = date_in_days(30);
    let now = now_secs();
    let t_departure = riskflow::clock::rfc3339_of_ms((now - 7_200) * 1000);
    let t_cancel = riskflow::clock::rfc3339_of_ms((now - 3_600) * 1000);

    // HR decided the departure, then cancelled it; the cancellation arrives first.
    let cancel = json!({"event_type": "cancellation", "email": "changed.mind@example.com", "occurred_at": t_cancel})
        .to_string()
        .into_bytes();
    let (r1, rec1) = deliver(&w, "msg_cancel", now, &cancel).await;
    assert_eq!(r1.status.as_u16(), 202, "{}", r1.body);
    assert_eq!(rec1.map(|r| r.status), Some(RunStatus::Succeeded));
    let (r2, rec2) = deliver(
        &w,
        "msg_depart",
        now,
        &departure("changed.mind@example.com", &date, Some(&t_departure)),
    )
    .await;
    assert_eq!(r2.status.as_u16(), 202, "{}", r2.body);
    let rec2 = rec2.expect("processed at once");
    assert_eq!(count(&rec2, "hr_stale_facts"), 1, "{rec2:#?}");
    assert_eq!(count(&rec2, "watchlist_adds"), 0);

    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(on_departing_list(&w, &stays), 0);
    assert_eq!(watchlist_adds(&w), 0);
    assert_eq!(w.sb().actor(&stays).and_then(|a| a.end_date), None);
    assert!(w.open_items(FLOW).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_adp_queue_of_hire_garbage_and_terminate_is_fully_acknowledged_with_one_watchlist_add() {
    let w = World::start_with(Options {
        adp_mtls: true,
        ..Options::default()
    })
    .await;
    w.connect(ConnectionKind::Incydr, json!({})).await;
    w.connect(ConnectionKind::Adp, json!({})).await;
    let actor = w.seed_actor("actor-adp", "adp.leaver@example.com");
    let date = date_in_days(7);
    w.sb().add_adp_worker(AdpWorker {
        associate_oid: "G3TERMINATED00001".into(),
        worker_id: "W1001".into(),
        given_name: "Ada".into(),
        family_name: "Leaver".into(),
        business_email: Some("adp.leaver@example.com".into()),
        termination_date: Some(date.clone()),
        status_code: "T".into(),
        ..AdpWorker::default()
    });
    let mut hire = terminate_event("evt-hire-1", "G3NEWHIRE00000001", "W2002", &date);
    hire["events"][0]["eventNameCode"]["codeValue"] = json!("worker.hire");
    let sb = w.sb();
    let ids = [
        sb.push_adp_message(hire.to_string()),
        sb.push_adp_message("this is not an event notification {"),
        sb.push_adp_message(
            terminate_event("evt-term-1", "G3TERMINATED00001", "W1001", &date).to_string(),
        ),
    ];

    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(count(&run, "adp_messages"), 3);
    assert_eq!(count(&run, "adp_ignored"), 2);
    assert_eq!(count(&run, "watchlist_adds"), 1);
    assert_eq!(
        sb.adp_acks(),
        ids.to_vec(),
        "every message acknowledged, in order"
    );
    assert!(sb.adp_queue().is_empty());
    assert_eq!(watchlist_adds(&w), 1);
    assert_eq!(on_departing_list(&w, &actor), 1);
    assert_eq!(sb.actor(&actor).and_then(|a| a.end_date), Some(date));

    // Nothing is left: the next run reads an empty queue and adds nobody.
    let next = w.run(FLOW).await;
    assert_eq!(count(&next, "adp_messages"), 0);
    assert_eq!(watchlist_adds(&w), 1);
    assert!(w.open_items(FLOW).await.is_empty());
}

/// A BambooHR webhook (event-based format) for one employee, signed as BambooHR signs, at
/// `at_secs`; then processed at once, as the handlers do.
async fn bamboo_change(
    w: &World,
    employee_id: &str,
    at_secs: i64,
) -> (ApiResponse, Option<RunRecord>) {
    // RFC 3339 in UTC, whole seconds (`2026-12-04T17:00:00Z`), as BambooHR stamps both.
    let ts = riskflow::clock::rfc3339_of_ms(at_secs * 1000);
    let body = json!({
        "type": "employee.updated",
        "timestamp": ts,
        "data": {"companyId": "12345", "employeeId": employee_id, "changedFields": ["status"]},
    })
    .to_string();
    let sig = riskflow_sandbox::bamboohr_sign(
        riskflow_sandbox::creds::BAMBOOHR_WEBHOOK_KEY.as_bytes(),
        body.as_bytes(),
        &ts,
    );
    let mut h = http::HeaderMap::new();
    h.insert("X-BambooHR-Timestamp", ts.parse().unwrap());
    h.insert("X-BambooHR-Signature", sig.parse().unwrap());
    deliver_with(w, "bamboohr", &h, body.as_bytes()).await
}

fn bamboo_record(
    id: &str,
    status: &str,
    termination: &str,
) -> riskflow_sandbox::bamboohr::BambooEmployee {
    riskflow_sandbox::bamboohr::BambooEmployee {
        id: id.into(),
        fields: [
            ("workEmail", "pat.rehire@example.com"),
            ("status", status),
            ("terminationDate", termination),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rehired_bamboohr_employee_with_an_old_termination_date_comes_off_the_watchlist() {
    let w = hr_world().await;
    // Employee 0 stands for the API key's own record, which the connection check reads.
    w.sb()
        .add_bamboohr_employee(riskflow_sandbox::bamboohr::BambooEmployee {
            id: "0".into(),
            fields: [("firstName".to_string(), json!("Api"))]
                .into_iter()
                .collect(),
        });
    w.connect(ConnectionKind::Bamboohr, json!({})).await;
    let actor = w.seed_actor("actor-rehire", "pat.rehire@example.com");
    let left_on = date_in_days(-2);
    // Pat leaves: Inactive, terminated two days ago.
    w.sb()
        .add_bamboohr_employee(bamboo_record("901", "Inactive", &left_on));
    let (resp, rec) = bamboo_change(&w, "901", now_secs() - 60).await;
    assert_eq!(resp.status, 202, "{:?}", resp.body);
    assert_eq!(count(&rec.unwrap(), "watchlist_adds"), 1);
    assert_eq!(on_departing_list(&w, &actor), 1);

    // Pat is rehired: Active again, and BambooHR keeps the old termination date. That is a
    // cancellation (the connector's rule), so riskflow takes Pat off the list it put them on.
    w.sb()
        .add_bamboohr_employee(bamboo_record("901", "Active", &left_on));
    let (resp, rec) = bamboo_change(&w, "901", now_secs()).await;
    assert_eq!(resp.status, 202, "{:?}", resp.body);
    let rec = rec.unwrap();
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(count(&rec, "watchlist_adds"), 0);
    assert_eq!(
        on_departing_list(&w, &actor),
        0,
        "a rehire must not stay on the Departing watchlist: {rec:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Workday at scale: a 20,000-row report pulled from the sandbox, its snapshot in pages on
// DynamoDB (moto), and pulls that leave people out without reading them as cancellations.

const REPORT_PEOPLE: usize = 20_000;
const DAY_MS: i64 = 86_400_000;

/// Employee `i` of the report, as the sandbox serves the row.
fn report_row(i: usize) -> serde_json::Value {
    json!({"Employee_ID": format!("{i:06}"), "Email_-_Work": format!("p{i}@example.com"),
        "Termination_Date": "2030-01-31"})
}

/// A person who is not among the 20,000, with an Incydr actor.
fn newcomer(w: &World, n: u32) -> (serde_json::Value, String) {
    let email = format!("new{n}@example.com");
    let actor = w.seed_actor(&format!("actor-new{n}"), &email);
    (
        json!({"Employee_ID": format!("N{n}"), "Email_-_Work": email,
            "Termination_Date": "2030-02-28"}),
        actor,
    )
}

/// The report rows of employees `0..REPORT_PEOPLE` except `gone`, then `extra`.
fn report_without(gone: &[usize], extra: &[&serde_json::Value]) -> Vec<serde_json::Value> {
    (0..REPORT_PEOPLE)
        .filter(|i| !gone.contains(i))
        .map(report_row)
        .chain(extra.iter().map(|v| (*v).clone()))
        .collect()
}

/// The latest HR fact recorded about employee `i`.
async fn latest_fact(w: &World, email: &str) -> Option<riskflow::domain::HrEventKind> {
    w.store()
        .person(email, w.clock.now())
        .await
        .unwrap()
        .map(|p| p.latest.kind)
}

/// Pull the report once (a day after the last pull) and process what it recorded.
async fn pull(w: &World, rows: Vec<serde_json::Value>) -> RunRecord {
    w.clock.advance(DAY_MS);
    w.sb().set_workday_rows(rows);
    w.run(FLOW).await
}

fn errors_mention(run: &RunRecord, words: &[&str]) -> bool {
    run.errors
        .iter()
        .any(|e| words.iter().all(|w| e.contains(w)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_20000_row_workday_report_finds_its_cancellations_and_pulls_that_leave_people_out_cancel_nobody()
 {
    use riskflow::domain::HrEventKind::Cancellation;
    let started = Instant::now();
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({})).await;
    w.connect(ConnectionKind::Workday, json!({})).await;
    // The snapshot the previous pull of the 20,000 kept (in pages: one item would be ~3 MB).
    let kept: Vec<serde_json::Value> = (0..REPORT_PEOPLE)
        .map(|i| {
            let row = riskflow::connectors::workday::WorkdayRow {
                employee_id: format!("{i:06}"),
                email: format!("p{i}@example.com"),
                termination_date: "2030-01-31".parse().unwrap(),
                last_day: None,
                event_id: None,
                reason: None,
            };
            serde_json::to_value(riskflow::connectors::workday::KeptRow::from(row)).unwrap()
        })
        .collect();
    w.store()
        .put_report_snapshot("workday", None, &kept, w.clock.now())
        .await
        .unwrap();
    let (new1, actor1) = newcomer(&w, 1);
    let (new2, actor2) = newcomer(&w, 2);
    let (new3, actor3) = newcomer(&w, 3);

    // 1. Three people gone (cancelled), two new (departing), and employee 100's row malformed:
    //    reported by its number, and 100 is not cancelled.
    let mut malformed = report_row(100);
    malformed.as_object_mut().unwrap().remove("Email_-_Work");
    let run = pull(
        &w,
        report_without(&[1, 2, 3, 100], &[&new1, &new2, &malformed]),
    )
    .await;
    assert_eq!(count(&run, "workday_changes"), 5, "{run:#?}");
    assert_eq!(count(&run, "workday_rows_unreadable"), 1);
    assert!(
        errors_mention(
            &run,
            &["row 19999", "Email_-_Work", "employee 000100 is kept"]
        ),
        "{run:#?}"
    );
    assert!(count(&run, "workday_snapshot_pages") > 10, "{run:#?}");
    for i in [1, 2, 3] {
        assert_eq!(
            latest_fact(&w, &format!("p{i}@example.com")).await,
            Some(Cancellation)
        );
    }
    for i in [0, 4, 100] {
        assert_eq!(latest_fact(&w, &format!("p{i}@example.com")).await, None);
    }
    assert_eq!(
        (
            on_departing_list(&w, &actor1),
            on_departing_list(&w, &actor2)
        ),
        (1, 1)
    );

    // 2. `{}`: an empty report, but nobody is cancelled until the next pull agrees.
    w.sb().set_workday_empty_answer(true);
    let run = pull(&w, Vec::new()).await;
    assert_eq!(count(&run, "workday_changes"), 0, "{run:#?}");
    assert_eq!(count(&run, "workday_cancellations_held"), 19_999);
    assert!(
        errors_mention(&run, &["19999 people", "without 'Report_Entry'"]),
        "{run:#?}"
    );
    assert_eq!(latest_fact(&w, "p0@example.com").await, None);
    w.sb().set_workday_empty_answer(false);

    // 3. The report is back, fixed, without new2: only new2, missing from both, is cancelled.
    let run = pull(&w, report_without(&[1, 2, 3], &[&new1])).await;
    assert_eq!(count(&run, "workday_changes"), 1, "{run:#?}");
    assert!(run.errors.is_empty(), "{run:#?}");
    assert_eq!(
        (
            on_departing_list(&w, &actor1),
            on_departing_list(&w, &actor2)
        ),
        (1, 0)
    );
    assert_eq!(latest_fact(&w, "p100@example.com").await, None);

    // 4. 5,000 people gone (25 % > 20 %), new1 gone, a row without an employee id, new3 new:
    //    no cancellation at all; the departure is recorded.
    let gone: Vec<usize> = (10_000..15_000).chain([1, 2, 3]).collect();
    let no_id = json!({"Email_-_Work": "who@example.com", "Termination_Date": "2030-01-31"});
    let run = pull(&w, report_without(&gone, &[&new3, &no_id])).await;
    assert_eq!(count(&run, "workday_changes"), 1, "{run:#?}");
    assert_eq!(count(&run, "workday_cancellations_held"), 5_001);
    assert!(
        errors_mention(
            &run,
            &[
                "5001 people",
                "no readable employee id",
                "max_shrink_percent (20%)"
            ]
        ),
        "{run:#?}"
    );
    assert_eq!(
        on_departing_list(&w, &actor1),
        1,
        "new1 is not cancelled yet"
    );
    assert_eq!(on_departing_list(&w, &actor3), 1);

    // 5. The 5,000 are back, new1 is still gone: new1 is cancelled, once; new3 is not
    //    recorded again.
    let run = pull(&w, report_without(&[1, 2, 3], &[&new3])).await;
    assert_eq!(count(&run, "workday_changes"), 1, "{run:#?}");
    assert!(run.errors.is_empty(), "{run:#?}");
    assert_eq!(on_departing_list(&w, &actor1), 0);
    assert_eq!(on_departing_list(&w, &actor3), 1);
    assert_eq!(latest_fact(&w, "p10000@example.com").await, None);
    assert_eq!(watchlist_adds(&w), 3, "new1, new2, new3, once each");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "five pulls of 20,000 rows took {:?}",
        started.elapsed()
    );
}
