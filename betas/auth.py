"""People and access: users, roles, sign-in, the first-run setup link, and API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, abort, current_app, g, request
from flask_login import LoginManager, current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from betas.audit import Actor, record
from betas.db import Database, get_session, utcnow
from betas.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from betas.models import ApiToken, Beta, Role, User

SCOPES = ("betas:read", "betas:write", "members:read", "members:write", "data:write")
PASSWORD_MIN = 12
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
SETUP_LINK_MAX_AGE = timedelta(days=7)
TOKEN_PREFIX = "shc_"
# Recording every use would turn each API read into a write; a minute is precise enough.
LAST_USE_PRECISION = timedelta(minutes=1)
# Each process remembers a live token's grant this long. The product sends its token with every
# membership check, and looking the token up each time would double the database's work on that
# hot path. Revoking a token or deactivating its user holds at once in the process that does it,
# and within this time in every other.
GRANT_MEMORY_SECONDS = 1.0
GRANT_MEMORY_MAX = 10_000
# Compared against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class SignInRefused(DomainError):
    """Wrong email or password, an inactive user, or too many failures."""

    code = "sign_in_refused"
    status = 401


# Users


def normalize_email(email: str) -> str:
    """Return the email as Shipcall stores it: trimmed and lower-case."""
    return email.strip().lower()


def find_user(session: Session, email: str) -> User | None:
    """Return the user with this email, if any."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def has_users(session: Session) -> bool:
    """Tell whether anyone can sign in yet."""
    return session.scalar(select(func.count()).select_from(User)) > 0


def create_user(
    session: Session,
    email: str,
    password: str,
    role: Role,
    *,
    name: str = "",
    actor: Actor | None = None,
) -> User:
    """Create a user; refuses a taken email or a password shorter than PASSWORD_MIN."""
    if len(password) < PASSWORD_MIN:
        raise Invalid(
            f"Choose a password of at least {PASSWORD_MIN} characters.",
            [{"field": "password", "message": f"At least {PASSWORD_MIN} characters."}],
        )
    if find_user(session, email) is not None:
        raise Conflict(
            f"A user with the email {normalize_email(email)} exists already.",
            [{"field": "email", "message": "This email is taken."}],
        )
    user = User(
        email=normalize_email(email),
        name=name.strip(),
        password_hash=generate_password_hash(password),
        role=Role(role),
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.created", user, role=user.role.value)
    return user


def create_first_admin(session: Session, email: str, password: str, name: str = "") -> User:
    """Create the first admin; refused once any user exists, so the setup link works once."""
    if has_users(session):
        raise Conflict("Shipcall is set up already: sign in instead.")
    return create_user(session, email, password, Role.ADMIN, name=name)


def _active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count()).where(User.role == Role.ADMIN, User.is_active.is_(True))
    )


def _keep_an_admin(session: Session, user: User) -> None:
    if user.role == Role.ADMIN and user.is_active and _active_admins(session) <= 1:
        raise Conflict("Shipcall needs at least one active admin; promote someone else first.")


def set_role(session: Session, user: User, role: Role, actor: Actor) -> None:
    """Change a user's role; refuses to demote the last active admin."""
    role = Role(role)
    if role == user.role:
        return
    if role != Role.ADMIN:
        _keep_an_admin(session, user)
    old = user.role
    user.role = role
    record(session, actor, "user.role_changed", user, old=old.value, new=role.value)
    session.flush()


def set_active(session: Session, user: User, active: bool, actor: Actor) -> None:
    """Deactivate or reactivate a user; refuses to deactivate yourself or the last admin."""
    if active == user.is_active:
        return
    if not active:
        if user.id == actor.user.id:
            raise Conflict("You cannot deactivate yourself.")
        _keep_an_admin(session, user)
        end_sessions(user)
    user.is_active = active
    record(session, actor, "user.activated" if active else "user.deactivated", user)
    session.flush()
    forget_grants()


def end_sessions(user: User) -> None:
    """Invalidate every session cookie the user holds (sign-out, deactivation)."""
    user.session_token = secrets.token_urlsafe(32)


