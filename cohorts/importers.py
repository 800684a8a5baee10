"""Import accounts and conversations from CSV, JSON Lines or API items, all or nothing.

One importer serves the upload pages, the `cohorts import-*` commands and the JSON API. Files are
streamed: rows are read, checked and written in batches inside one savepoint, so a million parts
never sit in memory at once. Any problem (a missing id, an unreadable date, an unknown account...)
stops the writing, the rest is still checked so that the first problems can all be listed, and the
savepoint is rolled back: a bad file changes nothing. Callers commit once, when nothing was wrong.

Bodies may be HTML, as support tools export them: parts keep readable text only. Customer-written
parts are indexed for search by the database itself (see migration 0003), so rows are only
inserted and deleted here.
"""

from __future__ import annotations

import csv
import enum
import html
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from betas.db import utcnow
from betas.errors import Conflict, DomainError, NotFound
from betas.models import NAME_MAX
from cohorts.models import Account, Author, Conversation, ConversationPart, ConversationTag

MAX_PROBLEMS = 50
ID_MAX = 200
TAG_MAX = 100
SNIFF_BYTES = 16 * 1024
DELIMITERS = ",;\t"
BOM = b"\xef\xbb\xbf"
# Rows per write: large enough that statements are few, small enough that memory stays flat.
ACCOUNT_BATCH = 2_000
CONVERSATION_BATCH = 1_000
# An import of millions of conversations touches at most this many accounts' ids at once.
ACCOUNT_CACHE_MAX = 200_000
PROGRESS_BYTES = 1024 * 1024
DATE_HINT = "use ISO 8601 like 2026-10-02T14:30:00Z"


class Kind(enum.StrEnum):
    """What a file or request holds."""

    ACCOUNTS = "accounts"
    CONVERSATIONS = "conversations"


class FileFormat(enum.StrEnum):
    """How a file is written."""

    CSV = "csv"
    JSON_LINES = "jsonl"


# Columns and fields

ATTRIBUTE = "attribute"
SKIP = "skip"
FIELDS: dict[Kind, dict[str, str]] = {
    Kind.ACCOUNTS: {
        "external_id": "Account id",
        "name": "Name",
        ATTRIBUTE: "Attribute (kept under the column's name)",
        SKIP: "Skip this column",
    },
    Kind.CONVERSATIONS: {
        "conversation": "Conversation id",
        "account": "Account id",
        "author": "Author (customer, teammate or bot)",
        "body": "Body (text or HTML)",
        "created_at": "Time of the part",
        "tags": "Tags (separated by commas or semicolons)",
        "started_at": "Start of the conversation",
        SKIP: "Skip this column",
    },
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.ACCOUNTS: ("external_id",),
    Kind.CONVERSATIONS: ("conversation", "account", "author", "body", "created_at"),
}
# What exports call each field, after normalizing: lower case, runs of other characters as "_".
SYNONYMS: dict[Kind, dict[str, tuple[str, ...]]] = {
    Kind.ACCOUNTS: {
        "external_id": (
            "external_id",
            "id",
            "account_id",
            "account",
            "accountid",
            "account_external_id",
            "company_id",
            "customer_id",
        ),
        "name": ("name", "account_name", "company", "company_name", "organization", "customer"),
    },
    Kind.CONVERSATIONS: {
        "conversation": (
            "conversation_id",
            "conversation",
            "conversationid",
            "external_id",
            "id",
            "thread_id",
            "ticket_id",
        ),
        "account": ("account_id", "account", "accountid", "account_external_id", "company_id"),
        "author": ("author", "author_type", "from", "sender", "sender_type", "author_role"),
        "body": ("body", "message", "text", "content", "body_html", "html"),
        "created_at": ("created_at", "time", "timestamp", "date", "sent_at", "datetime", "created"),
        "tags": ("tags", "tag", "labels"),
        "started_at": ("started_at", "conversation_started_at", "conversation_created_at"),
    },
}
# Support tools name authors their own way; Intercom, for one, says user, admin and bot.
AUTHORS = {
    **dict.fromkeys(
        ("customer", "user", "contact", "lead", "visitor", "end-user"), Author.CUSTOMER
    ),
    **dict.fromkeys(("teammate", "admin", "agent"), Author.TEAMMATE),
    **dict.fromkeys(("bot", "operator"), Author.BOT),
}
CONVERSATION_KEYS = {"external_id", "account", "created_at", "started_at", "tags", "parts"}
PART_KEYS = {"author", "body", "created_at"}


