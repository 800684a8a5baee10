"""Reading who is in a beta: members, counts, the CSV for the messaging tool, account histories."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from betas.errors import NotFound
from betas.models import Beta, BetaState
from cohorts.models import Account, Cohort, Conversation, Membership, MembershipStatus


def members(session: Session, beta: Beta, cohort: Cohort | None = None) -> list[Membership]:
    """Return a beta's memberships (or one cohort's), with accounts and cohorts loaded."""
    query = (
        select(Membership)
        .join(Membership.account)
        .where(Membership.beta_id == beta.id)
        .options(
            selectinload(Membership.account),
            selectinload(Membership.cohort),
            selectinload(Membership.enrolled_by),
        )
        .order_by(Membership.enrolled_at, Account.external_id)
    )
    if cohort is not None:
        query = query.where(Membership.cohort_id == cohort.id)
    return list(session.scalars(query))


def members_csv(memberships: Iterable[Membership], zone: ZoneInfo) -> Iterator[str]:
    """Yield a CSV of members for the messaging tool: one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row) -> str:
        writer.writerow(row)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def when(value) -> str:
        return value.astimezone(zone).isoformat(timespec="seconds") if value else ""

    yield line(["account_id", "name", "cohort", "status", "enrolled_at", "notified_at"])
    for m in memberships:
        yield line(
            [
                _safe_cell(m.account.external_id),
                _safe_cell(m.account.name),
                m.cohort.slug,
                m.status.value,
                when(m.enrolled_at),
                when(m.notified_at),
            ]
        )


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ runs as a formula in spreadsheets: quote it as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def member_counts(session: Session, beta_ids: Iterable[int]) -> dict[int, int]:
    """Return the number of active members of each beta, in one query."""
    ids = list(beta_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Membership.beta_id, func.count())
        .where(Membership.beta_id.in_(ids), Membership.status == MembershipStatus.ACTIVE)
        .group_by(Membership.beta_id)
    )
    return dict(rows.all())


def cohort_counts(session: Session, beta: Beta) -> dict[int, dict[str, int]]:
    """Return, for each cohort of the beta, how many members it has in each status."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(Membership.cohort_id, Membership.status, func.count())
        .where(Membership.beta_id == beta.id)
        .group_by(Membership.cohort_id, Membership.status)
    )
    for cohort_id, status, n in rows:
        counts.setdefault(cohort_id, {})[status.value] = n
    return counts


def account_history(session: Session, account: Account) -> list[Membership]:
    """Return every beta the account has been in, most recent first."""
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.account_id == account.id)
            .options(selectinload(Membership.beta), selectinload(Membership.cohort))
            .order_by(Membership.enrolled_at.desc())
        )
    )


def other_running_betas(
    session: Session, account_ids: Iterable[int], beta: Beta
) -> dict[int, list[str]]:
    """Return, for each account, the keys of other running betas it is an active member of."""
    ids = list(account_ids)
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = session.execute(
        select(Membership.account_id, Beta.key)
        .join(Beta, Beta.id == Membership.beta_id)
        .where(
            Membership.account_id.in_(ids),
            Membership.beta_id != beta.id,
            Beta.state == BetaState.RUNNING,
            Membership.status.in_([MembershipStatus.ACTIVE, MembershipStatus.INVITED]),
        )
        .order_by(Beta.key)
    )
    for account_id, key in rows:
        found.setdefault(account_id, []).append(key)
    return found


def get_account(session: Session, external_id: str) -> Account:
    """Return the account with this external id, or raise NotFound."""
    account = session.scalar(select(Account).where(Account.external_id == external_id))
    if account is None:
        raise NotFound(f"No account has the id {external_id!r}.")
    return account


def find_accounts(session: Session, q: str, page: int, per_page: int) -> tuple[list[Account], int]:
    """Return one page of the accounts whose id or name holds `q`, by id, and how many match."""
    query = select(Account)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Account.external_id.ilike(like), Account.name.ilike(like)))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    accounts = session.scalars(
        query.order_by(Account.external_id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return list(accounts), total


def conversation_count(session: Session, account: Account) -> int:
    """Return how many conversations of the account were imported."""
    return session.scalar(select(func.count()).where(Conversation.account_id == account.id))
