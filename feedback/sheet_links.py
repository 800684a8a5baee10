"""A beta's feedback spreadsheet: linking it, its sync state, and what waits for a PM.

Linking checks access as the service account (not found, not shared, view only: each said
plainly), creates the worksheet "Shipcall feedback" when it is missing, writes the header row
(only the names it lacks, after the columns people added) and freezes it. The beta's owner or an
admin links it. When credentials are configured, a beta cannot launch without a linked sheet
("create a spreadsheet before ever adding a beta customer": `sheet_linked`).

What the sync cannot decide alone waits here: a field changed on both sides (a conflict, settled
by a PM picking one value), and a row deleted in the sheet (restored by a PM, never re-added by
the sync on its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Invalid, NotFound
from betas.models import Beta
from feedback import log
from feedback.models import (
    FeedbackItem,
    OutboxEntry,
    SheetConflict,
    SheetLink,
    SheetRow,
)
from feedback.sheets import Sheets, SheetsError, a1, spreadsheet_key

WORKSHEET = "Shipcall feedback"
HEADER = (
    "id",
    "logged at",
    "account",
    "account name",
    "cohort",
    "source",
    "original",
    "type",
    "summary",
    "reason",
    "duplicate of",
    "blocker state",
    "logged by",
    "link",
)
# The columns people may edit in the sheet, and the item's field each one is.
EDITABLE_COLUMNS = {
    "type": "type",
    "summary": "summary",
    "reason": "reason",
    "blocker state": "blocker_state",
}
NEW_SHEET_ROWS = 1000
RESOLVED_IN_SHEET = "Marked resolved in the spreadsheet."
SIDES = ("shipcall", "sheet")


def header_name(text: str) -> str:
    """Return a header cell as it is compared: case and spacing folded."""
    return " ".join(str(text).split()).casefold()


def header_columns(header: list[str]) -> dict[str, int]:
    """Return each of Shipcall's column names and its index in this header row (first found)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = header_name(cell)
        if name in HEADER and name not in found:
            found[name] = index
    return found


def completed_header(header: list[str]) -> tuple[list[str], dict[str, int]]:
    """Return the header row with Shipcall's missing names added after the last used column."""
    row = list(header)
    while row and not str(row[-1]).strip():
        row.pop()
    columns = header_columns(row)
    for name in HEADER:
        if name not in columns:
            columns[name] = len(row)
            row.append(name)
    return row, columns


def _refused(exc: SheetsError) -> Invalid:
    return Invalid(exc.message, [{"field": "spreadsheet", "message": exc.message}])


@dataclass(frozen=True)
class Checked:
    """A spreadsheet the service account may edit, its worksheet found or made, header written."""

    key: str
    sheet_id: int
    title: str


def check_sheet(spreadsheet: str, sheets: Sheets) -> Checked:
    """Check a spreadsheet, given by its link or key, as the service account; ready its worksheet.

    Refuses (Invalid, on the field `spreadsheet`) a text that names no spreadsheet, and one the
    service account cannot find, read or edit. Google's requests only, no session: a door makes
    them outside any transaction (`betas.db.end_reads`), since with their retries they may take
    seconds, and on SQLite a transaction would hold the write lock all along.
    """
    try:
        key = spreadsheet_key(spreadsheet)
    except ValueError as exc:
        raise Invalid(str(exc), [{"field": "spreadsheet", "message": str(exc)}]) from None
    try:
        return _prepare_worksheet(sheets, key)
    except SheetsError as exc:
        raise _refused(exc) from None


def link_sheet(session: Session, actor: Actor, beta: Beta, checked: Checked) -> SheetLink:
    """Link the beta to a checked spreadsheet (`check_sheet`).

    Linking another spreadsheet starts its sync afresh: every item is written to the new one.
    """
    require_edit(actor.user, beta)
    key = checked.key
    link = session.scalar(select(SheetLink).where(SheetLink.beta_id == beta.id))
    if link is None:
        link = SheetLink(beta=beta, unmatched=[])
        session.add(link)
    elif link.spreadsheet_id != key or link.sheet_id != checked.sheet_id:
        _forget_rows(session, link)
    link.spreadsheet_id, link.sheet_id, link.worksheet = key, checked.sheet_id, checked.title
    link.linked_by = actor.user
    link.last_error, link.next_try_at, link.failures = None, None, 0
    session.flush()
    record(
        session, actor, "sheet.linked", link, beta=beta, spreadsheet=key, worksheet=link.worksheet
    )
    session.flush()
    return link


