"""Who is in a beta and why: cohorts, enrollment, moves, opt-outs, notices and histories."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth import require_edit
from betas.db import Database, utcnow
from betas.errors import Conflict, DomainError, Invalid, NotFound
from betas.lifecycle import is_overdue
from betas.models import KEY_PATTERN, NAME_MAX, Beta, BetaState, Risk
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus

_SLUG = re.compile(KEY_PATTERN)


class BetaNotRunning(DomainError):
    """Accounts join only a running beta."""

    code = "beta_not_running"


class BetaOverdue(DomainError):
    """An overdue beta cannot grow until it is decided or extended."""

    code = "beta_overdue"


class OptedOut(DomainError):
    """The account opted out of this beta; it comes back only with an explicit confirmation."""

    code = "opted_out"


@dataclass
class Enrollment:
    """What an enrollment did: accounts enrolled, and those skipped with the reason why."""

    enrolled: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def check_open(beta: Beta, today: date) -> None:
    """Raise unless the beta may take accounts: it is running and not overdue."""
    if beta.state != BetaState.RUNNING:
        raise BetaNotRunning(
            f"{beta.name} is {beta.state.value}: accounts join a beta only while it runs."
        )
    if is_overdue(beta, today):
        raise BetaOverdue(
            f"{beta.name} passed its decision deadline ({beta.decision_deadline}): decide, or "
            "extend the deadline with a reason, before adding anyone."
        )


# Cohorts


def list_cohorts(session: Session, beta: Beta) -> list[Cohort]:
    """Return a beta's cohorts in wave order."""
    return list(
        session.scalars(
            select(Cohort).where(Cohort.beta_id == beta.id).order_by(Cohort.position, Cohort.id)
        )
    )


def get_cohort(session: Session, beta: Beta, slug: str) -> Cohort:
    """Return the beta's cohort with this slug, or raise NotFound."""
    cohort = session.scalar(select(Cohort).where(Cohort.beta_id == beta.id, Cohort.slug == slug))
    if cohort is None:
        raise NotFound(f"Beta {beta.key} has no cohort {slug!r}.")
    return cohort


def create_cohort(
    session: Session,
    actor: Actor,
    beta: Beta,
    *,
    slug: str,
    name: str,
    kind: str,
    today: date,
    planned_size: int | None = None,
    criteria: Mapping | None = None,
) -> Cohort:
    """Add a wave to a beta; refused when the beta is not running or overdue, or the slug taken."""
    require_edit(actor.user, beta)
    check_open(beta, today)
    if not _SLUG.fullmatch(slug or ""):
        raise Invalid(
            "A cohort's slug is lower-case letters, digits and hyphens, like 'wave-1'.",
            [{"field": "slug", "message": "Use lower-case letters, digits and hyphens."}],
        )
    if not (name or "").strip() or len(name) > NAME_MAX:
        raise Invalid("Give the cohort a name.", [{"field": "name", "message": "Required."}])
    if planned_size is not None and planned_size < 1:
        raise Invalid(
            "A planned size is a whole number from 1.",
            [{"field": "planned_size", "message": "At least 1."}],
        )
    if session.scalar(select(Cohort.id).where(Cohort.beta_id == beta.id, Cohort.slug == slug)):
        raise Conflict(
            f"Beta {beta.key} has a cohort {slug!r} already.",
            [{"field": "slug", "message": "This slug is taken in this beta."}],
        )
    position = session.scalar(select(func.max(Cohort.position)).where(Cohort.beta_id == beta.id))
    cohort = Cohort(
        beta=beta,
        slug=slug,
        name=name.strip(),
        kind=CohortKind(kind),
        position=(position or 0) + 1,
        planned_size=planned_size,
        criteria=dict(criteria or {}),
    )
    session.add(cohort)
    session.flush()
    record(session, actor, "cohort.created", cohort, beta=beta, kind=cohort.kind.value)
    return cohort


# Memberships


def _accounts(session: Session, external_ids: Iterable[str]) -> dict[str, Account]:
    ids = list(dict.fromkeys(external_ids))
    found = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            (a.external_id, a)
            for a in session.scalars(select(Account).where(Account.external_id.in_(chunk)))
        )
    return found


def _memberships(
    session: Session, beta: Beta, accounts: Iterable[Account]
) -> dict[int, Membership]:
    ids = [a.id for a in accounts]
    found = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update(
            (m.account_id, m)
            for m in session.scalars(
                select(Membership)
                .where(Membership.beta_id == beta.id, Membership.account_id.in_(chunk))
                .options(selectinload(Membership.cohort))
            )
        )
    return found


def _members_changed(session: Session, beta: Beta) -> None:
    # One atomic increment per change, in the change's own transaction: the member list's ETag.
    session.execute(
        update(Beta)
        .where(Beta.id == beta.id)
        .values(members_version=Beta.members_version + 1)
        .execution_options(synchronize_session=False)
    )


def _joining_status(beta: Beta) -> MembershipStatus:
    # Low risk: opted in and notified. High risk (may break a primary workflow): invited first.
    return MembershipStatus.ACTIVE if beta.risk == Risk.LOW else MembershipStatus.INVITED


