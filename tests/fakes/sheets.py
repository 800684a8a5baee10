"""A fake Google Sheets server: the REST shapes gspread uses, over real HTTP on 127.0.0.1.

It answers the OAuth token endpoint google-auth posts a service account's signed assertion to
(checking the RS256 signature against the key it was told to trust), a spreadsheet's metadata,
a range's values (get, update, append, batchUpdate, RAW or USER_ENTERED) and the spreadsheet's
batchUpdate (addSheet, updateSheetProperties, appendDimension, deleteDimension). Every request is
counted. Faults are queued (`fail`): a status with a Retry-After, a delay beyond the client's
timeout, or a change applied whose answer is lost. Tests change the sheet as people would
(`Sheet.rows`), and read it back as Google would show it (`values`).

`service_account_key` writes a key file of a fresh RSA key whose token_uri is this server.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CELL = re.compile(r"^([A-Z]+)(\d+)?$")
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26
# google-auth's assertion names Google's token endpoint as its audience, whatever the token_uri.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class Sheet:
    """A worksheet: its properties and its cells, row by row (rows grow as they are written)."""

    sheet_id: int
    title: str
    row_count: int = DEFAULT_ROWS
    column_count: int = DEFAULT_COLUMNS
    frozen_rows: int = 0
    rows: list[list[str]] = field(default_factory=list)

    def properties(self) -> dict:
        """Return the worksheet's properties as the metadata shows them."""
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": 0,
            "sheetType": "GRID",
            "gridProperties": {
                "rowCount": self.row_count,
                "columnCount": self.column_count,
                "frozenRowCount": self.frozen_rows,
            },
        }

    def values(self) -> list[list[str]]:
        """Return the values as Google does: trailing empty cells and rows left out."""
        out = []
        for row in self.rows:
            cells = list(row)
            while cells and cells[-1] == "":
                cells.pop()
            out.append(cells)
        while out and not out[-1]:
            out.pop()
        return out

    def put(self, row: int, col: int, value: str) -> None:
        """Set one cell (rows and columns from 0), growing the rows to reach it."""
        while len(self.rows) <= row:
            self.rows.append([])
        cells = self.rows[row]
        while len(cells) <= col:
            cells.append("")
        cells[col] = value


@dataclass
class Spreadsheet:
    """A spreadsheet: its key, title, worksheets and whom it is shared with."""

    key: str
    title: str
    sheets: list[Sheet]
    shares: dict[str, str]  # email → "writer" or "reader"

    def sheet(self, title: str) -> Sheet | None:
        """Return the worksheet of this title, or None."""
        return next((s for s in self.sheets if s.title == title), None)


@dataclass
class Fault:
    """What the next matching request gets instead of its answer."""

    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    applied: bool = False  # do the change first, then lose its answer
    where: str = ""  # a part of the path it applies to ("" for any)


class ApiError(Exception):
    """An error the fake answers in Google's shape."""

    def __init__(self, status: int, message: str, code: str):
        self.status, self.message, self.code = status, message, code