# Problems


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where: a file's row (or line) and column, or an API item's field."""

    message: str
    row: int | None = None
    column: str | None = None
    field: str | None = None
    unit: str = "row"

    def __str__(self) -> str:
        if self.field is not None:
            return f"{self.field}: {self.message}"
        if self.row is None:
            return self.message
        where = f"{self.unit} {self.row}"
        if self.column:
            where += f", {'column' if self.unit == 'row' else 'key'} {self.column}"
        return f"{where}: {self.message}"

    def as_detail(self) -> dict[str, Any]:
        """Return the problem as the API and the pages list it."""
        if self.field is not None:
            return {"field": self.field, "message": self.message}
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class Place:
    """Where a record came from, to say where its problems are."""

    row: int | None = None
    path: str = ""
    columns: Mapping[str, str] | None = None
    unit: str = "row"

    def problem(self, name: str, message: str) -> Problem:
        """Return a problem with the field `name` of this record."""
        if self.columns is not None:
            column = self.columns.get(name, name)
        else:
            column = f"{self.path}.{name}" if self.path else name
        if self.row is None:
            return Problem(message, field=column)
        return Problem(message, row=self.row, column=column, unit=self.unit)

    def whole(self, message: str) -> Problem:
        """Return a problem with the record as a whole."""
        if self.row is None:
            return Problem(message, field=self.path)
        return Problem(message, row=self.row, column=self.path or None, unit=self.unit)

    def child(self, key: str | int) -> Place:
        """Return the place of a value inside this record, e.g. parts.0."""
        return replace(self, path=f"{self.path}.{key}" if self.path else str(key))

    def __str__(self) -> str:
        return self.path if self.row is None else f"{self.unit} {self.row}"


class TooMuch(DomainError):
    """More than one import takes at once."""

    code = "too_large"
    status = 413


class ImportFailed(DomainError):
    """The file or request has problems; nothing was imported. Details list the first 50."""

    code = "import_failed"
    status = 422

    def __init__(self, problems: Sequence[Problem], total: int | None = None):
        total = len(problems) if total is None else total
        listed = list(problems[:MAX_PROBLEMS])
        message = f"Nothing was imported: {_plural(total, 'problem')} found"
        if total > len(listed):
            message += f"; the first {len(listed)} are listed"
        super().__init__(message + ".", [p.as_detail() for p in listed])
        self.problems = listed
        self.total = total


class ImportClashed(Conflict):
    """Another import wrote some of the same accounts or conversations at the same moment."""

    code = "import_clashed"


class _Problems:
    """The first MAX_PROBLEMS problems, and how many there were in all."""

    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.total = 0

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.listed) < MAX_PROBLEMS:
            self.listed.append(problem)

    def __bool__(self) -> bool:
        return self.total > 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _shown(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Records


@dataclass
class AccountRecord:
    """An account as it will be imported; `name` None keeps an existing account's name."""

    external_id: str
    name: str | None
    attributes: dict[str, Any]
    place: Place


@dataclass
class PartRecord:
    """One message of a conversation, its body already plain text."""

    author: Author
    body: str
    created_at: datetime


@dataclass
class ConversationRecord:
    """A conversation as it will be imported, with every part."""

    external_id: str
    account: str
    place: Place
    started_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    parts: list[PartRecord] = field(default_factory=list)

    @property
    def start(self) -> datetime | None:
        """Return when it started: as given, or else the time of its earliest part."""
        if self.started_at is not None:
            return self.started_at
        return min((p.created_at for p in self.parts), default=None)


Record = AccountRecord | ConversationRecord


@dataclass(frozen=True)
class ImportResult:
    """How many records were created and how many updated."""

    created: int
    updated: int

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated"


# Values

_HIDDEN = re.compile(r"<(?:script|style|head|template|noscript|!--)", re.I)
_DROPPED = re.compile(
    r"<(script|style|head|template|noscript)\b.*?(?:</\1\s*>|\Z)|<!--.*?(?:-->|\Z)", re.S | re.I
)
# A tag never holds a bare "<": stopping there keeps the scan linear on text like "a<b<c<d".
_TAG = re.compile(
    r"</?([a-zA-Z][a-zA-Z0-9]*)(?:[^<>\"']|\"[^<\"]*\"|'[^<']*')*>|<![^<>]*>|<\?[^<>]*>"
)
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_BLOCKS = frozenset(
    "address article aside blockquote br caption dd details div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table tbody "
    "tfoot thead tr ul".split()
)
_CELLS = frozenset(("td", "th"))
# Marks where a block element ended a line, until the source's own line breaks are gone: in HTML
# they are mere spaces. A private-use character, so no text holds it.
_BREAK = "\ue000"