def _why_skipped(membership: Membership) -> str:
    if membership.status == MembershipStatus.OPTED_OUT:
        return "opted out of this beta; re-adding needs an explicit confirmation"
    return f"already in this beta ({membership.cohort.name}, {membership.status.value})"


def enroll(
    session: Session,
    actor: Actor,
    beta: Beta,
    cohort: Cohort,
    external_ids: Iterable[str],
    reasons: str | Mapping[str, str],
    today: date,
    *,
    override_opt_out: bool = False,
) -> Enrollment:
    """Put accounts in a cohort of a running beta, each with the reason it is there.

    Skips, saying why, accounts Shipcall does not know, accounts already in the beta, and accounts
    that opted out (unless `override_opt_out`, which is audited). Two people enrolling the same
    account at once end with one membership: the unique constraint decides, and the loser is told
    the account is already there. Refused when the beta is not running or is overdue.
    """
    require_edit(actor.user, beta)
    check_open(beta, today)
    if cohort.beta_id != beta.id:
        raise NotFound(f"Cohort {cohort.slug!r} is not part of beta {beta.key}.")
    ids = [i.strip() for i in external_ids if i and i.strip()]
    accounts = _accounts(session, ids)
    existing = _memberships(session, beta, accounts.values())
    result = Enrollment()
    for external_id in dict.fromkeys(ids):
        account = accounts.get(external_id)
        if account is None:
            result.skipped.append({"account": external_id, "reason": "no such account"})
            continue
        reason = reasons if isinstance(reasons, str) else reasons.get(external_id, "")
        membership = existing.get(account.id)
        if membership is not None:
            if membership.status == MembershipStatus.OPTED_OUT and override_opt_out:
                _rejoin(session, actor, beta, cohort, membership, reason)
                result.enrolled.append(external_id)
            else:
                result.skipped.append({"account": external_id, "reason": _why_skipped(membership)})
            continue
        if _insert_membership(session, actor, beta, cohort, account, reason):
            result.enrolled.append(external_id)
        else:
            result.skipped.append(
                {"account": external_id, "reason": "already in this beta (added just now)"}
            )
    return result


def _insert_membership(
    session: Session, actor: Actor, beta: Beta, cohort: Cohort, account: Account, reason: str
) -> bool:
    membership = Membership(
        beta=beta,
        account=account,
        cohort=cohort,
        status=_joining_status(beta),
        reason=reason.strip(),
        enrolled_by=actor.user,
    )
    try:
        with session.begin_nested():
            session.add(membership)
    except IntegrityError:
        # Someone enrolled this account between our read and our write.
        return False
    _members_changed(session, beta)
    record(
        session,
        actor,
        "member.enrolled",
        account,
        beta=beta,
        cohort=cohort.slug,
        status=membership.status.value,
        reason=membership.reason,
    )
    return True


def _rejoin(
    session: Session, actor: Actor, beta: Beta, cohort: Cohort, membership: Membership, reason: str
) -> None:
    membership.cohort = cohort
    membership.status = _joining_status(beta)
    membership.reason = reason.strip()
    membership.enrolled_by = actor.user
    membership.enrolled_at = utcnow()
    membership.notified_at = None
    session.flush()
    _members_changed(session, beta)
    record(
        session,
        actor,
        "member.readded_after_opt_out",
        membership.account,
        beta=beta,
        cohort=cohort.slug,
        reason=membership.reason,
    )


def get_membership(session: Session, beta: Beta, external_id: str) -> Membership | None:
    """Return the account's membership of the beta, if it has one."""
    return session.scalar(
        select(Membership)
        .join(Membership.account)
        .where(Membership.beta_id == beta.id, Account.external_id == external_id)
        .options(selectinload(Membership.cohort), selectinload(Membership.account))
    )


def place_member(
    session: Session,
    actor: Actor,
    beta: Beta,
    external_id: str,
    cohort: Cohort,
    reason: str,
    today: date,
    *,
    override_opt_out: bool = False,
) -> Membership:
    """Put an account in a cohort: enroll it, or move it there from another cohort of the beta.

    Moving is explicit and audited. Refused for an opted-out account without `override_opt_out`,
    and when the beta is not running or is overdue.
    """
    require_edit(actor.user, beta)
    check_open(beta, today)
    membership = get_membership(session, beta, external_id)
    if membership is None:
        result = enroll(session, actor, beta, cohort, [external_id], reason, today)
        if not result.enrolled:
            raise NotFound(f"No account has the id {external_id!r}; import it first.")
        return get_membership(session, beta, external_id)
    if membership.status == MembershipStatus.OPTED_OUT:
        if not override_opt_out:
            raise OptedOut(
                f"{external_id} opted out of {beta.name}. Confirm to add it back anyway."
            )
        _rejoin(session, actor, beta, cohort, membership, reason)
        return membership
    if membership.cohort_id != cohort.id:
        old = membership.cohort.slug
        membership.cohort = cohort
        if reason.strip():
            membership.reason = reason.strip()
        session.flush()
        _members_changed(session, beta)
        record(
            session,
            actor,
            "member.moved",
            membership.account,
            beta=beta,
            old=old,
            new=cohort.slug,
            reason=reason.strip(),
        )
    return membership


