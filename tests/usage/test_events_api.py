"""POST /api/v1/events: stored once, duplicates counted, accounts made, every bad event refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cohorts.models import Account
from shipcall.app import MAX_REQUEST_BYTES
from tests.helpers import assert_error, fields_of, snapshot
from tests.usage.sending import AGO, API, EVENTS, count, counted_by_hand, event, rollup_rows
from usage.events import MAX_BATCH, Ingested, ingest_items
from usage.models import EventKind, UsageDay, UsageEvent


def test_a_batch_is_stored_and_counted(db, send):
    response = send(event(id="a"), event(id="b", account="globex"), event(id="c", place="inbox"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"accepted": 3, "duplicates": 0}
    assert count(db, UsageEvent) == 3
    assert count(db, EventKind) == 2
    assert sum(events for events, _first, _last in rollup_rows(db).values()) == 3


def test_every_field_is_stored_as_sent_kinds_trimmed_and_lower_cased(db, send):
    sent = event(
        id="7f9c-1",
        account=" acme ",
        user=" u-42 ",
        action=" Opened",
        object="REPORT ",
        place=" Inbox ",
        metadata={"plan": "pro", "seats": 12},
        occurred_at="2026-10-02T16:30:00+02:00",
    )
    assert send(sent).get_json() == {"accepted": 1, "duplicates": 0}
    stored = db.scalar(select(UsageEvent))
    kind = db.get(EventKind, stored.kind_id)
    assert (kind.action, kind.object, kind.place) == ("opened", "report", "inbox")
    assert db.get(Account, stored.account_id).external_id == "acme"
    assert stored.client_event_id == "7f9c-1"
    assert stored.user_ref == "u-42"
    assert stored.details == {"plan": "pro", "seats": 12}
    assert stored.occurred_at == datetime(2026, 10, 2, 14, 30, tzinfo=UTC)
    assert stored.received_at > datetime.now(UTC) - timedelta(minutes=1)


def test_an_absent_place_and_metadata_are_empty(db, send):
    send(event(id="a"))
    stored = db.scalar(select(UsageEvent))
    assert db.get(EventKind, stored.kind_id).place == ""
    assert stored.details == {}
    assert stored.user_ref is None


def test_a_retried_batch_adds_nothing(db, send):
    batch = [event(), event(account="globex"), event(action="shared")]
    assert send(*batch).get_json() == {"accepted": 3, "duplicates": 0}
    before = snapshot(db)
    response = send(*batch)
    assert response.status_code == 200
    assert response.get_json() == {"accepted": 0, "duplicates": 3}
    assert snapshot(db) == before  # events, accounts, kinds and rollup all unchanged


def test_an_event_sent_again_keeps_its_first_copy(db, send):
    send(event(id="a", metadata={"n": 1}))
    response = send(event(id="a", metadata={"n": 2}), event(id="b"))
    assert response.get_json() == {"accepted": 1, "duplicates": 1}
    stored = db.scalar(select(UsageEvent).where(UsageEvent.client_event_id == "a"))
    assert stored.details == {"n": 1}


def test_a_batch_of_new_and_sent_events_adds_just_the_new_ones_to_the_rollup(db, send):
    send(event(id="a"), event(id="b", account="globex"))
    batch = [
        event(id="b", account="globex"),
        event(id="c", account="initech", action="shared"),
        event(id="a"),
        event(id="d", account="globex", occurred_at=AGO.isoformat()),
    ]
    assert send(*batch).get_json() == {"accepted": 2, "duplicates": 2}
    assert rollup_rows(db) == counted_by_hand(db, UTC)
    assert sum(events for events, _first, _last in rollup_rows(db).values()) == 4


def test_an_id_repeated_within_a_batch_counts_once_and_the_first_wins(db, send):
    response = send(event(id="a", metadata={"n": 1}), event(id="b"), event(id="a", action="x"))
    assert response.get_json() == {"accepted": 2, "duplicates": 1}
    assert count(db, UsageEvent) == 2
    stored = db.scalar(select(UsageEvent).where(UsageEvent.client_event_id == "a"))
    assert stored.details == {"n": 1}
    assert db.get(EventKind, stored.kind_id).action == "opened"
    assert [events for events, _first, _last in rollup_rows(db).values()] == [2]


def test_an_unknown_account_is_created_with_just_its_id(db, send):
    db.add(Account(external_id="acme", name="Acme", attributes={"plan": "pro"}))
    db.flush()
    send(event(account="acme"), event(account="newco"), event(account="newco"))
    assert count(db, Account) == 2
    acme = db.scalar(select(Account).where(Account.external_id == "acme"))
    assert (acme.name, acme.attributes) == ("Acme", {"plan": "pro"})
    newco = db.scalar(select(Account).where(Account.external_id == "newco"))
    assert (newco.name, newco.attributes) == ("", {})
    assert newco.created_at is not None


def test_a_later_import_fills_in_an_account_first_seen_in_events(db, send, client, bearer):
    send(event(account="newco"))
    response = client.post(
        f"{API}/accounts",
        json={
            "accounts": [{"external_id": "newco", "name": "NewCo", "attributes": {"plan": "pro"}}]
        },
        headers=bearer(scopes=("data:write",)),
    )
    assert response.get_json() == {"created": 0, "updated": 1}
    db.expire_all()
    newco = db.scalar(select(Account).where(Account.external_id == "newco"))
    assert (newco.name, newco.attributes) == ("NewCo", {"plan": "pro"})


def test_an_empty_batch_stores_nothing(send, unchanged):
    with unchanged():
        response = send()
    assert response.get_json() == {"accepted": 0, "duplicates": 0}


def test_a_batch_takes_a_handful_of_statements_whatever_its_size(db, count_queries):
    def statements(size: int, start: int) -> tuple[Ingested, int]:
        batch = [
            event(id=f"e{start + i}", account=f"acct-{start + i}", action=f"a{(start + i) % 20}")
            for i in range(size)
        ]
        with count_queries() as counter:
            result = ingest_items(db, batch, UTC)
        return result, counter.n

    db.connection()  # the test's savepoint begins before counting
    # SQLite reads the greatest event id before adding events, to tell which it added.
    last_id = 0 if db.get_bind().dialect.name == "postgresql" else 1
    # Kinds found and added, accounts found and added, events added, the accounts' memberships
    # read, the rollup upserted (the accounts are in no beta: no stored values to mark stale).
    assert statements(3, 0) == (Ingested(3, 0), 7 + last_id)
    assert statements(MAX_BATCH, 1_000) == (Ingested(MAX_BATCH, 0), 7 + last_id)
    # Sent again: kinds and accounts found, no event new, so the rollup is left alone.
    assert statements(MAX_BATCH, 1_000) == (Ingested(0, MAX_BATCH), 3 + last_id)


# Refusals: the whole batch, each problem at its place


HOUR_AHEAD = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
REFUSED = [
    ({"id": None}, "id"),
    ({"id": ""}, "id"),
    ({"id": "x" * 129}, "id"),
    ({"id": ["a"]}, "id"),
    ({"account": None}, "account"),
    ({"account": "   "}, "account"),
    ({"account": "x" * 201}, "account"),
    ({"account": True}, "account"),
    ({"account": "a\x00b"}, "account"),
    ({"user": "x" * 201}, "user"),
    ({"user": {"id": 1}}, "user"),
    ({"user": "\ud800"}, "user"),
    ({"action": None}, "action"),
    ({"action": " "}, "action"),
    ({"action": "x" * 65}, "action"),
    ({"action": 3}, "action"),
    ({"object": None}, "object"),
    ({"object": ""}, "object"),
    ({"object": "x" * 65}, "object"),
    ({"place": "x" * 65}, "place"),
    ({"place": ["inbox"]}, "place"),
    ({"metadata": ["a", "b"]}, "metadata"),
    ({"metadata": "plan=pro"}, "metadata"),
    ({"metadata": 3}, "metadata"),
    ({"metadata": {"note": "x" * 4090}}, "metadata"),
    ({"metadata": {"ratio": float("nan")}}, "metadata"),
    ({"metadata": {"note": "\ud800"}}, "metadata"),
    ({"metadata": {"\udc00": 1}}, "metadata"),
    ({"occurred_at": None}, "occurred_at"),
    ({"occurred_at": "2026-10-02T14:30:00"}, "occurred_at"),
    ({"occurred_at": "2026-10-02"}, "occurred_at"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": 1790000000}, "occurred_at"),
    ({"occurred_at": HOUR_AHEAD}, "occurred_at"),
    ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "occurred_at"),
    ({"colour": "blue"}, "colour"),
]


@pytest.mark.parametrize(("values", "field"), REFUSED)
def test_a_bad_event_refuses_the_whole_batch_at_its_field(send, unchanged, values, field):
    with unchanged():
        response = send(event(), event(), event(), event(**values), event())
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == [f"events.3.{field}"]
    assert "Nothing was stored" in error["message"]


def test_metadata_of_exactly_4_kb_is_taken(send):
    metadata = {"note": "x" * (4096 - len('{"note":""}'))}
    assert send(event(metadata=metadata)).get_json() == {"accepted": 1, "duplicates": 0}


def test_metadata_is_measured_in_bytes_of_utf_8(send, unchanged):
    metadata = {"note": "é" * 2043}  # 2,054 characters but 4,097 bytes, with the braces
    with unchanged():
        response = send(event(metadata=metadata))
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["events.0.metadata"]


def test_a_time_a_little_ahead_is_taken_and_late_events_are_welcome(db, send):
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    last_year = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    response = send(event(occurred_at=soon), event(occurred_at=last_year))
    assert response.get_json() == {"accepted": 2, "duplicates": 0}
    assert len(rollup_rows(db)) == 2  # each on its own day


def test_an_event_that_is_not_an_object_is_refused_at_its_place(send, unchanged):
    with unchanged():
        response = send(event(), ["id", "account"], "evt")
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == ["events.1", "events.2"]


def test_every_problem_of_every_event_is_named(send, unchanged):
    with unchanged():
        response = send(event(id=None, occurred_at="soon"), event(), event(action=None))
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == ["events.0.id", "events.0.occurred_at", "events.2.action"]
    assert error["message"] == "Nothing was stored: 3 problems found."


def test_at_most_50_problems_are_listed(send, unchanged):
    with unchanged():
        response = send(*[event(id=None, account=None) for _ in range(40)])
    error = assert_error(response, 422, "validation_failed")
    assert len(error["details"]) == 50
    assert error["message"] == "Nothing was stored: 80 problems found; the first 50 are listed."


def test_more_than_1000_events_are_refused_naming_the_limit(client, headers, unchanged):
    # Small events, so that the body stays under 1 MB and the limit on events is what refuses.
    batch = [{"id": str(n)} for n in range(MAX_BATCH + 1)]
    with unchanged():
        response = client.post(EVENTS, json={"events": batch}, headers=headers)
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == ["events"]
    assert "at most 1,000 events" in error["message"]


def test_a_body_over_1_mb_is_413(client, headers, unchanged):
    body = json.dumps({"events": [event(metadata={"note": "x" * 4000}) for _ in range(300)]})
    assert len(body) > MAX_REQUEST_BYTES
    with unchanged():
        response = client.post(EVENTS, data=body, content_type="application/json", headers=headers)
    assert_error(response, 413, "too_large")


def test_malformed_json_is_400(client, headers, unchanged):
    with unchanged():
        response = client.post(
            EVENTS, data='{"events": [', content_type="application/json", headers=headers
        )
    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("body", [{}, {"events": {"id": "a"}}, {"events": "a"}])
def test_a_body_without_a_list_of_events_is_422(client, headers, unchanged, body):
    with unchanged():
        response = client.post(EVENTS, json=body, headers=headers)
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["events"]


def test_an_unknown_field_beside_the_events_is_400(client, headers, unchanged):
    with unchanged():
        response = client.post(EVENTS, json={"events": [], "source": "web"}, headers=headers)
    assert fields_of(assert_error(response, 400, "unknown_field")) == ["source"]


# Scopes


def test_an_events_token_can_send_events_and_nothing_else(client, headers, make_beta, unchanged):
    make_beta(key="b")
    with unchanged():
        for path in ("/betas", "/betas/b", "/betas/b/members", "/betas/b/members/acme"):
            response = client.get(f"{API}{path}", headers=headers)
            assert_error(response, 403, "forbidden")
        response = client.post(f"{API}/accounts", json={"accounts": []}, headers=headers)
        assert_error(response, 403, "forbidden")


def test_a_members_read_token_cannot_send_events(client, bearer, unchanged):
    members_read = bearer(scopes=("members:read",))
    with unchanged():
        response = client.post(EVENTS, json={"events": [event()]}, headers=members_read)
    error = assert_error(response, 403, "forbidden")
    assert "events:write" in error["message"]


def test_sending_without_a_token_is_401(client, unchanged):
    with unchanged():
        assert_error(client.post(EVENTS, json={"events": [event()]}), 401, "unauthorized")


def test_the_rollup_holds_no_row_for_refused_events(db, send):
    send(event(), event(occurred_at="not a time"))
    assert count(db, UsageDay) == 0
    assert AGO < datetime.now(UTC)
