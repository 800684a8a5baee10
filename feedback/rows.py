"""An item as a row of its beta's sheet: its cells by column, and reading people's cells back.

The relay (`feedback.sync`) writes `cells` and compares the fields people may edit there
(`editable_values`) with what it synced last; what people typed is read back with `sheet_value`,
a row's id with `parse_id`, and a row people added is known by its `fingerprint_of` until its id is
written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from feedback.models import FeedbackItem

# What a row people added is known by, until its id is written: the cells they typed.
FINGERPRINTED = ("account", "account name", "source", "original", "type", "summary", "reason")


@dataclass(frozen=True)
class RowFormat:
    """What an item's row says beyond the item: times in the zone, links to Shipcall."""

    zone: ZoneInfo
    base_url: str


def cells(item: FeedbackItem, fmt: RowFormat) -> dict[str, object]:
    """Return an item's row, by column name."""
    return {
        "id": item.id,
        "logged at": item.logged_at.astimezone(fmt.zone).strftime("%Y-%m-%d %H:%M"),
        "account": item.account.external_id,
        "account name": item.account.name or "",
        "cohort": item.cohort.name if item.cohort else "",
        "source": item.source.value,
        "original": item.original,
        "type": item.type or "",
        "summary": item.summary or "",
        "reason": item.reason or "",
        "duplicate of": item.duplicate_of_id or "",
        "blocker state": item.blocker_state.value if item.blocker_state else "",
        "logged by": item.logged_by.display_name if item.logged_by else "the spreadsheet",
        "link": f"{fmt.base_url}/feedback/{item.id}",
    }


def editable_values(item: FeedbackItem) -> dict[str, str | None]:
    """Return the item's fields that people may edit in the sheet, as text (None for empty)."""
    state = item.blocker_state.value if item.blocker_state else None
    return {
        "type": item.type,
        "summary": item.summary,
        "reason": item.reason,
        "blocker_state": state,
    }


def text(value: object) -> str:
    """Return a cell's value as the sheet shows it: text, empty for none."""
    return "" if value is None else str(value)


def sheet_value(field_name: str, text: str) -> str | None:
    """Return what a cell people edited means for a field: type and state folded, None if empty."""
    value = text.strip()
    if field_name in ("type", "blocker_state"):
        value = value.casefold().replace(" ", "_") if field_name == "type" else value.casefold()
    return value or None


def fingerprint_of(get) -> str:
    """Return what a row people added is known by (`get`: a column name -> its cell's text)."""
    said = "\x1f".join(" ".join(get(name).split()) for name in FINGERPRINTED)
    return hashlib.sha256(said.encode()).hexdigest()


def parse_id(text: str) -> int | None:
    """Return the item id an id cell holds (as people's sheets may format it), or None."""
    value = text.strip().replace(",", "")
    if value.endswith(".0"):
        value = value[:-2]
    return int(value) if value.isdigit() else None