def _member_or_404(session: Session, beta: Beta, external_id: str) -> Membership:
    membership = get_membership(session, beta, external_id)
    if membership is None:
        raise NotFound(f"{external_id} is not in beta {beta.key}.")
    return membership


def opt_out(session: Session, actor: Actor, beta: Beta, external_id: str) -> Membership:
    """Take an account out of a beta for good, at any time; the record is kept forever."""
    require_edit(actor.user, beta)
    membership = _member_or_404(session, beta, external_id)
    if membership.status != MembershipStatus.OPTED_OUT:
        old = membership.status.value
        membership.status = MembershipStatus.OPTED_OUT
        session.flush()
        _members_changed(session, beta)
        record(session, actor, "member.opted_out", membership.account, beta=beta, old=old)
    return membership


def mark_notified(
    session: Session, actor: Actor, beta: Beta, external_ids: Iterable[str]
) -> list[Membership]:
    """Record that active members were told they are in the beta (low-risk betas opt in)."""
    require_edit(actor.user, beta)
    now = utcnow()
    marked = []
    for external_id in external_ids:
        membership = _member_or_404(session, beta, external_id)
        if membership.status == MembershipStatus.ACTIVE and membership.notified_at is None:
            membership.notified_at = now
            marked.append(membership)
            record(session, actor, "member.notified", membership.account, beta=beta)
    session.flush()
    return marked


def record_response(
    session: Session, actor: Actor, beta: Beta, external_id: str, accepted: bool
) -> Membership:
    """Record an invited account's answer: accepted makes it active, refused makes it declined."""
    require_edit(actor.user, beta)
    membership = _member_or_404(session, beta, external_id)
    if membership.status != MembershipStatus.INVITED:
        raise Conflict(
            f"{external_id} is {membership.status.value}, not invited: no answer to record."
        )
    if accepted:
        if beta.state != BetaState.RUNNING:
            raise BetaNotRunning(f"{beta.name} is {beta.state.value}: nobody joins it now.")
        membership.status = MembershipStatus.ACTIVE
        membership.notified_at = utcnow()
    else:
        membership.status = MembershipStatus.DECLINED
    session.flush()
    _members_changed(session, beta)
    record(
        session,
        actor,
        "member.accepted" if accepted else "member.declined",
        membership.account,
        beta=beta,
    )
    return membership


# Reading


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


@dataclass(frozen=True)
class MembershipCheck:
    """Whether an account is in a beta: only an active member has the feature."""

    beta: str
    account: str
    status: str | None
    cohort: str | None

    @property
    def enrolled(self) -> bool:
        """Tell whether the account has the feature: only active members do."""
        return self.status == MembershipStatus.ACTIVE.value


# Built once: this is the product's hot path, called on its own requests.
_CHECK = (
    select(Beta.id, Membership.status, Cohort.slug)
    .select_from(Beta)
    .outerjoin(Account, Account.external_id == bindparam("account"))
    .outerjoin(Membership, (Membership.beta_id == Beta.id) & (Membership.account_id == Account.id))
    .outerjoin(Cohort, Cohort.id == Membership.cohort_id)
    .where(Beta.key == bindparam("key"))
)
_VERSION = select(Beta.id, Beta.members_version).where(Beta.key == bindparam("key"))


def check_membership(database: Database, key: str, external_id: str) -> MembershipCheck:
    """Answer "is this account in that beta?" in one query; an unknown account is not enrolled."""
    row = database.read_row(_CHECK, {"key": key, "account": external_id})
    if row is None:
        raise NotFound(f"There is no beta with the key {key!r}.")
    _beta_id, status, cohort = row
    return MembershipCheck(key, external_id, status, cohort)


def members_version(database: Database, key: str) -> tuple[int, int]:
    """Return the beta's id and the version of its member list, or raise NotFound."""
    row = database.read_row(_VERSION, {"key": key})
    if row is None:
        raise NotFound(f"There is no beta with the key {key!r}.")
    beta_id, version = row
    return beta_id, version


def member_rows(session: Session, beta_id: int) -> list[dict]:
    """Return every membership of a beta as plain rows, ordered by account id."""
    rows = session.execute(
        select(Account.external_id, Membership.status, Cohort.slug, Membership.enrolled_at)
        .join(Account, Account.id == Membership.account_id)
        .join(Cohort, Cohort.id == Membership.cohort_id)
        .where(Membership.beta_id == beta_id)
        .order_by(Account.external_id)
    )
    return [
        {
            "account": external_id,
            "status": status.value,
            "cohort": cohort,
            "enrolled_at": enrolled_at.isoformat(),
        }
        for external_id, status, cohort, enrolled_at in rows
    ]


def get_account(session: Session, external_id: str) -> Account:
    """Return the account with this external id, or raise NotFound."""
    account = session.scalar(select(Account).where(Account.external_id == external_id))
    if account is None:
        raise NotFound(f"No account has the id {external_id!r}.")
    return account
