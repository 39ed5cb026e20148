//! Two HR facts about one person at once: a departure and its cancellation delivered
//! concurrently, in both orders and both event-time orders, end with the Departing watchlist
//! as the fact with the latest event time says, and each watchlist change audited once.
//!
//! The interleavings are made deterministic with the sandbox's holds: the first fact's call to
//! Incydr is held at a chosen point, the second fact is delivered to the end meanwhile, then
//! the first is released. Rounds without a hold race the two deliveries freely. State is in
//! DynamoDB (moto); the clock is the world's test clock.

use riskflow::domain::{ConnectionKind, Flow, RunStatus};
use riskflow_e2e::{World, date_in_days, now_secs, signed_headers};
use serde_json::json;
use std::time::{Duration, Instant};

const FLOW: Flow = Flow::HrDepartures;
const ADD: &str = "/v2/watchlists/{watchlist_id}/included-actors/add";
const REMOVE: &str = "/v2/watchlists/{watchlist_id}/included-actors/delete";

/// An Incydr call the first fact is held at.
#[derive(Debug, Clone, Copy)]
enum At {
    /// `GET /v1/actors/actor/name/{email}/parent` (the person's actor is not known yet).
    ActorSearch,
    /// `GET /v2/watchlists/{id}/included-actors/{actor}` (is the person on the list?).
    Membership,
    /// `POST /v2/watchlists/{id}/included-actors/add`.
    Add,
    /// `POST /v2/watchlists/{id}/included-actors/delete`.
    Remove,
    /// `PATCH /v1/actors/actor/id/{actor}` (the departure date).
    EndDate,
}

