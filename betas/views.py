"""Pages for betas: the dashboard, framing, metrics, launch and extensions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from betas import auth, lifecycle
from betas.audit import beta_history
from betas.db import get_session
from betas.errors import DomainError
from betas.forms import (
    ActionForm,
    BetaForm,
    ExtensionForm,
    MetricForm,
    show_refusal,
    user_choices,
)
from betas.models import Beta, BetaState, Role, User
from cohorts.services import cohort_counts, list_cohorts, member_counts

betas = Blueprint("betas", __name__)

EDITORS = (Role.PM, Role.ADMIN)


def _settings():
    return current_app.config["SHIPCALL"]


def configured_today():
    """Return today in the configured time zone: the day deadlines are read against."""
    return lifecycle.today_in(_settings().zone)


def editable_beta(key: str) -> Beta:
    """Return the beta if the signed-in user may change it; 404 or 403 otherwise."""
    beta = lifecycle.get_beta(get_session(), key)
    if not auth.can_edit(current_user, beta):
        abort(403)
    return beta


def _owner_choices(form: BetaForm) -> None:
    form.owner.choices = user_choices(lifecycle.owner_candidates(get_session()))


def _framing(form: BetaForm) -> dict:
    values = {name: form[name].data for name in lifecycle.FRAMING_FIELDS if name != "owner"}
    values["owner"] = get_session().get(User, form.owner.data)
    return values


@betas.app_context_processor
def _beta_helpers():
    today = configured_today()
    return {
        "today": today,
        "is_overdue": lambda beta: lifecycle.is_overdue(beta, today),
        "days_left": lambda beta: lifecycle.days_left(beta, today),
        "describe_target": lifecycle.describe_target,
        "can_edit": lambda beta: auth.can_edit(current_user, beta),
        "can_frame": lambda: current_user.is_authenticated and auth.can_frame(current_user),
    }


@betas.get("/")
def dashboard():
    """Show every beta, most urgent first."""
    session = get_session()
    today = configured_today()
    rows = sorted(lifecycle.list_betas(session), key=lambda b: lifecycle.urgency(b, today))
    counts = member_counts(session, [b.id for b in rows])
    return render_template("betas/dashboard.html", betas=rows, counts=counts)


@betas.route("/betas/new", methods=["GET", "POST"])
@auth.role_required(*EDITORS)
def new():
    """Frame a new beta."""
    form = BetaForm()
    _owner_choices(form)
    if not form.is_submitted():
        form.owner.data = current_user.id
    if form.validate_on_submit():
        session = get_session()
        try:
            beta = lifecycle.create_beta(
                session, auth.current_actor(), form.key.data, **_framing(form)
            )
        except DomainError as exc:
            session.rollback()
            show_refusal(form, exc)
        else:
            session.commit()
            flash(f"Beta {beta.name} is framed as a draft. Add a success metric next.", "success")
            return redirect(url_for("betas.show", key=beta.key))
    return render_template("betas/form.html", form=form, beta=None)


@betas.get("/betas/<key>")
def show(key):
    """Show a beta's framing, metrics, launch checklist, extensions and history."""
    return _render_beta(lifecycle.get_beta(get_session(), key))


@betas.route("/betas/<key>/edit", methods=["GET", "POST"])
@auth.role_required(*EDITORS)
def edit(key):
    """Change a beta's framing."""
    beta = editable_beta(key)
    form = BetaForm(obj=beta)
    _owner_choices(form)
    if not form.is_submitted():
        form.owner.data = beta.owner_id
    if beta.state != BetaState.DRAFT:
        # The key and deadline are fixed once launched: show them, never take them from the form.
        form.key.data = beta.key
        form.decision_deadline.data = beta.decision_deadline
    if form.validate_on_submit():
        session = get_session()
        try:
            values = _framing(form)
            lifecycle.update_beta(session, auth.current_actor(), beta, key=form.key.data, **values)
        except DomainError as exc:
            session.rollback()
            show_refusal(form, exc)
        else:
            session.commit()
            flash("Saved.", "success")
            return redirect(url_for("betas.show", key=beta.key))
    return render_template("betas/form.html", form=form, beta=beta)


@betas.post("/betas/<key>/metrics")
@auth.role_required(*EDITORS)
def add_metric(key):
    """Add a success metric."""
    beta = editable_beta(key)
    form = MetricForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            lifecycle.add_metric(
                session,
                auth.current_actor(),
                beta,
                name=form.name.data,
                stage=form.stage.data,
                counts=form.counts.data,
                target=form.target.data,
                unit=form.unit.data,
                direction=form.direction.data,
            )
        except DomainError as exc:
            session.rollback()
            show_refusal(form, exc)
        else:
            session.commit()
            flash(f"Metric {form.name.data} added.", "success")
            return redirect(url_for("betas.show", key=beta.key, _anchor="metrics"))
    return _render_beta(beta, metric_form=form), 422


@betas.post("/betas/<key>/metrics/<int:metric_id>/delete")
@auth.role_required(*EDITORS)
def remove_metric(key, metric_id):
    """Remove a metric from a draft."""
    beta = editable_beta(key)
    if ActionForm().validate_on_submit():
        session = get_session()
        lifecycle.remove_metric(session, auth.current_actor(), beta, metric_id)
        session.commit()
        flash("Metric removed.", "success")
    return redirect(url_for("betas.show", key=beta.key, _anchor="metrics"))


@betas.post("/betas/<key>/launch")
@auth.role_required(*EDITORS)
def launch(key):
    """Launch a draft, or say everything it still lacks."""
    beta = editable_beta(key)
    if ActionForm().validate_on_submit():
        session = get_session()
        try:
            lifecycle.launch(session, auth.current_actor(), beta, configured_today())
        except DomainError as exc:
            session.rollback()
            flash(exc.message, "error")
        else:
            session.commit()
            flash(f"{beta.name} is running. Decide by {beta.decision_deadline}.", "success")
    return redirect(url_for("betas.show", key=beta.key))


@betas.post("/betas/<key>/extensions")
@auth.role_required(*EDITORS)
def extend(key):
    """Move a running beta's deadline later, with a reason."""
    beta = editable_beta(key)
    form = ExtensionForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            lifecycle.extend(
                session,
                auth.current_actor(),
                beta,
                new_deadline=form.new_deadline.data,
                reason=form.reason.data,
                today=configured_today(),
                max_extensions=_settings().max_extensions,
            )
        except DomainError as exc:
            session.rollback()
            show_refusal(form, exc)
        else:
            session.commit()
            flash(f"The deadline is now {beta.decision_deadline}.", "success")
            return redirect(url_for("betas.show", key=beta.key))
    return _render_beta(beta, extension_form=form), 422


def _render_beta(beta: Beta, **failed_forms):
    """Render a beta's page; a form that failed is passed in so it keeps what was typed."""
    forms = {
        "metric_form": MetricForm(formdata=None),
        "extension_form": ExtensionForm(formdata=None),
        **failed_forms,
    }
    return render_template(
        "betas/show.html",
        beta=beta,
        problems=lifecycle.launch_problems(beta, configured_today())
        if beta.state == BetaState.DRAFT
        else [],
        history=beta_history(get_session(), beta),
        cohorts=list_cohorts(get_session(), beta),
        cohort_counts=cohort_counts(get_session(), beta),
        action=ActionForm(),
        max_extensions=_settings().max_extensions,
        **forms,
    )
