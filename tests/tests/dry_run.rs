//! Dry runs of the three jobs against the sandbox: every read happens, nothing outside
//! changes, nothing is claimed, checkpointed or acknowledged, and the run record holds the
//! plan; a real run afterwards does all the work.

use riskflow::domain::{ConnectionKind, Flow, RunStatus};
use riskflow_e2e::{
    DEPARTING_GROUP, Options, World, count, date_in_days, now_secs, signed_headers,
};
use riskflow_sandbox::adp::{AdpWorker, terminate_event};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dry_run_changes_nothing_in_any_system_and_reports_its_plan_and_a_real_run_then_does_the_work()
 {
    let w = World::start_with(Options {
        adp_mtls: true,
        ..Options::default()
    })
    .await;
    w.connect(ConnectionKind::Incydr, json!({"sink": "both"}))
        .await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    w.connect(ConnectionKind::Servicenow, json!({})).await;
    w.seed_departing_people("seed", 0);
    w.connect(ConnectionKind::Okta, json!({})).await;
    w.connect(ConnectionKind::Adp, json!({})).await;
    w.connect(ConnectionKind::Generic, json!({})).await;

    // Work for every job: 20 alert sessions, 3 departing employees with alerts, a queued ADP
    // termination and a webhook delivery recorded but not processed yet.
    let alerts = w.seed_alert_sessions("dry", 20);
    let departing = w.seed_departing_people("leaving", 3);
    let date = date_in_days(9);
    let adp_actor = w.seed_actor("actor-adp-dry", "adp.dry@example.com");
    w.sb().add_adp_worker(AdpWorker {
        associate_oid: "G3DRYRUN000000001".into(),
        worker_id: "W3003".into(),
        business_email: Some("adp.dry@example.com".into()),
        termination_date: Some(date.clone()),
        status_code: "T".into(),
        ..AdpWorker::default()
    });
    w.sb().push_adp_message(
        terminate_event("evt-dry-1", "G3DRYRUN000000001", "W3003", &date).to_string(),
    );
    let hook_actor = w.seed_actor("actor-hook-dry", "hook.dry@example.com");
    let body =
        json!({"event_type": "departure", "email": "hook.dry@example.com", "departure_date": date})
            .to_string()
            .into_bytes();
    let accepted = w
        .env
        .webhook_receiver()
        .receive(
            "generic",
            &signed_headers("msg_dry_1", now_secs(), &body),
            &body,
        )
        .await;
    assert_eq!(accepted.response.status.as_u16(), 202);
    let pending_before = w
        .store()
        .item(Flow::HrDepartures, "generic:msg_dry_1", w.clock.now())
        .await
        .unwrap();

    let state_before = w.sb().snapshot();
    let changes_before = w.changing_requests();
    let reads_before = w.sb().counts().system_total("incydr");

    let mut plans = Vec::new();
    for flow in [
        Flow::AlertTickets,
        Flow::DepartingResponse,
        Flow::HrDepartures,
    ] {
        let rec = w.dry_run(flow).await;
        assert!(rec.dry_run);
        assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
        assert!(
            !rec.plan.is_empty(),
            "{flow}: the run record holds the plan"
        );
        let stored = w
            .store()
            .list_runs(flow, 1, None, w.clock.now())
            .await
            .unwrap();
        assert_eq!(
            stored.items.first().map(|r| &r.plan),
            Some(&rec.plan),
            "{flow}: plan stored"
        );
        plans.push(rec);
    }
    let [alert_plan, departing_plan, hr_plan] = [&plans[0], &plans[1], &plans[2]];
    assert_eq!(
        alert_plan.plan.len(),
        46,
        "23 sessions × Jira and ServiceNow: {:#?}",
        alert_plan.plan
    );
    assert_eq!(
        alert_plan
            .plan
            .iter()
            .filter(|l| l.starts_with("create a ticket in jira"))
            .count(),
        23
    );
    assert_eq!(departing_plan.plan.len(), 3, "{:#?}", departing_plan.plan);
    assert!(
        departing_plan
            .plan
            .iter()
            .all(|l| l.contains(DEPARTING_GROUP))
    );
    assert_eq!(hr_plan.plan.len(), 2, "{:#?}", hr_plan.plan);
    assert!(hr_plan.plan.iter().any(|l| l.contains("evt-dry-1")));
    assert!(hr_plan.plan.iter().any(|l| l.contains("generic:msg_dry_1")));

    // Nothing changed outside, and every read happened.
    assert_eq!(
        w.sb().snapshot(),
        state_before,
        "the sandbox's created state is unchanged"
    );
    assert_eq!(
        w.changing_requests(),
        changes_before,
        "no request to a changing route"
    );
    assert!(w.sb().counts().system_total("incydr") > reads_before);
    // Nothing claimed, checkpointed, acknowledged or locked.
    let now = w.clock.now();
    let keys: Vec<String> = alerts
        .iter()
        .chain(departing.iter().map(|(s, _)| s))
        .cloned()
        .collect();
    for flow in [Flow::AlertTickets, Flow::DepartingResponse] {
        assert!(
            w.store().items(flow, &keys, now).await.unwrap().is_empty(),
            "{flow}: no item"
        );
        assert!(
            w.store().scan_mark(flow, now).await.unwrap().is_none(),
            "{flow}: no scan mark"
        );
    }
    for flow in Flow::ALL {
        let lock = w
            .store()
            .backend()
            .get(&format!("lock#{}", flow.as_str()), "lease")
            .await
            .unwrap();
        assert!(lock.is_none(), "{flow}: no lock taken");
    }
    assert!(
        !w.store()
            .delivery_seen("adp", "evt-dry-1", now)
            .await
            .unwrap()
    );
    let pending_after = w
        .store()
        .item(Flow::HrDepartures, "generic:msg_dry_1", now)
        .await
        .unwrap();
    assert_eq!(
        pending_after, pending_before,
        "the pending webhook item is untouched"
    );

    // Real runs do everything the plans said.
    let hr = w
        .run_until_settled(Flow::HrDepartures, 3, 0, Duration::ZERO)
        .await;
    let at = w
        .run_until_settled(Flow::AlertTickets, 3, 0, Duration::ZERO)
        .await;
    let dr = w
        .run_until_settled(Flow::DepartingResponse, 3, 0, Duration::ZERO)
        .await;
    assert_eq!(count(&at[0], "tickets_created"), 46);
    assert_eq!(count(&dr[0], "okta_group_adds"), 3);
    assert_eq!(count(&hr[0], "watchlist_adds"), 2);
    let mut alert_sessions = alerts.clone();
    alert_sessions.extend(departing.iter().map(|(s, _)| s.clone()));
    w.assert_one_jira_ticket_each(Flow::AlertTickets, &alert_sessions);
    let departing_sessions: Vec<String> = departing.iter().map(|(s, _)| s.clone()).collect();
    w.assert_one_jira_ticket_each(Flow::DepartingResponse, &departing_sessions);
    assert_eq!(w.sb().jira_issues().len(), 26);
    assert_eq!(w.sb().servicenow_incidents().len(), 23);
    assert_eq!(w.sb().okta_group_member_ids(DEPARTING_GROUP).len(), 3);
    assert_eq!(w.sb().adp_acks().len(), 1);
    let listed = w.sb().watchlist_actor_ids("DEPARTING_EMPLOYEE");
    assert!(
        listed.contains(&adp_actor) && listed.contains(&hook_actor),
        "{listed:?}"
    );
}