def _tag_as_text(match: re.Match[str]) -> str:
    name = (match.group(1) or "").lower()
    if name in _BLOCKS:
        return _BREAK
    return " " if name in _CELLS else ""


def html_to_text(body: str) -> str:
    """Return the readable text of a body that may be HTML: no tags, entities read, tidy spaces.

    Script and style contents are dropped; block elements and <br> end lines; runs of spaces and
    blank lines shrink to one. A body without tags keeps its own line breaks.
    """
    tags = 0
    if "\x00" in body:  # PostgreSQL refuses NUL in text, and no reader misses it
        body = body.replace("\x00", "")
    if "<" in body:
        if _HIDDEN.search(body):
            body = _DROPPED.sub(" ", body)
        body, tags = _TAG.subn(_tag_as_text, body)
    if tags:
        lines = (html.unescape(body) if "&" in body else body).split(_BREAK)
    else:
        # Plain text: only complete entities are read, so "AT&T" and "&not" stay as written.
        if "&" in body:
            body = _ENTITY.sub(lambda m: html.unescape(m.group(0)), body)
        lines = body.splitlines()
    # str.split() without arguments splits on every kind of space, the no-break space included.
    return "\n".join(filter(None, (" ".join(line.split()) for line in lines)))


def parse_time(value: str) -> datetime:
    """Read an ISO 8601 time as UTC; a trailing Z means UTC, and so does no zone at all."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 falls before the first year
        raise ValueError(value) from None


def split_tags(value: str) -> list[str]:
    """Split a cell of tags separated by commas or semicolons."""
    return [tag.strip() for tag in re.split(r"[,;]", value) if tag.strip()]


_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def _attribute_value(text: str) -> str | int | float:
    """Return a CSV cell as a number when it is one (seats: 12), else as text ("007" stays)."""
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text


class _Checker:
    """Check values of one record, noting each problem at its place."""

    def __init__(self, place: Place, problems: list[Problem]):
        self.place = place
        self.problems = problems

    def fail(self, name: str, message: str) -> None:
        self.problems.append(self.place.problem(name, message))

    def text(self, name: str, value: object, *, required: str = "") -> str | None:
        """Return a text value stripped; numbers are taken as text (ids often are numbers)."""
        if value is None or value == "":
            if required:
                self.fail(name, required)
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(name, f"expected text, not {_shown(json.dumps(value))}")
            return None
        text = str(value).strip()
        if not text and required:
            self.fail(name, required)
        return text or None

    def identifier(self, name: str, value: object, noun: str) -> str | None:
        text = self.text(name, value, required=f"missing {noun} id: give every {noun} its id")
        if text is not None and len(text) > ID_MAX:
            self.fail(name, f"the id is longer than {ID_MAX} characters")
            return None
        return text

    def time(self, name: str, value: object, *, required: str = "") -> datetime | None:
        text = self.text(name, value, required=required)
        if text is None:
            return None
        try:
            return parse_time(text)
        except ValueError:
            self.fail(name, f"cannot read '{_shown(text)}' as a date; {DATE_HINT}")
            return None

    def author(self, name: str, value: object) -> Author | None:
        text = self.text(name, value, required="missing author: use customer, teammate or bot")
        if text is None:
            return None
        author = AUTHORS.get(text.lower())
        if author is None:
            self.fail(name, f"unknown author '{_shown(text)}': use customer, teammate or bot")
        return author

    def tags(self, name: str, value: object) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            tags = split_tags(value)
        elif isinstance(value, list) and all(isinstance(t, str) for t in value):
            tags = [t.strip() for t in value if t.strip()]
        else:
            self.fail(name, 'expected a list of tags, like ["billing", "reports"]')
            return []
        for tag in tags:
            if len(tag) > TAG_MAX:
                self.fail(name, f"the tag '{_shown(tag)}' is longer than {TAG_MAX} characters")
        return list(dict.fromkeys(tags))

    def body(self, name: str, value: object) -> str | None:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.fail(name, f"expected text, not {_shown(json.dumps(value))}")
            return None
        return html_to_text(value)


def _account_name(check: _Checker, value: object) -> str | None:
    name = check.text("name", value)
    if name is not None and len(name) > NAME_MAX:
        check.fail("name", f"the name is longer than {NAME_MAX} characters")
    return name


# Reading files


class _NotUtf8(Exception):
    """A line of the file is not UTF-8."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def _decoded_lines(stream: BinaryIO, progress: Callable[[int], object] | None) -> Iterator[str]:
    """Yield the lines of a binary stream as text, without a BOM, reporting bytes read."""
    unreported = 0
    for number, raw in enumerate(stream, 1):
        if number == 1:
            raw = raw.removeprefix(BOM)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8(number) from None
        if progress is not None:
            unreported += len(raw)
            if unreported >= PROGRESS_BYTES:
                progress(unreported)
                unreported = 0
        yield line
    if progress is not None and unreported:
        progress(unreported)