def _prepare_worksheet(sheets: Sheets, key: str) -> Checked:
    """Find or create the worksheet; write the header's missing names and freeze it."""
    worksheets = sheets.worksheets(key)
    found = next((w for w in worksheets if w.title == WORKSHEET), None)
    header: list[str] = []
    if found is None:
        reply = sheets.change(
            key,
            [
                {
                    "addSheet": {
                        "properties": {
                            "title": WORKSHEET,
                            "gridProperties": {
                                "rowCount": NEW_SHEET_ROWS,
                                "columnCount": len(HEADER),
                                "frozenRowCount": 1,
                            },
                        }
                    }
                }
            ],
        )
        props = reply["replies"][0]["addSheet"]["properties"]
        sheet_id, columns = props["sheetId"], len(HEADER)
    else:
        sheet_id, columns = found.sheet_id, found.column_count
        values = sheets.values(key, WORKSHEET)
        header = values[0] if values else []
    row, _columns = completed_header(header)
    changes = []
    if found is not None and (found.frozen_rows != 1 or len(row) > columns):
        changes.append(
            {
                "updateSheetProperties": {
                    "properties": {
                        "sheetId": sheet_id,
                        "gridProperties": {
                            "frozenRowCount": 1,
                            "columnCount": max(columns, len(row)),
                        },
                    },
                    "fields": "gridProperties.frozenRowCount,gridProperties.columnCount",
                }
            }
        )
    if changes:
        sheets.change(key, changes)
    # Written even when complete: the write is what proves the service account may edit.
    sheets.write(key, [(a1(WORKSHEET, 1, 0, 1, len(row) - 1), [row])])
    return Checked(key, sheet_id, WORKSHEET)


def _forget_rows(session: Session, link: SheetLink) -> None:
    """Forget what was synced to the previous spreadsheet: the new one gets every item."""
    session.execute(delete(SheetRow).where(SheetRow.sheet_link_id == link.id))
    items = select(FeedbackItem.id).where(FeedbackItem.beta_id == link.beta_id)
    session.execute(delete(SheetConflict).where(SheetConflict.feedback_item_id.in_(items)))
    link.unmatched, link.last_success_at = [], None


def get_link(session: Session, beta: Beta) -> SheetLink | None:
    """Return the beta's sheet link, or None."""
    return session.scalar(select(SheetLink).where(SheetLink.beta_id == beta.id))


def require_link(session: Session, beta: Beta) -> SheetLink:
    """Return the beta's sheet link, or raise NotFound."""
    link = get_link(session, beta)
    if link is None:
        raise NotFound(f"The beta {beta.key} has no linked spreadsheet.")
    return link


# The sync state


@dataclass(frozen=True)
class SheetState:
    """How a beta's sheet stands: its link, the changes pending, what waits for a PM."""

    link: SheetLink | None
    pending: int
    conflicts: list[SheetConflict]
    missing: list[SheetRow]


def sheet_state(session: Session, beta: Beta) -> SheetState:
    """Return the beta's sheet state in a fixed number of statements."""
    link = get_link(session, beta)
    if link is None:
        return SheetState(None, 0, [], [])
    pending = session.scalar(
        select(func.count()).select_from(OutboxEntry).where(OutboxEntry.beta_id == beta.id)
    )
    conflicts = list(
        session.scalars(
            select(SheetConflict)
            .join(FeedbackItem, FeedbackItem.id == SheetConflict.feedback_item_id)
            .where(FeedbackItem.beta_id == beta.id)
            .options(selectinload(SheetConflict.item))
            .order_by(SheetConflict.feedback_item_id, SheetConflict.field)
        )
    )
    missing = list(
        session.scalars(
            select(SheetRow)
            .where(SheetRow.sheet_link_id == link.id, SheetRow.missing_since.is_not(None))
            .options(selectinload(SheetRow.item))
            .order_by(SheetRow.feedback_item_id)
        )
    )
    return SheetState(link, pending or 0, conflicts, missing)


