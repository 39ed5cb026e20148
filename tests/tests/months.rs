//! Exactly-once over months: 200 simulated days on the world's test clock, state in DynamoDB
//! (moto), DynamoDB's TTL deleting every expired item before each day of runs (the emulator
//! never deletes; the world does it for it). The schedule runs every day for the first six
//! days and the last five, every twelfth day between (a run costs about 170 DynamoDB requests
//! and the emulator serves them one at a time, so 26 days of runs keep the test near a minute).
//!
//! Each day of runs, as the schedule would: the connections are re-tested (the daily re-test
//! path; some days one system answers with a 503 or hangs past the verification budget), HR
//! facts arrive (signed generic webhooks: departures, cancellations, facts older than the
//! person's latest, redeliveries, a departure and a cancellation about one person delivered at
//! once; Workday report rows appear, change date and vanish), new alert sessions appear (some of
//! people on the Departing watchlist), some gain new data (one 195 days old, its items long
//! expired), an admin takes a contained user out of the Okta group, and hr-departures,
//! alert-tickets and departing-response run, on days followed by another day of runs with
//! one-off transient vendor faults (503s, dropped connections, objects stored and their answers
//! lost).
//!
//! Every day: no connection is left `verify_failed` by a transient answer, and no flow is
//! skipped. On the first day of runs after day 100 and at the end, with the flows settled,
//! every invariant is checked against the fakes' state: one ticket per session per sink,
//! nobody added to the Okta group twice (nor again after the admin took them out), the
//! Departing watchlist and its end dates as the latest HR fact per person says, and every
//! watchlist, Okta, ticket and comment action audited exactly once (audit entries against the
//! fakes' state and request counts).
//!
//! Deterministic in what it does (a seeded RNG picks every event, each fault rule fires once,
//! no sleeps), though the two concurrent HR deliveries race freely.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use riskflow::api::connections::{ConnectionsApi, RunStarter};
use riskflow::domain::{AuditEntry, ConnectionKind, ConnectionStatus, Flow, ItemStatus, RunStatus};
use riskflow_e2e::{DEPARTING_GROUP, World, count, dedup_label, session_seed, signed_headers};
use riskflow_sandbox::incydr::{Actor, TouchSession, WatchlistSeed};
use riskflow_sandbox::okta::{OktaGroupSeed, OktaMembership, OktaUserSeed};
use riskflow_sandbox::{FaultConfig, FaultKind, FaultRule, SeedData};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DAY: i64 = 86_400_000;
const DAYS: i64 = 200;
/// The invariants are checked on the first day on or after each multiple of this.
const CHECK_EVERY: i64 = 100;

/// The day after `day` on which the schedule runs: every day in the first six days and the
/// last five, every twelfth day between (days the schedule missed, as an outage would make
/// it: the Jira horizon, the 7-day lookback and every lease pass in between; see
/// [`flow_faults`]), so 200 days cost 26 days of runs (each costs about 170 DynamoDB requests,
/// and the emulator serves them one at a time).
fn next_day(day: i64) -> i64 {
    match day {
        6..186 => day + 12,
        186 => 196,
        _ => day + 1,
    }
}
/// A little past the Jira consistency horizon (10 minutes by default).
const PAST_HORIZON_MS: i64 = 10 * 60_000 + 1_000;
const WATCHLIST: &str = "wl-departing-months";
const ADD_PATH: &str = "/v2/watchlists/wl-departing-months/included-actors/add";
const REMOVE_PATH: &str = "/v2/watchlists/wl-departing-months/included-actors/delete";
const ADD_ROUTE: &str = "/v2/watchlists/{watchlist_id}/included-actors/add";
const REMOVE_ROUTE: &str = "/v2/watchlists/{watchlist_id}/included-actors/delete";
/// Scripted incidents, on top of the random ones (no random flow fault those days): on
/// `LOST_TICKET_DAY` a departing employee's session gets its departing-response Jira ticket
/// created and the answer lost; on `LOST_ADD_DAY` a departure's watchlist add is made and its
/// answer lost, and a later cancellation of the same person arrives before the departure's
/// retry.
const LOST_TICKET_DAY: i64 = 2;
const LOST_ADD_DAY: i64 = 3;

/// Systems the daily re-test is answered transiently for, some days.
const RETESTED: [(&str, ConnectionKind); 5] = [
    ("incydr", ConnectionKind::Incydr),
    ("jira", ConnectionKind::Jira),
    ("servicenow", ConnectionKind::Servicenow),
    ("okta", ConnectionKind::Okta),
    ("workday", ConnectionKind::Workday),
];

