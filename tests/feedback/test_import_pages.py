"""The feedback import pages: upload a sheet, map and preview it, import it; who may."""

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from betas.models import AuditEntry, Role
from cohorts.models import ImportRun
from feedback.models import FeedbackItem
from tests.helpers import import_button, mapping_of, problems_of

SHEET = (
    b"Feedback,Kind,Summary,Why,Customer,When\n"
    b"Where is CSV export?,question,Cannot find,Export is hidden,acme,2026-10-02\n"
    b"<b>Crash</b> on big inbox,blocker,Crash,Big inbox,Acme Ltd,\n"
)
EXAMPLE = Path(__file__).resolve().parents[2] / "static" / "examples" / "feedback.csv"


@pytest.fixture(autouse=True)
def private_instance(app, tmp_path, monkeypatch):
    """Keep uploads in the test's own folder, not in the project's instance folder."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return tmp_path


def count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(FeedbackItem))


def upload(post, key, content: bytes, name: str = "kept.csv"):
    return post(f"/betas/{key}/feedback/import", {"file": (io.BytesIO(content), name)})


def test_upload_map_preview_and_import_a_sheet(db, client, login, post, beta, pm, acme):
    login(pm)
    assert "import a sheet kept by hand" in client.get(f"/betas/{beta.key}/feedback").get_data(
        as_text=True
    )
    response = upload(post, beta.key, SHEET)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    form = mapping_of(html)
    assert [form[f"columns-{i}-maps_to"] for i in range(6)] == [
        "original", "type", "summary", "reason", "account", "date"
    ]  # fmt: skip
    assert "&lt;b&gt;Crash&lt;/b&gt;" in html and "<b>Crash</b>" not in html
    assert "2 feedback items" in html and import_button(html) == "enabled"
    assert count(db) == 0

    done = post(f"/betas/{beta.key}/feedback/import/run", form)

    assert done.status_code == 302
    assert done.location.endswith(f"/betas/{beta.key}/feedback#feedback")
    assert count(db) == 2
    run = db.scalar(select(ImportRun))
    assert (run.kind, run.file_name, run.user) == ("feedback", "kept.csv", pm)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "feedback.imported"))
    page = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert entry is not None and "imported 2 feedback items from" in page


def test_a_sheet_with_problems_lists_them_and_imports_nothing(
    db, login, post, beta, pm, acme, unchanged
):
    login(pm)
    bad = b"Feedback,Customer,Kind\nHi,nobody,rant\nFine,acme,praise\n"
    html = upload(post, beta.key, bad).get_data(as_text=True)
    assert problems_of(html) == [
        ("2", "Kind", "Choose a type among feature_request, blocker, comprehension, usability, "
         "improvement, question, praise."),
        ("2", "Customer", "no account has the id or name &#39;nobody&#39;"),
    ]  # fmt: skip
    assert import_button(html) == "disabled"
    form = mapping_of(html)
    with unchanged():
        refused = post(f"/betas/{beta.key}/feedback/import/run", form)
    assert refused.status_code == 422
    assert "Nothing was imported: 2 problems found." in refused.get_data(as_text=True)


def test_remapping_a_column_previews_again(db, login, post, beta, pm, acme):
    login(pm)
    sheet = b"Notes,Client\nHello there,acme\n"
    html = upload(post, beta.key, sheet).get_data(as_text=True)
    assert "no column holds the original feedback or comment" in html
    form = mapping_of(html)
    form["columns-0-maps_to"] = "original"
    form["columns-1-maps_to"] = "account"
    again = post(f"/betas/{beta.key}/feedback/import/preview", form).get_data(as_text=True)
    assert problems_of(again) == [] and import_button(again) == "enabled"
    assert post(f"/betas/{beta.key}/feedback/import/run", form).status_code == 302
    assert db.scalar(select(FeedbackItem.original)) == "Hello there"


def test_the_example_sheet_imports_for_the_example_accounts(
    db, login, post, beta, pm, make_account
):
    for external_id in ("acme", "globex", "initech"):
        make_account(external_id, external_id.title())
    login(pm)
    html = upload(post, beta.key, EXAMPLE.read_bytes(), "feedback.csv").get_data(as_text=True)
    assert problems_of(html) == [], html
    assert post(f"/betas/{beta.key}/feedback/import/run", mapping_of(html)).status_code == 302
    assert count(db) == 6


def test_the_upload_form_refuses_a_missing_or_foreign_file(login, post, client, beta, pm):
    login(pm)
    page = client.get(f"/betas/{beta.key}/feedback/import").get_data(as_text=True)
    assert 'id="upload-form"' in page and "examples/feedback.csv" in page
    missing = post(f"/betas/{beta.key}/feedback/import", {})
    assert missing.status_code == 422 and "Choose a file." in missing.get_data(as_text=True)
    foreign = upload(post, beta.key, b"x", "notes.pdf")
    assert foreign.status_code == 422
    assert "Upload a CSV file" in foreign.get_data(as_text=True)


def test_only_the_owner_and_admins_may_import(db, client, login, post, make_user, beta, acme):
    for role in (Role.VIEWER, Role.PM):
        login(make_user(role))
        assert client.get(f"/betas/{beta.key}/feedback/import").status_code == 403
        assert upload(post, beta.key, SHEET).status_code == 403
        log_page = client.get(f"/betas/{beta.key}/feedback").get_data(as_text=True)
        assert "import a sheet kept by hand" not in log_page
        post("/sign-out")
    login(make_user(Role.ADMIN))
    html = upload(post, beta.key, SHEET).get_data(as_text=True)
    assert post(f"/betas/{beta.key}/feedback/import/run", mapping_of(html)).status_code == 302
    assert count(db) == 2


def test_a_draft_takes_no_import(client, login, make_beta, pm):
    draft = make_beta(owner=pm, key="draft")
    login(pm)
    response = client.get(f"/betas/{draft.key}/feedback/import")
    assert response.status_code == 409
    assert "A draft beta has no customers yet" in response.get_data(as_text=True)


def test_a_tampered_or_forgotten_upload_is_refused(
    login, post, client, beta, pm, acme, private_instance, unchanged
):
    login(pm)
    form = mapping_of(upload(post, beta.key, SHEET).get_data(as_text=True))
    with unchanged():
        tampered = post(f"/betas/{beta.key}/feedback/import/run", {**form, "upload": "../x"})
        assert tampered.status_code == 400
        for kept in (private_instance / "imports").iterdir():
            kept.unlink()
        gone = post(f"/betas/{beta.key}/feedback/import/run", form)
    assert gone.status_code == 302
    assert gone.location.endswith(f"/betas/{beta.key}/feedback/import")
    assert "upload it again" in client.get(gone.location).get_data(as_text=True)
    reloaded = client.get(f"/betas/{beta.key}/feedback/import/run")
    assert reloaded.status_code == 302
