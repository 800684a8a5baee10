"""Usage events, their kinds, and the per-day rollup that success metrics are computed from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from betas.db import Base, UTCDateTime, utcnow

CLIENT_ID_MAX = 128
KIND_PART_MAX = 64
USER_REF_MAX = 200
# BIGINT on PostgreSQL, where events may pass two billion; on SQLite INTEGER, so that the key
# stays an alias of the rowid (a BIGINT key would be a separate column and index there).
EVENT_ID = BigInteger().with_variant(Integer, "sqlite")


class EventKind(Base):
    """What happened, in the product's words: an action on an object, perhaps at a place.

    The product has a few dozen kinds; an absent place is '' (so that the unique key holds).
    """

    __tablename__ = "event_kinds"
    __table_args__ = (UniqueConstraint("action", "object", "place"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(String(KIND_PART_MAX))
    object: Mapped[str] = mapped_column(String(KIND_PART_MAX))
    place: Mapped[str] = mapped_column(String(KIND_PART_MAX), default="", server_default="")


class UsageEvent(Base):
    """One event the product sent, kept once: its id (the sender's) makes sending it again safe."""

    __tablename__ = "usage_events"
    __table_args__ = (Index(None, "account_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(EVENT_ID, primary_key=True)
    client_event_id: Mapped[str] = mapped_column(String(CLIENT_ID_MAX), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind_id: Mapped[int] = mapped_column(ForeignKey("event_kinds.id"))
    user_ref: Mapped[str | None] = mapped_column(String(USER_REF_MAX))
    # "metadata" is the declarative base's own attribute: the column keeps the name, the
    # attribute does not.
    details: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageDay(Base):
    """How many events of a kind an account had in one day of SHIPCALL_TIMEZONE, and when.

    `day` is the zone's date as a day number (`date.toordinal()`). `since` is the start of the
    span the row counts: today always the start of that day in the zone, so there is one row per
    account, kind and day. The column exists so that a later change can split a day at the moment
    an account joined a beta: events before the join must not count for that beta, and a row
    from that moment on would then sit beside the one from the day's start.

    Kept in step with usage_events in the transaction that stores them (`usage.rollup`); after a
    change of SHIPCALL_TIMEZONE, `usage rebuild` counts the days again from the raw events.
    """

    __tablename__ = "usage_days"
    __table_args__ = (PrimaryKeyConstraint("account_id", "kind_id", "day", "since"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind_id: Mapped[int] = mapped_column(ForeignKey("event_kinds.id"))
    day: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MetricDayValue(Base):
    """A metric's stored value for one cohort on one day: its members and the accounts meeting it.

    Computed from the rollup and the memberships (`usage.values`), kept so that a request reads
    them instead of sweeping every member's days again; `ValuesMark` says from which day a
    beta's rows are stale. `measured`: some member had counted a matching event by that day.
    The value itself (a percent or a count) and the status against the target are read off these
    at request time, so a change of unit, target or direction needs nothing recomputed.
    """

    __tablename__ = "metric_day_values"
    __table_args__ = (PrimaryKeyConstraint("metric_id", "cohort_id", "day"),)

    metric_id: Mapped[int] = mapped_column(ForeignKey("success_metrics.id", ondelete="CASCADE"))
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    day: Mapped[int] = mapped_column(Integer)
    members: Mapped[int] = mapped_column(Integer)
    accounts: Mapped[int] = mapped_column(Integer)
    measured: Mapped[bool] = mapped_column(Boolean)


class ValuesMark(Base):
    """How far a beta's stored metric values hold: what they were computed from, and to when.

    `signature` digests what the values depend on besides events (the zone, the launch day,
    each metric's rule, the cohorts, the beta's members version): a request that finds another
    one computes again from the launch. `through` is the last day computed. Storing
    events marks the beta `dirty_from` their earliest day (`usage.rollup.add`), and a rebuild
    forgets every mark.
    """

    __tablename__ = "values_marks"

    beta_id: Mapped[int] = mapped_column(
        ForeignKey("betas.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    signature: Mapped[str] = mapped_column(String(64), default="")
    through: Mapped[int | None] = mapped_column(Integer)
    dirty_from: Mapped[int | None] = mapped_column(Integer)
    # The last day the stored `metric_totals` run through (None: none hold).
    totals_through: Mapped[int | None] = mapped_column(Integer)


class MetricTotals(Base):
    """Each membership's count for a metric over the completed days of its window.

    Events, or days with an event, by the rule, over the window ending the day after the mark's
    `totals_through` (since joining: from the join), through `totals_through`; stored with the
    values so that the next update of today reads these plus today's rollup rows, not the
    window or the history. They hold like the values: same signature, and not stale from a day
    they run through (`values_marks`).

    One row per metric, the memberships and their totals as two lists (memberships without a
    matching event left out): they are always read and written whole, and ten thousand
    members' totals as a row each cost more to read and write than to count.
    """

    __tablename__ = "metric_totals"

    metric_id: Mapped[int] = mapped_column(
        ForeignKey("success_metrics.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    beta_id: Mapped[int] = mapped_column(ForeignKey("betas.id", ondelete="CASCADE"), index=True)
    # {"memberships": [id, ...], "totals": [count, ...]}, in step.
    totals: Mapped[dict] = mapped_column(JSON)
