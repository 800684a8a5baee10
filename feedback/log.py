"""The feedback log: logging what a customer said, codifying it, resolving blockers, reading it.

Anyone signed in may log feedback (the engineer and the designer on a call too); codifying,
editing and resolving are for the beta's owner and admins. Feedback is logged on a beta that
has customers: running, or decided (people keep talking after the decision); a draft has none.
What was said is kept exactly as given, never trimmed; duplicates are kept and point at the
earlier item they repeat. Each item keeps the context it was said in (`_context`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Conflict, Invalid, NotFound
from betas.models import AuditEntry, Beta, BetaState
from cohorts.models import Account, Cohort, CohortKind, Membership
from feedback.models import (
    CODE_MAX,
    ORIGINAL_MAX,
    BlockerState,
    Call,
    FeedbackItem,
    Source,
    reason_key,
)

BLOCKER = "blocker"
# The types that ask something: patterns group them by reason as the repeated questions.
QUESTION_TYPES = ("question", "comprehension")
# The cohort kind of an item logged from an account that was not a member of the beta.
NOT_A_MEMBER = "none"
PAGE_SIZE = 50
CODES = ("type", "summary", "reason")
EDITABLE = (*CODES, "duplicate_of", "blocker_state", "resolution")
# PostgreSQL cannot store NUL in text, nor can either database encode a lone surrogate.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _problem(field: str, message: str) -> Invalid:
    return Invalid(message, [{"field": field, "message": message}])


# Checking


def _original(value: str) -> str:
    if not value or not value.strip():
        raise _problem("original", "Paste what the customer said: it is required.")
    if len(value) > ORIGINAL_MAX:
        raise _problem("original", f"At most {ORIGINAL_MAX:,} characters; this is {len(value):,}.")
    if UNSTORABLE.search(value):
        raise _problem("original", "It holds a NUL character or half a surrogate pair.")
    return value


def _code(field: str, value: str | None) -> str | None:
    text = (value or "").strip()
    if len(text) > CODE_MAX:
        raise _problem(field, f"At most {CODE_MAX:,} characters; this is {len(text):,}.")
    if UNSTORABLE.search(text):
        raise _problem(field, "It holds a NUL character or half a surrogate pair.")
    return text or None


def _type(value: str | None, types: Sequence[str]) -> str | None:
    text = (value or "").strip()
    if text and text not in types:
        raise _problem("type", f"Choose a type among {', '.join(types)}.")
    return text or None


def _source(value: str | None) -> Source:
    try:
        return Source(value or Source.OTHER)
    except ValueError:
        raise _problem(
            "source", f"Choose a source among {', '.join(s.value for s in Source)}."
        ) from None


def _duplicate_of(
    session: Session, beta: Beta, value: int | None, item: FeedbackItem | None = None
) -> int | None:
    if value is None:
        return None
    earlier = session.get(FeedbackItem, value)
    if (
        earlier is None
        or earlier.beta_id != beta.id
        or (item is not None and earlier.id >= item.id)
    ):
        raise _problem("duplicate_of", f"No earlier feedback item {value} in this beta.")
    return earlier.id


def _call(session: Session, beta: Beta, account: Account, value: int | None) -> Call | None:
    """Return the call of this beta with this account that the item was said on, if one."""
    if value is None:
        return None
    call = session.get(Call, value)
    if call is None or call.beta_id != beta.id:
        raise _problem("call", f"No call {value} in this beta.")
    if call.account_id != account.id:
        raise _problem(
            "call", f"Call {value} was with {call.account.external_id}, not this account."
        )
    return call


def check_field(field: str, value: str | None, types: Sequence[str]) -> object:
    """Return a value of `field` (original, source, type, summary, reason) as `log` stores it.

    Raises Invalid, naming the field, for a value `log` would refuse: so that an import checks
    every row as logging it will, before it logs any.
    """
    if field == "original":
        return _original(value or "")
    if field == "source":
        return _source(value)
    if field == "type":
        return _type(value, types)
    return _code(field, value)


def check_open_to_feedback(beta: Beta) -> None:
    """Refuse (Conflict) a beta that takes no feedback: a draft has no customers yet."""
    if beta.state == BetaState.DRAFT:
        raise Conflict("A draft beta has no customers yet: feedback is logged once it runs.")


def find_account(session: Session, wanted: str) -> Account:
    """Return the account whose external id, or else whose name, is `wanted`."""
    text = wanted.strip()
    if not text:
        raise _problem("account", "Name the account: its id or its name.")
    account = session.scalar(select(Account).where(Account.external_id == text))
    if account is not None:
        return account
    named = list(
        session.scalars(select(Account).where(func.lower(Account.name) == text.lower()).limit(2))
    )
    if len(named) > 1:
        raise _problem("account", f"Several accounts are named {text!r}: give the id.")
    if not named:
        raise _problem("account", f"No account has the id or name {text!r}.")
    return named[0]


# The context it was said in


def _context(session: Session, beta: Beta, account: Account) -> dict:
    """Return the account's cohort and status in the beta, and its most recent other beta."""
    here = session.scalar(
        select(Membership).where(Membership.beta_id == beta.id, Membership.account_id == account.id)
    )
    other = session.execute(
        select(Beta.name, Membership.left_at)
        .join(Beta, Beta.id == Membership.beta_id)
        .where(Membership.account_id == account.id, Membership.beta_id != beta.id)
        .order_by(Membership.enrolled_at.desc(), Membership.id.desc())
        .limit(1)
    ).first()
    return {
        "cohort_id": here.cohort_id if here else None,
        "member_status": here.status.value if here else None,
        "previous_beta_name": other.name if other else None,
        "previous_beta_left_at": other.left_at if other else None,
    }


