"""Stored metric values: how far a beta's hold, marking them stale, reading and replacing them.

`usage.values` computes a beta's values per metric, cohort and day, stores them here with a
mark (`ValuesMark`), and reads them back while they hold. They stop holding:

- from the earliest day of events stored for the beta's members (`mark_dirty`, called by
  `usage.rollup.add` in the transaction that adds them: late events mark earlier days);
- from the day after the last one computed, when a new day begins;
- entirely when their signature changes: the zone, the launch, a metric's rule, the cohorts, or
  the beta's members version (`cohorts.memberships` bumps it with every change of a
  membership: joining, leaving, moving; the member list's ETag stands on it too);
- entirely after a rebuild of the rollup (`forget_all`).

Beside the values, each membership's totals for each metric over the completed days of its
window ending the day after the mark's `totals_through` (`metric_totals`): an update of
today reads them and the rollup's days after them (today's alone) instead of each membership's
window or whole history. They hold while the values' signature holds and nothing is stale from
a day they run through (`totals_hold`); each computation stores them again.

Concurrency: storing events upserts the marks of their betas' rows, which locks them until the
commit; a request bringing values up to date locks its beta's mark (`lock`) before it reads the
rollup. So on PostgreSQL either the events committed before the rollup is read and are counted,
or their mark waits for the request's commit and marks its rows stale after it. On SQLite every
writer holds the database's write lock, and only a session that took it (`may_store`) stores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from betas.db import insert_rows
from usage.models import MetricDayValue, MetricTotals, ValuesMark


@dataclass(frozen=True)
class Mark:
    """What a beta's stored values were computed from, through which day, and stale from when."""

    signature: str
    through: int | None
    dirty_from: int | None
    totals_through: int | None = None

    def stale_from(self, signature: str, launched: int) -> int:
        """Return the first day to compute again (past `through` when nothing is stale)."""
        if self.signature != signature or self.through is None:
            return launched
        fresh_to = self.through if self.dirty_from is None else self.dirty_from - 1
        return max(launched, min(self.through, fresh_to) + 1)

    def totals_hold(self, signature: str, before: int) -> int | None:
        """Return the day the stored totals run through if they hold and end before `before`."""
        ends = self.totals_through
        if self.signature != signature or ends is None or ends >= before:
            return None
        return ends if self.dirty_from is None or self.dirty_from > ends else None


NO_MARK = Mark("", None, None)


def signature(parts: object) -> str:
    """Return a digest of what the values depend on besides events (JSON-able parts)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _insert(session: Session):
    postgres = session.get_bind().dialect.name == "postgresql"
    return (postgresql if postgres else sqlite).insert(ValuesMark.__table__)


def may_store(session: Session) -> bool:
    """Tell whether this session may store values: on SQLite only one holding the write lock.

    A read session on SQLite that tried to write could fail at once with "database is locked"
    when another process wrote since it began; it computes the values without storing them.
    """
    return session.get_bind().dialect.name == "postgresql" or session.info.get("write", True)


def read_mark(session: Session, beta_id: int) -> Mark:
    """Return the beta's mark, without locking it (NO_MARK if it has none)."""
    row = session.execute(
        select(
            ValuesMark.signature,
            ValuesMark.through,
            ValuesMark.dirty_from,
            ValuesMark.totals_through,
        ).where(ValuesMark.beta_id == beta_id)
    ).first()
    return Mark(*row) if row else NO_MARK


def lock(session: Session, beta_id: int) -> Mark:
    """Lock the beta's mark (making it if need be) until the commit, and return it."""
    table = ValuesMark.__table__
    insert = _insert(session).values(beta_id=beta_id, signature="")
    row = session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.beta_id], set_={"signature": table.c.signature}
        ).returning(table.c.signature, table.c.through, table.c.dirty_from, table.c.totals_through)
    ).one()
    return Mark(*row)


