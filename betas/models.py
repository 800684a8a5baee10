"""People, betas and their framing, and the audit trail."""

from __future__ import annotations

import enum
import re
import secrets
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from betas.db import Base, TimestampMixin, UTCDateTime, enum_type, utcnow

# The slug rule: a beta's key, a cohort's slug. Forms, schemas and services all use this one.
KEY_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
KEY_MAX = 64
SLUG_HINT = "Use lower-case letters, digits and hyphens."
NAME_MAX = 200
TEXT_MAX = 10_000
TARGET_MAX = 1_000_000_000  # fits Numeric(12, 2)


_SLUG = re.compile(KEY_PATTERN)


def is_slug(text: str | None) -> bool:
    """Tell whether a text is a slug: lower-case letters and digits in words joined by hyphens."""
    return bool(text) and len(text) <= KEY_MAX and _SLUG.fullmatch(text) is not None


class Role(enum.StrEnum):
    """What a user may do: viewers read, PMs frame their betas, admins do everything."""

    VIEWER = "viewer"
    PM = "pm"
    ADMIN = "admin"


class BetaState(enum.StrEnum):
    """Where a beta is in its life."""

    DRAFT = "draft"
    RUNNING = "running"
    DECIDED = "decided"


class Risk(enum.StrEnum):
    """How accounts join: opted in and notified (low), or invited and accepting (high)."""

    LOW = "low"
    HIGH = "high"


class BusinessOutcome(enum.StrEnum):
    """The business results a beta may aim at."""

    ACQUISITION = "acquisition"
    EXPANSION = "expansion"
    RETENTION = "retention"
    REVENUE = "revenue"


class MetricStage(enum.StrEnum):
    """The adoption funnel stage a metric measures."""

    AWARENESS = "awareness"
    INTENT = "intent"
    ACTIVATION = "activation"
    ADOPTION = "adoption"
    ENGAGEMENT = "engagement"
    CUSTOM = "custom"


class MetricUnit(enum.StrEnum):
    """What a target counts."""

    PERCENT = "percent"
    COUNT = "count"


class Direction(enum.StrEnum):
    """Whether the metric must reach the target or stay under it."""

    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Outcome(enum.StrEnum):
    """The call a decision makes: turn the feature on for everyone, or off."""

    SHIP = "ship"
    NO_SHIP = "no_ship"


