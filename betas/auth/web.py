"""Sign-in on the web: Flask-Login, the signed-in user or token as the actor, role checks.

Every page but sign-in and setup needs a signed-in user; the API authenticates with bearer tokens.
"""

from __future__ import annotations

import functools
import secrets

from flask import Flask, abort, current_app, g, request
from flask_login import LoginManager, current_user

from betas.audit import Actor
from betas.db import get_session
from betas.models import ApiToken, Role, User

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