/// Where a person's HR facts come from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// Signed generic webhooks.
    Webhook,
    /// Workday report rows that come and go.
    Workday,
    /// A Workday row that stays all along (so no pull loses a large share of its rows).
    WorkdayStable,
    /// No HR fact ever.
    Staff,
}

struct Person {
    email: String,
    actor: String,
    source: Source,
    /// The Okta user's id (known once seeded).
    okta: String,
}

/// The latest HR fact about a person: its event time and the departure date (None: a
/// cancellation).
#[derive(Debug, Clone, PartialEq)]
struct Fact {
    at: i64,
    date: Option<String>,
}

/// What the test did, and so what riskflow must have made of it.
struct Model {
    rng: StdRng,
    people: Vec<Person>,
    /// The latest HR fact per person index.
    latest: BTreeMap<usize, Fact>,
    /// Workday rows now (person index → termination date), and as the last pull saw them.
    rows: BTreeMap<usize, String>,
    pulled: BTreeMap<usize, String>,
    /// Every session: (id, person index, day it began).
    sessions: Vec<(String, usize, i64)>,
    /// Okta user ids an admin took out of the group.
    released: BTreeSet<String>,
    /// Requests to the watchlist add / remove routes answered by a fault before the fake
    /// handled them (so changed nothing).
    unhandled: BTreeMap<&'static str, u64>,
    /// Transient faults that fired during flows, and re-tests answered transiently.
    flow_fault_hits: u64,
    transient_retests: u64,
    /// Every event time handed out, so no two facts about a person tie.
    seq: i64,
    /// Webhook deliveries made today: (id, body), for redeliveries.
    delivered_today: Vec<(String, Vec<u8>)>,
}

struct NoRuns;

#[async_trait::async_trait]
impl RunStarter for NoRuns {
    async fn start(&self, flow: Flow, _dry_run: bool) -> Result<String, String> {
        Err(format!("{flow} is started by the test itself"))
    }
}

impl Model {
    fn new() -> Model {
        let mut people = Vec::new();
        let mut add = |prefix: &str, n: usize, source: Source| {
            for i in 0..n {
                people.push(Person {
                    email: format!("{prefix}{i}@example.com"),
                    actor: format!("actor-{prefix}{i}"),
                    source,
                    okta: String::new(),
                });
            }
        };
        add("hook", 10, Source::Webhook);
        add("wd", 5, Source::Workday);
        add("stay", 8, Source::WorkdayStable);
        add("staff", 4, Source::Staff);
        Model {
            rng: StdRng::seed_from_u64(0x6d6f_6e74_6873),
            people,
            latest: BTreeMap::new(),
            rows: BTreeMap::new(),
            pulled: BTreeMap::new(),
            sessions: Vec::new(),
            released: BTreeSet::new(),
            unhandled: BTreeMap::new(),
            flow_fault_hits: 0,
            transient_retests: 0,
            seq: 0,
            delivered_today: Vec::new(),
        }
    }

    fn of(&self, source: Source) -> Vec<usize> {
        (0..self.people.len())
            .filter(|i| self.people[*i].source == source)
            .collect()
    }

    fn pick(&mut self, from: &[usize]) -> usize {
        from[self.rng.random_range(0..from.len())]
    }

    /// Whether the latest fact about person `i` is a departure.
    fn departing(&self, i: usize) -> bool {
        self.latest.get(&i).is_some_and(|f| f.date.is_some())
    }

    /// An event time a little before `now`, distinct from every other.
    fn event_time(&mut self, now: i64, minutes_ago: i64) -> i64 {
        self.seq += 1;
        now - minutes_ago * 60_000 - self.seq
    }

    fn apply(&mut self, i: usize, fact: Fact) {
        if self.latest.get(&i).is_none_or(|l| fact.at > l.at) {
            self.latest.insert(i, fact);
        }
    }

    /// What a Workday pull at `now` finds, as the connector's rule decides: a new or changed
    /// row is a departure, a row gone before its date a cancellation.
    fn pull(&mut self, now: i64) {
        let today = riskflow::clock::date_of_ms(now).to_string();
        let people: BTreeSet<usize> = self
            .rows
            .keys()
            .chain(self.pulled.keys())
            .copied()
            .collect();
        for i in people {
            match (self.pulled.get(&i).cloned(), self.rows.get(&i).cloned()) {
                (prev, Some(date)) if prev.as_ref() != Some(&date) => self.apply(
                    i,
                    Fact {
                        at: now,
                        date: Some(date),
                    },
                ),
                (Some(prev), None) if prev > today => self.apply(
                    i,
                    Fact {
                        at: now,
                        date: None,
                    },
                ),
                _ => {}
            }
        }
        self.pulled = self.rows.clone();
    }

