"""Memberships: enrolling accounts in a cohort, moving them, opt-outs, notices and answers.

Every change to a beta's memberships bumps the beta's members_version in the same transaction:
the member list's ETag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.db import utcnow
from betas.errors import Conflict, DomainError, Invalid, NotFound
from betas.lifecycle import check_open
from betas.models import TEXT_MAX, Beta, Risk
from cohorts.models import LEFT, Account, Cohort, Membership, MembershipStatus


class OptedOut(DomainError):
    """The account opted out of this beta; it comes back only with an explicit confirmation."""

    code = "opted_out"


@dataclass
class Enrollment:
    """What an enrollment did: accounts enrolled, and those skipped with the reason why."""

    enrolled: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


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


def _set_status(membership: Membership, status: MembershipStatus) -> None:
    # When it left tells how recent the account's last beta experience is; rejoining clears it.
    # When it first became active is when its usage starts to count, and stays so.
    membership.status = status
    membership.left_at = utcnow() if status in LEFT else None
    if status == MembershipStatus.ACTIVE and membership.joined_at is None:
        membership.joined_at = utcnow()


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
        reason=reason.strip(),
        enrolled_by=actor.user,
    )
    _set_status(membership, _joining_status(beta))
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
    _set_status(membership, _joining_status(beta))
    membership.opt_out_reason = None
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


def opt_out(
    session: Session, actor: Actor, beta: Beta, external_id: str, reason: str = ""
) -> Membership:
    """Take an account out of a beta for good, at any time, with the customer's reason if given.

    The record is kept forever; opting out again changes nothing.
    """
    require_edit(actor.user, beta)
    reason = (reason or "").strip()
    if len(reason) > TEXT_MAX:
        raise Invalid(
            f"Keep the reason under {TEXT_MAX:,} characters.",
            [{"field": "reason", "message": f"At most {TEXT_MAX:,} characters."}],
        )
    membership = _member_or_404(session, beta, external_id)
    if membership.status != MembershipStatus.OPTED_OUT:
        old = membership.status.value
        _set_status(membership, MembershipStatus.OPTED_OUT)
        membership.opt_out_reason = reason or None
        session.flush()
        _members_changed(session, beta)
        record(
            session,
            actor,
            "member.opted_out",
            membership.account,
            beta=beta,
            old=old,
            reason=reason,
        )
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
    session: Session, actor: Actor, beta: Beta, external_id: str, accepted: bool, *, today: date
) -> Membership:
    """Record an invited account's answer: accepted makes it active, refused makes it declined.

    An acceptance adds an active member, so it is refused, as enrolling is, unless the beta is
    running and not overdue; a refusal is recorded whatever the beta's state.
    """
    require_edit(actor.user, beta)
    membership = _member_or_404(session, beta, external_id)
    if membership.status != MembershipStatus.INVITED:
        raise Conflict(
            f"{external_id} is {membership.status.value}, not invited: no answer to record."
        )
    if accepted:
        check_open(beta, today)
        _set_status(membership, MembershipStatus.ACTIVE)
        membership.notified_at = utcnow()
    else:
        _set_status(membership, MembershipStatus.DECLINED)
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
