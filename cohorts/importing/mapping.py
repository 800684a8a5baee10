"""What each kind of import holds, and which column of a file holds which field.

The fields of accounts and conversations, the names exports give them, guessing a column's field
from its name, checking a chosen mapping, and reading the header row. Any other import of a
table (feedback kept by hand, for one) describes its fields as a `FieldSet` and maps its columns
the same way.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class FieldSet:
    """The fields one kind of table holds, and how its columns are guessed.

    Their labels, the required ones, the names exports give them (normalized), and what a
    column of no known name becomes.
    """

    noun: str
    labels: Mapping[str, str]
    required: tuple[str, ...]
    synonyms: Mapping[str, tuple[str, ...]]
    unguessed: str = SKIP


FIELD_SETS: dict[Kind, FieldSet] = {
    Kind.ACCOUNTS: FieldSet(
        Kind.ACCOUNTS.value,
        FIELDS[Kind.ACCOUNTS],
        REQUIRED[Kind.ACCOUNTS],
        SYNONYMS[Kind.ACCOUNTS],
        ATTRIBUTE,
    ),
    Kind.CONVERSATIONS: FieldSet(
        Kind.CONVERSATIONS.value,
        FIELDS[Kind.CONVERSATIONS],
        REQUIRED[Kind.CONVERSATIONS],
        SYNONYMS[Kind.CONVERSATIONS],
    ),
}


def normalize_column(column: str) -> str:
    """Return a column's name as guesses compare it: "Account ID" → "account_id"."""
    return re.sub(r"[^0-9a-z]+", "_", column.strip().lower()).strip("_")


def guess_mapping(kind: Kind, columns: Sequence[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Guess the field of each column; fields in `taken` are claimed already."""
    return guess_columns(FIELD_SETS[kind], columns, taken)


def guess_columns(
    fields: FieldSet, columns: Sequence[str], taken: Iterable[str] = ()
) -> dict[str, str]:
    """Guess the field of each column among `fields`; fields in `taken` are claimed already."""
    claimed = set(taken)
    mapping = {}
    for column in columns:
        name = normalize_column(column)
        guess = next(
            (f for f, names in fields.synonyms.items() if name in names and f not in claimed),
            fields.unguessed,
        )
        if guess not in (ATTRIBUTE, SKIP):
            claimed.add(guess)
        mapping[column] = guess
    return mapping


def resolve_mapping(
    kind: Kind, columns: Sequence[str], chosen: Mapping[str, str]
) -> tuple[dict[str, str], list[Problem]]:
    """Return each column's field, as chosen or else guessed, and the problems of that mapping."""
    return resolve_columns(FIELD_SETS[kind], columns, chosen)


def resolve_columns(
    fields: FieldSet, columns: Sequence[str], chosen: Mapping[str, str]
) -> tuple[dict[str, str], list[Problem]]:
    """Return each column's field among `fields`, as chosen or else guessed, and the problems."""
    problems = []
    labels = fields.labels
    for column, name in chosen.items():
        if column not in columns:
            problems.append(
                Problem(f"there is no column '{column}'; the columns are: {', '.join(columns)}")
            )
        elif name not in labels:
            problems.append(
                Problem(
                    f"'{name}' is not a field of {fields.noun}; choose among {', '.join(labels)}",
                    column=column,
                )
            )
    chosen = {c: f for c, f in chosen.items() if c in columns and f in labels}
    guessed = guess_columns(fields, [c for c in columns if c not in chosen], chosen.values())
    mapping = {column: chosen.get(column) or guessed[column] for column in columns}
    for name in labels:
        if name in (ATTRIBUTE, SKIP):
            continue
        holders = [c for c, f in mapping.items() if f == name]
        if len(holders) > 1:
            problems.append(
                Problem(f"the columns {', '.join(holders)} are all mapped to {name}; keep one")
            )
        elif not holders and name in fields.required:
            problems.append(
                Problem(f"no column holds the {labels[name].lower()}: map one to {name}")
            )
    return mapping, problems


def read_header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    """Return the header row's column names (an empty cell named by its place), and problems."""
    columns = [cell.strip() or f"column {i}" for i, cell in enumerate(cells, 1)]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    problems = [
        Problem(f"the header names the column '{c}' twice; give each column its own name", row=1)
        for c in repeated
    ]
    return columns, problems