    fn workday_rows(&self) -> Vec<serde_json::Value> {
        self.rows
            .iter()
            .map(|(i, date)| {
                let p = &self.people[*i];
                json!({
                    "Employee_ID": format!("E{i:03}"),
                    "Worker": format!("Worker {i}"),
                    "Email_-_Work": p.email,
                    "Termination_Date": date,
                    "Last_Day_of_Work": date,
                    "Primary_Termination_Reason": "Resignation",
                    "Business_Process_Event_WID": format!("{:032x}", *i as u128 + 1),
                })
            })
            .collect()
    }
}

fn date_in(now: i64, days: i64) -> String {
    riskflow::clock::date_of_ms(now + days * DAY).to_string()
}

fn body(email: &str, date: Option<&str>, at: i64) -> Vec<u8> {
    let occurred_at = riskflow::clock::rfc3339_of_ms(at);
    match date {
        Some(d) => json!({"event_type": "departure", "email": email,
            "departure_date": d, "occurred_at": occurred_at}),
        None => json!({"event_type": "cancellation", "email": email, "occurred_at": occurred_at}),
    }
    .to_string()
    .into_bytes()
}

/// Deliver a signed generic webhook (signed at the world's now) and process what it recorded
/// at once, as the handlers do. Returns the answer's status.
async fn deliver(w: &World, id: &str, body: &[u8]) -> u16 {
    let headers = signed_headers(id, w.clock.now() / 1000, body);
    let accepted = w
        .env
        .webhook_receiver()
        .receive("generic", &headers, body)
        .await;
    w.env
        .process_hr_items(
            &accepted.new_items,
            Instant::now() + Duration::from_secs(30),
        )
        .await;
    accepted.response.status.as_u16()
}

/// The world: every system connected, the people seeded (actors, Okta users, the group, an
/// empty Departing watchlist), Workday's stable rows in the report.
async fn months_world(m: &mut Model) -> World {
    let w = World::start().await;
    let mut data = SeedData::default();
    for p in &m.people {
        data.actors.push(Actor {
            actor_id: p.actor.clone(),
            name: p.email.clone(),
            active: true,
            in_scope: true,
            ..Actor::default()
        });
        data.okta_users.push(OktaUserSeed {
            login: p.email.clone(),
            ..OktaUserSeed::default()
        });
    }
    data.okta_groups.push(OktaGroupSeed {
        id: Some(DEPARTING_GROUP.into()),
        name: "Departing-Restricted".into(),
        ..OktaGroupSeed::default()
    });
    data.watchlists.push(WatchlistSeed {
        watchlist_id: Some(WATCHLIST.into()),
        list_type: "DEPARTING_EMPLOYEE".into(),
        ..WatchlistSeed::default()
    });
    w.sb().seed(data);
    for p in &mut m.people {
        p.okta = w.sb().okta_user_id(&p.email).expect("the Okta user");
    }
    let now = w.clock.now();
    for i in m.of(Source::WorkdayStable) {
        let date = date_in(now, 400 + i as i64);
        m.rows.insert(i, date);
    }
    w.sb().set_workday_rows(m.workday_rows());
    w.connect(ConnectionKind::Incydr, json!({"sink": "both"}))
        .await;
    w.connect(ConnectionKind::Jira, json!({})).await;
    w.connect(ConnectionKind::Servicenow, json!({})).await;
    w.connect(ConnectionKind::Okta, json!({})).await;
    w.connect(ConnectionKind::Workday, json!({})).await;
    w.connect(ConnectionKind::Generic, json!({})).await;
    w
}

