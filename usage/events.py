"""Check usage events and ingest them once: the service behind the API and the CLI.

A batch with any bad event is refused whole (`Invalid`, one detail per problem, with its place),
and nothing is stored. A good batch is written in a handful of statements whatever its size: the
kinds missing, the accounts missing (an account Shipcall has not seen is created with just its
id: products send events before anyone imports accounts), the events with INSERT ... ON CONFLICT
DO NOTHING (`betas.db.insert_new` says which were inserted), then the rollup of those.

The sender's ids make sending idempotent: an event sent again, or a batch retried after a
timeout, is a duplicate and the first copy stays. The unique key decides, not a read before the
write, so two batches holding one event at the same moment count it once (on PostgreSQL the
second waits for the first to commit). Rows are written in sorted order, so that two such
transactions lock what they share in one order and do not deadlock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select, tuple_
from sqlalchemy.orm import Session

from betas.db import among, insert_new, insert_rows, utcnow
from betas.errors import Invalid
from betas.wording import plural
from cohorts.models import Account
from usage import rollup
from usage.models import CLIENT_ID_MAX, KIND_PART_MAX, USER_REF_MAX, EventKind, UsageEvent

MAX_BATCH = 1_000
METADATA_MAX = 4 * 1024
FUTURE_SLACK = timedelta(minutes=5)
ACCOUNT_MAX = Account.__table__.c.external_id.type.length
MAX_PROBLEMS = 50
PROGRESS_BYTES = 1024 * 1024
EVENT_KEYS = ("id", "account", "user", "action", "object", "place", "metadata", "occurred_at")
_KNOWN_KEYS = frozenset(EVENT_KEYS)
TIME_HINT = "use ISO 8601 with a zone, like 2026-10-02T14:30:00Z"
# PostgreSQL cannot store NUL in text, nor can either database encode a lone surrogate.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# In metadata a NUL is escaped in the JSON stored; half a surrogate pair is not, anywhere.
_HALF_PAIR = re.compile("[\ud800-\udfff]")
# Made once: json.dumps with options builds an encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

Problem = tuple[str, str]  # the event's field ("" for the event as a whole), and what is wrong


@dataclass(frozen=True, slots=True)
class Event:
    """A checked event, as it will be stored."""

    client_id: str
    account: str
    user: str | None
    action: str
    object: str
    place: str
    metadata: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class Ingested:
    """How many events were stored, and how many had been sent before."""

    accepted: int
    duplicates: int

    def __add__(self, other: Ingested) -> Ingested:
        return Ingested(self.accepted + other.accepted, self.duplicates + other.duplicates)

    def __str__(self) -> str:
        return f"{self.accepted:,} accepted, {plural(self.duplicates, 'duplicate')}"


# Checking


def _shown(value: object, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(
    problems: list[Problem], name: str, value: object, limit: int, *, required: bool, trim: bool
) -> str | None:
    """Return a text value (an integer is taken as text: ids often are numbers), or None."""
    if type(value) is not str:  # checked first: a thousand events a batch hold six texts each
        if value is None:
            if required:
                problems.append((name, "missing"))
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            problems.append((name, f"expected text, not {_shown(value)}"))
            return None
        value = str(value)
    text = value.strip() if trim else value
    if not text:
        if required:
            problems.append((name, "must not be empty"))
        return None
    if len(text) > limit:
        problems.append((name, f"longer than {limit} characters"))
        return None
    if _UNSTORABLE.search(text):
        problems.append((name, "holds a NUL character or half a surrogate pair"))
        return None
    return text


def _kind_part(problems: list[Problem], name: str, value: object, *, required: bool) -> str:
    """Return an action, object or place: text, trimmed and lower-cased; '' when absent."""
    if type(value) is str:
        value = value.lower()
    elif value is not None:
        problems.append((name, f"expected text, not {_shown(value)}"))
        return ""
    return _text(problems, name, value, KIND_PART_MAX, required=required, trim=True) or ""


def _metadata(problems: list[Problem], value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(("metadata", 'expected a JSON object, like {"plan": "pro"}'))
        return {}
    try:
        compact = _COMPACT.encode(value)
    except ValueError:
        problems.append(("metadata", "NaN and Infinity are not JSON: send null or a number"))
        return {}
    if _HALF_PAIR.search(compact):
        problems.append(("metadata", "holds half a surrogate pair: send whole characters"))
        return {}
    size = len(compact)
    if size > METADATA_MAX // 4:  # below, even four bytes a character fit
        size = len(compact.encode("utf-8", "surrogatepass"))
    if size > METADATA_MAX:
        problems.append(
            ("metadata", f"{size:,} bytes as compact JSON; at most {METADATA_MAX:,} (4 KB)")
        )
    return value


def _moment(problems: list[Problem], value: object, now: datetime) -> datetime | None:
    if value is None or value == "":
        problems.append(("occurred_at", f"missing time: {TIME_HINT}"))
        return None
    if not isinstance(value, str):
        problems.append(("occurred_at", f"expected text, not {_shown(value)}; {TIME_HINT}"))
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None or moment.utcoffset() is None:
            problems.append(
                ("occurred_at", f"'{_shown(value)}' has no zone: add one, like Z or +02:00")
            )
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00+01:00 is before year 1
        problems.append(("occurred_at", f"cannot read '{_shown(value)}' as a time; {TIME_HINT}"))
        return None
    if moment > now + FUTURE_SLACK:
        problems.append(
            (
                "occurred_at",
                f"{value.strip()} is more than 5 minutes in the future (it is "
                f"{now:%Y-%m-%dT%H:%M:%SZ} here): check the sender's clock",
            )
        )
        return None
    return moment


def check_event(value: object, now: datetime) -> tuple[Event | None, list[Problem]]:
    """Check one event as the product sends it; return it, or None and its problems."""
    if not isinstance(value, dict):
        expected = 'expected an object like {"id", "account", "action", "object", "occurred_at"}'
        return None, [("", expected)]
    problems: list[Problem] = []
    if not value.keys() <= _KNOWN_KEYS:
        problems += [
            (key, f"unknown key; an event has {', '.join(EVENT_KEYS)}")
            for key in sorted(value.keys() - _KNOWN_KEYS)
        ]
    get = value.get
    client_id = _text(problems, "id", get("id"), CLIENT_ID_MAX, required=True, trim=False)
    account = _text(problems, "account", get("account"), ACCOUNT_MAX, required=True, trim=True)
    user = _text(problems, "user", get("user"), USER_REF_MAX, required=False, trim=True)
    action = _kind_part(problems, "action", get("action"), required=True)
    object_ = _kind_part(problems, "object", get("object"), required=True)
    place = _kind_part(problems, "place", get("place"), required=False)
    metadata = _metadata(problems, get("metadata"))
    occurred_at = _moment(problems, get("occurred_at"), now)
    if problems:
        return None, problems
    return (
        Event(client_id, account, user, action, object_, place, metadata, occurred_at),
        problems,
    )


def _refusal(total: int, listed: list[dict[str, Any]]) -> Invalid:
    message = f"Nothing was stored: {plural(total, 'problem')} found"
    if total > len(listed):
        message += f"; the first {len(listed)} are listed"
    return Invalid(message + ".", listed)


def check_batch(items: Sequence[object]) -> list[Event]:
    """Check a batch of at most MAX_BATCH events; refuse it whole if any is bad.

    Details name each problem's place: events.3.occurred_at (the first 50 are listed).
    """
    if len(items) > MAX_BATCH:
        raise Invalid(
            f"Send at most {MAX_BATCH:,} events a request; this one has {len(items):,}.",
            [{"field": "events", "message": f"at most {MAX_BATCH:,} events a request"}],
        )
    now = utcnow()
    checked: list[Event] = []
    details: list[dict[str, Any]] = []
    total = 0
    for index, item in enumerate(items):
        event, problems = check_event(item, now)
        if event is not None:
            checked.append(event)
            continue
        total += len(problems)
        for name, message in problems[: MAX_PROBLEMS - len(details)]:
            field = f"events.{index}.{name}" if name else f"events.{index}"
            details.append({"field": field, "message": message})
    if total:
        raise _refusal(total, details)
    return checked


# Ingesting


def _ids(
    session: Session,
    table: Table,
    names: tuple[str, ...],
    keys: set,
    new_row: Callable[[Any], dict[str, Any]],
) -> dict[Any, int]:
    """Return the ids of the rows with these keys, inserting those missing, in sorted order.

    A key is a value of the one column named, or a tuple of the columns' values. A row another
    transaction inserts at the same moment is skipped by ON CONFLICT DO NOTHING, and read once
    that transaction has committed.
    """
    columns = [table.c[name] for name in names]
    if len(columns) == 1:
        matching, key_of = (lambda keys: among(session, columns[0], keys)), (lambda row: row[0])
    else:
        matching, key_of = tuple_(*columns).in_, (lambda row: tuple(row[:-1]))

    def find(wanted) -> dict[Any, int]:
        rows = session.execute(select(*columns, table.c.id).where(matching(wanted)))
        return {key_of(row): row[-1] for row in rows}

    found = find(list(keys))
    missing = sorted(keys - found.keys())
    if missing:
        rows = insert_rows(
            session,
            table,
            [new_row(key) for key in missing],
            lambda insert: insert.on_conflict_do_nothing().returning(*columns, table.c.id),
        )
        found.update((key_of(row), row[-1]) for row in rows)
        if len(found) < len(keys):
            found.update(find([key for key in missing if key not in found]))
    return found


def ingest(session: Session, events: Sequence[Event], zone: ZoneInfo) -> Ingested:
    """Store checked events once each and add the new ones to the rollup; never commit.

    An event whose id was stored before, or came earlier in the batch, is a duplicate: the first
    copy stays. The rollup counts days in `zone`.
    """
    if not events:
        return Ingested(0, 0)
    first: dict[str, Event] = {}
    for event in events:
        first.setdefault(event.client_id, event)
    now = utcnow()
    kinds = _ids(
        session,
        EventKind.__table__,
        ("action", "object", "place"),
        {(e.action, e.object, e.place) for e in first.values()},
        lambda key: {"action": key[0], "object": key[1], "place": key[2]},
    )
    accounts = _ids(
        session,
        Account.__table__,
        ("external_id",),
        {e.account for e in first.values()},
        lambda key: {
            "external_id": key,
            "name": "",
            "attributes": {},
            "created_at": now,
            "updated_at": now,
        },
    )
    table = UsageEvent.__table__
    rows = [
        {
            "client_event_id": e.client_id,
            "account_id": accounts[e.account],
            "kind_id": kinds[(e.action, e.object, e.place)],
            "user_ref": e.user,
            "metadata": e.metadata,
            "occurred_at": e.occurred_at,
            "received_at": now,
        }
        for _, e in sorted(first.items())
    ]
    inserted = insert_new(
        session, table, rows, "client_event_id", ("account_id", "kind_id", "occurred_at")
    )
    rollup.add(session, inserted, zone)
    return Ingested(len(inserted), len(events) - len(inserted))


def ingest_items(session: Session, items: Sequence[object], zone: ZoneInfo) -> Ingested:
    """Check a batch as the API receives it and ingest it; refuse it whole if any event is bad."""
    return ingest(session, check_batch(items), zone)


# Importing a JSON Lines file


def _lines(
    stream: BinaryIO, now: datetime, progress: Callable[[int], object] | None
) -> Iterator[tuple[int, Event | None, list[Problem]]]:
    """Yield (line number, event or None, problems) for each line that is not blank."""
    unreported = 0
    for number, raw in enumerate(stream, 1):
        unreported += len(raw)
        if progress is not None and unreported >= PROGRESS_BYTES:
            progress(unreported)
            unreported = 0
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield number, None, [("", "not UTF-8: save the file as UTF-8")]
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc.msg}, column {exc.colno}): write one event a line"
            yield number, None, [("", problem)]
            continue
        event, problems = check_event(value, now)
        yield number, event, problems
    if progress is not None and unreported:
        progress(unreported)


def import_file(
    session: Session,
    stream: BinaryIO,
    zone: ZoneInfo,
    progress: Callable[[int], object] | None = None,
) -> Ingested:
    """Import a JSON Lines file of events, streamed, in batches of MAX_BATCH; all or nothing.

    The same checks and the same idempotency as the API. A bad line refuses the whole file: the
    batches stored so far are rolled back, the rest is still checked, and Invalid lists the
    first 50 problems as {"line", "field", "message"}. `progress` is called with bytes read.
    """
    now = utcnow()
    result = Ingested(0, 0)
    details: list[dict[str, Any]] = []
    total = 0
    batch: list[Event] = []
    with session.begin_nested():
        for number, event, problems in _lines(stream, now, progress):
            if problems:
                total += len(problems)
                details += [
                    {"line": number, "field": name, "message": message}
                    for name, message in problems[: MAX_PROBLEMS - len(details)]
                ]
            elif not total:
                batch.append(event)
                if len(batch) >= MAX_BATCH:
                    result += ingest(session, batch, zone)
                    batch = []
        if total:
            raise _refusal(total, details)
        if batch:
            result += ingest(session, batch, zone)
    return result
