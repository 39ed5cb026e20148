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

/// `GET /containments?status=…` through the API handler.
async fn containments(w: &World, status: &str) -> Vec<serde_json::Value> {
    let mut req = riskflow::api::ApiRequest {
        method: http::Method::GET,
        path: "/containments".into(),
        query: Default::default(),
        headers: http::HeaderMap::new(),
        body: Default::default(),
        principal: "analyst".into(),
    };
    req.query.insert("status".into(), status.into());
    let r = w.api.handle(req).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["containments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `POST /containments/{id}/undo` through the API handler; its status and body.
async fn request_undo(w: &World, id: &str) -> (u16, serde_json::Value) {
    let r = w
        .api
        .handle(riskflow::api::ApiRequest {
            method: http::Method::POST,
            path: format!("/containments/{id}/undo"),
            query: Default::default(),
            headers: http::HeaderMap::new(),
            body: Default::default(),
            principal: "analyst".into(),
        })
        .await;
    (r.status.as_u16(), r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contain_for_days_releases_each_person_once_a_day_later_and_a_prior_member_never() {
    let w = departing_world(json!({"contain_for_days": 1})).await;
    let people = w.seed_departing_people("lim", 3);
    // The third was in the group before riskflow acted.
    let prior = w.sb().okta_user_id(&people[2].1).expect("the Okta user");
    w.sb()
        .add_okta_membership(riskflow_sandbox::okta::OktaMembership {
            group_id: DEPARTING_GROUP.into(),
            user: prior.clone(),
        });
    let rec = w.run(FLOW).await;
    assert_eq!(count(&rec, "okta_group_adds"), 2, "{rec:#?}");
    assert_eq!(containments(&w, "open").await.len(), 2);
    let closed = containments(&w, "closed").await;
    assert_eq!(closed.len(), 1, "{closed:#?}");
    assert_eq!(closed[0]["status"], "not_reversible");
    let (status, body) = request_undo(&w, closed[0]["id"].as_str().unwrap()).await;
    assert_eq!(status, 409, "{body}");

    // Half a day: nothing is due.
    w.pass_time(12 * 3_600_000).await;
    w.run(FLOW).await;
    assert_eq!(w.sb().count("okta", "DELETE", GROUP_ADD), 0);
    // A day and a minute after the adds, both are removed, once.
    w.pass_time(12 * 3_600_000 + 60_000).await;
    let rec = w.run(FLOW).await;
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(count(&rec, "okta_group_removes"), 2, "{rec:#?}");
    assert_eq!(
        w.sb().okta_group_member_ids(DEPARTING_GROUP),
        vec![prior.clone()]
    );
    w.run(FLOW).await;
    assert_eq!(w.sb().count("okta", "DELETE", GROUP_ADD), 2, "never again");
    assert!(containments(&w, "open").await.is_empty());
    let removed: Vec<_> = w
        .audit_entries()
        .await
        .into_iter()
        .filter(|a| a.action == "okta_group_remove")
        .collect();
    assert_eq!(removed.len(), 2, "{removed:#?}");
    assert!(
        removed
            .iter()
            .all(|a| a.result == "ok" && a.reason.contains("time limit of 1 days"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_undo_in_a_group_an_okta_rule_assigns_to_removes_nobody_and_excludes_nobody() {
    let w = departing_world(json!({})).await;
    let people = w.seed_departing_people("rule", 1);
    w.run(FLOW).await;
    let user = w.sb().okta_user_id(&people[0].1).expect("the Okta user");
    // An admin points a group rule at the containment group, matching this person too.
    let rule = w
        .sb()
        .add_okta_group_rule(riskflow_sandbox::okta::OktaGroupRuleSeed {
            name: "Contractors".into(),
            group_ids: vec![DEPARTING_GROUP.into()],
            users: vec![user.clone()],
            ..Default::default()
        });
    let open = containments(&w, "open").await;
    assert_eq!(open.len(), 1, "{open:#?}");
    let (status, body) = request_undo(&w, open[0]["id"].as_str().unwrap()).await;
    assert_eq!(status, 202, "{body}");
    let rec = w.run(FLOW).await;
    assert_eq!(count(&rec, "containments_kept"), 1, "{rec:#?}");
    assert_eq!(w.sb().count("okta", "DELETE", GROUP_ADD), 0);
    assert!(w.sb().okta_rule_exclusions(&rule).is_empty());
    assert_eq!(w.sb().okta_group_member_ids(DEPARTING_GROUP), vec![user]);
    let kept = containments(&w, "closed").await;
    assert_eq!(kept[0]["status"], "kept");
    assert!(
        kept[0]["closed"]["result"]
            .as_str()
            .unwrap()
            .contains("group rule(s) Contractors"),
        "{kept:#?}"
    );
}