/// The daily re-test, through the connections API's own path, with a verification budget
/// short enough that a hang past it costs little. Some days one system answers every
/// verification request with a 503 or hangs: its result is transient and its status stays.
async fn retest(w: &World, api: &ConnectionsApi, m: &mut Model, day: i64) {
    let faulted = (m.rng.random_bool(0.3)).then(|| {
        let (system, kind) = RETESTED[m.rng.random_range(0..RETESTED.len())];
        let fault = if m.rng.random_bool(0.5) {
            FaultKind::Error {
                status: 503,
                retry_after: None,
            }
        } else {
            FaultKind::Timeout { ms: 1_500 }
        };
        w.sb().set_faults(FaultConfig {
            seed: day as u64,
            rules: vec![FaultRule::new(system, fault)],
        });
        kind
    });
    let results = riskflow::lambda::retest_all(api, Instant::now() + Duration::from_secs(6)).await;
    w.sb().clear_faults();
    if let Some(kind) = faulted {
        let status = results[kind.as_str()]["status"].as_u64().unwrap_or(0);
        assert!(
            (502..=504).contains(&status),
            "day {day}: {kind} re-tested during an outage: {results:#}"
        );
        m.transient_retests += 1;
        let message = results[kind.as_str()]["message"].as_str().unwrap_or("");
        let history = w
            .store()
            .connection_history(kind, 3, w.clock.now())
            .await
            .expect("the history reads");
        // (A verification still running at the invocation's deadline is abandoned unrecorded.)
        assert!(
            message.contains("not finished")
                || history.first().is_some_and(|h| {
                    h.at > w.clock.now() - 60_000 && h.status == ConnectionStatus::VerifyFailed
                }),
            "day {day}: the transient answer is in {kind}'s history: {history:?} now {} {results:#}",
            w.clock.now()
        );
    }
    for (_, kind) in RETESTED.iter().chain(&[("", ConnectionKind::Generic)]) {
        let c = w
            .store()
            .connection(*kind, w.clock.now())
            .await
            .expect("the connection reads");
        assert_eq!(
            c.status,
            ConnectionStatus::Connected,
            "day {day}: {kind} after the re-test: {results:#}"
        );
    }
}

/// Today's HR facts: webhook departures and cancellations (some older than the person's
/// latest fact, some redelivered, a concurrent pair), Workday rows changed.
async fn hr_facts(w: &World, m: &mut Model, day: i64) {
    let now = w.clock.now();
    let hooks = m.of(Source::Webhook);
    m.delivered_today.clear();
    if day == LOST_ADD_DAY {
        let i = hooks
            .iter()
            .copied()
            .find(|i| !m.departing(*i))
            .expect("someone not departing");
        let email = m.people[i].email.clone();
        let date = date_in(now, 30);
        let (td, tc) = (m.event_time(now, 90), m.event_time(now, 60));
        w.sb().add_fault(
            FaultRule::new("incydr", FaultKind::StoredThenError { status: 500 })
                .method("POST")
                .path_prefix(ADD_PATH)
                .max_hits(1),
        );
        assert_eq!(
            deliver(w, "lost-add-d", &body(&email, Some(&date), td)).await,
            202
        );
        assert_eq!(
            w.sb().fault_hits(),
            vec![1],
            "the add was made, its answer lost"
        );
        assert_eq!(deliver(w, "lost-add-c", &body(&email, None, tc)).await, 202);
        m.apply(
            i,
            Fact {
                at: td,
                date: Some(date),
            },
        );
        m.apply(i, Fact { at: tc, date: None });
    }
    let facts = m.rng.random_range(1..4);
    for n in 0..facts {
        let i = m.pick(&hooks);
        let cancel = m.departing(i) && m.rng.random_bool(0.5);
        let date = (!cancel).then(|| date_in(now, m.rng.random_range(5..90)));
        let minutes = m.rng.random_range(1..300);
        let mut at = m.event_time(now, minutes);
        if m.rng.random_bool(0.2)
            && let Some(l) = m.latest.get(&i)
        {
            // Out of order: older than what is already known about them.
            at = l.at - m.rng.random_range(1..600) * 60_000;
        }
        let id = format!("d{day:03}-{n}");
        let b = body(&m.people[i].email, date.as_deref(), at);
        assert_eq!(deliver(w, &id, &b).await, 202, "day {day}: {id}");
        m.apply(i, Fact { at, date });
        m.delivered_today.push((id, b));
    }
    if !m.delivered_today.is_empty() && m.rng.random_bool(0.3) {
        // A sender retrying a delivery: recorded once.
        let (id, b) = m.delivered_today[0].clone();
        assert_eq!(deliver(w, &id, &b).await, 200, "day {day}: {id} again");
    }
    if m.rng.random_bool(0.3) {
        // A departure and its cancellation at once, either event-time order.
        let i = m.pick(&hooks);
        let date = date_in(now, m.rng.random_range(5..90));
        let (t1, t2) = (m.event_time(now, 30), m.event_time(now, 20));
        let (td, tc) = if m.rng.random_bool(0.5) {
            (t1, t2)
        } else {
            (t2, t1)
        };
        let email = m.people[i].email.clone();
        let (d, c) = (body(&email, Some(&date), td), body(&email, None, tc));
        let (id_d, id_c) = (format!("p{day:03}-d"), format!("p{day:03}-c"));
        let (sd, sc) = futures::join!(deliver(w, &id_d, &d), deliver(w, &id_c, &c));
        assert_eq!((sd, sc), (202, 202), "day {day}: the pair");
        m.apply(
            i,
            Fact {
                at: td,
                date: Some(date),
            },
        );
        m.apply(i, Fact { at: tc, date: None });
    }
    if m.rng.random_bool(0.4) {
        // Workday: a row appears, moves its date, or vanishes (never on the eve of its date,
        // where the pull's "today" could differ from this one).
        let workday = m.of(Source::Workday);
        let i = m.pick(&workday);
        let (eve, after) = (date_in(now, -1), date_in(now, 1));
        match m.rows.get(&i).cloned() {
            Some(d) if d >= eve && d <= after => {}
            Some(_) if m.rng.random_bool(0.6) => {
                m.rows.remove(&i);
            }
            _ => {
                let date = date_in(now, m.rng.random_range(3..60));
                m.rows.insert(i, date);
            }
        }
        w.sb().set_workday_rows(m.workday_rows());
    }
}

