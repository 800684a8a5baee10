"""The product's hot path: "is this account in that beta?" and the member list it caches.

The check and the list's version run on the database's standing read connection, compiled once;
see Database.read_row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from betas.db import Database
from betas.errors import NotFound
from betas.models import Beta, Decision
from cohorts.models import Account, Cohort, Membership, MembershipStatus


@dataclass(frozen=True)
class MembershipCheck:
    """Whether an account is in a beta: only an active member has the feature."""

    beta: str
    account: str
    status: str | None
    cohort: str | None
    beta_state: str
    decision: str | None  # "ship" or "no_ship" once decided

    @property
    def enrolled(self) -> bool:
        """Tell whether the account has the feature: only active members do."""
        return self.status == MembershipStatus.ACTIVE.value


# The decision that stands, joined by the partial unique index on decisions (one per beta).
_STANDING = (Decision.beta_id == Beta.id) & Decision.reopened_at.is_(None)

# Built once: this is the product's hot path, called on its own requests.
_CHECK = (
    select(Beta.id, Membership.status, Cohort.slug, Beta.state, Decision.outcome)
    .select_from(Beta)
    .outerjoin(Account, Account.external_id == bindparam("account"))
    .outerjoin(Membership, (Membership.beta_id == Beta.id) & (Membership.account_id == Account.id))
    .outerjoin(Cohort, Cohort.id == Membership.cohort_id)
    .outerjoin(Decision, _STANDING)
    .where(Beta.key == bindparam("key"))
)
_VERSION = (
    select(Beta.id, Beta.members_version, Beta.state, Decision.outcome)
    .outerjoin(Decision, _STANDING)
    .where(Beta.key == bindparam("key"))
)


@dataclass(frozen=True)
class MembersVersion:
    """What the member list's ETag is made of: its version, the beta's state and decision."""

    beta_id: int
    version: int
    beta_state: str
    decision: str | None

    @property
    def etag(self) -> str:
        """The strong ETag: it changes with the members, and when the beta is decided or reopens."""
        return f"{self.beta_id}-{self.version}-{self.beta_state}-{self.decision or ''}"


def check_membership(database: Database, key: str, external_id: str) -> MembershipCheck:
    """Answer "is this account in that beta?" in one query; an unknown account is not enrolled."""
    row = database.read_row(_CHECK, {"key": key, "account": external_id})
    if row is None:
        raise NotFound(f"There is no beta with the key {key!r}.")
    _beta_id, status, cohort, state, decision = row
    return MembershipCheck(key, external_id, status, cohort, state, decision)


def members_version(database: Database, key: str) -> MembersVersion:
    """Return the beta's id, its member list's version, state and decision; or raise NotFound."""
    row = database.read_row(_VERSION, {"key": key})
    if row is None:
        raise NotFound(f"There is no beta with the key {key!r}.")
    return MembersVersion(*row)


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
