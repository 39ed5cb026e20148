"""The official Incydr SDK (PyPI `incydr`) against the sandbox, with the demo data set.

The SDK is used unmodified: every response goes through its own pydantic models.
"""

import json
from datetime import datetime, timedelta, timezone

import incydr
import pytest
from _incydr_sdk.enums.sessions import SessionStates
from _incydr_sdk.enums.watchlists import WatchlistType
from _incydr_sdk.exceptions import WatchlistNotFoundError

from conftest import (
    DEPARTING_ACTOR_ID,
    DEPARTING_EMAIL,
    DEPARTING_SESSION_ID,
    DEPARTING_WATCHLIST_ID,
    INCYDR_CLIENT_ID,
    INCYDR_CLIENT_SECRET,
)

# The demo sessions that have alerts, newest first (sandbox/src/demo.rs: 3, 5, 8, 12, 30
# hours ago; Dan's session has no alert).
ALERTED_SESSIONS = [
    DEPARTING_SESSION_ID,
    "5e55-demo-alice-0002",
    "5e55-demo-bob-0003",
    "5e55-demo-carol-0004",
    "5e55-demo-erin-0006",
]
NO_ALERT_SESSION = "5e55-demo-dan-0005"


def make_client(sandbox) -> incydr.Client:
    # The root URL: the SDK builds every request from absolute `/v1/...` paths.
    return incydr.Client(
        url=sandbox.url,
        api_client_id=INCYDR_CLIENT_ID,
        api_client_secret=INCYDR_CLIENT_SECRET,
    )


@pytest.fixture
def client(fresh_demo) -> incydr.Client:
    return make_client(fresh_demo)


def test_the_sdk_authenticates_with_the_demo_api_client_and_reads_the_tenant_from_the_token(client):
    token = client.session.auth.token_response
    assert token.token_type == "bearer"
    assert token.expires_in == 900
    assert client.tenant_id == "c42-sandbox-tenant-0001"
    assert client.session.headers["User-Agent"].startswith("incydrSDK/")


def test_the_sdk_lists_the_demo_sessions_with_alerts_newest_first(client):
    page = client.sessions.v1.get_page()
    assert page.total_count == 5
    assert [s.session_id for s in page.items] == ALERTED_SESSIONS

    first = page.items[0]
    assert first.actor_id == DEPARTING_ACTOR_ID
    assert first.actor_name == DEPARTING_EMAIL
    assert first.tenant_id == "c42-sandbox-tenant-0001"
    assert first.type == "STANDARD"
    assert first.critical_events == 3
    assert first.high_events == 0
    assert first.exfiltration_summary == "source code archive(s) uploaded to personal Dropbox"
    assert first.content_inspection_results.detected_on_alerts == ["PII"]
    assert [(s.score, s.severity) for s in first.scores] == [(42, 4)]
    assert [s.state for s in first.states] == [SessionStates.OPEN]
    assert [s.state_v2 for s in first.states] == ["OPEN"]
    assert [(a.rule_id, a.rule_name, a.lesson_id) for a in first.triggered_alerts] == [
        ("rule-departing-exfil", "Departing employee exfiltration", None)
    ]
    assert [(r.id, r.event_count) for r in first.risk_indicators] == [("remote-storage", 3)]
    assert first.begin_time < first.end_time <= first.last_updated

    without_alerts = client.sessions.v1.get_page(has_alerts=False)
    assert [s.session_id for s in without_alerts.items] == [NO_ALERT_SESSION]
    assert without_alerts.items[0].no_risk_events == 1


def test_the_sdk_iterates_every_session_across_short_pages(client):
    pages = [client.sessions.v1.get_page(page_num=n, page_size=2) for n in range(3)]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert all(p.total_count == 5 for p in pages)

    ids = [s.session_id for s in client.sessions.v1.iter_all(page_size=2)]
    assert ids == ALERTED_SESSIONS

    # A page size that divides the total: iteration stops on the empty page after it.
    assert len(list(client.sessions.v1.iter_all(page_size=1))) == 5

    critical = client.sessions.v1.get_page(severities=[4], states=[SessionStates.OPEN])
    assert [s.session_id for s in critical.items] == [DEPARTING_SESSION_ID]
    mine = list(client.sessions.v1.iter_all(actor_id=DEPARTING_ACTOR_ID))
    assert [s.session_id for s in mine] == [DEPARTING_SESSION_ID]


def test_every_session_field_survives_the_sdk_model_unchanged(client):
    raw = client.session.get(f"/v1/sessions/{DEPARTING_SESSION_ID}").json()
    model = client.sessions.v1.get_session_details(DEPARTING_SESSION_ID)
    assert model.session_id == DEPARTING_SESSION_ID
    # Same keys and values after a decode/encode through the SDK's model (§10 item 9).
    assert json.loads(model.json()) == raw


def test_the_sdk_reads_a_sessions_file_events(client):
    events = client.sessions.v1.get_session_events(DEPARTING_SESSION_ID)
    assert events.total_count == 3
    assert events.next_pg_token in ("", None)
    names = [e.file.name for e in events.file_events]
    assert names == ["platform-src.zip", "customer-list.xlsx", "roadmap-2027.pdf"]
    first = events.file_events[0]
    assert first.event.id == "0_demo-event-0-0"
    assert first.user.email == DEPARTING_EMAIL
    assert first.destination.name == "Dropbox"
    assert first.risk.severity == "CRITICAL"
    assert len(first.file.hash.sha256) == 64
    assert first.file.url is None
    assert isinstance(first.timestamp, datetime)