/// Today's sessions: new ones (some of people the model says are departing), some older ones
/// gaining new data, and on day 196 one that began on day 1 (its items long expired).
fn sessions(w: &World, m: &mut Model, day: i64) {
    let now = w.clock.now();
    // Nobody the admin took out of the group raises a new alert (a new alert would contain
    // them again, as it should).
    let everyone: Vec<usize> = (0..m.people.len())
        .filter(|i| !m.released.contains(&m.people[*i].okta))
        .collect();
    let departing: Vec<usize> = everyone
        .iter()
        .copied()
        .filter(|i| m.departing(*i))
        .collect();
    if day == LOST_TICKET_DAY {
        // Someone the first Workday pull listed (see `run_flows` for the lost answer).
        let i = m.of(Source::WorkdayStable)[0];
        let p = &m.people[i];
        let id = format!("lost-ticket-{day:03}");
        w.sb()
            .add_session(session_seed(&id, &p.actor, &p.email, now - 3_600_000, true));
        m.sessions.push((id, i, day));
    }
    for n in 0..m.rng.random_range(1..3) {
        let i = if !departing.is_empty() && m.rng.random_bool(0.4) {
            m.pick(&departing)
        } else {
            m.pick(&everyone)
        };
        let p = &m.people[i];
        let id = format!("s{day:03}-{n}");
        w.sb().add_session(session_seed(
            &id,
            &p.actor,
            &p.email,
            now - 30 * 60_000 - n,
            true,
        ));
        m.sessions.push((id, i, day));
    }
    let recent: Vec<String> = m
        .sessions
        .iter()
        .filter(|(_, _, d)| day - d <= 10 && *d < day)
        .map(|(id, _, _)| id.clone())
        .collect();
    if !recent.is_empty() && m.rng.random_bool(0.3) {
        let id = recent[m.rng.random_range(0..recent.len())].clone();
        w.sb()
            .touch_session(&id, TouchSession::default())
            .expect("the session exists");
    }
    if day == 196 {
        let old = m
            .sessions
            .iter()
            .find(|(_, _, d)| *d == 1)
            .map(|(id, _, _)| id.clone())
            .expect("a session began on day 1");
        w.sb()
            .touch_session(&old, TouchSession::default())
            .expect("the session exists");
    }
}

/// One-off transient vendor faults for today's runs (each fires once), on days followed by a
/// run the next day. An alert-tickets or departing-response item that failed is retried only
/// while a scan still returns its session (the lookback, `OPEN_NEW_DATA`, and for
/// departing-response the person still on the Departing watchlist): a fault before a gap of
/// runs longer than that would strand it (reported as an open problem, not tested here).
/// alert-tickets runs before departing-response, so the one Jira create a rule fails is
/// always an alert-tickets one (see [`run_flows`]).
fn flow_faults(m: &mut Model, day: i64) -> Vec<(FaultRule, Option<&'static str>)> {
    if next_day(day) != day + 1 || day == LOST_TICKET_DAY || day == LOST_ADD_DAY {
        return Vec::new();
    }
    let err = |status| FaultKind::Error {
        status,
        retry_after: None,
    };
    let menu: Vec<(FaultRule, Option<&'static str>)> = vec![
        (
            FaultRule::new("jira", err(503))
                .method("POST")
                .path_prefix("/rest/api/3/issue"),
            None,
        ),
        (
            FaultRule::new("jira", FaultKind::StoredThenError { status: 502 })
                .method("POST")
                .path_prefix("/rest/api/3/issue"),
            None,
        ),
        (
            FaultRule::new("jira", FaultKind::StoredThenError { status: 502 })
                .method("POST")
                .path_prefix("/rest/api/3/issue/"),
            None,
        ),
        (
            FaultRule::new("servicenow", FaultKind::StoredThenDrop).method("POST"),
            None,
        ),
        (
            FaultRule::new("servicenow", FaultKind::Timeout { ms: 100 }).method("POST"),
            None,
        ),
        (FaultRule::new("servicenow", err(503)).method("PATCH"), None),
        (
            FaultRule::new("okta", FaultKind::StoredThenError { status: 500 }).method("PUT"),
            None,
        ),
        (FaultRule::new("okta", err(503)).method("PUT"), None),
        (
            FaultRule::new("incydr", FaultKind::StoredThenError { status: 500 })
                .method("POST")
                .path_prefix(ADD_PATH),
            None,
        ),
        (
            FaultRule::new("incydr", err(503))
                .method("POST")
                .path_prefix(ADD_PATH),
            Some(ADD_ROUTE),
        ),
        (
            FaultRule::new("incydr", err(503))
                .method("POST")
                .path_prefix(REMOVE_PATH),
            Some(REMOVE_ROUTE),
        ),
        (
            FaultRule::new("incydr", FaultKind::Drop { after_ms: 0 })
                .method("GET")
                .path_prefix("/v1/sessions"),
            None,
        ),
    ];
    let mut out = Vec::new();
    if m.rng.random_bool(0.8) {
        for _ in 0..m.rng.random_range(1..4) {
            let (rule, unhandled) = menu[m.rng.random_range(0..menu.len())].clone();
            out.push((rule.max_hits(1), unhandled));
        }
    }
    out
}

