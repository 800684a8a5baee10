"""The API of asks and calls: who to ask, recording asks, feedback items said on a call."""

from datetime import UTC, datetime

from sqlalchemy import select

from betas.audit import Actor
from betas.models import Role
from feedback import calls
from feedback.models import Ask
from tests.feedback.helpers import READ_WRITE
from tests.helpers import assert_error, fields_of

API = "/api/v1"


def test_who_to_ask_reads_as_the_issue_says(client, bearer, used):
    headers = bearer(used.beta.owner, ("members:read",))
    weekly = used.beta.metrics[0]
    response = client.get(
        f"{API}/betas/{used.beta.key}/who-to-ask?metric={weekly.id}&days=7", headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["left_out"] == {"not_using": 1, "cooldown": 1, "opted_out": 1}
    (acme,) = body["accounts"]
    assert set(acme) == {"account", "last_seen_at", "events"}
    assert (acme["account"], acme["events"]) == ("acme", 1)
    assert datetime.fromisoformat(acme["last_seen_at"]) < datetime.now(UTC)


def test_who_to_ask_refuses_bad_choices(client, bearer, used):
    headers = bearer(used.beta.owner, ("members:read",))
    url = f"{API}/betas/{used.beta.key}/who-to-ask"
    assert fields_of(
        assert_error(client.get(f"{url}?days=0", headers=headers), 422, "validation_failed")
    ) == ["days"]
    error = assert_error(
        client.get(f"{url}?metric=999999", headers=headers), 422, "validation_failed"
    )
    assert fields_of(error) == ["metric"]
    assert_error(client.get(f"{API}/betas/nope/who-to-ask", headers=headers), 404, "not_found")
    assert_error(
        client.get(url, headers=bearer(used.beta.owner, ("feedback:read",))),
        403,
        "forbidden",
    )


def test_asks_are_recorded_and_the_cooldown_reported(db, client, bearer, used):
    headers = bearer(used.beta.owner, ("members:write",))
    response = client.post(
        f"{API}/betas/{used.beta.key}/asks",
        json={"accounts": ["acme", "hooli"], "channel": "email"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert [a["account"] for a in body["asked"]] == ["acme"]
    assert body["asked"][0]["channel"] == "email" and body["cooldown"] == ["hooli"]
    again = client.post(
        f"{API}/betas/{used.beta.key}/asks",
        json={"accounts": ["acme"], "channel": "sms"},
        headers=headers,
    ).get_json()
    assert again == {"asked": [], "cooldown": ["acme"]}
    assert len(list(db.scalars(select(Ask).where(Ask.beta_id == used.beta.id)))) == 1


def test_bad_asks_are_refused_and_write_nothing(client, bearer, used, make_user, unchanged):
    owner = bearer(used.beta.owner, ("members:write",))
    viewer = bearer(make_user(Role.VIEWER), ("members:write",))
    url = f"{API}/betas/{used.beta.key}/asks"
    with unchanged():
        error = assert_error(
            client.post(url, json={"accounts": [], "channel": "email"}, headers=owner),
            422,
            "validation_failed",
        )
        assert fields_of(error) == ["accounts"]
        error = assert_error(
            client.post(url, json={"accounts": ["initech"], "channel": "email"}, headers=owner),
            422,
            "validation_failed",
        )
        assert "initech" in error["message"]
        assert_error(
            client.post(url, json={"accounts": ["acme"]}, headers=owner), 422, "validation_failed"
        )
        assert_error(
            client.post(url, json={"accounts": ["acme"], "channel": "email"}, headers=viewer),
            403,
            "forbidden",
        )


def call_with_acme(db, used):
    return calls.create_call(
        db,
        Actor(used.beta.owner),
        used.beta,
        account="acme",
        held_at=datetime(2026, 12, 3, tzinfo=UTC),
    )


def test_an_item_said_on_a_call_names_it(db, client, bearer, used):
    call = call_with_acme(db, used)
    headers = bearer(used.beta.owner, READ_WRITE)
    url = f"{API}/betas/{used.beta.key}/feedback"
    response = client.post(
        url, json={"account": "acme", "original": "Where?", "call": call.id}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert (item["call"], item["source"]) == (call.id, "call")
    assert client.get(f"{API}/feedback/{item['id']}", headers=headers).get_json()["call"] == call.id
    plain = client.post(url, json={"account": "acme", "original": "Hi"}, headers=headers).get_json()
    assert (plain["call"], plain["source"]) == (None, "other")


def test_an_item_with_a_call_of_another_account_is_refused(db, client, bearer, used, unchanged):
    call = call_with_acme(db, used)
    headers = bearer(used.beta.owner, READ_WRITE)
    url = f"{API}/betas/{used.beta.key}/feedback"
    with unchanged():
        error = assert_error(
            client.post(
                url, json={"account": "globex", "original": "Hi", "call": call.id}, headers=headers
            ),
            422,
            "validation_failed",
        )
        assert fields_of(error) == ["call"]
        error = assert_error(
            client.post(
                url,
                json={"account": "acme", "original": "Hi", "call": call.id, "source": "email"},
                headers=headers,
            ),
            422,
            "validation_failed",
        )
        assert fields_of(error) == ["source"]
