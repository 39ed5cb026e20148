//! departing-response end to end: sessions of people on Incydr's Departing watchlist put the
//! user in a low-permission Okta group, then open a Jira ticket, through the sandbox; state in
//! DynamoDB (moto).

use riskflow::domain::{ConnectionKind, Flow, RunStatus};
use riskflow_e2e::{DEPARTING_GROUP, World, count, dedup_label, total};
use riskflow_sandbox::okta::OktaUserSeed;
use riskflow_sandbox::{FaultKind, FaultRule};
use serde_json::json;
use std::time::Duration;

const FLOW: Flow = Flow::DepartingResponse;
const GROUP_ADD: &str = "/api/v1/groups/{group_id}/users/{user_id}";
/// A little past the Jira consistency horizon (10 minutes by default).
const PAST_HORIZON_MS: i64 = 10 * 60_000 + 1_000;

async fn departing_world(okta: serde_json::Value) -> World {
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({})).await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    // The group must exist before Okta is connected: the connection checks it is manageable.
    w.seed_departing_people("seed", 0);
    w.connect(ConnectionKind::Okta, okta).await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_okta_fails_once_the_retry_adds_the_user_once_and_the_ticket_exists_once() {
    let w = departing_world(json!({})).await;
    let people = w.seed_departing_people("dep", 1);
    let (session, email) = &people[0];
    let user = w.sb().okta_user_id(email).expect("the Okta user");
    w.sb().add_fault(
        FaultRule::new(
            "okta",
            FaultKind::Error {
                status: 503,
                retry_after: None,
            },
        )
        .method("PUT")
        .path_prefix("/api/v1/groups/")
        .max_hits(1),
    );

    let runs = w
        .run_until_settled(FLOW, 5, PAST_HORIZON_MS, Duration::ZERO)
        .await;

    assert_eq!(w.sb().fault_hits(), vec![1], "the group add failed once");
    assert_eq!(
        w.sb().count("okta", "PUT", GROUP_ADD),
        2,
        "the failed add and its retry"
    );
    assert_eq!(total(&runs, "okta_group_adds"), 1);
    let members = w.sb().okta_group_member_ids(DEPARTING_GROUP);
    assert_eq!(
        members.iter().filter(|m| *m == &user).count(),
        1,
        "{members:?}"
    );
    assert_eq!(members.len(), 1);
    w.assert_one_jira_ticket_each(FLOW, std::slice::from_ref(session));
    let ticket = &w.jira_tickets(FLOW)[&dedup_label(FLOW, session)][0];
    let description = ticket.description.to_string();
    assert!(
        description.contains("was added to the group"),
        "the ticket tells the Okta action: {description}"
    );
    assert_eq!(w.sb().jira_issues().len(), 1);

    let again = w.run(FLOW).await;
    assert_eq!(count(&again, "okta_group_adds"), 0);
    assert_eq!(w.sb().count("okta", "PUT", GROUP_ADD), 2);
    assert_eq!(w.sb().jira_issues().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_departing_sessions_with_a_cap_of_ten_per_run_make_exactly_ten_group_adds() {
    let w = departing_world(json!({"cap_per_run": 10, "cap_per_day": 100})).await;
    let people = w.seed_departing_people("many", 50);
    let sessions: Vec<String> = people.iter().map(|(s, _)| s.clone()).collect();

    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(count(&run, "sessions_scanned"), 50);
    assert_eq!(count(&run, "okta_group_adds"), 10);
    assert_eq!(count(&run, "cap_reached"), 40);
    assert_eq!(w.sb().count("okta", "PUT", GROUP_ADD), 10);
    assert_eq!(w.sb().okta_group_member_ids(DEPARTING_GROUP).len(), 10);
    // Every session still gets its ticket, saying what happened in Okta.
    w.assert_one_jira_ticket_each(FLOW, &sessions);
    let capped = w
        .jira_tickets(FLOW)
        .values()
        .filter(|t| {
            t[0].description
                .to_string()
                .contains("cap of 10 group adds per run")
        })
        .count();
    assert_eq!(capped, 40);

    // The cap's outcome is recorded: a later run does not add the rest behind the alarm's back.
    let next = w.run(FLOW).await;
    assert_eq!(next.status, RunStatus::Succeeded, "{next:#?}");
    assert_eq!(count(&next, "okta_group_adds"), 0);
    assert_eq!(w.sb().count("okta", "PUT", GROUP_ADD), 10);
    assert_eq!(w.sb().jira_issues().len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_whose_okta_login_is_not_their_email_is_found_by_email_and_contained() {
    let w = departing_world(json!({})).await;
    let people = w.seed_departing_people_with("alias", 1, |email| {
        vec![OktaUserSeed::with_email(
            &format!("{}@corp.example", email.replace('@', ".")),
            email,
        )]
    });
    let (session, email) = &people[0];

    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(count(&run, "okta_group_adds"), 1, "{run:#?}");
    let login = format!("{}@corp.example", email.replace('@', "."));
    let user = w.sb().okta_user_id(&login).expect("the Okta user");
    assert_eq!(w.sb().okta_group_member_ids(DEPARTING_GROUP), vec![user]);
    w.assert_one_jira_ticket_each(FLOW, std::slice::from_ref(session));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_okta_users_sharing_the_email_contain_nobody_and_the_audit_says_why() {
    let w = departing_world(json!({})).await;
    let people = w.seed_departing_people_with("shared", 1, |email| {
        vec![
            OktaUserSeed::with_email(&format!("one.{email}.login"), email),
            OktaUserSeed::with_email(&format!("two.{email}.login"), &email.to_uppercase()),
        ]
    });
    let (session, email) = &people[0];

    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(count(&run, "okta_group_adds"), 0, "{run:#?}");
    assert_eq!(count(&run, "okta_users_not_unique"), 1, "{run:#?}");
    assert_eq!(w.sb().count("okta", "PUT", GROUP_ADD), 0);
    assert!(w.sb().okta_group_member_ids(DEPARTING_GROUP).is_empty());
    let audit: Vec<String> = w
        .audit_entries()
        .await
        .into_iter()
        .filter(|e| e.action == "okta_group_add" && &e.target == email)
        .map(|e| e.result)
        .collect();
    assert_eq!(audit, ["skipped: no unique Okta user (2 matches)"]);
    w.assert_one_jira_ticket_each(FLOW, std::slice::from_ref(session));
    let ticket = &w.jira_tickets(FLOW)[&dedup_label(FLOW, session)][0];
    let description = ticket.description.to_string();
    assert!(
        description.contains(&format!("no unique Okta user for {email} (2 matches)")),
        "the ticket says why nobody was contained: {description}"
    );
}