class FakeSheets:
    """The fake server's state and its thread; use it as a context manager."""

    def __init__(self):
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.trusted: dict[str, rsa.RSAPublicKey] = {}
        self.tokens: dict[str, str] = {}  # access token → service account email
        self.requests: list[tuple[str, str]] = []
        self.writes: list[dict] = []  # each values write: its valueInputOption and ranges
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._next_sheet_id = 1000
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSheets:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # Arranging

    def add_spreadsheet(
        self, key: str, *, shared_with: str | None = None, role: str = "writer", title="Feedback"
    ) -> Spreadsheet:
        """Add a spreadsheet with one empty worksheet, shared (or not) with `shared_with`."""
        with self.lock:
            sheet = Sheet(sheet_id=0, title="Sheet1")
            book = Spreadsheet(key, title, [sheet], {shared_with: role} if shared_with else {})
            self.spreadsheets[key] = book
            return book

    def fail(self, times: int = 1, **fault) -> None:
        """Queue `times` faults for the next matching requests."""
        with self.lock:
            self.faults.extend(Fault(**fault) for _ in range(times))

    def sheet(self, key: str, title: str = "Shipcall feedback") -> Sheet:
        """Return a spreadsheet's worksheet, to read or change as people would."""
        sheet = self.spreadsheets[key].sheet(title)
        assert sheet is not None, f"no worksheet {title!r}"
        return sheet

    def count(self, exclude_token: bool = True) -> int:
        """Return how many requests were made (the token's left out unless asked)."""
        with self.lock:
            return sum(1 for _m, path in self.requests if not (exclude_token and path == "/token"))

    def kinds(self) -> Counter:
        """Return how many requests of each kind were answered (or failed)."""
        with self.lock:
            return Counter(_kind(method, path) for method, path in self.requests)

    def reset(self) -> None:
        """Forget every spreadsheet, fault and counted request (the trusted keys stay)."""
        with self.lock:
            self.spreadsheets.clear()
            self.faults.clear()
            self.requests.clear()
            self.writes.clear()

    def reset_counts(self) -> None:
        """Forget the requests and writes counted so far."""
        with self.lock:
            self.requests.clear()
            self.writes.clear()

    # Answering

    def take_fault(self, path: str) -> Fault | None:
        """Return (and remove) the first queued fault matching this path, if any."""
        with self.lock:
            for index, fault in enumerate(self.faults):
                if fault.where in path:
                    return self.faults.pop(index)
        return None

    def token(self, form: dict[str, list[str]]) -> dict:
        """Grant an access token for a service account's signed assertion, checked."""
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            raise ApiError(400, "unsupported grant type", "invalid_grant")
        assertion = (form.get("assertion") or [""])[0]
        try:
            head, body, signature = assertion.split(".")
            claims = json.loads(_unb64(body))
            key = self.trusted[claims["iss"]]
            key.verify(
                _unb64(signature),
                f"{head}.{body}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception as exc:  # any flaw in the assertion is Google's invalid_grant
            raise ApiError(400, f"Invalid JWT: {exc}", "invalid_grant") from None
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE or claims.get("exp", 0) < time.time():
            raise ApiError(400, "Invalid JWT: audience or expiry", "invalid_grant")
        access = secrets.token_urlsafe(16)
        self.tokens[access] = claims["iss"]
        return {"access_token": access, "expires_in": 3600, "token_type": "Bearer"}

    def answer(self, method: str, path: str, query: dict, body: dict, email: str | None):
        """Answer one Sheets API request as the service account `email`."""
        if email is None:
            raise ApiError(
                401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
            )
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", path)
        if not match:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        key, rest = match.group(1), unquote(match.group(2))
        book = self.spreadsheets.get(key)
        if book is None:
            raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
        role = book.shares.get(email)
        if role is None:
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        writes = method != "GET"
        if writes and role != "writer":
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")
        if method == "GET" and rest == "":
            return {
                "spreadsheetId": key,
                "properties": {"title": book.title, "locale": "en_US"},
                "sheets": [{"properties": s.properties()} for s in book.sheets],
            }
        if method == "GET" and rest.startswith("/values/"):
            name = rest[len("/values/") :]
            sheet, _box = self._range(book, name)
            return {"range": name, "majorDimension": "ROWS", "values": sheet.values()}
        if method == "POST" and rest == "/values:batchUpdate":
            option = body.get("valueInputOption")
            self.writes.append({"option": option, "ranges": [d["range"] for d in body["data"]]})
            # Google checks every range before writing any: a batch is all or nothing.
            boxes = [(self._range(book, d["range"]), d["values"]) for d in body["data"]]
            for (sheet, box), values in boxes:
                self._check_grid(sheet, box, values)
            for (sheet, box), values in boxes:
                self._write(sheet, box, values, option)
            return {"spreadsheetId": key, "totalUpdatedCells": sum(_cells(v) for _r, v in boxes)}
        if method == "PUT" and rest.startswith("/values/"):
            option = query.get("valueInputOption", ["RAW"])[0]
            self.writes.append({"option": option, "ranges": [rest[len("/values/") :]]})
            sheet, box = self._range(book, rest[len("/values/") :])
            self._check_grid(sheet, box, body["values"])
            self._write(sheet, box, body["values"], option)
            return {"spreadsheetId": key, "updatedCells": _cells(body["values"])}
        if method == "POST" and rest.startswith("/values/") and rest.endswith(":append"):
            option = query.get("valueInputOption", ["RAW"])[0]
            sheet, _box = self._range(book, rest[len("/values/") : -len(":append")])
            start = len(sheet.values())
            self.writes.append({"option": option, "ranges": [f"append@{start + 1}"]})
            box = (start, 0, start + len(body["values"]) - 1, 0)
            self._check_grid(sheet, box, body["values"])
            self._write(sheet, box, body["values"], option)
            return {"spreadsheetId": key, "updates": {"updatedRows": len(body["values"])}}
        if method == "POST" and rest == ":batchUpdate":
            return {
                "spreadsheetId": key,
                "replies": [self._change(book, r) for r in body["requests"]],
            }
        raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")

    def _range(self, book: Spreadsheet, name: str) -> tuple[Sheet, tuple]:
        title, _, cells = name.partition("!") if "!" in name else (name, "", "")
        if title.startswith("'") and title.endswith("'"):
            title = title[1:-1].replace("''", "'")
        sheet = book.sheet(title)
        if sheet is None:
            raise ApiError(400, f"Unable to parse range: {name}", "INVALID_ARGUMENT")
        if not cells:
            return sheet, (0, 0, None, None)
        first, _, last = cells.partition(":")
        r1, c1 = _cell(first)
        r2, c2 = _cell(last) if last else (r1, c1)
        return sheet, (r1, c1, r2, c2)

    @staticmethod
    def _check_grid(sheet: Sheet, box: tuple, values: list[list]) -> None:
        r1, c1, _r2, _c2 = box
        last_row = r1 + len(values)
        last_col = c1 + max((len(v) for v in values), default=0)
        if last_row > sheet.row_count or last_col > sheet.column_count:
            raise ApiError(
                400,
                f"Range exceeds grid limits. Max rows: {sheet.row_count}, max columns: "
                f"{sheet.column_count}",
                "INVALID_ARGUMENT",
            )

    @staticmethod
    def _write(sheet: Sheet, box: tuple, values: list[list], option: str | None) -> None:
        r1, c1, _r2, _c2 = box
        for i, row in enumerate(values):
            for j, value in enumerate(row):
                text = "" if value is None else str(value)
                if option == "USER_ENTERED" and text[:1] in ("=", "+", "-", "@"):
                    text = "#ERROR!"  # it ran as a formula: what RAW prevents
                sheet.put(r1 + i, c1 + j, text)

    def _change(self, book: Spreadsheet, request: dict) -> dict:
        if "addSheet" in request:
            props = request["addSheet"].get("properties", {})
            if book.sheet(props.get("title", "")) is not None:
                raise ApiError(400, "A sheet with that name already exists.", "INVALID_ARGUMENT")
            grid = props.get("gridProperties", {})
            self._next_sheet_id += 1
            sheet = Sheet(
                sheet_id=self._next_sheet_id,
                title=props["title"],
                row_count=grid.get("rowCount", DEFAULT_ROWS),
                column_count=grid.get("columnCount", DEFAULT_COLUMNS),
                frozen_rows=grid.get("frozenRowCount", 0),
            )
            book.sheets.append(sheet)
            return {"addSheet": {"properties": sheet.properties()}}
        if "updateSheetProperties" in request:
            props = request["updateSheetProperties"]["properties"]
            sheet = self._by_id(book, props["sheetId"])
            grid = props.get("gridProperties", {})
            sheet.row_count = grid.get("rowCount", sheet.row_count)
            sheet.column_count = grid.get("columnCount", sheet.column_count)
            sheet.frozen_rows = grid.get("frozenRowCount", sheet.frozen_rows)
            sheet.title = props.get("title", sheet.title)
            return {}
        if "appendDimension" in request:
            spec = request["appendDimension"]
            sheet = self._by_id(book, spec["sheetId"])
            if spec["dimension"] == "ROWS":
                sheet.row_count += spec["length"]
            else:
                sheet.column_count += spec["length"]
            return {}
        if "deleteDimension" in request:
            spec = request["deleteDimension"]["range"]
            sheet = self._by_id(book, spec["sheetId"])
            del sheet.rows[spec["startIndex"] : spec["endIndex"]]
            sheet.row_count -= spec["endIndex"] - spec["startIndex"]
            return {}
        raise ApiError(400, f"Unknown request {sorted(request)}", "INVALID_ARGUMENT")

    @staticmethod
    def _by_id(book: Spreadsheet, sheet_id: int) -> Sheet:
        sheet = next((s for s in book.sheets if s.sheet_id == sheet_id), None)
        if sheet is None:
            raise ApiError(400, f"No grid with id: {sheet_id}", "INVALID_ARGUMENT")
        return sheet


def _kind(method: str, path: str) -> str:
    if path == "/token":
        return "token"
    if path.endswith(":batchUpdate") and "/values" in path:
        return "values_batch_update"
    if path.endswith(":batchUpdate"):
        return "batch_update"
    if "/values/" in path:
        return "values_get" if method == "GET" else "values_write"
    return "metadata"


def _cells(values: list[list]) -> int:
    return sum(len(row) for row in values)


def _cell(text: str) -> tuple[int, int | None]:
    match = CELL.match(text)
    if not match:
        raise ApiError(400, f"Unable to parse range: {text}", "INVALID_ARGUMENT")
    col = 0
    for letter in match.group(1):
        col = col * 26 + ord(letter) - 64
    return int(match.group(2) or 1) - 1, col - 1


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _handler(fake: FakeSheets):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:  # quiet: the tests read counts, not logs
            pass

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._serve("GET")

        def do_POST(self):  # noqa: N802
            self._serve("POST")

        def do_PUT(self):  # noqa: N802
            self._serve("PUT")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.requests.append((method, parts.path))
            fault = fake.take_fault(parts.path)
            if fault and fault.delay and not fault.applied:
                time.sleep(fault.delay)
            if fault and not fault.applied:
                self._send_fault(fault)
                return
            try:
                with fake.lock:
                    if parts.path == "/token":
                        answer = fake.token(parse_qs(raw.decode()))
                    else:
                        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
                        email = fake.tokens.get(token) if scheme == "Bearer" else None
                        body = json.loads(raw) if raw else {}
                        answer = fake.answer(method, parts.path, parse_qs(parts.query), body, email)
            except ApiError as exc:
                if parts.path == "/token":  # the OAuth endpoint's own error shape
                    self._send(exc.status, {"error": exc.code, "error_description": exc.message})
                    return
                self._send(
                    exc.status,
                    {"error": {"code": exc.status, "message": exc.message, "status": exc.code}},
                )
                return
            if fault:  # the change was made; its answer is lost
                time.sleep(fault.delay)
                self._send_fault(fault)
                return
            self._send(200, answer)

        def _send_fault(self, fault: Fault) -> None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            status_name = "RESOURCE_EXHAUSTED" if fault.status == 429 else "INTERNAL"
            body = {"error": {"code": fault.status, "message": "fault", "status": status_name}}
            self._send(fault.status, body, headers)

        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout fault)

    return Handler


def service_account_key(fake: FakeSheets, directory: Path, name: str = "shipcall") -> Path:
    """Write a service account key file of a fresh RSA key, trusted by the fake; return its path."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = f"{name}@shipcall-tests.iam.gserviceaccount.com"
    fake.trusted[email] = key.public_key()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = directory / f"{name}-key.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "shipcall-tests",
                "private_key_id": secrets.token_hex(20),
                "private_key": pem,
                "client_email": email,
                "client_id": "1234567890",
                "token_uri": f"{fake.url}/token",
            }
        )
    )
    return path
