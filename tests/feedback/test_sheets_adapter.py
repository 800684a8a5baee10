"""The Sheets adapter: real gspread and google-auth against the fake, retries bounded and honest."""

import json

import pytest

from feedback.sheets import Sheets, SheetsError, a1, column_letter, spreadsheet_key
from tests.feedback.helpers import SHEET_URL, SPREADSHEET


@pytest.fixture
def waits():
    return []


@pytest.fixture
def adapter(fake, key_file, waits):
    sheets = Sheets(
        str(key_file), fake.url, timeout=0.5, attempts=3, backoff=0.001, sleep=waits.append
    )
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    sheets.worksheets(SPREADSHEET)  # the token first: faults below are the API's
    return sheets


def test_google_auth_posts_a_signed_assertion_to_the_keys_token_uri(adapter, fake):
    assert [w.title for w in adapter.worksheets(SPREADSHEET)] == ["Sheet1"]
    assert fake.kinds()["token"] == 1 and fake.kinds()["metadata"] == 2


def test_a_retry_waits_what_retry_after_says(adapter, fake, waits):
    fake.fail(2, status=429, retry_after="2")
    adapter.values(SPREADSHEET, "Sheet1")
    assert waits and all(w >= 2 for w in waits) and len(waits) == 2


def test_a_retry_after_longer_than_a_retry_may_wait_gives_up_at_once(adapter, fake, waits):
    fake.fail(1, status=429, retry_after="120")
    with pytest.raises(SheetsError) as failed:
        adapter.values(SPREADSHEET, "Sheet1")
    assert failed.value.retry_after == 120 and waits == []


def test_retries_are_bounded_and_jittered(adapter, fake, waits):
    fake.fail(5, status=502)
    with pytest.raises(SheetsError, match="502"):
        adapter.values(SPREADSHEET, "Sheet1")
    assert len(waits) == 2 and fake.kinds()["values_get"] == 3


def test_a_refused_request_is_not_retried(adapter, fake, waits):
    with pytest.raises(SheetsError) as failed:
        adapter.write(SPREADSHEET, [("'Sheet1'!A2000:A2000", [["x"]])])
    assert failed.value.kind == "refused" and waits == []


def test_an_unreachable_api_is_said_so(key_file):
    sheets = Sheets(str(key_file), "http://127.0.0.1:9", timeout=0.2, attempts=1)
    with pytest.raises(SheetsError, match="could not be reached"):
        sheets.worksheets(SPREADSHEET)


def test_a_key_file_that_is_no_service_accounts_is_refused(tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": "authorized_user"}))
    with pytest.raises(SheetsError, match="not a service account"):
        Sheets(str(path))


def test_links_and_keys_name_the_spreadsheet():
    assert spreadsheet_key(SHEET_URL) == SPREADSHEET
    assert spreadsheet_key(f"  {SPREADSHEET} ") == SPREADSHEET
    with pytest.raises(ValueError):
        spreadsheet_key("https://example.com/x")
    assert (column_letter(0), column_letter(25), column_letter(26)) == ("A", "Z", "AA")
    assert a1("It's", 2, 0, 3, 13) == "'It''s'!A2:N3"
