"""The import API: POST /api/v1/accounts and /conversations, scope, limits, item errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from cohorts.models import Account, Conversation, ConversationPart, ImportRun, ImportVia

API = "/api/v1"
WRITE = ("data:write",)


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def conversation(external_id: str, account: str = "acme", body: str = "<p>Hi</p>") -> dict:
    return {
        "external_id": external_id,
        "account": account,
        "tags": ["billing"],
        "parts": [
            {"author": "customer", "body": body, "created_at": "2026-10-02T14:30:00Z"},
            {"author": "teammate", "body": "Hello", "created_at": "2026-10-02T15:00:00Z"},
        ],
    }


@pytest.fixture
def headers(bearer):
    return bearer(scopes=WRITE)


@pytest.fixture
def acme(client, headers):
    response = client.post(
        f"{API}/accounts", json={"accounts": [{"external_id": "acme"}]}, headers=headers
    )
    assert response.status_code == 201, response.get_json()


def test_accounts_are_created_then_updated(db, client, headers):
    body = {
        "accounts": [
            {"external_id": "acme", "name": "Acme", "attributes": {"plan": "pro", "seats": 12}},
            {"external_id": "globex", "name": "Globex"},
        ]
    }
    response = client.post(f"{API}/accounts", json=body, headers=headers)
    assert response.status_code == 201
    assert response.get_json() == {"created": 2, "updated": 0}
    body = {"accounts": [{"external_id": "acme", "attributes": {"region": "emea"}}]}
    response = client.post(f"{API}/accounts", json=body, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"created": 0, "updated": 1}
    db.expire_all()
    acme = db.scalar(select(Account).where(Account.external_id == "acme"))
    assert (acme.name, acme.attributes) == ("Acme", {"plan": "pro", "seats": 12, "region": "emea"})


def test_conversations_are_created_then_replaced(db, client, headers, acme):
    response = client.post(
        f"{API}/conversations", json={"conversations": [conversation("c-1")]}, headers=headers
    )
    assert response.status_code == 201
    assert response.get_json() == {"created": 1, "updated": 0}
    again = conversation("c-1", body="<p>Again</p>")
    response = client.post(f"{API}/conversations", json={"conversations": [again]}, headers=headers)
    assert (response.status_code, response.get_json()) == (200, {"created": 0, "updated": 1})
    db.expire_all()
    bodies = db.scalars(select(ConversationPart.body).order_by(ConversationPart.id)).all()
    assert bodies == ["Again", "Hello"]


def test_without_a_token_the_answer_is_401(db, client, unchanged):
    with unchanged():
        response = client.post(f"{API}/accounts", json={"accounts": [{"external_id": "acme"}]})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert count(db, Account) == 0


def test_without_data_write_the_answer_is_403(client, bearer, unchanged):
    headers = bearer(scopes=("betas:write",))
    for path, key in (("accounts", "accounts"), ("conversations", "conversations")):
        with unchanged():
            response = client.post(f"{API}/{path}", json={key: []}, headers=headers)
        assert response.status_code == 403
        assert response.get_json()["error"]["message"] == "This token lacks the scope data:write."


def test_more_than_10000_items_are_refused_clearly(db, client, headers, unchanged):
    body = {"accounts": [{"external_id": f"a-{n}"} for n in range(10_001)]}
    with unchanged():
        response = client.post(f"{API}/accounts", json=body, headers=headers)
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large"
    assert error["message"] == (
        "Send at most 10,000 accounts a request; this one has 10,001. "
        "Split them into several requests."
    )
    assert count(db, Account) == 0


def test_10000_conversations_larger_than_1_mb_are_taken(db, client, headers, acme):
    body = {"conversations": [conversation(f"c-{n}") for n in range(10_000)]}
    assert len(json.dumps(body)) > 2 * 1024 * 1024
    response = client.post(f"{API}/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"created": 10_000, "updated": 0}
    assert count(db, ConversationPart) == 20_000


def test_a_body_over_32_mb_is_refused_before_it_is_read(client, headers, unchanged):
    body = json.dumps({"accounts": [{"external_id": "a", "name": "x" * (33 * 1024 * 1024)}]})
    with unchanged():
        response = client.post(
            f"{API}/accounts", data=body, content_type="application/json", headers=headers
        )
    assert response.status_code == 413
    assert response.get_json()["error"]["message"] == (
        "The body is larger than 32 MB: split the items into several requests."
    )


def test_other_routes_keep_the_1_mb_limit(client, bearer, unchanged):
    body = json.dumps({"key": "big", "name": "Big", "problem": "x" * (1024 * 1024)})
    headers = bearer()
    with unchanged():
        response = client.post(
            f"{API}/betas", data=body, content_type="application/json", headers=headers
        )
    assert response.status_code == 413


def test_item_errors_name_the_item_and_field_and_change_nothing(
    db, client, headers, acme, unchanged
):
    bad_author = conversation("c-2")
    bad_author["parts"][0]["author"] = "robot"
    bad_date = conversation("c-3")
    bad_date["parts"][1]["created_at"] = "31/02/2026"
    body = {"conversations": [conversation("c-1"), bad_author, bad_date, conversation("c-4", "zz")]}
    with unchanged():
        response = client.post(f"{API}/conversations", json=body, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "import_failed"
    assert error["message"] == "Nothing was imported: 3 problems found."
    assert error["details"] == [
        {
            "field": "conversations.1.parts.0.author",
            "message": "unknown author 'robot': use customer, teammate or bot",
        },
        {
            "field": "conversations.2.parts.1.created_at",
            "message": "cannot read '31/02/2026' as a date; use ISO 8601 like 2026-10-02T14:30:00Z",
        },
        {
            "field": "conversations.3.account",
            "message": "no account with id 'zz'; import accounts first",
        },
    ]
    assert count(db, Conversation) == 0


def test_a_missing_account_id_is_an_item_error(db, client, headers, unchanged):
    body = {"accounts": [{"external_id": "ok"}, {"name": "No id"}]}
    with unchanged():
        response = client.post(f"{API}/accounts", json=body, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {
            "field": "accounts.1.external_id",
            "message": "missing account id: give every account its id",
        }
    ]
    assert count(db, Account) == 0


def test_the_list_is_required(client, headers, unchanged):
    with unchanged():
        response = client.post(f"{API}/accounts", json={}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "accounts"


def test_the_openapi_document_lists_the_import_routes(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    assert "post" in paths[f"{API}/accounts"]
    assert "post" in paths[f"{API}/conversations"]


def test_an_import_through_the_api_is_recorded_with_the_tokens_user_and_name(
    db, client, make_user, make_token
):
    user = make_user()
    headers = {"Authorization": f"Bearer {make_token(user, WRITE)}"}
    body = {"accounts": [{"external_id": "acme"}, {"external_id": "globex"}]}
    assert client.post(f"{API}/accounts", json=body, headers=headers).status_code == 201
    db.expire_all()
    run = db.scalar(select(ImportRun))
    assert (run.via, run.user, run.token.name, run.file_name, run.kind) == (
        ImportVia.API,
        user,
        "test token",
        None,
        "accounts",
    )
    assert (run.created, run.updated) == (2, 0)
    assert run.who == f"{user.display_name} (token test token)"


def test_a_refused_import_through_the_api_records_nothing(db, client, headers, unchanged):
    with unchanged():
        response = client.post(f"{API}/accounts", json={"accounts": [{}]}, headers=headers)
    assert response.status_code == 422
    assert count(db, ImportRun) == 0
