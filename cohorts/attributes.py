"""Account attributes: their names, compared without case or spacing, and their values in SQL.

Imports keep whatever names a file's header gave (`Plan`, `plan`, `Seat count`); samples, the
accounts list and their forms resolve the name a PM typed to the names stored, here, one way.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import String, Text, case, cast, func, literal, null, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cohorts.models import Account

# Any name an import can give an attribute, but for quotes and backslashes, which SQLite's JSON
# paths cannot carry.
ATTRIBUTE_PATTERN = r"[^\"\\\x00-\x1f\x7f]{1,100}"
# How many known attribute names a refusal lists.
NAMES_LISTED = 20

_ATTRIBUTE = re.compile(ATTRIBUTE_PATTERN)
# What "spacing" is in an attribute's name: spaces, underscores and hyphens between its words.
_SPACING = re.compile(r"[\s_-]+")
# What the databases call the JSON types that have a text value of their own.
_SQLITE_SCALARS = ("integer", "real", "true", "false")
_POSTGRES_SCALARS = ("string", "number", "boolean")


def is_attribute_name(name: str) -> bool:
    """Tell whether a name can be asked for: no quotes or backslashes, at most 100 characters."""
    return _ATTRIBUTE.fullmatch(name) is not None


def fold_name(name: str) -> str:
    """Return an attribute name as names are compared: without case or spacing."""
    return _SPACING.sub("", name).casefold()


def known_attributes(session: Session, *, newest: int | None = None) -> list[str]:
    """Return the attribute names that accounts have, the most common first.

    Every account's names unless `newest` limits the look to that many of the newest accounts
    (to suggest names cheaply). Names that cannot be asked for (quotes, backslashes) are left out.
    """
    accounts = select(Account.attributes.label("attributes"))
    if newest is not None:
        accounts = accounts.order_by(Account.id.desc()).limit(newest)
    accounts = accounts.subquery()
    stored = accounts.c.attributes
    if session.get_bind().dialect.name == "sqlite":
        # A list's items come with their numbers as keys, a scalar with none: left out below.
        keys = func.json_each(stored).table_valued("key")
        name = keys.c.key
    else:
        # PostgreSQL refuses the keys of anything but an object.
        objects = case((func.json_typeof(stored) == "object", stored))
        keys = func.json_object_keys(objects).table_valued("name").render_derived("keys")
        name = keys.c.name
    counted = (
        select(name, func.count().label("accounts"))
        .select_from(accounts)
        .join(keys, true())
        .group_by(name)
    )
    rows = [
        (name, n)
        for name, n in session.execute(counted)
        if isinstance(name, str) and _ATTRIBUTE.fullmatch(name)
    ]
    rows.sort(key=lambda row: (-row[1], fold_name(row[0]), row[0]))
    return [name for name, _ in rows]


def attribute_text(dialect: str, name: str) -> ColumnElement[str | None]:
    """Return an SQL expression for an account attribute as text, the same on both databases.

    SQLite's json_extract() turns numbers and booleans into SQL numbers (true becomes 1, 1.5e3
    becomes 1500.0) and PostgreSQL's ->> keeps the JSON text: so on SQLite, strings come from ->>
    and numbers and booleans from ->, which gives their JSON text as written. Lists, objects and
    null are NULL on both, like a missing attribute.
    """
    if dialect == "sqlite":
        path = literal(f'$."{name}"', String)
        written = Account.attributes.op("->", return_type=Text)(path)
        return case(
            {"text": Account.attributes.op("->>", return_type=Text)(path)}
            | dict.fromkeys(_SQLITE_SCALARS, written),
            value=func.json_type(Account.attributes, path),
            else_=null(),
        )
    node = Account.attributes[name]
    return case(
        (func.json_typeof(node).in_(_POSTGRES_SCALARS), node.as_string()),
        else_=null(),
    )


def attribute_json(dialect: str, name: str) -> ColumnElement[str | None]:
    """Return an SQL expression for an account attribute's JSON as stored, such as '"pro"' or 12.

    Cheaper than attribute_text() (the attributes are parsed once per account, not twice) for the
    columns that stream a whole pool; text_of() turns the results into the same text.
    """
    if dialect == "sqlite":
        return Account.attributes.op("->", return_type=Text)(literal(f'$."{name}"', String))
    return cast(Account.attributes[name], Text)


def text_of(stored: str | None) -> str | None:
    """Return an attribute's text from its JSON as stored, as attribute_text() gives it in SQL."""
    if stored is None or stored == "null" or stored[:1] in ("[", "{"):
        return None
    if stored[:1] == '"':
        return json.loads(stored)
    return stored


def spellings_of(known: Sequence[str]) -> dict[str, list[str]]:
    """Group stored names by their folded form, each group the most common spelling first."""
    found: defaultdict[str, list[str]] = defaultdict(list)
    for name in known:
        found[fold_name(name)].append(name)
    return dict(found)


def unknown_attribute(name: str, known: Sequence[str]) -> str:
    """Say that no account has an attribute of this name, and which names they have."""
    if not known:
        return f"No account has an attribute called '{name}'; the accounts have no attributes yet."
    listed = ", ".join(known[:NAMES_LISTED])
    if len(known) > NAMES_LISTED:
        listed += f" and {len(known) - NAMES_LISTED:,} more"
    return f"No account has an attribute called '{name}'; known attributes: {listed}."


def any_spelling(
    dialect: str, spellings: Sequence[str], as_: Callable[[str, str], ColumnElement[str | None]]
) -> ColumnElement[str | None]:
    """Return an SQL expression for an attribute stored under any of these names, in `as_` form."""
    found = [as_(dialect, name) for name in spellings]
    # The common case, one spelling, is the plain expression, without a COALESCE around it.
    return found[0] if len(found) == 1 else func.coalesce(*found)