def _not_utf8(exc: _NotUtf8, unit: str) -> Problem:
    return Problem(
        f"the file is not UTF-8 (near {unit} {exc.line}): save it as UTF-8 and try again"
    )


def detect_format(head: bytes) -> FileFormat:
    """Tell JSON Lines (a line starts with "{") from CSV by the first bytes of a file."""
    start = head.removeprefix(BOM).lstrip()
    if not start:
        raise ImportFailed([Problem("the file is empty")])
    if start.startswith(b"["):
        raise ImportFailed(
            [Problem("this is a JSON array: save one JSON object per line (JSON Lines) instead")]
        )
    return FileFormat.JSON_LINES if start.startswith(b"{") else FileFormat.CSV


def sniff_delimiter(head: bytes) -> str:
    """Find whether the file separates cells with commas, semicolons or tabs."""
    text = head.removeprefix(BOM).decode("utf-8", errors="ignore")
    # Sniff complete lines only: a cut line looks inconsistent.
    sample = text[: text.rfind("\n") + 1] or text
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.partition("\n")[0]
        return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


def _csv_rows(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list[str]] | Problem]:
    """Yield (row number, cells) with the header as row 1, as a spreadsheet numbers rows."""
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _NotUtf8 as exc:
            yield _not_utf8(exc, "row")
            return
        except csv.Error as exc:
            yield Problem(f"cannot read this row as CSV: {exc}", row=number + 1)
            return
        number += 1
        yield number, cells


def _json_lines(lines: Iterator[str]) -> Iterator[tuple[Place, object] | Problem]:
    """Yield (place, value) for each non-blank line of JSON Lines."""
    number = 0
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except _NotUtf8 as exc:
            yield _not_utf8(exc, "line")
            return
        number += 1
        if not line.strip():
            continue
        place = Place(row=number, unit="line")
        try:
            yield place, json.loads(line)
        except ValueError as exc:
            yield place.whole(f"not valid JSON ({exc}); write one JSON object per line")


def normalize_column(column: str) -> str:
    """Return a column's name as guesses compare it: "Account ID" → "account_id"."""
    return re.sub(r"[^0-9a-z]+", "_", column.strip().lower()).strip("_")