# Changing


def log(
    session: Session,
    actor: Actor | None,
    beta: Beta,
    *,
    account: str,
    original: str,
    types: Sequence[str],
    source: str | None = None,
    type: str | None = None,  # noqa: A002 - the field's name, in the issue's words
    summary: str | None = None,
    reason: str | None = None,
    duplicate_of: int | None = None,
    call: int | None = None,
    in_sheet: bool = False,
    logged_at: datetime | None = None,
) -> FeedbackItem:
    """Log what a customer said, word for word; codify it at once if type, summary or reason.

    Said on a call (`call`: its id), the item's account is the call's and its source is call.
    `in_sheet`: a row people added to the beta's spreadsheet, logged by nobody in Shipcall
    (`actor` None) and audited as made in the sheet. `logged_at` is when it was said, for
    feedback kept elsewhere first (an import): now when left out. The actor is None for the
    command line too, which logs as no one.
    """
    check_open_to_feedback(beta)
    found = find_account(session, account)
    on_call = _call(session, beta, found, call)
    if on_call is not None and (source or Source.CALL) != Source.CALL:
        raise _problem("source", "What was said on a call has the source call.")
    item = FeedbackItem(
        beta=beta,
        account=found,
        call=on_call,
        original=_original(original),
        source=_source(source or (Source.CALL if on_call else None)),
        type=_type(type, types),
        summary=_code("summary", summary),
        reason=_code("reason", reason),
        duplicate_of_id=_duplicate_of(session, beta, duplicate_of),
        logged_by=actor.user if actor else None,
        **_context(session, beta, found),
    )
    if logged_at is not None:
        item.logged_at = logged_at
    if item.type == BLOCKER:
        item.blocker_state = BlockerState.OPEN
    session.add(item)
    session.flush()
    record(
        session,
        actor,
        "feedback.logged_in_sheet" if in_sheet else "feedback.logged",
        item,
        beta=beta,
        account=found.external_id,
        source=item.source.value,
        type=item.type,
        call=item.call_id,
    )
    session.flush()
    return item


def _blocker(item: FeedbackItem, values: Mapping[str, object]) -> None:
    """Keep a blocker's state in step with its type, and resolve or reopen it as asked."""
    if item.type != BLOCKER:
        if values.get("blocker_state") or values.get("resolution"):
            raise _problem("blocker_state", "Only a blocker can be resolved or reopened.")
        item.blocker_state, item.resolution = None, None
        return
    state = values.get("blocker_state") or item.blocker_state or BlockerState.OPEN
    try:
        state = BlockerState(state)
    except ValueError:
        raise _problem("blocker_state", "Say open or resolved.") from None
    if state == BlockerState.RESOLVED:
        note = _code("resolution", values.get("resolution", item.resolution))  # type: ignore[arg-type]
        if not note:
            raise _problem("resolution", "Say how the blocker was resolved.")
        item.resolution = note
    else:
        item.resolution = None
    item.blocker_state = state


