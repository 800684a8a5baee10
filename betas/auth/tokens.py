"""API tokens: created with scopes, stored hashed, looked up on every API request, revoked."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.db import Database, utcnow
from betas.errors import Invalid, NotFound
from betas.models import ApiToken, User

SCOPES = (
    "betas:read",
    "betas:write",
    "members:read",
    "members:write",
    "data:write",
    "events:write",
    "feedback:read",
    "feedback:write",
)
TOKEN_PREFIX = "shc_"
# Recording every use would turn each API read into a write; a minute is precise enough.
LAST_USE_PRECISION = timedelta(minutes=1)
# Each process remembers a live token's grant this long. The product sends its token with every
# membership check, and looking the token up each time would double the database's work on that
# hot path. Revoking a token or deactivating its user holds at once in the process that does it,
# and within this time in every other.
GRANT_MEMORY_SECONDS = 1.0
GRANT_MEMORY_MAX = 10_000


def token_digest(token: str) -> str:
    """Return the hash Shipcall keeps of a token."""
    # Tokens carry 256 random bits, so a fast hash is as safe as a slow one and keeps lookups cheap.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session,
    name: str,
    scopes: Iterable[str],
    user: User,
    actor: Actor | None,
) -> tuple[ApiToken, str]:
    """Create a token acting as `user`; return it with its secret, which is never stored."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise Invalid(
            f"Choose scopes among {', '.join(SCOPES)}.",
            [{"field": "scopes", "message": f"Unknown scope: {s}"} for s in unknown]
            or [{"field": "scopes", "message": "Choose at least one scope."}],
        )
    if not name.strip():
        raise Invalid("Give the token a name.", [{"field": "name", "message": "Required."}])
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name.strip(),
        token_hash=token_digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 4],
        scopes=scopes,
        user=user,
        created_by=actor.user if actor else None,
    )
    session.add(token)
    session.flush()
    record(session, actor, "token.created", token, name=token.name, scopes=scopes, user=user.email)
    return token, secret


@dataclass(frozen=True)
class Grant:
    """What a live token allows: read on every API request, so kept to plain values."""

    token_id: int
    user_id: int
    scopes: tuple[str, ...]
    last_used_at: datetime | None


# Built once: the product sends a token with every request, and a prepared Core statement is
# several times cheaper than building an ORM query each time.
_GRANT = (
    select(ApiToken.id, ApiToken.user_id, ApiToken.scopes, ApiToken.last_used_at)
    .join(User, User.id == ApiToken.user_id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.is_active.is_(True),
    )
)


# Token digest -> (when it was read, monotonic seconds; the grant).
_grants: dict[str, tuple[float, Grant]] = {}


def token_for(database: Database, secret: str) -> Grant | None:
    """Return what a token allows; None if it is unknown, revoked, or its user inactive.

    A live token's grant is remembered for GRANT_MEMORY_SECONDS; a refused token is looked up
    every time.
    """
    digest = token_digest(secret)
    now = time.monotonic()
    known = _grants.get(digest)
    if known is not None and now - known[0] < GRANT_MEMORY_SECONDS:
        return known[1]
    row = database.read(_GRANT, {"digest": digest}).first()
    if row is None:
        _grants.pop(digest, None)
        return None
    if len(_grants) >= GRANT_MEMORY_MAX:
        _grants.clear()
    grant = Grant(row.id, row.user_id, tuple(row.scopes), row.last_used_at)
    _grants[digest] = (now, grant)
    return grant


def forget_grants() -> None:
    """Forget every remembered grant: the next request of each token reads it afresh."""
    _grants.clear()


def token_use_due(grant: Grant, now: datetime | None = None) -> bool:
    """Tell whether the token's last use is older than LAST_USE_PRECISION, so worth recording."""
    now = now or utcnow()
    return grant.last_used_at is None or now - grant.last_used_at >= LAST_USE_PRECISION


def record_token_use(session: Session, grant: Grant, now: datetime | None = None) -> None:
    """Record when a token was last used (the caller checks token_use_due first)."""
    session.execute(
        update(ApiToken).where(ApiToken.id == grant.token_id).values(last_used_at=now or utcnow())
    )
    # A remembered grant would still carry the old time, and have every request record it again.
    forget_grants()


def revoke_token(session: Session, token_id: int, actor: Actor | None) -> ApiToken:
    """Revoke a token for good."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"There is no API token {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record(session, actor, "token.revoked", token, name=token.name)
        session.flush()
        forget_grants()
    return token
