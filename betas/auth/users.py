"""Users: creating them, roles, activation, signing in with a lockout, the first-run setup link."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from betas.audit import Actor, record
from betas.auth.tokens import forget_grants
from betas.config import DEFAULT_PASSWORD_HASH
from betas.db import utcnow
from betas.errors import Conflict, DomainError, Invalid
from betas.models import Role, User

PASSWORD_MIN = 12
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
SETUP_LINK_MAX_AGE = timedelta(days=7)
# Compared against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16), DEFAULT_PASSWORD_HASH)


class SignInRefused(DomainError):
    """Wrong email or password, an inactive user, or too many failures."""

    code = "sign_in_refused"
    status = 401


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
    hash_method: str = DEFAULT_PASSWORD_HASH,
) -> User:
    """Create a user; refuses a taken email or a password shorter than PASSWORD_MIN.

    `hash_method` is werkzeug's: the setting `password_hash`, which production leaves strong.
    """
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
        name=(name or "").strip(),
        password_hash=generate_password_hash(password, hash_method),
        role=Role(role),
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.created", user, role=user.role.value)
    return user


def create_first_admin(
    session: Session,
    email: str,
    password: str,
    name: str = "",
    hash_method: str = DEFAULT_PASSWORD_HASH,
) -> User:
    """Create the first admin; refused once any user exists, so the setup link works once."""
    if has_users(session):
        raise Conflict("Shipcall is set up already: sign in instead.")
    return create_user(session, email, password, Role.ADMIN, name=name, hash_method=hash_method)


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
