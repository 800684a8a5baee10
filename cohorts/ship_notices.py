"""Telling the accounts that asked for a feature that it shipped: who was told, and when."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Conflict, Invalid
from betas.models import Beta, Outcome
from cohorts.models import Account, ShipNotice


def told(session: Session, beta: Beta) -> dict[int, ShipNotice]:
    """Return the beta's notices by account id, in one statement."""
    notices = session.scalars(select(ShipNotice).where(ShipNotice.beta_id == beta.id))
    return {notice.account_id: notice for notice in notices}


def mark_told(session: Session, actor: Actor, beta: Beta, external_ids: Iterable[str]) -> int:
    """Record that these accounts were told the beta shipped; return how many were new.

    Refuses anyone but the beta's owner or an admin, a beta whose standing decision is not a
    ship, and an empty choice. Accounts told before stay as they were.
    """
    require_edit(actor.user, beta)
    if beta.decision is None or beta.decision.outcome != Outcome.SHIP:
        raise Conflict(f"{beta.name} has not shipped: there is nothing to tell yet.")
    wanted = sorted(set(external_ids))
    if not wanted:
        raise Invalid(
            "Choose the accounts you told.", [{"field": "accounts", "message": "Choose one."}]
        )
    already = told(session, beta)
    accounts = session.scalars(select(Account).where(Account.external_id.in_(wanted))).all()
    new = [a for a in accounts if a.id not in already]
    for account in new:
        session.add(ShipNotice(beta_id=beta.id, account=account, told_by=actor.user))
    session.flush()
    if new:
        record(
            session,
            actor,
            "beta.requesters_told",
            beta,
            beta=beta,
            accounts=[a.external_id for a in new],
        )
    return len(new)
