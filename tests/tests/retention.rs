//! Exactly-once over months: the clock moves 400 days forward in 30-day steps, DynamoDB's TTL
//! deleting every expired item between runs (the emulator never deletes; the world does it for
//! it), with a session in `OPEN_NEW_DATA` that every scan returns, a 365-day lookback, a session
//! that only a backfill or new data brings back once its item is gone, and an admin who takes
//! the contained users out of the Okta group. Every session keeps exactly one ticket per sink,
//! and nobody is added to the group a second time.

use riskflow::domain::{ConnectionKind, Flow, RunStatus, Step};
use riskflow_e2e::{DEPARTING_GROUP, World, count, dedup_label, session_seed};
use riskflow_sandbox::SeedData;
use riskflow_sandbox::incydr::TouchSession;
use riskflow_sandbox::okta::OktaMembership;
use serde_json::json;
use std::time::Instant;

const DAY: i64 = 86_400_000;
const GROUP_ADD: &str = "/api/v1/groups/{group_id}/users/{user_id}";

/// Runs `flow` after every 30 days (the last step 10) up to 400 days on, TTL deleting expired
/// items before each run; every run succeeds, creates no ticket and adds nobody to a group.
/// Returns how many items the TTL deleted.
async fn four_hundred_days_of_runs(w: &World, flow: Flow) -> u64 {
    let mut deleted = 0;
    let mut day = 0;
    while day < 400 {
        let step = (400 - day).min(30);
        day += step;
        deleted += w.pass_time(step * DAY).await;
        let rec = w.run(flow).await;
        assert_eq!(rec.status, RunStatus::Succeeded, "day {day}: {rec:#?}");
        assert_eq!(count(&rec, "tickets_created"), 0, "day {day}: {rec:#?}");
        assert_eq!(count(&rec, "okta_group_adds"), 0, "day {day}: {rec:#?}");
    }
    deleted
}

