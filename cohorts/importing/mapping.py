"""What each kind of import holds, and which column of a CSV file holds which field.

The fields of accounts and conversations, the names exports give them, guessing a column's field
from its name, checking a chosen mapping, and reading the header row.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence

from cohorts.importing.problems import Problem


class Kind(enum.StrEnum):
    """What a file or request holds."""

    ACCOUNTS = "accounts"
    CONVERSATIONS = "conversations"


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