class User(TimestampMixin, Base):
    """A person who signs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Rotated at sign-out: every session cookie issued before it stops working.
    session_token: Mapped[str] = mapped_column(
        String(64), default=lambda: secrets.token_urlsafe(32)
    )
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Flask-Login reads these: a loaded user is signed in, and the cookie names its session token.
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        """Return what the session cookie holds: the id and the current session token."""
        return f"{self.id}.{self.session_token}"

    @property
    def display_name(self) -> str:
        """The name, or the email when no name was given."""
        return self.name or self.email


class ApiToken(Base):
    """A bearer token for the JSON API, acting as its user within its scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class Beta(TimestampMixin, Base):
    """A beta: the problem, what to learn, how success is measured, and when to decide."""

    __tablename__ = "betas"
    __table_args__ = (CheckConstraint("length(key) > 0", name="key_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    problem: Mapped[str] = mapped_column(Text, default="")
    learning_goals: Mapped[str] = mapped_column(Text, default="")
    customer_outcome: Mapped[str] = mapped_column(Text, default="")
    business_outcomes: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk: Mapped[Risk] = mapped_column(enum_type(Risk, "risk"), default=Risk.LOW)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[BetaState] = mapped_column(
        enum_type(BetaState, "beta_state"), default=BetaState.DRAFT
    )
    decision_deadline: Mapped[date | None] = mapped_column(Date)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped in the same transaction as every change to the beta's memberships: the member list's
    # ETag, so a product polling the list gets 304 without Shipcall reading the list.
    members_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The message sent with every export of members and asks (betas.messages); None: the one
    # drawn from the framing, until the owner writes their own.
    message: Mapped[str | None] = mapped_column(Text)

    owner: Mapped[User] = relationship()
    metrics: Mapped[list[SuccessMetric]] = relationship(
        back_populates="beta", order_by="SuccessMetric.id", cascade="all, delete-orphan"
    )
    extensions: Mapped[list[DeadlineExtension]] = relationship(
        back_populates="beta", order_by="DeadlineExtension.id", cascade="all, delete-orphan"
    )
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="beta", order_by="Decision.id", cascade="all, delete-orphan"
    )

    @property
    def decision(self) -> Decision | None:
        """The decision that stands: the latest one, while the beta is decided."""
        if self.state != BetaState.DECIDED or not self.decisions:
            return None
        return self.decisions[-1]


class SuccessMetric(Base):
    """A measure of success with the target the beta must reach."""

    __tablename__ = "success_metrics"
    __table_args__ = (
        CheckConstraint("target >= 0", name="target_not_negative"),
        CheckConstraint("unit <> 'percent' OR target <= 100", name="percent_at_most_100"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    stage: Mapped[MetricStage] = mapped_column(enum_type(MetricStage, "metric_stage"))
    counts: Mapped[str] = mapped_column(Text, default="")
    target: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    unit: Mapped[MetricUnit] = mapped_column(enum_type(MetricUnit, "metric_unit"))
    direction: Mapped[Direction] = mapped_column(
        enum_type(Direction, "direction"), default=Direction.AT_LEAST
    )
    # Which events count and when an account counts (betas.metric_rules); None: not instrumented.
    rule: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    beta: Mapped[Beta] = relationship(back_populates="metrics")


class DeadlineExtension(Base):
    """A decision deadline moved later, with the reason why."""

    __tablename__ = "deadline_extensions"
    __table_args__ = (CheckConstraint("new_deadline > old_deadline", name="extends_later"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"), index=True)
    old_deadline: Mapped[date] = mapped_column(Date)
    new_deadline: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    beta: Mapped[Beta] = relationship(back_populates="extensions")
    user: Mapped[User] = relationship()


class ReminderKind(enum.StrEnum):
    """Why a reminder goes out: the deadline is a week away, tomorrow, or passed; a checkpoint."""

    WEEK_BEFORE = "week_before"
    DAY_BEFORE = "day_before"
    OVERDUE = "overdue"
    CHECKPOINT = "checkpoint"


class ReminderSent(Base):
    """A reminder mailed to a beta's owner on one day of the configured zone: claimed, then sent.

    A deadline reminder is one row per beta and day, a checkpoint's one row per checkpoint,
    whatever the number of runs: the unique index is what makes two runs at once send one
    reminder. A row without `sent_at` is a claim whose sending is under way.
    """

    __tablename__ = "reminders_sent"
    __table_args__ = (
        Index(
            "uq_reminders_sent_deadline",
            "beta_id",
            "day",
            unique=True,
            sqlite_where=text("checkpoint_id IS NULL"),
            postgresql_where=text("checkpoint_id IS NULL"),
        ),
        UniqueConstraint("checkpoint_id"),
        CheckConstraint(
            "(kind = 'checkpoint') = (checkpoint_id IS NOT NULL)", name="checkpoint_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"))
    # The checkpoint a checkpoint reminder is about (None for a deadline reminder).
    checkpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkpoints.id", ondelete="CASCADE")
    )
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[ReminderKind] = mapped_column(enum_type(ReminderKind, "reminder_kind"))
    recipient: Mapped[str] = mapped_column(String(254))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    beta: Mapped[Beta] = relationship()


class Decision(Base):
    """A ship / no-ship call with its reasons and the review it was made on, frozen.

    What was decided never changes. An admin may reopen the beta: the decision then stops
    standing (`reopened_at`, by whom and why) and stays in the beta's record; at most one
    decision of a beta stands at a time.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("length(rationale) > 0", name="rationale_not_empty"),
        Index(
            "uq_decisions_standing",
            "beta_id",
            unique=True,
            sqlite_where=text("reopened_at IS NULL"),
            postgresql_where=text("reopened_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[Outcome] = mapped_column(enum_type(Outcome, "outcome"))
    rationale: Mapped[str] = mapped_column(Text)
    # The guide's three questions: {"solved", "replaces_existing", "marketing"}.
    answers: Mapped[dict] = mapped_column(JSON)
    learned: Mapped[str] = mapped_column(Text, default="")
    # {"approver": str, "contributors": [str], "informed": [str]}: names as the team gave them.
    participants: Mapped[dict] = mapped_column(JSON)
    # [{"kind": "feedback" | "metric", "id", "label", "reason"}]: what a ship went ahead despite.
    waivers: Mapped[list] = mapped_column(JSON, default=list)
    # The review as it stood when deciding (shipcall.review.snapshot), shown as it was for good.
    snapshot: Mapped[dict] = mapped_column(JSON)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    # After a ship, what the accounts that asked for it are told (the requesters' CSV carries
    # it): news of the call, written after it, not part of it.
    ship_message: Mapped[str] = mapped_column(Text, default="", server_default="")

    beta: Mapped[Beta] = relationship(back_populates="decisions")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    reopened_by: Mapped[User | None] = relationship(foreign_keys=[reopened_by_id])
    checkpoints: Mapped[list[Checkpoint]] = relationship(
        back_populates="decision", order_by="Checkpoint.months", cascade="all, delete-orphan"
    )


class Checkpoint(Base):
    """An outcome check after a ship, 1, 3, 6 or 12 months on: the metrics again, and a report.

    Made with the ship. Its report answers the guide's outcome questions, keeps the values
    re-measured beside those at the decision, and lists the actions that follow (each with an
    owner and a due date); once reported it is part of the record.
    """

    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("decision_id", "months"),
        CheckConstraint("months IN (1, 3, 6, 12)", name="months_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), index=True
    )
    months: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    solved: Mapped[str | None] = mapped_column(Text)  # solved for most target customers?
    outcomes: Mapped[str | None] = mapped_column(Text)  # the customer and business outcomes?
    # [{"what", "owner", "due_on"}]: what follows from the report.
    actions: Mapped[list] = mapped_column(JSON, default=list)
    # The metrics as re-measured when reporting: [{"id", "name", "status", "value", "at_decision"}].
    measured: Mapped[list] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    decision: Mapped[Decision] = relationship(back_populates="checkpoints")
    reported_by: Mapped[User | None] = relationship()


class AuditEntry(Base):
    """Who did what to which object, and when."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    beta_id: Mapped[int | None] = mapped_column(
        ForeignKey("betas.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(254))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
    token: Mapped[ApiToken | None] = relationship()
    beta: Mapped[Beta | None] = relationship()