def sign_in(session: Session, email: str, password: str, now: datetime | None = None) -> User:
    """Check an email and password; lock the user for LOCKOUT after repeated failures.

    Raises SignInRefused without saying whether the email exists.
    """
    now = now or utcnow()
    user = find_user(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise SignInRefused("The email or password is wrong.")
    if user.locked_until and user.locked_until > now:
        minutes = max(1, round((user.locked_until - now).total_seconds() / 60))
        raise SignInRefused(
            f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}."
        )
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_SIGN_INS:
            user.failed_logins = 0
            user.locked_until = now + LOCKOUT
        session.flush()
        raise SignInRefused("The email or password is wrong.")
    if not user.is_active:
        raise SignInRefused("This user has been deactivated; ask an admin.")
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


# The first-run setup link


def _setup_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="shipcall.setup")


def setup_token(secret_key: str) -> str:
    """Return a signed token for the setup page (it works only while no user exists)."""
    return _setup_serializer(secret_key).dumps("first-admin")


def setup_token_valid(secret_key: str, token: str) -> bool:
    """Tell whether a setup token was signed by this server recently."""
    try:
        _setup_serializer(secret_key).loads(token, max_age=int(SETUP_LINK_MAX_AGE.total_seconds()))
    except BadSignature:
        return False
    return True


# API tokens


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


def record_token_use(database: Database, grant: Grant, now: datetime | None = None) -> None:
    """Record when a token was last used, to the minute.

    A request that writes anyway records it in its own transaction; a read-only request records
    it in a short one of its own, so that reads stay reads and never wait for SQLite's write lock.
    """
    now = now or utcnow()
    if grant.last_used_at is not None and now - grant.last_used_at < LAST_USE_PRECISION:
        return
    used = update(ApiToken).where(ApiToken.id == grant.token_id).values(last_used_at=now)
    # A remembered grant would still carry the old time, and have every request record it again.
    forget_grants()
    session = get_session()
    if session.info.get("write"):
        session.execute(used)
        return
    with database.session(write=True) as own:
        own.execute(used)
        own.commit()


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


# Roles


def can_frame(user: User) -> bool:
    """Tell whether the user may create betas."""
    return user.role in (Role.PM, Role.ADMIN)


def can_edit(user: User, beta: Beta) -> bool:
    """Tell whether the user may change this beta: its owner (a PM), or any admin."""
    return user.role == Role.ADMIN or (user.role == Role.PM and beta.owner_id == user.id)


def require_edit(user: User, beta: Beta) -> None:
    """Raise Forbidden unless the user may change the beta."""
    if not can_edit(user, beta):
        raise Forbidden("Only the beta's owner or an admin can change it.")


# Flask wiring

login_manager = LoginManager()
login_manager.login_view = "people.sign_in"
login_manager.login_message = "Please sign in to see that page."
login_manager.login_message_category = "info"


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    user_id, _, token = session_id.partition(".")
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or not user.is_active or not secrets.compare_digest(user.session_token, token):
        return None
    return user


def current_actor() -> Actor:
    """Return who is acting in this request: the API token's user, or the signed-in user."""
    grant = g.get("api_grant")
    if grant is not None:
        session = get_session()
        return Actor(session.get(User, grant.user_id), session.get(ApiToken, grant.token_id))
    return Actor(current_user._get_current_object())


def role_required(*roles: Role):
    """Let a view through only for signed-in users with one of `roles` (others get 403)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


PUBLIC_ENDPOINTS = frozenset({"people.sign_in", "people.setup", "static"})


def _require_sign_in():
    # Deny by default: a new page needs a signed-in user unless it is listed as public. The API
    # authenticates with bearer tokens instead, and its OpenAPI document is public.
    if request.path.startswith("/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.endpoint is not None and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def init_app(app: Flask) -> None:
    """Install sign-in on the app; every page but sign-in and setup needs a signed-in user."""
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    app.before_request(_require_sign_in)
