"""The Google Sheets adapter: the only module that imports gspread.

A small surface over gspread 6's HTTP client, which speaks the Sheets REST API: a spreadsheet's
metadata, a worksheet's values, one batched RAW write, one batch of sheet changes (add a
worksheet, freeze the header, resize). The credentials are a service account's key file
(SHIPCALL_GOOGLE_CREDENTIALS; google-auth posts its signed assertion to the key's `token_uri`, as
given); the API's base (SHIPCALL_SHEETS_API_URL) replaces Google's in every URL gspread builds.

Every call is retried a bounded number of times (SHIPCALL_SHEETS_ATTEMPTS), with jittered
exponential waits, on 429, 5xx, dropped connections and timeouts; a `Retry-After` the API sends
is waited for, unless it is longer than a retry may wait, in which case the call gives up at
once and says when to come back (`SheetsError.retry_after`). Every failure is a SheetsError with
a message a PM can act on.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from gspread.urls import SPREADSHEETS_API_V4_BASE_URL
from gspread.utils import extract_id_from_url
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from betas.config import Settings
from betas.db import utcnow

GOOGLE_BASE = SPREADSHEETS_API_V4_BASE_URL.removesuffix("/v4/spreadsheets")
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
# How long one retry may wait for a Retry-After; a longer one ends the call and sets the next try.
LONGEST_WAIT = 30.0
KEY = re.compile(r"^[A-Za-z0-9_-]{10,200}$")
RETRIED_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))


class SheetsError(Exception):
    """A Sheets call failed: `kind` says how, `message` what to do; `retry_after` in seconds."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Worksheet:
    """A worksheet's properties: its id (gid), title and grid size."""

    sheet_id: int
    title: str
    row_count: int
    column_count: int
    frozen_rows: int


def spreadsheet_key(text: str) -> str:
    """Return the spreadsheet key a URL or a bare key names, or raise ValueError."""
    value = (text or "").strip()
    if KEY.match(value):
        return value
    try:
        key = extract_id_from_url(value)
    except gspread.exceptions.NoValidUrlKeyFound:
        key = ""
    if not key or not KEY.match(key):
        raise ValueError(
            "Give the spreadsheet's link (https://docs.google.com/spreadsheets/d/…) or its key."
        )
    return key


def service_account_email(credentials_path: str) -> str:
    """Return the email of the service account whose key file this is."""
    try:
        return json.loads(Path(credentials_path).read_text())["client_email"]
    except (OSError, ValueError, KeyError) as exc:
        raise SheetsError(
            "credentials", f"The key file {credentials_path} is not a service account's key."
        ) from exc


