"""Import a feedback spreadsheet a team already kept by hand: CSV or XLSX, all or nothing.

The columns are original, type, summary, reason, account and date (and source, if the sheet has
one), mapped as every import maps its columns (`cohorts.importing`: the header read, each
column's field guessed from its name or chosen, problems named by row and column). Every row is
checked as logging it will check it (`log.check_field`), the accounts are matched by external id
or else by a name no other account has, the type must be one of SHIPCALL_FEEDBACK_TYPES, and the
date becomes when the item was logged. A file with any problem logs nothing. The preview runs
the same checks and writes nothing.

Items are created only through `log.log`, one per row, so that whatever follows a logged item
(its audit entry, its context, the sheet's outbox) follows an imported one too. The beta's
owner and admins may import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import DomainError, Invalid
from betas.models import Beta
from cohorts.importing import (
    SKIP,
    FieldSet,
    FileFormat,
    ImportFailed,
    ImportResult,
    Origin,
    Place,
    Problem,
    blocked_reason,
    parse_time,
    read_table,
    record_run,
)
from cohorts.models import Account
from feedback import log
from feedback.models import Source

KIND = "feedback"
MAX_ROWS = 10_000
LOOKUP_BATCH = 500  # accounts looked up per statement, well within every database's limits
FIELDS = FieldSet(
    noun=KIND,
    labels={
        "original": "Original feedback or comment",
        "type": "Type",
        "summary": "Summary",
        "reason": "Reason (the issue, cause or problem)",
        "account": "Account (its id or name)",
        "date": "Date it was said",
        "source": "Source (call, message, email, survey, in_app, other)",
        SKIP: "Skip this column",
    },
    required=("original", "account"),
    synonyms={
        "original": (
            "original",
            "original_feedback",
            "original_feedback_or_comment",
            "feedback",
            "comment",
            "verbatim",
            "quote",
            "what_they_said",
        ),
        "type": ("type", "feedback_type", "category", "kind"),
        "summary": ("summary",),
        "reason": ("reason", "cause", "problem", "issue", "why"),
        "account": (
            "account",
            "account_id",
            "account_name",
            "customer",
            "customer_id",
            "company",
            "external_id",
        ),
        "date": ("date", "logged_at", "logged", "when", "created_at", "timestamp", "said_at"),
        "source": ("source", "channel", "where"),
    },
)
DATE_HINT = "use a date like 2026-10-02, or a time like 2026-10-02T14:30:00Z"


@dataclass
class FeedbackRecord:
    """A row as it will be logged; `account` is the external id it was matched to."""

    place: Place
    account: str
    original: str
    source: str
    type: str | None
    summary: str | None
    reason: str | None
    logged_at: datetime | None
    account_name: str = ""


@dataclass
class FeedbackPreview:
    """A file as its import would see it: the first records, the counts, and every problem.

    `checked` tells whether the rows were read: a file whose header or mapping is wrong is not
    read further, as its import would not be.
    """

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    problems: list[Problem]
    total_problems: int
    checked: bool = False
    records: list[FeedbackRecord] = field(default_factory=list)
    rows: int = 0
    found: int = 0
    unit: str = "row"

    @property
    def blocked(self) -> str:
        """Say why the file cannot be imported as it is, or '' when it can."""
        return blocked_reason(self.total_problems, self.found, "feedback")


def _logged_at(text: str, zone: ZoneInfo) -> datetime:
    """Read a date (that day's start in the zone) or an ISO 8601 time (no zone: UTC)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return parse_time(text)
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _folded_choice(text: str) -> str:
    """Return a type or source as people write it in a sheet, as Shipcall names it.

    "Feature request" and "feature-request" are feature_request; "In app" is in_app.
    """
    return re.sub(r"[\s-]+", "_", text.strip().casefold())


def _row_record(
    place: Place, values: Mapping[str, str], types: Sequence[str], zone: ZoneInfo, now: datetime
) -> tuple[FeedbackRecord | None, list[Problem]]:
    problems: list[Problem] = []
    checked: dict[str, object] = {}
    for name in ("original", "source", "type", "summary", "reason"):
        value = values.get(name)
        if name in ("source", "type") and value:
            value = _folded_choice(value)
        try:
            checked[name] = log.check_field(name, value, types)
        except Invalid as exc:
            problems.append(place.problem(name, exc.message))
    account = (values.get("account") or "").strip()
    if not account:
        problems.append(place.problem("account", "name the account: its id or its name"))
    logged_at = None
    when = (values.get("date") or "").strip()
    if when:
        try:
            logged_at = _logged_at(when, zone)
        except ValueError:
            problems.append(place.problem("date", f"cannot read the date '{when}': {DATE_HINT}"))
        else:
            if logged_at > now:
                problems.append(place.problem("date", f"'{when}' is in the future"))
    if problems:
        return None, problems
    source = checked["source"]
    checked_row = FeedbackRecord(
        place=place,
        account=account,
        original=checked["original"],  # type: ignore[arg-type]
        source=source.value if isinstance(source, Source) else str(source),
        type=checked["type"],  # type: ignore[arg-type]
        summary=checked["summary"],  # type: ignore[arg-type]
        reason=checked["reason"],  # type: ignore[arg-type]
        logged_at=logged_at,
    )
    return checked_row, []


def _account_problems(
    rows: Sequence[tuple[Place, str]], matched: Mapping[str, tuple[str, str]]
) -> Iterable[Problem]:
    """Yield the problem of each row whose account no external id, and no one name, matches."""
    for place, account in rows:
        found = matched.get(account)
        if found is None:
            yield place.problem("account", f"no account has the id or name '{account}'")
        elif found is _AMBIGUOUS:
            yield place.problem(
                "account", f"several accounts are named '{account}': give the account's id"
            )


_AMBIGUOUS = ("", "")  # several accounts have the name, and none the id


def _matched_accounts(session: Session, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """Return (external id, name) of each wanted account: by its id, or else its only name."""
    ordered = sorted(wanted)
    by_id: dict[str, tuple[str, str]] = {}
    by_name: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(ordered), LOOKUP_BATCH):
        chunk = ordered[start : start + LOOKUP_BATCH]
        folded = {text.lower() for text in chunk}
        rows = session.execute(
            select(Account.external_id, Account.name).where(
                Account.external_id.in_(chunk) | func.lower(Account.name).in_(folded)
            )
        )
        for external_id, name in rows:
            by_id[external_id] = (external_id, name)
            if name and name.lower() in folded:
                by_name.setdefault(name.lower(), []).append((external_id, name))
    matched = {}
    for text in ordered:
        named = by_name.get(text.lower(), [])
        if text in by_id:
            matched[text] = by_id[text]
        elif len(named) == 1:
            matched[text] = named[0]
        elif named:
            matched[text] = _AMBIGUOUS
    return matched


def _table_rows(table) -> Iterator[tuple[Place, dict[str, str]] | Problem]:
    """Yield each row of a table that holds something, as its fields' values, or a problem."""
    columns = {name: column for column, name in table.mapping.items() if name != SKIP}
    index = {name: table.columns.index(column) for name, column in columns.items()}
    for item in table.rows:
        if isinstance(item, Problem):
            yield item
            return
        number, cells = item
        if any(cell.strip() for cell in cells):
            values = {name: cells[i] if i < len(cells) else "" for name, i in index.items()}
            yield Place(row=number, columns=columns), values


def _item_values(items: Sequence[object]) -> Iterator[tuple[Place, dict[str, str]] | Problem]:
    """Yield each API item as its fields' values (numbers as text), after the problems it has.

    An unknown field is a problem of its own; an item with a value that is not text is not
    checked further (its other problems would follow from that one).
    """
    for number, item in enumerate(items):
        place = Place(path=f"items.{number}")
        if not isinstance(item, dict):
            yield place.whole("expected an object with original, account, type...")
            continue
        values, wrong = {}, False
        for name, value in item.items():
            if name not in FIELDS.labels or name == SKIP:
                yield place.problem(name, f"not a field; the fields are: {_ITEM_FIELDS}")
            elif value is None or (
                isinstance(value, str | int | float) and not isinstance(value, bool)
            ):
                values[name] = "" if value is None else str(value)
            else:
                yield place.problem(name, "expected text")
                wrong = True
        if not wrong:
            yield place, values


_ITEM_FIELDS = ", ".join(name for name in FIELDS.labels if name != SKIP)


def _check_rows(
    session: Session,
    shown: FeedbackPreview,
    rows: Iterable[tuple[Place, Mapping[str, str]] | Problem],
    *,
    types: Sequence[str],
    zone: ZoneInfo,
    now: datetime,
) -> None:
    """Check every row (each account against the database too), noting records and problems."""
    problems: list[Problem] = []
    accounts: list[tuple[Place, str]] = []
    for item in rows:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        place, values = item
        shown.rows += 1
        if shown.rows > MAX_ROWS:
            problems.append(
                Problem(f"more than {MAX_ROWS:,} rows: split them and import each part")
            )
            break
        row, found = _row_record(place, values, types, zone, now)
        problems += found
        if row is not None:
            shown.records.append(row)
        if values.get("account", "").strip():
            accounts.append((place, values["account"].strip()))
    matched = _matched_accounts(session, {account for _place, account in accounts})
    problems += _account_problems(accounts, matched)
    for row in shown.records:
        found = matched.get(row.account)
        if found is not None and found is not _AMBIGUOUS:
            row.account, row.account_name = found
    shown.problems = sorted(problems, key=lambda p: p.row or 0)
    shown.total_problems = len(problems)
    shown.found = len(shown.records)
    shown.checked = True


def _checked(
    session: Session,
    beta: Beta,
    stream: BinaryIO,
    chosen: Mapping[str, str] | None,
    *,
    types: Sequence[str],
    zone: ZoneInfo,
    now: datetime,
) -> FeedbackPreview:
    """Read and check the whole file; return what it holds, with every problem found."""
    log.check_open_to_feedback(beta)
    try:
        table = read_table(stream, FIELDS, chosen)
    except ImportFailed as exc:
        return FeedbackPreview(FileFormat.CSV, [], {}, exc.problems, exc.total)
    shown = FeedbackPreview(
        table.format, table.columns, table.mapping, table.problems, len(table.problems)
    )
    if not table.problems:
        _check_rows(session, shown, _table_rows(table), types=types, zone=zone, now=now)
    return shown


def preview(
    session: Session,
    beta: Beta,
    stream: BinaryIO,
    chosen: Mapping[str, str] | None = None,
    *,
    types: Sequence[str],
    zone: ZoneInfo,
    now: datetime,
    limit: int = 10,
) -> FeedbackPreview:
    """Check every row of a feedback file as its import would; write nothing; keep `limit` rows.

    Refuses (Conflict) a draft beta, which takes no feedback; a file's problems are in the
    preview, by row and column.
    """
    shown = _checked(session, beta, stream, chosen, types=types, zone=zone, now=now)
    shown.records = shown.records[:limit]
    return shown


def import_feedback(
    session: Session,
    actor: Actor | None,
    beta: Beta,
    stream: BinaryIO,
    chosen: Mapping[str, str] | None = None,
    *,
    types: Sequence[str],
    zone: ZoneInfo,
    now: datetime,
    origin: Origin,
) -> ImportResult:
    """Log every row of a CSV or XLSX file as a feedback item of the beta, all or nothing; flush.

    Refuses (Forbidden) an actor who is neither the beta's owner nor an admin (the command line,
    with no actor, may), (Conflict) a draft beta, and (ImportFailed, the first 50 problems by row
    and column) a file that is empty, badly mapped, or has any bad row: then nothing is logged.
    The run goes in the import history, and the beta's history says who imported how many.
    """
    if actor is not None:
        require_edit(actor.user, beta)
    checked = _checked(session, beta, stream, chosen, types=types, zone=zone, now=now)
    return _log_all(session, actor, beta, checked, types=types, origin=origin)


def import_items(
    session: Session,
    actor: Actor,
    beta: Beta,
    items: Sequence[object],
    *,
    types: Sequence[str],
    zone: ZoneInfo,
    now: datetime,
    origin: Origin,
) -> ImportResult:
    """Log API items (objects with a file's fields) as feedback of the beta, all or nothing.

    The same checks and refusals as `import_feedback`; problems name the item's field, like
    items.3.type.
    """
    require_edit(actor.user, beta)
    log.check_open_to_feedback(beta)
    if not items:
        raise ImportFailed([Problem("send at least one item", field="items")])
    checked = FeedbackPreview(FileFormat.JSON_LINES, [], {}, [], 0, unit="item")
    _check_rows(session, checked, _item_values(items), types=types, zone=zone, now=now)
    return _log_all(session, actor, beta, checked, types=types, origin=origin)


def _log_all(
    session: Session,
    actor: Actor | None,
    beta: Beta,
    checked: FeedbackPreview,
    *,
    types: Sequence[str],
    origin: Origin,
) -> ImportResult:
    """Log every checked record through `log.log`, in a savepoint; record the run; flush."""
    if checked.total_problems:
        raise ImportFailed(checked.problems, checked.total_problems)
    if not checked.found:
        raise ImportFailed([Problem("nothing to import: no row (or item) holds feedback")])
    with session.begin_nested():
        for row in checked.records:
            try:
                log.log(
                    session,
                    actor,
                    beta,
                    account=row.account,
                    original=row.original,
                    types=types,
                    source=row.source,
                    type=row.type,
                    summary=row.summary,
                    reason=row.reason,
                    logged_at=row.logged_at,
                )
            except DomainError as exc:
                # Checked above; only a change made meanwhile (an account renamed...) lands here.
                raise ImportFailed([row.place.whole(exc.message)]) from None
    created = len(checked.records)
    run = record_run(session, origin, KIND, created, 0)
    record(session, actor, "feedback.imported", beta, beta=beta, items=created, file=run.file_name)
    session.flush()
    return ImportResult(created, 0)
