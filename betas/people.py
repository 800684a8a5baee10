"""Pages for people and access: sign-in, first-run setup, users and API tokens."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from betas import web
from betas.auth import tokens, users
from betas.auth.web import current_actor, role_required
from betas.db import get_session
from betas.forms import RoleForm, SignInForm, TokenForm, UserForm, user_choices
from betas.models import ApiToken, Role, User

people = Blueprint("people", __name__)
SETUP_LINK_NOT_VALID = (
    "This setup link is not valid: this server did not make it, or it is more than "
    f"{users.SETUP_LINK_MAX_AGE.days} days old. Run flask --app wsgi users setup-link on the "
    "server for a new one."
)


def setup_url() -> str:
    """Return the one-time setup link for this server."""
    token = users.setup_token(current_app.config["SECRET_KEY"])
    # In the query string, which the access log leaves out, rather than in the logged path.
    return url_for("people.setup", token=token, _external=True)


def _start_session(user: User) -> None:
    # A fresh session at sign-in: nothing from before it (a planted session, say) survives.
    session.clear()
    login_user(user)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never send a user who just signed in to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("hub.dashboard")


@people.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("hub.dashboard"))
    if not users.has_users(get_session()):
        current_app.logger.warning("Shipcall has no users yet. Set it up at %s", setup_url())
        return render_template("auth/no_users.html")
    form = SignInForm()
    if form.validate_on_submit():
        # A refusal is committed too: the failed-attempt count is what slows guessing down.
        done = web.commit(
            lambda s: users.sign_in(s, form.email.data, form.password.data),
            show=False,
            keep_refused=True,
        )
        if done:
            _start_session(done.value)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors = [done.refusal.message]
    return render_template("auth/sign_in.html", form=form)


@people.post("/sign-out")
def sign_out():
    """Sign out and end every session of this user."""
    if current_user.is_authenticated and web.ActionForm().validate_on_submit():
        web.commit(lambda s: users.end_sessions(s.get(User, current_user.id)))
        logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("people.sign_in"))


@people.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin, through the link the server printed on its first run."""
    token = request.args.get("token", "")
    if not users.setup_token_valid(current_app.config["SECRET_KEY"], token):
        abort(404, description=SETUP_LINK_NOT_VALID)
    if users.has_users(get_session()):
        # A genuine link that has done its one job: say so, and where to go instead.
        return render_template("auth/setup_used.html"), 410
    form = UserForm()
    del form.role  # the first user is always an admin
    if form.validate_on_submit():
        done = web.commit(
            lambda s: users.create_first_admin(
                s,
                form.email.data,
                form.password.data,
                form.name.data,
                hash_method=web.settings().password_hash,
            ),
            form=form,
        )
        if done:
            _start_session(done.value)  # clears the session, flashed messages too: flash after
            flash("Welcome to Shipcall. Frame your first beta.", "success")
            return redirect(url_for("hub.dashboard"))
    return render_template("auth/setup.html", form=form)


# Admin pages


@people.route("/admin/users", methods=["GET", "POST"], endpoint="users")
@role_required(Role.ADMIN)
def user_list():
    """List users and add one."""
    form = UserForm()
    if form.validate_on_submit() and web.commit(
        lambda s: users.create_user(
            s,
            form.email.data,
            form.password.data,
            Role(form.role.data),
            name=form.name.data,
            actor=current_actor(),
            hash_method=web.settings().password_hash,
        ),
        form=form,
        success=lambda user: f"{user.email} can sign in now, as {user.role.value}.",
    ):
        return redirect(url_for("people.users"))
    everyone = get_session().scalars(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html",
        users=everyone,
        form=form,
        role_form=RoleForm(formdata=None),
        action=web.ActionForm(),
    ), (422 if form.errors else 200)


def _user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@people.post("/admin/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id):
    """Give a user another role."""
    user = _user(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        web.commit(
            lambda s: users.set_role(s, user, Role(form.role.data), current_actor()),
            success="Saved.",
        )
    return redirect(url_for("people.users"))


@people.post("/admin/users/<int:user_id>/active")
@role_required(Role.ADMIN)
def toggle_active(user_id):
    """Deactivate a user (signing them out everywhere), or reactivate them."""
    user = _user(user_id)
    if web.ActionForm().validate_on_submit():
        web.commit(
            lambda s: users.set_active(s, user, not user.is_active, current_actor()),
            success="Saved.",
        )
    return redirect(url_for("people.users"))


@people.route("/admin/tokens", methods=["GET", "POST"], endpoint="tokens")
@role_required(Role.ADMIN)
def token_list():
    """List API tokens and create one; a new token's secret is shown this once."""
    form = _token_form()
    secret = None
    if form.validate_on_submit():
        done = web.commit(
            lambda s: tokens.create_token(
                s, form.name.data, form.scopes.data, s.get(User, form.user.data), current_actor()
            ),
            form=form,
        )
        if done:
            _token, secret = done.value
            form = _token_form(formdata=None)
    return render_template(
        "admin/tokens.html",
        tokens=get_session().scalars(select(ApiToken).order_by(ApiToken.id.desc())).all(),
        form=form,
        secret=secret,
        action=web.ActionForm(),
    )


def _token_form(**kwargs) -> TokenForm:
    form = TokenForm(**kwargs)
    form.user.choices = user_choices(
        get_session().scalars(select(User).where(User.is_active.is_(True)).order_by(User.email))
    )
    if not form.is_submitted() or "formdata" in kwargs:
        form.user.data = current_user.id
    return form


@people.post("/admin/tokens/<int:token_id>/revoke")
@role_required(Role.ADMIN)
def revoke_token(token_id):
    """Revoke a token for good."""
    if web.ActionForm().validate_on_submit():
        web.commit(lambda s: tokens.revoke_token(s, token_id, current_actor()), success="Saved.")
    return redirect(url_for("people.tokens"))
