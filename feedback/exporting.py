"""Export a beta's codified feedback as CSV or XLSX, every value as text, never as a formula.

In CSV a cell starting with = + - @ is quoted as every export does (`betas.exports.safe_cell`).
In XLSX openpyxl takes a string starting with "=" for a formula; every text cell is written as
a string instead (its data type set to "s", an inline string), so no formula can reach the
sheet. XML cannot hold most control characters: they are left out of the XLSX only.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select
from sqlalchemy.orm import Session

from betas.exports import csv_lines, safe_cell
from betas.models import Beta
from feedback.log import codified_condition, shown_with
from feedback.models import FeedbackItem

COLUMNS = (
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
    "resolution",
    "logged by",
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def codified_items(session: Session, beta: Beta) -> list[FeedbackItem]:
    """Return the beta's codified items, oldest first, in a fixed number of statements."""
    return list(
        session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.beta_id == beta.id, codified_condition())
            .options(*shown_with())
            .order_by(FeedbackItem.id)
        )
    )


def rows(items: Sequence[FeedbackItem], zone: ZoneInfo) -> Iterator[list[str]]:
    """Yield the header, then one row of text per item."""
    yield list(COLUMNS)
    for item in items:
        yield [
            str(item.id),
            item.logged_at.astimezone(zone).isoformat(timespec="seconds"),
            item.account.external_id,
            item.account.name,
            item.cohort.slug if item.cohort else "",
            item.source.value,
            item.original,
            item.type or "",
            item.summary or "",
            item.reason or "",
            str(item.duplicate_of_id or ""),
            item.blocker_state.value if item.blocker_state else "",
            item.resolution or "",
            item.logged_by.email if item.logged_by else "",
        ]


def to_csv(items: Sequence[FeedbackItem], zone: ZoneInfo) -> Iterator[str]:
    """Yield the CSV one line at a time."""
    return csv_lines([safe_cell(value) for value in row] for row in rows(items, zone))


def to_xlsx(items: Sequence[FeedbackItem], zone: ZoneInfo) -> bytes:
    """Return the workbook: one sheet, "Feedback", every cell a string."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Feedback")
    for row in rows(items, zone):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
            cell.data_type = "s"  # openpyxl would take "=..." for a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
