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

from betas import auth
from betas.db import get_session
from betas.errors import DomainError
from betas.forms import (
    ActionForm,
    RoleForm,
    SignInForm,
    TokenForm,
    UserForm,
    show_refusal,
    user_choices,
)
from betas.models import ApiToken, Role, User

people = Blueprint("people", __name__)


def setup_url() -> str:
    """Return the one-time setup link for this server."""
    token = auth.setup_token(current_app.config["SECRET_KEY"])
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
    return url_for("betas.dashboard")


@people.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("betas.dashboard"))
    db = get_session()
    if not auth.has_users(db):
        current_app.logger.warning("Shipcall has no users yet. Set it up at %s", setup_url())
        return render_template("auth/no_users.html")
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = auth.sign_in(db, form.email.data, form.password.data)
        except auth.SignInRefused as exc:
            db.commit()  # keep the failed-attempt count that slows guessing down
            form.password.errors = [exc.message]
        else:
            db.commit()
            _start_session(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/sign_in.html", form=form)


@people.post("/sign-out")
def sign_out():
    """Sign out and end every session of this user."""
    if current_user.is_authenticated and ActionForm().validate_on_submit():
        db = get_session()
        auth.end_sessions(db.get(User, current_user.id))
        db.commit()
        logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("people.sign_in"))


@people.route("/setup", methods=["GET", "POST"])
def setup():
    """Create the first admin, through the link the server printed on its first run."""
    db = get_session()
    token = request.args.get("token", "")
    if not auth.setup_token_valid(current_app.config["SECRET_KEY"], token) or auth.has_users(db):
        abort(404)
    form = UserForm()
    del form.role  # the first user is always an admin
    if form.validate_on_submit():
        try:
            user = auth.create_first_admin(db, form.email.data, form.password.data, form.name.data)
        except DomainError as exc:
            db.rollback()
            show_refusal(form, exc)
        else:
            db.commit()
            _start_session(user)
            flash("Welcome to Shipcall. Frame your first beta.", "success")
            return redirect(url_for("betas.dashboard"))
    return render_template("auth/setup.html", form=form)


# Admin pages


@people.route("/admin/users", methods=["GET", "POST"])
@auth.role_required(Role.ADMIN)
def users():
    """List users and add one."""
    db = get_session()
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = auth.create_user(
                db,
                form.email.data,
                form.password.data,
                Role(form.role.data),
                name=form.name.data,
                actor=auth.current_actor(),
            )
        except DomainError as exc:
            db.rollback()
            show_refusal(form, exc)
        else:
            db.commit()
            flash(f"{user.email} can sign in now, as {user.role.value}.", "success")
            return redirect(url_for("people.users"))
    everyone = db.scalars(select(User).order_by(User.email)).all()
    return render_template(
        "admin/users.html",
        users=everyone,
        form=form,
        role_form=RoleForm(formdata=None),
        action=ActionForm(),
    ), (422 if form.errors else 200)


def _user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


@people.post("/admin/users/<int:user_id>/role")
@auth.role_required(Role.ADMIN)
def change_role(user_id):
    """Give a user another role."""
    user = _user(user_id)
    form = RoleForm()
    if form.validate_on_submit():
        _apply(lambda db: auth.set_role(db, user, Role(form.role.data), auth.current_actor()))
    return redirect(url_for("people.users"))


@people.post("/admin/users/<int:user_id>/active")
@auth.role_required(Role.ADMIN)
def toggle_active(user_id):
    """Deactivate a user (signing them out everywhere), or reactivate them."""
    user = _user(user_id)
    if ActionForm().validate_on_submit():
        _apply(lambda db: auth.set_active(db, user, not user.is_active, auth.current_actor()))
    return redirect(url_for("people.users"))


def _apply(change) -> None:
    """Run one service call, commit, and say what happened."""
    db = get_session()
    try:
        change(db)
    except DomainError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
        flash("Saved.", "success")


@people.route("/admin/tokens", methods=["GET", "POST"])
@auth.role_required(Role.ADMIN)
def tokens():
    """List API tokens and create one; a new token's secret is shown this once."""
    db = get_session()
    form = _token_form(db)
    secret = None
    if form.validate_on_submit():
        try:
            _token, secret = auth.create_token(
                db,
                form.name.data,
                form.scopes.data,
                db.get(User, form.user.data),
                auth.current_actor(),
            )
        except DomainError as exc:
            db.rollback()
            show_refusal(form, exc)
        else:
            db.commit()
            form = _token_form(db, formdata=None)
    return render_template(
        "admin/tokens.html",
        tokens=db.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all(),
        form=form,
        secret=secret,
        action=ActionForm(),
    )


def _token_form(db, **kwargs) -> TokenForm:
    form = TokenForm(**kwargs)
    form.user.choices = user_choices(
        db.scalars(select(User).where(User.is_active.is_(True)).order_by(User.email))
    )
    if not form.is_submitted() or "formdata" in kwargs:
        form.user.data = current_user.id
    return form


@people.post("/admin/tokens/<int:token_id>/revoke")
@auth.role_required(Role.ADMIN)
def revoke_token(token_id):
    """Revoke a token for good."""
    if ActionForm().validate_on_submit():
        _apply(lambda db: auth.revoke_token(db, token_id, auth.current_actor()))
    return redirect(url_for("people.tokens"))
