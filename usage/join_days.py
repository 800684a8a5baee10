"""Split an account's day in the rollup when one of its memberships gets its join time.

cohorts sets `Membership.joined_at` and cannot import usage, which sits above it: so usage
listens to every session's flush (registered once, when the package is imported) for
memberships whose join time was just set, and counts those accounts' days again from their raw
events, split at the join (`rollup.recount`), in the same transaction. Events that arrive later
find the join time themselves (`rollup.add`).
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from betas.db import ZONE
from cohorts.models import Membership
from usage import rollup


def _joined(session: Session) -> set[tuple[int, int]]:
    """Return (account id, day) of each membership whose join time this flush set."""
    zone = session.info.get(ZONE, UTC)
    found = set()
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Membership):
            continue
        added = inspect(obj).attrs.joined_at.history.added
        if added and added[0] is not None:
            found.add((obj.account_id, rollup.day_of(added[0], zone)))
    return found


@event.listens_for(Session, "after_flush")
def split_join_days(session: Session, _context) -> None:
    """Count again the days of the accounts that joined a beta in this flush."""
    joined = _joined(session)
    if joined:
        rollup.recount(session, joined, session.info.get(ZONE, UTC))