impl At {
    fn route(self, actor: &str) -> (&'static str, String) {
        match self {
            At::ActorSearch => ("GET", "/v1/actors/actor/name/".into()),
            At::Membership => ("GET", "/v2/watchlists/".into()),
            At::Add => ("POST", "/v2/watchlists/".into()),
            At::Remove => ("POST", "/v2/watchlists/".into()),
            At::EndDate => ("PATCH", format!("/v1/actors/actor/id/{actor}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Departure,
    Cancellation,
}

/// One round's setting.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// Which fact is delivered first.
    first: Kind,
    /// Whether the departure's event time is later than the cancellation's.
    departure_is_latest: bool,
    /// The person is already on the list by riskflow (an older departure) before the race.
    already_departing: bool,
    /// Where the first fact is held; `None`: both deliveries race freely.
    hold: Option<At>,
}

async fn hr_world() -> World {
    let w = World::start().await;
    w.connect(ConnectionKind::Incydr, json!({})).await;
    w.connect(ConnectionKind::Generic, json!({})).await;
    w
}

fn body(kind: Kind, email: &str, date: &str, at_ms: i64) -> Vec<u8> {
    let occurred_at = riskflow::clock::rfc3339_of_ms(at_ms);
    match kind {
        Kind::Departure => json!({"event_type": "departure", "email": email,
            "departure_date": date, "occurred_at": occurred_at}),
        Kind::Cancellation => {
            json!({"event_type": "cancellation", "email": email, "occurred_at": occurred_at})
        }
    }
    .to_string()
    .into_bytes()
}

/// Deliver a signed generic webhook and process what it recorded at once, as the handlers do.
async fn deliver(w: &World, id: &str, body: &[u8]) {
    let headers = signed_headers(id, now_secs(), body);
    let accepted = w
        .env
        .webhook_receiver()
        .receive("generic", &headers, body)
        .await;
    assert_eq!(
        accepted.response.status.as_u16(),
        202,
        "{id}: {}",
        accepted.response.body
    );
    w.env
        .process_hr_items(
            &accepted.new_items,
            Instant::now() + Duration::from_secs(30),
        )
        .await;
}

fn on_list(w: &World, actor: &str) -> bool {
    w.sb()
        .watchlist_actor_ids("DEPARTING_EMPLOYEE")
        .iter()
        .any(|a| a == actor)
}

fn requests(w: &World, route: &str) -> u64 {
    w.sb().count("incydr", "POST", route)
}

/// The successful watchlist adds and removes audited for `email`.
async fn audited(w: &World, email: &str) -> (u64, u64) {
    let entries = w.audit_entries().await;
    let n = |action: &str| {
        entries
            .iter()
            .filter(|e| e.target == email && e.action == action && e.result == "ok")
            .count() as u64
    };
    (n("watchlist_add"), n("watchlist_remove"))
}

/// Play one round for person `n` and check the outcome.
async fn play(w: &World, n: usize, round: Round) {
    let email = format!("race{n}@example.com");
    let actor = w.seed_actor(&format!("actor-race{n}"), &email);
    let now = w.clock.now();
    let (t_earlier, t_later) = (now - 2 * 3_600_000, now - 3_600_000);
    let (t_departure, t_cancel) = if round.departure_is_latest {
        (t_later, t_earlier)
    } else {
        (t_earlier, t_later)
    };
    let date = date_in_days(20 + n as i64 % 7);
    if round.already_departing {
        let old_date = date_in_days(60);
        let old = body(Kind::Departure, &email, &old_date, now - 3 * 3_600_000);
        deliver(w, &format!("race{n}-old"), &old).await;
        assert!(
            on_list(w, &actor),
            "{round:?}: the older departure lists them"
        );
    }
    let adds_before = requests(w, ADD);
    let removes_before = requests(w, REMOVE);
    let (audit_adds_before, audit_removes_before) = audited(w, &email).await;

    let departure = body(Kind::Departure, &email, &date, t_departure);
    let cancellation = body(Kind::Cancellation, &email, &date, t_cancel);
    let (first, second) = match round.first {
        Kind::Departure => (
            (format!("race{n}-d"), departure),
            (format!("race{n}-c"), cancellation),
        ),
        Kind::Cancellation => (
            (format!("race{n}-c"), cancellation),
            (format!("race{n}-d"), departure),
        ),
    };
    match round.hold {
        Some(at) => {
            let (method, path) = at.route(&actor);
            let hold = w.sb().hold("incydr", method, &path);
            let held = deliver(w, &first.0, &first.1);
            let rest = async {
                hold.arrived().await;
                deliver(w, &second.0, &second.1).await;
                hold.release();
            };
            futures::join!(held, rest);
        }
        None => {
            futures::join!(
                deliver(w, &first.0, &first.1),
                deliver(w, &second.0, &second.1)
            );
        }
    }
    // What could not take the person's lease waits for the next scheduled run.
    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{round:?}: {run:#?}");
    assert!(
        w.open_items(FLOW).await.is_empty(),
        "{round:?}: nothing is left pending"
    );

    let listed = on_list(w, &actor);
    let end_date = w.sb().actor(&actor).and_then(|a| a.end_date);
    if round.departure_is_latest {
        assert!(listed, "{round:?}: the latest fact is the departure");
        assert_eq!(end_date.as_deref(), Some(date.as_str()), "{round:?}");
    } else {
        assert!(!listed, "{round:?}: the latest fact is the cancellation");
        assert_eq!(end_date, None, "{round:?}");
    }
    let adds = requests(w, ADD) - adds_before;
    let removes = requests(w, REMOVE) - removes_before;
    let (audit_adds, audit_removes) = audited(w, &email).await;
    assert_eq!(
        audit_adds - audit_adds_before,
        adds,
        "{round:?}: each add is audited once"
    );
    assert_eq!(
        audit_removes - audit_removes_before,
        removes,
        "{round:?}: each remove is audited once"
    );
    assert!(
        adds <= 1 && removes <= 1,
        "{round:?}: {adds} adds, {removes} removes"
    );
    let person = w
        .store()
        .person(&email, w.clock.now())
        .await
        .unwrap()
        .expect("the person is recorded");
    assert_eq!(
        person.latest.event_time,
        t_departure.max(t_cancel),
        "{round:?}: the record holds the latest fact"
    );
    assert_eq!(person.added_by_riskflow, listed, "{round:?}");
}

/// Every deterministic interleaving: each fact first, each event-time order, and each Incydr
/// call the first fact makes as the point where it is held.
fn held_rounds() -> Vec<Round> {
    let mut rounds = Vec::new();
    for departure_is_latest in [false, true] {
        let mut add = |first, already_departing, holds: &[At]| {
            for &at in holds {
                rounds.push(Round {
                    first,
                    departure_is_latest,
                    already_departing,
                    hold: Some(at),
                });
            }
        };
        add(
            Kind::Departure,
            false,
            &[At::ActorSearch, At::Membership, At::Add, At::EndDate],
        );
        add(Kind::Departure, true, &[At::Membership, At::EndDate]);
        add(Kind::Cancellation, false, &[At::ActorSearch]);
        add(Kind::Cancellation, true, &[At::Remove, At::EndDate]);
    }
    rounds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_departure_and_its_cancellation_at_once_end_as_the_latest_fact_says_in_every_interleaving()
 {
    let w = hr_world().await;
    let mut rounds = held_rounds();
    // And free races to make up fifty rounds, both orders and both event-time orders.
    let mut i = 0;
    while rounds.len() < 50 {
        rounds.push(Round {
            first: if i % 2 == 0 {
                Kind::Departure
            } else {
                Kind::Cancellation
            },
            departure_is_latest: (i / 2) % 2 == 0,
            already_departing: (i / 4) % 2 == 0,
            hold: None,
        });
        i += 1;
    }
    for (n, round) in rounds.into_iter().enumerate() {
        play(&w, n, round).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_departure_outliving_its_lease_is_undone_when_a_later_cancellation_was_applied_meanwhile()
{
    let w = hr_world().await;
    let email = "slow@example.com";
    let actor = w.seed_actor("actor-slow", email);
    let now = w.clock.now();
    let date = date_in_days(20);
    let departure = body(Kind::Departure, email, &date, now - 2 * 3_600_000);
    let cancellation = body(Kind::Cancellation, email, &date, now - 3_600_000);

    // The departure's add hangs past every lease; the cancellation then takes the person,
    // finds nobody riskflow listed, and is done. The departure's add lands afterwards.
    let hold = w.sb().hold("incydr", "POST", "/v2/watchlists/");
    let held = deliver(&w, "slow-d", &departure);
    let rest = async {
        hold.arrived().await;
        w.clock.advance(60_000);
        deliver(&w, "slow-c", &cancellation).await;
        hold.release();
    };
    futures::join!(held, rest);
    let run = w.run(FLOW).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");

    assert!(
        !on_list(&w, &actor),
        "re-checked after its add, the departure applies the later cancellation"
    );
    assert_eq!(w.sb().actor(&actor).and_then(|a| a.end_date), None);
    assert_eq!(requests(&w, ADD), 1);
    assert_eq!(requests(&w, REMOVE), 1);
    assert_eq!(audited(&w, email).await, (1, 1), "each change audited once");
    let person = w
        .store()
        .person(email, w.clock.now())
        .await
        .unwrap()
        .unwrap();
    assert!(!person.added_by_riskflow);
    assert!(w.open_items(FLOW).await.is_empty());
}
