"""The relay: drains the outbox into each beta's sheet, and takes back what people edited there.

Per beta and sync, whatever the number of rows (up to 10,000 and beyond): one metadata read,
one values read, one batched RAW write, plus one resize when rows are added. Rows are found by
the id column and columns by their header's name, so rows people sort, filter or insert, and
columns they add, change nothing; only Shipcall's own columns are written.

The sheet's two reads are made outside any transaction; then a sync runs in two transactions
around the write. The first takes the sheet's news: the edits people made to type, summary,
reason and blocker state (pulled back when only the sheet changed them since the last sync; a
conflict when Shipcall changed the same field to something else),
the rows they added without an id (items, committed before their id is written, and known again
by their fingerprint should that write fail), the rows they deleted (reported, never written
again until restored). The second, once the write succeeded, remembers what was synced and
deletes the outbox entries it covered. A write retried, or a sync begun again after a crash,
finds the rows already written by their ids: it rewrites them in place, never twice.

Workers claim a beta's link for a lease (`claimed_until`), with FOR UPDATE SKIP LOCKED on
PostgreSQL, so several may run; a worker that dies frees its betas when the lease ends. A sync
that fails after its retries leaves the entries pending and sets the next try, backing off.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from betas.config import Settings
from betas.db import Database, utcnow
from betas.errors import DomainError
from feedback import log
from feedback.models import (
    BlockerState,
    FeedbackItem,
    OutboxEntry,
    SheetConflict,
    SheetLink,
    SheetRow,
)
from feedback.rows import (
    RowFormat,
    cells,
    editable_values,
    fingerprint_of,
    parse_id,
    sheet_value,
    text,
)
from feedback.sheet_links import (
    EDITABLE_COLUMNS,
    HEADER,
    RESOLVED_IN_SHEET,
    completed_header,
    header_columns,
)
from feedback.sheets import Sheets, SheetsError, Worksheet, a1

FIRST_BACKOFF = 30  # seconds before the next try after a failed sync; doubled each time
LONGEST_BACKOFF = 3600
EDITABLE_FIELDS = tuple(EDITABLE_COLUMNS.values())


@dataclass
class SyncReport:
    """What one sync of a beta did."""

    beta: str
    written: int = 0  # rows of existing items written again
    appended: int = 0  # rows of items new to the sheet
    pulled: int = 0  # fields taken back from the sheet
    created: int = 0  # items made from rows people added
    conflicts: int = 0  # fields changed on both sides, waiting for a PM
    missing: int = 0  # rows deleted in the sheet
    unmatched: list[dict] = field(default_factory=list)
    error: str | None = None

    def said(self) -> str:
        """Say the report in a line, as `feedback sync` prints it."""
        if self.error:
            return f"{self.beta}: failed, will retry: {self.error}"
        parts = [
            f"{self.appended} added",
            f"{self.written} updated",
            f"{self.created} from new rows",
            f"{self.pulled} edits taken back",
        ]
        if self.conflicts:
            parts.append(f"{self.conflicts} conflicts to settle")
        if self.missing:
            parts.append(f"{self.missing} rows deleted in the sheet")
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} rows to fix")
        return f"{self.beta}: " + ", ".join(parts)


@dataclass
class _Plan:
    """What the write sends, and what to remember once it succeeded."""

    link_id: int
    beta_id: int
    spreadsheet_id: str
    resize: list[dict]
    ranges: list[tuple[str, list[list[object]]]]
    synced: dict[int, dict]  # item id → its editable values in the sheet after the write
    mark: int  # the last outbox entry the write covers
    report: SyncReport


# One beta's sync


def sync_link(
    database: Database,
    sheets: Sheets,
    link_id: int,
    *,
    types: Sequence[str],
    fmt: RowFormat,
) -> SyncReport:
    """Sync one linked beta; on failure record it on the link and return the report."""
    try:
        # Read the sheet before any transaction: none is held open while Google answers (on
        # SQLite a write transaction would keep every other writer waiting).
        with database.session(write=False) as session:
            link = session.get(SheetLink, link_id)
            spreadsheet_id, sheet_id, title = link.spreadsheet_id, link.sheet_id, link.worksheet
        worksheet, values = _read(sheets, spreadsheet_id, sheet_id, title)
        with database.session() as session:
            link = session.get(SheetLink, link_id)
            plan = _plan(session, link, worksheet, values, types, fmt)
            session.commit()
        if plan.resize:
            sheets.change(plan.spreadsheet_id, plan.resize)
        sheets.write(plan.spreadsheet_id, plan.ranges)
        with database.session() as session:
            _remember(session, plan)
            session.commit()
        return plan.report
    except SheetsError as exc:
        return _failed(database, link_id, exc.message, exc.retry_after)


def _failed(
    database: Database, link_id: int, message: str, retry_after: float | None
) -> SyncReport:
    with database.session() as session:
        link = session.get(SheetLink, link_id)
        now = utcnow()
        link.failures += 1
        backoff = min(LONGEST_BACKOFF, FIRST_BACKOFF * 2 ** (link.failures - 1))
        wait = max(retry_after or 0, backoff * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
        link.last_error, link.last_error_at = message, now
        link.next_try_at, link.claimed_until = now + timedelta(seconds=wait), None
        report = SyncReport(link.beta.key, error=message)
        session.commit()
    return report


def _read(sheets: Sheets, spreadsheet_id: str, sheet_id: int, title: str):
    """Read the worksheet's properties and its values: the sync's two reads."""
    worksheet = next((w for w in sheets.worksheets(spreadsheet_id) if w.sheet_id == sheet_id), None)
    if worksheet is None:
        raise SheetsError(
            "bad_sheet",
            f"The worksheet {title!r} is gone from the spreadsheet: link the sheet again to "
            "create it.",
        )
    return worksheet, sheets.values(spreadsheet_id, worksheet.title)


def _plan(
    session: Session,
    link: SheetLink,
    worksheet: Worksheet,
    values: list[list[str]],
    types: Sequence[str],
    fmt: RowFormat,
) -> _Plan:
    report = SyncReport(link.beta.key)
    link.worksheet = worksheet.title  # people may rename it; its id stays
    current = [str(c) for c in values[0]] if values else []
    while current and not current[-1].strip():
        current.pop()
    header, columns = completed_header(current)
    body = values[1:]
    if body and "id" not in header_columns(current):
        raise SheetsError(
            "bad_sheet",
            "Row 1 of the worksheet lost its id column: put a column headed id back, with the "
            "ids, so rows can be found.",
        )

    items = {
        item.id: item
        for item in session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.beta_id == link.beta_id)
            .options(
                selectinload(FeedbackItem.account),
                selectinload(FeedbackItem.cohort),
                selectinload(FeedbackItem.logged_by),
            )
        )
    }
    rows = {
        r.feedback_item_id: r
        for r in session.scalars(select(SheetRow).where(SheetRow.sheet_link_id == link.id))
    }
    conflicts = {
        (c.feedback_item_id, c.field): c
        for c in session.scalars(
            select(SheetConflict).where(SheetConflict.feedback_item_id.in_(list(items) or [0]))
        )
    }

    def getter(row: list[str]):
        return lambda name: str(row[columns[name]]) if columns[name] < len(row) else ""

    # Which row holds which item
    seen: dict[int, tuple[int, list[str]]] = {}
    added: list[tuple[int, list[str]]] = []
    for number, row in enumerate(body, start=2):
        get = getter(row)
        raw_id = get("id").strip()
        if raw_id:
            item_id = parse_id(raw_id)
            if item_id is None or item_id not in items:
                report.unmatched.append(
                    {"row": number, "message": f"The id {raw_id} is no feedback item of this beta."}
                )
            elif item_id in seen:
                report.unmatched.append(
                    {
                        "row": number,
                        "message": f"It repeats the id {item_id} of row {seen[item_id][0]}: "
                        "delete one of them.",
                    }
                )
            else:
                seen[item_id] = (number, row)
        elif any(get(name).strip() for name in HEADER):
            added.append((number, row))

    # Rows people added: items (or the items they already became, known by their fingerprint)
    awaiting = defaultdict(list)
    for item_id, synced_row in rows.items():
        if synced_row.fingerprint and item_id not in seen:
            awaiting[synced_row.fingerprint].append(item_id)
    for number, row in added:
        get = getter(row)
        fingerprint = fingerprint_of(get)
        if awaiting.get(fingerprint):
            seen[awaiting[fingerprint].pop(0)] = (number, row)
            continue
        item = _log_added_row(session, link, get, types, number, report)
        if item is not None:
            items[item.id] = item
            rows[item.id] = SheetRow(
                sheet_link_id=link.id,
                feedback_item_id=item.id,
                synced=editable_values(item),
                fingerprint=fingerprint,
            )
            session.add(rows[item.id])
            seen[item.id] = (number, row)
            report.created += 1

    # Rows deleted in the sheet, and rows that came back
    now = utcnow()
    for item_id, synced_row in rows.items():
        if item_id in seen:
            synced_row.missing_since = None
        elif synced_row.missing_since is None:
            synced_row.missing_since, synced_row.fingerprint = now, None
    report.missing = sum(1 for r in rows.values() if r.missing_since is not None)

    # People's edits: taken back, or a conflict
    kept: dict[int, set[str]] = defaultdict(set)  # fields whose cell stays as people left it
    for item_id, (number, row) in seen.items():
        synced_row = rows.get(item_id)
        if synced_row is None:  # written by a sync that crashed before remembering it
            rows[item_id] = synced_row = SheetRow(
                sheet_link_id=link.id,
                feedback_item_id=item_id,
                synced=editable_values(items[item_id]),
            )
            session.add(synced_row)
        _take_edits(
            session, items[item_id], synced_row, getter(row), number, conflicts, kept, types, report
        )
    report.conflicts = sum(1 for (item_id, _f) in conflicts if item_id in items)
    session.flush()
    link.unmatched = report.unmatched
    mark = (
        session.scalar(select(func.max(OutboxEntry.id)).where(OutboxEntry.beta_id == link.beta_id))
        or 0
    )

    # What to write: changed rows where they are, new rows after the last one
    ours = sorted(columns[name] for name in HEADER)
    writes: dict[int, list[object]] = {}
    synced: dict[int, dict] = {}
    if header != current:
        writes[1] = header
    for item_id, (number, row) in seen.items():
        get = getter(row)
        wanted = cells(items[item_id], fmt)
        for column, field_name in EDITABLE_COLUMNS.items():
            if field_name in kept[item_id]:
                wanted[column] = get(column)
        if any(text(wanted[name]) != get(name) for name in HEADER):
            writes[number] = wanted  # type: ignore[assignment]
            report.written += 1
        synced[item_id] = _synced_after(items[item_id], rows[item_id], kept[item_id], get)
    next_row = len(values) + 1 if values else 2
    for item_id in sorted(items):
        if item_id in seen or item_id in rows:
            continue  # in the sheet, or deleted there (reported; restored by a PM)
        writes[next_row] = cells(items[item_id], fmt)  # type: ignore[assignment]
        synced[item_id] = editable_values(items[item_id])
        next_row += 1
        report.appended += 1
    resize = _resize(worksheet, next_row - 1, len(header))
    return _Plan(
        link_id=link.id,
        beta_id=link.beta_id,
        spreadsheet_id=link.spreadsheet_id,
        resize=resize,
        ranges=_ranges(worksheet.title, writes, columns, ours, header),
        synced=synced,
        mark=mark,
        report=report,
    )


def _log_added_row(session, link, get, types, number, report) -> FeedbackItem | None:
    account = get("account").strip() or get("account name").strip()
    try:
        with session.begin_nested():
            return log.log(
                session,
                None,
                link.beta,
                account=account,
                original=get("original"),
                source=get("source").strip().casefold() or None,
                type=sheet_value("type", get("type")),
                summary=get("summary"),
                reason=get("reason"),
                types=types,
                in_sheet=True,
            )
    except DomainError as exc:
        message = exc.details[0]["message"] if exc.details else exc.message
        report.unmatched.append({"row": number, "message": message})
        return None


def _take_edits(session, item, synced_row, get, number, conflicts, kept, types, report) -> None:
    taken: dict[str, object] = {}
    ours_now = editable_values(item)
    for column, field_name in EDITABLE_COLUMNS.items():
        theirs = sheet_value(field_name, get(column))
        base, ours = synced_row.synced.get(field_name), ours_now[field_name]
        conflict = conflicts.get((item.id, field_name))
        if conflict is not None and theirs == ours:  # people made the sheet agree
            session.delete(conflicts.pop((item.id, field_name)))
            synced_row.synced = {**synced_row.synced, field_name: ours}
            continue
        if conflict is not None:
            conflict.ours, conflict.theirs = ours, theirs  # what the PM will choose between
            kept[item.id].add(field_name)
            continue
        if theirs == base or theirs == ours:
            continue
        if ours != base:
            conflicts[(item.id, field_name)] = SheetConflict(
                feedback_item_id=item.id, field=field_name, ours=ours, theirs=theirs
            )
            session.add(conflicts[(item.id, field_name)])
            kept[item.id].add(field_name)
            continue
        taken[field_name] = theirs
    if not taken:
        return
    if taken.get("blocker_state") == BlockerState.RESOLVED.value and not item.resolution:
        taken["resolution"] = RESOLVED_IN_SHEET
    try:
        with session.begin_nested():
            log.edit_in_sheet(session, item, taken, types=types)
        report.pulled += sum(1 for f in taken if f in EDITABLE_FIELDS)
    except DomainError as exc:
        message = exc.details[0]["message"] if exc.details else exc.message
        report.unmatched.append(
            {"row": number, "message": f"Item {item.id}'s edit was not taken: {message}"}
        )
        kept[item.id].update(f for f in taken if f in EDITABLE_FIELDS)


def _synced_after(item: FeedbackItem, synced_row: SheetRow, kept: set[str], get) -> dict:
    """Return the editable values in the sheet once written; a kept field keeps its base."""
    now = editable_values(item)
    return {
        name: synced_row.synced.get(name) if name in kept else now[name] for name in EDITABLE_FIELDS
    }


def _resize(worksheet, last_row: int, width: int) -> list[dict]:
    rows, cols = max(worksheet.row_count, last_row), max(worksheet.column_count, width)
    if rows == worksheet.row_count and cols == worksheet.column_count:
        return []
    return [
        {
            "updateSheetProperties": {
                "properties": {
                    "sheetId": worksheet.sheet_id,
                    "gridProperties": {"rowCount": rows, "columnCount": cols},
                },
                "fields": "gridProperties.rowCount,gridProperties.columnCount",
            }
        }
    ]


def _ranges(
    title: str,
    writes: dict[int, object],
    columns: dict[str, int],
    ours: list[int],
    header: list[str],
) -> list[tuple[str, list[list[object]]]]:
    """Return the ranges to write: Shipcall's columns of each row, neighbours merged.

    Runs of adjacent columns are written together, and consecutive rows in one range each, so
    the first sync of 10,000 items is a single range; columns people added between stay out.
    """
    runs: list[list[int]] = []
    for index in ours:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    by_index = {index: name for name, index in columns.items()}
    ranges = []
    if 1 in writes:
        ranges.append((a1(title, 1, 0, 1, len(header) - 1), [list(header)]))
    numbers = sorted(n for n in writes if n != 1)
    blocks: list[list[int]] = []
    for number in numbers:
        if blocks and blocks[-1][-1] == number - 1:
            blocks[-1].append(number)
        else:
            blocks.append([number])
    for block in blocks:
        for run in runs:
            values = [[writes[n][by_index[i]] for i in run] for n in block]  # type: ignore[index]
            ranges.append((a1(title, block[0], run[0], block[-1], run[-1]), values))
    return ranges


def _remember(session: Session, plan: _Plan) -> None:
    rows = {
        r.feedback_item_id: r
        for r in session.scalars(select(SheetRow).where(SheetRow.sheet_link_id == plan.link_id))
    }
    for item_id, synced in plan.synced.items():
        row = rows.get(item_id)
        if row is None:
            session.add(
                SheetRow(sheet_link_id=plan.link_id, feedback_item_id=item_id, synced=synced)
            )
        else:
            row.synced, row.fingerprint = synced, None
    session.execute(
        delete(OutboxEntry).where(OutboxEntry.beta_id == plan.beta_id, OutboxEntry.id <= plan.mark)
    )
    link = session.get(SheetLink, plan.link_id)
    link.last_success_at, link.last_error, link.failures = utcnow(), None, 0
    link.next_try_at, link.claimed_until = None, None


# Passes over every linked beta


def lease_for(settings: Settings) -> timedelta:
    """Return how long a worker holds a beta it syncs: long enough for every retry."""
    return timedelta(seconds=max(30.0, 2 * settings.sheets_attempts * settings.sheets_timeout))


def claim(
    database: Database,
    now: datetime,
    lease: timedelta,
    pull_every: timedelta,
    skip: Sequence[int] = (),
    every: bool = False,
) -> int | None:
    """Claim the next beta due a sync and return its link's id (None when none is due).

    Due: not held by another worker, not waiting out a failure, and with changes pending or its
    sheet not read for `pull_every` (people's edits). `every`: any linked beta not in `skip`.
    """
    pending = exists().where(OutboxEntry.beta_id == SheetLink.beta_id)
    query = select(SheetLink.id).where(
        or_(SheetLink.claimed_until.is_(None), SheetLink.claimed_until < now),
        SheetLink.id.not_in(list(skip) or [0]),
    )
    if not every:
        query = query.where(
            or_(SheetLink.next_try_at.is_(None), SheetLink.next_try_at <= now),
            or_(
                pending,
                SheetLink.last_success_at.is_(None),
                SheetLink.last_success_at <= now - pull_every,
            ),
        )
    query = query.order_by(SheetLink.next_try_at.nulls_first(), SheetLink.id).limit(1)
    with database.session() as session:
        link_id = session.scalar(query.with_for_update(skip_locked=True))
        if link_id is not None:
            session.execute(
                update(SheetLink).where(SheetLink.id == link_id).values(claimed_until=now + lease)
            )
        session.commit()
    return link_id


def run_pass(
    database: Database, sheets: Sheets, settings: Settings, *, every: bool = False
) -> list[SyncReport]:
    """Sync every beta due (`every`: every linked beta) once; return what each sync did."""
    fmt = RowFormat(settings.zone, settings.public_url)
    lease, pull_every = lease_for(settings), timedelta(seconds=settings.sheets_pull_seconds)
    reports, done = [], []
    while True:
        link_id = claim(database, utcnow(), lease, pull_every, done, every)
        if link_id is None:
            return reports
        done.append(link_id)
        reports.append(sync_link(database, sheets, link_id, types=settings.feedback_types, fmt=fmt))
