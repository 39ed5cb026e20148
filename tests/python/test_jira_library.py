"""The `jira` library (PyPI `jira`) against the sandbox's Jira Cloud fake, REST API v3."""

import time
import uuid

import pytest
from jira import JIRA, JIRAError

from conftest import JIRA_API_TOKEN, JIRA_EMAIL

ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"  # sandbox/src/jira.rs


def make_jira(sandbox, token: str = JIRA_API_TOKEN) -> JIRA:
    return JIRA(
        server=f"{sandbox.url}/jira",
        basic_auth=(JIRA_EMAIL, token),
        options={"rest_api_version": "3"},
        timeout=30,
    )


@pytest.fixture
def jira(fresh_demo) -> JIRA:
    return make_jira(fresh_demo)


def adf(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def test_the_library_sees_a_jira_cloud_server_and_the_demo_account(jira):
    assert jira._is_cloud
    assert jira.server_info()["deploymentType"] == "Cloud"
    me = jira.myself()
    assert me["accountId"] == ACCOUNT_ID
    assert me["emailAddress"] == JIRA_EMAIL
    assert me["active"] is True
    assert jira.current_user() == ACCOUNT_ID


def test_wrong_credentials_are_refused_with_401(fresh_demo):
    with pytest.raises(JIRAError) as err:
        make_jira(fresh_demo, token="not-the-token")
    assert err.value.status_code == 401


def test_the_library_creates_an_issue_with_an_adf_description_and_finds_it_by_search(jira, fresh_demo):
    label = f"incydr-alert-{uuid.uuid4().hex[:12]}"
    description = adf("Alert id: 1234 for departing.dev@example.com")
    issue = jira.create_issue(
        fields={
            "project": {"key": "SEC"},
            "issuetype": {"name": "Task"},
            "summary": "Incydr alert: exfiltration by departing.dev@example.com",
            "description": description,
            "labels": ["incydr", label],
        }
    )
    assert issue.key.startswith("SEC-")
    assert issue.fields.summary == "Incydr alert: exfiltration by departing.dev@example.com"
    assert issue.fields.issuetype.name == "Task"
    # The issue's project is the SEC project itself (same id and name as GET project/SEC).
    project = jira.project("SEC")
    assert (project.id, project.name) == ("10000", "Security")
    assert (issue.fields.project.key, issue.fields.project.id) == ("SEC", project.id)
    assert issue.fields.project.name == project.name
    assert issue.fields.project.self == project.self
    assert issue.raw["fields"]["description"] == description
    assert sorted(issue.fields.labels) == sorted(["incydr", label])

    # The demo's search lag is 0; allow for a configured lag, bounded.
    lag_ms = fresh_demo.control("GET", "/config")["jira_search_lag_ms"]
    assert lag_ms == 0
    deadline = time.monotonic() + lag_ms / 1000 + 2
    while True:
        found = jira.search_issues(f'project = SEC AND labels = "{label}"')
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [i.key for i in found] == [issue.key]
    assert found[0].fields.summary == issue.fields.summary
    assert found[0].fields.project.id == "10000"
    assert found[0].raw["fields"]["description"] == description

    # Cloud search goes through /rest/api/3/search/jql; the removed /search was not called.
    routes = fresh_demo.control("GET", "/counts")["routes"]
    assert routes.get("jira GET /rest/api/3/search/jql", 0) >= 1
    assert not any(r.endswith("/rest/api/3/search") for r in routes)

    again = jira.issue(issue.key)
    assert again.id == issue.id
    assert again.raw["fields"]["description"] == description


def refused_create(jira: JIRA, fields: dict) -> dict:
    """The 400 body of a create the fake refuses."""
    with pytest.raises(JIRAError) as err:
        jira.create_issue(fields=fields)
    assert err.value.status_code == 400
    return err.value.response.json()


def test_a_plain_string_description_is_refused_as_jira_cloud_does(jira):
    fields = {
        "project": {"key": "SEC"},
        "issuetype": {"name": "Task"},
        "summary": "plain description",
        "description": "not ADF",
    }
    assert refused_create(jira, fields) == {
        "errorMessages": [],
        "errors": {
            "description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        },
    }


def test_the_library_creates_an_issue_by_issue_type_id_and_priority_id_on_a_p1_to_p4_project(jira):
    # IR has its own issue types and a P1-P4 priority scheme (sandbox/src/jira/state.rs).
    project = jira.project("IR")
    assert [(t.id, t.name) for t in project.issueTypes] == [("10200", "Task"), ("10201", "Incident")]
    assert {p.name: p.id for p in jira.priorities()}["P1"] == "10001"
    issue = jira.create_issue(
        fields={
            "project": {"key": "IR"},
            "issuetype": {"id": "10200"},
            "summary": "Incydr alert: exfiltration by departing.dev@example.com",
            "description": adf("Severity: critical"),
            "labels": ["incydr", f"incydr-alert-{uuid.uuid4().hex[:12]}"],
            "priority": {"id": "10001"},
        }
    )
    assert issue.key.startswith("IR-")
    assert (issue.fields.issuetype.id, issue.fields.issuetype.name) == ("10200", "Task")
    assert (issue.fields.priority.id, issue.fields.priority.name) == ("10001", "P1")
    assert issue.fields.project.key == "IR"


def test_priority_is_refused_on_a_project_whose_create_screen_lacks_it(jira, fresh_demo):
    fields = {
        "project": {"key": "OPS"},
        "issuetype": {"id": "10100"},
        "summary": "with a priority",
        "description": adf("x"),
        "priority": {"id": "1"},
    }
    assert refused_create(jira, fields) == {
        "errorMessages": [],
        "errors": {
            "priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
        },
    }
    assert not [i for i in fresh_demo.control("GET", "/state")["jira_issues"] if i["project"] == "OPS"]
