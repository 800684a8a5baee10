"""GET /api/v1/betas/{key}/members/{account}/activity: what an account did since joining."""

from __future__ import annotations

from tests.helpers import assert_error
from tests.usage.sending import API

READ = ("members:read",)


def test_the_activity_gives_the_usage_since_joining_and_each_metric(client, bearer, joined):
    response = client.get(
        f"{API}/betas/{joined.beta.key}/members/acme/activity", headers=bearer(scopes=READ)
    )
    assert response.status_code == 200
    weekly, scheduling = joined.beta.metrics
    assert response.get_json() == {
        "account": "acme",
        "joined_at": joined.start.isoformat(),
        "last_seen_at": joined.last.isoformat(),
        "events": [
            {
                "action": "opened",
                "object": "report",
                "place": "",
                "count": 3,
                "days": 3,
                "last_at": joined.last.isoformat(),
            }
        ],
        "metrics": [
            {"id": weekly.id, "name": "Weekly use", "counts": True},
            {"id": scheduling.id, "name": "Scheduling", "counts": False},
        ],
    }


def test_a_member_without_events_has_none(client, bearer, joined):
    body = client.get(
        f"{API}/betas/{joined.beta.key}/members/globex/activity", headers=bearer(scopes=READ)
    ).get_json()
    assert body["last_seen_at"] is None and body["events"] == []
    assert [m["counts"] for m in body["metrics"]] == [False, False]


def test_an_unknown_beta_or_an_account_not_in_it_is_not_found(client, bearer, joined, make_account):
    make_account("umbrella")
    headers = bearer(scopes=READ)
    for path in ("nope/members/acme", f"{joined.beta.key}/members/umbrella"):
        response = client.get(f"{API}/betas/{path}/activity", headers=headers)
        assert_error(response, 404, "not_found")


def test_the_activity_needs_the_members_read_scope(client, bearer, joined):
    response = client.get(
        f"{API}/betas/{joined.beta.key}/members/acme/activity",
        headers=bearer(scopes=("betas:read",)),
    )
    assert_error(response, 403, "forbidden")
