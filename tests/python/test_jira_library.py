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


def test_a_plain_string_description_is_refused_as_jira_cloud_does(jira):
    with pytest.raises(JIRAError) as err:
        jira.create_issue(
            fields={
                "project": {"key": "SEC"},
                "issuetype": {"name": "Task"},
                "summary": "plain description",
                "description": "not ADF",
            }
        )
    assert err.value.status_code == 400
    assert err.value.response.json() == {
        "errorMessages": [],
        "errors": {
            "description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        },
    }
