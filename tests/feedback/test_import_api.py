"""The feedback import API: a sheet's rows as JSON items, logged all or nothing."""

from sqlalchemy import select

from betas.models import Role
from cohorts.models import ImportRun, ImportVia
from feedback.models import FeedbackItem
from tests.feedback.helpers import READ_WRITE
from tests.helpers import assert_error

API = "/api/v1"


def send(client, headers, items, key="inbox-reports"):
    return client.post(
        f"{API}/betas/{key}/feedback/imports", json={"items": items}, headers=headers
    )


def test_items_are_logged_with_their_dates_and_the_run_is_recorded(db, client, headers, acme):
    response = send(
        client,
        headers,
        [
            {"original": "Export?", "account": "acme", "type": "question", "date": "2026-10-02",
             "summary": "Export", "reason": "Export is hidden", "source": "email"},
            {"original": "Nice", "account": "Acme Ltd", "date": "2026-10-03T09:00:00Z"},
        ],
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"created": 2, "updated": 0}
    logged = list(db.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))
    assert [(i.original, i.source.value, i.logged_at.isoformat()) for i in logged] == [
        ("Export?", "email", "2026-10-02T00:00:00+00:00"),
        ("Nice", "other", "2026-10-03T09:00:00+00:00"),
    ]
    run = db.scalar(select(ImportRun))
    assert (run.kind, run.via, run.token is not None) == ("feedback", ImportVia.API, True)


def test_bad_items_are_named_by_their_field_and_nothing_is_logged(client, headers, acme, unchanged):
    items = [
        {"original": "Fine", "account": "acme"},
        {"original": "", "account": "nobody", "type": "rant"},
        {"original": "Hi", "account": "acme", "date": "yesterday", "colour": "red"},
        {"original": "Hi", "account": "acme", "summary": ["a list"]},
        {"original": "Hi", "account": "acme", "reason": False},
    ]
    with unchanged():
        error = assert_error(send(client, headers, items), 422, "import_failed")
    assert {(d["field"], d["message"][:30]) for d in error["details"]} == {
        ("items.1.original", "Paste what the customer said: "),
        ("items.1.type", "Choose a type among feature_re"),
        ("items.1.account", "no account has the id or name "),
        ("items.2.date", "cannot read the date 'yesterda"),
        ("items.2.colour", "not a field; the fields are: o"),
        ("items.3.summary", "expected text"),
        ("items.4.reason", "expected text"),
    }


def test_only_the_owner_or_an_admin_imports_and_never_into_a_draft(
    client, bearer, make_user, make_beta, beta, acme, unchanged
):
    item = [{"original": "Hi", "account": "acme"}]
    others = [bearer(make_user(role), READ_WRITE) for role in (Role.VIEWER, Role.PM)]
    with unchanged():
        for headers in others:
            assert_error(send(client, headers, item), 403, "forbidden")
    admin = bearer(make_user(Role.ADMIN), READ_WRITE)
    assert send(client, admin, item).status_code == 201
    draft = make_beta(key="draft")
    with unchanged():
        assert_error(send(client, admin, item, key="draft"), 409, "conflict")
    assert draft.key == "draft"


def test_too_many_items_or_the_read_scope_alone_are_refused(client, bearer, pm, headers, acme):
    many = [{"original": "Hi", "account": "acme"}] * 10_001
    assert_error(send(client, headers, many), 413, "too_large")
    read_only = bearer(pm, ("feedback:read",))
    assert_error(send(client, read_only, [{"original": "Hi", "account": "acme"}]), 403, "forbidden")
    empty = send(client, headers, [])
    assert empty.status_code == 422, empty.get_json()
    assert_error(empty, 422, "import_failed")