def edit(
    session: Session,
    actor: Actor,
    item: FeedbackItem,
    values: Mapping[str, object],
    *,
    types: Sequence[str],
) -> FeedbackItem:
    """Codify, change, resolve or reopen an item; only the keys given change.

    `original` never changes once logged: asking to change it is refused.
    """
    require_edit(actor.user, item.beta)
    return _edit(session, actor, item, values, types, "feedback.changed")


def edit_in_sheet(
    session: Session, item: FeedbackItem, values: Mapping[str, object], *, types: Sequence[str]
) -> FeedbackItem:
    """Take the edits people made to an item's row in the sheet, with the log's own checks.

    Nobody in Shipcall made them: the history says they were made in the spreadsheet.
    """
    return _edit(session, None, item, values, types, "feedback.changed_in_sheet")


def _edit(
    session: Session,
    actor: Actor | None,
    item: FeedbackItem,
    values: Mapping[str, object],
    types: Sequence[str],
    action: str,
) -> FeedbackItem:
    if "original" in values:
        raise _problem("original", "What the customer said never changes once logged.")
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    before = {field: _said(item, field) for field in EDITABLE}
    if "type" in values:
        item.type = _type(values["type"], types)  # type: ignore[arg-type]
    for field in ("summary", "reason"):
        if field in values:
            setattr(item, field, _code(field, values[field]))  # type: ignore[arg-type]
    if "duplicate_of" in values:
        item.duplicate_of_id = _duplicate_of(session, item.beta, values["duplicate_of"], item)  # type: ignore[arg-type]
    _blocker(item, values)
    changes = {
        field: [before[field], _said(item, field)]
        for field in EDITABLE
        if before[field] != _said(item, field)
    }
    if changes:
        resolved = "blocker_state" in changes and item.blocker_state == BlockerState.RESOLVED
        if resolved and action == "feedback.changed":
            action = "feedback.resolved"
        record(session, actor, action, item, beta=item.beta, changes=changes)
        session.flush()
    return item


def _said(item: FeedbackItem, field: str) -> object:
    if field == "duplicate_of":
        return item.duplicate_of_id
    value = getattr(item, field)
    return value.value if isinstance(value, BlockerState) else value


# Reading


def get_item(session: Session, item_id: int) -> FeedbackItem:
    """Return a feedback item with what it is shown with, or raise NotFound."""
    item = session.scalar(
        select(FeedbackItem).where(FeedbackItem.id == item_id).options(*shown_with())
    )
    if item is None:
        raise NotFound(f"No feedback item {item_id}.")
    return item


def shown_with() -> tuple:
    """Return the loader options of what an item is shown with, in one statement each."""
    return (
        selectinload(FeedbackItem.beta),
        selectinload(FeedbackItem.account),
        selectinload(FeedbackItem.cohort),
        selectinload(FeedbackItem.logged_by),
        selectinload(FeedbackItem.call),
    )


@dataclass(frozen=True)
class FeedbackFilter:
    """Which items of a beta to list; each field left empty lists them all."""

    type: str = ""
    reason: str = ""  # held in the reason, whatever its case
    reason_is: str = ""  # the same reason, whatever its case, spacing and punctuation
    account: str = ""  # an external id
    cohort: str = ""  # a cohort's slug
    cohort_kind: str = ""  # a CohortKind's value, or NOT_A_MEMBER
    questions: bool = False  # the QUESTION_TYPES only
    source: str = ""
    codified: bool | None = None  # False: the uncodified only
    open_blockers: bool = False


@dataclass(frozen=True)
class FeedbackPage:
    """One page of items, newest first, and the cursor of the next page (None on the last)."""

    items: list[FeedbackItem]
    next: str | None
    repeated_by: Mapping[int, int]  # item id → how many later items repeat it