/// The world's runs of one day: hr-departures (draining pending facts and pulling Workday),
/// then alert-tickets, then departing-response. None may be skipped.
async fn run_flows(w: &World, m: &mut Model, day: i64) {
    let hr = w.run(Flow::HrDepartures).await;
    assert!(
        hr.counts.contains_key("workday_changes"),
        "day {day}: Workday was pulled: {hr:#?}"
    );
    m.pull(hr.started_at);
    let alerts = w.run(Flow::AlertTickets).await;
    if day == LOST_TICKET_DAY {
        w.sb().add_fault(
            FaultRule::new("jira", FaultKind::StoredThenError { status: 502 })
                .method("POST")
                .path_prefix("/rest/api/3/issue")
                .max_hits(1),
        );
    }
    let departing = w.run(Flow::DepartingResponse).await;
    if day == LOST_TICKET_DAY {
        assert_eq!(
            w.sb().fault_hits().last(),
            Some(&1),
            "a departing ticket was made, its answer lost: {departing:#?}"
        );
    }
    for rec in [&hr, &alerts, &departing] {
        assert_ne!(rec.status, RunStatus::Skipped, "day {day}: {rec:#?}");
    }
}

fn ok(e: &AuditEntry) -> bool {
    e.result.starts_with("ok")
}

/// Run each flow until it has nothing left to do (faults off, the Jira horizon passed).
async fn settle(w: &World, day: i64) {
    w.sb().clear_faults();
    for flow in [
        Flow::HrDepartures,
        Flow::AlertTickets,
        Flow::DepartingResponse,
    ] {
        let mut last = None;
        for _ in 0..6 {
            let rec = w.run(flow).await;
            if rec.status == RunStatus::Succeeded
                && rec.errors.is_empty()
                && w.open_items(flow).await.is_empty()
            {
                break;
            }
            if count(&rec, "waiting_for_search") > 0 {
                w.clock.advance(PAST_HORIZON_MS);
            }
            last = Some(rec);
        }
        let mut open = Vec::new();
        for key in w.open_items(flow).await {
            open.push(w.store().item(flow, &key, w.clock.now()).await);
        }
        assert!(
            open.is_empty(),
            "day {day}: {flow} did not settle: {open:#?} {last:#?}"
        );
    }
}

