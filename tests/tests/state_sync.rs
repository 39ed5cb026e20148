//! state-sync end to end, ticket → session: analysts resolve and reopen the tickets alert-tickets
//! opened, in the sandbox's Jira (workflows with resolution screens) and ServiceNow (incident
//! life cycle with its data policy); each session takes the mapped state once, with one note
//! linking its ticket, and a reopened ticket reopens its session once. State in DynamoDB (moto).

use riskflow::domain::{ConnectionKind, Flow, RunStatus};
use riskflow_e2e::{World, count};
use riskflow_sandbox::jira::JiraAnalystTransition;
use serde_json::json;
use std::collections::BTreeMap;

const SYNC: Flow = Flow::StateSync;

/// Each session's (state, notes) in the sandbox's Incydr.
fn sessions(w: &World) -> BTreeMap<String, (String, Vec<String>)> {
    w.sb()
        .sessions()
        .into_iter()
        .map(|s| {
            let id = s.session_id.clone();
            let state = s
                .states
                .iter()
                .max_by_key(|e| e.source_timestamp)
                .map(|e| e.state_v2.clone().unwrap_or_else(|| e.state.clone()))
                .unwrap_or_else(|| "OPEN".into());
            let notes = s.notes.iter().map(|n| n.content.clone()).collect();
            (id, (state, notes))
        })
        .collect()
}

fn analyst(to: &str, resolution: Option<&str>) -> JiraAnalystTransition {
    JiraAnalystTransition {
        to_status: to.into(),
        resolution: resolution.map(String::from),
        comment: None,
        author: "analyst-1".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resolved_jira_tickets_close_their_sessions_as_mapped_once_and_a_reopened_one_reopens() {
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({"sink": "jira"}))
        .await;
    w.connect(
        ConnectionKind::Jira,
        json!({"session_states": "Not a bug=CLOSED_FP, Done=CLOSED_TP"}),
    )
    .await;
    let ids = w.seed_alert_sessions("sync", 20);
    let rec = w.run(Flow::AlertTickets).await;
    assert_eq!(count(&rec, "tickets_created"), 20, "{rec:#?}");
    let issues = w.sb().jira_issues();
    // Half not a bug, a quarter done, a quarter won't do (unmapped: plain CLOSED).
    for (i, issue) in issues.iter().enumerate() {
        let res = match i % 4 {
            0 | 1 => "Not a bug",
            2 => "Done",
            _ => "Won't Do",
        };
        w.sb()
            .jira_analyst_transition(&issue.key, &analyst("Done", Some(res)))
            .unwrap();
    }
    let rec = w.run(SYNC).await;
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(count(&rec, "sessions_closed"), 20, "{rec:#?}");
    assert_eq!(count(&rec, "session_notes"), 20, "{rec:#?}");
    let by_session = sessions(&w);
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let (state, notes) = &by_session[id];
        *states.entry(state.clone()).or_default() += 1;
        assert_eq!(notes.len(), 1, "{id}: {notes:?}");
        assert!(notes[0].contains("in Jira SEC-"), "{notes:?}");
    }
    assert_eq!(
        states,
        BTreeMap::from([
            ("CLOSED".to_string(), 5),
            ("CLOSED_FP".to_string(), 10),
            ("CLOSED_TP".to_string(), 5)
        ])
    );
    // Again: nothing changes, nothing is noted twice.
    let rec = w.run(SYNC).await;
    assert_eq!(count(&rec, "sessions_closed"), 0, "{rec:#?}");
    assert_eq!(count(&rec, "session_notes"), 0, "{rec:#?}");
    assert_eq!(
        w.sb().count("incydr", "POST", "/v1/sessions/change-state"),
        3
    );

    // An analyst reopens one ticket: its session is open again, once.
    let first = &issues[0];
    w.sb()
        .jira_analyst_transition(&first.key, &analyst("To Do", None))
        .unwrap();
    let rec = w.run(SYNC).await;
    assert_eq!(count(&rec, "sessions_reopened"), 1, "{rec:#?}");
    let reopened: Vec<_> = sessions(&w)
        .into_iter()
        .filter(|(_, (s, _))| s == "OPEN")
        .collect();
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    assert_eq!(reopened[0].1.1.len(), 2, "a close note and a reopen note");
    let rec = w.run(SYNC).await;
    assert_eq!(count(&rec, "sessions_reopened"), 0, "{rec:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resolved_servicenow_incidents_close_their_sessions_by_close_code() {
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({"sink": "servicenow"}))
        .await;
    w.connect(
        ConnectionKind::Servicenow,
        json!({"session_states": "Solution provided=CLOSED_TP"}),
    )
    .await;
    let ids = w.seed_alert_sessions("snow", 2);
    w.run(Flow::AlertTickets).await;
    let incidents = w.snow_incidents_by_correlation();
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    for (i, id) in ids.iter().enumerate() {
        let cid = riskflow_e2e::dedup_label(Flow::AlertTickets, id);
        let code = if i == 0 {
            "Solution provided"
        } else {
            "Duplicate"
        };
        let update = riskflow_sandbox::servicenow::SnowAnalystUpdate {
            fields: serde_json::from_value(json!({
                "state": "6", "close_code": code, "close_notes": "checked"
            }))
            .unwrap(),
            user: "analyst.one".into(),
            admin: false,
        };
        let number = w
            .sb()
            .servicenow_incidents()
            .into_iter()
            .find(|inc| inc.fields.get("correlation_id") == Some(&cid))
            .expect("the incident")
            .number;
        w.sb().servicenow_analyst_update(&number, &update).unwrap();
    }
    let rec = w.run(SYNC).await;
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    assert_eq!(count(&rec, "sessions_closed"), 2, "{rec:#?}");
    let by_session = sessions(&w);
    assert_eq!(by_session[&ids[0]].0, "CLOSED_TP");
    assert_eq!(by_session[&ids[1]].0, "CLOSED", "unmapped close code");
    assert!(
        by_session[&ids[0]].1[0].contains("by analyst.one"),
        "{:?}",
        by_session[&ids[0]]
    );
}
