"""Check each value of a CSV row or JSON object, and turn rows and objects into records.

Owns the records as they will be written; times, tags and attribute values as they are read; and
the checks that turn CSV rows (after the header, by their mapping) and JSON values (JSON Lines or
API items) into records, each yielded after its own problems.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from betas.models import NAME_MAX
from cohorts.importing.mapping import ATTRIBUTE, FIELDS, Kind
from cohorts.importing.problems import Place, Problem, _shown
from cohorts.importing.text import html_to_text
from cohorts.models import Author

ID_MAX = 200
TAG_MAX = 100
DATE_HINT = "use ISO 8601 like 2026-10-02T14:30:00Z"
# Support tools name authors their own way; Intercom, for one, says user, admin and bot.
AUTHORS = {
    **dict.fromkeys(
        ("customer", "user", "contact", "lead", "visitor", "end-user"), Author.CUSTOMER
    ),
    **dict.fromkeys(("teammate", "admin", "agent"), Author.TEAMMATE),
    **dict.fromkeys(("bot", "operator"), Author.BOT),
}
# Nothing to search in, and often the sign that the body's column is not the one mapped.
EMPTY_CUSTOMER_BODY = (
    "the customer's message is empty (once any HTML is removed): a customer's part needs its "
    "text; only teammates' and bots' parts may be empty"
)
CONVERSATION_KEYS = {"external_id", "account", "created_at", "started_at", "tags", "parts"}
PART_KEYS = {"author", "body", "created_at"}


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

    def body(self, name: str, value: object, author: Author | None) -> str | None:
        """Return a body as text; a customer's must hold some (a teammate's or bot's may not)."""
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(name, f"expected text, not {_shown(json.dumps(value))}")
            return None
        text = html_to_text(value)
        if not text and author is Author.CUSTOMER:
            self.fail(name, EMPTY_CUSTOMER_BODY)
        return text


def _account_name(check: _Checker, value: object) -> str | None:
    name = check.text("name", value)
    if name is not None and len(name) > NAME_MAX:
        check.fail("name", f"the name is longer than {NAME_MAX} characters")
    return name


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
        body = check.body("body", cell("body"), author)
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
    body = check.body("body", value.get("body"), author)
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