/// Every invariant, against the fakes' state.
async fn check(w: &World, m: &Model, day: i64, began: i64) {
    let now = w.clock.now();
    let audit = w.audit_entries_between(began - DAY, now + DAY).await;

    // The Departing watchlist and the end dates are what the latest HR fact says.
    let listed: BTreeSet<String> = w
        .sb()
        .watchlist_actor_ids("DEPARTING_EMPLOYEE")
        .into_iter()
        .collect();
    for (i, p) in m.people.iter().enumerate() {
        let expected = m.latest.get(&i);
        let want = expected.and_then(|f| f.date.clone());
        assert_eq!(
            listed.contains(&p.actor),
            want.is_some(),
            "day {day}: {} on the list, latest fact {expected:?}",
            p.email
        );
        let end_date = w.sb().actor(&p.actor).and_then(|a| a.end_date);
        assert_eq!(end_date, want, "day {day}: {}'s end date", p.email);
        let person = w.store().person(&p.email, now).await.expect("reads");
        if p.source == Source::Webhook {
            // (A Workday fact's time is its pull's, a little after the run began.)
            assert_eq!(
                person.as_ref().map(|r| r.latest.event_time),
                expected.map(|f| f.at),
                "day {day}: {} holds the latest fact",
                p.email
            );
        }
        assert_eq!(
            person.as_ref().map(|r| r.added_by_riskflow),
            expected.map(|f| f.date.is_some()),
            "day {day}: {} is recorded as listed by riskflow or not",
            p.email
        );
        // Each change audited once: adds and removes alternate, ending as the list is.
        let changes: Vec<&AuditEntry> = audit
            .iter()
            .filter(|e| e.target == p.email && ok(e))
            .filter(|e| e.action == "watchlist_add" || e.action == "watchlist_remove")
            .collect();
        let adds = changes
            .iter()
            .filter(|e| e.action == "watchlist_add")
            .count() as i64;
        let removes = changes.len() as i64 - adds;
        assert_eq!(
            adds - removes,
            i64::from(want.is_some()),
            "day {day}: {}: {adds} adds, {removes} removes audited",
            p.email
        );
    }
    let sb = w.sb();
    let audited =
        |action: &str| audit.iter().filter(|e| e.action == action && ok(e)).count() as u64;
    let handled = |route: &'static str| {
        sb.count("incydr", "POST", route) - m.unhandled.get(route).copied().unwrap_or(0)
    };
    assert_eq!(
        audited("watchlist_add"),
        handled(ADD_ROUTE),
        "day {day}: every watchlist add the fake took is audited once"
    );
    assert_eq!(
        audited("watchlist_remove"),
        handled(REMOVE_ROUTE),
        "day {day}: every watchlist removal the fake took is audited once"
    );

    // Nobody contained twice; everyone contained audited once; nobody put back.
    let members: BTreeSet<String> = sb
        .okta_group_member_ids(DEPARTING_GROUP)
        .into_iter()
        .collect();
    for p in &m.people {
        let user = &p.okta;
        let adds = audit
            .iter()
            .filter(|e| e.action == "okta_group_add" && e.target == p.email && ok(e))
            .count();
        // riskflow's own undos (a cancelled departure releases the person) let a later
        // departure contain them again: never twice at once.
        let undone = audit
            .iter()
            .filter(|e| e.action == "okta_group_remove" && e.target == p.email && e.result == "ok")
            .count();
        assert_eq!(
            adds.checked_sub(undone),
            Some(usize::from(
                members.contains(user) || m.released.contains(user)
            )),
            "day {day}: {} added to the group {adds} times and removed by riskflow {undone} times by the audit",
            p.email
        );
        assert!(
            !(m.released.contains(user) && members.contains(user)),
            "day {day}: {} was put back in the group after an admin took them out",
            p.email
        );
    }

    // One ticket per session per sink, each audited once.
    let all: Vec<String> = m.sessions.iter().map(|(id, _, _)| id.clone()).collect();
    w.assert_one_jira_ticket_each(Flow::AlertTickets, &all);
    let snow = w.snow_incidents_by_correlation();
    for id in &all {
        assert_eq!(
            snow.get(&dedup_label(Flow::AlertTickets, id)),
            Some(&1),
            "day {day}: {id}'s ServiceNow incidents"
        );
    }
    assert_eq!(snow.len(), all.len(), "day {day}: no other incidents");
    let departing_tickets = w.jira_tickets(Flow::DepartingResponse);
    for (label, issues) in &departing_tickets {
        assert_eq!(issues.len(), 1, "day {day}: {label}");
    }
    let mut departing_items = 0;
    for id in &all {
        if let Some(item) = w
            .store()
            .item(Flow::DepartingResponse, id, now)
            .await
            .expect("reads")
        {
            assert_eq!(item.status, ItemStatus::Done, "day {day}: {item:#?}");
            assert!(
                departing_tickets.contains_key(&dedup_label(Flow::DepartingResponse, id)),
                "day {day}: departing session {id} has its ticket"
            );
            departing_items += 1;
        }
    }
    assert!(departing_tickets.len() >= departing_items);
    let ticket_audits: BTreeMap<(String, String), usize> = audit
        .iter()
        // A ticket made: created, or found after its create's answer was lost (a ticket found
        // again after the session's item expired was made long before, and audited then).
        .filter(|e| {
            (e.action == "create_ticket" && ok(e))
                || (e.action == "recover_ticket" && e.result.contains("lost answer"))
        })
        .fold(BTreeMap::new(), |mut acc, e| {
            *acc.entry((e.system.as_str().to_string(), e.target.clone()))
                .or_default() += 1;
            acc
        });
    let jira: Vec<String> = sb.jira_issues().into_iter().map(|i| i.key).collect();
    for key in &jira {
        assert_eq!(
            ticket_audits.get(&("jira".to_string(), key.clone())),
            Some(&1),
            "day {day}: Jira {key} audited once"
        );
    }
    let incidents = sb.servicenow_incidents();
    for inc in &incidents {
        let n = [&inc.number, &inc.sys_id]
            .iter()
            .map(|k| {
                ticket_audits
                    .get(&("servicenow".to_string(), k.to_string()))
                    .copied()
                    .unwrap_or(0)
            })
            .sum::<usize>();
        assert_eq!(n, 1, "day {day}: ServiceNow {} audited once", inc.number);
    }
    assert_eq!(
        ticket_audits.values().sum::<usize>(),
        jira.len() + incidents.len(),
        "day {day}: no ticket audited that does not exist"
    );
    // Each comment (Jira comment, ServiceNow work note) audited once.
    let comments = |system: &str, key: &str| {
        audit
            .iter()
            .filter(|e| e.system.as_str() == system && e.target == key && ok(e))
            .filter(|e| e.action == "add_comment" || e.action == "recover_comment")
            .count()
    };
    for issue in sb.jira_issues() {
        assert_eq!(
            comments("jira", &issue.key),
            issue.comments.len(),
            "day {day}: Jira {}'s comments audited once each",
            issue.key
        );
    }
    for inc in &incidents {
        assert_eq!(
            comments("servicenow", &inc.number) + comments("servicenow", &inc.sys_id),
            inc.work_notes.len(),
            "day {day}: ServiceNow {}'s work notes audited once each",
            inc.number
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_days_of_hr_facts_alerts_retests_and_transient_faults_keep_every_invariant() {
    let started = Instant::now();
    let mut m = Model::new();
    let w = months_world(&mut m).await;
    let mut api = w.env.connections_api(Arc::new(NoRuns));
    api.verify_budget = Duration::from_millis(500);
    let began = w.clock.now();
    let mut expired = 0;
    let (mut day, mut last, mut checked, mut steps) = (1, 0, 0, 0);
    while day <= DAYS {
        expired += w.pass_time((day - last) * DAY).await;
        steps += 1;
        retest(&w, &api, &mut m, day).await;
        let faults = flow_faults(&mut m, day);
        w.sb().set_faults(FaultConfig {
            seed: day as u64,
            rules: faults.iter().map(|(r, _)| r.clone()).collect(),
        });
        hr_facts(&w, &mut m, day).await;
        if steps % 6 == 0 {
            // An admin takes a contained user out of the group: nobody puts them back.
            let members = w.sb().okta_group_member_ids(DEPARTING_GROUP);
            if let Some(user) = members.first() {
                w.sb().remove_okta_membership(OktaMembership {
                    group_id: DEPARTING_GROUP.into(),
                    user: user.clone(),
                });
                m.released.insert(user.clone());
            }
        }
        sessions(&w, &mut m, day);
        run_flows(&w, &mut m, day).await;
        let hits = w.sb().fault_hits();
        m.flow_fault_hits += hits.iter().sum::<u64>();
        for ((_, unhandled), n) in faults.iter().zip(hits) {
            if let Some(route) = unhandled {
                *m.unhandled.entry(route).or_default() += n;
            }
        }
        w.sb().clear_faults();
        let members = w.sb().okta_group_member_ids(DEPARTING_GROUP);
        for user in &members {
            assert!(
                !m.released.contains(user),
                "day {day}: {user} was put back in the group after an admin took them out"
            );
        }
        if day / CHECK_EVERY > checked || day == DAYS {
            checked = day / CHECK_EVERY;
            settle(&w, day).await;
            check(&w, &m, day, began).await;
        }
        (last, day) = (day, next_day(day));
    }
    assert!(expired > 0, "the TTL deleted expired items");
    assert!(
        count(&w.run(Flow::AlertTickets).await, "tickets_created") == 0,
        "nothing left to create"
    );
    eprintln!(
        "{DAYS} days ({steps} with runs), {} sessions, {} facts, {} flow faults, {} transient \
         re-tests, {expired} items expired, in {:?}",
        m.sessions.len(),
        m.seq,
        m.flow_fault_hits,
        m.transient_retests,
        started.elapsed()
    );
    assert!(
        m.flow_fault_hits >= 6 && m.transient_retests >= 3,
        "the faults happened"
    );
}