def encode_cursor(item_id: int) -> str:
    """Return the opaque cursor that follows the item `item_id`."""
    return base64.urlsafe_b64encode(f"id:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the item id a cursor follows, or raise Invalid."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "id" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _problem(
            "cursor", "This cursor is not one the log gave: start again without it."
        ) from None


def codified_condition():
    """Return the SQL condition of a codified item: its type, summary and reason are set."""
    return and_(
        FeedbackItem.type.is_not(None),
        FeedbackItem.summary.is_not(None),
        FeedbackItem.reason.is_not(None),
    )


def _filtered(beta: Beta, wanted: FeedbackFilter) -> Select:
    query = select(FeedbackItem).where(FeedbackItem.beta_id == beta.id)
    if wanted.type:
        query = query.where(FeedbackItem.type == wanted.type)
    if wanted.reason:
        query = query.where(FeedbackItem.reason.ilike(f"%{_escaped(wanted.reason)}%", escape="\\"))
    if wanted.reason_is:
        query = query.where(FeedbackItem.reason_key == reason_key(wanted.reason_is))
    if wanted.questions:
        query = query.where(FeedbackItem.type.in_(QUESTION_TYPES))
    if wanted.account:
        query = query.where(
            FeedbackItem.account_id.in_(
                select(Account.id).where(Account.external_id == wanted.account)
            )
        )
    if wanted.cohort:
        query = query.where(
            FeedbackItem.cohort_id.in_(
                select(Cohort.id).where(Cohort.beta_id == beta.id, Cohort.slug == wanted.cohort)
            )
        )
    if wanted.cohort_kind == NOT_A_MEMBER:
        query = query.where(FeedbackItem.cohort_id.is_(None))
    elif wanted.cohort_kind:
        query = query.where(
            FeedbackItem.cohort_id.in_(
                select(Cohort.id).where(
                    Cohort.beta_id == beta.id, Cohort.kind == _cohort_kind(wanted.cohort_kind)
                )
            )
        )
    if wanted.source:
        query = query.where(FeedbackItem.source == _source(wanted.source))
    codified = codified_condition()
    if wanted.codified is True:
        query = query.where(codified)
    elif wanted.codified is False:
        query = query.where(~codified)
    if wanted.open_blockers:
        query = query.where(
            FeedbackItem.type == BLOCKER, FeedbackItem.blocker_state == BlockerState.OPEN
        )
    return query


def _cohort_kind(value: str) -> CohortKind:
    try:
        return CohortKind(value)
    except ValueError:
        kinds = ", ".join([*(k.value for k in CohortKind), NOT_A_MEMBER])
        raise _problem("cohort_kind", f"Choose a cohort kind among {kinds}.") from None


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def feedback_page(
    session: Session,
    beta: Beta,
    wanted: FeedbackFilter = FeedbackFilter(),  # noqa: B008 - frozen, never changed
    cursor: str | None = None,
    per_page: int = PAGE_SIZE,
) -> FeedbackPage:
    """Return a page of the beta's items, newest first, after `cursor` (keyset, by id)."""
    query = _filtered(beta, wanted)
    if cursor:
        query = query.where(FeedbackItem.id < decode_cursor(cursor))
    rows = list(
        session.scalars(
            query.options(*shown_with()).order_by(FeedbackItem.id.desc()).limit(per_page + 1)
        )
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    return FeedbackPage(
        rows, encode_cursor(rows[-1].id) if more else None, duplicate_counts(session, rows)
    )


def duplicate_counts(session: Session, items: Sequence[FeedbackItem]) -> dict[int, int]:
    """Return how many later items repeat each of these items."""
    ids = [item.id for item in items]
    if not ids:
        return {}
    rows = session.execute(
        select(FeedbackItem.duplicate_of_id, func.count())
        .where(FeedbackItem.duplicate_of_id.in_(ids))
        .group_by(FeedbackItem.duplicate_of_id)
    )
    return {item_id: n for item_id, n in rows}


def item_history(session: Session, item: FeedbackItem) -> list[AuditEntry]:
    """Return the item's audit entries, newest first: who logged, codified and changed it."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.beta_id == item.beta_id,
                AuditEntry.object_type == FeedbackItem.__name__,
                AuditEntry.object_id == str(item.id),
            )
            .options(selectinload(AuditEntry.user), selectinload(AuditEntry.token))
            .order_by(AuditEntry.id.desc())
        )
    )


@dataclass(frozen=True)
class ItemRecord:
    """An item with its history, newest first, and how many later items repeat it."""

    item: FeedbackItem
    history: list[AuditEntry]
    repeated_by: int


def read_item(session: Session, item_id: int) -> ItemRecord:
    """Return an item with what its page shows, or raise NotFound."""
    item = get_item(session, item_id)
    return ItemRecord(
        item, item_history(session, item), duplicate_counts(session, [item]).get(item.id, 0)
    )