def test_the_sdk_adds_a_note_and_changes_a_state_and_reads_both_back(client):
    client.sessions.v1.add_note(DEPARTING_SESSION_ID, "ticket SEC-1 opened")
    client.sessions.v1.update_state_by_id(DEPARTING_SESSION_ID, SessionStates.IN_PROGRESS)
    s = client.sessions.v1.get_session_details(DEPARTING_SESSION_ID)
    assert [n.content for n in s.notes] == ["ticket SEC-1 opened"]
    assert s.notes[0].id
    assert s.notes[0].source_timestamp > 0
    latest = max(s.states, key=lambda x: x.source_timestamp)
    assert latest.state == SessionStates.IN_PROGRESS
    assert latest.state_v2 == "IN_PROGRESS"
    in_progress = client.sessions.v1.get_page(states=[SessionStates.IN_PROGRESS])
    assert DEPARTING_SESSION_ID in [x.session_id for x in in_progress.items]


def test_the_sdk_finds_the_departing_watchlist_and_adds_the_departing_actor_to_it(client):
    watchlist_id = client.watchlists.v2.get_id_by_name("DEPARTING_EMPLOYEE")
    assert watchlist_id == DEPARTING_WATCHLIST_ID

    actor = client.actors.v1.get_actor_by_name(DEPARTING_EMAIL)
    assert actor.actor_id == DEPARTING_ACTOR_ID
    assert (actor.first_name, actor.last_name) == ("Devon", "Parting")
    assert actor.end_date is None

    before = client.watchlists.v2.get(watchlist_id)
    assert before.list_type == WatchlistType.DEPARTING_EMPLOYEE
    assert before.stats.included_actors_count == 0

    response = client.watchlists.v2.add_included_actors(watchlist_id, actor.actor_id)
    assert response.status_code == 200

    member = client.watchlists.v2.get_member(watchlist_id, actor.actor_id)
    assert member.actor_id == DEPARTING_ACTOR_ID
    assert member.actor_name == DEPARTING_EMAIL
    now = datetime.now(timezone.utc)
    assert now - timedelta(minutes=1) < member.added_time <= now + timedelta(seconds=5)

    included = client.watchlists.v2.get_included_actor(watchlist_id, actor.actor_id)
    assert included.actor_id == DEPARTING_ACTOR_ID
    assert [m.actor_id for m in client.watchlists.v2.iter_all_members(watchlist_id)] == [
        DEPARTING_ACTOR_ID
    ]
    assert client.watchlists.v2.get(watchlist_id).stats.included_actors_count == 1
    mine = client.watchlists.v2.get_page(actor_id=DEPARTING_ACTOR_ID)
    assert [w.watchlist_id for w in mine.watchlists] == [DEPARTING_WATCHLIST_ID]

    # Adding again is accepted and does not duplicate the member.
    assert client.watchlists.v2.add_included_actors(watchlist_id, actor.actor_id).status_code == 200
    assert client.watchlists.v2.list_members(watchlist_id).total_count == 1


def test_the_sdk_creates_the_departing_watchlist_when_the_tenant_has_none(sandbox):
    sandbox.control("POST", "/reset")
    sandbox.control("POST", "/seed-demo", {"departing_watchlist": False})
    client = make_client(sandbox)

    with pytest.raises(WatchlistNotFoundError):
        client.watchlists.v2.get_id_by_name("DEPARTING_EMPLOYEE")

    created = client.watchlists.v2.create(WatchlistType.DEPARTING_EMPLOYEE)
    assert created.list_type == WatchlistType.DEPARTING_EMPLOYEE
    assert created.title is None
    assert created.tenant_id == "c42-sandbox-tenant-0001"
    assert created.stats.included_actors_count == 0

    fresh = make_client(sandbox)  # no cached ids: a real lookup
    assert fresh.watchlists.v2.get_id_by_name(WatchlistType.DEPARTING_EMPLOYEE) == created.watchlist_id
    fresh.watchlists.v2.add_included_actors(created.watchlist_id, [DEPARTING_ACTOR_ID])
    assert fresh.watchlists.v2.get_member(created.watchlist_id, DEPARTING_ACTOR_ID).actor_name == DEPARTING_EMAIL


def test_the_sdk_sets_and_clears_an_actors_end_date(client):
    updated = client.actors.v1.update_actor(DEPARTING_ACTOR_ID, end_date="2030-06-30")
    assert updated.actor_id == DEPARTING_ACTOR_ID
    assert updated.end_date == "2030-06-30"
    assert updated.start_date == "2021-03-01"
    assert client.actors.v1.get_actor_by_id(DEPARTING_ACTOR_ID).end_date == "2030-06-30"

    by_datetime = client.actors.v1.update_actor(
        DEPARTING_ACTOR_ID, end_date=datetime(2030, 7, 1), notes="leaving for a competitor"
    )
    assert (by_datetime.end_date, by_datetime.notes) == ("2030-07-01", "leaving for a competitor")

    cleared = client.actors.v1.update_actor(DEPARTING_ACTOR_ID, end_date="")
    assert cleared.end_date is None
    assert cleared.notes == "leaving for a competitor"
    assert client.actors.v1.get_actor_by_id(DEPARTING_ACTOR_ID).end_date is None
