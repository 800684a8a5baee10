"""The audit trail: every change says who made it, what it was, and when."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from betas.models import ApiToken, AuditEntry, Beta, User


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, or a user through one of their API tokens."""

    user: User
    token: ApiToken | None = None


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    obj: object,
    *,
    beta: Beta | None = None,
    **details,
) -> AuditEntry:
    """Add an audit entry for `action` on `obj`, named by its key, email, external id or slug."""
    names = (getattr(obj, attr, None) for attr in ("key", "email", "external_id", "slug"))
    object_id = next((n for n in names if n), None) or str(obj.id)
    entry = AuditEntry(
        user=actor.user if actor else None,
        token=actor.token if actor else None,
        beta=beta,
        action=action,
        object_type=type(obj).__name__,
        object_id=object_id,
        details=details,
    )
    session.add(entry)
    return entry


def beta_history(session: Session, beta: Beta) -> list[AuditEntry]:
    """Return a beta's audit entries, newest first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.beta_id == beta.id)
            .options(selectinload(AuditEntry.user), selectinload(AuditEntry.token))
            .order_by(AuditEntry.id.desc())
        )
    )
