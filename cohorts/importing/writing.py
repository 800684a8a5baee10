"""Write checked records to the database, all or nothing, and import files and API items.

Records are written in batches inside one savepoint, so a million parts never sit in memory at
once. Any problem stops the writing, the rest is still checked so that the first problems can all
be listed, and the savepoint is rolled back. Accounts are created or updated, conversations
created or replaced. Customer-written parts are indexed for search by the database itself (see
migration 0003), so rows are only inserted and deleted here. The same writers also only check
(`check_records`): what the preview of a file runs, every check of the import made and nothing
written. An import that went through is recorded in the history, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from betas.db import utcnow
from betas.errors import Conflict
from cohorts.importing.checks import (
    AccountRecord,
    ConversationRecord,
    Record,
    _records_from_json,
)
from cohorts.importing.history import Origin, record_run
from cohorts.importing.mapping import Kind
from cohorts.importing.problems import ImportFailed, Place, Problem, _Problems, _shown
from cohorts.importing.reading import open_file
from cohorts.models import Account, Conversation, ConversationPart, ConversationTag

# Rows per write: large enough that statements are few, small enough that memory stays flat.
ACCOUNT_BATCH = 2_000
CONVERSATION_BATCH = 1_000
# An import of millions of conversations touches at most this many accounts' ids at once.
ACCOUNT_CACHE_MAX = 200_000


@dataclass(frozen=True)
class ImportResult:
    """How many records were created and how many updated."""

    created: int
    updated: int

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated"


class ImportClashed(Conflict):
    """Another import wrote some of the same accounts or conversations at the same moment."""

    code = "import_clashed"


class _Writer:
    """Write one kind of record in batches, counting what is created and what is updated.

    With `writes=False` it only checks the records against the database and counts (a preview).
    """

    def __init__(self, session: Session, *, writes: bool = True):
        self.session = session
        self.writes = writes
        self.created = 0
        self.updated = 0


class _AccountWriter(_Writer):
    """Create or update accounts by external_id: names replaced, attributes merged."""

    batch_size = ACCOUNT_BATCH
    noun = "account"
    id_field = "external_id"
    again = "list each account once"

    def write(self, batch: list[AccountRecord], problems: _Problems) -> None:
        if problems and self.writes:
            return  # nothing will be kept, and accounts need no check against the database
        rows = self.session.execute(
            select(Account.id, Account.external_id, Account.name, Account.attributes).where(
                Account.external_id.in_([a.external_id for a in batch])
            )
        )
        existing = {row.external_id: row for row in rows}
        known = sum(a.external_id in existing for a in batch)
        self.created += len(batch) - known
        self.updated += known
        if not self.writes:
            return
        now = utcnow()
        new, changed = [], []
        for account in batch:
            row = existing.get(account.external_id)
            if row is None:
                new.append(
                    {
                        "external_id": account.external_id,
                        "name": account.name or "",
                        "attributes": account.attributes,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            else:
                changed.append(
                    {
                        "id": row.id,
                        "name": row.name if account.name is None else account.name,
                        "attributes": {**(row.attributes or {}), **account.attributes},
                        "updated_at": now,
                    }
                )
        if new:
            self.session.execute(insert(Account), new)
        if changed:
            self.session.execute(update(Account), changed)


class _ConversationWriter(_Writer):
    """Create or replace conversations by external_id, with their tags and parts."""

    batch_size = CONVERSATION_BATCH
    noun = "conversation"
    id_field = "conversation"
    again = "keep all rows of a conversation together and list it once"

    def __init__(self, session: Session, *, writes: bool = True):
        super().__init__(session, writes=writes)
        self.account_ids: dict[str, int] = {}

    def _find_accounts(self, external_ids: set[str]) -> None:
        """Remember the ids of these accounts, querying only those not remembered yet."""
        missing = external_ids - self.account_ids.keys()
        if not missing:
            return
        if len(self.account_ids) + len(missing) > ACCOUNT_CACHE_MAX:
            self.account_ids.clear()
            missing = external_ids
        rows = self.session.execute(
            select(Account.external_id, Account.id).where(Account.external_id.in_(missing))
        )
        self.account_ids.update(rows.all())

    def write(self, batch: list[ConversationRecord], problems: _Problems) -> None:
        self._find_accounts({c.account for c in batch})
        for conversation in batch:
            if conversation.account not in self.account_ids:
                problems.add(
                    conversation.place.problem(
                        "account",
                        f"no account with id '{_shown(conversation.account)}'; "
                        "import accounts first",
                    )
                )
        if problems and self.writes:
            return
        existing = dict(
            self.session.execute(
                select(Conversation.external_id, Conversation.id).where(
                    Conversation.external_id.in_([c.external_id for c in batch])
                )
            ).all()
        )
        self.created += len(batch) - len(existing)
        self.updated += len(existing)
        if not self.writes:
            return
        now = utcnow()
        if existing:
            # Replaced, not merged: the import is the conversation as the support tool has it.
            ids = list(existing.values())
            self.session.execute(
                delete(ConversationPart).where(ConversationPart.conversation_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            self.session.execute(
                delete(ConversationTag).where(ConversationTag.conversation_id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            self.session.execute(
                update(Conversation),
                [
                    {
                        "id": existing[c.external_id],
                        "account_id": self.account_ids[c.account],
                        "started_at": c.start,
                        "updated_at": now,
                    }
                    for c in batch
                    if c.external_id in existing
                ],
            )
        new = [c for c in batch if c.external_id not in existing]
        if new:
            self.session.execute(
                insert(Conversation),
                [
                    {
                        "external_id": c.external_id,
                        "account_id": self.account_ids[c.account],
                        "started_at": c.start,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in new
                ],
            )
            # Cheaper than INSERT ... RETURNING with its order kept, on SQLite at least.
            existing.update(
                self.session.execute(
                    select(Conversation.external_id, Conversation.id).where(
                        Conversation.external_id.in_([c.external_id for c in new])
                    )
                ).all()
            )
        tags = [
            {"conversation_id": existing[c.external_id], "tag": tag}
            for c in batch
            for tag in c.tags
        ]
        if tags:
            self.session.execute(insert(ConversationTag), tags)
        parts = [
            {
                "conversation_id": existing[c.external_id],
                "author": p.author,
                "body": p.body,
                "created_at": p.created_at,
            }
            for c in batch
            for p in c.parts
        ]
        if parts:
            self.session.execute(insert(ConversationPart), parts)


_WRITERS = {Kind.ACCOUNTS: _AccountWriter, Kind.CONVERSATIONS: _ConversationWriter}


def _run(session: Session, kind: Kind, records: Iterable[Record | Problem]) -> ImportResult:
    """Write records in batches inside a savepoint; roll it back and raise if anything was wrong.

    A record comes after its own problems: once any problem is counted, the writers only go on
    checking (does the account exist? does the id appear twice?) and write nothing more.
    """
    writer = _WRITERS[kind](session)
    try:
        with session.begin_nested():
            problems = _write_all(records, writer)
            if problems:
                raise ImportFailed(problems.listed, problems.total)
    except IntegrityError:
        # Every id was checked against the database and the file: only another import writing
        # the same new ids at the same moment breaks a unique key. On PostgreSQL the second
        # waits for the first to commit, then fails here; its savepoint is rolled back.
        raise ImportClashed(
            f"Another import wrote some of the same {writer.noun}s at the same time, so nothing "
            "was imported from this one. Import it again: it will update what the other wrote."
        ) from None
    # Bulk statements bypass the identity map: objects loaded before would show old values.
    session.expire_all()
    return ImportResult(writer.created, writer.updated)


def check_records(
    session: Session, kind: Kind, records: Iterable[Record | Problem]
) -> tuple[ImportResult, _Problems]:
    """Check records as their import would, against each other and the database; write nothing.

    Returns what importing them would create and update, and their problems.
    """
    writer = _WRITERS[kind](session, writes=False)
    problems = _write_all(records, writer)
    return ImportResult(writer.created, writer.updated), problems


def _write_all(records: Iterable[Record | Problem], writer: Any) -> _Problems:
    """Check the records and hand them to the writer in batches; return what was wrong."""
    problems = _Problems()
    first_seen: dict[str, str] = {}
    batch: list[Any] = []
    for item in records:
        if isinstance(item, Problem):
            problems.add(item)
            continue
        seen = first_seen.get(item.external_id)
        if seen is not None:
            problems.add(
                item.place.problem(
                    writer.id_field,
                    f"{writer.noun} '{_shown(item.external_id)}' appears again (first in "
                    f"{seen}): {writer.again}",
                )
            )
            continue
        first_seen[item.external_id] = str(item.place)
        batch.append(item)
        if len(batch) >= writer.batch_size:
            writer.write(batch, problems)
            batch = []
    if batch:
        writer.write(batch, problems)
    return problems


def _recorded(
    session: Session, kind: Kind, result: ImportResult, origin: Origin | None
) -> ImportResult:
    if origin is not None:
        record_run(session, origin, kind, result.created, result.updated)
    return result


def import_file(
    session: Session,
    stream: BinaryIO,
    kind: Kind,
    chosen: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
    *,
    origin: Origin | None = None,
) -> ImportResult:
    """Import a CSV or JSON Lines file of `kind`, all or nothing, record its run, and flush.

    Refuses (ImportFailed, with the first 50 problems by row and column) a file that is empty,
    not UTF-8, badly mapped, or has any bad row; then nothing is changed. `progress` is called
    with the number of bytes read since its last call. The doors pass `origin` (who, how, which
    file), and the run goes in the history; benchmarks and tests may leave it out.
    """
    source = open_file(stream, kind, chosen, progress)
    if source.problems:
        raise ImportFailed(source.problems)
    return _recorded(session, kind, _run(session, kind, source.records), origin)


def import_items(
    session: Session, kind: Kind, items: Sequence[object], *, origin: Origin | None = None
) -> ImportResult:
    """Import API items of `kind` (objects shaped like JSON Lines), all or nothing, and flush.

    Problems name the item's field: accounts.3.external_id, conversations.0.parts.2.author.
    The run goes in the history when `origin` says who sent the items.
    """
    values = ((Place(path=f"{kind.value}.{index}"), item) for index, item in enumerate(items))
    return _recorded(session, kind, _run(session, kind, _records_from_json(kind, values)), origin)
