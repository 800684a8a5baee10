"""The import pages: upload, map columns, preview, import; roles, CSRF and the upload limit."""

from __future__ import annotations

import io
import os
import re
import stat

import pytest
from sqlalchemy import func, select

from betas.models import Role
from cohorts.models import Account, Conversation

ACCOUNTS = b"Account ID,Name,Plan\nacme,Acme,pro\nglobex,Globex,free\n"
CONVERSATIONS = (
    b"conversation_id,account,from,message,timestamp\n"
    b"c-1,acme,customer,<p>Can I <b>export</b> this?</p>,2026-10-02T14:30:00Z\n"
)


@pytest.fixture(autouse=True)
def private_instance(app, tmp_path, monkeypatch):
    """Keep uploads in the test's own folder, not in the project's instance folder."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return tmp_path


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def upload(post, content: bytes, name: str = "accounts.csv", kind: str = "accounts"):
    return post("/imports", {"kind": kind, "file": (io.BytesIO(content), name)})


def mapping_of(html: str) -> dict[str, str]:
    """Return the mapping form's values as the browser would post them: hidden, then selected."""
    data = dict(re.findall(r'name="([\w-]+)" type="hidden" value="([^"]*)"', html))
    for name, options in re.findall(r'<select[^>]* name="([\w-]+)">(.*?)</select>', html, re.S):
        data[name] = re.search(r'<option selected value="(\w+)"', options).group(1)
    data.pop("csrf_token")
    return data


@pytest.fixture
def pm(make_user, login):
    return login(make_user(Role.PM))


def test_upload_map_preview_and_import_accounts(db, client, pm, post, private_instance):
    response = upload(post, ACCOUNTS)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    form = mapping_of(html)
    assert form["columns-0-column"] == "Account ID"
    assert [form[f"columns-{i}-maps_to"] for i in range(3)] == ["external_id", "name", "attribute"]
    assert "Globex" in html and "Plan: pro" in html
    kept = private_instance / "imports" / form["upload"]
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert count(db, Account) == 0

    form["columns-2-maps_to"] = "skip"
    html = post("/imports/preview", form).get_data(as_text=True)
    assert "Plan: pro" not in html

    response = post("/imports/run", form)
    assert response.status_code == 302
    assert response.headers["Location"] == "/imports"
    assert "Imported accounts: 2 created, 0 updated." in client.get("/imports").get_data(
        as_text=True
    )
    db.expire_all()
    assert db.scalar(select(Account).where(Account.external_id == "acme")).attributes == {}
    assert not kept.exists()


def test_conversations_are_imported_through_the_pages(db, client, pm, post, make_account):
    make_account("acme")
    html = upload(post, CONVERSATIONS, "conversations.csv", "conversations").get_data(as_text=True)
    assert "Can I export this?" in html and "<b>export</b>" not in html
    response = post("/imports/run", mapping_of(html))
    assert response.status_code == 302
    assert count(db, Conversation) == 1


def test_json_lines_need_no_mapping(db, client, pm, post):
    content = b'{"external_id": "acme", "name": "Acme", "plan": "pro"}\n'
    html = upload(post, content, "accounts.jsonl").get_data(as_text=True)
    assert "JSON Lines files use their own keys" in html
    assert post("/imports/run", mapping_of(html)).status_code == 302
    assert count(db, Account) == 1


def test_a_bad_file_lists_its_problems_and_imports_nothing(
    db, client, pm, post, make_account, unchanged
):
    make_account("acme")
    content = CONVERSATIONS + b"c-2,acme-9,robot,Hi,31/02/2026\n"
    html = upload(post, content, "conversations.csv", "conversations").get_data(as_text=True)
    with unchanged():
        response = post("/imports/run", mapping_of(html))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported: 3 problems found." in html
    assert "row 3, column from: unknown author &#39;robot&#39;" in html
    assert "row 3, column timestamp: cannot read &#39;31/02/2026&#39; as a date" in html
    assert "row 3, column account: no account with id &#39;acme-9&#39;" in html
    assert count(db, Conversation) == 0


def test_an_unknown_account_is_listed(client, pm, post, unchanged):
    html = upload(post, CONVERSATIONS, "conversations.csv", "conversations").get_data(as_text=True)
    with unchanged():
        html = post("/imports/run", mapping_of(html)).get_data(as_text=True)
    assert "row 2, column account: no account with id &#39;acme&#39;; import accounts first" in html


def test_a_file_of_another_kind_is_refused(client, pm, post, unchanged):
    with unchanged():
        response = upload(post, b"id,name\n", "accounts.xlsx")
    assert response.status_code == 422
    assert "Upload a CSV file (.csv, .tsv, .txt) or a JSON Lines file" in response.get_data(
        as_text=True
    )


def test_uploads_may_be_larger_than_the_1_mb_of_other_requests(db, client, pm, post, unchanged):
    rows = b"".join(b"acc-%06d,Account %d,pro\n" % (n, n) for n in range(60_000))
    assert len(rows) > 1.5 * 1024 * 1024
    response = upload(post, ACCOUNTS + rows)
    assert response.status_code == 200
    assert post("/imports/run", mapping_of(response.get_data(as_text=True))).status_code == 302
    assert count(db, Account) == 60_002
    big = {"upload": "0" * 32, "kind": "accounts", "columns-0-column": "x" * (2 * 1024 * 1024)}
    with unchanged():
        assert post("/imports/preview", big).status_code == 413


def test_every_form_needs_its_csrf_token(db, client, pm, post, unchanged):
    with unchanged():
        response = client.post(
            "/imports", data={"kind": "accounts", "file": (io.BytesIO(ACCOUNTS), "a.csv")}
        )
    assert response.status_code == 400
    form = mapping_of(upload(post, ACCOUNTS).get_data(as_text=True))
    with unchanged():
        assert client.post("/imports/run", data=form).status_code == 400
    assert count(db, Account) == 0


def test_an_upload_no_longer_kept_asks_for_the_file_again(client, pm, post, unchanged):
    form = mapping_of(upload(post, ACCOUNTS).get_data(as_text=True))
    assert post("/imports/run", form).status_code == 302
    with unchanged():
        response = post("/imports/run", form)
    assert response.status_code == 302
    assert "upload it again" in client.get("/imports").get_data(as_text=True)


def test_a_viewer_gets_403_and_no_import_link(db, client, make_user, login, post, unchanged):
    login(make_user(Role.VIEWER))
    with unchanged():
        assert client.get("/imports").status_code == 403
        assert upload(post, ACCOUNTS).status_code == 403
        assert post("/imports/run", {"upload": "0" * 32, "kind": "accounts"}).status_code == 403
    assert ">Import</a>" not in client.get("/").get_data(as_text=True)
    assert count(db, Account) == 0


def test_pms_see_the_import_link(client, pm):
    assert 'href="/imports">Import</a>' in client.get("/").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client, unchanged):
    with unchanged():
        response = client.get("/imports")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]