def item_conflicts(session: Session, item: FeedbackItem) -> list[SheetConflict]:
    """Return the item's conflicts with the sheet, by field."""
    return list(
        session.scalars(
            select(SheetConflict)
            .where(SheetConflict.feedback_item_id == item.id)
            .order_by(SheetConflict.field)
        )
    )


def get_conflict(session: Session, conflict_id: int) -> SheetConflict:
    """Return a conflict with its item, or raise NotFound (settled already)."""
    conflict = session.scalar(
        select(SheetConflict)
        .where(SheetConflict.id == conflict_id)
        .options(selectinload(SheetConflict.item))
    )
    if conflict is None:
        raise NotFound("This conflict was settled already.")
    return conflict


def item_row(session: Session, item: FeedbackItem) -> SheetRow | None:
    """Return what was last synced of the item's row, or None."""
    return session.scalar(select(SheetRow).where(SheetRow.feedback_item_id == item.id))


# What waits for a PM


def settle_conflict(
    session: Session, actor: Actor, conflict_id: int, side: str, *, types
) -> FeedbackItem:
    """Settle a conflict by keeping Shipcall's value or the sheet's; the sheet then gets it.

    Refuses a conflict that is gone (NotFound), a side other than "shipcall" or "sheet", and,
    through the log's checks, a value the item cannot take.
    """
    conflict = session.get(SheetConflict, conflict_id)
    if conflict is None:
        raise NotFound("This conflict was settled already.")
    item = log.get_item(session, conflict.feedback_item_id)
    require_edit(actor.user, item.beta)
    if side not in SIDES:
        raise Invalid("Keep Shipcall's value or the sheet's.", [{"field": "side", "message": ""}])
    value = conflict.ours if side == "shipcall" else conflict.theirs
    values: dict[str, object] = {conflict.field: value}
    if conflict.field == "blocker_state" and value == "resolved" and not item.resolution:
        values["resolution"] = RESOLVED_IN_SHEET
    log.edit(session, actor, item, values, types=types)
    row = item_row(session, item)
    if row is not None:
        # The sheet's value is the one both sides now start from: the next sync writes the kept
        # value over it (or finds it already there) and sees no conflict.
        row.synced = {**row.synced, conflict.field: conflict.theirs}
    session.delete(conflict)
    session.add(OutboxEntry(beta_id=item.beta_id, item=item))
    record(
        session,
        actor,
        "feedback.conflict_settled",
        item,
        beta=item.beta,
        field=conflict.field,
        value=value,
        side="the spreadsheet" if side == "sheet" else "Shipcall",
    )
    session.flush()
    return item


def restore_row(session: Session, actor: Actor, item: FeedbackItem) -> FeedbackItem:
    """Put back in the sheet the row of an item that people deleted there.

    Refuses an item whose row was not deleted (Invalid).
    """
    require_edit(actor.user, item.beta)
    row = item_row(session, item)
    if row is None or row.missing_since is None:
        raise Invalid(f"The row of feedback item {item.id} is in the spreadsheet already.")
    session.delete(row)  # with no synced row, the next sync adds the item's row again
    session.add(OutboxEntry(beta_id=item.beta_id, item=item))
    record(session, actor, "feedback.row_restored", item, beta=item.beta)
    session.flush()
    return item


# Launching


def missing_sheet(session: Session, beta: Beta, *, configured: bool) -> list[dict[str, str]]:
    """Say what launching lacks: a linked sheet, when Google credentials are configured."""
    if not configured or get_link(session, beta) is not None:
        return []
    return [
        {
            "field": "sheet",
            "message": "Link the feedback spreadsheet: create it before ever adding a beta "
            "customer.",
        }
    ]