def guess_mapping(kind: Kind, columns: Sequence[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Guess the field of each column; fields in `taken` are claimed already."""
    claimed = set(taken)
    mapping = {}
    for column in columns:
        name = normalize_column(column)
        guess = next(
            (f for f, names in SYNONYMS[kind].items() if name in names and f not in claimed),
            ATTRIBUTE if kind is Kind.ACCOUNTS else SKIP,
        )
        if guess not in (ATTRIBUTE, SKIP):
            claimed.add(guess)
        mapping[column] = guess
    return mapping


def resolve_mapping(
    kind: Kind, columns: Sequence[str], chosen: Mapping[str, str]
) -> tuple[dict[str, str], list[Problem]]:
    """Return each column's field, as chosen or else guessed, and the problems of that mapping."""
    problems = []
    fields = FIELDS[kind]
    for column, name in chosen.items():
        if column not in columns:
            problems.append(
                Problem(f"there is no column '{column}'; the columns are: {', '.join(columns)}")
            )
        elif name not in fields:
            problems.append(
                Problem(
                    f"'{name}' is not a field of {kind.value}; choose among {', '.join(fields)}",
                    column=column,
                )
            )
    chosen = {c: f for c, f in chosen.items() if c in columns and f in fields}
    guessed = guess_mapping(kind, [c for c in columns if c not in chosen], chosen.values())
    mapping = {column: chosen.get(column) or guessed[column] for column in columns}
    for name in fields:
        if name in (ATTRIBUTE, SKIP):
            continue
        holders = [c for c, f in mapping.items() if f == name]
        if len(holders) > 1:
            problems.append(
                Problem(f"the columns {', '.join(holders)} are all mapped to {name}; keep one")
            )
        elif not holders and name in REQUIRED[kind]:
            problems.append(
                Problem(f"no column holds the {fields[name].lower()}: map one to {name}")
            )
    return mapping, problems


def _header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    columns = [cell.strip() or f"column {i}" for i, cell in enumerate(cells, 1)]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    problems = [
        Problem(f"the header names the column '{c}' twice; give each column its own name", row=1)
        for c in repeated
    ]
    return columns, problems


@dataclass
class _Table:
    """The rows of a CSV file after its header, and what each column is mapped to."""

    columns: list[str]
    mapping: dict[str, str]
    rows: Iterator[tuple[int, list[str]] | Problem]

    def index(self, name: str) -> int | None:
        return next((i for i, c in enumerate(self.columns) if self.mapping[c] == name), None)

    def place_columns(self) -> dict[str, str]:
        return {name: column for column, name in self.mapping.items()}

    def cells(self) -> Iterator[tuple[int, list[str]] | Problem]:
        """Yield rows padded to the header's width; skip blank rows; flag rows too wide."""
        width = len(self.columns)
        for item in self.rows:
            if isinstance(item, Problem):
                yield item
                continue
            number, cells = item
            if len(cells) != width:
                if len(cells) > width and any(c.strip() for c in cells[width:]):
                    yield Problem(
                        f"this row has {len(cells)} cells but the header has {width}: "
                        "is a value with a comma or semicolon missing its quotes?",
                        row=number,
                    )
                    continue
                cells = (cells + [""] * width)[:width]
            if any(cells):
                yield number, cells


def _accounts_from_table(table: _Table) -> Iterator[AccountRecord | Problem]:
    id_at = table.index("external_id")
    name_at = table.index("name")
    attributes = [(i, c) for i, c in enumerate(table.columns) if table.mapping[c] == ATTRIBUTE]
    columns = table.place_columns()
    for item in table.cells():
        if isinstance(item, Problem):
            yield item
            continue
        number, cells = item
        problems: list[Problem] = []
        check = _Checker(Place(row=number, columns=columns), problems)
        external_id = check.identifier("external_id", cells[id_at], "account")
        name = _account_name(check, cells[name_at]) if name_at is not None else None
        values = {c: _attribute_value(cells[i].strip()) for i, c in attributes if cells[i].strip()}
        yield from problems
        if external_id is not None:
            yield AccountRecord(external_id, name, values, check.place)


def _conversations_from_table(table: _Table) -> Iterator[ConversationRecord | Problem]:
    """Group consecutive rows of one conversation id into one conversation."""
    at = {name: table.index(name) for name in FIELDS[Kind.CONVERSATIONS]}
    columns = table.place_columns()
    current: ConversationRecord | None = None
    for item in table.cells():
        if isinstance(item, Problem):
            yield item
            continue
        number, cells = item
        problems: list[Problem] = []
        check = _Checker(Place(row=number, columns=columns), problems)
        cell = {name: cells[index] for name, index in at.items() if index is not None}.get
        external_id = check.identifier("conversation", cell("conversation"), "conversation")
        if current is None or external_id != current.external_id:
            if current is not None:
                yield current
            current = None
            account = check.identifier("account", cell("account"), "account")
            if external_id is not None and account is not None:
                current = ConversationRecord(external_id, account, check.place)
        elif (account := cell("account", "").strip()) and account != current.account:
            check.fail(
                "account",
                f"conversation '{external_id}' is on account '{current.account}' in "
                f"{current.place}, not '{_shown(account)}'",
            )
        started_at = check.time("started_at", cell("started_at"))
        tags = check.tags("tags", cell("tags"))
        author = check.author("author", cell("author"))
        body = check.body("body", cell("body"))
        created_at = check.time(
            "created_at", cell("created_at"), required=f"missing time: {DATE_HINT}"
        )
        yield from problems
        if current is None:
            continue
        current.started_at = current.started_at or started_at
        current.tags.extend(t for t in tags if t not in current.tags)
        if not problems:
            current.parts.append(PartRecord(author, body, created_at))
    if current is not None:
        yield current


def _account_from_json(value: object, place: Place) -> list[AccountRecord | Problem]:
    """Read {"external_id", "name", "attributes": {...}, ...}: other keys are attributes too."""
    if not isinstance(value, dict):
        return [place.whole('expected an object like {"external_id": "acme", "name": ...}')]
    problems: list[Problem] = []
    check = _Checker(place, problems)
    external_id = check.identifier("external_id", value.get("external_id"), "account")
    name = _account_name(check, value.get("name"))
    attributes = {k: v for k, v in value.items() if k not in ("external_id", "name", "attributes")}
    given = value.get("attributes")
    if isinstance(given, dict):
        attributes.update(given)
    elif given is not None:
        check.fail("attributes", 'expected an object, like {"plan": "pro", "seats": 12}')
    if external_id is None:
        return problems
    return [*problems, AccountRecord(external_id, name, attributes, place)]


def _conversation_from_json(value: object, place: Place) -> list[ConversationRecord | Problem]:
    """Read {"external_id", "account", "created_at", "tags", "parts": [{...}]}."""
    if not isinstance(value, dict):
        return [place.whole('expected an object like {"external_id": ..., "parts": [...]}')]
    problems: list[Problem] = []
    check = _Checker(place, problems)
    for key in sorted(set(value) - CONVERSATION_KEYS):
        check.fail(key, f"unknown key; a conversation has {', '.join(sorted(CONVERSATION_KEYS))}")
    external_id = check.identifier("external_id", value.get("external_id"), "conversation")
    account = check.identifier("account", value.get("account"), "account")
    started_key = "started_at" if "started_at" in value else "created_at"
    started_at = check.time(started_key, value.get(started_key))
    tags = check.tags("tags", value.get("tags"))
    parts = []
    raw_parts = value.get("parts", [])
    if not isinstance(raw_parts, list):
        check.fail("parts", "expected a list of parts")
        raw_parts = []
    for index, raw in enumerate(raw_parts):
        part = _part_from_json(raw, place.child(f"parts.{index}"), problems)
        if part is not None:
            parts.append(part)
    if not raw_parts and started_key not in value:
        check.fail("parts", "a conversation without parts needs its created_at")
    if external_id is None or account is None:
        return problems
    return [*problems, ConversationRecord(external_id, account, place, started_at, tags, parts)]


def _part_from_json(value: object, place: Place, problems: list[Problem]) -> PartRecord | None:
    if not isinstance(value, dict):
        problems.append(place.whole("expected an object with author, body and created_at"))
        return None
    count = len(problems)
    check = _Checker(place, problems)
    for key in sorted(set(value) - PART_KEYS):
        check.fail(key, f"unknown key; a part has {', '.join(sorted(PART_KEYS))}")
    author = check.author("author", value.get("author"))
    body = check.body("body", value.get("body"))
    created_at = check.time(
        "created_at", value.get("created_at"), required=f"missing time: {DATE_HINT}"
    )
    if len(problems) > count:
        return None
    return PartRecord(author, body, created_at)


_FROM_JSON = {Kind.ACCOUNTS: _account_from_json, Kind.CONVERSATIONS: _conversation_from_json}


def _records_from_json(
    kind: Kind, values: Iterable[tuple[Place, object] | Problem]
) -> Iterator[Record | Problem]:
    read = _FROM_JSON[kind]
    for item in values:
        if isinstance(item, Problem):
            yield item
            continue
        place, value = item
        yield from read(value, place)


@dataclass
class Source:
    """An opened file: its format, its columns and their mapping (CSV), and its records."""

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    problems: list[Problem]
    records: Iterator[Record | Problem]


def open_file(
    stream: BinaryIO,
    kind: Kind,
    chosen: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> Source:
    """Open a seekable binary file; its problems so far (header, mapping) are in `problems`.

    `chosen` maps some CSV columns to fields; the others are guessed. JSON Lines files use the
    documented keys and take no mapping.
    """
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    file_format = detect_format(head)
    lines = _decoded_lines(stream, progress)
    if file_format is FileFormat.JSON_LINES:
        problems = []
        if chosen:
            problems.append(
                Problem("column mappings apply to CSV files; JSON Lines use the documented keys")
            )
        return Source(file_format, [], {}, problems, _records_from_json(kind, _json_lines(lines)))
    rows = _csv_rows(lines, sniff_delimiter(head))
    first = next(rows, None)
    if first is None:
        raise ImportFailed([Problem("the file is empty")])
    if isinstance(first, Problem):
        raise ImportFailed([first])
    columns, problems = _header(first[1])
    mapping, mapping_problems = resolve_mapping(kind, columns, chosen or {})
    problems += mapping_problems
    table = _Table(columns, mapping, rows)
    records = (
        _accounts_from_table(table) if kind is Kind.ACCOUNTS else _conversations_from_table(table)
    )
    return Source(file_format, columns, mapping, problems, records)


@dataclass
class Preview:
    """The first records of a file as they would be imported, and the problems among them."""

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    records: list[Record]
    problems: list[Problem]


def preview(
    stream: BinaryIO, kind: Kind, chosen: Mapping[str, str] | None = None, limit: int = 10
) -> Preview:
    """Read the first `limit` records of a file without importing anything."""
    try:
        source = open_file(stream, kind, chosen)
    except ImportFailed as exc:
        return Preview(FileFormat.CSV, [], {}, [], exc.problems)
    records: list[Record] = []
    problems = list(source.problems)
    if not problems:
        for item in source.records:
            if isinstance(item, Problem):
                problems.append(item)
            else:
                records.append(item)
            if len(records) >= limit or len(problems) >= MAX_PROBLEMS:
                break
    return Preview(source.format, source.columns, source.mapping, records, problems)


# Writing


class _AccountWriter:
    """Create or update accounts by external_id: names replaced, attributes merged."""

    batch_size = ACCOUNT_BATCH
    noun = "account"
    id_field = "external_id"
    again = "list each account once"

    def __init__(self, session: Session):
        self.session = session
        self.created = 0
        self.updated = 0

    def write(self, batch: list[AccountRecord], problems: _Problems) -> None:
        if problems:
            return  # nothing will be kept, and accounts need no check against the database
        rows = self.session.execute(
            select(Account.id, Account.external_id, Account.name, Account.attributes).where(
                Account.external_id.in_([a.external_id for a in batch])
            )
        )
        existing = {row.external_id: row for row in rows}
        now = utcnow()
        new, changed = [], []
        for account in batch:
            row = existing.get(account.external_id)
            if row is None:
                new.append(
                    {
                        "external_id": account.external_id,
                        "name": account.name or "",
                        "attributes": account.attributes,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            else:
                changed.append(
                    {
                        "id": row.id,
                        "name": row.name if account.name is None else account.name,
                        "attributes": {**(row.attributes or {}), **account.attributes},
                        "updated_at": now,
                    }
                )
        if new:
            self.session.execute(insert(Account), new)
        if changed:
            self.session.execute(update(Account), changed)
        self.created += len(new)
        self.updated += len(changed)


class _ConversationWriter:
    """Create or replace conversations by external_id, with their tags and parts."""

    batch_size = CONVERSATION_BATCH
    noun = "conversation"
    id_field = "conversation"
    again = "keep all rows of a conversation together and list it once"

    def __init__(self, session: Session):
        self.session = session
        self.created = 0
        self.updated = 0
        self.account_ids: dict[str, int] = {}

    def _find_accounts(self, external_ids: set[str]) -> None:
        """Remember the ids of these accounts, querying only those not remembered yet."""
        missing = external_ids - self.account_ids.keys()
        if not missing:
            return
        if len(self.account_ids) + len(missing) > ACCOUNT_CACHE_MAX:
            self.account_ids.clear()
            missing = external_ids
        rows = self.session.execute(
            select(Account.external_id, Account.id).where(Account.external_id.in_(missing))
        )
        self.account_ids.update(rows.all())

    def write(self, batch: list[ConversationRecord], problems: _Problems) -> None:
        self._find_accounts({c.account for c in batch})
        for conversation in batch:
            if conversation.account not in self.account_ids:
                problems.add(
                    conversation.place.problem(
                        "account",
                        f"no account with id '{_shown(conversation.account)}'; "
                        "import accounts first",
                    )
                )
        if problems:
            return
        existing = dict(
            self.session.execute(
                select(Conversation.external_id, Conversation.id).where(
                    Conversation.external_id.in_([c.external_id for c in batch])
                )
            ).all()
        )
        now = utcnow()
        if existing:
            # Replaced, not merged: the import is the conversation as the support tool has it.
            ids = list(existing.values())
            self.session.execute(
                delete(ConversationPart).where(ConversationPart.conversation_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            self.session.execute(
                delete(ConversationTag).where(ConversationTag.conversation_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            self.session.execute(
                update(Conversation),
                [
                    {
                        "id": existing[c.external_id],
                        "account_id": self.account_ids[c.account],
                        "started_at": c.start,
                        "updated_at": now,
                    }
                    for c in batch
                    if c.external_id in existing
                ],
            )
        new = [c for c in batch if c.external_id not in existing]
        if new:
            self.session.execute(
                insert(Conversation),
                [
                    {
                        "external_id": c.external_id,
                        "account_id": self.account_ids[c.account],
                        "started_at": c.start,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in new
                ],
            )
            # Cheaper than INSERT ... RETURNING with its order kept, on SQLite at least.
            existing.update(
                self.session.execute(
                    select(Conversation.external_id, Conversation.id).where(
                        Conversation.external_id.in_([c.external_id for c in new])
                    )
                ).all()
            )
        tags = [
            {"conversation_id": existing[c.external_id], "tag": tag}
            for c in batch
            for tag in c.tags
        ]
        if tags:
            self.session.execute(insert(ConversationTag), tags)
        parts = [
            {
                "conversation_id": existing[c.external_id],
                "author": p.author,
                "body": p.body,
                "created_at": p.created_at,
            }
            for c in batch
            for p in c.parts
        ]
        if parts:
            self.session.execute(insert(ConversationPart), parts)
        self.created += len(new)
        self.updated += len(batch) - len(new)


_WRITERS = {Kind.ACCOUNTS: _AccountWriter, Kind.CONVERSATIONS: _ConversationWriter}


def _run(session: Session, kind: Kind, records: Iterable[Record | Problem]) -> ImportResult:
    """Write records in batches inside a savepoint; roll it back and raise if anything was wrong.

    A record comes after its own problems: once any problem is counted, the writers only go on
    checking (does the account exist? does the id appear twice?) and write nothing more.
    """
    writer = _WRITERS[kind](session)
    try:
        with session.begin_nested():
            _write_all(records, writer)
    except IntegrityError:
        # Every id was checked against the database and the file: only another import writing
        # the same new ids at the same moment breaks a unique key. On PostgreSQL the second
        # waits for the first to commit, then fails here; its savepoint is rolled back.
        raise ImportClashed(
            f"Another import wrote some of the same {writer.noun}s at the same time, so nothing "
            "was imported from this one. Import it again: it will update what the other wrote."
        ) from None
    # Bulk statements bypass the identity map: objects loaded before would show old values.
    session.expire_all()
    return ImportResult(writer.created, writer.updated)


def _write_all(records: Iterable[Record | Problem], writer: Any) -> None:
    """Check the records and hand them to the writer in batches; raise if anything was wrong."""
    problems = _Problems()
    first_seen: dict[str, str] = {}
    batch: list[Any] = []
    for item in records:
        if isinstance(item, Problem):
            problems.add(item)
            continue
        seen = first_seen.get(item.external_id)
        if seen is not None:
            problems.add(
                item.place.problem(
                    writer.id_field,
                    f"{writer.noun} '{_shown(item.external_id)}' appears again (first in "
                    f"{seen}): {writer.again}",
                )
            )
            continue
        first_seen[item.external_id] = str(item.place)
        batch.append(item)
        if len(batch) >= writer.batch_size:
            writer.write(batch, problems)
            batch = []
    if batch:
        writer.write(batch, problems)
    if problems:
        raise ImportFailed(problems.listed, problems.total)


def import_file(
    session: Session,
    stream: BinaryIO,
    kind: Kind,
    chosen: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportResult:
    """Import a CSV or JSON Lines file of `kind`, all or nothing, and flush.

    Refuses (ImportFailed, with the first 50 problems by row and column) a file that is empty,
    not UTF-8, badly mapped, or has any bad row; then nothing is changed. `progress` is called
    with the number of bytes read since its last call.
    """
    source = open_file(stream, kind, chosen, progress)
    if source.problems:
        raise ImportFailed(source.problems)
    return _run(session, kind, source.records)


def import_items(session: Session, kind: Kind, items: Sequence[object]) -> ImportResult:
    """Import API items of `kind` (objects shaped like JSON Lines), all or nothing, and flush.

    Problems name the item's field: accounts.3.external_id, conversations.0.parts.2.author.
    """
    values = ((Place(path=f"{kind.value}.{index}"), item) for index, item in enumerate(items))
    return _run(session, kind, _records_from_json(kind, values))


# Uploads kept between the preview and the import

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class UploadGone(NotFound):
    """The uploaded file is not kept any more (imported, or older than a day)."""


class Uploads:
    """Uploaded files in a private folder: random names, owner-only, removed after a day."""

    def __init__(self, folder: Path, max_age: timedelta = timedelta(days=1)):
        self.folder = folder
        self.max_age = max_age

    @classmethod
    def in_instance(cls, instance_path: str | Path) -> Uploads:
        """Return the uploads kept in the app's instance folder."""
        return cls(Path(instance_path) / "imports")

    def save(self, stream: BinaryIO) -> str:
        """Keep a copy of the stream; return the random id that names it."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.sweep()
        upload_id = secrets.token_hex(16)
        descriptor = os.open(self._path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        return upload_id

    def open(self, upload_id: str) -> BinaryIO:
        """Open a kept file for reading; refuse an id that names no kept file."""
        try:
            return self._path(upload_id).open("rb")
        except (FileNotFoundError, ValueError):
            raise UploadGone(
                "The uploaded file is not kept any more (files are kept for a day): "
                "upload it again."
            ) from None

    def remove(self, upload_id: str) -> None:
        """Forget a kept file."""
        self._path(upload_id).unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> None:
        """Remove kept files older than `max_age`."""
        limit = (now or time.time()) - self.max_age.total_seconds()
        for path in self.folder.glob("*"):
            if _UPLOAD_ID.fullmatch(path.name) and path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)

    def _path(self, upload_id: str) -> Path:
        # The id comes back from a form: accept only what save() makes, never a path.
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ValueError("not an upload id")
        return self.folder / upload_id
