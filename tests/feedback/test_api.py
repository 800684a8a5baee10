"""The feedback API: logging, the log a page at a time, one item, codifying and resolving."""

from sqlalchemy import func, select

from betas.models import AuditEntry, BetaState, Role
from feedback.models import FeedbackItem
from tests.feedback.helpers import READ_WRITE
from tests.helpers import assert_error, fields_of

API = "/api/v1"
WORDS = "  I can't find the export button.\n\nWhere did it go?  "


def log_item(client, headers, key="inbox-reports", **body):
    return client.post(f"{API}/betas/{key}/feedback", json=body, headers=headers)


def test_logging_keeps_the_words_exactly_and_reads_as_the_issue_says(client, headers, acme):
    response = log_item(client, headers, account="acme", original=WORDS, source="call")

    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    assert set(item) == {
        "id", "beta", "account", "source", "original", "type", "summary", "reason",
        "duplicate_of", "call", "blocker_state", "resolution", "cohort", "logged_by",
        "logged_at", "updated_at",
    }  # fmt: skip
    assert item["original"] == WORDS
    assert (item["beta"], item["account"], item["source"], item["cohort"]) == (
        "inbox-reports",
        "acme",
        "call",
        "early",
    )
    assert item["type"] is item["summary"] is item["reason"] is item["call"] is None
    assert client.get(f"{API}/feedback/{item['id']}", headers=headers).get_json() == item


def test_the_account_is_found_by_its_name_when_no_id_matches(client, headers, acme):
    response = log_item(client, headers, account="acme ltd", original="Nice.")
    assert response.get_json()["account"] == "acme"


def test_bad_input_is_refused_with_its_field_and_nothing_is_stored(
    client, headers, acme, unchanged
):
    cases = [
        ({"account": "nobody", "original": "Hi"}, "account"),
        ({"account": "acme", "original": "   "}, "original"),
        ({"account": "acme", "original": "x" * 20_001}, "original"),
        ({"account": "acme", "original": "Hi", "type": "rant"}, "type"),
        ({"account": "acme", "original": "Hi", "source": "pigeon"}, "source"),
        ({"account": "acme", "original": "Hi", "duplicate_of": 999_999}, "duplicate_of"),
        ({"account": "acme", "original": "Hi\x00"}, "original"),
    ]
    for body, field in cases:
        with unchanged():
            error = assert_error(log_item(client, headers, **body), 422, "validation_failed")
        assert fields_of(error) == [field], body


def test_a_draft_beta_takes_no_feedback(client, headers, make_beta, pm, acme, unchanged):
    make_beta(owner=pm, key="draft-one", state=BetaState.DRAFT)
    with unchanged():
        response = log_item(client, headers, key="draft-one", account="acme", original="Hi")
    assert_error(response, 409, "conflict")


def test_a_decided_beta_still_takes_feedback(client, headers, make_beta, pm, acme):
    make_beta(owner=pm, key="done", state=BetaState.DECIDED)
    assert log_item(client, headers, key="done", account="acme", original="Hi").status_code == 201


def test_a_viewer_logs_but_may_not_codify(client, bearer, make_user, acme, db, unchanged):
    viewer = bearer(make_user(Role.VIEWER), READ_WRITE)
    item = log_item(client, viewer, account="acme", original="Slow.").get_json()
    assert item["logged_by"].startswith("viewer")
    with unchanged():
        response = client.patch(
            f"{API}/feedback/{item['id']}", json={"type": "usability"}, headers=viewer
        )
    assert_error(response, 403, "forbidden")


def test_codifying_a_blocker_then_resolving_it_is_audited(client, headers, acme, db):
    item = log_item(client, headers, account="acme", original="It crashes.").get_json()
    url = f"{API}/feedback/{item['id']}"

    codes = {"type": "blocker", "summary": "Crash on open", "reason": "Large inbox"}
    codified = client.patch(url, json=codes, headers=headers).get_json()
    assert codified["blocker_state"] == "open"
    refused = client.patch(url, json={"blocker_state": "resolved"}, headers=headers)
    assert fields_of(assert_error(refused, 422, "validation_failed")) == ["resolution"]
    resolved = client.patch(
        url, json={"blocker_state": "resolved", "resolution": "Fixed in 2.3"}, headers=headers
    ).get_json()

    assert (resolved["blocker_state"], resolved["resolution"]) == ("resolved", "Fixed in 2.3")
    actions = db.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.object_type == "FeedbackItem", AuditEntry.object_id == str(item["id"]))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["feedback.logged", "feedback.changed", "feedback.resolved"]


def test_the_original_never_changes(client, headers, acme, unchanged):
    item = log_item(client, headers, account="acme", original="Keep me.").get_json()
    with unchanged():
        response = client.patch(
            f"{API}/feedback/{item['id']}", json={"original": "Changed"}, headers=headers
        )
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["original"]


def test_a_duplicate_points_at_an_earlier_item_of_the_same_beta(client, headers, acme):
    first = log_item(client, headers, account="acme", original="Export?").get_json()
    second = log_item(
        client, headers, account="acme", original="Export!", duplicate_of=first["id"]
    ).get_json()
    assert second["duplicate_of"] == first["id"]
    later = client.patch(
        f"{API}/feedback/{first['id']}", json={"duplicate_of": second["id"]}, headers=headers
    )
    assert fields_of(assert_error(later, 422, "validation_failed")) == ["duplicate_of"]


def test_the_log_pages_by_cursor_and_filters(client, headers, acme, db, count_queries):
    for n in range(5):
        log_item(client, headers, account="acme", original=f"Said {n}")
    log_item(
        client,
        headers,
        account="acme",
        original="Coded",
        type="question",
        summary="How?",
        reason="Docs",
    )
    url = f"{API}/betas/inbox-reports/feedback"

    seen, cursor = [], None
    while True:
        query = {"cursor": cursor} if cursor else {}
        body = client.get(url, query_string=query, headers=headers).get_json()
        seen += [item["original"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == ["Coded", *(f"Said {n}" for n in reversed(range(5)))]

    codified = client.get(url, query_string={"codified": "true"}, headers=headers).get_json()
    assert [i["original"] for i in codified["items"]] == ["Coded"]
    raw = client.get(url, query_string={"codified": "false"}, headers=headers).get_json()
    assert len(raw["items"]) == 5
    typed = client.get(url, query_string={"type": "question"}, headers=headers).get_json()
    assert [i["type"] for i in typed["items"]] == ["question"]
    bad = client.get(url, query_string={"cursor": "nonsense"}, headers=headers)
    assert fields_of(assert_error(bad, 422, "validation_failed")) == ["cursor"]
    assert db.scalar(select(func.count()).select_from(FeedbackItem)) == 6


def test_reading_the_log_runs_as_many_statements_whatever_its_rows(
    client, headers, acme, count_queries
):
    url = f"{API}/betas/inbox-reports/feedback"
    log_item(client, headers, account="acme", original="One")
    client.get(url, headers=headers)  # the token's use is recorded once a minute: not counted
    with count_queries() as few:
        client.get(url, headers=headers)
    for n in range(10):
        log_item(client, headers, account="acme", original=f"More {n}")
    with count_queries() as many:
        client.get(url, headers=headers)
    assert many.n == few.n


def test_an_unknown_item_is_not_found(client, headers):
    assert_error(client.get(f"{API}/feedback/12345", headers=headers), 404, "not_found")
