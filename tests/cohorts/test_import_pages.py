"""The import pages: upload, map columns, preview, import; roles, CSRF and the upload limit."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from betas.models import Role
from cohorts.models import Account, Conversation, ImportRun, ImportVia
from tests.helpers import import_button, mapping_of, problems_of

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
    with unchanged():
        html = upload(post, content, "conversations.csv", "conversations").get_data(as_text=True)
    listed = [
        ("3", "from", "unknown author &#39;robot&#39;: use customer, teammate or bot"),
        (
            "3",
            "timestamp",
            "cannot read &#39;31/02/2026&#39; as a date; use ISO 8601 like 2026-10-02T14:30:00Z",
        ),
        ("3", "account", "no account with id &#39;acme-9&#39;; import accounts first"),
    ]
    assert problems_of(html) == listed
    # Sent anyway (an old page, a forged form): the import refuses it the same way.
    with unchanged():
        response = post("/imports/run", mapping_of(html))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported: 3 problems found." in html
    assert problems_of(html) == listed
    assert count(db, Conversation) == 0 and count(db, ImportRun) == 0


def test_an_unknown_account_is_listed_before_importing(client, pm, post, unchanged):
    with unchanged():
        html = upload(post, CONVERSATIONS, "conversations.csv", "conversations").get_data(
            as_text=True
        )
    assert problems_of(html) == [
        ("2", "account", "no account with id &#39;acme&#39;; import accounts first")
    ]
    assert import_button(html) == "disabled"


def test_every_row_is_checked_and_counted_before_import_is_offered(client, pm, post, unchanged):
    rows = b"".join(b"a-%d,Account %d,pro\n" % (n, n) for n in range(15))
    content = ACCOUNTS + rows + b",Nameless,free\n"
    with unchanged():
        response = upload(post, content)
    html = response.get_data(as_text=True)
    assert "Every row checked: 18 rows, 17 accounts." in html
    assert problems_of(html) == [
        ("19", "Account ID", "missing account id: give every account its id")
    ]
    assert 'id="problems" role="alert"' in html
    assert import_button(html) == "disabled"
    assert (
        'id="import-blocked">Import is off: fix the 1 problem listed above first: a file with '
        "any problem imports nothing.</p>"
    ) in html
    assert 'aria-describedby="import-blocked"' in html


def test_a_clean_file_says_what_the_import_will_do_and_offers_it(db, client, pm, post):
    html = upload(post, ACCOUNTS).get_data(as_text=True)
    assert "Every row checked: 2 rows, 2 accounts." in html
    assert "Importing creates 2 and updates 0." in html
    assert 'id="problems"' not in html and "import-blocked" not in html
    assert import_button(html) == "enabled"
    post("/imports/run", mapping_of(html))
    html = upload(post, ACCOUNTS + b"initech,Initech,pro\n").get_data(as_text=True)
    assert "Importing creates 1 and updates 2." in html


def test_the_example_files_are_linked_and_import_without_a_problem(
    app, db, client, pm, post, unchanged
):
    html = client.get("/imports").get_data(as_text=True)
    for extension in ("csv", "jsonl"):
        for kind in ("accounts", "conversations"):
            name = f"{kind}.{extension}"
            assert f'href="/static/examples/{name}" download' in html
            served = client.get(f"/static/examples/{name}")
            assert served.status_code == 200
            content = served.get_data()
            served.close()
            assert content == (Path(app.static_folder) / "examples" / name).read_bytes()
            checked = upload(post, content, name, kind).get_data(as_text=True)
            assert problems_of(checked) == [] and import_button(checked) == "enabled", name
            assert post("/imports/run", mapping_of(checked)).status_code == 302, name
    assert count(db, Account) == 3 and count(db, Conversation) == 3


def test_the_upload_form_opens_with_a_summary_of_its_problems(client, pm, post, unchanged):
    with unchanged():
        response = post("/imports", {"kind": "accounts"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = html[html.index('class="error-summary"') :]
    assert 'href="#file">File: Choose a file.</a>' in summary[: summary.index("</div>")]
    assert 'action="/imports#upload-form"' in html and 'id="upload-form"' in html


def test_the_mapping_form_is_brought_into_view_when_sent(client, pm, post):
    html = upload(post, ACCOUNTS).get_data(as_text=True)
    assert 'action="/imports/run#mapping-form"' in html and 'id="mapping-form"' in html
    assert 'formaction="/imports/preview#mapping-form"' in html


def test_the_post_urls_opened_again_land_on_the_import_page(client, pm, unchanged):
    for path in ("/imports/preview", "/imports/run"):
        with unchanged():
            response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == "/imports"


# The history of imports


def test_an_import_from_the_page_is_recorded_with_who_when_and_which_file(
    db, client, pm, post, make_account
):
    make_account("acme")
    html = upload(post, CONVERSATIONS, "support-export.csv", "conversations").get_data(as_text=True)
    post("/imports/run", mapping_of(html))
    db.expire_all()
    run = db.scalar(select(ImportRun))
    assert (run.via, run.user, run.token, run.file_name, run.kind) == (
        ImportVia.PAGE,
        pm,
        None,
        "support-export.csv",
        "conversations",
    )
    assert (run.created, run.updated) == (1, 0)
    assert run.created_at is not None
    history = client.get("/imports").get_data(as_text=True)
    history = history[history.index('id="import-history"') :]
    assert "1 import in all, newest first." in history
    cells = re.findall(r"<td[^>]*>(.*?)</td>", history, re.S)
    assert [re.sub(r"<[^>]+>", "", c).strip() for c in cells[1:]] == [
        pm.display_name,
        "support-export.csv",
        "conversations",
        "1",
        "0",
    ]


def test_the_page_lists_the_latest_20_imports_and_how_many_in_all(db, client, pm, count_queries):
    def add_runs(n, first=0):
        db.add_all(
            ImportRun(
                kind="accounts",
                via=ImportVia.PAGE,
                file_name=f"file-{first + i}.csv",
                created=i,
                updated=0,
                user=pm,
            )
            for i in range(n)
        )
        db.flush()

    add_runs(5)
    with count_queries() as few:
        client.get("/imports")
    add_runs(20, first=5)
    with count_queries() as many:
        html = client.get("/imports").get_data(as_text=True)
    assert many.n == few.n
    assert "25 imports in all; the latest 20 are listed, newest first." in html
    assert len(re.findall(r"file-\d+\.csv", html)) == 20
    assert "file-24.csv" in html and "file-5.csv" in html and "file-4.csv" not in html


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
