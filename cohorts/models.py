"""Accounts and their conversations, cohorts of a beta, memberships, and the imports' history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from betas.db import Base, TimestampMixin, UTCDateTime, enum_type, utcnow
from betas.models import NAME_MAX, ApiToken, Beta, User

FILE_NAME_MAX = 255


class CohortKind(enum.StrEnum):
    """How a cohort's members were found."""

    EARLY_ADOPTERS = "early_adopters"
    RANDOM_SAMPLE = "random_sample"
    MANUAL = "manual"


class Author(enum.StrEnum):
    """Who wrote a part of a conversation; only customers' words are evidence of a request."""

    CUSTOMER = "customer"
    TEAMMATE = "teammate"
    BOT = "bot"


class ImportVia(enum.StrEnum):
    """Where an import came in: the import page, the command line, or the JSON API."""

    PAGE = "page"
    COMMAND_LINE = "command_line"
    API = "api"


class MembershipStatus(enum.StrEnum):
    """Where an account stands in a beta; only `active` members have the feature."""

    INVITED = "invited"
    ACTIVE = "active"
    DECLINED = "declined"
    OPTED_OUT = "opted_out"
    REMOVED = "removed"


# The statuses of a membership that left its beta: it has a left_at.
LEFT = frozenset({MembershipStatus.DECLINED, MembershipStatus.OPTED_OUT, MembershipStatus.REMOVED})


class Account(TimestampMixin, Base):
    """A customer account, known by the id it has in the customer's own systems."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)


class Conversation(TimestampMixin, Base):
    """A support conversation of an account, as exported from the support tool."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()
    tags: Mapped[list[ConversationTag]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ConversationTag.tag"
    )
    parts: Mapped[list[ConversationPart]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="ConversationPart.id",
    )


class ConversationTag(Base):
    """A tag on a conversation, in a table of its own so the finder can filter by it."""

    __tablename__ = "conversation_tags"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class ConversationPart(Base):
    """One message in a conversation: who wrote it, its readable text (never markup), when.

    Customer-written parts are also indexed for search: SQLite keeps an FTS5 table and PostgreSQL
    a generated tsvector column; both are made by the migrations, outside these models.
    """

    __tablename__ = "conversation_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[Author] = mapped_column(enum_type(Author, "author"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    conversation: Mapped[Conversation] = relationship(back_populates="parts")


class ProblemSearch(TimestampMixin, Base):
    """A saved finder query: accounts matching it asked already, so samples leave them out."""

    __tablename__ = "problem_searches"
    __table_args__ = (UniqueConstraint("beta_id", "query"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(String(1000))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


class Cohort(TimestampMixin, Base):
    """A wave of a beta, with the criteria that made it so it can be explained and repeated."""

    __tablename__ = "cohorts"
    __table_args__ = (UniqueConstraint("beta_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    kind: Mapped[CohortKind] = mapped_column(enum_type(CohortKind, "cohort_kind"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    planned_size: Mapped[int | None] = mapped_column(Integer)
    criteria: Mapped[dict] = mapped_column(JSON, default=dict)

    beta: Mapped[Beta] = relationship()


class Membership(Base):
    """An account in a beta: one per account per beta, with the reason it is there.

    `joined_at` says when it first became active (at enrollment in a low-risk beta, at
    acceptance in a high-risk one): its account's usage counts for the beta from that moment, and
    it never moves later. `left_at` says when it left (declined, opted out, removed) and is
    cleared when it rejoins; `opt_out_reason` is what the customer gave, if anything, when opting
    out.
    """

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("beta_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    status: Mapped[MembershipStatus] = mapped_column(
        enum_type(MembershipStatus, "membership_status")
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opt_out_reason: Mapped[str | None] = mapped_column(Text)

    beta: Mapped[Beta] = relationship()
    account: Mapped[Account] = relationship()
    cohort: Mapped[Cohort] = relationship()
    enrolled_by: Mapped[User | None] = relationship()


class ImportRun(Base):
    """An import that went through: who ran it, when, from which file, and what it changed.

    Written in the import's own transaction, so a failed import leaves no run behind.
    """

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    via: Mapped[ImportVia] = mapped_column(enum_type(ImportVia, "import_via"))
    file_name: Mapped[str | None] = mapped_column(String(FILE_NAME_MAX))
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
    token: Mapped[ApiToken | None] = relationship()

    @property
    def who(self) -> str:
        """Say who imported: the user, the user and their token, or the command line."""
        if self.via == ImportVia.COMMAND_LINE:
            return "command line"
        name = self.user.display_name if self.user else "an unknown user"
        return f"{name} (token {self.token.name})" if self.token else name


class ShipNotice(Base):
    """An account that asked for a beta's feature, told that it shipped: who told it, when."""

    __tablename__ = "ship_notices"
    __table_args__ = (UniqueConstraint("beta_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    told_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    told_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    told_by: Mapped[User] = relationship()