def mark_dirty(session: Session, beta_ids: Iterable[int], day: int) -> None:
    """Mark these betas' stored values stale from `day`, in one statement (none for no beta).

    The marks are upserted in beta order (so that two transactions lock them in one order), also
    where they were stale already: the lock is what makes a request computing meanwhile wait
    for these events (see the module's docstring).
    """
    beta_ids = sorted(set(beta_ids))
    if not beta_ids:
        return
    table = ValuesMark.__table__
    insert = _insert(session).values(
        [{"beta_id": beta_id, "signature": "", "dirty_from": day} for beta_id in beta_ids]
    )
    earlier = case(
        (
            table.c.dirty_from.is_(None) | (table.c.dirty_from > insert.excluded.dirty_from),
            insert.excluded.dirty_from,
        ),
        else_=table.c.dirty_from,
    )
    session.execute(
        insert.on_conflict_do_update(index_elements=[table.c.beta_id], set_={"dirty_from": earlier})
    )


def forget_all(session: Session) -> None:
    """Forget every beta's mark and totals: each computes again from the launch (a rebuild)."""
    session.execute(delete(MetricTotals))
    session.execute(delete(ValuesMark))


def replace(
    session: Session,
    beta_id: int,
    metric_ids: Sequence[int],
    first: int,
    rows: list[dict],
    mark: Mark,
    totals: Totals | None = None,
) -> None:
    """Replace the metrics' rows from day `first` on with `rows`, and record the new mark.

    `totals`: the membership totals through the new mark's `totals_through`, to store in place
    of the beta's (None: keep them, they hold). The caller holds the beta's mark (`lock`).
    """
    table = MetricDayValue.__table__
    session.execute(delete(table).where(table.c.metric_id.in_(metric_ids), table.c.day >= first))
    if rows:
        insert_rows(session, table, rows)
    if totals is not None:
        _replace_totals(session, beta_id, totals)
    session.execute(
        update(ValuesMark)
        .where(ValuesMark.beta_id == beta_id)
        .values(
            signature=mark.signature,
            through=mark.through,
            dirty_from=None,
            totals_through=mark.totals_through,
        )
    )


# {metric id: {membership id: its events, or days with an event}}
Totals = dict[int, dict[int, int]]


def _replace_totals(session: Session, beta_id: int, totals: Totals) -> None:
    table = MetricTotals.__table__
    session.execute(delete(table).where(table.c.beta_id == beta_id))
    rows = []
    for metric_id, per_membership in totals.items():
        counted = {membership: total for membership, total in per_membership.items() if total}
        listed = {"memberships": list(counted), "totals": list(counted.values())}
        rows.append({"metric_id": metric_id, "beta_id": beta_id, "totals": listed})
    if rows:
        insert_rows(session, table, rows)


def read_totals(session: Session, beta_id: int, metric_ids: Sequence[int]) -> Totals:
    """Return the beta's stored membership totals of these metrics, in one statement."""
    found: Totals = {metric_id: {} for metric_id in metric_ids}
    if not metric_ids:
        return found
    table = MetricTotals.__table__
    for metric_id, listed in session.execute(
        select(table.c.metric_id, table.c.totals).where(
            table.c.beta_id == beta_id, table.c.metric_id.in_(metric_ids)
        )
    ).all():
        found[metric_id] = dict(zip(listed["memberships"], listed["totals"], strict=True))
    return found


def read(
    session: Session, metric_ids: Sequence[int], first: int, last: int
) -> list[tuple[int, int, int, int, int, bool]]:
    """Return (metric, cohort, day, members, accounts, measured) of these days, in one statement."""
    if not metric_ids:
        return []
    table = MetricDayValue.__table__
    return [
        tuple(row)
        for row in session.execute(
            select(
                table.c.metric_id,
                table.c.cohort_id,
                table.c.day,
                table.c.members,
                table.c.accounts,
                table.c.measured,
            )
            .where(table.c.metric_id.in_(metric_ids), table.c.day.between(first, last))
            .order_by(table.c.metric_id, table.c.cohort_id, table.c.day)
        )
    ]


def measured_on(session: Session, metric_ids: Sequence[int], day: int) -> set[int]:
    """Return the metrics whose stored values say a member had counted a matching event by `day`.

    In one statement (none for no metric): a stored row of that day marked measured, of any
    cohort (every cohort's row of a metric and day says the same).
    """
    if not metric_ids:
        return set()
    table = MetricDayValue.__table__
    return set(
        session.scalars(
            select(table.c.metric_id)
            .where(table.c.metric_id.in_(metric_ids), table.c.day == day, table.c.measured)
            .distinct()
        )
    )
