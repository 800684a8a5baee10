"""Feedback items: what customers said, verbatim, codified, and the context it was said in."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from betas.db import Base, UTCDateTime, enum_type, utcnow
from betas.models import NAME_MAX, Beta, User
from cohorts.models import Account, Cohort

ORIGINAL_MAX = 20_000
TYPE_MAX = 64
CODE_MAX = 2_000  # a summary or a reason: a sentence or two, not the feedback again
STATUS_MAX = 32


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
    __table_args__ = (Index(None, "beta_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    original: Mapped[str] = mapped_column(Text)
    source: Mapped[Source] = mapped_column(enum_type(Source, "feedback_source"))
    type: Mapped[str | None] = mapped_column(String(TYPE_MAX))
    summary: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
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