def a1(title: str, first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    """Return an A1 range on a worksheet: rows from 1, columns from 0."""
    quoted = "'" + title.replace("'", "''") + "'"
    return f"{quoted}!{column_letter(first_col)}{first_row}:{column_letter(last_col)}{last_row}"


def column_letter(index: int) -> str:
    """Return the letters of a column counted from 0 (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    raw = response.headers.get("Retry-After") if response is not None else None
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(raw) - utcnow()).total_seconds())
        except (TypeError, ValueError):
            return None


def _retried(exc: BaseException) -> bool:
    if isinstance(exc, gspread.exceptions.APIError):
        return exc.response.status_code in RETRIED_STATUSES and not _too_long(exc)
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)


def _too_long(exc: BaseException) -> bool:
    after = _retry_after(exc)
    return after is not None and after > LONGEST_WAIT


class _ShipcallHTTPClient(gspread.HTTPClient):
    """gspread's HTTP client, pointed at the configured API and retrying as the module says."""

    api_url = GOOGLE_BASE
    retrying: Retrying

    def request(self, method, endpoint, *args, **kwargs):
        """Send the request to the configured API, retrying what may be retried."""
        if endpoint.startswith(GOOGLE_BASE):
            endpoint = self.api_url + endpoint[len(GOOGLE_BASE) :]
        return self.retrying(super().request, method, endpoint, *args, **kwargs)


class Sheets:
    """A connection to the Sheets API as the configured service account."""

    def __init__(
        self,
        credentials_path: str,
        api_url: str = GOOGLE_BASE,
        *,
        timeout: float = 20.0,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.email = service_account_email(credentials_path)
        try:
            client = gspread.service_account(
                filename=credentials_path, scopes=SCOPES, http_client=_ShipcallHTTPClient
            )
        except (ValueError, KeyError, GoogleAuthError) as exc:
            raise SheetsError("credentials", f"The key file {credentials_path}: {exc}") from exc
        self.http = client.http_client
        self.http.api_url = api_url.rstrip("/")
        self.http.set_timeout(timeout)
        self.http.retrying = Retrying(
            retry=retry_if_exception(_retried),
            stop=stop_after_attempt(attempts),
            wait=self._wait(wait_random_exponential(multiplier=backoff, max=LONGEST_WAIT)),
            sleep=sleep,
            reraise=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options) -> Sheets:
        """Connect as the configured service account; refuse when none is configured."""
        if not settings.google_credentials:
            raise SheetsError(
                "not_configured",
                "No Google credentials are configured (SHIPCALL_GOOGLE_CREDENTIALS).",
            )
        return cls(
            settings.google_credentials,
            settings.sheets_api_url,
            timeout=settings.sheets_timeout,
            attempts=settings.sheets_attempts,
            backoff=settings.sheets_backoff,
            **options,
        )

    @staticmethod
    def _wait(jittered):
        def wait(state: RetryCallState) -> float:
            after = _retry_after(state.outcome.exception()) if state.outcome else None
            return max(after, jittered(state)) if after is not None else jittered(state)

        return wait

    # The calls

    def worksheets(self, spreadsheet_id: str) -> list[Worksheet]:
        """Read a spreadsheet's metadata: its worksheets (one request)."""
        body = self._call(
            "read", self.http.fetch_sheet_metadata, spreadsheet_id, {"includeGridData": "false"}
        )
        return [_worksheet(sheet["properties"]) for sheet in body.get("sheets", [])]

    def values(self, spreadsheet_id: str, title: str) -> list[list[str]]:
        """Read every value of a worksheet as text, row by row (one request)."""
        quoted = "'" + title.replace("'", "''") + "'"
        body = self._call(
            "read",
            self.http.values_get,
            spreadsheet_id,
            quoted,
            {"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        return [[str(cell) for cell in row] for row in body.get("values", [])]

    def write(self, spreadsheet_id: str, ranges: Sequence[tuple[str, list[list[str]]]]) -> None:
        """Write every range in one request, RAW: no text ever becomes a formula."""
        if not ranges:
            return
        body = {
            "valueInputOption": "RAW",
            "data": [{"range": name, "majorDimension": "ROWS", "values": v} for name, v in ranges],
        }
        self._call("write", self.http.values_batch_update, spreadsheet_id, body)

    def change(self, spreadsheet_id: str, requests_: Sequence[dict]) -> dict:
        """Send sheet changes (add a worksheet, freeze rows, resize) in one request."""
        return self._call(
            "write", self.http.batch_update, spreadsheet_id, {"requests": list(requests_)}
        )

    def _call(self, purpose: str, call, spreadsheet_id: str, *args):
        try:
            return call(spreadsheet_id, *args)
        except gspread.exceptions.APIError as exc:
            raise _api_error(exc, purpose, spreadsheet_id, self.email) from exc
        except requests.exceptions.Timeout as exc:
            raise SheetsError(
                "unavailable", "Google Sheets did not answer in time; the change will be retried."
            ) from exc
        except (requests.exceptions.ConnectionError, TransportError) as exc:
            raise SheetsError(
                "unavailable", "Google Sheets could not be reached; the change will be retried."
            ) from exc
        except RefreshError as exc:
            raise SheetsError(
                "credentials",
                f"Google refused the service account's key ({exc.args[0] if exc.args else exc}).",
            ) from exc


def _worksheet(properties: dict) -> Worksheet:
    grid = properties.get("gridProperties", {})
    return Worksheet(
        sheet_id=int(properties.get("sheetId", 0)),
        title=properties.get("title", ""),
        row_count=int(grid.get("rowCount", 0)),
        column_count=int(grid.get("columnCount", 0)),
        frozen_rows=int(grid.get("frozenRowCount", 0)),
    )


def _api_error(
    exc: gspread.exceptions.APIError, purpose: str, spreadsheet_id: str, email: str
) -> SheetsError:
    status = exc.response.status_code
    if status == 404:
        return SheetsError(
            "not_found", f"No spreadsheet has the key {spreadsheet_id}: check the link."
        )
    if status == 403 and purpose == "read":
        return SheetsError(
            "not_shared",
            f"The spreadsheet is not shared with {email}: share it with that address as an editor.",
        )
    if status == 403:
        return SheetsError(
            "read_only",
            f"{email} may only view the spreadsheet: share it with that address as an editor.",
        )
    if status == 401:
        return SheetsError("credentials", "Google refused the service account's token.")
    if status == 429:
        return SheetsError(
            "unavailable",
            "Google Sheets asked us to slow down (429); the change will be retried.",
            _retry_after(exc),
        )
    if status >= 500:
        return SheetsError(
            "unavailable",
            f"Google Sheets failed ({status}); the change will be retried.",
            _retry_after(exc),
        )
    message = exc.error.get("message") if isinstance(exc.error, dict) else str(exc)
    return SheetsError("refused", f"Google Sheets refused the request ({status}): {message}")
