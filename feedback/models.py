"""Feedback items, the calls and asks they come from, and the spreadsheet that mirrors them.

A feedback item is what a customer said, verbatim, codified, with the context it was said in. A
call is a conversation with an account that items are logged from; an ask is a request for
feedback sent to an account, which the cooldown reads. A
beta's sheet link names the spreadsheet its items are mirrored to; sheet rows remember what was
last synced of each item, so that an edit made on both sides is seen; conflicts wait for a PM;
outbox entries are the changes still to be written to the sheet.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from betas.db import Base, UTCDateTime, enum_type, utcnow
from betas.models import NAME_MAX, Beta, User
from cohorts.models import Account, Cohort

ORIGINAL_MAX = 20_000
TYPE_MAX = 64
CODE_MAX = 2_000  # a summary or a reason: a sentence or two, not the feedback again
STATUS_MAX = 32
SPREADSHEET_ID_MAX = 200
WORKSHEET_MAX = 100
FIELD_MAX = 32
FINGERPRINT_MAX = 64

# Anything but letters and digits, in any script: "Export to CSV!" and "export-to-csv" agree.
_NOT_WORD = re.compile(r"[\W_]+")


def reason_key(reason: str | None) -> str | None:
    """Return a reason as patterns group it: no case, punctuation or runs of spaces.

    A reason of punctuation alone keeps its characters (folded), so that it still groups.
    """
    text = (reason or "").strip()
    if not text:
        return None
    return " ".join(_NOT_WORD.sub(" ", text).casefold().split()) or text.casefold()


class Source(enum.StrEnum):
    """Where the customer said it."""

    CALL = "call"
    MESSAGE = "message"
    EMAIL = "email"
    SURVEY = "survey"
    IN_APP = "in_app"
    OTHER = "other"


class BlockerState(enum.StrEnum):
    """Whether a blocker still stands; the ship decision reads it."""

    OPEN = "open"
    RESOLVED = "resolved"


class FeedbackItem(Base):
    """One thing a customer said in a beta, kept word for word, duplicates included.

    `original` is stored exactly as given and never changes. The item is *uncodified* until its
    type, summary and reason are all set. `type` is one of SHIPCALL_FEEDBACK_TYPES (a setting,
    so text here, not an enum). A blocker has a state (open, or resolved with a note); other
    types have none. The context columns say where the account stood when it was logged: its
    cohort and membership status in this beta (none if it was not a member), and its most recent
    other beta, with when it left it (none if it is still in it).
    """

    __tablename__ = "feedback_items"
    __table_args__ = (Index(None, "beta_id", "id"), Index(None, "reason_key", "beta_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    original: Mapped[str] = mapped_column(Text)
    source: Mapped[Source] = mapped_column(enum_type(Source, "feedback_source"))
    type: Mapped[str | None] = mapped_column(String(TYPE_MAX))
    summary: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    # The reason as patterns group it (reason_key), kept with it whenever it is set.
    reason_key: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_items.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    blocker_state: Mapped[BlockerState | None] = mapped_column(
        enum_type(BlockerState, "blocker_state")
    )
    resolution: Mapped[str | None] = mapped_column(Text)
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"))
    member_status: Mapped[str | None] = mapped_column(String(STATUS_MAX))
    previous_beta_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    previous_beta_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    beta: Mapped[Beta] = relationship()
    account: Mapped[Account] = relationship()
    cohort: Mapped[Cohort | None] = relationship()
    logged_by: Mapped[User | None] = relationship()
    call: Mapped[Call | None] = relationship(back_populates="items")

    @validates("reason")
    def _keep_reason_key(self, _name: str, value: str | None) -> str | None:
        self.reason_key = reason_key(value)
        return value

    @property
    def codified(self) -> bool:
        """Tell whether the item has its type, summary and reason."""
        return bool(self.type and self.summary and self.reason)


CHANNEL_MAX = 64
GUESTS_MAX = 2_000

call_attendees = Table(
    "call_attendees",
    Base.metadata,
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)


class Call(Base):
    """A call with an account of a beta: when, who attends, what to ask, what was said.

    Attendees are teammates who use Shipcall (the engineer and the designer the guide says to
    invite), and `guests`: other names, free text (the customer's people, a teammate without a
    login). The feedback said on it is logged as items that point at it.
    """

    __tablename__ = "calls"
    __table_args__ = (Index(None, "beta_id", "held_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    guests: Mapped[str] = mapped_column(Text, default="")
    questions: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    beta: Mapped[Beta] = relationship()
    account: Mapped[Account] = relationship()
    created_by: Mapped[User | None] = relationship()
    attendees: Mapped[list[User]] = relationship(secondary=call_attendees, order_by=User.name)
    items: Mapped[list[FeedbackItem]] = relationship(
        back_populates="call", order_by=FeedbackItem.id
    )


class Ask(Base):
    """A request for feedback sent to an account: when, by which channel, who sent it.

    The cooldown reads these, across every beta: an account asked recently is not asked again.
    """

    __tablename__ = "asks"
    __table_args__ = (Index(None, "account_id", "asked_at"), Index(None, "beta_id", "asked_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    channel: Mapped[str] = mapped_column(String(CHANNEL_MAX))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    beta: Mapped[Beta] = relationship()
    account: Mapped[Account] = relationship()
    asked_by: Mapped[User | None] = relationship()


class SheetLink(Base):
    """The spreadsheet a beta's feedback is mirrored to, and how its sync is going.

    `sheet_id` is the worksheet's own id (its gid), so a worksheet people rename is still found.
    The sync state: the last success, the last error and the next try (after a failure: the
    backoff; none when nothing waits). `claimed_until` is a worker's lease on the link while it
    syncs it: another worker skips it, and a worker that died frees it when the lease ends.
    `unmatched` lists the rows people added that could not become items, each {"row", "message"}.
    """

    __tablename__ = "sheet_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"), unique=True)
    spreadsheet_id: Mapped[str] = mapped_column(String(SPREADSHEET_ID_MAX))
    worksheet: Mapped[str] = mapped_column(String(WORKSHEET_MAX))
    sheet_id: Mapped[int] = mapped_column(Integer)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unmatched: Mapped[list] = mapped_column(JSON, default=list)

    beta: Mapped[Beta] = relationship()
    linked_by: Mapped[User | None] = relationship()


class SheetRow(Base):
    """What was last synced of an item's row: the values of the fields people may edit there.

    A field changed since, in Shipcall and in the sheet both, to different values is a
    conflict. `fingerprint` marks an item made from a row people added, until its id is seen in
    the sheet: should the write of that id fail, the next sync knows the row again instead of
    making a second item. `missing_since`: the row was deleted in the sheet; it is not written
    again until a PM restores it.
    """

    __tablename__ = "sheet_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    sheet_link_id: Mapped[int] = mapped_column(
        ForeignKey("sheet_links.id", ondelete="CASCADE"), index=True
    )
    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), unique=True
    )
    synced: Mapped[dict] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str | None] = mapped_column(String(FINGERPRINT_MAX))
    missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item: Mapped[FeedbackItem] = relationship()


class SheetConflict(Base):
    """A field changed on both sides since the last sync: Shipcall's value and the sheet's."""

    __tablename__ = "sheet_conflicts"
    __table_args__ = (UniqueConstraint("feedback_item_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE")
    )
    field: Mapped[str] = mapped_column(String(FIELD_MAX))
    ours: Mapped[str | None] = mapped_column(Text)
    theirs: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[FeedbackItem] = relationship()


class OutboxEntry(Base):
    """A change to an item still to be written to its beta's sheet.

    Written in the same transaction as the change (feedback/outbox.py), so a change committed is
    a change that will reach the sheet; the relay deletes the entries it wrote.
    """

    __tablename__ = "outbox_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"), index=True)
    feedback_item_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[FeedbackItem] = relationship()