/// Whether the emulator still stores the work item (expired or not).
async fn stored(w: &World, flow: Flow, session: &str) -> bool {
    let pk = format!("item#{}#{session}", flow.as_str());
    w.store()
        .backend()
        .get(&pk, "state")
        .await
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hundred_days_of_expiring_items_leave_one_ticket_per_session_in_each_sink() {
    const FLOW: Flow = Flow::AlertTickets;
    let w = World::start().await;
    w.connect(
        ConnectionKind::Incydr,
        json!({"sink": "both", "lookback_days": 365}),
    )
    .await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    w.connect(ConnectionKind::Servicenow, json!({})).await;
    // Began an hour ago and has new data: the unbounded OPEN_NEW_DATA query returns it always.
    let open = w.seed_alert_sessions("open", 1).remove(0);
    w.sb()
        .touch_session(&open, TouchSession::default())
        .expect("the session exists");
    // Began 200 days ago: in the lookback for 165 more days, then only a backfill returns it.
    let old = "old-session".to_string();
    let began = riskflow::clock::now_ms() - 200 * DAY;
    w.sb().seed(SeedData {
        sessions: vec![session_seed(
            &old,
            "actor-open",
            "open@example.com",
            began,
            true,
        )],
        ..SeedData::default()
    });

    let first = w.run(FLOW).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:#?}");
    assert_eq!(count(&first, "tickets_created"), 4, "{first:#?}");

    let deleted = four_hundred_days_of_runs(&w, FLOW).await;
    assert!(deleted > 0, "the TTL deleted expired items");
    assert!(
        w.store()
            .item(FLOW, &open, w.clock.now())
            .await
            .unwrap()
            .is_some(),
        "the item of a session every scan sees never expires"
    );
    assert!(
        !stored(&w, FLOW, &old).await,
        "the item of the session no scan saw for months was deleted"
    );

    // A backfill over the old range returns both sessions; the one without an item began
    // before `now − retention`: its tickets are searched for and found, not created again.
    let back = w
        .env
        .backfill(
            began - 10 * DAY,
            riskflow::clock::now_ms() + DAY,
            false,
            Instant::now() + w.run_budget,
        )
        .await;
    assert_eq!(back.status, RunStatus::Succeeded, "{back:#?}");
    assert_eq!(count(&back, "sessions_scanned"), 2, "{back:#?}");
    assert_eq!(count(&back, "tickets_created"), 0, "{back:#?}");
    assert_eq!(count(&back, "tickets_found_after_expiry"), 2, "{back:#?}");
    let again = w.run(FLOW).await;
    assert_eq!(count(&again, "tickets_created"), 0, "{again:#?}");

    let sessions = [open.clone(), old.clone()];
    w.assert_one_jira_ticket_each(FLOW, &sessions);
    w.assert_items_record_their_jira_tickets(FLOW, &sessions, w.clock.now())
        .await;
    let snow = w.snow_incidents_by_correlation();
    assert_eq!(snow.len(), 2, "{snow:?}");
    for id in &sessions {
        assert_eq!(snow.get(&dedup_label(FLOW, id)), Some(&1), "{id}: {snow:?}");
    }
    assert_eq!(w.sb().count("jira", "POST", "/rest/api/3/issue"), 2);
    assert_eq!(
        w.sb()
            .count("servicenow", "POST", "/api/now/{version}/table/{table}"),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hundred_days_of_expiring_items_add_nobody_to_the_group_twice_after_an_admin_removed_them()
 {
    const FLOW: Flow = Flow::DepartingResponse;
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({"lookback_days": 365}))
        .await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    let people = w.seed_departing_people("dep", 2);
    w.connect(ConnectionKind::Okta, json!({})).await;
    let (open, _) = &people[0];
    let (old, old_email) = &people[1];
    w.sb()
        .touch_session(open, TouchSession::default())
        .expect("the session exists");
    // The second person's session began 200 days ago.
    w.sb().add_session(session_seed(
        old,
        "actor-dep-001",
        old_email,
        riskflow::clock::now_ms() - 200 * DAY,
        true,
    ));

    let first = w.run(FLOW).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:#?}");
    assert_eq!(count(&first, "okta_group_adds"), 2, "{first:#?}");
    assert_eq!(w.sb().okta_group_member_ids(DEPARTING_GROUP).len(), 2);
    // An admin takes both out of the group: no later run may put them back.
    for (_, email) in &people {
        w.sb().remove_okta_membership(OktaMembership {
            group_id: DEPARTING_GROUP.into(),
            user: email.clone(),
        });
    }

    let deleted = four_hundred_days_of_runs(&w, FLOW).await;
    assert!(deleted > 0, "the TTL deleted expired items");
    assert!(
        !stored(&w, FLOW, old).await,
        "the old session's item was deleted"
    );

    // The old session gains new data: OPEN_NEW_DATA returns it without its item.
    w.sb()
        .touch_session(old, TouchSession::default())
        .expect("the session exists");
    let back = w.run(FLOW).await;
    assert_eq!(back.status, RunStatus::Succeeded, "{back:#?}");
    assert_eq!(count(&back, "tickets_found_after_expiry"), 1, "{back:#?}");
    assert_eq!(count(&back, "tickets_created"), 0, "{back:#?}");
    assert_eq!(count(&back, "okta_group_adds"), 0, "{back:#?}");

    assert_eq!(w.sb().count("okta", "PUT", GROUP_ADD), 2, "one add each");
    assert!(w.sb().okta_group_member_ids(DEPARTING_GROUP).is_empty());
    w.assert_one_jira_ticket_each(FLOW, &[open.clone(), old.clone()]);
    let item = w
        .store()
        .item(FLOW, old, w.clock.now())
        .await
        .unwrap()
        .expect("the old session has an item again");
    let contained = item
        .step_outcome(Step::Contain(ConnectionKind::Okta))
        .map(|o| o["summary"].to_string())
        .unwrap_or_default();
    assert!(contained.contains("not repeated"), "{item:#?}");
}
