"""GET /api/v1/betas/{key}/metrics/values: values per cohort per day, in a fixed number of SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from betas import lifecycle
from tests.helpers import assert_error, fields_of

API = "/api/v1"


@pytest.fixture
def today(app):
    return lifecycle.today_in(app.config["SHIPCALL"].zone)


def test_the_values_read_per_cohort_and_for_all_members(client, bearer, launched, today):
    beta = launched(size=3, days=4)
    response = client.get(
        f"{API}/betas/{beta.key}/metrics/values", headers=bearer(scopes=("betas:read",))
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["beta"], body["from"], body["to"]) == (
        beta.key,
        (today - timedelta(days=4)).isoformat(),
        today.isoformat(),
    )
    (metric,) = body["metrics"]
    assert {k: metric[k] for k in ("name", "target", "unit", "direction", "status")} == {
        "name": "Weekly use",
        "target": 40.0,
        "unit": "percent",
        "direction": "at_least",
        "status": "met",
    }
    (cohort,) = metric["cohorts"]
    assert (cohort["cohort"], cohort["kind"]) == ("early", "early_adopters")
    latest = {"day": today.isoformat(), "members": 3, "accounts": 3, "value": 100.0, "met": True}
    assert cohort["latest"] == latest
    assert metric["all_members"]["latest"] == latest
    assert len(cohort["days"]) == 5
    assert cohort["days"][0] == {
        "day": (today - timedelta(days=4)).isoformat(),
        "members": 3,
        "accounts": 3,
        "value": 100.0,
    }


def test_from_and_to_narrow_the_days(client, bearer, launched, today):
    beta = launched(size=1, days=6)
    first, last = today - timedelta(days=3), today - timedelta(days=1)
    response = client.get(
        f"{API}/betas/{beta.key}/metrics/values?from={first}&to={last}", headers=bearer()
    )
    body = response.get_json()
    assert (body["from"], body["to"]) == (first.isoformat(), last.isoformat())
    days = body["metrics"][0]["all_members"]["days"]
    assert [d["day"] for d in days] == [(first + timedelta(days=n)).isoformat() for n in range(3)]


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-13-01", "from"), ("to=yesterday", "to"), ("from=2026-10-05&to=2026-10-04", "to")],
)
def test_a_bad_date_is_422_on_its_field(client, bearer, make_beta, query, field):
    beta = make_beta()
    response = client.get(f"{API}/betas/{beta.key}/metrics/values?{query}", headers=bearer())
    assert fields_of(assert_error(response, 422, "validation_failed")) == [field]


def test_an_events_token_cannot_read_the_values(client, bearer, make_beta):
    beta = make_beta()
    response = client.get(
        f"{API}/betas/{beta.key}/metrics/values", headers=bearer(scopes=("events:write",))
    )
    assert_error(response, 403, "forbidden")


def test_the_statements_do_not_grow_with_members_or_days(
    client, db, bearer, launched, count_queries
):
    def statements(beta) -> int:
        headers = bearer()  # a new token each time: its first use is recorded, every time
        with count_queries() as counter:
            assert client.get(f"{API}/betas/{beta.key}/metrics/values", headers=headers).is_json
        return counter.n

    assert statements(launched(size=2, days=2)) == statements(launched(size=40, days=20))
