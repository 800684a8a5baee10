"""The framing pages: frame a beta, edit or delete it, its metrics, launch, extensions, message.

Each change is shown on the beta's hub page (the roof draws it); a form that fails renders that
page again with the form's errors and everything typed.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from betas import lifecycle, messages, metrics, web
from betas.auth.permissions import EDITORS
from betas.auth.web import current_actor, role_required
from betas.db import get_session
from betas.forms import (
    BetaForm,
    DeleteBetaForm,
    ExtensionForm,
    MessageForm,
    MetricForm,
    user_choices,
)
from betas.models import BetaState, User

betas = Blueprint("betas", __name__)


def _owner_choices(form: BetaForm) -> None:
    form.owner.choices = user_choices(lifecycle.owner_candidates(get_session()))


def _framing(form: BetaForm) -> dict:
    values = {name: form[name].data for name in lifecycle.FRAMING_FIELDS if name != "owner"}
    values["owner"] = get_session().get(User, form.owner.data)
    return values


def _to_beta(beta, anchor: str | None = None):
    return redirect(url_for("hub.beta", key=beta.key, _anchor=anchor))


@betas.route("/betas/new", methods=["GET", "POST"])
@role_required(*EDITORS)
def new():
    """Frame a new beta."""
    form = BetaForm()
    _owner_choices(form)
    if not form.is_submitted():
        form.owner.data = current_user.id
    if form.validate_on_submit():
        done = web.commit(
            lambda s: lifecycle.create_beta(
                s, current_actor(), form.key.data, today=web.configured_today(), **_framing(form)
            ),
            form=form,
            success=lambda beta: (
                f"Beta {beta.name} is framed as a draft. Add a success metric next."
            ),
        )
        if done:
            return _to_beta(done.value)
    return render_template("betas/form.html", form=form, beta=None)


@betas.route("/betas/<key>/edit", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit(key):
    """Change a beta's framing."""
    beta = web.editable_beta(key)
    form = BetaForm(obj=beta)
    _owner_choices(form)
    if not form.is_submitted():
        form.owner.data = beta.owner_id
    if beta.state != BetaState.DRAFT:
        # The key and deadline are fixed once launched: show them, never take them from the form.
        form.key.data = beta.key
        form.decision_deadline.data = beta.decision_deadline
    if form.validate_on_submit() and web.commit(
        lambda s: lifecycle.update_beta(
            s,
            current_actor(),
            beta,
            key=form.key.data,
            today=web.configured_today(),
            **_framing(form),
        ),
        form=form,
        success="Saved.",
    ):
        return _to_beta(beta)
    return render_template("betas/form.html", form=form, beta=beta)


@betas.route("/betas/<key>/delete", methods=["GET", "POST"])
@role_required(*EDITORS)
def delete(key):
    """Delete a draft, once its key is typed to confirm; a launched beta is refused."""
    beta = web.editable_beta(key)
    form = DeleteBetaForm(beta.key)
    refusal, status = lifecycle.deletion_refusal(beta), 200
    if form.validate_on_submit():
        done = web.commit(
            lambda s: lifecycle.delete_beta(s, current_actor(), beta),
            show=False,  # the page says why
            success=f"The draft {beta.name} is deleted.",
        )
        if done:
            return redirect(url_for("hub.dashboard"))
        refusal, status = done.refusal.message, done.refusal.status
    elif form.errors:
        status = 422
    return render_template("betas/delete.html", form=form, beta=beta, refusal=refusal), status


@betas.route("/betas/<key>/metrics/new", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.beta", key=key, _anchor="metrics"))
@role_required(*EDITORS)
def add_metric(key):
    """Add a success metric."""
    beta = web.editable_beta(key)
    form = MetricForm()
    if form.validate_on_submit() and web.commit(
        lambda s: metrics.add_metric(s, current_actor(), beta, **form.metric()),
        form=form,
        success=f"Metric {form.name.data} added.",
    ):
        return _to_beta(beta, "metrics")
    return web.render_beta_page(beta, 422, metric_form=form)


@betas.route("/betas/<key>/metrics/<int:metric_id>/edit", methods=["GET", "POST"])
@role_required(*EDITORS)
def edit_metric(key, metric_id):
    """Change a metric: its name, target, what counts, and its rule over events."""
    beta = web.editable_beta(key)
    metric = metrics.get_metric(beta, metric_id)
    form = MetricForm(obj=metric)
    if not form.is_submitted():
        form.fill_rule(metric.rule)
    if form.validate_on_submit() and web.commit(
        lambda s: metrics.update_metric(s, current_actor(), beta, metric_id, **form.metric()),
        form=form,
        success=f"Metric {form.name.data} saved.",
    ):
        return _to_beta(beta, "metrics")
    status = 422 if form.errors else 200
    return render_template("betas/metric.html", form=form, beta=beta, metric=metric), status


@betas.post("/betas/<key>/metrics/<int:metric_id>/delete")
@role_required(*EDITORS)
def remove_metric(key, metric_id):
    """Remove a metric from a draft."""
    beta = web.editable_beta(key)
    if web.ActionForm().validate_on_submit():
        web.commit(
            lambda s: metrics.remove_metric(s, current_actor(), beta, metric_id),
            success="Metric removed.",
        )
    return _to_beta(beta, "metrics")


@betas.post("/betas/<key>/launch")
@role_required(*EDITORS)
def launch(key):
    """Launch a draft, or say everything it still lacks."""
    beta = web.editable_beta(key)
    if web.ActionForm().validate_on_submit():
        web.commit(
            lambda s: lifecycle.launch(
                s, current_actor(), beta, web.configured_today(), web.launch_requirements()
            ),
            success=lambda b: f"{b.name} is running. Decide by {b.decision_deadline}.",
        )
    return _to_beta(beta)


@betas.route("/betas/<key>/extensions", methods=["GET", "POST"])
@web.reload_goes_to(lambda key: url_for("hub.beta", key=key, _anchor="deadline"))
@role_required(*EDITORS)
def extend(key):
    """Move a running beta's deadline later, with a reason."""
    beta = web.editable_beta(key)
    form = ExtensionForm()
    if form.validate_on_submit() and web.commit(
        lambda s: lifecycle.extend(
            s,
            current_actor(),
            beta,
            new_deadline=form.new_deadline.data,
            reason=form.reason.data,
            today=web.configured_today(),
            max_extensions=web.settings().max_extensions,
            max_days=web.settings().max_extension_days,
        ),
        form=form,
        success=lambda _extension: f"The deadline is now {beta.decision_deadline}.",
    ):
        return _to_beta(beta, "deadline")
    return web.render_beta_page(beta, 422, extension_form=form)


@betas.route("/betas/<key>/message", methods=["GET", "POST"])
@role_required(*EDITORS)
def message(key):
    """Write the beta message its members are sent with every export (the owner or an admin)."""
    beta = web.editable_beta(key)
    form = MessageForm()
    if not form.is_submitted():
        form.message.data = messages.message_of(beta)
    if form.validate_on_submit() and web.commit(
        lambda s: messages.set_message(s, current_actor(), beta, form.message.data or ""),
        form=form,
        success="The beta message is saved.",
    ):
        return redirect(url_for("betas.message", key=key, _anchor="message-form"))
    status = 422 if form.errors else 200
    return render_template("betas/message.html", form=form, beta=beta), status
